#!/usr/bin/env bash
# Tweak: Synapse's per-request access log lines (synapse.access.*) off; nginx logs every request.
set -euo pipefail
python3 - <<'PY'
import yaml
path = "/etc/matrix-synapse/log.yaml"
c = yaml.safe_load(open(path))
c.setdefault("loggers", {})["synapse.access"] = {"level": "WARNING"}
yaml.safe_dump(c, open(path, "w"))
PY
