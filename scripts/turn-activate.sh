#!/usr/bin/env bash
# Puts coturn's config live and coturn on it: the staged config (render/turn.ts) with the shared
# secret appended (stdin: the secret, never in a readable file or a command line), 0640 for
# coturn's user; the certificate copied where coturn's user can read it (the staged
# synapse-turn-tls, which certbot's deploy hook also runs after each renewal); coturn restarted
# only when its config or certificate changed, then awaited on its TURN port.
# Parameters: PACKAGES (coturn's), CONF (coturn's config), TLS_SOURCE (the certificate's directory), TLS_DIR (coturn's
# copy), TOOL (where synapse-turn-tls goes), HOOK (certbot's deploy hook), PORT (TURN's UDP port);
# CONF_SHA256 only makes the step run again for a new config.
: "${PACKAGES:?}" "${CONF:?}" "${TLS_SOURCE:?}" "${TLS_DIR:?}" "${TOOL:?}" "${HOOK:?}" "${PORT:?}"
staged=$STAGED_DIR/turn
# shellcheck disable=SC2086 # a list of package names
ensure_packages $PACKAGES
for f in turnserver.conf synapse-turn-tls; do [ -f "$staged/$f" ] || die "staged $staged/$f is missing"; done
IFS= read -r secret || [ -n "${secret:-}" ] || die "no shared secret on stdin"
[ -n "$secret" ] || die "the shared secret on stdin is empty"

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{ cat "$staged/turnserver.conf"; printf 'static-auth-secret=%s\n' "$secret"; } >"$tmp"
changed=0
install_file "$tmp" "$CONF" 0640 root:turnserver && changed=1

# The certificate: copied now, and by certbot's deploy hook after every renewal.
bash -n "$staged/synapse-turn-tls" || die "$staged/synapse-turn-tls is not valid bash"
install_file "$staged/synapse-turn-tls" "$TOOL" 0755 root:root || true
if [ -d /etc/letsencrypt ]; then
  printf '#!/bin/sh\n# Managed by the synapse Pulumi program: coturn serves the renewed certificate.\nexec %s %s %s\n' "$TOOL" "$TLS_SOURCE" "$TLS_DIR" >"$tmp"
  install -d -m 0755 "$(dirname "$HOOK")"
  install_file "$tmp" "$HOOK" 0755 root:root || true
fi
[ "$("$TOOL" "$TLS_SOURCE" "$TLS_DIR" --no-restart)" = unchanged ] || changed=1

systemctl enable --quiet coturn
live=("$CONF" "$TLS_DIR/fullchain.pem" "$TLS_DIR/privkey.pem")
if [ "$changed" = 1 ] || ! systemctl is-active --quiet coturn || applied_differs coturn "${live[@]}"; then
  systemctl restart coturn
  result=restarted
else
  result=unchanged
fi
for _ in $(seq 1 30); do
  if systemctl is-active --quiet coturn && ss -Hlnu "sport = :$PORT" | grep -q .; then
    mark_applied coturn "${live[@]}"
    printf '%s\n' "$result"
    exit 0
  fi
  sleep 1
done
journalctl -u coturn -n 30 --no-pager >&2 || true
die "coturn is not listening on UDP $PORT after 30 s"
