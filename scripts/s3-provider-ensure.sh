#!/usr/bin/env bash
# Makes sure Synapse's Python imports synapse-s3-storage-provider VERSION, installing it when it
# does not: into Synapse's venv (matrix.org's package, or a PyPI install), or, for Debian's package (whose Python is
# externally managed), into a venv of its own that sees the system's packages, exposed to Synapse
# as PYTHONPATH=$PREFIX/site (the drop-in). Installed as Synapse's ExecStartPre, so a package
# upgrade that replaced the venv is repaired before Synapse needs the module, and a failure stops
# the start with the reason in the journal instead of a Synapse that cannot load its config.
# Parameters: SOURCE (matrix-org|pypi|debian), VERSION, PREFIX (Debian's venv lives in $PREFIX/venv),
# DEBIAN_PACKAGES (what Debian packages of the provider's dependencies).
: "${SOURCE:?}" "${VERSION:?}" "${PREFIX:?}" "${DEBIAN_PACKAGES:?}"
unset PYTHONPATH
case "$SOURCE" in
  matrix-org | pypi) python=$SYNAPSE_VENV/bin/python pythonpath="" ;;
  debian) python=/usr/bin/python3 pythonpath=$PREFIX/site ;;
  *) die "unknown package source '$SOURCE'" ;;
esac

importable() {
  PYTHONPATH=$pythonpath "$python" -c "
import importlib.metadata, s3_storage_provider
raise SystemExit(importlib.metadata.version('synapse-s3-storage-provider') != '$VERSION')" 2>/dev/null
}

if importable; then
  printf 'synapse-s3-storage-provider %s is installed\n' "$VERSION"
  exit 0
fi
log "installing synapse-s3-storage-provider $VERSION for Synapse ($SOURCE package)"
if [ "$SOURCE" != debian ]; then
  [ -x "$SYNAPSE_VENV/bin/pip" ] || die "no $SYNAPSE_VENV/bin/pip: is Synapse installed?"
  "$SYNAPSE_VENV/bin/pip" install --quiet --disable-pip-version-check "synapse-s3-storage-provider==$VERSION"
else
  # What Debian packages itself comes from apt; pip adds only what is missing or too old (boto3).
  # shellcheck disable=SC2086 # one package name per word
  ensure_packages $DEBIAN_PACKAGES
  venv=$PREFIX/venv
  # A Python upgrade leaves the old venv's interpreter behind: make the venv anew.
  if ! "$venv/bin/python" -c '' 2>/dev/null; then
    rm -rf "$venv"
    install -d -m 0755 "$PREFIX"
    python3 -m venv --system-site-packages "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check "synapse-s3-storage-provider==$VERSION"
  ln -sfn "$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" "$PREFIX/site"
fi
importable || die "synapse-s3-storage-provider $VERSION is still not importable by $python after installing it"
log "installed synapse-s3-storage-provider $VERSION"
printf 'installed synapse-s3-storage-provider %s\n' "$VERSION"
