#!/usr/bin/env bash
# synapse-purge-empty-rooms: deletes from the database the rooms no local user is in any more
# (no local member joined, invited or knocking) and in which nothing happened for keep_seconds.
# Synapse keeps such rooms forever unless each local member also forgot them; they are state,
# events and media references nobody here can see. Through the admin API (DELETE
# /_synapse/admin/v2/rooms, purge), polled to its end; the room itself lives on at other servers
# and a local user can join it again. Installed on the Synapse VPS by the synapse Pulumi program,
# run by synapse-purge-empty-rooms.timer. Exits 1 if a deletion failed.
# Config (/etc/synapse-deploy/purge-empty-rooms.conf): keep_seconds.
set -euo pipefail
conf=${SYNAPSE_PURGE_EMPTY_CONF:-$TOOL_CONF}
# shellcheck disable=SC1090
. "$conf"
: "${keep_seconds:?}"
# Overridable only so the unit tests can run it against a stand-in Synapse and database.
token_file=${SYNAPSE_ADMIN_TOKEN_FILE:-$ADMIN_TOKEN}
base=${SYNAPSE_ADMIN_BASE:-$SYNAPSE_URL/_synapse/admin}/v2
passfile=${SYNAPSE_PASSFILE:-$SYNAPSE_ETC/pgpass}
[ -r "$token_file" ] || { echo "synapse-purge-empty-rooms: $token_file is missing" >&2; exit 1; }
IFS=: read -r host port db user _ <"$passfile"
auth=$(mktemp)
trap 'rm -f "$auth"' EXIT
chmod 0600 "$auth"
# The token goes to curl in a header file, never on its command line.
printf 'Authorization: Bearer %s\n' "$(cat "$token_file")" >"$auth"
cutoff_ms=$((($(date +%s) - keep_seconds) * 1000))

# Rooms with no local membership that still counts (local_current_membership holds local users
# only), whose latest event is older than the cutoff.
rooms=$(PGPASSFILE=$passfile psql -X -qAt -h "$host" -p "$port" -U "$user" -d "$db" -v cutoff="$cutoff_ms" <<'SQL'
SELECT r.room_id FROM rooms r
WHERE NOT EXISTS (SELECT 1 FROM local_current_membership m WHERE m.room_id = r.room_id AND m.membership IN ('join', 'invite', 'knock'))
  AND coalesce((SELECT max(e.origin_server_ts) FROM events e WHERE e.room_id = r.room_id), 0) < :cutoff
ORDER BY r.room_id;
SQL
)
failed=0
count=0
for room in $rooms; do
  encoded=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$room")
  if ! started=$(curl -fsS -H @"$auth" -X DELETE -H 'Content-Type: application/json' -d '{"purge": true, "block": false}' "$base/rooms/$encoded"); then
    echo "synapse-purge-empty-rooms: $room: the deletion did not start" >&2
    failed=1
    continue
  fi
  delete_id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["delete_id"])' <<<"$started")
  status=scheduled
  for _ in $(seq 1 720); do
    status=$(curl -fsS -H @"$auth" "$base/rooms/delete_status/$delete_id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
    case $status in complete | failed) break ;; esac
    sleep 2
  done
  echo "synapse-purge-empty-rooms: $room: $status"
  if [ "$status" = complete ]; then count=$((count + 1)); else failed=1; fi
done
echo "synapse-purge-empty-rooms: $count room(s) without local members deleted"
exit "$failed"
