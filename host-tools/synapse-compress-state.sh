#!/usr/bin/env bash
# synapse-compress-state: compresses Synapse's state tables with synapse_auto_compressor, then
# VACUUM ANALYZE of them, and writes the state rows and table sizes before and after to the
# journal. Installed on the database host by the synapse Pulumi program; run by
# synapse-compress-state.timer (monthly by default) and by hand (systemctl start
# synapse-compress-state, to see it in the journal). Each run continues where the last one
# stopped (the compressor keeps its progress in the database).
# Settings (binary, database, role, chunk_size, chunks) in /etc/synapse-deploy/compress-state.conf.
set -euo pipefail
conf=${SYNAPSE_COMPRESS_STATE_CONF:-/etc/synapse-deploy/compress-state.conf}
# shellcheck disable=SC1090
. "$conf"
: "${binary:?} ${database:?} ${role:?} ${chunk_size:?} ${chunks:?}"
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
before=$(measure)
report before "$before"
log "running synapse_auto_compressor -c $chunk_size -n $chunks"
runuser -u postgres -- "$binary" -p "host=/var/run/postgresql dbname=$database user=postgres options='-c role=$role'" \
  -c "$chunk_size" -n "$chunks"
sql -c 'VACUUM (ANALYZE) state_groups_state, state_group_edges'
after=$(measure)
report after "$after"
read -r rows_before _ <<<"$before"
read -r rows_after _ <<<"$after"
share=$(awk -v b="$rows_before" -v a="$rows_after" 'BEGIN { printf "%.1f%%", (b > 0 ? 100 * (b - a) / b : 0) }')
log "removed $((rows_before - rows_after)) state rows ($share) in $(($(date +%s) - started)) s"
