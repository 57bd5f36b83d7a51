#!/usr/bin/env bash
# Writes stdin to DEST with MODE and OWNER unless it is already identical. Used for the staged
# copies of config files: they go live only after their check passes (see *-activate.sh).
# Parameters: DEST, MODE, OWNER (user:group).
: "${DEST:?}" "${MODE:?}" "${OWNER:?}"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
cat >"$tmp"
install -d -m 0700 "$STAGED_DIR"
if install_file "$tmp" "$DEST" "$MODE" "$OWNER"; then
  log "staged $DEST"
else
  log "unchanged $DEST"
fi
