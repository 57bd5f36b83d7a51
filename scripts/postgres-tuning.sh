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
had_old=0
if [ -f "$dest" ]; then cp -p "$dest" "$tmp.old"; had_old=1; fi
if install_file "$tmp" "$dest" 0644 postgres:postgres || applied_differs postgres-tuning "$dest"; then
  log "restarting PostgreSQL $version/$cluster for new settings"
  if ! pg_ctlcluster "$version" "$cluster" restart; then
    if [ "$had_old" = 1 ]; then cp -p "$tmp.old" "$dest"; else rm -f "$dest"; fi
    pg_ctlcluster "$version" "$cluster" restart || true
    die "PostgreSQL refused the new settings; the previous ones are back:
$(tail -n 20 "/var/log/postgresql/postgresql-$version-$cluster.log" 2>/dev/null || true)"
  fi
  mark_applied postgres-tuning "$dest"
  printf 'restarted\n'
else
  printf 'unchanged\n'
fi
