#!/usr/bin/env bash
# When TURN leaves the program (or on `pulumi destroy`): coturn stopped and disabled, its
# certificate copy, renewal hook and firewall gone. The package stays installed, idle; Synapse
# stops handing out TURN credentials with its next config.
# Parameters: CONF, TLS_DIR, TOOL, HOOK, UNIT (the firewall's unit), TABLE (its nftables table),
# RULES (its rules file).
: "${CONF:?}" "${TLS_DIR:?}" "${TOOL:?}" "${HOOK:?}" "${UNIT:?}" "${TABLE:?}" "${RULES:?}"
systemctl disable --now --quiet coturn 2>/dev/null || true
systemctl disable --now --quiet "$UNIT" 2>/dev/null || true
nft delete table inet "$TABLE" 2>/dev/null || true
rm -rf "$TLS_DIR" "$HOOK" "$TOOL" "/etc/systemd/system/$UNIT" "$RULES"
systemctl daemon-reload
# The config holds the shared secret: keep it from readers, as it was.
[ ! -f "$CONF" ] || chmod 0600 "$CONF"
log "stopped coturn; TURN is off"
