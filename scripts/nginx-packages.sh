#!/usr/bin/env bash
# Installs nginx (and certbot when ACME is used) from the distribution.
# Parameters: ACME (true|false).
: "${ACME:?}"
pkgs=(nginx openssl ssl-cert)
[ "$ACME" = true ] && pkgs+=(certbot)
ensure_packages "${pkgs[@]}"
install -d -m 0755 /var/www/acme
systemctl enable --quiet nginx
systemctl is-active --quiet nginx || systemctl start nginx
if [ "$ACME" = true ]; then systemctl enable --quiet --now certbot.timer; fi
nginx -v 2>&1
