#!/usr/bin/env bash
# Tweak: presence off (no online/offline status, no presence work on every /sync).
set -euo pipefail
printf 'presence:\n  enabled: false\n' >/etc/matrix-synapse/conf.d/zz-bench-presence.yaml
