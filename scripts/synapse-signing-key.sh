#!/usr/bin/env bash
# Prints the signing key (the command's stdout is a secret in the state) for the worker hosts,
# whose federation senders sign with the same identity. Never writes anything.
key=$SYNAPSE_ETC/homeserver.signing.key
[ -s "$key" ] || die "$key is missing (synapse-activate generates it)"
cat "$key"
