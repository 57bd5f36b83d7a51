#!/usr/bin/env bash
# The deploy's restore step (restoreFrom): runs the staged synapse-restore before Synapse's first
# activation on this host, so Synapse starts on the restored database and signing key. Once per
# source: a host restored from it already is left alone (--once), and a host with data is
# refused unless OVERWRITE. The secrets arrive on stdin and stay in 0600 files.
# Parameters: SOURCE, SERVER_NAME, OVERWRITE (true/false), PACKAGES (age's with an identity, rclone's
# with the bucket; may be empty), TOOL_SHA256 (re-runs for a new tool).
# Stdin: the age private key on the first line (empty when not needed), then the off-host env file.
: "${SOURCE:?}" "${SERVER_NAME:?}" "${OVERWRITE:?}" "${PACKAGES?}"
tool=$STAGED_DIR/restore/synapse-restore
[ -f "$tool" ] || die "staged $tool is missing"
umask 077
secrets=$(mktemp -d)
trap 'rm -rf "$secrets"' EXIT
IFS= read -r identity || true
cat >"$secrets/offsite.env"
args=(--once --server-name "$SERVER_NAME" --pgpass "$STAGED_DIR/synapse/pgpass")
if [ -n "$identity" ]; then
  printf '%s\n' "$identity" >"$secrets/identity"
  args+=(--identity "$secrets/identity")
fi
if [ -s "$secrets/offsite.env" ]; then
  args+=(--offsite-env "$secrets/offsite.env")
fi
[ "$OVERWRITE" != true ] || args+=(--overwrite)
# apt's chatter goes to the log, not to the step's output (the stack's `restore` output).
# shellcheck disable=SC2086 # one package name per word
[ -z "$PACKAGES" ] || ensure_packages $PACKAGES >&2
SYNAPSE_RESTORE_SECRETS=$STAGED_DIR/synapse/conf.d/secrets.yaml bash "$tool" "${args[@]}" "$SOURCE"
