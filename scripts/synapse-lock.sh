#!/usr/bin/env bash
# The lock of a PyPI install: every package Synapse VERSION needs (with EXTRAS), at one version,
# with the SHA-256 of the one file pip takes for this host, as `name==version --hash=sha256:…`
# lines on stdout. pip's own resolver makes it (a dry run in a scratch virtualenv, its installation
# report), once per release: the stack keeps it (components/upgrades.ts), and every install of that
# release, on this host or another, installs exactly these files (pip --require-hashes).
# The dependencies are those PyPI had when the release came out (pip --uploaded-prior-to): what
# its own tests ran against, not whatever came later. An older release resolved against today's
# index breaks (Synapse 1.150 with Twisted 26.10: its Redis client calls a method Twisted removed).
# Changes nothing on the host.
# Parameters: VERSION, EXTRAS (comma-separated, e.g. postgres,redis).
: "${VERSION:?}" "${EXTRAS:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# When the release's files were uploaded (PEP 691's upload-time), plus an hour for the last of them.
released=$(curl -fsS --retry 3 -H 'Accept: application/vnd.pypi.simple.v1+json' "$PYPI_SIMPLE/matrix-synapse/" | python3 -c '
import datetime, json, sys
v = sys.argv[1]
times = [f["upload-time"] for f in json.load(sys.stdin)["files"] if f["filename"].startswith((f"matrix_synapse-{v}-", f"matrix_synapse-{v}.tar"))]
last = max(datetime.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in times) + datetime.timedelta(hours=1)
print(last.strftime("%Y-%m-%dT%H:%M:%SZ"))' "$VERSION") || die "PyPI's index has no files of matrix-synapse $VERSION"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check --root-user-action=ignore --dry-run --ignore-installed \
  --uploaded-prior-to "$released" --report "$work/report.json" "matrix-synapse[$EXTRAS]==$VERSION" >&2 \
  || die "pip cannot resolve matrix-synapse[$EXTRAS]==$VERSION with what PyPI had on $released"
lock=$(python3 - "$work/report.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
lines = []
for item in report["install"]:
    name, version = item["metadata"]["name"], item["metadata"]["version"]
    sha256 = item["download_info"].get("archive_info", {}).get("hashes", {}).get("sha256")
    if not sha256:
        sys.exit(f"{name} {version} comes without a SHA-256 ({item['download_info'].get('url')}): it cannot be locked")
    lines.append(f"{name.lower()}=={version} --hash=sha256:{sha256}")
print("\n".join(sorted(lines)))
PY
) || die "cannot make the lock of Synapse $VERSION"
grep -q "^matrix-synapse==$VERSION " <<<"$lock" || die "pip resolved another Synapse than $VERSION"
log "locked $(wc -l <<<"$lock") packages for Synapse $VERSION, as PyPI had them on $released"
printf '# Synapse %s[%s] and its dependencies as PyPI had them on %s (pip --uploaded-prior-to)\n%s\n' "$VERSION" "$EXTRAS" "$released" "$lock"
