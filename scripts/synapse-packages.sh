#!/usr/bin/env bash
# Installs Synapse from the matrix.org repository or from the distribution, answering the
# package's debconf questions, without letting the package start Synapse on its default config.
# On a first apply the host's packages step (host-packages) has installed it already: then this
# only keeps report_stats in line.
# Parameters: SOURCE (matrix-org|debian), SERVER_NAME, REPORT_STATS (true|false), PACKAGES (what
# its steps use), SYNAPSE_PACKAGES (Synapse's package first), REPOSITORY_PACKAGES (what fetches
# matrix.org's key).
: "${SOURCE:?}" "${SERVER_NAME:?}" "${REPORT_STATS:?}" "${PACKAGES:?}" "${SYNAPSE_PACKAGES:?}" "${REPOSITORY_PACKAGES?}"

# shellcheck disable=SC2086 # one package name per word
ensure_packages $PACKAGES
read -r -a wanted <<<"$SYNAPSE_PACKAGES"
package=${wanted[0]}
synapse_package_prepare "$SOURCE" "$SERVER_NAME" "$REPORT_STATS" "$package" "$REPOSITORY_PACKAGES"
missing=$(packages_missing "${wanted[@]}")
if [ -n "$missing" ]; then
  apt_refresh
  # shellcheck disable=SC2086
  apt_install_services_down $missing
  log "installed: $(echo "$missing" | tr '\n' ' ')"
else
  log "packages already installed"
fi
# Debian's package writes report_stats from debconf into conf.d, where it overrides
# homeserver.yaml: keep that file in line with the stack.
stats_file=$SYNAPSE_ETC/conf.d/report_stats.yaml
if [ -f "$stats_file" ] && [ "$(cat "$stats_file")" != "report_stats: $REPORT_STATS" ]; then
  printf 'report_stats: %s\n' "$REPORT_STATS" >"$stats_file"
fi
# It writes the server name it was installed with there too. A package installed earlier with
# another name, on a host without Synapse data (the guard refuses any other), would override the
# stack's name: that stale answer is replaced.
name_file=$SYNAPSE_ETC/conf.d/server_name.yaml
if [ -f "$name_file" ] && [ "$(cat "$name_file")" != "server_name: $SERVER_NAME" ]; then
  guard_server_name "$SERVER_NAME"
  printf 'server_name: %s\n' "$SERVER_NAME" >"$name_file"
  log "replaced the package's server name answer in $name_file (no data on this host)"
fi
install -d -m 0755 "$STATE_DIR"
dpkg-query -W -f='${Package} ${Version}\n' "$package"
