#!/usr/bin/env bash
# synapse-status: the homeserver's health in one JSON object, for `npm run admin -- status`: each
# Synapse process as Prometheus last scraped it, the services the homeserver needs (systemd, via
# node exporter), the alerts firing in Alertmanager, the database's size and its growth over the
# last day, each certificate's expiry, and the last good backup (synapse-backup). A part whose
# source does not answer is null (Prometheus down says so itself: "up" is null).
# Config (TOOL_CONF, rendered in): prometheus, alertmanager (their URLs), database.
set -euo pipefail
conf=${SYNAPSE_STATUS_CONF:-$TOOL_CONF}
prometheus="" alertmanager="" database=""
# shellcheck disable=SC1090
. "$conf"
query() {
  curl -fsS --max-time 10 -G "$prometheus/api/v1/query" --data-urlencode "query=$1" 2>/dev/null || printf null
}
printf '{"up":%s' "$(query 'up{job="synapse"}')"
printf ',"services":%s' "$(query 'node_systemd_unit_state{state="active"}')"
printf ',"alerts":%s' "$(curl -fsS --max-time 10 "$alertmanager/api/v2/alerts?active=true&silenced=false&inhibited=false" 2>/dev/null || printf null)"
printf ',"databaseBytes":%s' "$(query "pg_database_size_bytes{datname=\"$database\"}")"
printf ',"growthBytesPerDay":%s' "$(query "deriv(pg_database_size_bytes{datname=\"$database\"}[1d]) * 86400")"
printf ',"certificates":%s' "$(query 'synapse_tls_certificate_expiry_timestamp_seconds')"
printf ',"backup":%s}\n' "$(synapse-backup --status --json 2>/dev/null || printf null)"
