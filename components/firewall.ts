// A host firewall as host steps: the rules and their boot unit staged (readable in previews),
// then firewall.sh checks, installs and loads them. Not a component: the component whose service
// the firewall guards owns the steps.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { Firewall, FirewallTable, firewallStep, privateNetworkTable } from "../render/firewall";
import { stagedDir } from "../render/paths";
import { scriptStep, SshConnectionArgs, stagedFile } from "./remote";

export interface HostFirewallArgs {
  connection: SshConnectionArgs;
  /** Names the table, rules file and unit (known when the program runs). */
  name: string;
  ports: number[];
  /** The only addresses admitted besides loopback. */
  clients: pulumi.Input<pulumi.Input<string>[]>;
  /** Steps that must come first (the service's packages). */
  after: pulumi.Resource[];
}

/** A service's ports closed to everyone but loopback and the listed hosts. */
export function hostFirewall(resourceName: string, args: HostFirewallArgs, parent: pulumi.Resource): command.remote.Command {
  const spec = (clients: string[]): Firewall => ({ name: args.name, ports: args.ports, clients });
  return tableFirewall(resourceName, {
    connection: args.connection, name: args.name, after: args.after,
    table: pulumi.output(args.clients).apply((clients) => privateNetworkTable(spec(clients))),
  }, parent);
}

/** A table a component renders itself (its name known when the program runs, its rules maybe later). */
export function tableFirewall(resourceName: string, args: { connection: SshConnectionArgs; name: string; table: pulumi.Input<FirewallTable>; after: pulumi.Resource[] },
  parent: pulumi.Resource): command.remote.Command {
  const step = pulumi.output(args.table).apply(firewallStep);
  // Which files and where depend on the name alone: known now, as resource names must be.
  const files = firewallStep({ name: args.name, description: "", chains: [] }).files.map((f, i) => stagedFile(`${resourceName}-${f.key}`, {
    connection: args.connection, path: `${stagedDir}/${f.path}`, mode: "0644", owner: "root:root", content: step.apply((s) => s.files[i].content),
  }, { parent }));
  return scriptStep(resourceName, { connection: args.connection, script: "firewall", params: step.apply((s) => s.params) },
    { parent, dependsOn: [...args.after, ...files] });
}
