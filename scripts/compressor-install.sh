#!/usr/bin/env bash
# Puts synapse_auto_compressor's build in place on the database host and starts it in the
# background when its binary does not exist yet: the toolchain from Debian, the pinned source
# (SHA-256 checked), our state-map crate, the build tool, its config and unit (staged under
# $STAGED_DIR/compressor). `pulumi up` does not wait for the build (minutes, at idle priority);
# re-running changes nothing and never rebuilds: the binary's path names its recipe.
# Parameters: VERSION, SDIST_URL, SDIST_SHA256, BINARY, PACKAGES (space separated), PREFIX (where
# its source and builds live), TOOL, CONF and UNIT (where the build tool, its config and its unit
# go); RECIPE only makes the step run again for a new recipe.
: "${VERSION:?}" "${SDIST_URL:?}" "${SDIST_SHA256:?}" "${BINARY:?}" "${PACKAGES:?}" "${PREFIX:?}" "${TOOL:?}" "${CONF:?}" "${UNIT:?}"
staged=$STAGED_DIR/compressor
prefix=$PREFIX
unit=$UNIT
for f in state-map/Cargo.toml state-map/src/lib.rs tool conf service; do
  [ -f "$staged/$f" ] || die "staged $staged/$f is missing"
done
bash -n "$staged/tool" || die "$staged/tool is not valid bash"

# shellcheck disable=SC2086 # one package name per word
ensure_packages $PACKAGES >&2 # apt talks on stdout; the step's stdout is its status line
install_file "$staged/state-map/Cargo.toml" "$prefix/src/state-map/Cargo.toml" 0644 root:root || true
install_file "$staged/state-map/src/lib.rs" "$prefix/src/state-map/src/lib.rs" 0644 root:root || true
install_file "$staged/tool" "$TOOL" 0755 root:root || true
install_file "$staged/conf" "$CONF" 0644 root:root || true
if install_file "$staged/service" "/etc/systemd/system/$unit" 0644 root:root; then
  systemctl daemon-reload
fi

sdist=$prefix/src/synapse_auto_compressor-$VERSION.tar.gz
if ! { [ -f "$sdist" ] && echo "$SDIST_SHA256  $sdist" | sha256sum --quiet -c - >/dev/null 2>&1; }; then
  log "fetching $SDIST_URL"
  curl -fsSL --retry 3 -o "$sdist.tmp" "$SDIST_URL" || die "cannot download the compressor's source from $SDIST_URL"
  echo "$SDIST_SHA256  $sdist.tmp" | sha256sum --quiet -c - >&2 \
    || die "$SDIST_URL does not have the pinned SHA-256 $SDIST_SHA256: refusing to build it"
  mv -f "$sdist.tmp" "$sdist"
fi

if [ -x "$BINARY" ]; then
  status="built: $BINARY"
elif [ "$(systemctl show -p ActiveState --value "$unit")" = activating ]; then
  status="building (journalctl -u $unit)"
else
  systemctl start --no-block "$unit"
  status="build started in the background (journalctl -u $unit)"
fi
printf 'synapse_auto_compressor %s: %s\n' "$VERSION" "$status"
