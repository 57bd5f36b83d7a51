import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { MonitoringSettings, tierMonitoring } from "../config/monitoring";

import { componentPackages, packagesParam } from "../render/packages";
import { firewallRules, firewallTable, firewallUnit } from "../render/firewall";
import { hostTool, renderHostTool } from "../render/maintenance";
import {
  alertmanagerArgs, monitoringFirewall, monitoringPaths, monitoringPorts, nginxExporterArgs, prometheusArgs, receiverUnit, renderAlertmanagerConfig,
  renderAlertRules, renderDefaults, renderNginxStatusSite, renderPrometheusConfig, renderReceiverConfig, renderReceiverUnit, renderStatusConf,
  renderTextfileConf, RuleContext, ScrapeJob, statusTool, textfileTool,
} from "../render/monitoring";
import { PackageSource, stagedDir, synapseLocalUrl, synapsePaths } from "../render/paths";
import { WorkerSpec } from "../render/workers";
import { hostFirewall } from "./firewall";
import { maintenanceTool } from "./maintenanceTool";
import { scriptStep, sha256, SshConnectionArgs, stagedFile, teardownStep } from "./remote";

export interface MonitoringArgs {
  /** The Synapse VPS: Prometheus, Alertmanager, the receiver and nginx's exporter run there. */
  connection: SshConnectionArgs;
  monitoring: MonitoringSettings;
  rules: RuleContext;
  jobs: ScrapeJob[];
  /** The workers (their listeners on the Synapse VPS are closed to the outside with the rest). */
  workers: WorkerSpec[];
  packageSource: PackageSource;
  adminUserId: pulumi.Input<string>;
  /** The admin's token (secret): the bot's rate limit is lifted through the admin API. */
  adminAccessToken: pulumi.Input<string>;
  /** The backup timer's schedule the last good backup is judged against; none without backups. */
  backupSchedule?: string;
}

/** The services this component runs on the Synapse VPS (the exporters are HostExporters'). */
const services = [...componentPackages.monitoring, receiverUnit, `${textfileTool.name}.timer`]; // each package runs the service of its name

/**
 * Prometheus and Alertmanager from the distribution on the Synapse VPS, on loopback and behind a
 * firewall: Prometheus scrapes every Synapse process and the hosts' exporters and evaluates the
 * alert rules (checked by promtool before they go live); Alertmanager sends each alert, firing and
 * resolved, to our receiver, which posts it as the bot user into the admin room (the admin is
 * invited), and to the admin's webhook or mailbox if named. A timer writes what no daemon exports
 * (certificate expiry, the last good backup) for node exporter.
 */
export class Monitoring extends pulumi.ComponentResource {
  /** The admin room's ID. */
  public readonly alertRoom: pulumi.Output<string>;
  public readonly activated: command.remote.Command;

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:Monitoring", name, {}, opts);
    const conn = args.connection;
    const m = args.monitoring;
    const python = synapsePaths(args.packageSource).python;
    const firewall = monitoringFirewall(args.workers);
    teardownStep(`${name}-teardown`, {
      connection: conn, script: "monitoring-teardown",
      params: { SERVICES: services.join(" "), UNIT: firewallUnit(firewall), TABLE: firewallTable(firewall), RULES: firewallRules(firewall) },
    }, { parent: this });
    const fw = hostFirewall(`${name}-firewall`, { connection: conn, name: firewall.name, ports: firewall.ports, clients: firewall.clients, after: [] }, this);

    // The bot and its room (the bot's password and the admin's token on stdin).
    const botPassword = new random.RandomPassword(`${name}-bot-password`, { length: 40, special: false }, { parent: this }).result;
    const bot = scriptStep(`${name}-bot`, {
      connection: conn, script: "alert-bot",
      params: pulumi.output(args.adminUserId).apply((admin) => ({
        BOT_USER: m.botUser, ADMIN_USER_ID: admin, BASE_URL: synapseLocalUrl, PYTHON: python,
        ROOM_FILE: monitoringPaths.alertRoom, TOKEN_FILE: monitoringPaths.botToken, ROOM_NAME: "Homeserver alerts",
      })),
      stdin: pulumi.secret(pulumi.all([botPassword, args.adminAccessToken]).apply(([p, t]) => `${p}\n${t}\n`)),
    }, { parent: this });
    this.alertRoom = bot.stdout.apply((out) => (JSON.parse(out) as { room_id: string }).room_id);

    // nginx's counters for its exporter, on loopback.
    const statusSite = "synapse-status";
    const statusText = renderNginxStatusSite();
    const status = scriptStep(`${name}-nginx-status`, {
      connection: conn, script: "nginx-activate", params: { SITE: statusSite, CONTENT_SHA256: sha256(statusText).slice(0, 16) },
    }, { parent: this, dependsOn: [stagedFile(`${name}-staged-nginx-status`, {
      connection: conn, path: `${stagedDir}/nginx/${statusSite}.conf`, content: statusText, mode: "0644", owner: "root:root",
    }, { parent: this })] });

    const memory = tierMonitoring[args.rules.tier].prometheusMemoryMiB;
    const files: Record<string, string> = {
      "prometheus.yml": renderPrometheusConfig(m, args.jobs),
      "synapse-alerts.yml": renderAlertRules(m, args.rules),
      "alertmanager.yml": renderAlertmanagerConfig(m),
      "prometheus.default": renderDefaults({ ARGS: prometheusArgs(m) }),
      "alertmanager.default": renderDefaults({ ARGS: alertmanagerArgs() }),
      "nginx-exporter.default": renderDefaults({ ARGS: nginxExporterArgs() }),
      // Prometheus's share of the tier's memory budget (config/workers.ts): throttled above it, not killed.
      "prometheus-memory.conf": `# Managed by the synapse Pulumi program.\n[Service]\nMemoryHigh=${memory}M\n`,
      "synapse-alert-receiver.py": hostTool("synapse-alert-receiver.py"),
      "synapse-alert-receiver.json": renderReceiverConfig(synapseLocalUrl),
      "synapse-alert-receiver.service": renderReceiverUnit(python),
    };
    const staged = Object.entries(files).map(([file, content]) => stagedFile(`${name}-staged-${file.replace(/\./g, "-")}`, {
      connection: conn, path: `${stagedDir}/monitoring/${file}`, content, mode: "0644", owner: "root:root",
    }, { parent: this }));
    const textfile = maintenanceTool(`${name}-textfile`, {
      connection: conn, toolName: textfileTool.name,
      tool: {
        ...textfileTool, description: "Certificate expiry and the last good backup, for Prometheus", schedule: "*:0/5", randomizedDelay: "0",
        conf: renderTextfileConf(args.backupSchedule), after: ["prometheus-node-exporter.service"],
      },
    }, { parent: this });
    // What `npm run admin -- status` runs.
    const statusFiles = [
      stagedFile(`${name}-status-tool`, { connection: conn, path: statusTool.toolPath, content: renderHostTool(statusTool.name, statusTool.confPath), mode: "0755", owner: "root:root" }, { parent: this }),
      stagedFile(`${name}-status-conf`, { connection: conn, path: statusTool.confPath, content: renderStatusConf(args.rules.databaseName), mode: "0644", owner: "root:root" },
        { parent: this }),
    ];
    const url = (port: number, path: string) => `http://127.0.0.1:${port}${path}`;
    this.activated = scriptStep(`${name}-activate`, {
      connection: conn, script: "monitoring-activate",
      params: {
        PACKAGES: packagesParam(componentPackages.monitoring),
        PROMETHEUS_URL: url(monitoringPorts.prometheus, "/-/ready"), ALERTMANAGER_URL: url(monitoringPorts.alertmanager, "/-/ready"),
        RECEIVER_URL: url(monitoringPorts.receiver, "/health"), RECEIVER: monitoringPaths.receiver, RECEIVER_CONFIG: monitoringPaths.receiverConfig,
        RECEIVER_UNIT: receiverUnit, SMTP_PASSWORD_FILE: monitoringPaths.smtpPassword, TEXTFILE_SERVICE: `${textfileTool.name}.service`,
        CONTENT_SHA256: sha256(Object.values(files).join("\0")).slice(0, 16),
      },
      stdin: m.email?.password ? pulumi.secret(m.email.password) : "",
    }, { parent: this, dependsOn: [...staged, bot, fw, status, textfile, ...statusFiles] });
    this.registerOutputs({ alertRoom: this.alertRoom });
  }
}
