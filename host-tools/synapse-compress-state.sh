#!/usr/bin/env bash
# synapse-compress-state: compresses Synapse's state tables with synapse_auto_compressor, then
# VACUUM ANALYZE of them, and writes the state rows and table sizes before and after to the
# journal. Installed on the database host by the synapse Pulumi program; run by
# synapse-compress-state.timer (monthly by default) and by hand (systemctl start
# synapse-compress-state, to see it in the journal). Each run continues where the last one
# stopped (the compressor keeps its progress in the database).
# After a purge of history Synapse deletes state groups the compressor may have recorded as its
# progress; it then stops with "Missing N" on that room (rust-synapse-compress-state #78, #79).
# So first the progress of every room whose recorded state groups are gone is reset: that room is
# compressed again from its start. Then, when synapse-reclaim is installed (reclaim= in the
# config), the space the compressor freed goes back to the disk.
# Settings (binary, database, cluster, role, chunk_size, chunks, reclaim) in
# /etc/synapse-deploy/compress-state.conf; the cluster is named there (a host can keep an old one
# after a PostgreSQL upgrade).
set -euo pipefail
conf=${SYNAPSE_COMPRESS_STATE_CONF:-$TOOL_CONF}
# shellcheck disable=SC1090
. "$conf"
: "${binary:?} ${database:?} ${cluster:?} ${role:?} ${chunk_size:?} ${chunks:?}"
export PGCLUSTER=$cluster
log() { printf 'synapse-compress-state: %s\n' "$*"; }
sql() { runuser -u postgres -- psql -X -qAt -F ' ' -v ON_ERROR_STOP=1 -d "$database" "$@"; }

if [ ! -x "$binary" ]; then
  log "ERROR: the compressor is not built ($binary is missing); the build's status: $(systemctl show -p ActiveState -p Result --value synapse-compressor-build.service | paste -sd ' ')"
  log "see journalctl -u synapse-compressor-build; start it again with systemctl start synapse-compressor-build"
  exit 1
fi

# Exact counts: this runs monthly, at night, and the numbers are what the run is judged by.
measure() {
  sql -c "SELECT (SELECT count(*) FROM state_groups_state), (SELECT count(*) FROM state_groups),
    pg_total_relation_size('state_groups_state') + pg_total_relation_size('state_group_edges'),
    pg_database_size(current_database())"
}
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
report() {
  local rows groups tables db
  read -r rows groups tables db <<<"$2"
  log "$1: $rows state rows, $groups state groups, state tables $(mib "$tables"), database $(mib "$db")"
}

started=$(date +%s)
# The compressor's own tables exist once it has run; the reset is only needed from then on.
if [ "$(sql -c "SELECT to_regclass('state_compressor_progress') IS NOT NULL AND to_regclass('state_compressor_state') IS NOT NULL")" = t ]; then
  reset=$(sql <<'SQL'
BEGIN;
CREATE TEMP TABLE stale ON COMMIT DROP AS
  SELECT p.room_id FROM state_compressor_progress p WHERE NOT EXISTS (SELECT 1 FROM state_groups g WHERE g.id = p.last_compressed)
  UNION SELECT s.room_id FROM state_compressor_state s
    WHERE s.current_head IS NOT NULL AND NOT EXISTS (SELECT 1 FROM state_groups g WHERE g.id = s.current_head);
DELETE FROM state_compressor_state WHERE room_id IN (SELECT room_id FROM stale);
DELETE FROM state_compressor_progress WHERE room_id IN (SELECT room_id FROM stale);
SELECT count(*) FROM stale;
COMMIT;
SQL
)
  [ "$reset" = 0 ] || log "reset the progress of $reset room(s) whose state groups a purge deleted; they are compressed from their start"
fi
before=$(measure)
report before "$before"
# The compressor's own Postgres client knows nothing of PGCLUSTER: it gets the cluster's port.
port=$(pg_conftool -s "${cluster%%/*}" "${cluster#*/}" show port) || { log "ERROR: no PostgreSQL cluster $cluster"; exit 1; }
log "running synapse_auto_compressor -c $chunk_size -n $chunks"
runuser -u postgres -- "$binary" -p "host=/var/run/postgresql port=$port dbname=$database user=postgres options='-c role=$role'" \
  -c "$chunk_size" -n "$chunks"
sql -c 'VACUUM (ANALYZE) state_groups_state, state_group_edges'
after=$(measure)
report after "$after"
read -r rows_before _ <<<"$before"
read -r rows_after _ <<<"$after"
share=$(awk -v b="$rows_before" -v a="$rows_after" 'BEGIN { printf "%.1f%%", (b > 0 ? 100 * (b - a) / b : 0) }')
log "removed $((rows_before - rows_after)) state rows ($share) in $(($(date +%s) - started)) s"
if [ -n "${reclaim:-}" ]; then
  "$reclaim"
fi
