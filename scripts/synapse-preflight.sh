#!/usr/bin/env bash
# First step on the Synapse host: a Debian/Ubuntu system with apt, and no other server name.
# Parameters: SERVER_NAME.
: "${SERVER_NAME:?}"
preflight_host
guard_server_name "$SERVER_NAME"
install -d -m 0755 "$STATE_DIR"
