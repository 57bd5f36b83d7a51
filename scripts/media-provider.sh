#!/usr/bin/env bash
# Media in a bucket, on the Synapse host, before Synapse's config check: puts the staged
# provider check (s3-provider-ensure.sh) and matrix-synapse's drop-in live, then runs the check,
# which installs synapse-s3-storage-provider. A changed drop-in makes the activation restart
# Synapse (its applied-config record is dropped).
# Parameters: ENSURE (where the check lives), DROPIN (the drop-in's path).
: "${ENSURE:?}" "${DROPIN:?}"
staged="$STAGED_DIR/media"
install_file "$staged/s3-provider-ensure.sh" "$ENSURE" 0755 root:root || true
if install_file "$staged/matrix-synapse-media.conf" "$DROPIN" 0644 root:root; then
  systemctl daemon-reload
  rm -f "$STATE_DIR/applied/synapse"
  log "updated $DROPIN: Synapse restarts with it at its activation"
fi
"$ENSURE"
