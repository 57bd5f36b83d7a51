#!/usr/bin/env bash
# The PostgreSQL cluster ("major/name") the stack's database lives in, resolved once per value of
# postgresVersion (the step is made anew when it changes, and never re-run otherwise:
# components/upgrades.ts), printed on stdout. The cluster serving Synapse is the one on PORT.
# WANTED empty: that cluster, else the distribution's default major (a first install).
# WANTED set: the package sources must offer that major (else the refusal names those they have);
# a move to it from the cluster on PORT must be to a newer major, and the disk must hold both
# clusters, since the old one is kept: checked here, before anything changes.
# Changes nothing.
# Parameters: WANTED (may be empty), PORT, PACKAGE (PostgreSQL's server package, %s the major),
# DEFAULT_PACKAGE (the distribution's, which depends on its default major).
: "${WANTED?}" "${PORT:?}" "${PACKAGE:?}" "${DEFAULT_PACKAGE:?}"
# shellcheck disable=SC2059 # the package name is the format
package_of() { printf "$PACKAGE" "$1"; }
current=$(cluster_on_port "$PORT")
if [ -z "$WANTED" ]; then
  if [ -n "$current" ]; then
    log "PostgreSQL $current serves port $PORT: held there"
    printf '%s\n' "$current"
    exit 0
  fi
  apt_refresh
  default=$(flock -w 900 /run/synapse-deploy-apt.lock apt-cache depends "$DEFAULT_PACKAGE" 2>/dev/null | sed -n "s/^ *Depends: $(package_of '\([0-9][0-9]*\)')\$/\1/p" | head -n 1)
  [ -n "$default" ] || die "the distribution's postgresql package names no major version here"
  log "the distribution's PostgreSQL: $default (held until postgresVersion is set)"
  printf '%s/main\n' "$default"
  exit 0
fi

if [ -n "$(packages_missing "$(package_of "$WANTED")")" ]; then
  apt_refresh
  if [ -z "$(apt_candidate "$(package_of "$WANTED")")" ]; then
    offered=$(flock -w 900 /run/synapse-deploy-apt.lock apt-cache search --names-only "^$(package_of '[0-9]+')\$" | sed -n "s/^$(package_of '\([0-9]*\)') .*/\1/p" | sort -n | paste -sd ' ')
    die "PostgreSQL $WANTED is not available here: the package sources offer ${offered:-no PostgreSQL}. Nothing was changed."
  fi
fi
if [ -z "$current" ]; then
  printf '%s/main\n' "$WANTED"
  exit 0
fi
major=${current%%/*}
if [ "$major" = "$WANTED" ]; then
  printf '%s\n' "$current"
  exit 0
fi
# The new cluster holds what the old one does (less its bloat: a restore writes live rows only),
# plus the WAL the restore may keep meanwhile (up to max_wal_size).
use_cluster "$current"
data=$(runuser -u postgres -- psql -XAtc 'SHOW data_directory')
needed=$(( $(du -sb "$data" | cut -f 1) + $(runuser -u postgres -- psql -XAtc "SELECT pg_size_bytes(current_setting('max_wal_size'))") ))
free=$(df --output=avail -B1 "$(dirname "$(dirname "$data")")" | tail -n 1 | tr -d ' ')
refusal=$(postgres_major_refusal "$major" "$WANTED" "$free" "$needed")
[ -z "$refusal" ] || die "refusing to move the database from PostgreSQL $current to $WANTED: $refusal. Nothing was changed."
log "PostgreSQL $current → $WANTED/$PG_NAME: $((needed / 1048576)) MiB needed, $((free / 1048576)) MiB free"
printf '%s/%s\n' "$WANTED" "$PG_NAME"
