#!/usr/bin/env bash
# Puts a certificate for SITE at $TLS_ROOT/SITE/{fullchain,privkey}.pem (/etc/synapse-deploy/tls).
#  self-signed: made once, kept (the test client trusts it);
#  provided:    stdin holds the private key then the certificate chain (PEM);
#  acme:        a self-signed placeholder until certbot's certificate replaces it (acme-issue.sh).
# Parameters: SITE, MODE, NAMES (space-separated DNS names, the first is the subject).
: "${SITE:?}" "${MODE:?}" "${NAMES:?}"
dir=$TLS_ROOT/$SITE
install -d -m 0755 "$TLS_ROOT"
install -d -m 0750 "$dir"

self_signed() {
  local san="" n
  for n in $NAMES; do san="${san:+$san,}DNS:$n"; done
  openssl req -x509 -newkey rsa:2048 -sha256 -days 3650 -nodes -subj "/CN=${NAMES%% *}" \
    -addext "subjectAltName=$san" -addext "basicConstraints=critical,CA:TRUE" \
    -keyout "$dir/privkey.pem.new" -out "$dir/fullchain.pem.new" 2>/dev/null
  chmod 0600 "$dir/privkey.pem.new"
  mv -f "$dir/privkey.pem.new" "$dir/privkey.pem"
  mv -f "$dir/fullchain.pem.new" "$dir/fullchain.pem"
}

case "$MODE" in
  self-signed | acme)
    if [ -s "$dir/fullchain.pem" ] && [ -s "$dir/privkey.pem" ]; then
      printf 'kept existing certificate for %s\n' "$SITE"
    else
      self_signed
      printf 'made a self-signed certificate for %s\n' "$NAMES"
    fi
    ;;
  provided)
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    cat >"$tmp/all.pem"
    awk '/-----BEGIN .*PRIVATE KEY-----/,/-----END .*PRIVATE KEY-----/' "$tmp/all.pem" >"$tmp/key.pem"
    awk '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/' "$tmp/all.pem" >"$tmp/cert.pem"
    if [ ! -s "$tmp/key.pem" ] || [ ! -s "$tmp/cert.pem" ]; then
      die "stdin did not hold a private key and a certificate"
    fi
    [ "$(openssl x509 -noout -pubkey -in "$tmp/cert.pem" | sha256sum)" = "$(openssl pkey -pubout -in "$tmp/key.pem" | sha256sum)" ] \
      || die "the provided certificate does not match the provided private key"
    install_file "$tmp/key.pem" "$dir/privkey.pem" 0600 root:root || true
    install_file "$tmp/cert.pem" "$dir/fullchain.pem" 0644 root:root || true
    printf 'installed the provided certificate for %s\n' "$SITE"
    ;;
  *) die "unknown TLS mode '$MODE'" ;;
esac
