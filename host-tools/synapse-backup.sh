#!/usr/bin/env bash
# synapse-backup: backs up the homeserver on its own VPS. Installed on the Synapse VPS by the
# synapse Pulumi program and run by synapse-backup.timer (nightly by default) and by hand.
#   synapse-backup                   one backup run (as the timer does)
#   synapse-backup --status [--json] the last good backup: when, its age, where, what it holds
# Each run is a directory of its own under $dir/runs/<UTC time>, written as <time>.partial and
# renamed when complete (a failed run removes its .partial), every file 0600:
#   synapse.dump        pg_dump -Fc of Synapse's database, checked by reading it back (pg_restore --list)
#   signing.key         the federation identity
#   config.tar          /etc/matrix-synapse: homeserver.yaml, conf.d (secrets included), workers
#   deploy-state.tar    /etc/synapse-deploy and /var/lib/synapse-deploy (this program's state)
#   SHA256SUMS
# Local media (unless it lives in a bucket) goes to one mirror, $dir/media, copying only files it
# does not have yet (Synapse never rewrites a media file). The newest `keep` runs are kept.
# A failed run exits 1 with the reason in the journal and leaves the last good one in place.
# Settings (dir, keep, media) in /etc/synapse-deploy/backup.conf.
set -euo pipefail
conf=${SYNAPSE_BACKUP_CONF:-/etc/synapse-deploy/backup.conf}
# shellcheck disable=SC1090
. "$conf"
: "${dir:?} ${keep:?} ${media:?}"
status_file=${SYNAPSE_BACKUP_STATUS:-/var/lib/synapse-deploy/backup-status.json}
etc=${SYNAPSE_BACKUP_ETC:-/etc/matrix-synapse}
media_dir=${SYNAPSE_BACKUP_MEDIA:-/var/lib/matrix-synapse/media}
state_root=${SYNAPSE_BACKUP_STATE_ROOT:-/}
log() { printf 'synapse-backup: %s\n' "$*"; }
fail() { printf 'synapse-backup: ERROR: %s\n' "$*" >&2; exit 1; }

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
    print(f"where: {status['run']} (on this VPS only)")
    print(f"database dump: {status['databaseBytes'] / 1048576:.1f} MiB; media mirror: {status['mediaFiles']} files")
PY
  exit 0
fi

umask 077
started=$(date +%s)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
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
for d in etc/synapse-deploy var/lib/synapse-deploy; do [ -d "$state_root/$d" ] && deploy_state+=("$d"); done
[ ${#deploy_state[@]} -gt 0 ] || fail "neither /etc/synapse-deploy nor /var/lib/synapse-deploy exists: is this a deployed host?"
tar -C "$state_root" -cf "$partial/deploy-state.tar" --exclude=var/lib/synapse-deploy/staged "${deploy_state[@]}" \
  || fail "cannot archive the deployment's state"
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
find "$runs" -mindepth 1 -maxdepth 1 -type d -name '*Z' | sort | head -n -"$keep" | xargs -r rm -rf
dump_bytes=$(stat -c %s "$runs/$stamp/synapse.dump")
tmp=$(mktemp "$(dirname "$status_file")/.backup-status.XXXXXX")
printf '{"time":%s,"run":"%s","databaseBytes":%s,"tables":%s,"mediaFiles":%s,"newMediaFiles":%s}\n' \
  "$(date +%s)" "$runs/$stamp" "$dump_bytes" "$tables" "$media_files" "$new_media" >"$tmp"
chmod 0600 "$tmp"
mv -f "$tmp" "$status_file"
log "backup $stamp: database $(awk -v b="$dump_bytes" 'BEGIN { printf "%.1f MiB", b / 1048576 }') ($tables tables), signing key, config, deploy state; media: $new_media new of $media_files files; $(find "$runs" -mindepth 1 -maxdepth 1 -type d -name '*Z' | wc -l) runs kept; $(($(date +%s) - started)) s"
