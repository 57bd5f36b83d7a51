#!/usr/bin/env bash
# Runs when media leaves the bucket (mediaStorage back to local, or `pulumi destroy`): stops and
# removes the upload job. Nothing is deleted from the bucket or from the media store.
# Parameters: UNIT, SCRIPT.
: "${UNIT:?}" "${SCRIPT:?}"
systemctl disable --now --quiet "$UNIT.timer" 2>/dev/null || true
systemctl stop "$UNIT.service" 2>/dev/null || true
rm -f "/etc/systemd/system/$UNIT.service" "/etc/systemd/system/$UNIT.timer" "$SCRIPT"
systemctl daemon-reload
printf 'removed the upload job; the bucket and the media store are untouched\n'
