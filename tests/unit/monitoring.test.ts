// Monitoring and alerts: the keys and their rules; what Prometheus scrapes and its config, checked
// by the real promtool; every alert rule fed series by `promtool test rules` (firing when it
// should, with its annotations as the room shows them, and silent when it should be); the
// receiver (the real script, with Python) posting into a Matrix server's API; and what the
// program runs where, under Pulumi's mocks.
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import YAML from "yaml";
import { memoryBudgetMiB, parseSettings, pgSizeBytes, processCount, RawConfig, Settings, hostHeadroom, tierHostMiB, tierNames } from "../../config";
import {
  alertRules, monitoredHosts, monitoringHomeserverPart, renderAlertmanagerConfig, renderAlertRules, renderPrometheusConfig, RuleContext, scrapeJobs,
} from "../../render/monitoring";
import { baseHomeserverPart } from "../../render/homeserver";
import { hostPackagePlans } from "../../render/packages";
import { workerPlan } from "../../render/workers";
import { validRaw } from "../support/fixtures";
import { adminToken, runProgram, secretOf } from "../support/mockProgram";
import { requireTools } from "../support/tools";

const settingsOf = (raw: RawConfig): Settings => {
  const r = parseSettings({ ...validRaw(), adminUser: "admin", ...raw });
  if (!r.ok) throw new Error(r.errors.join("\n"));
  return r.settings;
};
const errorsOf = (raw: RawConfig) => { const r = parseSettings({ ...validRaw(), adminUser: "admin", ...raw }); return r.ok ? [] : r.errors; };
const scratch = () => fs.mkdtempSync(path.join(os.tmpdir(), "monitoring-"));

describe("config", () => {
  it("is off by default; on, it takes the tier's retention and sensible intervals", () => {
    expect(settingsOf({}).monitoring).toBeUndefined();
    expect(settingsOf({ monitoring: "true" }).monitoring).toEqual({
      interval: "30s", alertFor: "5m", retention: { time: "15d", size: "512MB" }, botUser: "alerts",
    });
    expect(settingsOf({ monitoring: "true", tier: "community" }).monitoring!.retention).toEqual({ time: "30d", size: "2GB" });
    expect(settingsOf({ monitoring: "true", monitoringRetention: "7d", monitoringRetentionSize: "1GB" }).monitoring!.retention).toEqual({ time: "7d", size: "1GB" });
    expect(settingsOf({
      monitoring: "true", alertWebhookUrl: "https://hooks.example.org/x", alertEmail: "ops@example.org", alertSmtpHost: "smtp.example.org:587",
      alertSmtpFrom: "matrix@example.org", alertSmtpUser: "matrix", alertSmtpPassword: "pw",
    }).monitoring).toMatchObject({
      webhookUrl: "https://hooks.example.org/x",
      email: { to: "ops@example.org", from: "matrix@example.org", smarthost: "smtp.example.org:587", username: "matrix", password: "pw" },
    });
  });

  it.each<[string, RawConfig, RegExp[]]>([
    ["monitoring without an admin to invite", { monitoring: "true", adminUser: "" }, [/synapse:monitoring: given true, expected adminUser to be set too/]],
    ["the admin as the bot", { monitoring: "true", monitoringBotUser: "admin" }, [/synapse:monitoringBotUser: given "admin", expected another user than adminUser/]],
    ["an alert that waits less than one evaluation", { monitoring: "true", monitoringInterval: "1m", monitoringAlertFor: "30s" },
      [/synapse:monitoringAlertFor: given "30s", expected at least monitoringInterval \("1m"\)/]],
    ["milliseconds and sizes Prometheus does not take", { monitoring: "true", monitoringInterval: "500ms", monitoringRetentionSize: "1G" },
      [/synapse:monitoringInterval: given "500ms", expected a duration such as 30s/, /synapse:monitoringRetentionSize: given "1G", expected a size such as 512MB or 2GB/]],
    ["mail without its server and sender", { monitoring: "true", alertEmail: "ops@example.org" },
      [/synapse:alertSmtpHost: given nothing, expected a value with alertEmail/, /synapse:alertSmtpFrom: given nothing, expected a value with alertEmail/]],
    ["a mail server without a mail address", { monitoring: "true", alertSmtpHost: "smtp.example.org:587" }, [/synapse:alertSmtpHost: given "smtp.example.org:587", expected nothing without alertEmail/]],
    ["an SMTP server without its port", { monitoring: "true", alertEmail: "ops@example.org", alertSmtpHost: "smtp.example.org", alertSmtpFrom: "m@example.org" },
      [/synapse:alertSmtpHost: given "smtp.example.org", expected host:port of an SMTP server/]],
    ["a password without its login", { monitoring: "true", alertEmail: "ops@example.org", alertSmtpHost: "smtp.example.org:25", alertSmtpFrom: "m@example.org", alertSmtpPassword: "pw" },
      [/synapse:alertSmtpPassword: given a secret value, expected alertSmtpUser to be set too/]],
    ["its keys without monitoring", { monitoringAlertFor: "1m", alertWebhookUrl: "https://hooks.example.org/x" }, [
      /synapse:monitoringAlertFor: given "1m", expected nothing without monitoring: true/, /synapse:alertWebhookUrl: given "https:\/\/hooks.example.org\/x", expected nothing without monitoring: true/]],
  ])("refuses %s", (_, raw, expected) => {
    const errors = errorsOf(raw);
    for (const e of expected) expect(errors).toEqual(expect.arrayContaining([expect.stringMatching(e)]));
    expect(errors).toHaveLength(expected.length);
  });

  it.each(tierNames)("%s: with TURN and monitoring on, its memory budget still fits its host with headroom", (tier) => {
    const s = settingsOf({ tier, turn: "true", monitoring: "true" });
    const budget = memoryBudgetMiB(tier, processCount(s.workers) - 1, pgSizeBytes(s.sizing.postgresSharedBuffers) / 2 ** 20, { turn: true, monitoring: true });
    expect(budget).toBeGreaterThan(memoryBudgetMiB(tier, processCount(s.workers) - 1, pgSizeBytes(s.sizing.postgresSharedBuffers) / 2 ** 20));
    expect({ tier, budget, fits: budget <= tierHostMiB[tier] * (1 - hostHeadroom) }).toEqual({ tier, budget, fits: true });
  });
});

describe("what Prometheus scrapes", () => {
  it("gives Synapse a metrics listener on loopback, and metrics on", () => {
    expect(monitoringHomeserverPart()).toEqual({ listeners: [{ port: 9000, type: "metrics", bind_addresses: ["127.0.0.1"] }] });
    expect(baseHomeserverPart(settingsOf({ monitoring: "true" })).enable_metrics).toBe(true);
    expect(baseHomeserverPart(settingsOf({})).enable_metrics).toBeUndefined();
  });

  it("scrapes every Synapse process by name and unit, and each host's exporters where they listen", () => {
    const s = settingsOf({ monitoring: "true", host: "10.0.0.2", databaseHost: "10.0.0.3", tier: "community", workerHosts: '["10.0.0.4"]' });
    const plan = workerPlan(s.workers, ["10.0.0.4"]);
    const hosts = monitoredHosts(s, [{ address: "10.0.0.4" }]);
    expect(hosts).toEqual([
      { role: "synapse", address: "127.0.0.1", postgres: false }, { role: "database", address: "10.0.0.3", postgres: true },
      { role: "worker-host-1", address: "10.0.0.4", postgres: false },
    ]);
    const jobs = Object.fromEntries(scrapeJobs(plan, hosts).map((j) => [j.job, j]));
    expect(jobs.synapse.metricsPath).toBe("/_synapse/metrics");
    expect(jobs.synapse.targets).toEqual([
      { address: "127.0.0.1:9000", labels: { process: "main", unit: "matrix-synapse.service", host: "synapse" } },
      { address: "10.0.0.4:8111", labels: { process: "synchrotron1", unit: "matrix-synapse-worker@synchrotron1.service", host: "worker-host-1" } },
      { address: "10.0.0.4:8121", labels: { process: "federation_sender1", unit: "matrix-synapse-worker@federation_sender1.service", host: "worker-host-1" } },
      { address: "10.0.0.4:8131", labels: { process: "federation_reader1", unit: "matrix-synapse-worker@federation_reader1.service", host: "worker-host-1" } },
      { address: "127.0.0.1:8161", labels: { process: "media_repository1", unit: "matrix-synapse-worker@media_repository1.service", host: "synapse" } },
    ]);
    expect(jobs.node.targets.map((t) => t.address)).toEqual(["127.0.0.1:9100", "10.0.0.3:9100", "10.0.0.4:9100"]);
    expect(jobs.postgres.targets).toEqual([{ address: "10.0.0.3:9187", labels: { host: "database" } }]);
  });

  it.each<[string, RawConfig]>([
    ["solo", {}], ["community", { tier: "community" }],
    ["large on a database box and a worker host, with a webhook and mail", {
      tier: "large", host: "10.0.0.2", databaseHost: "10.0.0.3", workerHosts: '["10.0.0.4"]', alertWebhookUrl: "https://hooks.example.org/x",
      alertEmail: "ops@example.org", alertSmtpHost: "smtp.example.org:587", alertSmtpFrom: "m@example.org", alertSmtpUser: "m", alertSmtpPassword: "pw",
    }],
  ])("%s: promtool accepts Prometheus's config and its rules", (_, raw) => {
    requireTools("promtool");
    const s = settingsOf({ monitoring: "true", ...raw });
    const workerHosts = s.workerHosts.hosts;
    const plan = workerPlan(s.workers, workerHosts.map((h) => h.address));
    const dir = scratch();
    fs.writeFileSync(path.join(dir, "prometheus.yml"), renderPrometheusConfig(s.monitoring!, scrapeJobs(plan, monitoredHosts(s, workerHosts))));
    fs.writeFileSync(path.join(dir, "synapse-alerts.yml"), renderAlertRules(s.monitoring!, ruleContext(s)));
    const check = spawnSync("promtool", ["check", "config", path.join(dir, "prometheus.yml")], { encoding: "utf8" });
    expect({ status: check.status, out: check.stdout + check.stderr }).toMatchObject({ status: 0, out: expect.stringMatching(/SUCCESS: 11 rules found|SUCCESS: 10 rules found/) });
    fs.rmSync(dir, { recursive: true });
  });
});

const ruleContext = (s: Settings): RuleContext => ({ tier: s.tier, growthAlertMiB: s.databaseReport.growthAlertMiB, backups: !!s.backups, databaseName: "synapse" });

describe("the alert rules, fed series by promtool", () => {
  const s = settingsOf({ monitoring: "true" });
  const rules = alertRules(s.monitoring!, ruleContext(s));
  const rule = (name: string) => rules.find((r) => r.alert === name)!;
  /** A rule's annotations as Alertmanager gets them: its $labels filled in, and what `values` says of the rest. */
  const annotations = (name: string, labels: Record<string, string>, values: Record<string, string> = {}) =>
    Object.fromEntries(Object.entries(rule(name).annotations).map(([k, text]) => {
      let out = text;
      for (const [template, expanded] of Object.entries(values)) out = out.split(template).join(expanded);
      return [k, out.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, l: string) => labels[l] ?? "")];
    }));
  const node = { instance: "127.0.0.1:9100", job: "node", host: "synapse" };
  const fsLabels = (mountpoint: string) => ({ ...node, mountpoint, device: "/dev/vda1", fstype: "ext4" });
  const series = (name: string, labels: Record<string, string>, values: string) =>
    ({ series: `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(", ")}}`, values });
  const alert = (name: string, labels: Record<string, string>, values?: Record<string, string>) =>
    ({ exp_labels: { alertname: name, severity: rule(name).labels.severity, ...labels }, exp_annotations: annotations(name, labels, values) });
  const worker = { job: "synapse", instance: "127.0.0.1:8111", process: "synchrotron1", unit: "matrix-synapse-worker@synchrotron1.service", host: "synapse" };
  const timeLeft = rule("DiskAlmostFull").annotations.description.match(/\{\{ with printf[\s\S]*\{\{ end \}\}/)![0];
  const mb = (n: number) => n * 1e6;

  const tests = [
    { // A worker down for longer than `for`: firing; up again: nothing. Main up throughout: never.
      interval: "30s",
      input_series: [series("up", worker, "1 1 0x20 1x5"), series("up", { ...worker, instance: "127.0.0.1:9000", process: "main", unit: "matrix-synapse.service" }, "1x30")],
      alert_rule_test: [
        { eval_time: "2m", alertname: "SynapseProcessDown", exp_alerts: [] },
        { eval_time: "8m", alertname: "SynapseProcessDown", exp_alerts: [alert("SynapseProcessDown", worker)] },
        { eval_time: "14m", alertname: "SynapseProcessDown", exp_alerts: [] },
      ],
    },
    { // A watched service inactive; an unwatched one is not our business.
      interval: "30s",
      input_series: [series("node_systemd_unit_state", { ...node, name: "coturn.service", state: "active" }, "1 0x20"),
        series("node_systemd_unit_state", { ...node, name: "cron.service", state: "active" }, "0x20")],
      alert_rule_test: [{ eval_time: "8m", alertname: "ServiceDown", exp_alerts: [alert("ServiceDown", { ...node, name: "coturn.service", state: "active" })] }],
    },
    { // The sender stuck while events keep being written.
      interval: "30s",
      input_series: [series("synapse_event_persisted_position", { job: "synapse", process: "main" }, "1000+100x30"),
        series("synapse_event_processing_positions", { job: "synapse", process: "federation_sender1", name: "federation_sender" }, "1000x30")],
      alert_rule_test: [
        { eval_time: "2m", alertname: "FederationSenderBehind", exp_alerts: [] },
        { eval_time: "10m", alertname: "FederationSenderBehind", exp_alerts: [alert("FederationSenderBehind", {}, { "{{ $value }}": "2000" })] },
      ],
    },
    { // / loses 10 MB every 30 s on 10 GB: under 10 % free at 50 min, firing from 55 min, 40 minutes left at 60.
      interval: "30s",
      input_series: [series("node_filesystem_avail_bytes", fsLabels("/"), `${mb(2000)}-${mb(10)}x130`), series("node_filesystem_size_bytes", fsLabels("/"), `${mb(10000)}x130`),
        series("node_filesystem_readonly", fsLabels("/"), "0x130"),
        // Full but read-only (an ISO, a snap): not a disk filling up.
        series("node_filesystem_avail_bytes", fsLabels("/media/cd"), "0x130"), series("node_filesystem_size_bytes", fsLabels("/media/cd"), `${mb(700)}x130`),
        series("node_filesystem_readonly", fsLabels("/media/cd"), "1x130")],
      alert_rule_test: [
        { eval_time: "45m", alertname: "DiskAlmostFull", exp_alerts: [] },
        { eval_time: "60m", alertname: "DiskAlmostFull", exp_alerts: [alert("DiskAlmostFull", fsLabels("/"), {
          "{{ $value | printf \"%.0f\" }}": "8", [timeLeft]: "40m 0s left at the rate of the last hour" })] },
      ],
    },
    { // /var loses 1 MB every 30 s: full within a day from about 5 h 10 min, under 40 % free already.
      interval: "5m",
      input_series: [series("node_filesystem_avail_bytes", fsLabels("/var"), `${mb(3500)}-${mb(10)}x100`), series("node_filesystem_size_bytes", fsLabels("/var"), `${mb(10000)}x100`),
        series("node_filesystem_readonly", fsLabels("/var"), "0x100")],
      alert_rule_test: [
        { eval_time: "4h", alertname: "DiskFillingUp", exp_alerts: [] },
        { eval_time: "7h", alertname: "DiskFillingUp", exp_alerts: [alert("DiskFillingUp", fsLabels("/var"), { [timeLeft]: "22h 10m 0s left at the rate of the last hour" })] },
      ],
    },
    { // 2 GiB a day: past the report's 1 GiB threshold. Another database growing as fast is not Synapse's.
      interval: "5m",
      input_series: [series("pg_database_size_bytes", { job: "postgres", host: "synapse", datname: "synapse" }, `1000000000+${(2 ** 31 / 86400) * 300}x40`),
        series("pg_database_size_bytes", { job: "postgres", host: "synapse", datname: "other" }, `1000000000+${(2 ** 31 / 86400) * 300}x40`)],
      alert_rule_test: [
        { eval_time: "30m", alertname: "DatabaseGrowingFast", exp_alerts: [] },
        { eval_time: "2h", alertname: "DatabaseGrowingFast", exp_alerts: [alert("DatabaseGrowingFast", { job: "postgres", host: "synapse", datname: "synapse" },
          { "{{ $value | humanize1024 }}": "2Gi" })] },
      ],
    },
    { // Ten days left on matrix's certificate, thirty on the well-known's.
      interval: "1m",
      input_series: [series("synapse_tls_certificate_expiry_timestamp_seconds", { ...node, site: "matrix", path: "/etc/synapse-deploy/tls/matrix/fullchain.pem" }, `${10 * 86400}x20`),
        series("synapse_tls_certificate_expiry_timestamp_seconds", { ...node, site: "matrix-well-known", path: "/x" }, `${30 * 86400}x20`)],
      alert_rule_test: [{ eval_time: "10m", alertname: "CertificateExpiring", exp_alerts: [alert("CertificateExpiring",
        { ...node, site: "matrix", path: "/etc/synapse-deploy/tls/matrix/fullchain.pem" }, { "{{ $value | humanizeDuration }}": "9d 23h 50m 0s" })] }],
    },
    { // 90 of 100 connections.
      interval: "1m",
      input_series: [series("pg_stat_activity_count", { job: "postgres", host: "synapse", state: "idle" }, "60x20"),
        series("pg_stat_activity_count", { job: "postgres", host: "synapse", state: "active" }, "30x20"),
        series("pg_settings_max_connections", { job: "postgres", host: "synapse" }, "100x20")],
      alert_rule_test: [{ eval_time: "10m", alertname: "PostgresConnectionsNearMax", exp_alerts: [alert("PostgresConnectionsNearMax", { host: "synapse" },
        { "{{ $value | printf \"%.0f\" }}": "90" })] }],
    },
    { // A 4 GiB host using 2 GiB: over 90 % of solo's 2 GiB. A 16 GiB database box using the same: fine.
      interval: "1m",
      input_series: [series("node_memory_MemTotal_bytes", node, `${4 * 2 ** 30}x20`), series("node_memory_MemAvailable_bytes", node, `${2 * 2 ** 30}x20`),
        series("node_memory_MemTotal_bytes", { ...node, host: "database" }, `${16 * 2 ** 30}x20`),
        series("node_memory_MemAvailable_bytes", { ...node, host: "database" }, `${15 * 2 ** 30}x20`)],
      alert_rule_test: [{ eval_time: "10m", alertname: "MemoryNearHostSize", exp_alerts: [alert("MemoryNearHostSize", node, { "{{ $value | humanize1024 }}": "2Gi" })] }],
    },
    { // A notification to the webhook failed.
      interval: "1m",
      input_series: [series("alertmanager_notifications_failed_total", { job: "alertmanager", integration: "webhook" }, "0 0 1 2 3 4 5 6 7 8 9 10")],
      alert_rule_test: [{ eval_time: "8m", alertname: "AlertDeliveryFailing", exp_alerts: [alert("AlertDeliveryFailing", { job: "alertmanager", integration: "webhook" })] }],
    },
    { // No good backup for 2 h, with 1 h allowed; another host whose backup is fresh.
      interval: "1m",
      input_series: [series("synapse_backup_last_success_timestamp_seconds", node, "0x150"), series("synapse_backup_max_age_seconds", node, "3600x150"),
        series("synapse_backup_last_success_timestamp_seconds", { ...node, host: "other" }, "0+60x150"), series("synapse_backup_max_age_seconds", { ...node, host: "other" }, "3600x150")],
      alert_rule_test: [{ eval_time: "2h", alertname: "BackupTooOld", exp_alerts: [alert("BackupTooOld", node, { "{{ $value | humanizeDuration }}": "2h 0m 0s" })] }],
    },
  ];

  it("cover every rule", () => {
    expect(new Set(tests.flatMap((t) => t.alert_rule_test.map((a) => a.alertname)))).toEqual(new Set(rules.map((r) => r.alert)));
  });

  it("promtool checks them and finds each alert firing exactly when it should, with its annotations", () => {
    requireTools("promtool");
    const dir = scratch();
    fs.writeFileSync(path.join(dir, "synapse-alerts.yml"), renderAlertRules(s.monitoring!, ruleContext(s)));
    const check = spawnSync("promtool", ["check", "rules", path.join(dir, "synapse-alerts.yml")], { encoding: "utf8" });
    expect({ status: check.status, out: check.stdout + check.stderr }).toMatchObject({ status: 0, out: expect.stringContaining(`SUCCESS: ${rules.length} rules found`) });
    fs.writeFileSync(path.join(dir, "tests.yml"), YAML.stringify({ rule_files: ["synapse-alerts.yml"], evaluation_interval: "30s", tests }, { lineWidth: 0 }));
    const test = spawnSync("promtool", ["test", "rules", path.join(dir, "tests.yml")], { encoding: "utf8" });
    expect({ status: test.status, out: test.stdout + test.stderr }).toEqual({ status: 0, out: expect.stringContaining("SUCCESS") });
    fs.rmSync(dir, { recursive: true });
  });
});

describe("Alertmanager", () => {
  it("sends every alert, firing and resolved, to the receiver and the admin's webhook and mailbox; the SMTP password stays in its file", () => {
    const m = settingsOf({
      monitoring: "true", monitoringInterval: "10s", monitoringAlertFor: "1m", alertWebhookUrl: "https://hooks.example.org/x", alertEmail: "ops@example.org",
      alertSmtpHost: "smtp.example.org:587", alertSmtpFrom: "m@example.org", alertSmtpUser: "m", alertSmtpPassword: "do-not-leak",
    }).monitoring!;
    const text = renderAlertmanagerConfig(m);
    expect(text).not.toContain("do-not-leak");
    expect(YAML.parse(text)).toEqual({
      route: { receiver: "admin", group_by: ["..."], group_wait: "10s", group_interval: "1m", repeat_interval: "12h" },
      receivers: [{
        name: "admin",
        webhook_configs: [{ url: "http://127.0.0.1:9195/alerts", send_resolved: true }, { url: "https://hooks.example.org/x", send_resolved: true }],
        email_configs: [{ to: "ops@example.org", from: "m@example.org", smarthost: "smtp.example.org:587", send_resolved: true, auth_username: "m",
          auth_password_file: "/etc/prometheus/alertmanager-smtp-password" }],
      }],
    });
    expect(YAML.parse(renderAlertmanagerConfig(settingsOf({ monitoring: "true" }).monitoring!)).receivers[0]).toEqual({
      name: "admin", webhook_configs: [{ url: "http://127.0.0.1:9195/alerts", send_resolved: true }],
    });
  });
});

describe("the alert receiver (host-tools/synapse-alert-receiver.py, run by Python)", () => {
  interface Received { method: string; url: string; auth: string; body: any }
  let matrix: http.Server;
  let received: Received[];
  /** What the fake homeserver answers next (a status and a body), else 200 with an event ID. */
  let answers: [number, object][];
  let receiver: ReturnType<typeof spawn> | undefined;
  let dir: string;
  let receiverPort: number;

  beforeEach(async () => {
    received = [];
    answers = [];
    matrix = http.createServer((req, res) => {
      let data = "";
      req.on("data", (d) => { data += d; });
      req.on("end", () => {
        received.push({ method: req.method!, url: req.url!, auth: req.headers.authorization ?? "", body: JSON.parse(data || "null") });
        const [status, body] = answers.shift() ?? [200, { event_id: `$event${received.length}` }];
        res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
      });
    });
    await new Promise<void>((r) => matrix.listen(0, "127.0.0.1", r));
    dir = scratch();
    fs.mkdirSync(path.join(dir, "credentials"));
    fs.writeFileSync(path.join(dir, "credentials", "token"), "syt_bot_token\n");
    fs.writeFileSync(path.join(dir, "room"), "!alerts:example.org\n");
    receiverPort = 20000 + Math.floor(Math.random() * 20000);
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({
      listen: `127.0.0.1:${receiverPort}`, homeserver: `http://127.0.0.1:${(matrix.address() as AddressInfo).port}`, roomFile: path.join(dir, "room"),
    }));
    receiver = spawn("python3", [path.join(__dirname, "..", "..", "host-tools", "synapse-alert-receiver.py"), path.join(dir, "config.json")],
      { env: { ...process.env, CREDENTIALS_DIRECTORY: path.join(dir, "credentials") }, stdio: ["ignore", "pipe", "pipe"] });
    for (let i = 0; i < 100; i++) {
      if (await fetch(`http://127.0.0.1:${receiverPort}/health`).then((r) => r.ok, () => false)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("the receiver did not start");
  });

  afterEach(async () => {
    receiver?.kill();
    await new Promise<void>((r) => matrix.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const firing = {
    status: "firing", fingerprint: "abc123", startsAt: "2026-12-05T10:00:00.123456789Z", endsAt: "0001-01-01T00:00:00Z",
    labels: { alertname: "SynapseProcessDown", severity: "critical", process: "synchrotron1" },
    annotations: { summary: "Synapse process synchrotron1 is down", description: "synchrotron1 on synapse has not answered Prometheus for 5m." },
  };
  const resolved = { ...firing, status: "resolved", endsAt: "2026-12-05T10:07:30.5Z" };
  const notify = (alerts: object[]) => fetch(`http://127.0.0.1:${receiverPort}/alerts`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ version: "4", status: "firing", alerts }),
  });

  it("posts each alert as the bot into the room, firing with what to do, resolved with how long it lasted", async () => {
    expect((await notify([firing, resolved])).status).toBe(200);
    expect(received.map((r) => [r.method, r.url.replace(/[^/]+$/, "TXN"), r.auth])).toEqual([
      ["PUT", "/_matrix/client/v3/rooms/%21alerts%3Aexample.org/send/m.room.message/TXN", "Bearer syt_bot_token"],
      ["PUT", "/_matrix/client/v3/rooms/%21alerts%3Aexample.org/send/m.room.message/TXN", "Bearer syt_bot_token"],
    ]);
    expect(received[0].body).toEqual({
      msgtype: "m.notice", format: "org.matrix.custom.html",
      body: "🔴 FIRING SynapseProcessDown: Synapse process synchrotron1 is down\nsynchrotron1 on synapse has not answered Prometheus for 5m.\ncritical, since 2026-12-05 10:00:00 UTC",
      formatted_body: "🔴 <b>FIRING SynapseProcessDown</b>: Synapse process synchrotron1 is down<br>synchrotron1 on synapse has not answered Prometheus for 5m.<br>critical, since 2026-12-05 10:00:00 UTC",
    });
    expect(received[1].body.body).toBe("✅ RESOLVED SynapseProcessDown: Synapse process synchrotron1 is down\ncritical, resolved, after 7 min 30 s (since 2026-12-05 10:00:00 UTC)");
  });

  it("posts a retried notification under the same transaction (Synapse keeps one), a new episode under another", async () => {
    await notify([firing]);
    await notify([firing]);
    await notify([{ ...firing, startsAt: "2026-12-05T11:00:00Z" }]);
    const txns = received.map((r) => r.url.split("/").pop());
    expect(txns[0]).toBe(txns[1]);
    expect(txns[2]).not.toBe(txns[0]);
  });

  it("waits out the homeserver's rate limit, and answers 503 when the room cannot be reached (Alertmanager retries)", async () => {
    answers = [[429, { errcode: "M_LIMIT_EXCEEDED", retry_after_ms: 200 }]];
    expect((await notify([firing])).status).toBe(200);
    expect(received).toHaveLength(2);
    answers = [[403, { errcode: "M_FORBIDDEN" }]];
    expect((await notify([firing])).status).toBe(503);
    expect((await fetch(`http://127.0.0.1:${receiverPort}/alerts`, { method: "POST", body: "not json" })).status).toBe(400);
  });
});

describe("the program", () => {
  const stack = { serverName: "example.org", host: "203.0.113.10", tlsMode: "self-signed", packageSource: "debian", adminUser: "admin", monitoring: "true" };
  // What alert-bot.sh prints on the host.
  const botAnswer = { "monitoring-bot": JSON.stringify({ room_id: "!room:example.org", bot: "@alerts:example.org" }) };

  it("runs Prometheus, Alertmanager, the exporters and the bot on the Synapse VPS, behind a firewall, after Synapse, its admin and nginx", async () => {
    const run = await runProgram(stack, undefined, botAnswer);
    const components = run.resources.filter((r) => !r.custom).map((r) => `${r.type} ${r.name}`);
    expect(components).toEqual(expect.arrayContaining(["synapse:index:Monitoring monitoring", "synapse:index:HostExporters exporters-synapse"]));
    const dependsOn = (name: string) => run.byName(name).dependencies.map((u) => u.split("::").pop());
    expect(dependsOn("monitoring-activate")).toEqual(expect.arrayContaining(["monitoring-bot", "monitoring-firewall", "monitoring-nginx-status", "monitoring-textfile"]));
    const after = (later: string, earlier: string) => expect({ later, earlier, ok: run.byName(later).started > run.byName(earlier).finished })
      .toEqual({ later, earlier, ok: true });
    after("monitoring-bot", "synapse-admin-user");
    after("monitoring-activate", "nginx-activate");
    after("exporters-synapse-activate", "postgres-database");
    const firewall = run.byName("monitoring-firewall-nft").inputs.stdin;
    expect(firewall).toContain("tcp dport { 9000, 9090, 9193, 9195, 9100, 9113, 9114, 9187 } drop");
    const homeserver = YAML.parse(run.byName("synapse-staged-homeserver").inputs.stdin);
    expect(homeserver.listeners).toContainEqual({ port: 9000, type: "metrics", bind_addresses: ["127.0.0.1"] });
    expect(homeserver.enable_metrics).toBe(true);
    expect(run.outputs.alertRoom).toBe("!room:example.org");
    expect(run.byName("host-packages-synapse").inputs.create).toMatch(/PACKAGES='[^']*prometheus prometheus-alertmanager prometheus-nginx-exporter prometheus-node-exporter prometheus-postgres-exporter/);
  });

  it("gives the bot its password and the admin's token on stdin only, and the SMTP password to the activation only", async () => {
    const run = await runProgram({ ...stack, alertEmail: "ops@example.org", alertSmtpHost: "smtp.example.org:587", alertSmtpFrom: "m@example.org",
      alertSmtpUser: "m", alertSmtpPassword: "smtp-do-not-leak" }, ["sshPrivateKey", "alertSmtpPassword"], botAnswer);
    const bot = run.byName("monitoring-bot");
    expect(bot.inputs.stdin).toBe(`${secretOf("monitoring-bot-password")}\n${adminToken}\n`);
    expect(bot.secretInputs).toContain("stdin");
    expect(bot.inputs.create).toContain("BOT_USER=alerts\nADMIN_USER_ID=@admin:example.org\n");
    const activate = run.byName("monitoring-activate");
    expect(activate.inputs.stdin).toBe("smtp-do-not-leak");
    expect(activate.secretInputs).toContain("stdin");
    for (const r of run.resources.filter((x) => x.type === "command:remote:Command" && x.name !== "monitoring-activate")) {
      expect({ name: r.name, leaks: JSON.stringify(r.inputs).includes("smtp-do-not-leak") }).toEqual({ name: r.name, leaks: false });
    }
  });

  it("puts exporters on a database box and worker hosts at their private addresses, admitting only the Synapse VPS", async () => {
    const run = await runProgram({ ...stack, host: "10.0.0.2", databaseHost: "10.0.0.3", tier: "large", workerHosts: '["10.0.0.4"]' }, undefined, botAnswer);
    expect(run.byName("exporters-database-activate").inputs.connection.host).toBe("10.0.0.3");
    expect(run.byName("exporters-database-activate").inputs.create).toContain("POSTGRES_URL=http://10.0.0.3:9187/metrics\n");
    expect(run.byName("exporters-database-staged-node-default").inputs.stdin).toContain("--web.listen-address=10.0.0.3:9100");
    expect(run.byName("exporters-worker-host-1-firewall-nft").inputs.stdin).toContain("ip saddr { 10.0.0.2 } tcp dport 9100 accept");
    expect(run.byName("exporters-database-firewall-nft").inputs.stdin).toContain("ip saddr { 10.0.0.2 } tcp dport { 9100, 9187 } accept");
    // Its parameters (before lib.sh): no PostgreSQL on the Synapse VPS with a database box.
    expect(run.byName("exporters-synapse-activate").inputs.create.split("# Shared helpers")[0]).not.toContain("POSTGRES_URL");
    const r = parseSettings({ ...validRaw(), ...stack, host: "10.0.0.2", databaseHost: "10.0.0.3", tier: "large", workerHosts: '["10.0.0.4"]' });
    if (!r.ok) throw new Error(r.errors.join("\n"));
    expect(Object.fromEntries(hostPackagePlans(r.settings).map((p) => [p.role, p.packages.filter((x) => x.startsWith("prometheus"))]))).toEqual({
      synapse: ["prometheus", "prometheus-alertmanager", "prometheus-nginx-exporter", "prometheus-node-exporter"],
      database: ["prometheus-node-exporter", "prometheus-postgres-exporter"],
      "worker-host-1": ["prometheus-node-exporter"],
    });
  });
});
