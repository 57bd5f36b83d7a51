#!/usr/bin/env bash
# The Synapse release the stack runs, resolved once per value of synapseVersion (the step is made
# anew when it changes, and never re-run otherwise: components/upgrades.ts), printed on stdout.
# WANTED empty: the release already installed, else the newest final release the source offers.
# WANTED set: it must be one the source offers (else the refusal lists those it has), and when it
# replaces an installed release, the target's own code is read first, before anything changes:
# a release that would refuse the database (its schema is newer than the target understands),
# the PostgreSQL major or this host's Python is refused, with the versions named.
# Changes nothing on the host but apt's view of matrix.org's repository (synapse_package_prepare).
# Parameters: SOURCE, SERVER_NAME, REPORT_STATS, WANTED (may be empty), SOURCE_PACKAGES,
# REPOSITORY_PACKAGES (render/packages.ts; SYNAPSE_PACKAGES is not used).
: "${SOURCE:?}" "${SERVER_NAME:?}" "${REPORT_STATS:?}" "${WANTED?}" "${SOURCE_PACKAGES:?}" "${REPOSITORY_PACKAGES?}"
installed_from=$(synapse_installed_source)
if [ -n "$installed_from" ] && [ "$installed_from" != "$SOURCE" ] && host_has_synapse_data; then
  die "this homeserver runs Synapse from $installed_from, and the stack asks for packageSource $SOURCE: switching package sources on a host is not supported. Set packageSource back to $installed_from. Nothing was changed."
fi
installed=$(installed_synapse_version "$SOURCE")
if [ "$SOURCE" != pypi ]; then
  synapse_package_prepare "$SOURCE" "$SERVER_NAME" "$REPORT_STATS" "$(synapse_package "$SOURCE")" "$REPOSITORY_PACKAGES"
  apt_refresh
fi
available=$(available_synapse_versions "$SOURCE")
if [ -z "$WANTED" ]; then
  if [ -n "$installed" ]; then
    log "Synapse $installed is installed: held there"
    printf '%s\n' "$installed"
    exit 0
  fi
  newest=$(final_releases <<<"$available" | tail -n 1)
  [ -n "$newest" ] || die "the package source $SOURCE offers no Synapse release here"
  log "the newest Synapse $SOURCE offers: $newest (held until synapseVersion is set)"
  printf '%s\n' "$newest"
  exit 0
fi

if ! grep -qxF "$WANTED" <<<"$available"; then
  hint=""
  [ "$SOURCE" != debian ] || hint=" (Debian's archive serves one release at a time: for another, packageSource pypi)"
  die "Synapse $WANTED is not available from $SOURCE here; it offers: $(final_releases <<<"$available" | tail -n 12 | paste -sd ' ')$hint. Nothing was changed."
fi
if [ -z "$installed" ] || [ "$installed" = "$WANTED" ]; then
  printf '%s\n' "$WANTED"
  exit 0
fi

# A version change: what the target's code says, against the database and this host.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "$SOURCE" = pypi ]; then
  "$SYNAPSE_VENV/bin/pip" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --dest "$work" "matrix-synapse==$WANTED" >&2 || die "cannot download Synapse $WANTED from PyPI to check it"
  artifact=$(find "$work" -name 'matrix_synapse-*.whl' | head -n 1)
else
  package=$(synapse_package "$SOURCE")
  version=$(apt_version_of "$package" "$WANTED")
  chown _apt "$work" 2>/dev/null || true
  (cd "$work" && flock -w 900 /run/synapse-deploy-apt.lock apt-get download -q "$package=$version" >&2) || die "cannot download $package $version to check it"
  flock -w 900 /run/synapse-deploy-apt.lock apt-get install -q --simulate --allow-downgrades --no-install-recommends "$package=$version" >"$work/simulate" 2>&1 \
    || die "$package $version cannot be installed here:
$(tail -n 15 "$work/simulate")"
  dpkg-deb -x "$work"/*.deb "$work/unpacked"
  artifact=$work/unpacked
fi
read -r schema _ min_pg python < <(synapse_artifact_facts "$artifact") || die "cannot read Synapse $WANTED's schema version"
IFS=$'\t' read -r db_schema db_compat < <(synapse_db_query 'SELECT (SELECT version FROM schema_version), (SELECT compat_version FROM schema_compat_version)' || true) || true
[ "$db_compat" != None ] || db_compat=""
pg=$(synapse_db_major)
refusals=$(synapse_version_refusals "$WANTED" "$schema" "$min_pg" "$python" "${db_schema:-}" "${db_compat:-}" "$pg")
if [ -n "$refusals" ]; then
  die "refusing to change Synapse $installed to $WANTED:
  - ${refusals//$'\n'/$'\n'  - }
Set synapseVersion back to $installed (or to a release that can). Nothing was changed."
fi
log "Synapse $installed → $WANTED: schema ${db_schema:-none} → up to $schema, PostgreSQL ${pg:-none} (needs ${min_pg:-?}+), Python ok"
printf '%s\n' "$WANTED"
