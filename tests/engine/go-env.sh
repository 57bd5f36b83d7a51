#!/usr/bin/env bash
# Sourced by the engine's build scripts: Go builds from the module proxy only, with the machine's
# Go, and the module and build caches under $SYNAPSE_ENGINE_CACHE (default
# /var/cache/synapse-engine), outside the clone. -mod=mod lets the wrapper modules resolve what
# their go.sum does not pin yet; the scripts build in scratch copies, so the repo's go.mod and
# go.sum are never rewritten.
engine_cache=${SYNAPSE_ENGINE_CACHE:-/var/cache/synapse-engine}
export GOPATH=$engine_cache/go
export GOMODCACHE=$GOPATH/pkg/mod
export GOCACHE=$engine_cache/gocache
export GOTOOLCHAIN=local
case " ${GOFLAGS:-} " in
  *" -mod="*) ;;
  *) export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod" ;;
esac
command -v go >/dev/null || { echo "Go is not installed: the Pulumi engine for the tests is built from the Go module proxy" >&2; exit 1; }
