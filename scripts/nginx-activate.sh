#!/usr/bin/env bash
# Puts the staged site SITE live only if `nginx -t` accepts it; otherwise the previous site is
# restored and nginx is not reloaded, so the old config keeps serving.
# Parameters: SITE.
: "${SITE:?}"
staged="$STAGED_DIR/nginx/$SITE.conf"
available=/etc/nginx/sites-available/$SITE.conf
enabled=/etc/nginx/sites-enabled/$SITE.conf
[ -f "$staged" ] || die "staged site $staged is missing"
# Several sites may be activated at once on one host.
exec 9>/run/synapse-deploy-nginx.lock
flock -w 300 9 || die "timed out waiting for another nginx activation"

backup=$(mktemp)
trap 'rm -f "$backup"' EXIT
had_old=0
if [ -f "$available" ]; then cp -p "$available" "$backup"; had_old=1; fi
changed=0
if install_file "$staged" "$available" 0644 root:root; then changed=1; fi
if [ "$(readlink "$enabled" 2>/dev/null)" != "$available" ]; then
  ln -sfn "$available" "$enabled"
  changed=1
fi
if ! out=$(nginx -t 2>&1); then
  if [ "$had_old" = 1 ]; then cp -p "$backup" "$available"; else rm -f "$available" "$enabled"; fi
  die "nginx -t rejected the new site $SITE; the previous config keeps serving:
$out"
fi
if ! systemctl is-active --quiet nginx; then
  systemctl start nginx
  printf 'started\n'
elif [ "$changed" = 1 ] || applied_differs "nginx-$SITE" "$available"; then
  systemctl reload nginx
  printf 'reloaded\n'
else
  printf 'unchanged\n'
fi
mark_applied "nginx-$SITE" "$available"
