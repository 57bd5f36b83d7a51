#!/usr/bin/env bash
# synapse-db-report: what the homeserver's database holds and how fast it grows. Installed on the
# Synapse VPS by the synapse Pulumi program; run by synapse-db-report.timer (weekly) and by hand.
#   synapse-db-report            the report, for people
#   synapse-db-report --json     the same, as one JSON object
# Exits 2 (after a warning in the journal) when the database grew faster than the alert threshold
# since the newest report at least an hour older, so monitoring that watches failed units notices.
# Reads the database's address and credentials from Synapse's own passfile; keeps its history in
# /var/lib/synapse-deploy/db-report.
set -euo pipefail
json=0
[ "${1:-}" = --json ] && json=1
conf=$TOOL_CONF
alert_mib=1024
# shellcheck disable=SC1090
[ -r "$conf" ] && . "$conf"
passfile=$SYNAPSE_ETC/pgpass
media=$SYNAPSE_MEDIA
state=$DEPLOY_STATE/db-report
IFS=: read -r host port db user _ <"$passfile"
sql() { PGPASSFILE=$passfile psql -X -qAt -F $'\t' -h "$host" -p "$port" -U "$user" -d "$db" "$@"; }

now=$(date -u +%s)
size=$(sql -c 'SELECT pg_database_size(current_database())')
state_rows=$(sql -c "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'state_groups_state'::regclass")
state_groups=$(sql -c 'SELECT count(*) FROM state_groups')
tables=$(sql -c "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 2 DESC LIMIT 10")
rooms=$(sql -c 'SELECT room_id, count(*) FROM state_groups GROUP BY room_id ORDER BY 2 DESC, 1 LIMIT 10')
media_local=$(sql -c 'SELECT coalesce(sum(media_length), 0) FROM local_media_repository')
media_remote=$(sql -c 'SELECT coalesce(sum(media_length), 0) FROM remote_media_cache')
disk_media=$(du -sb "$media" 2>/dev/null | cut -f1 || echo 0)

install -d -m 0700 "$state"
# The rate is taken over an hour or more: two reports seconds apart (a person's, right after the
# timer's) would turn one page Synapse wrote meanwhile into gigabytes a day, and a false alert.
last=$(awk -v cut=$((now - 3600)) '$1 <= cut' "$state/history.tsv" 2>/dev/null | tail -n 1 || true)
growth_per_day=""
if [ -n "$last" ]; then
  read -r last_time last_size <<<"$last"
  elapsed=$((now - last_time))
  if [ "$elapsed" -gt 0 ]; then growth_per_day=$(((size - last_size) * 86400 / elapsed)); fi
fi
printf '%s\t%s\n' "$now" "$size" >>"$state/history.tsv"

alert=0
if [ -n "$growth_per_day" ] && [ "$growth_per_day" -gt $((alert_mib * 1024 * 1024)) ]; then alert=1; fi

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
if [ "$json" = 1 ]; then
  to_json() { python3 -c 'import json,sys; print(json.dumps([[r.split("\t")[0], int(r.split("\t")[1])] for r in sys.stdin.read().splitlines() if r]))'; }
  # The trend: the database's size at the last reports (this one included), oldest first.
  history=$(tail -n 12 "$state/history.tsv" | python3 -c 'import json,sys; print(json.dumps([[int(f) for f in r.split("\t")] for r in sys.stdin.read().splitlines() if r]))')
  printf '{"time":%s,"databaseBytes":%s,"stateGroupsStateRows":%s,"stateGroups":%s,"largestTables":%s,"roomsByStateGroups":%s,"mediaLocalBytes":%s,"mediaRemoteBytes":%s,"mediaOnDiskBytes":%s,"growthBytesPerDay":%s,"alert":%s,"history":%s}\n' \
    "$now" "$size" "$state_rows" "$state_groups" "$(to_json <<<"$tables")" "$(to_json <<<"$rooms")" \
    "$media_local" "$media_remote" "${disk_media:-0}" "${growth_per_day:-null}" "$([ "$alert" = 1 ] && echo true || echo false)" "$history"
else
  printf 'database %s: %s\n' "$db" "$(mib "$size")"
  printf 'state: %s rows in state_groups_state (estimate), %s state groups\n' "$state_rows" "$state_groups"
  printf 'media: %s uploaded here, %s cached from other servers, %s on this disk\n' "$(mib "$media_local")" "$(mib "$media_remote")" "$(mib "${disk_media:-0}")"
  if [ -n "$growth_per_day" ]; then printf 'growth since the last report: %s per day\n' "$(mib "$growth_per_day")"; else echo "growth: no report an hour or more older to compare with yet"; fi
  echo "largest tables:"
  while IFS=$'\t' read -r name bytes; do
    if [ -n "$name" ]; then printf '  %-40s %s\n' "$name" "$(mib "$bytes")"; fi
  done <<<"$tables"
  echo "rooms with the most state groups:"
  while IFS=$'\t' read -r room count; do
    if [ -n "$room" ]; then printf '  %-50s %s\n' "$room" "$count"; fi
  done <<<"$rooms"
fi
if [ "$alert" = 1 ]; then
  echo "synapse-db-report: WARNING: the database grew $(mib "$growth_per_day") per day, above the alert threshold of $alert_mib MiB per day" >&2
  exit 2
fi
