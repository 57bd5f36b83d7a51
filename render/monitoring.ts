// Monitoring, rendered from the settings: what Prometheus scrapes (every Synapse process, node,
// PostgreSQL and nginx exporters), the alert rules, Alertmanager's routing into the admin room
// (through our receiver) and to the admin's own webhook or mailbox, the exporters' and servers'
// arguments (loopback or the private network only), Synapse's metrics listener, and the firewall
// that keeps all of it off the internet.
import YAML from "yaml";
import type { Settings } from "../config";
import { MonitoringSettings } from "../config/monitoring";
import { tierHostMiB } from "../config/workers";
import { Firewall } from "./firewall";
import { HomeserverPart } from "./homeserver";
import { loopback, WorkerSpec } from "./workers";

/** Where each piece listens. Alertmanager is not on its usual 9093: that is Synapse's replication. */
export const monitoringPorts = {
  synapseMetrics: 9000,
  prometheus: 9090,
  alertmanager: 9193,
  receiver: 9195,
  nodeExporter: 9100,
  postgresExporter: 9187,
  nginxExporter: 9113,
  /** nginx's stub_status, which its exporter reads. */
  nginxStatus: 9114,
} as const;

export const monitoringPaths = {
  prometheusConfig: "/etc/prometheus/prometheus.yml",
  /** Next to prometheus.yml, which names it relatively (so promtool checks the staged pair). */
  rules: "/etc/prometheus/synapse-alerts.yml",
  alertmanagerConfig: "/etc/prometheus/alertmanager.yml",
  /** The SMTP password (0640, Alertmanager's group), named by alertmanager.yml. */
  smtpPassword: "/etc/prometheus/alertmanager-smtp-password",
  /** node exporter's textfile directory (Debian's default), where synapse-monitoring-textfile writes. */
  textfileDir: "/var/lib/prometheus/node-exporter",
  receiver: "/usr/local/lib/synapse-deploy/synapse-alert-receiver.py",
  receiverConfig: "/etc/synapse-deploy/alert-receiver.json",
  /** The bot's access token (0600, root; the receiver gets it as a systemd credential). */
  botToken: "/etc/synapse-deploy/alert-bot-token",
  /** The admin room's ID, written by alert-bot.sh once the room exists. */
  alertRoom: "/var/lib/synapse-deploy/alert-room",
} as const;

export const receiverUnit = "synapse-alert-receiver.service";
/** `npm run admin -- status` runs it on the Synapse VPS. */
export const statusTool = { name: "synapse-status", toolPath: "/usr/local/sbin/synapse-status", confPath: "/etc/synapse-deploy/status.conf" };
export const textfileTool = { name: "synapse-monitoring-textfile", toolPath: "/usr/local/sbin/synapse-monitoring-textfile", confPath: "/etc/synapse-deploy/monitoring-textfile.conf" };

/** Every Synapse process exposes its metrics: the main process on a listener of its own (loopback). */
export function monitoringHomeserverPart(): HomeserverPart {
  return {
    listeners: [{ port: monitoringPorts.synapseMetrics, type: "metrics", bind_addresses: [loopback] }],
  };
}

/** One scrape target: where, and the labels an alert names it by. */
export interface Target {
  address: string;
  labels: Record<string, string>;
}

export interface ScrapeJob {
  job: string;
  targets: Target[];
  metricsPath?: string;
}

/** A host the program runs and Prometheus watches: its role and where its exporters listen. */
export interface MonitoredHost {
  /** synapse, database or worker-host-N: the `host` label of its series. */
  role: string;
  /** Loopback on the Synapse VPS, the private address elsewhere. */
  address: string;
  postgres: boolean;
}

/** The hosts with exporters: the Synapse VPS, a database box, the worker hosts. */
export function monitoredHosts(s: Settings, workerHosts: { address: string }[]): MonitoredHost[] {
  return [
    { role: "synapse", address: loopback, postgres: !s.database.box },
    ...(s.database.box ? [{ role: "database", address: s.database.address, postgres: true }] : []),
    ...workerHosts.map((h, i) => ({ role: `worker-host-${i + 1}`, address: h.address, postgres: false })),
  ];
}

/** Who may scrape a host's exporters besides itself: the Synapse VPS, at its private address. */
export function exporterFirewall(host: MonitoredHost, synapseAddress: string): Firewall {
  return {
    name: "exporters",
    ports: [monitoringPorts.nodeExporter, ...(host.postgres ? [monitoringPorts.postgresExporter] : [])],
    clients: host.address === loopback ? [] : [synapseAddress],
  };
}

/** On the Synapse VPS: every monitoring port closed to all but loopback (they listen there too). */
export function monitoringFirewall(workers: WorkerSpec[]): Firewall {
  const own = [monitoringPorts.synapseMetrics, monitoringPorts.prometheus, monitoringPorts.alertmanager, monitoringPorts.receiver,
    monitoringPorts.nodeExporter, monitoringPorts.nginxExporter, monitoringPorts.nginxStatus, monitoringPorts.postgresExporter];
  // The workers' listeners on the Synapse VPS serve their metrics too (and replication).
  return { name: "monitoring", ports: [...own, ...workers.filter((w) => w.host === loopback).map((w) => w.port)], clients: [] };
}

const hostPort = (address: string, port: number) => (address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`);

/** What Prometheus scrapes: each Synapse process (labelled with its process and unit), each host's exporters. */
export function scrapeJobs(workers: WorkerSpec[], hosts: MonitoredHost[]): ScrapeJob[] {
  const workerHost = (w: WorkerSpec) => hosts.find((h) => h.address === w.host)?.role ?? "synapse";
  return [
    {
      job: "synapse", metricsPath: "/_synapse/metrics",
      targets: [
        { address: hostPort(loopback, monitoringPorts.synapseMetrics), labels: { process: "main", unit: "matrix-synapse.service", host: "synapse" } },
        ...workers.map((w) => ({ address: hostPort(w.host, w.port), labels: { process: w.name, unit: `matrix-synapse-worker@${w.name}.service`, host: workerHost(w) } })),
      ],
    },
    { job: "node", targets: hosts.map((h) => ({ address: hostPort(h.address, monitoringPorts.nodeExporter), labels: { host: h.role } })) },
    { job: "postgres", targets: hosts.filter((h) => h.postgres).map((h) => ({ address: hostPort(h.address, monitoringPorts.postgresExporter), labels: { host: h.role } })) },
    { job: "nginx-exporter", targets: [{ address: hostPort(loopback, monitoringPorts.nginxExporter), labels: { host: "synapse" } }] },
    { job: "alertmanager", targets: [{ address: hostPort(loopback, monitoringPorts.alertmanager), labels: { host: "synapse" } }] },
  ];
}

export function renderPrometheusConfig(m: MonitoringSettings, jobs: ScrapeJob[]): string {
  return header + YAML.stringify({
    global: { scrape_interval: m.interval, evaluation_interval: m.interval },
    alerting: { alertmanagers: [{ static_configs: [{ targets: [hostPort(loopback, monitoringPorts.alertmanager)] }] }] },
    rule_files: [monitoringPaths.rules.split("/").pop()],
    scrape_configs: jobs.map((j) => ({
      job_name: j.job,
      ...(j.metricsPath ? { metrics_path: j.metricsPath } : {}),
      static_configs: j.targets.map((t) => ({ targets: [t.address], labels: t.labels })),
    })),
  }, { lineWidth: 0 });
}

const header = "# Managed by the synapse Pulumi program; local edits are overwritten.\n";

/**
 * The systemd units whose state node exporter reports (the services the homeserver needs besides
 * Synapse's own processes), as patterns of their names without ".service".
 */
export const watchedUnits = ["nginx.service", "postgresql@.+.service", "redis-server.service", "coturn.service", "synapse-alert-receiver.service",
  "prometheus-alertmanager.service"].map((unit) => unit.replace(/\.service$/, ""));

/** What the rules need to know besides the monitoring settings. */
export interface RuleContext {
  tier: Settings["tier"];
  /** The report's growth threshold (databaseGrowthAlertMiB), MiB per day. */
  growthAlertMiB: number;
  backups: boolean;
  databaseName: string;
}

interface Rule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: "critical" | "warning" };
  annotations: { summary: string; description: string };
}

/**
 * The alert rules: what actually hurts a homeserver, each with what it means and what to do
 * (docs/monitoring.md repeats them). `alertFor` is how long a condition must hold; trends over
 * hours (growth, filling at the current rate) look at their own windows.
 */
export function alertRules(m: MonitoringSettings, c: RuleContext): Rule[] {
  const f = m.alertFor;
  const hostBytes = tierHostMiB[c.tier] * 2 ** 20;
  // Time left at the filesystem's rate of the last hour, for the description ("not filling" when it is not).
  const timeLeft = "{{ with printf \"node_filesystem_avail_bytes{instance='%s',mountpoint='%s'} / -deriv(node_filesystem_avail_bytes{instance='%s',mountpoint='%s'}[1h]) > 0\" " +
    "$labels.instance $labels.mountpoint $labels.instance $labels.mountpoint | query }}{{ . | first | value | humanizeDuration }} left at the rate of the last hour" +
    "{{ else }}not filling right now{{ end }}";
  const rules: Rule[] = [
    {
      alert: "SynapseProcessDown", expr: 'up{job="synapse"} == 0', for: f, labels: { severity: "critical" },
      annotations: {
        summary: "Synapse process {{ $labels.process }} is down",
        description: "{{ $labels.process }} on {{ $labels.host }} ({{ $labels.instance }}) has not answered Prometheus for " + f + ". " +
          "What it serves fails meanwhile. On the host: systemctl status {{ $labels.unit }}; journalctl -u {{ $labels.unit }} -n 100.",
      },
    },
    {
      alert: "ServiceDown", expr: `node_systemd_unit_state{state="active", name=~"(${watchedUnits.join("|")})\\\\.service"} == 0`, for: f,
      labels: { severity: "critical" },
      annotations: {
        summary: "{{ $labels.name }} is not running on {{ $labels.host }}",
        description: "systemd reports {{ $labels.name }} inactive or failed for " + f + ". On the host: systemctl status {{ $labels.name }}; journalctl -u {{ $labels.name }} -n 100.",
      },
    },
    {
      alert: "FederationSenderBehind",
      expr: 'max(synapse_event_persisted_position) - max(synapse_event_processing_positions{name="federation_sender"}) > 500', for: f,
      labels: { severity: "warning" },
      annotations: {
        summary: "Outbound federation is {{ $value }} events behind",
        description: "The federation sender has not caught up with the events written here for " + f + ": other servers see this one's messages late. " +
          "Look at the sender's log (journalctl -u matrix-synapse-worker@federation_sender1, or matrix-synapse without workers) for failing destinations; " +
          "a sender at 100 % CPU needs another one (workerFederationSenders).",
      },
    },
    {
      alert: "DiskAlmostFull",
      expr: "node_filesystem_avail_bytes / node_filesystem_size_bytes * 100 < 10 and node_filesystem_readonly == 0", for: f,
      labels: { severity: "critical" },
      annotations: {
        summary: "{{ $labels.mountpoint }} on {{ $labels.host }} is {{ $value | printf \"%.0f\" }} % free",
        description: `{{ $labels.mountpoint }} ({{ $labels.device }}) has less than 10 % free: ${timeLeft}. ` +
          "Synapse and PostgreSQL stop writing when it is full. See what grows: npm run admin -- db-report; du -xsh /var/lib/* | sort -h.",
      },
    },
    {
      alert: "DiskFillingUp",
      expr: "predict_linear(node_filesystem_avail_bytes[6h], 24 * 3600) < 0 and node_filesystem_avail_bytes / node_filesystem_size_bytes < 0.4 " +
        "and node_filesystem_readonly == 0",
      for: "1h", labels: { severity: "warning" },
      annotations: {
        summary: "{{ $labels.mountpoint }} on {{ $labels.host }} will be full within a day",
        description: `At the rate of the last 6 hours {{ $labels.mountpoint }} fills within 24 h: ${timeLeft}. ` +
          "See what grows: npm run admin -- db-report (the database, media); journalctl --disk-usage.",
      },
    },
    {
      alert: "DatabaseGrowingFast",
      expr: `deriv(pg_database_size_bytes{datname="${c.databaseName}"}[6h]) * 86400 > ${c.growthAlertMiB} * 1048576`, for: "1h",
      labels: { severity: "warning" },
      annotations: {
        summary: "The database grows {{ $value | humanize1024 }}B a day",
        description: `Faster than the report's threshold (databaseGrowthAlertMiB, ${c.growthAlertMiB} MiB a day) over the last 6 hours. ` +
          "npm run admin -- db-report shows which tables grow; large federated rooms and state churn are the usual cause (docs/database.md).",
      },
    },
    {
      alert: "CertificateExpiring",
      expr: "synapse_tls_certificate_expiry_timestamp_seconds - time() < 14 * 86400", for: f, labels: { severity: "critical" },
      annotations: {
        summary: "The certificate of {{ $labels.site }} expires in {{ $value | humanizeDuration }}",
        description: "{{ $labels.path }} expires within 14 days. With ACME, certbot renews at 30 days left: see systemctl status certbot.timer and " +
          "journalctl -u certbot; with tlsMode provided, set the new tlsCertificate and run pulumi up.",
      },
    },
    {
      alert: "PostgresConnectionsNearMax",
      expr: "sum by (host) (pg_stat_activity_count) / max by (host) (pg_settings_max_connections) * 100 > 85", for: f,
      labels: { severity: "warning" },
      annotations: {
        summary: "PostgreSQL uses {{ $value | printf \"%.0f\" }} % of its connections",
        description: "Near max_connections, new connections fail and Synapse's requests with them. Each Synapse process holds up to dbPoolMax: " +
          "look for connections left idle in transaction (SELECT state, count(*) FROM pg_stat_activity GROUP BY 1), or raise postgresMaxConnections.",
      },
    },
    {
      alert: "MemoryNearHostSize",
      expr: `node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes > 0.9 * clamp_max(node_memory_MemTotal_bytes, ${hostBytes})`, for: f,
      labels: { severity: "warning" },
      annotations: {
        summary: "{{ $labels.host }} uses {{ $value | humanize1024 }}B of memory",
        description: `More than 90 % of the ${c.tier} tier's host (${tierHostMiB[c.tier] / 1024} GiB) or of the host's memory, whichever is less, is in use: ` +
          "the kernel will soon kill processes. Find the largest: ps -eo rss,comm --sort=-rss | head; a bigger tier or a database box gives room.",
      },
    },
    {
      alert: "AlertDeliveryFailing",
      expr: "increase(alertmanager_notifications_failed_total[10m]) > 0", for: f, labels: { severity: "warning" },
      annotations: {
        summary: "Alertmanager cannot deliver to {{ $labels.integration }}",
        description: "Notifications fail (the receiver, the webhook or the mail server): alerts may be missed. " +
          "On the Synapse VPS: journalctl -u prometheus-alertmanager -u synapse-alert-receiver -n 50.",
      },
    },
  ];
  if (c.backups) {
    rules.push({
      alert: "BackupTooOld",
      expr: "time() - synapse_backup_last_success_timestamp_seconds > synapse_backup_max_age_seconds", for: f, labels: { severity: "critical" },
      annotations: {
        summary: "The last good backup is {{ $value | humanizeDuration }} old",
        description: "Older than the backup schedule allows (one and a half of its interval, plus the timer's random delay). " +
          "npm run admin -- backup-status says when and where; journalctl -u synapse-backup -n 50 says why the last runs failed; npm run admin -- backup-now tries again.",
      },
    });
  }
  return rules;
}

export function renderAlertRules(m: MonitoringSettings, c: RuleContext): string {
  return header + YAML.stringify({ groups: [{ name: "synapse", interval: m.interval, rules: alertRules(m, c) }] }, { lineWidth: 0 });
}

/**
 * Alertmanager: each alert its own notice (group_by: ['...']), the first after one evaluation,
 * the next of the same alert no sooner than alertFor, a reminder of one still firing every 12 h;
 * firing and resolved, to the room through our receiver and to the admin's webhook and mail.
 */
export function renderAlertmanagerConfig(m: MonitoringSettings): string {
  const email = m.email;
  return header + YAML.stringify({
    route: {
      receiver: "admin",
      group_by: ["..."],
      group_wait: m.interval,
      group_interval: m.alertFor,
      repeat_interval: "12h",
    },
    receivers: [{
      name: "admin",
      webhook_configs: [
        { url: `http://${hostPort(loopback, monitoringPorts.receiver)}/alerts`, send_resolved: true },
        ...(m.webhookUrl ? [{ url: m.webhookUrl, send_resolved: true }] : []),
      ],
      ...(email ? {
        email_configs: [{
          to: email.to, from: email.from, smarthost: email.smarthost, send_resolved: true,
          ...(email.username ? { auth_username: email.username } : {}),
          ...(email.password ? { auth_password_file: monitoringPaths.smtpPassword } : {}),
        }],
      } : {}),
    }],
  }, { lineWidth: 0 });
}

/** The servers' and exporters' arguments (/etc/default/<package>): where each listens, what it keeps. */
export function prometheusArgs(m: MonitoringSettings): string {
  return [`--web.listen-address=${hostPort(loopback, monitoringPorts.prometheus)}`,
    `--storage.tsdb.retention.time=${m.retention.time}`, `--storage.tsdb.retention.size=${m.retention.size}`].join(" ");
}

export function alertmanagerArgs(): string {
  // One Alertmanager: no cluster port.
  return [`--web.listen-address=${hostPort(loopback, monitoringPorts.alertmanager)}`, "--cluster.listen-address="].join(" ");
}

export function nodeExporterArgs(address: string): string {
  return [`--web.listen-address=${hostPort(address, monitoringPorts.nodeExporter)}`, "--collector.systemd",
    `--collector.systemd.unit-include=(${watchedUnits.join("|")}|matrix-synapse.*)\\.service`].join(" ");
}

export function postgresExporterArgs(address: string): string {
  return `--web.listen-address=${hostPort(address, monitoringPorts.postgresExporter)}`;
}

/** PostgreSQL's exporter connects over the local socket as a role of its own, in pg_monitor (peer auth: no password). */
export const postgresExporterDsn = "user=prometheus host=/run/postgresql dbname=postgres sslmode=disable";

export function nginxExporterArgs(): string {
  return [`--web.listen-address=${hostPort(loopback, monitoringPorts.nginxExporter)}`,
    `--nginx.scrape-uri=http://${hostPort(loopback, monitoringPorts.nginxStatus)}/stub_status`].join(" ");
}

/** /etc/default/<package>: the variables its unit reads. */
export function renderDefaults(vars: Record<string, string>): string {
  return header + Object.entries(vars).map(([k, v]) => `${k}='${v.replace(/'/g, "'\\''")}'\n`).join("");
}

/** nginx's counters for its exporter, on loopback only. */
export function renderNginxStatusSite(): string {
  return [
    header.trimEnd(),
    "server {",
    `    listen ${hostPort(loopback, monitoringPorts.nginxStatus)};`,
    "    access_log off;",
    "    location = /stub_status {",
    "        stub_status;",
    "    }",
    "    location / {",
    "        return 404;",
    "    }",
    "}",
    "",
  ].join("\n");
}

/** The receiver's settings (no secret: its token comes as a systemd credential). */
export function renderReceiverConfig(homeserverUrl: string): string {
  return `${JSON.stringify({ listen: hostPort(loopback, monitoringPorts.receiver), homeserver: homeserverUrl, roomFile: monitoringPaths.alertRoom }, null, 2)}\n`;
}

/** The receiver as a service of its own user (DynamicUser), with the bot's token as a credential. */
export function renderReceiverUnit(python: string): string {
  return [
    header.trimEnd(),
    "[Unit]",
    "Description=Alerts from Alertmanager into the homeserver's admin room (synapse-deploy)",
    "After=network-online.target matrix-synapse.service",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${python} ${monitoringPaths.receiver} ${monitoringPaths.receiverConfig}`,
    `LoadCredential=token:${monitoringPaths.botToken}`,
    "DynamicUser=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "NoNewPrivileges=yes",
    "Restart=always",
    "RestartSec=5",
    "MemoryHigh=64M",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/** The textfile tool's config: which certificates, and the backup timer it judges the last good backup against. */
export function renderTextfileConf(backupSchedule: string | undefined): string {
  return [header.trimEnd(), `textfile_dir=${monitoringPaths.textfileDir}`, `backup_schedule='${backupSchedule ?? ""}'`, ""].join("\n");
}

/** Where synapse-status asks: Prometheus, Alertmanager, and which database is Synapse's. */
export function renderStatusConf(databaseName: string): string {
  return [header.trimEnd(), `prometheus=http://${hostPort(loopback, monitoringPorts.prometheus)}`,
    `alertmanager=http://${hostPort(loopback, monitoringPorts.alertmanager)}`, `database=${databaseName}`, ""].join("\n");
}
