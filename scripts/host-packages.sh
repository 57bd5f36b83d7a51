#!/usr/bin/env bash
# The first step on a host: every Debian package the program's components install there, in one
# apt transaction (each transaction pays apt's start and dpkg's triggers again; six of them made
# a first apply 1.75 times an apt-get install of the same packages). The components' own steps
# then find their packages installed. Synapse's package never starts on its default config.
# A package whose name holds %s is per PostgreSQL major version (pg_repack's): %s is the major of
# the PostgreSQL the host runs, or else the one the package MAJOR_FROM (Debian's postgresql)
# installs; it is left out, said so, when the distribution has no such package.
# Parameters: PACKAGES (space-separated); on a host that runs Synapse also SOURCE, SERVER_NAME,
# REPORT_STATS, SYNAPSE_PACKAGES (Synapse's package first) and REPOSITORY_PACKAGES (what fetches
# matrix.org's key), and the host is checked first (Debian/Ubuntu, no other server name).
: "${PACKAGES:?}"
read -r -a listed <<<"$PACKAGES"
packages=()
per_major=()
for p in "${listed[@]}"; do
  case $p in *%s*) per_major+=("$p") ;; *) packages+=("$p") ;; esac
done
if [ -n "${SOURCE:-}" ]; then
  : "${SERVER_NAME:?}" "${REPORT_STATS:?}"
  preflight_host
  guard_server_name "$SERVER_NAME"
  read -r -a synapse_packages <<<"${SYNAPSE_PACKAGES:?}"
  synapse_package_prepare "$SOURCE" "$SERVER_NAME" "$REPORT_STATS" "${synapse_packages[0]}" "${REPOSITORY_PACKAGES?}"
  packages+=("${synapse_packages[@]}")
fi
if [ "${#per_major[@]}" -gt 0 ]; then
  major=$(pg_lsclusters -h 2>/dev/null | awk '{ print $1 }' | sort -n | tail -n 1 || true)
  if [ -z "$major" ]; then
    apt_refresh
    major=$(flock -w 900 /run/synapse-deploy-apt.lock apt-cache depends "${MAJOR_FROM:?}" 2>/dev/null | sed -n 's/^ *Depends: postgresql-\([0-9][0-9]*\)$/\1/p' | head -n 1)
  fi
  for p in "${per_major[@]}"; do
    # shellcheck disable=SC2059 # the package name is the format
    name=$(printf "$p" "${major:-unknown}")
    if [ -n "$(packages_missing "$name")" ] && { apt_refresh; [ -z "$(apt_candidate "$name")" ]; }; then
      log "no package $name for PostgreSQL ${major:-unknown} here: left out"
      continue
    fi
    packages+=("$name")
  done
fi
missing=$(packages_missing "${packages[@]}")
if [ -z "$missing" ]; then
  printf 'packages: all %s installed\n' "${#packages[@]}"
  exit 0
fi
apt_refresh
# shellcheck disable=SC2086 # one package name per word
apt_install_services_down $missing >&2
printf 'packages: %s installed in one transaction\n' "$(echo "$missing" | wc -l)"
