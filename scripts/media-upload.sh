#!/usr/bin/env bash
# Puts the upload job live (its script, service and timer from the staging area), enables the
# timer and starts a run in the background: the first one right after the switch to the bucket,
# and after any change of the job. Its progress is in `journalctl -u synapse-media-upload`.
# Parameters: UNIT, SCRIPT (where the job's script lives), WORKDIR, SCHEDULE.
: "${UNIT:?}" "${SCRIPT:?}" "${WORKDIR:?}" "${SCHEDULE:?}"
staged="$STAGED_DIR/media"
systemd-analyze calendar "$SCHEDULE" >/dev/null 2>&1 \
  || die "mediaUploadSchedule '$SCHEDULE' is no systemd calendar expression (see systemd-analyze calendar)"
changed=0
install_file "$staged/synapse-media-upload.sh" "$SCRIPT" 0755 root:root && changed=1
install_file "$staged/$UNIT.service" "/etc/systemd/system/$UNIT.service" 0644 root:root && changed=1
install_file "$staged/$UNIT.timer" "/etc/systemd/system/$UNIT.timer" 0644 root:root && changed=1
install -d -m 0700 -o matrix-synapse "$WORKDIR"
[ "$changed" = 0 ] || systemctl daemon-reload
systemctl enable --quiet "$UNIT.timer"
systemctl restart "$UNIT.timer"
systemctl start --no-block "$UNIT.service"
printf 'upload job on (%s); a run has started\n' "$SCHEDULE"
