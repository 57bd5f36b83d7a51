// Host firewalls (nftables), each a table of the program's own, replaced whole on each load, so
// other rules (the admin's own, SSH) are untouched. The common kind closes a service's ports to
// everyone but loopback and the listed hosts of the private network; a component with other needs
// (TURN's) renders its own chains and ships them the same way.
import { createHash } from "node:crypto";
import { componentPackages, packagesParam } from "./packages";
import { stagedDir } from "./paths";

export interface Firewall {
  /** Names the table (synapse_<name>), the rules file and the unit. */
  name: string;
  ports: number[];
  /** The only addresses admitted besides loopback. */
  clients: string[];
}

/** A table as it is shipped: its name, what its boot unit says it does, and its chains. */
export interface FirewallTable {
  name: string;
  description: string;
  /** The chains inside `table inet synapse_<name> { … }`, one line each, indented by two. */
  chains: string[];
}

export const firewallTable = (f: { name: string }) => `synapse_${f.name.replace(/-/g, "_")}`;
export const firewallUnit = (f: { name: string }) => `synapse-${f.name}-firewall.service`;
export const firewallRules = (f: { name: string }) => `/etc/synapse-deploy/${f.name}-firewall.nft`;

/** `{ a, b }` for an nftables anonymous set, or the single element. */
export const nftSet = (elements: (string | number)[]) => (elements.length === 1 ? String(elements[0]) : `{ ${elements.join(", ")} }`);

/**
 * What firewall.sh needs: the files to stage (paths relative to the staging directory) and its
 * parameters, with the rules' digest so that new rules re-run the step that loads them.
 */
export function firewallStep(f: Firewall | FirewallTable): { files: { key: string; path: string; content: string }[]; params: Record<string, string> } {
  const table = "chains" in f ? f : privateNetworkTable(f);
  const dir = `firewall-${table.name}`;
  const rules = renderTable(table);
  return {
    files: [
      { key: "nft", path: `${dir}/firewall.nft`, content: rules },
      { key: "service", path: `${dir}/firewall.service`, content: renderFirewallUnit(table) },
    ],
    params: {
      STAGED: `${stagedDir}/${dir}`, RULES: firewallRules(table), UNIT: firewallUnit(table), PACKAGES: packagesParam(componentPackages.firewall),
      RULES_SHA256: createHash("sha256").update(rules).digest("hex").slice(0, 16),
    },
  };
}

/** A service's ports open to loopback and the listed hosts only. */
export function privateNetworkTable(f: Firewall): FirewallTable {
  const v4 = f.clients.filter((c) => !c.includes(":"));
  const v6 = f.clients.filter((c) => c.includes(":"));
  const ports = nftSet(f.ports);
  return {
    name: f.name,
    description: `ports ${f.ports.join(", ")} for the private network's hosts only`,
    chains: [
      "chain input {",
      "  type filter hook input priority filter; policy accept;",
      '  iifname "lo" accept',
      ...(v4.length ? [`  ip saddr { ${v4.join(", ")} } tcp dport ${ports} accept`] : []),
      ...(v6.length ? [`  ip6 saddr { ${v6.join(", ")} } tcp dport ${ports} accept`] : []),
      `  tcp dport ${ports} drop`,
      "}",
    ],
  };
}

export function renderFirewall(f: Firewall): string {
  return renderTable(privateNetworkTable(f));
}

export function renderTable(t: FirewallTable): string {
  return [
    "# Managed by the synapse Pulumi program.",
    `table inet ${firewallTable(t)}`,
    `delete table inet ${firewallTable(t)}`,
    `table inet ${firewallTable(t)} {`,
    ...t.chains.map((l) => `  ${l}`),
    "}",
    "",
  ].join("\n");
}

/** Loads the rules at boot, before the network comes up (and so before the service listens). */
export function renderFirewallUnit(t: FirewallTable): string {
  return [
    "# Managed by the synapse Pulumi program.",
    "[Unit]",
    `Description=Firewall for ${t.name}: ${t.description} (synapse-deploy)`,
    "After=nftables.service",
    "Before=network-pre.target",
    "Wants=network-pre.target",
    "",
    "[Service]",
    "Type=oneshot",
    "RemainAfterExit=yes",
    `ExecStart=/usr/sbin/nft -f ${firewallRules(t)}`,
    `ExecStop=/usr/sbin/nft delete table inet ${firewallTable(t)}`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}
