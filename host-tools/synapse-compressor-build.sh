#!/usr/bin/env bash
# synapse-compressor-build: builds synapse_auto_compressor once, from the pinned source the
# synapse Pulumi program fetched (PyPI's sdist, SHA-256 checked) with our state-map crate patched
# in for the one dependency no registry serves. Run by synapse-compressor-build.service in the
# background at idle priority; does nothing when the binary for this recipe exists.
# Settings (version, sdist, state_map, binary) in /etc/synapse-deploy/compressor-build.conf.
set -euo pipefail
conf=${SYNAPSE_COMPRESSOR_BUILD_CONF:-/etc/synapse-deploy/compressor-build.conf}
# shellcheck disable=SC1090
. "$conf"
: "${version:?} ${sdist:?} ${state_map:?} ${binary:?}"
log() { printf 'synapse-compressor-build: %s\n' "$*"; }

if [ -x "$binary" ]; then
  log "already built: $binary"
  exit 0
fi
started=$(date +%s)
work=${SYNAPSE_COMPRESSOR_WORK:-/var/cache/synapse-deploy/compressor-build}
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
tar -xzf "$sdist" -C "$work"
src=$work/synapse_auto_compressor-$version
[ -f "$src/Cargo.toml" ] || { log "ERROR: $sdist has no synapse_auto_compressor-$version/Cargo.toml"; exit 1; }
mkdir -p "$src/.cargo"
cat >"$src/.cargo/config.toml" <<TOML
[patch."https://github.com/matrix-org/rust-matrix-state-map"]
state-map = { path = "$state_map" }
TOML

# One compiler at a time below 4 GiB of RAM: each rustc may take several hundred MiB.
mem_kib=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
jobs=$(nproc)
if [ "$mem_kib" -lt $((4 * 1024 * 1024)) ]; then jobs=1; fi
log "building synapse_auto_compressor $version with $jobs job(s), crates from crates.io"
export CARGO_HOME=$work/cargo CARGO_TARGET_DIR=$work/target
(cd "$src" && cargo build --release --jobs "$jobs" -p synapse_auto_compressor)
built=$CARGO_TARGET_DIR/release/synapse_auto_compressor
"$built" --version >/dev/null

install -d -m 0755 "$(dirname "$binary")"
install -m 0755 "$built" "$binary.tmp"
mv -f "$binary.tmp" "$binary"
# Builds of earlier recipes are no longer used by anything.
for old in "$(dirname "$(dirname "$binary")")"/*/; do
  case "$old" in */src/ | "$(dirname "$binary")/") ;; *) rm -rf "$old" ;; esac
done
log "built $binary ($(stat -c %s "$binary") bytes) in $(($(date +%s) - started)) s"
