#!/usr/bin/env bash
# Builds the Pulumi random resource plugin (pulumi-resource-random, version 4.21.2) from the Go
# module proxy: the Terraform random provider served through the Pulumi Terraform bridge. See
# README.md beside this script.
#
#   tests/engine/random/build.sh OUTPUT_PATH
#
# Two steps, both in a scratch copy of this module (so `-mod=mod` never rewrites the committed
# go.mod/go.sum, and the generated files never land in the repo):
#   1. build and run pulumi-tfgen-random, which writes the package schema and the bridge metadata;
#   2. build pulumi-resource-random, which embeds them, to OUTPUT_PATH.
#
# Environment: SYNAPSE_ENGINE_CACHE (default /var/cache/synapse-engine) holds the Go module and
# build caches (../go-env.sh).
set -euo pipefail

log() { printf '[random] %s\n' "$*" >&2; }
fail() { log "ERROR: $*"; exit 1; }

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 OUTPUT_PATH" >&2
  exit 2
fi
case $1 in
  /*) output=$1 ;;
  *) output=$PWD/$1 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
version=4.21.2
# shellcheck source=tests/engine/go-env.sh
. "$here/../go-env.sh"
mkdir -p "$(dirname "$output")" || fail "cannot create the directory of $output"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/pulumi-random-build.XXXXXX")
trap 'rm -rf "$scratch" "$output.partial"' EXIT
mkdir -p "$scratch/module" || fail "cannot create $scratch/module"
cp -a "$here/." "$scratch/module/" || fail "cannot copy $here to a scratch directory"
cd "$scratch/module"
gen_dir=$scratch/module/cmd/pulumi-resource-random

t0=$(date +%s)
log "building pulumi-tfgen-random (downloads modules on a cold cache)"
go build -trimpath -o "$scratch/pulumi-tfgen-random" ./cmd/pulumi-tfgen-random ||
  fail "building pulumi-tfgen-random failed; see the Go output above"

log "generating the schema and bridge metadata with tfgen"
# tfgen must not touch the user's ~/.pulumi or try to download plugins.
if ! PULUMI_HOME=$scratch/pulumi-home PULUMI_SKIP_UPDATE_CHECK=true \
  PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true \
  "$scratch/pulumi-tfgen-random" "$gen_dir" >"$scratch/tfgen.log" 2>&1; then
  tail -n 40 "$scratch/tfgen.log" >&2
  fail "tfgen failed to generate the schema (last lines of its output above)"
fi
for f in schema-embed.json bridge-metadata.json; do
  [ -s "$gen_dir/$f" ] || fail "tfgen did not write $f"
done
grep -q '"random:index/randomPassword:RandomPassword"' "$gen_dir/schema-embed.json" ||
  fail "the generated schema has no random:index/randomPassword:RandomPassword"
log "schema: $(wc -c <"$gen_dir/schema-embed.json") bytes"

log "building pulumi-resource-random $version"
go build -trimpath -ldflags "-s -w" -o "$output.partial" ./cmd/pulumi-resource-random ||
  fail "building pulumi-resource-random failed; see the Go output above"

reported=$("$output.partial" -version 2>&1) || fail "the built plugin does not run: $reported"
[ "$reported" = "$version" ] || fail "the built plugin reports version '$reported', expected $version"
mv -f "$output.partial" "$output"
log "built $output ($version) in $(($(date +%s) - t0)) s"
