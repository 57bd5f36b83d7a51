#!/usr/bin/env bash
# Runs when the site leaves the program (`pulumi destroy`, or a stack that no longer needs it):
# takes SITE out of nginx and reloads it. Its certificate stays: it holds no user data, and a
# later deployment of the same names reuses it instead of asking the CA again.
# Parameters: SITE.
: "${SITE:?}"
available=/etc/nginx/sites-available/$SITE.conf
enabled=/etc/nginx/sites-enabled/$SITE.conf
if [ ! -e "$available" ] && [ ! -L "$enabled" ]; then
  printf 'site %s was not installed\n' "$SITE"
  exit 0
fi
exec 9>/run/synapse-deploy-nginx.lock
flock -w 300 9 || die "timed out waiting for another nginx activation"

backup=$(mktemp)
trap 'rm -f "$backup"' EXIT
[ ! -f "$available" ] || cp -p "$available" "$backup"
rm -f "$enabled" "$available" "$STAGED_DIR/nginx/$SITE.conf" "$STATE_DIR/applied/nginx-$SITE"
if command -v nginx >/dev/null && systemctl is-active --quiet nginx; then
  if ! out=$(nginx -t 2>&1); then
    # Another site still refers to something of this one: put it back, change nothing.
    [ ! -s "$backup" ] || { cp -p "$backup" "$available"; ln -sfn "$available" "$enabled"; }
    die "nginx -t fails without the site $SITE, so it was left in place:
$out"
  fi
  systemctl reload nginx
fi
log "removed the nginx site $SITE"
printf 'removed site %s\n' "$SITE"
