#!/usr/bin/env bash
# Redis for Synapse's workers: installed, enabled, answering, and reachable from this host only
# (Debian's redis.conf binds loopback with protected-mode on; a changed bind fails loudly), or,
# with workers on other hosts, also on the private address (BIND) with a password (on stdin),
# set in an include file (0640 root:redis) that redis.conf reads last. With SERVER=false (a
# worker host) only Synapse's client libraries are installed.
# Also Synapse's Redis client, txredisapi, and hiredis (Synapse's loader refuses a redis config
# without both): the matrix.org package's venv has them; for Debian's matrix-synapse hiredis is
# python3-hiredis, and txredisapi, which Debian does not package, comes from PyPI (pinned, pure
# Python, its dependencies Twisted and six from Debian) into /usr/local's dist-packages, the
# place Debian's Python keeps for locally installed modules.
# Parameters: PYTHON (Synapse's interpreter), PORT, TXREDISAPI_VERSION, SERVER_PACKAGES (Redis's),
# CLIENT_PACKAGES (the client libraries' for Debian's Python); BIND (optional: the addresses Redis
# listens on besides loopback), SERVER (optional, default true).
: "${PYTHON:?}" "${PORT:?}" "${TXREDISAPI_VERSION:?}" "${SERVER_PACKAGES:?}" "${CLIENT_PACKAGES:?}"
BIND=${BIND:-}
SERVER=${SERVER:-true}
password=""
if [ -n "$BIND" ]; then
  IFS= read -r password || [ -n "$password" ] || die "Redis on $BIND needs its password on stdin"
  [[ "$password" =~ ^[A-Za-z0-9]+$ ]] || die "the Redis password must be alphanumeric"
fi
# shellcheck disable=SC2086 # one package name per word
[ "$SERVER" = false ] || ensure_packages $SERVER_PACKAGES
if ! "$PYTHON" -c 'import txredisapi, hiredis' 2>/dev/null; then
  [ "$PYTHON" = /usr/bin/python3 ] || die "$PYTHON cannot import txredisapi and hiredis, which Synapse's Redis support needs (is the package complete?)"
  # shellcheck disable=SC2086 # one package name per word
  ensure_packages $CLIENT_PACKAGES
fi
if ! "$PYTHON" -c 'import txredisapi' 2>/dev/null; then
  local_site=$(python3 -c 'import sys; print(f"/usr/local/lib/python{sys.version_info[0]}.{sys.version_info[1]}/dist-packages")')
  python3 -c "import sys; raise SystemExit('$local_site' not in sys.path)" || die "$local_site is not on Python's path"
  log "installing txredisapi $TXREDISAPI_VERSION into $local_site"
  pip3 install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --upgrade --target "$local_site" "txredisapi==$TXREDISAPI_VERSION"
fi
"$PYTHON" -c 'import txredisapi, hiredis' || die "Synapse's Python ($PYTHON) cannot import txredisapi and hiredis, which its Redis support needs"
if [ "$SERVER" = false ]; then
  printf 'redis client libraries\n'
  exit 0
fi

# Our settings come last, so they win over redis.conf's; without BIND the file is empty.
include=/etc/redis/synapse-deploy.conf
conf=/etc/redis/redis.conf
grep -qxF "include $include" "$conf" || printf '\n# synapse-deploy: workers on other hosts\ninclude %s\n' "$include" >>"$conf"
settings=$(mktemp)
trap 'rm -f "$settings"' EXIT
if [ -n "$BIND" ]; then
  printf '# Managed by the synapse Pulumi program.\nbind 127.0.0.1 -::1 %s\nrequirepass %s\n' "$BIND" "$password" >"$settings"
else
  printf '# Managed by the synapse Pulumi program: loopback only (redis.conf).\n' >"$settings"
fi
systemctl enable --quiet redis-server
if install_file "$settings" "$include" 0640 root:redis; then
  systemctl restart redis-server
else
  systemctl start redis-server
fi
# redis-cli reads the password from the environment, never from its command line.
export REDISCLI_AUTH=$password
[ -n "$password" ] || unset REDISCLI_AUTH
for _ in $(seq 1 30); do
  [ "$(redis-cli -p "$PORT" ping 2>/dev/null)" = PONG ] && break
  sleep 1
done
[ "$(redis-cli -p "$PORT" ping 2>/dev/null)" = PONG ] || die "Redis does not answer on port $PORT"
# Beyond loopback only with a password, and only on the addresses asked for.
exposed=$(ss -ltnH "sport = :$PORT" | awk '{print $4}' | grep -vE '^(127\.[0-9.]+|\[::1\]):' || true)
for address in $exposed; do
  case " $BIND " in
    *" ${address%:*} "*) [ -n "$password" ] || die "Redis listens on $address without a password" ;;
    *) die "Redis listens on $address beyond loopback and ${BIND:-nothing else} (check bind in $conf)" ;;
  esac
done
printf 'redis %s\n' "$(redis-cli -p "$PORT" info server | sed -n 's/^redis_version:\([^[:space:]]*\).*/\1/p')"
