#!/usr/bin/env bash
# Runs on `pulumi destroy`: stops and disables Synapse. By default everything the homeserver is
# made of stays on the host (signing key, media, config, secrets; the database is
# PostgresDatabase's), so `pulumi up` brings the same server back. With DELETE_DATA=true (the
# stack's explicit destroyDeletesData) they are deleted. Packages stay installed either way.
# Parameters: DELETE_DATA (true|false).
: "${DELETE_DATA:?}"
if systemctl cat matrix-synapse >/dev/null 2>&1; then
  systemctl disable --now --quiet matrix-synapse
  log "stopped and disabled matrix-synapse"
fi
if [ "$DELETE_DATA" != true ]; then
  log "kept the signing key, media and config in $SYNAPSE_ETC and $SYNAPSE_DATA (destroyDeletesData is off)"
  printf 'stopped Synapse; its data was kept\n'
  exit 0
fi
# Only what this program or Synapse made; the package's own files stay.
rm -f "$SYNAPSE_ETC/homeserver.signing.key" "$SYNAPSE_ETC/homeserver.yaml" "$SYNAPSE_ETC/log.yaml" \
  "$SYNAPSE_ETC/conf.d/secrets.yaml" "$SYNAPSE_ETC/pgpass"
rm -rf "${SYNAPSE_DATA:?}/media" "$SYNAPSE_DATA"/homeserver.db* "$STATE_DIR"
log "deleted the signing key, media, config, secrets and deployment records (destroyDeletesData is on)"
printf 'stopped Synapse; its data was deleted\n'
