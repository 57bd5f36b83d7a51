#!/usr/bin/env bash
# Installs nginx (and certbot when ACME is used) from the distribution.
# Parameters: ACME (true|false), PACKAGES (space-separated: nginx's, and certbot's with ACME).
: "${ACME:?}" "${PACKAGES:?}"
# shellcheck disable=SC2086 # one package name per word
ensure_packages $PACKAGES
install -d -m 0755 /var/www/acme
systemctl enable --quiet nginx
systemctl is-active --quiet nginx || systemctl start nginx
if [ "$ACME" = true ]; then systemctl enable --quiet --now certbot.timer; fi
nginx -v 2>&1
