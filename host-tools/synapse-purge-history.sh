#!/usr/bin/env bash
# synapse-purge-history: purges the history of the rooms listed in its config that is older than
# each room's keep period, through Synapse's admin API (purge_history), polling each purge to its
# end and logging the result. Installed on the Synapse VPS by the synapse Pulumi program and run
# by synapse-purge-history.timer. Local users' events are purged too (delete_local_events): the
# point is a smaller database. Synapse keeps each room's latest event, so the room stays usable.
# Config (/etc/synapse-deploy/purge-history.conf): one `room_id seconds` per line.
# Exits 1 if any purge failed.
set -euo pipefail
conf=${SYNAPSE_PURGE_CONF:-$TOOL_CONF}
token_file=$ADMIN_TOKEN
base=$SYNAPSE_URL/_synapse/admin/v1
[ -r "$token_file" ] || { echo "synapse-purge-history: $token_file is missing" >&2; exit 1; }
auth=$(mktemp)
trap 'rm -f "$auth"' EXIT
chmod 0600 "$auth"
# The token goes to curl in a header file, never on its command line.
printf 'Authorization: Bearer %s\n' "$(cat "$token_file")" >"$auth"
api() { curl -fsS -H @"$auth" "$@"; }
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"; }

failed=0
while read -r room keep_seconds <&3; do
  case "$room" in "" | "#"*) continue ;; esac
  before_ms=$((($(date +%s) - keep_seconds) * 1000))
  encoded=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$room")
  response=$(curl -sS -H @"$auth" -X POST -H 'Content-Type: application/json' -w '\n%{http_code}' \
    -d "{\"delete_local_events\": true, \"purge_up_to_ts\": $before_ms}" "$base/purge_history/$encoded" 2>&1 || true)
  code=${response##*$'\n'}
  started=${response%$'\n'*}
  if [ "$code" = 404 ] && grep -q 'no event to be purged' <<<"$started"; then
    echo "synapse-purge-history: $room: nothing older than the keep period"
    continue
  fi
  if [ "$code" != 200 ]; then
    echo "synapse-purge-history: $room: the purge did not start (HTTP $code): $started" >&2
    failed=1
    continue
  fi
  purge_id=$(json_field purge_id <<<"$started")
  status=active
  for _ in $(seq 1 720); do
    status=$(api "$base/purge_history_status/$purge_id" | json_field status)
    [ "$status" = active ] || break
    sleep 5
  done
  echo "synapse-purge-history: $room: history before $(date -u -d "@$((before_ms / 1000))" '+%Y-%m-%d %H:%M:%S') UTC: $status (purge $purge_id)"
  [ "$status" = complete ] || failed=1
done 3<"$conf"
exit "$failed"
