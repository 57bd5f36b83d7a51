#!/usr/bin/env bash
# Moves the Synapse database from this host's own PostgreSQL to the database box, once: stop
# Synapse (its workers stop with it), pg_dump -Fc, pg_restore in one transaction into the box's
# database (created empty with collation C), compare, record. The local database stays as it
# was until the admin drops it; the activation that follows starts Synapse on the box. Does
# nothing when this host has no Synapse database of its own or the move is already done.
# Parameters: DB_NAME, DB_USER, DB_HOST, DB_PORT; the role's password comes on stdin.
: "${DB_NAME:?}" "${DB_USER:?}" "${DB_HOST:?}" "${DB_PORT:?}"
IFS= read -r password || [ -n "${password:-}" ] || die "no password on stdin"
target="$DB_HOST:$DB_PORT/$DB_NAME"
marker=$STATE_DIR/database-moved

if [ "$(cat "$marker" 2>/dev/null)" = "$target" ]; then
  printf 'already moved to %s\n' "$target"
  exit 0
fi
# This host's own cluster, the one Synapse used: the one on PostgreSQL's port.
local_cluster=$(cluster_on_port "$DB_PORT" 2>/dev/null || true)
local_sql() { PGCLUSTER=$local_cluster runuser -u postgres -- psql -X -qAt -d "$DB_NAME" "$@"; }
has_local_db() {
  [ -n "$local_cluster" ] && command -v pg_dump >/dev/null && systemctl is-active --quiet postgresql \
    && [ "$(local_sql -c "SELECT to_regclass('public.schema_version') IS NOT NULL" 2>/dev/null)" = t ]
}
if ! has_local_db; then
  printf 'nothing to move (no local Synapse database)\n'
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 0700 "$work"
# The password reaches libpq through a 0600 passfile, never a command line or the environment.
(umask 077 && printf '%s:%s:%s:%s:%s\n' "$DB_HOST" "$DB_PORT" "$DB_NAME" "$DB_USER" "$password" >"$work/pgpass")
remote_sql() { PGPASSFILE=$work/pgpass psql -X -qAt -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" -d "$DB_NAME" "$@"; }
remote_sql -c 'SELECT 1' >/dev/null || die "cannot reach the database $target as $DB_USER (is the box's firewall admitting this host?)"
if [ "$(remote_sql -c "SELECT to_regclass('public.schema_version') IS NOT NULL")" = t ]; then
  die "both this host's PostgreSQL and $target hold a Synapse database, and no move was recorded.
Refusing to choose: compare them, then keep one.
- To move this host's: empty the box's, then apply again. On the box, as postgres:
    DROP DATABASE $DB_NAME;
    CREATE DATABASE $DB_NAME ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0 OWNER $DB_USER;
- To keep the box's: stop using this host's (it stays as it is), then on this host:
    printf '%s' '$target' > $marker
  and apply again."
fi

events=$(local_sql -c 'SELECT count(*) FROM events')
log "stopping Synapse to move $DB_NAME ($events events) to $target"
systemctl stop matrix-synapse || true
install -d -m 0700 "$STATE_DIR/backups"
dump=$STATE_DIR/backups/$DB_NAME-before-move-$(date -u +%Y%m%dT%H%M%SZ).dump
(umask 077 && PGCLUSTER=$local_cluster runuser -u postgres -- pg_dump -Fc "$DB_NAME" >"$dump.tmp") || die "pg_dump of the local $DB_NAME failed; Synapse is stopped, nothing was moved"
mv "$dump.tmp" "$dump"
if ! PGPASSFILE=$work/pgpass pg_restore --no-owner --no-privileges --single-transaction --exit-on-error \
    -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" -d "$DB_NAME" "$dump" 2>"$work/restore.log"; then
  tail -n 30 "$work/restore.log" >&2
  die "pg_restore into $target failed and was rolled back; the local database is untouched (dump: $dump)"
fi
moved=$(remote_sql -c 'SELECT count(*) FROM events')
[ "$moved" = "$events" ] || die "the box has $moved events after the restore, this host $events; not switching (dump: $dump)"
printf '%s' "$target" >"$marker"
printf 'moved %s events to %s (collation %s); the old database %s stays on this host until you drop it (dump: %s)\n' \
  "$events" "$target" "$(remote_sql -c 'SELECT datcollate FROM pg_database WHERE datname = current_database()')" "$DB_NAME" "$dump"
