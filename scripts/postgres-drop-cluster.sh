#!/usr/bin/env bash
# Drops the old cluster of major DROP that a PostgreSQL upgrade moved the database from
# (postgresDropOldCluster), once the admin is satisfied with the new one: pg_dropcluster --stop,
# which deletes its data directory and configuration. Only a cluster this program recorded as
# moved from (postgres-cluster), and never the one serving (PG_CLUSTER), is dropped; nothing
# happens when it is gone already.
# Parameters: DROP (a major version), PG_CLUSTER.
: "${DROP:?}" "${PG_CLUSTER:?}"
record=$STATE_DIR/postgres-moves
dropped=()
while read -r from to; do
  [ "${from%%/*}" = "$DROP" ] || continue
  [ "$from" != "$PG_CLUSTER" ] || die "PostgreSQL $from serves the database: it is never dropped"
  pg_lsclusters --no-header 2>/dev/null | awk -v c="$from" '$1 "/" $2 == c { found = 1 } END { exit !found }' || continue
  pg_dropcluster --stop "${from%%/*}" "${from#*/}"
  log "dropped PostgreSQL $from (the database moved from it to $to)"
  dropped+=("$from")
done < <(cat "$record" 2>/dev/null)
if [ "${#dropped[@]}" -gt 0 ]; then
  printf 'dropped %s\n' "${dropped[*]}"
elif pg_lsclusters --no-header 2>/dev/null | awk -v v="$DROP" '$1 == v { found = 1 } END { exit !found }' && ! grep -q "^$DROP/" "$record" 2>/dev/null; then
  die "the PostgreSQL $DROP cluster(s) here were not moved from by this program: refusing to drop them (pg_dropcluster by hand if you mean to)"
else
  printf 'no PostgreSQL %s cluster to drop\n' "$DROP"
fi
