#!/usr/bin/env bash
# Installs a maintenance tool with its config, service and timer (staged under
# $STAGED_DIR/maintenance/NAME), and enables the timer. Re-running changes nothing and never
# resets the timer: systemd keeps its last run (Persistent=true), and an active timer is left be.
# Parameters: NAME (e.g. synapse-db-report), TOOL (installed path), CONF (installed path);
# CONTENT_SHA256 only makes the step run again for new content.
: "${NAME:?}" "${TOOL:?}" "${CONF:?}"
staged=$STAGED_DIR/maintenance/$NAME
for f in tool conf service timer; do [ -f "$staged/$f" ] || die "staged $staged/$f is missing"; done
bash -n "$staged/tool" || die "$staged/tool is not valid bash"
changed=()
install_file "$staged/tool" "$TOOL" 0755 root:root && changed+=("$TOOL")
install_file "$staged/conf" "$CONF" 0644 root:root && changed+=("$CONF")
units=0
install_file "$staged/service" "/etc/systemd/system/$NAME.service" 0644 root:root && units=1
install_file "$staged/timer" "/etc/systemd/system/$NAME.timer" 0644 root:root && units=1
if [ "$units" = 1 ]; then
  systemctl daemon-reload
  changed+=("$NAME.service" "$NAME.timer")
fi
systemctl enable --quiet "$NAME.timer"
systemctl is-active --quiet "$NAME.timer" || systemctl start "$NAME.timer"
printf '%s: %s; next run %s\n' "$NAME" "${changed[*]:-unchanged}" \
  "$(systemctl show -p NextElapseUSecRealtime --value "$NAME.timer")"
