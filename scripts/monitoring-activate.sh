#!/usr/bin/env bash
# Puts the monitoring on the Synapse VPS live (staged under $STAGED_DIR/monitoring by the
# Monitoring component): Prometheus's config and rules only once promtool accepts them,
# Alertmanager's only once amtool does (a refused one is never loaded: the running config keeps
# serving), the servers' and nginx exporter's arguments (/etc/default), Prometheus's memory
# drop-in, and the alert receiver. Each service is reloaded when only its config changed,
# restarted when its arguments or program did, left alone otherwise; then each must answer.
# stdin: the SMTP password for alert mails, or nothing.
# Parameters: PACKAGES, PROMETHEUS_URL, ALERTMANAGER_URL, RECEIVER_URL (each answers when ready),
# RECEIVER (the receiver's path), RECEIVER_CONFIG, RECEIVER_UNIT, SMTP_PASSWORD_FILE,
# TEXTFILE_SERVICE (run once now, so the certificate and backup figures exist from the start);
# CONTENT_SHA256 only makes the step run again for new content.
: "${PACKAGES:?}" "${PROMETHEUS_URL:?}" "${ALERTMANAGER_URL:?}" "${RECEIVER_URL:?}" "${RECEIVER:?}" "${RECEIVER_CONFIG:?}" "${RECEIVER_UNIT:?}"
: "${SMTP_PASSWORD_FILE:?}" "${TEXTFILE_SERVICE:?}"
staged=$STAGED_DIR/monitoring
# shellcheck disable=SC2086 # one package name per word
ensure_packages $PACKAGES
for f in prometheus.yml synapse-alerts.yml alertmanager.yml prometheus.default alertmanager.default nginx-exporter.default \
  prometheus-memory.conf synapse-alert-receiver.py synapse-alert-receiver.json synapse-alert-receiver.service; do
  [ -f "$staged/$f" ] || die "staged $staged/$f is missing"
done

# 1. The checks: a config the servers would refuse never goes live.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
smtp=$tmp/smtp-password
cat >"$smtp"
if ! out=$(promtool check config "$staged/prometheus.yml" 2>&1); then
  die "promtool rejected the new Prometheus config; the running one is unchanged:
$out"
fi
cp "$staged/alertmanager.yml" "$tmp/alertmanager.yml"
# amtool reads the password file the config names: check against the new one.
sed -i "s#$SMTP_PASSWORD_FILE#$smtp#" "$tmp/alertmanager.yml"
if ! out=$(amtool check-config "$tmp/alertmanager.yml" 2>&1); then
  die "amtool rejected the new Alertmanager config; the running one is unchanged:
$out"
fi
python3 -m py_compile "$staged/synapse-alert-receiver.py" || die "the staged receiver does not compile"

# 2. Live, noting what each change asks of its service.
declare -A reload=() restart=()
changed() { install_file "$@" && log "updated $2"; }
changed "$staged/prometheus.yml" /etc/prometheus/prometheus.yml 0644 root:root && reload[prometheus]=1
changed "$staged/synapse-alerts.yml" /etc/prometheus/synapse-alerts.yml 0644 root:root && reload[prometheus]=1
changed "$staged/alertmanager.yml" /etc/prometheus/alertmanager.yml 0644 root:root && reload[prometheus-alertmanager]=1
if [ -s "$smtp" ]; then
  changed "$smtp" "$SMTP_PASSWORD_FILE" 0640 root:prometheus && reload[prometheus-alertmanager]=1
else
  rm -f "$SMTP_PASSWORD_FILE"
fi
changed "$staged/prometheus.default" /etc/default/prometheus 0644 root:root && restart[prometheus]=1
changed "$staged/alertmanager.default" /etc/default/prometheus-alertmanager 0644 root:root && restart[prometheus-alertmanager]=1
changed "$staged/nginx-exporter.default" /etc/default/prometheus-nginx-exporter 0644 root:root && restart[prometheus-nginx-exporter]=1
units=0
changed "$staged/prometheus-memory.conf" /etc/systemd/system/prometheus.service.d/synapse-deploy.conf 0644 root:root && { restart[prometheus]=1; units=1; }
changed "$staged/synapse-alert-receiver.service" "/etc/systemd/system/$RECEIVER_UNIT" 0644 root:root && { restart[synapse-alert-receiver]=1; units=1; }
changed "$staged/synapse-alert-receiver.py" "$RECEIVER" 0755 root:root && restart[synapse-alert-receiver]=1
changed "$staged/synapse-alert-receiver.json" "$RECEIVER_CONFIG" 0644 root:root && restart[synapse-alert-receiver]=1
[ "$units" = 0 ] || systemctl daemon-reload

# 3. Each service on its new config.
done_list=()
for service in prometheus prometheus-alertmanager prometheus-nginx-exporter synapse-alert-receiver; do
  systemctl enable --quiet "$service"
  if [ -n "${restart[$service]:-}" ] || ! systemctl is-active --quiet "$service"; then
    systemctl restart "$service"
    done_list+=("$service restarted")
  elif [ -n "${reload[$service]:-}" ]; then
    systemctl reload "$service"
    done_list+=("$service reloaded")
  fi
done
for url in "$PROMETHEUS_URL" "$ALERTMANAGER_URL" "$RECEIVER_URL"; do
  for i in $(seq 1 60); do
    curl -fs -o /dev/null "$url" && break
    [ "$i" -lt 60 ] || { journalctl -u prometheus -u prometheus-alertmanager -u "$RECEIVER_UNIT" -n 40 --no-pager >&2 || true; die "$url did not answer within 60 s"; }
    sleep 1
  done
done
systemctl start "$TEXTFILE_SERVICE"
printf '%s\n' "${done_list[*]:-unchanged}"
