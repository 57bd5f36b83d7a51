#!/usr/bin/env bash
# synapse-monitoring-textfile: what Prometheus cannot scrape from a daemon, written for node
# exporter's textfile collector (every few minutes, by its timer):
#   synapse_tls_certificate_expiry_timestamp_seconds{site,path}  each certificate the program manages
#   synapse_backup_last_success_timestamp_seconds  the last good backup (synapse-backup's status);
#     before the first one, when this tool first saw backups set up (the clock starts there)
#   synapse_backup_max_age_seconds  the age the schedule allows: 1.5 × its interval + its timer's
#     random delay (1 h)
# Config (TOOL_CONF, rendered in): textfile_dir, backup_schedule (empty: no
# backups).
set -euo pipefail
conf=${SYNAPSE_MONITORING_TEXTFILE_CONF:-$TOOL_CONF}
tls_root=${SYNAPSE_DEPLOY_TLS_DIR:-$DEPLOY_CONFIG/tls}
state=${SYNAPSE_DEPLOY_STATE_DIR:-$DEPLOY_STATE}
textfile_dir="" backup_schedule=""
# shellcheck disable=SC1090
. "$conf"
[ -n "$textfile_dir" ] || { echo "synapse-monitoring-textfile: no textfile_dir in $conf" >&2; exit 1; }

out=$(mktemp "$textfile_dir/.synapse.prom.XXXXXX")
trap 'rm -f "$out"' EXIT
{
  echo "# HELP synapse_tls_certificate_expiry_timestamp_seconds When the certificate expires (Unix time)."
  echo "# TYPE synapse_tls_certificate_expiry_timestamp_seconds gauge"
  for cert in "$tls_root"/*/fullchain.pem; do
    [ -s "$cert" ] || continue
    end=$(openssl x509 -noout -enddate -in "$cert" | sed 's/^notAfter=//')
    site=$(basename "$(dirname "$cert")")
    printf 'synapse_tls_certificate_expiry_timestamp_seconds{site="%s",path="%s"} %s\n' "$site" "$cert" "$(date -d "$end" +%s)"
  done
  if [ -n "$backup_schedule" ]; then
    last=""
    if [ -r "$state/backup-status.json" ]; then
      last=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["time"])' "$state/backup-status.json")
    else
      # No good backup yet: the clock starts when this tool first saw backups set up.
      [ -s "$state/backup-watch-since" ] || date +%s >"$state/backup-watch-since"
      last=$(cat "$state/backup-watch-since")
    fi
    # The schedule's interval: between its next two elapses.
    mapfile -t next < <(systemd-analyze calendar --iterations=2 "$backup_schedule" | sed -n 's/^ *\(Next elapse\|Iteration #2\): \(.*\)$/\2/p')
    [ "${#next[@]}" = 2 ] || { echo "synapse-monitoring-textfile: cannot read the schedule '$backup_schedule'" >&2; exit 1; }
    interval=$(($(date -d "${next[1]}" +%s) - $(date -d "${next[0]}" +%s)))
    echo "# HELP synapse_backup_last_success_timestamp_seconds The last good backup (Unix time); before the first, when backups were set up."
    echo "# TYPE synapse_backup_last_success_timestamp_seconds gauge"
    echo "synapse_backup_last_success_timestamp_seconds $last"
    echo "# HELP synapse_backup_max_age_seconds The age of the last good backup the schedule allows."
    echo "# TYPE synapse_backup_max_age_seconds gauge"
    echo "synapse_backup_max_age_seconds $((interval * 3 / 2 + 3600))"
  fi
} >"$out"
chmod 0644 "$out"
mv -f "$out" "$textfile_dir/synapse.prom"
