#!/usr/bin/env bash
# Puts Synapse VERSION in place: the matrix.org or Debian package at that release, pinned (apt
# never moves it on its own), answering the package's debconf questions and never letting it
# start Synapse on its default config; or, from PyPI, the virtualenv of that release built from
# its lock (stdin) and $SYNAPSE_VENV pointed at it, with the service user, the
# directories and the systemd unit (staged as UNIT) the packages would have made.
# On a first apply the host's packages step (host-packages) has installed the package already.
# A release that replaces another is put in place only while Synapse is stopped: the upgrade
# gate (synapse-upgrade-gate) stopped it after the backup; the activation then starts it.
# Every source gets the drop-in that lets a start (a schema migration) take its time.
# Parameters: SOURCE (matrix-org|debian|pypi), SERVER_NAME, REPORT_STATS (true|false), VERSION,
# START_DROPIN (the staged drop-in), PACKAGES (what its steps use), SYNAPSE_PACKAGES (Synapse's
# package first; none for pypi), SOURCE_PACKAGES, REPOSITORY_PACKAGES (what fetches matrix.org's
# key), WORKER_UNIT (the workers' template unit); UNIT (pypi: the staged unit file); stdin: the
# lock (pypi), else nothing. UNITS_SHA256 only makes the step run again for new unit files.
: "${SOURCE:?}" "${SERVER_NAME:?}" "${REPORT_STATS:?}" "${VERSION:?}" "${START_DROPIN:?}" "${PACKAGES:?}" "${SYNAPSE_PACKAGES?}" "${REPOSITORY_PACKAGES?}" "${WORKER_UNIT:?}"
lock=$(mktemp)
trap 'rm -f "$lock"' EXIT
cat >"$lock"
# shellcheck disable=SC2086 # one package name per word
ensure_packages $PACKAGES
installed=$(installed_synapse_version "$SOURCE")
if [ -n "$installed" ] && [ "$installed" != "$VERSION" ]; then
  if systemctl is-active --quiet matrix-synapse || [ -n "$(systemctl list-units --plain --no-legend --state=active "${WORKER_UNIT/@./@*.}")" ]; then
    die "Synapse $installed is running: it is replaced by $VERSION only once the upgrade gate has backed it up and stopped it"
  fi
  log "replacing Synapse $installed with $VERSION"
fi

if [ "$SOURCE" = pypi ]; then
  : "${UNIT:?}"
  [ -s "$lock" ] || die "no lock of Synapse $VERSION on stdin"
  id matrix-synapse >/dev/null 2>&1 \
    || useradd --system --user-group --home-dir "$SYNAPSE_DATA" --no-create-home --shell /usr/sbin/nologin matrix-synapse
  install -d -m 0755 "$SYNAPSE_ETC" "$SYNAPSE_ETC/conf.d"
  install -d -m 0750 -o matrix-synapse -g matrix-synapse "$SYNAPSE_DATA"
  synapse_venv_build "$VERSION" "$lock"
  [ "$installed" = "$VERSION" ] || synapse_venv_switch "$VERSION"
  if install_file "$UNIT" /etc/systemd/system/matrix-synapse.service 0644 root:root; then reload=1; fi
else
  read -r -a wanted <<<"$SYNAPSE_PACKAGES"
  package=${wanted[0]}
  synapse_package_prepare "$SOURCE" "$SERVER_NAME" "$REPORT_STATS" "$package" "$REPOSITORY_PACKAGES"
  apt_refresh
  version=$(apt_version_of "$package" "$VERSION")
  [ -n "$version" ] || [ "$installed" = "$VERSION" ] || die "$package has no version $VERSION here"
  [ -z "$version" ] || synapse_apt_pin "$package" "$version"
  to_install=$(packages_missing "${wanted[@]}")
  [ "$installed" = "$VERSION" ] || to_install=$(printf '%s\n%s\n' "$to_install" "$package" | sed '/^$/d' | sort -u)
  if [ -n "$to_install" ]; then
    args=()
    while read -r p; do if [ "$p" = "$package" ]; then args+=("$p=$version"); else args+=("$p"); fi; done <<<"$to_install"
    apt_install_synapse_down --allow-downgrades "${args[@]}"
    log "installed: $(tr '\n' ' ' <<<"$to_install")($package $version)"
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
fi
if install_file "$START_DROPIN" /etc/systemd/system/matrix-synapse.service.d/synapse-deploy-start.conf 0644 root:root; then reload=1; fi
[ -z "${reload:-}" ] || systemctl daemon-reload
install -d -m 0755 "$STATE_DIR"
now=$(installed_synapse_version "$SOURCE")
[ "$now" = "$VERSION" ] || die "Synapse $VERSION was not installed (the host has ${now:-none})"
printf 'Synapse %s (%s)\n' "$now" "$SOURCE"
