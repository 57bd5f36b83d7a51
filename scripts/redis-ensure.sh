#!/usr/bin/env bash
# Redis for Synapse's workers: installed, enabled, answering, and reachable from this host only
# (Debian's redis.conf binds loopback with protected-mode on; a changed bind fails loudly).
# Also Synapse's Redis client, txredisapi, and hiredis (Synapse's loader refuses a redis config
# without both): the matrix.org package's venv has them; for Debian's matrix-synapse hiredis is
# python3-hiredis, and txredisapi, which Debian does not package, comes from PyPI (pinned, pure
# Python, its dependencies Twisted and six from Debian) into /usr/local's dist-packages, the
# place Debian's Python keeps for locally installed modules.
# Parameters: PYTHON (Synapse's interpreter), PORT, TXREDISAPI_VERSION.
: "${PYTHON:?}" "${PORT:?}" "${TXREDISAPI_VERSION:?}"
ensure_packages redis-server
if ! "$PYTHON" -c 'import txredisapi, hiredis' 2>/dev/null; then
  [ "$PYTHON" = /usr/bin/python3 ] || die "$PYTHON cannot import txredisapi and hiredis, which Synapse's Redis support needs (is the package complete?)"
  ensure_packages python3-hiredis python3-pip python3-six python3-twisted
fi
if ! "$PYTHON" -c 'import txredisapi' 2>/dev/null; then
  local_site=$(python3 -c 'import sys; print(f"/usr/local/lib/python{sys.version_info[0]}.{sys.version_info[1]}/dist-packages")')
  python3 -c "import sys; raise SystemExit('$local_site' not in sys.path)" || die "$local_site is not on Python's path"
  log "installing txredisapi $TXREDISAPI_VERSION into $local_site"
  pip3 install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --upgrade --target "$local_site" "txredisapi==$TXREDISAPI_VERSION"
fi
"$PYTHON" -c 'import txredisapi, hiredis' || die "Synapse's Python ($PYTHON) cannot import txredisapi and hiredis, which its Redis support needs"
systemctl enable --quiet redis-server
systemctl start redis-server
for _ in $(seq 1 30); do
  [ "$(redis-cli -p "$PORT" ping 2>/dev/null)" = PONG ] && break
  sleep 1
done
[ "$(redis-cli -p "$PORT" ping 2>/dev/null)" = PONG ] || die "Redis does not answer on port $PORT"
# Every address Redis listens on must be a loopback one: it has no password here.
exposed=$(ss -ltnH "sport = :$PORT" | awk '{print $4}' | grep -vE '^(127\.[0-9.]+|\[::1\]):' || true)
[ -z "$exposed" ] || die "Redis listens on $exposed beyond loopback; without a password it must not (check bind in /etc/redis/redis.conf)"
printf 'redis %s\n' "$(redis-cli -p "$PORT" info server | sed -n 's/^redis_version:\([^[:space:]]*\).*/\1/p')"
