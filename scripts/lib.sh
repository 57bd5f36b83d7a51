#!/usr/bin/env bash
# Shared helpers, prepended to every remote script when it is rendered (render/script.ts), after
# the header that says where things are on the host (STATE_DIR, STAGED_DIR, SYNAPSE_ETC,
# SYNAPSE_DATA, TLS_ROOT, DEPLOY_ETC: rendered from config/hostLayout.json).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
umask 022

log() { printf '[%s] %s\n' "${SCRIPT_NAME:-synapse-deploy}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Package operations from several commands may run at once on one host: serialise them.
apt_locked() { flock -w 900 /run/synapse-deploy-apt.lock apt-get -q -o DPkg::Lock::Timeout=600 "$@"; }
apt_install() {
  # An install cut off mid-way leaves dpkg half-done ("run dpkg --configure -a"): finish it first.
  if [ -n "$(ls -A /var/lib/dpkg/updates 2>/dev/null)" ]; then
    flock -w 900 /run/synapse-deploy-apt.lock dpkg --configure -a
  fi
  apt_locked install -y --no-install-recommends "$@"
}
# Updates the package lists unless they are fresher than an hour.
apt_refresh() {
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -60 -print -quit 2>/dev/null)" ]; then
    apt_locked update
  fi
}
# The version apt would install of PACKAGE, or nothing. Under the apt lock: another step's update
# may be rewriting the package lists meanwhile, and a half-written list has no candidate.
apt_candidate() {
  flock -w 900 /run/synapse-deploy-apt.lock apt-cache policy "$1" 2>/dev/null | sed -n 's/^  Candidate: //p' | grep -vx '(none)' || true
}
packages_missing() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  printf '%s\n' "${missing[@]+"${missing[@]}"}"
}
ensure_packages() {
  local missing
  missing=$(packages_missing "$@")
  [ -n "$missing" ] || return 0
  apt_refresh
  # shellcheck disable=SC2086 # one package name per word
  apt_install_services_down $missing
}

# A Debian or Ubuntu system with apt and systemd (the first check on any host that runs Synapse).
preflight_host() {
  [ -r /etc/os-release ] || die "no /etc/os-release: not a Debian or Ubuntu system"
  local ID="" ID_LIKE="" PRETTY_NAME=""
  # shellcheck disable=SC1091
  . /etc/os-release
  case " ${ID:-} ${ID_LIKE:-} " in
    *" debian "* | *" ubuntu "*) ;;
    *) die "unsupported system '${PRETTY_NAME:-unknown}': this program provisions Debian or Ubuntu" ;;
  esac
  command -v apt-get >/dev/null || die "apt-get not found"
  command -v systemctl >/dev/null || die "systemd not found"
  log "host ok: ${PRETTY_NAME:-$ID}"
}

# synapse_package_prepare SOURCE SERVER_NAME REPORT_STATS PACKAGE REPOSITORY_PACKAGES — makes
# Synapse's package PACKAGE installable (matrix.org's repository and key when SOURCE=matrix-org,
# fetched with REPOSITORY_PACKAGES) with its debconf answers set. The packages are the caller's
# parameters (render/packages.ts).
synapse_package_prepare() {
  local source=$1 server_name=$2 report_stats=$3 package=$4 repository_packages=$5
  case "$source" in
    matrix-org | debian) ;;
    *) die "unknown package source '$source'" ;;
  esac
  if [ "$source" = matrix-org ]; then
    # shellcheck disable=SC2086 # one package name per word
    ensure_packages $repository_packages >&2
    local keyring=/usr/share/keyrings/matrix-org-archive-keyring.gpg codename list line
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
      apt_locked update >&2
    fi
  fi
  printf '%s\n' \
    "$package matrix-synapse/server-name string $server_name" \
    "$package matrix-synapse/report-stats boolean $report_stats" | debconf-set-selections
}

# apt_install_services_down PACKAGE... — installs them in one transaction while the packages whose
# default config must never run may not start their services: Synapse's (ours is activated, and
# checked, later), coturn's (an open relay until ours is in place) and Prometheus's and its
# exporters' (listening on every address until ours says loopback). Other services start as their
# packages have them start.
synapse_policy=/usr/sbin/policy-rc.d
synapse_policy_marker="# synapse-deploy: keeps Synapse down during the install"
apt_install_services_down() {
  # An earlier run cut off mid-install may have left ours behind; it would stop every later
  # package upgrade from restarting Synapse. (The first marker is an older version's.)
  if grep -qxF -e "$synapse_policy_marker" -e "# synapse-deploy: keeps services down during the install" "$synapse_policy" 2>/dev/null; then
    rm -f "$synapse_policy"
  fi
  if [ -e "$synapse_policy" ]; then
    apt_install "$@"
    return
  fi
  # shellcheck disable=SC2016 # $1 is policy-rc.d's, not ours
  printf '#!/bin/sh\n%s\ncase "$1" in matrix-synapse* | coturn* | prometheus*) exit 101 ;; esac\nexit 0\n' "$synapse_policy_marker" >"$synapse_policy"
  chmod 0755 "$synapse_policy"
  local rc=0
  apt_install "$@" || rc=$?
  rm -f "$synapse_policy"
  return "$rc"
}

# install_file SRC DEST MODE OWNER — atomically replaces DEST when its content, mode or owner
# differ; returns 0 when it changed something, 1 when DEST was already the same.
install_file() {
  local src=$1 dest=$2 mode=$3 owner=$4
  # "user:" means the user's login group (nogroup for Debian's matrix-synapse user).
  case "$owner" in *:) owner="$owner$(id -gn "${owner%:}")" ;; esac
  if [ -f "$dest" ] && cmp -s "$src" "$dest" \
    && [ "$(stat -c '%a %U:%G' "$dest")" = "${mode#0} $owner" ]; then
    return 1
  fi
  install -d -m 0755 "$(dirname "$dest")"
  local tmp
  tmp=$(mktemp "$(dirname "$dest")/.synapse-deploy.XXXXXX")
  cat "$src" >"$tmp"
  chmod "$mode" "$tmp"
  chown "$owner" "$tmp"
  mv -f "$tmp" "$dest"
  return 0
}

# Whether a service has taken up its live files: their digest is recorded after each successful
# (re)start or reload, so an apply cut off between "files live" and "restart" is finished by the
# next one instead of leaving the service on the old config.
files_digest() { cat "$@" 2>/dev/null | sha256sum | cut -d ' ' -f 1; }
applied_differs() {
  local name=$1
  shift
  [ "$(cat "$STATE_DIR/applied/$name" 2>/dev/null)" != "$(files_digest "$@")" ]
}
mark_applied() {
  local name=$1
  shift
  install -d -m 0700 "$STATE_DIR/applied"
  files_digest "$@" >"$STATE_DIR/applied/$name"
}

# pg_restart_with_fallback VERSION CLUSTER FILE OLD_COPY — restarts the cluster for a changed
# settings file; if PostgreSQL refuses it, puts OLD_COPY back (or removes FILE when OLD_COPY is
# empty: there was none), restarts on the old settings and dies with the log's tail.
pg_restart_with_fallback() {
  local version=$1 cluster=$2 file=$3 old=$4
  pg_ctlcluster "$version" "$cluster" restart && return 0
  if [ -n "$old" ]; then cp -p "$old" "$file"; else rm -f "$file"; fi
  pg_ctlcluster "$version" "$cluster" restart || true
  die "PostgreSQL refused $file; the previous settings are back:
$(tail -n 20 "/var/log/postgresql/postgresql-$version-$cluster.log" 2>/dev/null || true)"
}

# remove_worker NAME UNIT — stops, disables and deletes the Synapse worker NAME, an instance of the
# template UNIT (workers keep no data of their own).
remove_worker() {
  systemctl disable --now --quiet "$(worker_unit "$1" "$2")" 2>/dev/null || true
  rm -f "$SYNAPSE_ETC/workers/$1.yaml"
  log "removed worker $1"
}

# worker_unit NAME UNIT — the unit of the worker NAME: an instance of the template UNIT (x@.service).
worker_unit() { printf '%s@%s.%s' "${2%%@.*}" "$1" "${2#*@.}"; }

# The server name a host already serves, if it has any Synapse state: Synapse's config, the
# Debian package's debconf answer, or what this program recorded. Empty when the host is new.
existing_server_name() {
  local f name=""
  for f in "$STATE_DIR/server-name" "$SYNAPSE_ETC/conf.d/server_name.yaml" "$SYNAPSE_ETC/homeserver.yaml"; do
    [ -f "$f" ] || continue
    if [ "$f" = "$STATE_DIR/server-name" ]; then
      name=$(cat "$f")
    else
      name=$(sed -n 's/^server_name:[[:space:]]*["'\'']\{0,1\}\([^"'\'' ]*\).*$/\1/p' "$f" | head -n 1)
    fi
    [ -z "$name" ] || break
  done
  printf '%s' "$name"
}

host_has_synapse_data() {
  [ -s "$SYNAPSE_ETC/homeserver.signing.key" ] || [ -s "$SYNAPSE_DATA/homeserver.db" ] \
    || [ -f "$STATE_DIR/server-name" ]
}

# server_name is permanent: refuse to turn a homeserver with data into another one.
guard_server_name() {
  local want=$1 have
  have=$(existing_server_name)
  if [ -n "$have" ] && [ "$have" != "$want" ] && host_has_synapse_data; then
    die "this host already serves the Matrix server name '$have', and the stack asks for '$want'.
A server name is permanent: user IDs, room IDs and federation signatures all embed it, so
changing it means a new homeserver with no users or rooms. Set serverName back to '$have',
or deploy '$want' to a fresh host. Nothing was changed."
  fi
}
