#!/usr/bin/env bash
# Obtains a Let's Encrypt certificate for DOMAINS with certbot (HTTP-01 through the webroot the
# port-80 server block serves) and points SITE's certificate at it. certbot.timer renews it; the
# deploy hook reloads nginx after each renewal.
# Parameters: SITE, DOMAINS (space-separated), EMAIL.
: "${SITE:?}" "${DOMAINS:?}" "${EMAIL:?}"
first=${DOMAINS%% *}
live=/etc/letsencrypt/live/$first
dir=$TLS_ROOT/$SITE
args=()
for d in $DOMAINS; do args+=(-d "$d"); done
hook=/etc/letsencrypt/renewal-hooks/deploy/synapse-deploy-nginx.sh
install -d -m 0755 "$(dirname "$hook")"
printf '#!/bin/sh\nnginx -t && systemctl reload nginx\n' >"$hook"
chmod 0755 "$hook"
certbot certonly --non-interactive --agree-tos --email "$EMAIL" --webroot -w /var/www/acme \
  --cert-name "$first" --keep-until-expiring "${args[@]}"
[ -s "$live/fullchain.pem" ] || die "certbot reported success but $live/fullchain.pem is missing"
if [ "$(readlink "$dir/fullchain.pem" 2>/dev/null)" != "$live/fullchain.pem" ]; then
  ln -sfn "$live/fullchain.pem" "$dir/fullchain.pem"
  ln -sfn "$live/privkey.pem" "$dir/privkey.pem"
  nginx -t && systemctl reload nginx
  printf 'switched %s to the ACME certificate\n' "$SITE"
else
  printf 'ACME certificate for %s in place\n' "$SITE"
fi
