#!/usr/bin/env bash
# Installs the memory settings (stdin) as a conf.d drop-in of the cluster PG_CLUSTER; restarts
# it only when they changed, and puts the old file back if PostgreSQL refuses them.
# Parameters: PG_CLUSTER, DROPIN (file name).
: "${PG_CLUSTER:?}" "${DROPIN:?}"
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.old"' EXIT
cat >"$tmp"
use_cluster "$PG_CLUSTER"
version=$PG_MAJOR cluster=$PG_NAME
dest=/etc/postgresql/$version/$cluster/conf.d/$DROPIN
old=""
if [ -f "$dest" ]; then cp -p "$dest" "$tmp.old"; old=$tmp.old; fi
if install_file "$tmp" "$dest" 0644 postgres:postgres || applied_differs postgres-tuning "$dest"; then
  log "restarting PostgreSQL $version/$cluster for new settings"
  pg_restart_with_fallback "$version" "$cluster" "$dest" "$old"
  mark_applied postgres-tuning "$dest"
  printf 'restarted\n'
else
  printf 'unchanged\n'
fi
