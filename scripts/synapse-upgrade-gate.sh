#!/usr/bin/env bash
# The gate every version change passes, on each host that runs Synapse, before the change: when
# the Synapse installed here is not VERSION, or the database's PostgreSQL is not PG_TARGET, it
# gets the new release ready while Synapse still serves (a PyPI install's virtualenv built from
# the lock on stdin, or the package downloaded), then, on the Synapse VPS, takes a backup
# (synapse-backup, as its timer runs it), and stops the workers, then the main process. What
# follows puts the new release or cluster in place; the activation starts the main process (which
# migrates the schema) and waits for its health, then the workers start. Nothing happens on a
# first install, or when nothing changes. Its one line of output joins the activation's (and a
# worker host's workers step's) parameters, so whatever stopped Synapse here, that step runs and
# starts it, also when the change was given up (synapseVersion set back after a failed upgrade).
# Parameters: SOURCE, VERSION, PG_TARGET (the PostgreSQL major the database moves to), MAIN
# (true on the Synapse VPS, false on a worker host), SOURCE_PACKAGES (render/packages.ts), WORKER_UNIT
# (the workers' template unit);
# stdin: the lock (pypi), else nothing.
: "${SOURCE:?}" "${VERSION:?}" "${PG_TARGET:?}" "${MAIN:?}" "${SOURCE_PACKAGES:?}" "${WORKER_UNIT:?}"
lock=$(mktemp)
trap 'rm -f "$lock"' EXIT
cat >"$lock"
installed=$(installed_synapse_version "$SOURCE")
if [ -z "$installed" ]; then
  printf 'first install\n'
  exit 0
fi
changes=()
[ "$installed" = "$VERSION" ] || changes+=("Synapse $installed → $VERSION")
# Through Synapse's own connection (a worker host's reaches the database box as its workers do).
pg=$(synapse_db_major)
[ -z "$pg" ] || [ "$pg" = "$PG_TARGET" ] || changes+=("PostgreSQL $pg → $PG_TARGET")
record=$STATE_DIR/upgrade.json
if [ "${#changes[@]}" = 0 ]; then
  if [ "$MAIN" = true ] && ! systemctl is-active --quiet matrix-synapse && [ -f "$record" ]; then
    printf 'no version change; Synapse is stopped since the gate of %s: the activation starts it\n' \
      "$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["what"], "at", r["time"])' "$record")"
  else
    printf 'no version change\n'
  fi
  exit 0
fi
what=$(printf '%s, ' "${changes[@]}")
what=${what%, }

# 1. The new release, ready before anything stops.
if [ "$installed" != "$VERSION" ]; then
  if [ "$SOURCE" = pypi ]; then
    [ -s "$lock" ] || die "no lock of Synapse $VERSION on stdin"
    synapse_venv_build "$VERSION" "$lock"
  else
    package=$(synapse_package "$SOURCE")
    apt_refresh
    version=$(apt_version_of "$package" "$VERSION")
    [ -n "$version" ] || die "$package has no version $VERSION here any more; nothing was changed"
    apt_locked install -y --download-only --allow-downgrades --no-install-recommends "$package=$version" >&2
  fi
fi

if [ "$MAIN" = true ]; then
  # 2. A backup, unless this very change stopped Synapse already (its gate cut off and run again).
  backup=""
  if ! systemctl is-active --quiet matrix-synapse && [ -f "$record" ] \
      && [ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["what"])' "$record")" = "$what" ]; then
    backup=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["backup"])' "$record")
    [ -d "$backup" ] || backup=""
  fi
  if [ -z "$backup" ]; then
    command -v synapse-backup >/dev/null || die "a version change ($what) starts with a backup, and synapse-backup is not installed here (backups is off):
turn backups on (pulumi config set backups true), apply without the version change, then apply it. Nothing was changed."
    log "backing up before: $what"
    systemctl start synapse-backup.service || die "the backup before $what failed (journalctl -u synapse-backup); nothing was changed"
    backup=$(synapse-backup --status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["run"])')
    install -d -m 0755 "$STATE_DIR"
    python3 -c 'import json,sys,time; json.dump({"what": sys.argv[1], "from": sys.argv[2], "to": sys.argv[3], "backup": sys.argv[4], "time": int(time.time())}, open(sys.argv[5], "w"))' \
      "$what" "$installed" "$VERSION" "$backup" "$record"
  fi
fi

# 3. The workers stop before the main process: none may run on a schema the main process migrates.
mapfile -t workers < <(systemctl list-units --plain --no-legend --state=active "${WORKER_UNIT/@./@*.}" | awk '{ print $1 }')
[ "${#workers[@]}" = 0 ] || systemctl stop "${workers[@]}"
[ "$MAIN" != true ] || systemctl stop matrix-synapse
log "stopped Synapse for: $what (${#workers[@]} worker(s)$([ "$MAIN" = true ] && printf '%s' "; backup $backup"))"
printf 'stopped for %s at %s\n' "$what" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
