#!/usr/bin/env bash
# Lets the benchmark reach Synapse's own listeners (bound to 127.0.0.1) from the sandbox host,
# without a proxy in between: the kernel forwards PORTS arriving on the VPS's link to loopback
# (DNAT, with route_localnet so loopback accepts them). Installed as a unit so every boot has it.
# Bench-only: no deployment of the program does this. Usage: direct-front.sh PORT...
set -euo pipefail
(($# > 0)) || { echo "usage: $0 PORT..." >&2; exit 2; }
ports=$(IFS=,; echo "$*")
cat >/etc/synapse-bench-direct.nft <<NFT
table ip synapse_bench_direct
delete table ip synapse_bench_direct
table ip synapse_bench_direct {
  chain prerouting {
    type nat hook prerouting priority dstnat;
    iifname "host0" tcp dport { $ports } dnat to 127.0.0.1
  }
}
NFT
cat >/etc/systemd/system/synapse-bench-direct.service <<'UNIT'
[Unit]
Description=Benchmark: Synapse's listeners reachable from the sandbox host
After=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/sysctl -q -w net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.host0.route_localnet=1
ExecStart=/usr/sbin/nft -f /etc/synapse-bench-direct.nft

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --quiet synapse-bench-direct.service
systemctl restart synapse-bench-direct.service
