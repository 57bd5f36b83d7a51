#!/usr/bin/env bash
# Prometheus's exporters on one host (staged under $STAGED_DIR/exporters by HostExporters): node
# exporter's arguments (where it listens, the systemd units it reports), and where PostgreSQL runs,
# PostgreSQL's exporter's, which connects over the local socket as a role of its own in pg_monitor
# (peer authentication: no password anywhere). Each is restarted only when its arguments changed,
# then must answer where it listens.
# Parameters: NODE_URL, POSTGRES_URL (empty: no PostgreSQL here), EXPORTERS ("service=file …":
# each exporter's service, named like its package, and its staged arguments); CONTENT_SHA256 only
# makes the step run again for new content.
: "${NODE_URL:?}" "${EXPORTERS:?}"
POSTGRES_URL=${POSTGRES_URL:-}
staged=$STAGED_DIR/exporters
declare -A files=()
for pair in $EXPORTERS; do files[${pair%%=*}]=${pair#*=}; done
ensure_packages "${!files[@]}"
if [ -n "$POSTGRES_URL" ]; then
  runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'prometheus') THEN CREATE ROLE prometheus LOGIN; END IF;
END $$;
GRANT pg_monitor TO prometheus;
SQL
fi
result=()
for service in "${!files[@]}"; do
  [ -f "$staged/${files[$service]}" ] || die "staged $staged/${files[$service]} is missing"
  restart=0
  install_file "$staged/${files[$service]}" "/etc/default/$service" 0644 root:root && restart=1
  systemctl enable --quiet "$service"
  if [ "$restart" = 1 ] || ! systemctl is-active --quiet "$service"; then
    systemctl restart "$service"
    result+=("$service restarted")
  fi
done
units=()
for service in "${!files[@]}"; do units+=(-u "$service"); done
for url in "$NODE_URL" ${POSTGRES_URL:+"$POSTGRES_URL"}; do
  for i in $(seq 1 30); do
    curl -fs -o /dev/null "$url" && break
    [ "$i" -lt 30 ] || { journalctl "${units[@]}" -n 30 --no-pager >&2 || true; die "$url did not answer within 30 s"; }
    sleep 1
  done
done
printf '%s\n' "${result[*]:-unchanged}"
