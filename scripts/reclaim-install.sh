#!/usr/bin/env bash
# Installs pg_repack for the PostgreSQL major version that serves Synapse's database (Debian packages
# it per major: postgresql-<major>-repack), so synapse-reclaim can rebuild tables online. Where the
# distribution has no such package for this major, says so and installs nothing: synapse-reclaim
# then reports the tables it could not rebuild, and leaves them as they are.
# Parameters: PG_CLUSTER (the cluster serving it), PACKAGE (the package's name, %s standing for
# the major version).
: "${PG_CLUSTER:?}" "${PACKAGE:?}"
use_cluster "$PG_CLUSTER"
major=$PG_MAJOR
# shellcheck disable=SC2059 # the package name is the format
package=$(printf "$PACKAGE" "$major")
if [ -z "$(packages_missing "$package")" ]; then
  printf 'pg_repack %s for PostgreSQL %s\n' "$(dpkg-query -W -f='${Version}' "$package")" "$major"
  exit 0
fi
apt_refresh
if [ -z "$(apt_candidate "$package")" ]; then
  printf 'pg_repack is not packaged for PostgreSQL %s here (%s): synapse-reclaim reports the tables it cannot rebuild\n' "$major" "$package"
  exit 0
fi
apt_install "$package" >&2
printf 'pg_repack %s for PostgreSQL %s\n' "$(dpkg-query -W -f='${Version}' "$package")" "$major"
