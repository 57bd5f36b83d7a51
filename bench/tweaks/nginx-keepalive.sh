#!/usr/bin/env bash
# Tweak: nginx keeps its connections to Synapse open between requests (the site's upstream has
# `keepalive 16`, which takes effect only when the Connection header is cleared).
set -euo pipefail
site=/etc/nginx/sites-enabled/matrix.conf
grep -q 'proxy_set_header Connection ""' "$site" || sed -i 's/^\( *\)proxy_http_version 1.1;/&\n\1proxy_set_header Connection "";/' "$site"
nginx -t -q
