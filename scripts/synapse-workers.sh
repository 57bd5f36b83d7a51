#!/usr/bin/env bash
# Converges the Synapse workers to WORKERS: the template unit and target live, each wanted worker
# enabled, running and healthy, a worker whose own file changed restarted, and every worker no
# longer wanted stopped, disabled and deleted. Synapse's loader checked every worker file before
# synapse-activate put it live. The template passes on matrix-synapse's environment (a drop-in
# may put the S3 storage provider on PYTHONPATH for the media worker).
# Parameters: WORKERS ("name:port …"; empty: none on this host), UNIT, TARGET (unit file names,
# staged under $STAGED_DIR/workers), HOST (optional: the workers' listener address, default
# loopback); ACTIVATION only makes the step run after every activation.
: "${WORKERS?}" "${UNIT:?}" "${TARGET:?}"
HOST=${HOST:-127.0.0.1}
dir=$SYNAPSE_ETC/workers
units=/etc/systemd/system
reload=0
for f in "$UNIT" "$TARGET"; do
  [ -f "$STAGED_DIR/workers/$f" ] || die "staged unit $STAGED_DIR/workers/$f is missing"
  if install_file "$STAGED_DIR/workers/$f" "$units/$f" 0644 root:root; then reload=1; fi
done
env_dropin=$units/${UNIT}.d/synapse-deploy-environment.conf
env_file=$(mktemp)
trap 'rm -f "$env_file"' EXIT
{
  echo "# Managed by the synapse Pulumi program: matrix-synapse's environment, for its workers."
  echo "[Service]"
  for assignment in $(systemctl show -p Environment --value matrix-synapse); do echo "Environment=$assignment"; done
} >"$env_file"
if install_file "$env_file" "$env_dropin" 0644 root:root; then reload=1; fi
[ "$reload" = 0 ] || systemctl daemon-reload
systemctl enable --quiet "$TARGET"

# Workers no longer wanted: stopped, disabled, their file deleted.
wanted=" "
for w in $WORKERS; do wanted+="${w%%:*} "; done
for f in "$dir"/*.yaml; do
  [ -e "$f" ] || continue
  name=$(basename "$f" .yaml)
  case "$wanted" in *" $name "*) continue ;; esac
  remove_worker "$name" "$UNIT"
  printf 'removed %s\n' "$name"
done

shared=("$SYNAPSE_ETC/homeserver.yaml" "$SYNAPSE_ETC"/conf.d/*.yaml)
# Whether a running worker started before one of its files last changed. The main process's
# restart restarts the workers too (PartOf), so after most activations they already run on the
# new files; an update cut off before the restart is finished by the next run.
started_before_files() {
  local unit=$1 started newest
  started=$(date -d "$(systemctl show -p ActiveEnterTimestamp --value "$unit")" +%s 2>/dev/null || echo 0)
  newest=$(stat -c %Y "${shared[@]}" "$2" | sort -n | tail -n 1)
  [ "$started" -lt "$newest" ]
}
for w in $WORKERS; do
  name=${w%%:*}
  unit=$(worker_unit "$name" "$UNIT")
  [ -f "$dir/$name.yaml" ] || die "$dir/$name.yaml is missing (synapse-activate puts it live)"
  systemctl enable --quiet "$unit"
  if ! systemctl is-active --quiet "$unit" || [ "$reload" = 1 ] || started_before_files "$unit" "$dir/$name.yaml"; then
    systemctl restart "$unit"
    log "restarted $name"
    printf 'restarted %s\n' "$name"
  fi
done
for w in $WORKERS; do
  name=${w%%:*}
  port=${w##*:}
  ok=0
  for _ in $(seq 1 120); do
    if curl -fsS -o /dev/null "http://$HOST:$port/health"; then ok=1; break; fi
    sleep 1
  done
  if [ "$ok" = 0 ]; then
    journalctl -u "$(worker_unit "$name" "$UNIT")" -n 40 --no-pager >&2 || true
    die "worker $name did not answer http://$HOST:$port/health within 120 s"
  fi
done
printf 'workers healthy: %s\n' "$WORKERS"
