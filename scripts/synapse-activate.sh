#!/usr/bin/env bash
# Checks the staged Synapse config with Synapse's own loader, and only when it passes puts it
# live, restarts Synapse (only if something changed) and waits for /health.
# On a worker host (MAIN=false) the main process never runs: the signing key comes staged with
# the config (the Synapse VPS's), and once the files are live the package's matrix-synapse unit
# stays disabled; the workers step (re)starts the workers.
# Parameters: SERVER_NAME, PYTHON (the package's interpreter), FILES (space-separated paths
# relative to $SYNAPSE_ETC, staged under $STAGED_DIR/synapse), HEALTH_URL; WORKER_FILES
# (optional: the worker files among FILES, each checked as its worker loads it); MAIN (optional,
# default true); SYNAPSE_VERSION and GATE (the upgrade gate's answer) only make it run again after
# a version change, and so start what the gate stopped; START_TIMEOUT (seconds a start may take:
# migrating the schema after an upgrade, as the unit's TimeoutStartSec).
: "${SERVER_NAME:?}" "${PYTHON:?}" "${FILES:?}" "${HEALTH_URL:?}"
WORKER_FILES=${WORKER_FILES:-}
MAIN=${MAIN:-true}
live=$SYNAPSE_ETC
staged="$STAGED_DIR/synapse"
guard_server_name "$SERVER_NAME"

# 1. A scratch copy of the live config with the staged files on top, owned by the service user
#    so the check also proves Synapse can read its 0600 secrets.
check=$(mktemp -d)
trap 'rm -rf "$check"' EXIT
cp -a "$live/." "$check/"
for f in $FILES; do
  [ -f "$staged/$f" ] || die "staged file $staged/$f is missing"
  install -d "$(dirname "$check/$f")"
  cp -p "$staged/$f" "$check/$f"
done
chown -R matrix-synapse: "$check"
# Synapse's loader runs with the service's environment: a drop-in may put modules that
# homeserver.yaml names (the S3 storage provider) on PYTHONPATH.
read -r -a service_env <<<"$(systemctl show -p Environment --value matrix-synapse 2>/dev/null || true)"

# 2. The signing key is the server's federation identity: generate it once, never overwrite.
key=$live/homeserver.signing.key
if [ "$MAIN" != true ]; then
  [ -s "$check/homeserver.signing.key" ] || die "a worker host needs the Synapse VPS's signing key among the staged files"
elif [ ! -s "$key" ]; then
  env "${service_env[@]}" "$PYTHON" -m synapse.app.homeserver \
    --config-path "$check/homeserver.yaml" --config-path "$check/conf.d/" --generate-keys >/dev/null
  [ -s "$key" ] || die "Synapse did not generate $key"
  chown matrix-synapse: "$key"
  chmod 0600 "$key"
  log "generated the signing key $key (back it up: it is the server's identity)"
fi

# 3. Synapse's own config loader is the judge; a failing config is never put live. It reads the
#    files the config names (a federation CA, say) from the scratch copy: staged ones are not live.
[ "$MAIN" != true ] || cp -p "$key" "$check/"
find "$check" -name '*.yaml' -exec sed -i "s#$live/#$check/#g" {} +
chown -R matrix-synapse: "$check"
# `read server.server_name` loads and validates everything, then prints "server.server_name: X".
if ! out=$(cd "$check" && runuser -u matrix-synapse -- env "${service_env[@]}" "$PYTHON" -m synapse.config read server.server_name \
  --config-path "$check/homeserver.yaml" --config-path "$check/conf.d/" 2>&1); then
  die "Synapse rejected the new config; the running config is unchanged:
$out"
fi
out=$(printf '%s\n' "$out" | sed -n 's/^server\.server_name: //p' | tail -n 1)
[ "$out" = "$SERVER_NAME" ] || die "the new config resolves server_name to '$out', expected '$SERVER_NAME' (is another file in $live/conf.d overriding it?); nothing was changed"
# Each worker loads homeserver.yaml, conf.d/ and its own file: the same loader judges that too.
for f in $WORKER_FILES; do
  want=$(basename "$f" .yaml)
  if ! out=$(cd "$check" && runuser -u matrix-synapse -- env "${service_env[@]}" "$PYTHON" -m synapse.config read worker.worker_name \
    --config-path "$check/homeserver.yaml" --config-path "$check/conf.d/" --config-path "$check/$f" 2>&1); then
    die "Synapse rejected the config of worker $want; the running config is unchanged:
$out"
  fi
  out=$(printf '%s\n' "$out" | sed -n 's/^worker\.worker_name: //p' | tail -n 1)
  [ "$out" = "$want" ] || die "worker file $f names worker '$out', expected '$want'; nothing was changed"
done

# 4. Put changed files live. A worker's own file concerns only that worker: the workers step
#    restarts it, the main process keeps running.
changed=0
live_files=()
for f in $FILES; do
  main_file=1
  case " $WORKER_FILES " in *" $f "*) main_file=0 ;; esac
  [ "$main_file" = 0 ] || live_files+=("$live/$f")
  if install_file "$staged/$f" "$live/$f" "$(stat -c '%a' "$staged/$f")" "$(stat -c '%U:%G' "$staged/$f")"; then
    log "updated $live/$f"
    [ "$main_file" = 0 ] || changed=1
  fi
done
printf '%s\n' "$SERVER_NAME" >"$STATE_DIR/server-name"

if [ "$MAIN" != true ]; then
  systemctl disable --now --quiet matrix-synapse 2>/dev/null || true
  printf 'worker host\n'
  exit 0
fi

# 5. Restart only when needed; wait for health. A start after an upgrade migrates the schema first
#    (systemd says "activating" until Synapse is ready), which takes as long as it takes; a start
#    that fails (the unit fails, or systemd restarts it) stops the wait at once.
systemctl enable --quiet matrix-synapse
restarted=0
since=$(date '+%Y-%m-%d %H:%M:%S')
if [ "$changed" = 1 ] || ! systemctl is-active --quiet matrix-synapse || applied_differs synapse "${live_files[@]}"; then
  log "restarting matrix-synapse"
  # A failed start before this one must not read as this one failing.
  systemctl reset-failed matrix-synapse 2>/dev/null || true
  restarts=$(systemctl show -p NRestarts --value matrix-synapse 2>/dev/null || echo 0)
  # Not blocking (a migration may take longer than systemctl waits), so the process that answers
  # health must be a new one: until systemd has replaced it, the old one may still answer.
  old_pid=$(systemctl show -p MainPID --value matrix-synapse)
  systemctl restart --no-block matrix-synapse
  restarted=1
  printf 'restarted\n'
else
  log "config unchanged; Synapse keeps running"
  printf 'unchanged\n'
fi
restarts=${restarts:-$(systemctl show -p NRestarts --value matrix-synapse 2>/dev/null || echo 0)}
waited=0
while [ "$waited" -lt 120 ] || [ "$(systemctl show -p ActiveState --value matrix-synapse)" = activating ] && [ "$waited" -lt "${START_TIMEOUT:-120}" ]; do
  if { [ "$restarted" = 0 ] || [ "$(systemctl show -p MainPID --value matrix-synapse)" != "$old_pid" ]; } \
    && curl -fsS -o /dev/null "$HEALTH_URL"; then
    [ "$restarted" = 0 ] || mark_applied synapse "${live_files[@]}"
    log "healthy"
    exit 0
  fi
  if systemctl is-failed --quiet matrix-synapse || [ "$(systemctl show -p NRestarts --value matrix-synapse 2>/dev/null || echo 0)" != "$restarts" ]; then
    break
  fi
  sleep 1
  waited=$((waited + 1))
done
journalctl -u matrix-synapse --since "$since" -n 40 --no-pager >&2 || true
upgrade=""
if [[ ${GATE:-} == "stopped for "* ]] && [ -f "$STATE_DIR/upgrade.json" ]; then
  upgrade=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(f"""
This start followed the version change {r["what"]}; the backup taken before it: {r["backup"]}.
The way back is in docs/upgrades.md: set the version back and apply (Synapse {r["from"]}, if the
database schema still suits it), or restore that backup (npm run admin -- restore).""")' "$STATE_DIR/upgrade.json")
fi
die "Synapse did not start (the journal above says why; journalctl -u matrix-synapse for all of it)$upgrade"
