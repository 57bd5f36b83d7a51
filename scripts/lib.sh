#!/usr/bin/env bash
# Shared helpers, prepended to every remote script when it is rendered (render/script.ts), after
# the header that says where things are on the host (STATE_DIR, STAGED_DIR, SYNAPSE_ETC,
# SYNAPSE_DATA, TLS_ROOT, DEPLOY_ETC, SYNAPSE_VENV: rendered from config/hostLayout.json).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
umask 022

# The package index a PyPI install reads (overridable for the unit tests).
PYPI_SIMPLE=${SYNAPSE_DEPLOY_PYPI_SIMPLE:-https://pypi.org/simple}

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
# Updates the package lists unless they are fresher than an hour. The look and the update under
# the apt lock: lists another step is downloading right now look fresh, and are half there.
apt_refresh() {
  # shellcheck disable=SC2016 # expanded by the inner shell
  flock -w 900 /run/synapse-deploy-apt.lock bash -c '[ -n "$(find /var/lib/apt/lists -maxdepth 1 -name "*Packages*" -mmin -60 -print -quit 2>/dev/null)" ] \
    || apt-get -q -o DPkg::Lock::Timeout=600 update >&2'
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

# Synapse's Debian package from SOURCE, or nothing for pypi (a virtualenv, no package): looked up
# in SOURCE_PACKAGES ("source=package …", render/packages.ts), the parameter of every step that
# asks.
synapse_package() {
  local pair
  case "$1" in matrix-org | debian | pypi) ;; *) die "unknown package source '$1'" ;; esac
  for pair in ${SOURCE_PACKAGES:?}; do
    [ "${pair%%=*}" != "$1" ] || printf '%s\n' "${pair#*=}"
  done
}

# synapse_package_prepare SOURCE SERVER_NAME REPORT_STATS PACKAGE REPOSITORY_PACKAGES — makes
# Synapse's package PACKAGE installable (matrix.org's repository and key when SOURCE=matrix-org,
# fetched with REPOSITORY_PACKAGES) with its debconf answers set. The packages are the caller's
# parameters (render/packages.ts). Nothing for pypi (SynapseHost builds the virtualenv).
synapse_package_prepare() {
  local source=$1 server_name=$2 report_stats=$3 package=$4 repository_packages=$5
  case "$source" in
    matrix-org | debian) ;;
    pypi) return 0 ;;
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

# --- Versions ------------------------------------------------------------------------------
# Synapse's release in a Debian package version: no epoch, no Debian revision (-1), no matrix.org
# suffix (+bookworm1), and Debian's ~rc1 as PyPI's rc1.
upstream_version() {
  local v=${1#*:}
  v=${v%%[-+]*}
  printf '%s\n' "${v/\~rc/rc}"
}
# The final releases of a list of versions (no rc, dev or post), newest last.
final_releases() { { grep -E '^[0-9]+\.[0-9]+\.[0-9]+$' || true; } | sort -uV; }

# Where the Synapse on this host came from (matrix-org, debian or pypi), or nothing. A PyPI install
# is this program's virtualenv, which /opt/venvs/matrix-synapse points at (matrix.org's package
# has a directory there).
synapse_installed_source() {
  local pair
  if [ -L "$SYNAPSE_VENV" ]; then
    printf 'pypi\n'
    return 0
  fi
  # Each source's package, from SOURCE_PACKAGES (render/packages.ts).
  for pair in ${SOURCE_PACKAGES:?}; do
    if dpkg-query -W -f='${Status}' "${pair#*=}" 2>/dev/null | grep -q 'install ok installed'; then
      printf '%s\n' "${pair%%=*}"
      return 0
    fi
  done
}
# The Synapse release installed from SOURCE, or nothing.
installed_synapse_version() {
  local package
  if [ "$1" = pypi ]; then
    [ -L "$SYNAPSE_VENV" ] || return 0
    package=$(basename "$(readlink "$SYNAPSE_VENV")")
    printf '%s\n' "${package#matrix-synapse-}"
    return 0
  fi
  package=$(synapse_package "$1")
  # dpkg-query fails for a package it has never seen: none installed.
  { dpkg-query -W -f='${Status} ${Version}\n' "$package" 2>/dev/null || true; } | sed -n 's/^install ok installed //p' | while read -r v; do upstream_version "$v"; done
}
# The Synapse releases SOURCE offers here (one a line): the archive's or matrix.org's versions of
# the package (apt-cache madison, after synapse_package_prepare), or PyPI's index (PEP 691/700).
available_synapse_versions() {
  if [ "$1" = pypi ]; then
    curl -fsS --retry 3 -H 'Accept: application/vnd.pypi.simple.v1+json' "$PYPI_SIMPLE/matrix-synapse/" \
      | grep -o '"versions": *\[[^]]*\]' | grep -o '"[^"]*"' | tr -d '"'
    return 0
  fi
  flock -w 900 /run/synapse-deploy-apt.lock apt-cache madison "$(synapse_package "$1")" 2>/dev/null \
    | awk -F'|' '{ gsub(/ /, "", $2); print $2 }' | while read -r v; do upstream_version "$v"; done | sort -uV
}
# The package version of PACKAGE whose upstream release is VERSION, or nothing.
apt_version_of() {
  local v
  for v in $(flock -w 900 /run/synapse-deploy-apt.lock apt-cache madison "$1" 2>/dev/null | awk -F'|' '{ gsub(/ /, "", $2); print $2 }'); do
    [ "$(upstream_version "$v")" != "$2" ] || { printf '%s\n' "$v"; return 0; }
  done
}
# Holds PACKAGE at VERSION: apt installs that version and `apt upgrade` leaves it there (an upgrade
# is a change of synapseVersion, never an apt run).
synapse_apt_pin() {
  local pin=/etc/apt/preferences.d/synapse-deploy-synapse tmp
  tmp=$(mktemp)
  printf '# Managed by the synapse Pulumi program: Synapse changes version only when synapseVersion does.\nPackage: %s\nPin: version %s\nPin-Priority: 1001\n' "$1" "$2" >"$tmp"
  install_file "$tmp" "$pin" 0644 root:root || true
  rm -f "$tmp"
}

# The refusals of a Synapse version change, each a line (none: it may go ahead). Arguments: the
# target release, what its code says (its SCHEMA_VERSION, the oldest PostgreSQL major it starts
# on, 0 when it cannot tell, and whether it runs on this host's Python: yes, or the Python it
# needs), then the database's schema_version and schema_compat_version and PostgreSQL's major
# (empty when there is no database yet). Synapse refuses a database whose compat version is above
# its own SCHEMA_VERSION (prepare_database.py), so this refuses that downgrade before it happens.
synapse_version_refusals() {
  local target=$1 schema=$2 min_pg=$3 python=$4 db_schema=$5 db_compat=$6 pg=$7
  if [ -n "$db_compat" ] && [ "$db_compat" -gt "$schema" ]; then
    printf 'Synapse %s understands database schemas up to %s, and this database is at schema %s, which Synapse releases below schema %s cannot use (its schema_compat_version): Synapse %s would refuse to start on it\n' \
      "$target" "$schema" "$db_schema" "$db_compat" "$target"
  fi
  if [ "$min_pg" -gt 0 ] && [ -n "$pg" ] && [ "$pg" -lt "$min_pg" ]; then
    printf 'Synapse %s needs PostgreSQL %s or later, and the database runs PostgreSQL %s (upgrade it first: postgresVersion)\n' "$target" "$min_pg" "$pg"
  fi
  if [ "$python" != yes ]; then
    printf 'Synapse %s needs Python %s, and this host has Python %s\n' "$target" "$python" "$(python3 -c 'import platform; print(platform.python_version())' 2>/dev/null || echo none)"
  fi
}

# The refusal of a PostgreSQL major change from CURRENT to WANTED with FREE bytes free where the
# new cluster goes and NEEDED bytes needed, or nothing. The old cluster is kept, so the disk must
# hold both.
postgres_major_refusal() {
  local current=$1 wanted=$2 free=$3 needed=$4
  if [ "$wanted" -lt "$current" ]; then
    printf 'PostgreSQL cannot move a database to an older major version (%s to %s); the way back is the old cluster, kept after the upgrade, or a backup restored by hand\n' "$current" "$wanted"
  elif [ "$free" -lt "$needed" ]; then
    printf 'the disk cannot hold both clusters: the move to PostgreSQL %s needs %s MiB (the %s cluster and the WAL of the restore), and %s MiB are free\n' \
      "$wanted" "$((needed / 1048576))" "$current" "$((free / 1048576))"
  fi
}

# synapse_artifact_facts FILE_OR_DIR — what a Synapse release's own code says, read without
# installing it (a wheel, or a .deb unpacked into a directory): "SCHEMA_VERSION SCHEMA_COMPAT_VERSION
# oldest-PostgreSQL-major python", python being "yes" when it runs on this host's Python 3 (a
# wheel's Requires-Python; a .deb's dependencies are apt's to check) or the Python it needs.
synapse_artifact_facts() {
  python3 - "$1" <<'PY'
import ast, pathlib, platform, re, sys, zipfile

path = pathlib.Path(sys.argv[1])
if path.is_file():
    z = zipfile.ZipFile(path)
    names = z.namelist()
    read = lambda suffix: next((z.read(n).decode() for n in names if n.endswith(suffix)), "")
    metadata = next((z.read(n).decode() for n in names if n.endswith(".dist-info/METADATA")), "")
else:
    files = [p for p in path.rglob("*.py") if "/synapse/storage/" in str(p)]
    read = lambda suffix: next((p.read_text() for p in files if str(p).endswith(suffix)), "")
    metadata = ""
constants = {}
for node in ast.parse(read("synapse/storage/schema/__init__.py")).body:
    if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
        if node.targets[0].id in ("SCHEMA_VERSION", "SCHEMA_COMPAT_VERSION"):
            constants[node.targets[0].id] = int(ast.literal_eval(node.value))
if "SCHEMA_VERSION" not in constants:
    sys.exit("the release has no synapse/storage/schema/__init__.py with SCHEMA_VERSION")
oldest = re.search(r"_version < (\d+)0000\b", read("synapse/storage/engines/postgres.py"))

def version(text):
    return tuple(int(x) for x in (text.split(".") + ["0", "0"])[:3])

def satisfied(spec, here):
    for part in filter(None, (p.strip() for p in spec.split(","))):
        m = re.fullmatch(r"(>=|<=|==|!=|>|<|~=)\s*([0-9.]+)(\.\*)?", part)
        if not m:
            continue
        op, v = m.group(1), version(m.group(2))
        ok = {">=": here >= v, "<=": here <= v, ">": here > v, "<": here < v, "==": here[:len(m.group(2).split("."))] == v[:len(m.group(2).split("."))],
              "!=": here != v, "~=": here >= v}[op]
        if not ok:
            return False
    return True

needs = re.search(r"^Requires-Python: *(.+)$", metadata, re.M)
python = "yes" if not needs or satisfied(needs.group(1), version(platform.python_version())) else needs.group(1).replace(" ", "")
print(constants["SCHEMA_VERSION"], constants.get("SCHEMA_COMPAT_VERSION", 0), int(oldest.group(1)) if oldest else 0, python)
PY
}

# synapse_db_query SQL — one query on Synapse's database, as Synapse connects to it (its
# homeserver.yaml's database section and passfile, through Synapse's own Python and psycopg2, so a
# database box works too and no client package is needed): the first row, tab-separated, or
# nothing when the query fails (no such table yet).
synapse_db_query() {
  "$(synapse_python)" - "$1" "$SYNAPSE_ETC/homeserver.yaml" <<'PY' 2>/dev/null || true
import sys, yaml, psycopg2
args = (yaml.safe_load(open(sys.argv[2])) or {})["database"]["args"]
args = {k: v for k, v in args.items() if k in ("user", "dbname", "database", "host", "port", "passfile", "password")}
with psycopg2.connect(**args) as conn, conn.cursor() as cur:
    cur.execute(sys.argv[1])
    row = cur.fetchone()
    if row is not None:
        print("\t".join(str(c) for c in row))
PY
}
# The interpreter of the Synapse installed here.
synapse_python() {
  if [ -x "$SYNAPSE_VENV/bin/python" ]; then printf '%s\n' "$SYNAPSE_VENV/bin/python"; else printf '/usr/bin/python3\n'; fi
}
# The PostgreSQL major serving Synapse's database, or nothing when there is none yet.
synapse_db_major() {
  local n
  n=$(synapse_db_query 'SHOW server_version_num')
  [ -z "$n" ] || printf '%s\n' "$((n / 10000))"
}

# --- PyPI installs ---------------------------------------------------------------------------
# synapse_venv_build VERSION LOCK — the virtualenv of Synapse VERSION, /opt/venvs/matrix-synapse-VERSION,
# installed from LOCK (a file of name==version --hash=sha256:… lines, every dependency pinned) with
# pip's hash checking; nothing when it exists from the same lock. The live one is untouched.
synapse_venv_build() {
  local version=$1 lock=$2 dir="$SYNAPSE_VENV-$1" digest
  digest=$(sha256sum "$lock" | cut -d ' ' -f 1)
  if [ "$(cat "$dir/.synapse-deploy-lock" 2>/dev/null)" = "$digest" ] && "$dir/bin/python" -c 'import synapse' 2>/dev/null; then
    return 0
  fi
  grep -q "^matrix-synapse==$version " "$lock" || die "the lock does not pin matrix-synapse==$version"
  log "building $dir from the lock ($(grep -c ' --hash=sha256:' "$lock") packages, each checked by its SHA-256)"
  rm -rf "$dir"
  install -d -m 0755 "$(dirname "$dir")"
  python3 -m venv "$dir"
  local out
  if ! out=$("$dir/bin/pip" install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --require-hashes -r "$lock" 2>&1) \
      || ! out=$("$dir/bin/pip" check 2>&1); then
    rm -rf "$dir"
    die "Synapse $version did not install from its lock:
$out"
  fi
  printf '%s\n' "$digest" >"$dir/.synapse-deploy-lock"
}
# Points /opt/venvs/matrix-synapse at VERSION's virtualenv (one rename: never half switched) and
# keeps the one it pointed at before (the way back); older ones are deleted.
synapse_venv_switch() {
  local target="matrix-synapse-$1" previous="" d
  [ -d "$SYNAPSE_VENV-$1" ] || die "$SYNAPSE_VENV-$1 is missing"
  [ ! -L "$SYNAPSE_VENV" ] || previous=$(basename "$(readlink "$SYNAPSE_VENV")")
  if [ -e "$SYNAPSE_VENV" ] && [ ! -L "$SYNAPSE_VENV" ]; then
    die "$SYNAPSE_VENV is a directory (matrix.org's package?): not switching it to a PyPI install"
  fi
  ln -sfn "$target" "$SYNAPSE_VENV.new"
  mv -T "$SYNAPSE_VENV.new" "$SYNAPSE_VENV"
  for d in "$SYNAPSE_VENV"-*; do
    case "$(basename "$d")" in "$target" | "$previous") ;; *) rm -rf "$d" ;; esac
  done
}

# --- PostgreSQL clusters -----------------------------------------------------------------------
# pg_hba_admit_socket DB USER — USER may log in to DB over the cluster's Unix socket with its
# password (scram-sha-256). Synapse on PostgreSQL's own host connects there, not over TCP on
# loopback: each of its ~130 statements per message is a round trip (docs/benchmarks.md). The line
# goes before Debian's `local all all peer`, which refuses it (the matrix-synapse account is not
# USER). PostgreSQL checks the new file before the reload; a refused one is put back as it was.
pg_hba_admit_socket() {
  local db=$1 user=$2 line hba work bad
  line="local $db $user scram-sha-256"
  hba=$(runuser -u postgres -- psql -X -qAt -c 'SHOW hba_file')
  grep -qxF "$line" "$hba" && return 0
  work=$(mktemp -d)
  cp -p "$hba" "$work/old"
  awk -v line="$line" '!done && /^[[:space:]]*local[[:space:]]/ { print line; done = 1 } { print } END { if (!done) print line }' \
    "$work/old" >"$work/new"
  cat "$work/new" >"$hba"
  bad=$(runuser -u postgres -- psql -X -qAt -c 'SELECT line_number || $$: $$ || error FROM pg_hba_file_rules WHERE error IS NOT NULL')
  if [ -n "$bad" ]; then
    cat "$work/old" >"$hba"
    rm -rf "$work"
    die "PostgreSQL refuses pg_hba.conf with Synapse's socket line (the old file is back): $bad"
  fi
  rm -rf "$work"
  runuser -u postgres -- psql -X -qAt -c 'SELECT pg_reload_conf()' >/dev/null
  log "pg_hba: $user may log in to $db over the Unix socket with its password"
}

# pg_ensure_role_and_database DB USER PASSWORD — Synapse's role (with PASSWORD) and database
# (UTF8, collation and ctype C, from template0, owned by the role), reachable over the socket
# (pg_hba_admit_socket), in the cluster PGCLUSTER names; prints created, exists, or dies on a
# database with another collation (never dropped).
pg_ensure_role_and_database() {
  local db=$1 user=$2 password=$3 existing
  pg_hba_admit_socket "$db" "$user"
  [[ "$password" =~ ^[A-Za-z0-9]+$ ]] || die "the database password must be alphanumeric"
  psql_admin() { runuser -u postgres -- psql -X -v ON_ERROR_STOP=1 -qAt "$@"; }
  # The password travels in psql's stdin, never in a command line.
  psql_admin -v user="$user" <<SQL
SELECT format('CREATE ROLE %I LOGIN', :'user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
ALTER ROLE :"user" WITH LOGIN PASSWORD '$password';
SQL
  existing=$(psql_admin -v db="$db" <<'SQL'
SELECT pg_encoding_to_char(encoding) || ' ' || datcollate || ' ' || datctype FROM pg_database WHERE datname = :'db';
SQL
)
  if [ -z "$existing" ]; then
    psql_admin -v db="$db" -v user="$user" <<'SQL'
CREATE DATABASE :"db" ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0 OWNER :"user";
SQL
    log "created database $db (UTF8, C) in PostgreSQL ${PGCLUSTER:-}"
    printf 'created\n'
  elif [ "$existing" = "UTF8 C C" ]; then
    psql_admin -v db="$db" -v user="$user" <<'SQL'
ALTER DATABASE :"db" OWNER TO :"user";
SQL
    printf 'exists\n'
  else
    die "database '$db' exists with encoding/collation/ctype '$existing', but Synapse needs 'UTF8 C C'
(another collation corrupts its indexes when the C library changes). Nothing was dropped.
To fix it: stop Synapse, pg_dump -Fc $db > $db.dump, rename the old database
(ALTER DATABASE $db RENAME TO ${db}_old), run this deployment again to create a new one,
restore with pg_restore --no-owner --role=$user -d $db $db.dump, then drop ${db}_old."
  fi
}

# The cluster ("major/name") configured on PORT, or nothing. Every step names its cluster: a host
# that kept an old cluster after an upgrade, or got a new major from a release upgrade, has two.
cluster_on_port() {
  command -v pg_lsclusters >/dev/null || return 0
  pg_lsclusters --no-header 2>/dev/null | awk -v p="$1" '$3 == p { print $1 "/" $2; exit }'
}
# use_cluster CLUSTER — psql, pg_dump and the other wrapped tools talk to CLUSTER from now on
# (PGCLUSTER, and PGPORT for the unwrapped ones); sets PG_MAJOR and PG_NAME. Dies when it is not here.
use_cluster() {
  [[ $1 =~ ^([0-9]+)/([A-Za-z0-9_.-]+)$ ]] || die "not a PostgreSQL cluster: '$1' (expected major/name, e.g. 18/main)"
  PG_MAJOR=${BASH_REMATCH[1]} PG_NAME=${BASH_REMATCH[2]}
  local port
  port=$(pg_lsclusters --no-header 2>/dev/null | awk -v v="$PG_MAJOR" -v n="$PG_NAME" '$1 == v && $2 == n { print $3 }')
  [ -n "$port" ] || die "there is no PostgreSQL cluster $1 on this host (it has: $(pg_lsclusters --no-header 2>/dev/null | awk '{ printf "%s/%s ", $1, $2 }'))"
  export PGCLUSTER=$1 PGPORT=$port
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
