#!/usr/bin/env bash
# When monitoring (or a host's exporters) leaves the program, or on `pulumi destroy`: its services
# (Prometheus, Alertmanager, the receiver; the exporters) stopped and disabled, its firewall gone.
# The packages and Prometheus's samples stay (apt purge prometheus removes them), and the admin
# room too.
# Parameters: SERVICES (space-separated units), UNIT (the firewall's unit), TABLE (its table),
# RULES (its rules file).
: "${SERVICES:?}" "${UNIT:?}" "${TABLE:?}" "${RULES:?}"
for s in $SERVICES "$UNIT"; do systemctl disable --now --quiet "$s" 2>/dev/null || true; done
nft delete table inet "$TABLE" 2>/dev/null || true
rm -f "/etc/systemd/system/$UNIT" "$RULES"
systemctl daemon-reload
log "stopped the monitoring: $SERVICES"
