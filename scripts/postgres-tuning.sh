#!/usr/bin/env bash
# Installs the memory settings (stdin) as a conf.d drop-in of the running cluster; restarts
# PostgreSQL only when they changed, and puts the old file back if PostgreSQL refuses them.
# Parameters: DROPIN (file name).
: "${DROPIN:?}"
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.old"' EXIT
cat >"$tmp"
read -r version cluster _ < <(pg_lsclusters --no-header | head -n 1)
[ -n "${cluster:-}" ] || die "no PostgreSQL cluster found (pg_lsclusters)"
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
