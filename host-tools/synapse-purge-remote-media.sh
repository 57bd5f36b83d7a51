#!/usr/bin/env bash
# synapse-purge-remote-media: deletes media cached from other servers that nobody here has
# accessed for the keep period (mediaRetentionRemote), through Synapse's admin API
# (purge_media_cache), and logs how many files went. A later request fetches them again from
# their server. Installed on the Synapse VPS by the synapse Pulumi program and run by
# synapse-purge-remote-media.timer (daily by default); Synapse's own media retention job does the
# same hourly, this one runs on a schedule you can see and start (systemctl start).
# Config (/etc/synapse-deploy/purge-remote-media.conf): keep_seconds. Exits 1 if the purge failed.
set -euo pipefail
conf=${SYNAPSE_PURGE_REMOTE_MEDIA_CONF:-$TOOL_CONF}
token_file=${SYNAPSE_ADMIN_TOKEN_FILE:-$ADMIN_TOKEN}
base=${SYNAPSE_ADMIN_BASE:-$SYNAPSE_URL/_synapse/admin/v1}
# shellcheck disable=SC1090
. "$conf"
: "${keep_seconds:?}"
[ -r "$token_file" ] || { echo "synapse-purge-remote-media: $token_file is missing" >&2; exit 1; }
auth=$(mktemp)
trap 'rm -f "$auth"' EXIT
chmod 0600 "$auth"
# The token goes to curl in a header file, never on its command line.
printf 'Authorization: Bearer %s\n' "$(cat "$token_file")" >"$auth"

before=$(($(date +%s) - keep_seconds))
response=$(curl -sS -H @"$auth" -X POST -H 'Content-Type: application/json' -d '{}' -w '\n%{http_code}' \
  "$base/purge_media_cache?before_ts=$((before * 1000))" 2>&1 || true)
code=${response##*$'\n'}
body=${response%$'\n'*}
if [ "$code" != 200 ]; then
  echo "synapse-purge-remote-media: the purge failed (HTTP $code): $body" >&2
  exit 1
fi
deleted=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["deleted"])' <<<"$body")
echo "synapse-purge-remote-media: deleted $deleted cached remote media files last accessed before $(date -u -d "@$before" '+%Y-%m-%d %H:%M:%S UTC')"
