// A host firewall as host steps: the rules and their boot unit staged (readable in previews),
// then firewall.sh checks, installs and loads them. Not a component: the component whose service
// the firewall guards owns the steps.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { Firewall, firewallRules, firewallUnit, renderFirewall, renderFirewallUnit } from "../render/firewall";
import { stagedDir } from "../render/paths";
import { scriptStep, sha256, SshConnectionArgs, stagedFile } from "./remote";

export interface HostFirewallArgs {
  connection: SshConnectionArgs;
  /** Names the table, rules file and unit (known when the program runs). */
  name: string;
  ports: number[];
  /** The only addresses admitted besides loopback. */
  clients: pulumi.Input<pulumi.Input<string>[]>;
}

export function hostFirewall(resourceName: string, args: HostFirewallArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
  const spec = (clients: string[]): Firewall => ({ name: args.name, ports: args.ports, clients });
  const firewall = pulumi.output(args.clients).apply(spec);
  const staged = `${stagedDir}/firewall-${args.name}`;
  const files = ([["firewall.nft", renderFirewall], ["firewall.service", renderFirewallUnit]] as const).map(([file, render]) =>
    stagedFile(`${resourceName}-${file.split(".")[1]}`, {
      connection: args.connection, path: `${staged}/${file}`, mode: "0644", owner: "root:root", content: firewall.apply(render),
    }, { parent: opts.parent }));
  return scriptStep(resourceName, {
    connection: args.connection,
    script: "firewall",
    // The rules' digest: new rules re-run the step that loads them.
    params: firewall.apply((f) => ({ STAGED: staged, RULES: firewallRules(f), UNIT: firewallUnit(f), RULES_SHA256: sha256(renderFirewall(f)).slice(0, 16) })),
  }, { ...opts, dependsOn: [...(pulumi.Resource.isInstance(opts.dependsOn) ? [opts.dependsOn] : (opts.dependsOn as pulumi.Resource[] | undefined) ?? []), ...files] });
}
