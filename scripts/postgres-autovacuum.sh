#!/usr/bin/env bash
# Sets per-table autovacuum settings for Synapse's hot tables (stdin: `table key=value,…` per
# line, keys sorted) where they differ from what the table has; a table this Synapse version
# does not have is skipped. Runs once Synapse has created its schema. Changes nothing when
# everything is already set. Parameters: PG_CLUSTER, DB_NAME.
: "${PG_CLUSTER:?}" "${DB_NAME:?}"
use_cluster "$PG_CLUSTER"
sql() { runuser -u postgres -- psql -X -v ON_ERROR_STOP=1 -qAt -d "$DB_NAME" "$@"; }
changed=0 same=0 missing=0
while read -r table options; do
  [ -n "$table" ] || continue
  [[ "$table" =~ ^[a-z_]+$ && "$options" =~ ^[a-z_]+=[0-9.]+(,[a-z_]+=[0-9.]+)*$ ]] || die "bad line: $table $options"
  keys=$(tr ',' '\n' <<<"$options" | cut -d= -f1 | paste -sd,)
  # The managed keys' current values, as `key=value,…` sorted like the input (PostgreSQL keeps
  # what ALTER gave); other options on the table are not ours and stay as they are. Empty output:
  # no such table.
  have=$(sql -v t="$table" -v keys="$keys" <<'SQL'
SELECT CASE WHEN to_regclass(:'t') IS NULL THEN '' ELSE 'table:' || coalesce((
  SELECT string_agg(o, ',' ORDER BY o) FROM pg_class c, unnest(c.reloptions) o
  WHERE c.oid = to_regclass(:'t') AND split_part(o, '=', 1) = ANY (string_to_array(:'keys', ','))), '') END;
SQL
)
  if [ -z "$have" ]; then
    missing=$((missing + 1))
    continue
  fi
  have=${have#table:}
  if [ "$have" = "$options" ]; then
    same=$((same + 1))
    continue
  fi
  # Synapse's background updates build indexes concurrently on these tables right after its first
  # start; PostgreSQL may pick this ALTER as the loser of a deadlock with one (seen in the e2e
  # suite). Try again once the build has moved on.
  for attempt in 1 2 3 4 5; do
    sql -c "ALTER TABLE $table SET (${options//,/, })" </dev/null && break
    [ "$attempt" -lt 5 ] || die "could not set autovacuum for $table"
    sleep 3
  done
  log "autovacuum for $table: $options (was: ${have:-defaults})"
  changed=$((changed + 1))
done
printf 'autovacuum: %s tables set, %s already set, %s absent in this Synapse version\n' "$changed" "$same" "$missing"
