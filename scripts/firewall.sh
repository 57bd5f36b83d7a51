#!/usr/bin/env bash
# Puts a host firewall in place (render/firewall.ts): its nftables rules checked, installed and
# loaded now (`nft -f` replaces its table atomically, so unchanged rules change nothing), and
# its unit enabled to load them at every boot before the network comes up.
# Parameters: STAGED (a directory holding firewall.nft and firewall.service), RULES (where the
# rules live), UNIT (the unit's name), PACKAGES (nftables'); RULES_SHA256 only makes the step run
# again for new rules.
: "${STAGED:?}" "${RULES:?}" "${UNIT:?}" "${PACKAGES:?}"
# shellcheck disable=SC2086 # one package name per word
ensure_packages $PACKAGES
nft -c -f "$STAGED/firewall.nft" || die "nft refused $STAGED/firewall.nft"
install_file "$STAGED/firewall.nft" "$RULES" 0644 root:root || true
if install_file "$STAGED/firewall.service" "/etc/systemd/system/$UNIT" 0644 root:root; then
  systemctl daemon-reload
fi
systemctl enable --quiet "$UNIT"
systemctl is-active --quiet "$UNIT" || systemctl start "$UNIT"
nft -f "$RULES"
printf '%s: %s rule(s) accepting, %s dropping\n' "$UNIT" "$(grep -c ' accept$' "$RULES")" "$(grep -c ' drop$' "$RULES")"
