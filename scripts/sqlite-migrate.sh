#!/usr/bin/env bash
# Moves an existing SQLite install (the package default) to PostgreSQL with synapse_port_db:
# snapshot, stop, port, switch. Runs before Synapse is configured for PostgreSQL, and does
# nothing on a host without a SQLite database. Prints one line saying what happened.
# Parameters: SERVER_NAME, DB_NAME, DB_USER, DB_HOST, DB_PORT; the password comes on stdin.
: "${SERVER_NAME:?}" "${DB_NAME:?}" "${DB_USER:?}" "${DB_HOST:?}" "${DB_PORT:?}"
IFS= read -r password || [ -n "${password:-}" ] || die "no password on stdin"
guard_server_name "$SERVER_NAME"

sqlite_db=$SYNAPSE_DATA/homeserver.db
if [ ! -s "$sqlite_db" ]; then
  printf 'nothing to migrate (no SQLite database)\n'
  exit 0
fi

port_db=""
for candidate in "$SYNAPSE_VENV/bin/synapse_port_db" /usr/bin/synapse_port_db; do
  [ -x "$candidate" ] && { port_db=$candidate; break; }
done
[ -n "$port_db" ] || die "found $sqlite_db but no synapse_port_db to migrate it"
python=$(head -n 1 "$port_db" | sed 's/^#!//')

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 0700 "$work"
# synapse_port_db parses a whole homeserver config around the new database section; it signs
# nothing, so a throwaway signing key satisfies the parser and the real one is never touched.
"$python" -c 'import sys; from signedjson.key import generate_signing_key, write_signing_keys
with open(sys.argv[1], "w") as f: write_signing_keys(f, [generate_signing_key("port")])' "$work/port.signing.key"
# It holds the database password: 0600 like every other secret file.
(umask 077 && cat >"$work/postgres.yaml") <<YAML
server_name: "$SERVER_NAME"
report_stats: false
signing_key_path: "$work/port.signing.key"
database:
  name: psycopg2
  args:
    user: "$DB_USER"
    password: "$password"
    dbname: "$DB_NAME"
    host: "$DB_HOST"
    port: $DB_PORT
YAML

sqlite_count() {
  "$python" -c 'import sqlite3,sys; c=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro", uri=True); print(c.execute(sys.argv[2]).fetchone()[0])' "$sqlite_db" "$1" 2>/dev/null || echo 0
}
# synapse_port_db refuses a database with pending background updates: let Synapse (on its old
# SQLite config) finish them first.
pending=$(sqlite_count "select count(*) from background_updates")
if [ "$pending" != 0 ]; then
  log "waiting for Synapse to finish $pending background updates in SQLite before porting"
  systemctl is-active --quiet matrix-synapse || systemctl start matrix-synapse \
    || die "$sqlite_db has $pending pending background updates and Synapse does not start to finish them"
  for _ in $(seq 1 600); do
    pending=$(sqlite_count "select count(*) from background_updates")
    [ "$pending" = 0 ] && break
    sleep 1
  done
  [ "$pending" = 0 ] || die "Synapse still has $pending background updates pending in $sqlite_db after 10 minutes; apply again later"
fi
events=$(sqlite_count "select count(*) from events")
log "stopping Synapse to port $sqlite_db ($events events) to PostgreSQL"
systemctl stop matrix-synapse || true
snapshot=$STATE_DIR/homeserver.db.snapshot-$(date -u +%Y%m%dT%H%M%SZ)
install -d -m 0700 "$STATE_DIR"
# A consistent copy through SQLite's backup API, never a plain cp of a live file.
"$python" -c 'import sqlite3,sys; s=sqlite3.connect(sys.argv[1]); d=sqlite3.connect(sys.argv[2]); s.backup(d); d.close()' "$sqlite_db" "$snapshot"
if ! "$port_db" --sqlite-database "$snapshot" --postgres-config "$work/postgres.yaml" >"$work/port.log" 2>&1; then
  tail -n 40 "$work/port.log" >&2
  die "synapse_port_db failed; Synapse stays stopped on its untouched SQLite database ($sqlite_db).
Fix the error above and apply again (the port resumes), or start Synapse as it was."
fi
# Switch: the SQLite file goes aside so it can never be used by mistake; kept as a backup.
mv "$sqlite_db" "$sqlite_db.migrated-to-postgres"
printf 'migrated %s events from SQLite to PostgreSQL (SQLite kept at %s.migrated-to-postgres, snapshot %s)\n' \
  "$events" "$sqlite_db" "$snapshot"
