import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { componentPackages } from "../render/packages";
import {
  exporterFirewall, MonitoredHost, monitoringPorts, nodeExporterArgs, postgresExporterArgs, postgresExporterDsn, renderDefaults,
} from "../render/monitoring";
import { stagedDir } from "../render/paths";
import { loopback } from "../render/workers";
import { hostFirewall } from "./firewall";
import { firewallRules, firewallTable, firewallUnit } from "../render/firewall";
import { scriptStep, sha256, SshConnectionArgs, stagedFile, teardownStep } from "./remote";

export interface HostExportersArgs {
  connection: SshConnectionArgs;
  host: MonitoredHost;
  /** The Synapse VPS's private address: the only one admitted to a host's exporters besides itself. */
  synapseAddress?: string;
}

/**
 * Prometheus's exporters on one host the program runs: node exporter (disk, memory, the systemd
 * units the homeserver needs), and where PostgreSQL runs, PostgreSQL's exporter. On the Synapse VPS
 * they listen on loopback; on a database box or worker host on its private address, with a
 * firewall admitting only the Synapse VPS, whose Prometheus scrapes them.
 */
export class HostExporters extends pulumi.ComponentResource {
  public readonly activated: command.remote.Command;

  constructor(name: string, args: HostExportersArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:HostExporters", name, {}, opts);
    const { host } = args;
    const fw = exporterFirewall(host, args.synapseAddress ?? "");
    teardownStep(`${name}-teardown`, {
      connection: args.connection, script: "monitoring-teardown",
      params: {
        // Each exporter runs as the service its package installs, named like the package.
        SERVICES: [...componentPackages.nodeExporter, ...(host.postgres ? componentPackages.postgresExporter : [])].join(" "),
        UNIT: firewallUnit(fw), TABLE: firewallTable(fw), RULES: firewallRules(fw),
      },
    }, { parent: this });
    const url = (port: number) => `http://${host.address.includes(":") ? `[${host.address}]` : host.address}:${port}/metrics`;
    // Each exporter's service (named like its package) and the file of its arguments.
    const exporters = [
      { service: componentPackages.nodeExporter[0], file: "node.default", content: renderDefaults({ ARGS: nodeExporterArgs(host.address) }) },
      ...(host.postgres ? [{
        service: componentPackages.postgresExporter[0], file: "postgres.default",
        content: renderDefaults({ DATA_SOURCE_NAME: postgresExporterDsn, ARGS: postgresExporterArgs(host.address) }),
      }] : []),
    ];
    const files: Record<string, string> = Object.fromEntries(exporters.map((e) => [e.file, e.content]));
    const staged = Object.entries(files).map(([file, content]) => stagedFile(`${name}-staged-${file.replace(/\./g, "-")}`, {
      connection: args.connection, path: `${stagedDir}/exporters/${file}`, content, mode: "0644", owner: "root:root",
    }, { parent: this }));
    // Closed to all but the Synapse VPS before they listen (on the Synapse VPS the monitoring's own
    // table covers these ports).
    const firewall = host.address === loopback ? []
      : [hostFirewall(`${name}-firewall`, { connection: args.connection, name: fw.name, ports: fw.ports, clients: fw.clients, after: [] }, this)];
    this.activated = scriptStep(`${name}-activate`, {
      connection: args.connection, script: "exporters-activate",
      params: {
        NODE_URL: url(monitoringPorts.nodeExporter),
        ...(host.postgres ? { POSTGRES_URL: url(monitoringPorts.postgresExporter) } : {}),
        EXPORTERS: exporters.map((e) => `${e.service}=${e.file}`).join(" "),
        CONTENT_SHA256: sha256(Object.values(files).join("\0")).slice(0, 16),
      },
    }, { parent: this, dependsOn: [...staged, ...firewall] });
    this.registerOutputs({});
  }
}
