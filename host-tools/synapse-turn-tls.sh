#!/usr/bin/env bash
# synapse-turn-tls SOURCE DEST [--no-restart]: coturn's copy of a certificate the program manages.
# The originals (SOURCE/fullchain.pem and privkey.pem, nginx's or certbot's) are root's; coturn
# runs as its own user, so it reads copies in DEST (0640, group turnserver). Run by turn-activate
# on every apply and by certbot's deploy hook after every renewal; restarts a running coturn when
# the certificate changed (--no-restart: the caller restarts it). Prints updated or unchanged.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: synapse-turn-tls SOURCE DEST [--no-restart]" >&2; exit 2; }
src=$1 dest=$2
install -d -m 0750 -o root -g turnserver "$dest"
changed=0
for f in fullchain.pem privkey.pem; do
  [ -s "$src/$f" ] || { echo "synapse-turn-tls: $src/$f is missing" >&2; exit 1; }
  if ! cmp -s "$src/$f" "$dest/$f" || [ "$(stat -c '%a %U:%G' "$dest/$f")" != "640 root:turnserver" ]; then
    tmp=$(mktemp "$dest/.synapse-turn-tls.XXXXXX")
    cat "$src/$f" >"$tmp"
    chmod 0640 "$tmp"
    chown root:turnserver "$tmp"
    mv -f "$tmp" "$dest/$f"
    changed=1
  fi
done
if [ "$changed" = 1 ]; then
  [ "${3:-}" = --no-restart ] || systemctl try-restart coturn
  echo updated
else
  echo unchanged
fi
