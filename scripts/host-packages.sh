#!/usr/bin/env bash
# The first step on a host: every Debian package the program's components install there, in one
# apt transaction (each transaction pays apt's start and dpkg's triggers again; six of them made
# a first apply 1.75 times an apt-get install of the same packages). The components' own steps
# then find their packages installed. Synapse's package never starts on its default config.
# A package whose name holds %s is per PostgreSQL major version (PostgreSQL's own, pg_repack's):
# %s is PG_MAJOR, the major the stack holds; a per-major package the distribution lacks (pg_repack
# for some majors) is left out, said so. Synapse's package, when it is missing, is installed at
# the release the stack holds, and pinned there; an installed one is left to the upgrade gate.
# Parameters: PACKAGES (space-separated); PG_MAJOR with a per-major package; on a host that runs
# Synapse also SOURCE, SERVER_NAME, REPORT_STATS, SYNAPSE_VERSION, SYNAPSE_PACKAGES (Synapse's
# package first; none for pypi), SOURCE_PACKAGES and REPOSITORY_PACKAGES (what fetches
# matrix.org's key), and the host is checked first (Debian/Ubuntu, no other server name).
: "${PACKAGES:?}"
read -r -a listed <<<"$PACKAGES"
packages=()
per_major=()
for p in "${listed[@]}"; do
  case $p in *%s*) per_major+=("$p") ;; *) packages+=("$p") ;; esac
done
synapse_package=""
if [ -n "${SOURCE:-}" ]; then
  : "${SERVER_NAME:?}" "${REPORT_STATS:?}" "${SYNAPSE_VERSION:?}"
  preflight_host
  guard_server_name "$SERVER_NAME"
  read -r -a synapse_packages <<<"${SYNAPSE_PACKAGES?}"
  # None for pypi: SynapseHost builds its virtualenv.
  if [ "${#synapse_packages[@]}" -gt 0 ]; then
    synapse_package=${synapse_packages[0]}
    synapse_package_prepare "$SOURCE" "$SERVER_NAME" "$REPORT_STATS" "$synapse_package" "${REPOSITORY_PACKAGES?}"
    packages+=("${synapse_packages[@]}")
  fi
fi
for p in "${per_major[@]+"${per_major[@]}"}"; do
  : "${PG_MAJOR:?}"
  # shellcheck disable=SC2059 # the package name is the format
  name=$(printf "$p" "$PG_MAJOR")
  if [ -n "$(packages_missing "$name")" ] && { apt_refresh; [ -z "$(apt_candidate "$name")" ]; }; then
    log "no package $name for PostgreSQL $PG_MAJOR here: left out"
    continue
  fi
  packages+=("$name")
done
missing=$(packages_missing "${packages[@]}")
if [ -z "$missing" ]; then
  printf 'packages: all %s installed\n' "${#packages[@]}"
  exit 0
fi
apt_refresh
args=()
while read -r p; do
  if [ -n "$synapse_package" ] && [ "$p" = "$synapse_package" ]; then
    version=$(apt_version_of "$p" "$SYNAPSE_VERSION")
    [ -n "$version" ] || die "$p has no version $SYNAPSE_VERSION here (it offers: $(available_synapse_versions "$SOURCE" | paste -sd ' '))"
    synapse_apt_pin "$p" "$version"
    args+=("$p=$version")
  else
    args+=("$p")
  fi
done <<<"$missing"
apt_install_services_down "${args[@]}" >&2
printf 'packages: %s installed in one transaction\n' "${#args[@]}"
