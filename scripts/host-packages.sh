#!/usr/bin/env bash
# The first step on a host: every Debian package the program's components install there, in one
# apt transaction (each transaction pays apt's start and dpkg's triggers again; six of them made
# a first apply 1.75 times an apt-get install of the same packages). The components' own steps
# then find their packages installed. Synapse's package never starts on its default config.
# Parameters: PACKAGES (space-separated); on a host that runs Synapse also SOURCE, SERVER_NAME
# and REPORT_STATS, and the host is checked first (Debian/Ubuntu, no other server name).
: "${PACKAGES:?}"
read -r -a packages <<<"$PACKAGES"
if [ -n "${SOURCE:-}" ]; then
  : "${SERVER_NAME:?}" "${REPORT_STATS:?}"
  preflight_host
  guard_server_name "$SERVER_NAME"
  # Not a process substitution: its failure would not stop this script.
  prepared=$(synapse_package_prepare "$SOURCE" "$SERVER_NAME" "$REPORT_STATS")
  mapfile -t -O "${#packages[@]}" packages <<<"$prepared"
fi
missing=$(packages_missing "${packages[@]}")
if [ -z "$missing" ]; then
  printf 'packages: all %s installed\n' "${#packages[@]}"
  exit 0
fi
apt_refresh
# shellcheck disable=SC2086 # one package name per word
apt_install_synapse_down $missing >&2
printf 'packages: %s installed in one transaction\n' "$(echo "$missing" | wc -l)"
