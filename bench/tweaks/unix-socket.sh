#!/usr/bin/env bash
# Tweak (the experiment that measured it before the program had it; the program does it since
# 6f0972c, so this is for revisions before that): Synapse reaches PostgreSQL on its own host
# through PostgreSQL's Unix socket instead of TCP to 127.0.0.1. The profile scenario counts some
# 130 statements per message, each a round trip; a socket round trip costs both ends fewer
# system calls than TCP on loopback. keepalives_* are TCP's: libpq ignores them on a socket.
set -euo pipefail
conf=/etc/matrix-synapse/homeserver.yaml
pass=/etc/matrix-synapse/pgpass
grep -qx '    host: \(127.0.0.1\|/var/run/postgresql\)' "$conf" || { echo "unix-socket: no database host 127.0.0.1 in $conf" >&2; exit 1; }
sed -i 's|^    host: 127.0.0.1$|    host: /var/run/postgresql|' "$conf"
IFS=: read -r _ port db user password <"$pass"
# libpq matches a socket connection against the passfile's "localhost" lines.
grep -q '^localhost:' "$pass" || printf 'localhost:%s:%s:%s:%s\n' "$port" "$db" "$user" "$password" >>"$pass"
hba=$(runuser -u postgres -- psql -XAtc 'SHOW hba_file')
# Password authentication for Synapse's user over the socket, ahead of Debian's peer lines.
grep -q "^local *$db *$user " "$hba" || sed -i "0,/^local/s//local   $db $user scram-sha-256\nlocal/" "$hba"
runuser -u postgres -- psql -XAtc 'SELECT pg_reload_conf()' >/dev/null
systemctl restart matrix-synapse
for _ in $(seq 90); do curl -sf http://127.0.0.1:8008/health >/dev/null && break; sleep 1; done
on_socket=$(runuser -u postgres -- psql -XAtc "SELECT count(*) FROM pg_stat_activity WHERE usename = '$user' AND client_port = -1")
[ "$on_socket" -gt 0 ] || { echo "unix-socket: Synapse is not on the socket" >&2; exit 1; }
