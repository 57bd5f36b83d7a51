#!/usr/bin/env bash
# Installs Synapse from the matrix.org repository or from the distribution, answering the
# package's debconf questions, without letting the package start Synapse on its default config.
# Parameters: SOURCE (matrix-org|debian), SERVER_NAME, REPORT_STATS (true|false).
: "${SOURCE:?}" "${SERVER_NAME:?}" "${REPORT_STATS:?}"
case "$SOURCE" in
  matrix-org) package=matrix-synapse-py3 ;;
  debian) package=matrix-synapse ;;
  *) die "unknown package source '$SOURCE'" ;;
esac

ensure_packages ca-certificates curl debconf-utils sqlite3 python3

if [ "$SOURCE" = matrix-org ]; then
  keyring=/usr/share/keyrings/matrix-org-archive-keyring.gpg
  # shellcheck disable=SC1091
  codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
  [ -n "$codename" ] || die "cannot tell the distribution's codename from /etc/os-release"
  if [ ! -s "$keyring" ]; then
    curl -fsSL --retry 3 -o "$keyring.tmp" https://packages.matrix.org/debian/matrix-org-archive-keyring.gpg
    mv "$keyring.tmp" "$keyring"
  fi
  list=/etc/apt/sources.list.d/matrix-org.list
  line="deb [signed-by=$keyring] https://packages.matrix.org/debian/ $codename main"
  if [ "$(cat "$list" 2>/dev/null)" != "$line" ]; then
    printf '%s\n' "$line" >"$list"
    apt_locked update
  fi
fi

printf '%s\n' \
  "$package matrix-synapse/server-name string $SERVER_NAME" \
  "$package matrix-synapse/report-stats boolean $REPORT_STATS" | debconf-set-selections

policy=/usr/sbin/policy-rc.d
policy_marker="# synapse-deploy: keeps services down during the install"
# An earlier run cut off mid-install may have left ours behind; it would stop every later
# package upgrade from restarting its service.
if grep -qxF "$policy_marker" "$policy" 2>/dev/null; then rm -f "$policy"; fi

extra=()
# Debian's package only recommends the PostgreSQL driver; the matrix.org venv bundles it.
[ "$SOURCE" = debian ] && extra+=(python3-psycopg2)
missing=$(packages_missing "$package" "${extra[@]+"${extra[@]}"}")
if [ -n "$missing" ]; then
  # The packaged default config must never start: policy-rc.d keeps services down during the
  # install; our homeserver.yaml is activated (and checked) later.
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n%s\nexit 101\n' "$policy_marker" >"$policy"
    chmod 0755 "$policy"
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt_refresh
  # shellcheck disable=SC2086
  apt_install $missing
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
install -d -m 0755 "$STATE_DIR"
dpkg-query -W -f='${Package} ${Version}\n' "$package"
