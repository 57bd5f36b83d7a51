#!/usr/bin/env bash
# Installs synadm (the community's admin CLI for Synapse) VERSION from PyPI into a venv of its
# own, /opt/synadm, and links it as /usr/local/bin/synadm. Its config for root, with the admin's
# token, is staged separately (0600). Re-running changes nothing when VERSION is installed; a
# Python upgrade that broke the venv makes it anew.
# Parameters: VERSION, PACKAGES (what makes a venv).
: "${VERSION:?}" "${PACKAGES:?}"
venv=/opt/synadm
installed() {
  "$venv/bin/python" -c "
import importlib.metadata
raise SystemExit(importlib.metadata.version('synadm') != '$VERSION')" 2>/dev/null
}
if ! installed; then
  # shellcheck disable=SC2086 # one package name per word
  ensure_packages $PACKAGES >&2
  if ! "$venv/bin/python" -c '' 2>/dev/null; then
    rm -rf "$venv"
    python3 -m venv "$venv"
  fi
  log "installing synadm $VERSION from PyPI"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "synadm==$VERSION" >&2
  installed || die "synadm $VERSION is not importable after pip install"
fi
ln -sfn "$venv/bin/synadm" /usr/local/bin/synadm
printf 'synadm %s\n' "$VERSION"
