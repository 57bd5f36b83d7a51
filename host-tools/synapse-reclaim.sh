#!/usr/bin/env bash
# synapse-reclaim: gives the space that deleted rows left inside Synapse's tables back to the disk,
# while Synapse serves. Plain VACUUM (autovacuum) only makes that space reusable inside each table
# file; pg_repack rebuilds a table and its indexes online (an exclusive lock only for a moment at
# the start and at the swap, waiting for Synapse's queries instead of cancelling them).
# Installed on the database host by the synapse Pulumi program; run by synapse-reclaim.timer, at the
# end of every synapse-compress-state run, and by `npm run admin -- reclaim`.
#   synapse-reclaim               measure, rebuild the tables where it pays, measure again
#   synapse-reclaim --measure     only measure: each table's live and reclaimable bytes (--json)
#   synapse-reclaim --status      the last run (--json)
#   synapse-reclaim --vacuum-full the fallback where pg_repack cannot run: the same tables rewritten
#                                 with VACUUM FULL, which locks each one for its whole rewrite, so
#                                 it refuses to start while anything is connected to the database
#                                 (stop Synapse first: npm run admin -- reclaim --vacuum-full does)
# A table is rebuilt only when its reclaimable bytes are at least min_mib MiB and min_percent % of it
# with its indexes, and when the disk holds twice what stays of it. pg_repack needs a primary key or
# a NOT NULL unique index: state_groups_state has neither, and event_push_actions (most of a busy
# database, and what a history purge empties) only one that includes a NULL column, so a unique
# index on each one's key is built concurrently first and dropped after; duplicate rows make that impossible, which is reported and
# the table left alone. Nothing is left behind: the extensions it creates are dropped again, so a
# dump restores on a host without pg_repack.
# Settings (database, cluster, min_mib, min_percent, state_dir) in /etc/synapse-deploy/reclaim.conf;
# the cluster is named there (a host can keep an old one after a PostgreSQL upgrade).
set -euo pipefail
conf=${SYNAPSE_RECLAIM_CONF:-$TOOL_CONF}
# shellcheck disable=SC1090
. "$conf"
: "${database:?} ${cluster:?} ${min_mib:?} ${min_percent:?} ${state_dir:?}"
# psql and the other wrapped tools through PGCLUSTER, pg_repack (not wrapped) through PGPORT.
export PGCLUSTER=$cluster
PGPORT=$(pg_conftool -s "${cluster%%/*}" "${cluster#*/}" show port) || { echo "synapse-reclaim: no PostgreSQL cluster $cluster" >&2; exit 1; }
export PGPORT
mode=run
json=0
for arg in "$@"; do
  case $arg in
    --measure) mode=measure ;;
    --status) mode=status ;;
    --vacuum-full) mode=vacuum-full ;;
    --json) json=1 ;;
    *) printf 'usage: synapse-reclaim [--measure|--status|--vacuum-full] [--json]\n' >&2; exit 64 ;;
  esac
done
log() { printf 'synapse-reclaim: %s\n' "$*"; }
sql() { runuser -u postgres -- psql -X -qAt -F $'\t' -v ON_ERROR_STOP=1 -d "$database" "$@"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
install -d -m 0700 "$state_dir"

if [ "$mode" = status ]; then
  [ -s "$state_dir/last.json" ] || { echo "synapse-reclaim: no run yet" >&2; exit 1; }
  if [ "$json" = 1 ]; then cat "$state_dir/last.json"; else python3 - "$state_dir/last.json" <<'PY'; fi
import json, sys
r = json.load(open(sys.argv[1]))
print(f"last run {r['time']}: {r['summary']}")
for t in r["tables"]:
    print(f"  {t['table']:<32} {t['outcome']}")
PY
  exit 0
fi

# Extensions this run creates are dropped at its end, whatever happens.
created=()
ensure_extension() {
  if [ "$(sql -c "SELECT count(*) FROM pg_extension WHERE extname = '$1'")" = 0 ]; then
    sql -c "CREATE EXTENSION $1" && created+=("$1")
  fi
}
temp_index=synapse_deploy_repack_key
cleanup() {
  sql -c "DROP INDEX CONCURRENTLY IF EXISTS public.$temp_index" >/dev/null 2>&1 || true
  local e
  for e in "${created[@]+"${created[@]}"}"; do sql -c "DROP EXTENSION IF EXISTS $e CASCADE" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

# Each table of 1 MiB or more (permanent ones: Synapse's few UNLOGGED tables are its worker locks,
# small, and pg_repack cannot rebuild them), its size with indexes, and what a rebuild would give back (dead rows
# and free space in the heap, from pgstattuple_approx; btree indexes filled below the 90 % a fresh
# build leaves, from pgstatindex).
# (pgstattuple must exist: ensure_extension runs in this shell, not in measure's subshells.)
measure() {
  sql <<'SQL'
WITH t AS (
  SELECT c.oid, c.relname, pg_total_relation_size(c.oid) AS total
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relpersistence = 'p' AND pg_total_relation_size(c.oid) >= 1048576
), m AS (
  SELECT t.relname, t.total,
    (a.dead_tuple_len + a.approx_free_space)::bigint AS heap_free,
    coalesce((SELECT sum(CASE WHEN s.avg_leaf_density = 'NaN' OR s.avg_leaf_density >= 90 THEN 0
        ELSE pg_relation_size(i.indexrelid) * (1 - s.avg_leaf_density / 90.0) END)
      FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam,
        LATERAL pgstatindex(i.indexrelid::regclass) s
      WHERE i.indrelid = t.oid AND am.amname = 'btree' AND i.indisvalid), 0)::bigint AS index_free
  FROM t, LATERAL pgstattuple_approx(t.oid) a
)
SELECT relname, total, heap_free, index_free FROM m ORDER BY heap_free + index_free DESC, relname;
SQL
}
# measure's rows as JSON: [{table, bytes, reclaimable}], largest reclaimable first.
to_json() {
  python3 -c 'import json, sys
rows = [l.split("\t") for l in sys.stdin.read().splitlines() if l]
print(json.dumps([{"table": r[0], "bytes": int(r[1]), "reclaimable": int(r[2]) + int(r[3])} for r in rows]))'
}

ensure_extension pgstattuple
if [ "$mode" = measure ]; then
  measured=$(measure | to_json)
  if [ "$json" = 1 ]; then printf '%s\n' "$measured"; else python3 - "$measured" <<'PY'; fi
import json, sys
for t in json.loads(sys.argv[1]):
    print(f"{t['table']:<40} {t['bytes'] / 1048576:9.1f} MiB, {t['reclaimable'] / 1048576:9.1f} MiB reclaimable")
PY
  exit 0
fi

if [ "$mode" = vacuum-full ]; then
  clients=$(sql -c "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
  [ "$clients" = 0 ] || { log "ERROR: $clients connection(s) to $database: stop Synapse (and its workers) before a VACUUM FULL"; exit 1; }
fi
started=$(date +%s)
before_db=$(sql -c 'SELECT pg_database_size(current_database())')
major=$(sql -c 'SHOW server_version_num' | cut -c1-2)
repack=/usr/lib/postgresql/$major/bin/pg_repack
data_dir=$(sql -c 'SHOW data_directory')
results=()
outcome() { results+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"$4"); log "$1: $4"; }

while IFS=$'\t' read -r table total heap_free index_free; do
  [ -n "$table" ] || continue
  reclaimable=$((heap_free + index_free))
  if [ "$reclaimable" -lt $((min_mib * 1048576)) ] || [ $((reclaimable * 100)) -lt $((min_percent * total)) ]; then
    continue
  fi
  what="$(mib "$total"), $(mib "$reclaimable") reclaimable"
  if [ "$mode" = vacuum-full ]; then
    free=$(df -B1 --output=avail "$data_dir" | tail -n 1 | tr -d ' ')
    if [ "$free" -lt $((2 * (total - reclaimable))) ]; then
      outcome "$table" "$total" "$total" "$what; not rewritten: $(mib "$free") free on the disk, a rewrite needs about $(mib $((2 * (total - reclaimable))))"
      continue
    fi
    t0=$(date +%s)
    sql -c "VACUUM (FULL, ANALYZE) public.$table"
    after=$(sql -c "SELECT pg_total_relation_size('public.$table')")
    outcome "$table" "$total" "$after" "$what; rewritten with VACUUM FULL (nothing connected): $(mib "$total") → $(mib "$after") in $(($(date +%s) - t0)) s"
    continue
  fi
  if [ ! -x "$repack" ]; then
    outcome "$table" "$total" "$total" "$what; not rebuilt: pg_repack is not installed for PostgreSQL $major (see the install step's output)"
    continue
  fi
  free=$(df -B1 --output=avail "$data_dir" | tail -n 1 | tr -d ' ')
  if [ "$free" -lt $((2 * (total - reclaimable))) ]; then
    outcome "$table" "$total" "$total" "$what; not rebuilt: $(mib "$free") free on the disk, a rebuild needs about $(mib $((2 * (total - reclaimable))))"
    continue
  fi
  # pg_repack needs a primary key or a unique index on NOT NULL columns.
  keyed=$(sql -c "SELECT count(*) FROM pg_index i WHERE i.indrelid = 'public.$table'::regclass AND i.indisvalid AND (i.indisprimary OR
    (i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL AND NOT EXISTS (SELECT 1 FROM pg_attribute a
      WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) AND NOT a.attnotnull)))")
  if [ "$keyed" = 0 ]; then
    case $table in
      state_groups_state) key="state_group, type, state_key" ;;
      # Its unique constraint includes profile_tag, which may be NULL (and is: Synapse no longer
      # sets it), so pg_repack cannot use it; the NOT NULL part is unique on its own.
      event_push_actions) key="room_id, event_id, user_id" ;;
      *) outcome "$table" "$total" "$total" "$what; not rebuilt: it has no primary key or unique index pg_repack could use"; continue ;;
    esac
    # A unique index built concurrently (Synapse keeps writing); duplicates make it fail and leave an invalid index.
    if ! err=$(sql -c "CREATE UNIQUE INDEX CONCURRENTLY $temp_index ON public.$table ($key)" 2>&1); then
      sql -c "DROP INDEX CONCURRENTLY IF EXISTS public.$temp_index" >/dev/null
      outcome "$table" "$total" "$total" "$what; not rebuilt: a unique index on ($key) is impossible (${err//$'\n'/ }); the table has duplicate rows, which Synapse does not need: see docs"
      continue
    fi
  fi
  ensure_extension pg_repack
  t0=$(date +%s)
  # --no-kill-backend: wait for Synapse's queries (--wait-timeout) and skip the table rather than cancel them.
  if out=$(runuser -u postgres -- "$repack" --dbname="$database" --table="public.$table" --wait-timeout=60 --no-kill-backend 2>&1) &&
    ! grep -qE '^(WARNING|ERROR)' <<<"$out"; then
    after=$(sql -c "SELECT pg_total_relation_size('public.$table')")
    outcome "$table" "$total" "$after" "$what; rebuilt online: $(mib "$total") → $(mib "$after") in $(($(date +%s) - t0)) s"
  else
    outcome "$table" "$total" "$total" "$what; pg_repack did not rebuild it: $(grep -E '^(WARNING|ERROR)' <<<"$out" | head -n 3 | tr '\n' ' ')"
    failed=1
  fi
  [ "$keyed" != 0 ] || sql -c "DROP INDEX CONCURRENTLY IF EXISTS public.$temp_index"
done < <(measure)

after_db=$(sql -c 'SELECT pg_database_size(current_database())')
summary="database $(mib "$before_db") → $(mib "$after_db"); ${#results[@]} table(s) worth a rebuild; $(($(date +%s) - started)) s"
log "$summary"
printf '%s\n' "${results[@]+"${results[@]}"}" | python3 -c '
import json, sys, time
tables = [dict(zip(["table", "before", "after", "outcome"], l.split("\t"))) for l in sys.stdin.read().splitlines() if l]
for t in tables: t["before"], t["after"] = int(t["before"]), int(t["after"])
r = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "databaseBefore": int(sys.argv[1]), "databaseAfter": int(sys.argv[2]),
     "summary": sys.argv[3], "tables": tables}
open(sys.argv[4] + ".tmp", "w").write(json.dumps(r) + "\n")
open(sys.argv[5], "a").write(json.dumps(r) + "\n")' "$before_db" "$after_db" "$summary" "$state_dir/last.json" "$state_dir/history.jsonl"
mv "$state_dir/last.json.tmp" "$state_dir/last.json"
[ -z "${failed:-}" ] || exit 1
