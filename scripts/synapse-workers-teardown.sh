#!/usr/bin/env bash
# The worker pool left the program (every count 0): the main process does all the work again.
# Stops, disables and deletes every worker and their units. Redis stays installed (unused).
# Parameters: UNIT, TARGET.
: "${UNIT:?}" "${TARGET:?}"
for f in "$SYNAPSE_ETC"/workers/*.yaml; do
  [ -e "$f" ] || continue
  remove_worker "$(basename "$f" .yaml)" "$UNIT"
done
systemctl disable --quiet "$TARGET" 2>/dev/null || true
rm -rf "/etc/systemd/system/$UNIT" "/etc/systemd/system/$UNIT.d" "/etc/systemd/system/$TARGET"
systemctl daemon-reload
