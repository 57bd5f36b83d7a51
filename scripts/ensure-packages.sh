#!/usr/bin/env bash
# Installs Debian packages a host tool needs (in one apt transaction), unless they are there.
# Parameters: PACKAGES (space-separated).
: "${PACKAGES:?}"
# shellcheck disable=SC2086 # one word per package
ensure_packages $PACKAGES
printf 'packages: %s\n' "$PACKAGES"
