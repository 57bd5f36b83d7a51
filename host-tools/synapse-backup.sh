#!/usr/bin/env bash
# synapse-backup: backs up the homeserver on its own VPS. Installed on the Synapse VPS by the
# synapse Pulumi program and run by synapse-backup.timer (nightly by default) and by hand.
#   synapse-backup                   one backup run (as the timer does)
#   synapse-backup --status [--json] the last good backup: when, its age, where, what it holds
#   synapse-backup --list [--json]   the runs kept here and in the off-host copy
# Each run is a directory of its own under $dir/runs/<UTC time>, written as <time>.partial and
# renamed when complete (a failed run removes its .partial), every file 0600:
#   synapse.dump        pg_dump -Fc of Synapse's database, checked by reading it back (pg_restore --list)
#   signing.key         the federation identity
#   config.tar          /etc/matrix-synapse: homeserver.yaml, conf.d (secrets included), workers
#   deploy-state.tar    /etc/synapse-deploy and /var/lib/synapse-deploy (this program's state)
#   meta.json           the server name and the events and users counted at dump time
#   SHA256SUMS
# Local media (unless it lives in a bucket) goes to one mirror, $dir/media, copying only files it
# does not have yet (Synapse never rewrites a media file). The newest `keep` runs are kept.
# With an off-host copy (`offsite` names its rclone settings), each run then goes to the bucket as
# one age-encrypted archive, runs/<time>.tar.age (the newest `keep` are kept there too), and each
# media file not yet there as media/<path>.age. The VPS holds only the public key: what is in the
# bucket cannot be read with anything on the VPS.
# A failed run exits 1 with the reason in the journal and leaves the last good one in place; a
# failed off-host copy exits 1 too, keeping the local run.
# Settings (dir, keep, media, offsite) in /etc/synapse-deploy/backup.conf.
set -euo pipefail
conf=${SYNAPSE_BACKUP_CONF:-$TOOL_CONF}
# shellcheck disable=SC1090
. "$conf"
: "${dir:?} ${keep:?} ${media:?}"
offsite=${offsite:-}
status_file=${SYNAPSE_BACKUP_STATUS:-$DEPLOY_STATE/backup-status.json}
etc=${SYNAPSE_BACKUP_ETC:-$SYNAPSE_ETC}
media_dir=${SYNAPSE_BACKUP_MEDIA:-$SYNAPSE_MEDIA}
state_root=${SYNAPSE_BACKUP_STATE_ROOT:-/}
log() { printf 'synapse-backup: %s\n' "$*"; }
fail() { printf 'synapse-backup: ERROR: %s\n' "$*" >&2; exit 1; }
# The complete runs (a run's name is its UTC start time; an unfinished one ends in .partial), with find's further arguments.
complete_runs() { find "$dir/runs" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended -regex ".*/$BACKUP_RUN_PATTERN" "$@"; }

if [ "${1:-}" = --status ]; then
  [ -r "$status_file" ] || { echo "synapse-backup: no backup has succeeded on this host yet" >&2; exit 1; }
  python3 - "$status_file" "${2:-}" <<'PY'
import json, sys, time
status = json.load(open(sys.argv[1]))
status["ageSeconds"] = int(time.time()) - status["time"]
if sys.argv[2] == "--json":
    print(json.dumps(status))
else:
    age = status["ageSeconds"]
    print(f"last good backup: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(status['time']))} ({age // 3600} h {age % 3600 // 60} min ago)")
    print(f"where: {status['run']} on this VPS")
    off = status.get("offsite")
    if off:
        off_age = int(time.time()) - off["time"]
        print(f"off-host: {off['object']} ({off_age // 3600} h {off_age % 3600 // 60} min ago; {off['mediaFiles']} media files there)")
    else:
        print("off-host: none (a backup that never leaves the VPS dies with it)")
    if status.get("offsiteError"):
        print(f"last off-host copy FAILED: {status['offsiteError']}")
    print(f"database dump: {status['databaseBytes'] / 1048576:.1f} MiB; media mirror: {status['mediaFiles']} files")
PY
  exit 0
fi

# rclone reads the remote "offsite" from the environment file alone.
load_offsite() {
  set -a
  # shellcheck disable=SC1090
  . "$offsite"
  set +a
  export RCLONE_CONFIG=/dev/null
  : "${OFFSITE_REMOTE:?} ${OFFSITE_RECIPIENT:?}"
}

if [ "${1:-}" = --list ]; then
  # None yet (no run has made the directory) is an empty list, not a failure.
  local_runs=$(complete_runs -printf '%f\n' 2>/dev/null | sort || true)
  offsite_runs=""
  if [ -n "$offsite" ]; then
    load_offsite
    offsite_runs=$(rclone lsf --files-only "$OFFSITE_REMOTE/runs/" | sed -n 's/\.tar\.age$//p' | sort) || exit 1
  fi
  if [ "${2:-}" = --json ]; then
    python3 -c 'import json, sys; print(json.dumps({"local": sys.argv[1].split(), "offsite": sys.argv[2].split(), "offsiteConfigured": sys.argv[3] != ""}))' \
      "$local_runs" "$offsite_runs" "$offsite"
  else
    printf 'on this VPS (%s/runs):\n' "$dir"
    printf '%s\n' "$local_runs" | sed '/^$/d; s/^/  /'
    if [ -n "$offsite" ]; then
      printf 'off-host (%s/runs):\n' "$OFFSITE_REMOTE"
      printf '%s\n' "$offsite_runs" | sed '/^$/d; s/^/  /'
    fi
  fi
  exit 0
fi

umask 077
started=$(date +%s)
stamp=$(date -u +"$BACKUP_RUN_FORMAT")
runs=$dir/runs
install -d -m 0700 "$dir" "$runs"
rm -rf "$runs"/*.partial
partial=$runs/$stamp.partial
mkdir "$partial"
# A run that fails leaves nothing half-written behind.
trap 'rm -rf "$partial"' EXIT

# The database, as Synapse's role through Synapse's own passfile (so a database box works too).
IFS=: read -r host port db user _ <"$etc/pgpass"
PGPASSFILE=$etc/pgpass pg_dump -Fc -h "$host" -p "$port" -U "$user" -d "$db" -f "$partial/synapse.dump" \
  || fail "pg_dump of $db on $host failed"
tables=$(pg_restore --list "$partial/synapse.dump" | grep -c ' TABLE DATA ') || fail "the dump does not read back"
[ "$tables" -gt 0 ] || fail "the dump holds no table data"

# Identity, config and this program's state, each in a file of its own.
cp "$etc/homeserver.signing.key" "$partial/signing.key" || fail "cannot read the signing key"
tar -C "$(dirname "$etc")" -cf "$partial/config.tar" "$(basename "$etc")" || fail "cannot archive $etc"
deploy_state=()
for d in "${DEPLOY_CONFIG#/}" "${DEPLOY_STATE#/}"; do [ -d "$state_root/$d" ] && deploy_state+=("$d"); done
[ ${#deploy_state[@]} -gt 0 ] || fail "neither $DEPLOY_CONFIG nor $DEPLOY_STATE exists: is this a deployed host?"
tar -C "$state_root" -cf "$partial/deploy-state.tar" --exclude="${DEPLOY_STATE#/}/staged" "${deploy_state[@]}" \
  || fail "cannot archive the deployment's state"
server_name=$(sed -n 's/^server_name:[[:space:]]*["'\'']\{0,1\}\([^"'\'' ]*\).*$/\1/p' "$etc/homeserver.yaml" | head -n 1)
read -r events users < <(PGPASSFILE=$etc/pgpass psql -XAt -F ' ' -h "$host" -p "$port" -U "$user" -d "$db" \
  -c 'SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM users)') || fail "cannot count events and users in $db"
printf '{"serverName":"%s","events":%s,"users":%s}\n' "$server_name" "$events" "$users" >"$partial/meta.json"
(cd "$partial" && sha256sum -- * >SHA256SUMS)

new_media=0
if [ "$media" = local ] && [ -d "$media_dir" ]; then
  install -d -m 0700 "$dir/media"
  while IFS= read -r -d '' f; do
    if [ ! -e "$dir/media/$f" ]; then
      install -D -m 0600 "$media_dir/$f" "$dir/media/$f" || fail "cannot copy media $f"
      new_media=$((new_media + 1))
    fi
  done < <(cd "$media_dir" && find . -type f -printf '%P\0')
fi
media_files=0
[ -d "$dir/media" ] && media_files=$(find "$dir/media" -type f | wc -l)

mv "$partial" "$runs/$stamp"
trap - EXIT
# The newest `keep` runs stay.
complete_runs | sort | head -n -"$keep" | xargs -r rm -rf
dump_bytes=$(stat -c %s "$runs/$stamp/synapse.dump")
summary="backup $stamp: database $(awk -v b="$dump_bytes" 'BEGIN { printf "%.1f MiB", b / 1048576 }') ($tables tables), signing key, config, deploy state; media: $new_media new of $media_files files; $(complete_runs | wc -l) runs kept"

# The off-host copy: the run as one encrypted archive (written here first, so a failure never
# leaves half an object), then the media files the bucket lacks, each encrypted on its own.
offsite_object="" offsite_media=0 offsite_error=""
copy_offsite() {
  load_offsite
  local staging=$dir/offsite-staging list=$dir/offsite-media.list
  rm -rf "$staging"
  install -d -m 0700 "$staging" "$staging/media"
  tar -C "$runs/$stamp" -cf - . | age -r "$OFFSITE_RECIPIENT" -o "$staging/$stamp.tar.age" || return 1
  rclone copyto "$staging/$stamp.tar.age" "$OFFSITE_REMOTE/runs/$stamp.tar.age" || return 1
  offsite_object="$OFFSITE_REMOTE/runs/$stamp.tar.age"
  touch "$list"
  local new_list=$staging/new
  if [ -d "$dir/media" ]; then
    comm -23 <(cd "$dir/media" && find . -type f -printf '%P\n' | sort) <(sort -u "$list") >"$new_list"
  else
    : >"$new_list"
  fi
  while IFS= read -r f; do
    install -d -m 0700 "$(dirname "$staging/media/$f")"
    age -r "$OFFSITE_RECIPIENT" -o "$staging/media/$f.age" "$dir/media/$f" || return 1
  done <"$new_list"
  if [ -s "$new_list" ]; then
    rclone copy "$staging/media" "$OFFSITE_REMOTE/media" || return 1
    cat "$new_list" >>"$list"
  fi
  offsite_media=$(sort -u "$list" | wc -l)
  # The newest `keep` runs stay there too; media stays (it is the only copy of deleted files' history).
  rclone lsf --files-only "$OFFSITE_REMOTE/runs/" | sed -n '/\.tar\.age$/p' | sort | head -n -"$keep" \
    | while IFS= read -r old; do rclone deletefile "$OFFSITE_REMOTE/runs/$old" || exit 1; done || return 1
  summary="$summary; off-host: $offsite_object, $(wc -l <"$new_list") new media files"
  rm -rf "$staging"
}
if [ -n "$offsite" ]; then
  copy_offsite || offsite_error="the off-host copy to ${OFFSITE_REMOTE:-$offsite} failed (the local run $stamp is kept)"
fi

tmp=$(mktemp "$(dirname "$status_file")/.backup-status.XXXXXX")
RUN="$runs/$stamp" DUMP_BYTES=$dump_bytes TABLES=$tables MEDIA_FILES=$media_files NEW_MEDIA=$new_media \
  OFFSITE_OBJECT=$offsite_object OFFSITE_MEDIA=$offsite_media OFFSITE_ERROR=$offsite_error \
  python3 - "$status_file" "$tmp" <<'PY' || fail "cannot write $status_file"
import json, os, sys, time
e = os.environ
old = {}
if os.path.exists(sys.argv[1]):
    try:
        old = json.load(open(sys.argv[1]))
    except ValueError:
        pass
status = {"time": int(time.time()), "run": e["RUN"], "databaseBytes": int(e["DUMP_BYTES"]), "tables": int(e["TABLES"]),
          "mediaFiles": int(e["MEDIA_FILES"]), "newMediaFiles": int(e["NEW_MEDIA"]), "offsite": old.get("offsite")}
if e["OFFSITE_OBJECT"]:
    status["offsite"] = {"time": status["time"], "object": e["OFFSITE_OBJECT"], "mediaFiles": int(e["OFFSITE_MEDIA"])}
if e["OFFSITE_ERROR"]:
    status["offsiteError"] = e["OFFSITE_ERROR"]
json.dump(status, open(sys.argv[2], "w"))
PY
chmod 0600 "$tmp"
mv -f "$tmp" "$status_file"
[ -z "$offsite_error" ] || fail "$offsite_error"
log "$summary; $(($(date +%s) - started)) s"
