#!/usr/bin/env bash
# Obtains a certificate for DOMAINS from the ACME server SERVER with certbot (HTTP-01 through the
# webroot the port-80 server block serves) and points SITE's certificate at it. certbot.timer
# renews it; the deploy hook reloads nginx after each renewal (a reload: no connection dropped).
# stdin: PEM certificate(s) certbot trusts for SERVER's own HTTPS (a private ACME server), or
# nothing for the system's CAs; renewals by certbot.timer get the same through a drop-in.
# Parameters: SITE, DOMAINS (space-separated), EMAIL, SERVER (the ACME directory URL).
: "${SITE:?}" "${DOMAINS:?}" "${EMAIL:?}" "${SERVER:?}"
first=${DOMAINS%% *}
live=/etc/letsencrypt/live/$first
dir=$TLS_ROOT/$SITE
args=()
for d in $DOMAINS; do args+=(-d "$d"); done

hook=/etc/letsencrypt/renewal-hooks/deploy/synapse-deploy-nginx.sh
install -d -m 0755 "$(dirname "$hook")"
printf '#!/bin/sh\nnginx -t && systemctl reload nginx\n' >"$hook"
chmod 0755 "$hook"

ca=$DEPLOY_ETC/acme-ca.pem
dropin=/etc/systemd/system/certbot.service.d/synapse-deploy-acme-ca.conf
bundle=$(mktemp)
trap 'rm -f "$bundle"' EXIT
cat >"$bundle"
if [ -s "$bundle" ]; then
  install -d -m 0755 "$(dirname "$ca")" "$(dirname "$dropin")"
  install_file "$bundle" "$ca" 0644 root:root || true
  printf '# Managed by the synapse Pulumi program: certbot trusts the private ACME server.\n[Service]\nEnvironment=REQUESTS_CA_BUNDLE=%s\n' "$ca" >"$bundle"
  if install_file "$bundle" "$dropin" 0644 root:root; then systemctl daemon-reload; fi
  export REQUESTS_CA_BUNDLE=$ca
elif [ -e "$dropin" ] || [ -e "$ca" ]; then
  rm -f "$dropin" "$ca"
  systemctl daemon-reload
fi

# Another ACME server than the lineage's (say, staging to production): get a new certificate now.
renewal=/etc/letsencrypt/renewal/$first.conf
switch=()
if [ -f "$renewal" ] && ! grep -qxF "server = $SERVER" "$renewal"; then
  log "the certificate for $first came from another ACME server: replacing it"
  switch=(--force-renewal --break-my-certs)
fi
# One certbot at a time on a host: the sites' steps run in parallel, and certbot refuses to run
# beside another instance.
flock -w 600 /run/synapse-deploy-certbot.lock \
  certbot certonly --non-interactive --agree-tos --email "$EMAIL" --server "$SERVER" --webroot -w /var/www/acme \
  --cert-name "$first" --keep-until-expiring "${switch[@]}" "${args[@]}"
[ -s "$live/fullchain.pem" ] || die "certbot reported success but $live/fullchain.pem is missing"
if [ "$(readlink "$dir/fullchain.pem" 2>/dev/null)" != "$live/fullchain.pem" ]; then
  ln -sfn "$live/fullchain.pem" "$dir/fullchain.pem"
  ln -sfn "$live/privkey.pem" "$dir/privkey.pem"
  nginx -t && systemctl reload nginx
  printf 'switched %s to the ACME certificate\n' "$SITE"
else
  # A renewal (or a new server) replaced the lineage's files: nginx serves them after a reload.
  [ "${#switch[@]}" = 0 ] || { nginx -t && systemctl reload nginx; }
  printf 'ACME certificate for %s in place\n' "$SITE"
fi
