#!/usr/bin/env bash
# synapse-restore: brings a homeserver back from a synapse-backup run. Installed on the Synapse
# VPS by the synapse Pulumi program; run by its restore step (restoreFrom) before Synapse first
# starts on a new VPS, and by `npm run admin -- restore` on a running homeserver.
#   synapse-restore [options] SOURCE
# SOURCE: offsite (the newest run in the off-host copy), offsite:<run>, <run> (a run kept on this
# VPS), or the absolute path of a run directory or a run archive (.tar, or .tar.age: encrypted).
# Options:
#   --identity FILE     the age private key that decrypts the source ("-": read it from stdin)
#   --offsite-env FILE  the off-host copy's settings (default: the one backup.conf names)
#   --pgpass FILE       Synapse's passfile, naming the database (default: Synapse's own)
#   --server-name NAME  refuse a backup of another server
#   --once              do nothing when this source was restored here already (the deploy step)
#   --overwrite         replace a homeserver that has data; without it, such a restore is refused.
#                       Synapse is stopped first, and the current state is backed up first
#                       (unless --no-safety-backup).
#   --start             start Synapse (and the workers that ran) afterwards, and wait for /health
# What it does: fetches (and decrypts) the run into a 0700 scratch directory; checks SHA256SUMS,
# the server name, that the database's collation is C and that the homeserver has no data;
# pg_restore into the database as Synapse's role in one transaction; compares the events and
# users with the counts taken at backup time; puts the signing key back; puts back the media
# files the media store lacks (from the off-host copy, the run itself, or this VPS's mirror);
# records what it did in /var/lib/synapse-deploy/restored.json. One summary line on stdout.
set -euo pipefail
conf=${SYNAPSE_BACKUP_CONF:-$TOOL_CONF}
etc=${SYNAPSE_BACKUP_ETC:-$SYNAPSE_ETC}
media_dir=${SYNAPSE_BACKUP_MEDIA:-$SYNAPSE_MEDIA}
marker=${SYNAPSE_RESTORE_MARKER:-$DEPLOY_STATE/restored.json}
health_url=${SYNAPSE_HEALTH_URL:-$SYNAPSE_URL/health}
dir=$BACKUP_DIR
offsite=""
# shellcheck disable=SC1090
[ ! -r "$conf" ] || . "$conf"
log() { printf 'synapse-restore: %s\n' "$*" >&2; }
fail() { printf 'synapse-restore: ERROR: %s\n' "$*" >&2; exit 1; }

identity="" pgpass=$etc/pgpass server_name="" once=0 overwrite=0 safety=1 start=0 source=""
while [ $# -gt 0 ]; do
  case $1 in
    --identity) identity=$2; shift ;;
    --offsite-env) offsite=$2; shift ;;
    --pgpass) pgpass=$2; shift ;;
    --server-name) server_name=$2; shift ;;
    --once) once=1 ;;
    --overwrite) overwrite=1 ;;
    --no-safety-backup) safety=0 ;;
    --start) start=1 ;;
    -*) fail "unknown option $1" ;;
    *) [ -z "$source" ] || fail "one source only (given $source and $1)"; source=$1 ;;
  esac
  shift
done
[ -n "$source" ] || fail "no source: offsite, offsite:<run>, <run> or the path of a run directory or archive"

if [ "$once" = 1 ] && [ -r "$marker" ] && [ "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["source"])' "$marker")" = "$source" ]; then
  echo "already restored from $source: $(python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); print(m["run"], "at", m["restoredAt"])' "$marker")"
  exit 0
fi

umask 077
work=$(mktemp -d /var/tmp/synapse-restore.XXXXXX)
trap 'rm -rf "$work"' EXIT
run_dir=$work/run
mkdir "$run_dir"
if [ "$identity" = - ]; then
  cat >"$work/identity"
  identity=$work/identity
fi
decrypt() { [ -n "$identity" ] || fail "$1 is encrypted: give the age private key (--identity)"; age -d -i "$identity" "${@:2}"; }

# 1. The run, in a scratch directory; media_from says where its media comes from.
media_from=""
case $source in
  offsite | offsite:*)
    { [ -n "$offsite" ] && [ -r "$offsite" ]; } || fail "no off-host copy is configured here (backupBucket)"
    set -a
    # shellcheck disable=SC1090
    . "$offsite"
    set +a
    export RCLONE_CONFIG=/dev/null
    run=${source#offsite}
    run=${run#:}
    if [ -z "$run" ]; then
      run=$(rclone lsf --files-only "$OFFSITE_REMOTE/runs/" | sed -n 's/\.tar\.age$//p' | sort | tail -n 1) \
        || fail "cannot list $OFFSITE_REMOTE/runs"
      [ -n "$run" ] || fail "$OFFSITE_REMOTE/runs holds no backup run"
    fi
    rclone copyto "$OFFSITE_REMOTE/runs/$run.tar.age" "$work/run.tar.age" || fail "cannot fetch $OFFSITE_REMOTE/runs/$run.tar.age"
    decrypt "$source" -o "$work/run.tar" "$work/run.tar.age" || fail "cannot decrypt $run.tar.age with the given identity"
    tar -C "$run_dir" -xf "$work/run.tar"
    rm -f "$work/run.tar" "$work/run.tar.age"
    media_from=offsite ;;
  /*.tar.age)
    decrypt "$source" "$source" | tar -C "$run_dir" -xf - || fail "cannot decrypt and unpack $source"
    run=$(basename "$source" .tar.age) ;;
  /*.tar)
    tar -C "$run_dir" -xf "$source" || fail "cannot unpack $source"
    run=$(basename "$source" .tar) ;;
  /*)
    [ -d "$source" ] || fail "$source is neither a run directory nor a .tar or .tar.age archive"
    cp -a "$source/." "$run_dir/"
    run=$(basename "$source") ;;
  *)
    [ -d "$dir/runs/$source" ] || fail "no run $source in $dir/runs (synapse-backup --list shows them)"
    cp -a "$dir/runs/$source/." "$run_dir/"
    run=$source ;;
esac
if [ -z "$media_from" ]; then
  if [ -d "$run_dir/media" ]; then media_from=run
  elif [ "$source" = "$run" ] || [ "$(dirname "$source")" = "$dir/runs" ]; then media_from=mirror
  fi
fi
(cd "$run_dir" && sha256sum --quiet -c SHA256SUMS) || fail "run $run fails its SHA256SUMS: it is damaged"
read -r backup_server events users < <(python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); print(m["serverName"], m["events"], m["users"])' "$run_dir/meta.json") \
  || fail "run $run has no readable meta.json"
[ -z "$server_name" ] || [ "$backup_server" = "$server_name" ] \
  || fail "run $run is a backup of $backup_server, not of $server_name: nothing was changed"

# 2. The target: Synapse's database (collation C), its media store and its signing key.
[ -r "$pgpass" ] || fail "cannot read Synapse's passfile $pgpass"
IFS=: read -r host port db user _ <"$pgpass"
sql() { PGPASSFILE=$pgpass psql -XAtq -v ON_ERROR_STOP=1 -h "$host" -p "$port" -U "$user" -d "$db" "$@"; }
collation=$(sql -c 'SELECT datcollate || $$/$$ || datctype FROM pg_database WHERE datname = current_database()') \
  || fail "cannot reach database $db on $host as $user"
[ "$collation" = C/C ] || fail "database $db has collation $collation; Synapse needs C/C (PostgresDatabase creates it so)"
tables=$(sql -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
media_now=0
[ ! -d "$media_dir" ] || media_now=$(find "$media_dir" -type f | wc -l)
key_differs=0
if [ -s "$etc/homeserver.signing.key" ] && ! cmp -s "$etc/homeserver.signing.key" "$run_dir/signing.key"; then key_differs=1; fi
if [ "$tables" -gt 0 ] || [ "$media_now" -gt 0 ] || [ "$key_differs" = 1 ]; then
  what="$tables tables in $db, $media_now media files, $([ "$key_differs" = 1 ] && echo "another signing key" || echo "the same signing key")"
  [ "$overwrite" = 1 ] || fail "refusing to restore over a homeserver that has data ($what). Restore onto a new VPS, or ask for it explicitly (restoreOverwrite, or --overwrite): nothing was changed"
  log "replacing a homeserver that has data ($what)"
  if [ "$safety" = 1 ] && [ "$tables" -gt 0 ] && command -v synapse-backup >/dev/null; then
    synapse-backup >&2 || fail "the safety backup of the current state failed (--no-safety-backup skips it): nothing was changed"
  fi
fi

# 3. Synapse stays down while its database and key change.
was_active=$(systemctl list-units --type=service --state=active --plain --no-legend 'matrix-synapse*' 2>/dev/null | awk '{print $1}')
if [ -n "$was_active" ]; then
  # shellcheck disable=SC2086
  systemctl stop $was_active
fi
if [ "$tables" -gt 0 ]; then
  sql -c 'DROP SCHEMA public CASCADE' -c 'CREATE SCHEMA public' || fail "cannot empty database $db"
fi
PGPASSFILE=$pgpass pg_restore --no-owner --no-acl --single-transaction --exit-on-error \
  -h "$host" -p "$port" -U "$user" -d "$db" "$run_dir/synapse.dump" || fail "pg_restore of run $run into $db failed (rolled back)"
read -r events_now users_now < <(sql -F ' ' -c 'SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM users)')
{ [ "$events_now" = "$events" ] && [ "$users_now" = "$users" ]; } \
  || fail "the restored database has $events_now events and $users_now users; the backup counted $events and $users"

install -d "$etc"
install -m 0600 "$run_dir/signing.key" "$etc/homeserver.signing.key"
chown matrix-synapse: "$etc/homeserver.signing.key" 2>/dev/null || true
key_id=$(awk '{ print $1 ":" $2; exit }' "$run_dir/signing.key")

# 4. Media files the store lacks (Synapse never rewrites one, so existing files stay).
restored_media=0
put_media() { # <source file> <path in the media store>
  [ -e "$media_dir/$2" ] && return 0
  install -d "$(dirname "$media_dir/$2")"
  "${@:3}" "$1" "$media_dir/$2"
  restored_media=$((restored_media + 1))
}
case $media_from in
  offsite)
    rclone copy "$OFFSITE_REMOTE/media" "$work/media" || fail "cannot fetch the media from $OFFSITE_REMOTE/media"
    while IFS= read -r -d '' f; do
      [ -e "$media_dir/${f%.age}" ] && continue
      install -d "$(dirname "$media_dir/${f%.age}")"
      decrypt "$source" -o "$media_dir/${f%.age}" "$work/media/$f" || fail "cannot decrypt media $f"
      restored_media=$((restored_media + 1))
    done < <(cd "$work/media" 2>/dev/null && find . -type f -name '*.age' -printf '%P\0')
    ;;
  run | mirror)
    from=$run_dir/media
    [ "$media_from" = run ] || from=$dir/media
    while IFS= read -r -d '' f; do put_media "$from/$f" "$f" cp -p || fail "cannot restore media $f"; done \
      < <(cd "$from" 2>/dev/null && find . -type f -printf '%P\0')
    ;;
esac
if [ -d "$media_dir" ]; then chown -R matrix-synapse: "$media_dir" 2>/dev/null || true; fi

# 5. The secrets come from the stack; say whether they are the backup's.
secrets_note="no secrets.yaml in the backup"
if tar -C "$work" -xf "$run_dir/config.tar" matrix-synapse/conf.d/secrets.yaml 2>/dev/null; then
  secrets_note="secrets differ from the backup's (the stack's are used)"
  for candidate in "${SYNAPSE_RESTORE_SECRETS:-}" "$etc/conf.d/secrets.yaml"; do
    if [ -n "$candidate" ] && [ -r "$candidate" ]; then
      ! cmp -s "$candidate" "$work/matrix-synapse/conf.d/secrets.yaml" || secrets_note="secrets identical to the backup's"
      break
    fi
  done
fi

install -d "$(dirname "$marker")"
RESTORE_SOURCE=$source RESTORE_RUN=$run EVENTS=$events USERS=$users MEDIA=$restored_media KEY_ID=$key_id python3 - "$marker" <<'PY'
import json, os, sys, time
e = os.environ
json.dump({"source": e["RESTORE_SOURCE"], "run": e["RESTORE_RUN"], "restoredAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "events": int(e["EVENTS"]), "users": int(e["USERS"]), "mediaFiles": int(e["MEDIA"]), "signingKey": e["KEY_ID"]},
          open(sys.argv[1], "w"))
PY

if [ "$start" = 1 ]; then
  # shellcheck disable=SC2086
  systemctl start ${was_active:-matrix-synapse.service}
  for _ in $(seq 1 120); do
    if curl -fsS -o /dev/null "$health_url"; then break; fi
    sleep 1
  done
  curl -fsS -o /dev/null "$health_url" || fail "restored, but Synapse did not answer $health_url within 120 s"
fi
echo "restored run $run from $source: $events events, $users users, $restored_media media files; signing key $key_id; $secrets_note"
