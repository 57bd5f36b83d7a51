#!/usr/bin/env bash
# Installs PostgreSQL from the distribution and makes sure its cluster runs.
# Parameters: PACKAGES (space-separated).
: "${PACKAGES:?}"
# shellcheck disable=SC2086 # one package name per word
ensure_packages $PACKAGES
systemctl enable --quiet postgresql
systemctl start postgresql
for _ in $(seq 1 60); do
  runuser -u postgres -- pg_isready -q && break
  sleep 1
done
runuser -u postgres -- pg_isready -q || die "PostgreSQL does not accept connections"
runuser -u postgres -- psql -XAtc 'SHOW server_version'
