#!/usr/bin/env bash
# Tweak (an experiment, before the program has it): Synapse's processes run on jemalloc
# (Debian's libjemalloc2, preloaded), as matrix.org's packages and docker image do.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends libjemalloc2 >/dev/null
for unit in matrix-synapse.service matrix-synapse-worker@.service; do
  install -d "/etc/systemd/system/$unit.d"
  printf '[Service]\nEnvironment=LD_PRELOAD=libjemalloc.so.2\n' >"/etc/systemd/system/$unit.d/bench-jemalloc.conf"
done
systemctl daemon-reload
