#!/usr/bin/env bash
# Tests, then builds the test stand-in for the Pulumi Command provider 1.2.1 (see README.md) to
# OUTPUT_PATH.
#
#   tests/engine/command-provider/build.sh OUTPUT_PATH
#
# The build runs in a scratch copy of this directory, so -mod=mod never rewrites the committed
# go.mod/go.sum. Environment: SYNAPSE_ENGINE_CACHE (default /var/cache/synapse-engine) holds the
# GOPATH (module cache) and the Go build cache, shared with the other engine builds.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 OUTPUT_PATH" >&2
  exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
output=$1
case $output in
  /*) ;;
  *) output="$PWD/$output" ;;
esac

# shellcheck source=tests/engine/go-env.sh
. "$here/../go-env.sh"

fail() {
  printf '[command-provider] ERROR: %s\n' "$*" >&2
  exit 1
}


scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -a "$here/." "$scratch/"

# The stand-in is only as good as its conformance: no binary unless its own tests pass.
if ! (cd "$scratch" && go test ./... >&2); then
  fail "the command provider stand-in's tests failed (module $here); see the Go output above"
fi
if ! (cd "$scratch" && go build -trimpath -ldflags "-s -w" -o "$output" .); then
  fail "building the command provider stand-in failed (module $here); see the Go output above"
fi
[ -x "$output" ] || fail "the build produced no executable at $output"
