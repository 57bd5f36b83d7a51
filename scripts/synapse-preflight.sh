#!/usr/bin/env bash
# First step on the Synapse host: a Debian/Ubuntu system with apt, and no other server name.
# Parameters: SERVER_NAME.
: "${SERVER_NAME:?}"
[ -r /etc/os-release ] || die "no /etc/os-release: not a Debian or Ubuntu system"
# shellcheck disable=SC1091
. /etc/os-release
case " ${ID:-} ${ID_LIKE:-} " in
  *" debian "* | *" ubuntu "*) ;;
  *) die "unsupported system '${PRETTY_NAME:-unknown}': this program provisions Debian or Ubuntu" ;;
esac
command -v apt-get >/dev/null || die "apt-get not found"
command -v systemctl >/dev/null || die "systemd not found"
guard_server_name "$SERVER_NAME"
install -d -m 0755 "$STATE_DIR"
log "host ok: ${PRETTY_NAME:-$ID}"
