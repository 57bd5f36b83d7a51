#!/usr/bin/env bash
# Builds the real Pulumi engine the end-to-end tests run, from the Go module proxy (no Pulumi
# installer works offline): the CLI, the Node.js language host, the random provider, and the
# test stand-in for the command provider; and the real servers the tests need (tests/servers/):
# the Versity S3 gateway as the sandbox's S3-compatible store, and Pebble with
# pebble-challtestsrv as its ACME server and DNS. Each binary is cached outside the clone, keyed by its
# version and a hash of its recipe, so a second run only checks the keys (a few seconds).
#
#   tests/engine/build.sh            # builds what is missing, links it into $SYNAPSE_ENGINE_CACHE/bin
#
# Environment: SYNAPSE_ENGINE_CACHE (default /var/cache/synapse-engine) holds GOPATH, the Go
# build cache, the keyed binaries and bin/ (what the tests put on PATH).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/engine/go-env.sh
. "$here/go-env.sh"
cache=$engine_cache

cli_version=3.274.1
language_host_version=3.68.0 # the newest served: later versions moved it to a module the proxy refuses
random_version=4.21.2
command_version=1.2.1
versitygw_version=1.8.0
pebble_version=2.10.3

log() { printf '[engine] %s\n' "$*" >&2; }
fail() { log "ERROR: $*"; exit 1; }

mkdir -p "$cache/bin" "$cache/plugins" "$cache/servers" "$cache/builds"

# A key for a recipe: its version, the Go version and every file of its directory.
recipe_key() {
  local version=$1 dir=$2
  {
    printf '%s\n' "$version" "$(go env GOVERSION)"
    (cd "$dir" && find . -type f ! -name '*.md' -print0 | sort -z | xargs -0 sha256sum)
    sha256sum "$here/build.sh" "$here/go-env.sh"
  } | sha256sum | cut -c1-16
}

# build DIR NAME VERSION RECIPE_DIR BUILDER...: runs BUILDER with the output path appended,
# unless the keyed binary exists; then links it as DIR/NAME (bin/ for what goes on PATH, plugins/
# for providers, which the CLI would prefer from PATH over the installed plugin, with a warning).
build() {
  local link_dir=$1 name=$2 version=$3 dir=$4
  shift 4
  local key out t0
  key=$(recipe_key "$version" "$dir")
  out="$cache/builds/$name-$version-$key"
  if [ -x "$out" ]; then
    log "$name $version: cached ($key)"
  else
    log "$name $version: building (cold builds take minutes)"
    t0=$(date +%s)
    if ! "$@" "$out.tmp"; then
      rm -f "$out.tmp"
      fail "building $name $version failed (recipe $dir); see the output above"
    fi
    mv -f "$out.tmp" "$out"
    log "$name $version: built in $(($(date +%s) - t0)) s"
  fi
  # A hard link, not a symlink: the CLI looks for its language host next to its own resolved
  # path, and warns ("using … from $PATH") when the one on PATH resolves elsewhere.
  ln -f "$out" "$cache/$link_dir/$name"
  # Older builds of this binary are only disk use now.
  find "$cache/builds" -maxdepth 1 -name "$name-[0-9]*" ! -name "$(basename "$out")" -delete
}

# go_main MODULE_DIR PACKAGE VERSION_LDFLAGS OUTPUT: builds a main package from a wrapper
# module, in a scratch copy so -mod=mod never rewrites the committed go.mod/go.sum.
go_main() {
  local dir=$1 package=$2 ldflags=$3 output=$4 scratch rc=0
  scratch=$(mktemp -d)
  # Called from an `if`, where set -e does not apply: chain every step.
  cp -a "$dir/." "$scratch/" && (cd "$scratch" && go build -trimpath -ldflags "-s -w $ldflags" -o "$output" "$package") || rc=$?
  rm -rf "$scratch"
  return "$rc"
}

build bin pulumi "$cli_version" "$here/cli" go_main "$here/cli" \
  github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
  "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$cli_version"
build bin pulumi-language-nodejs "$language_host_version" "$here/language-host" go_main "$here/language-host" \
  github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs \
  "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$language_host_version"
build plugins pulumi-resource-random "$random_version" "$here/random" bash "$here/random/build.sh"
build plugins pulumi-resource-command "$command_version" "$here/command-provider" bash "$here/command-provider/build.sh"

servers=$(cd "$here/../servers" && pwd)
build servers versitygw "$versitygw_version" "$servers/versitygw" go_main "$servers/versitygw" \
  github.com/versity/versitygw/cmd/versitygw ""
for p in pebble pebble-challtestsrv; do
  build servers "$p" "$pebble_version" "$servers/pebble" go_main "$servers/pebble" "github.com/letsencrypt/pebble/v2/cmd/$p" ""
done

"$cache/bin/pulumi" version >/dev/null || fail "the built pulumi CLI does not run"
log "ready: $cache/bin (CLI, language host), $cache/plugins (random, command), $cache/servers (versitygw, pebble)"
