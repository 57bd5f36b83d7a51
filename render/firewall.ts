// Host firewalls for the private network (nftables): a service's ports open to loopback and the
// listed hosts only. Each has its own table, replaced whole on each load, so other rules (the
// admin's own, SSH) are untouched.
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

export const firewallTable = (f: Firewall) => `synapse_${f.name.replace(/-/g, "_")}`;
export const firewallUnit = (f: Firewall) => `synapse-${f.name}-firewall.service`;
export const firewallRules = (f: Firewall) => `/etc/synapse-deploy/${f.name}-firewall.nft`;

/**
 * What firewall.sh needs: the files to stage (paths relative to the staging directory) and its
 * parameters, with the rules' digest so that new rules re-run the step that loads them.
 */
export function firewallStep(f: Firewall): { files: { key: string; path: string; content: string }[]; params: Record<string, string> } {
  const dir = `firewall-${f.name}`;
  const rules = renderFirewall(f);
  return {
    files: [
      { key: "nft", path: `${dir}/firewall.nft`, content: rules },
      { key: "service", path: `${dir}/firewall.service`, content: renderFirewallUnit(f) },
    ],
    params: {
      STAGED: `${stagedDir}/${dir}`, RULES: firewallRules(f), UNIT: firewallUnit(f), PACKAGES: packagesParam(componentPackages.firewall),
      RULES_SHA256: createHash("sha256").update(rules).digest("hex").slice(0, 16),
    },
  };
}

export function renderFirewall(f: Firewall): string {
  const v4 = f.clients.filter((c) => !c.includes(":"));
  const v6 = f.clients.filter((c) => c.includes(":"));
  const ports = f.ports.length === 1 ? String(f.ports[0]) : `{ ${f.ports.join(", ")} }`;
  return [
    "# Managed by the synapse Pulumi program.",
    `table inet ${firewallTable(f)}`,
    `delete table inet ${firewallTable(f)}`,
    `table inet ${firewallTable(f)} {`,
    "  chain input {",
    "    type filter hook input priority filter; policy accept;",
    '    iifname "lo" accept',
    ...(v4.length ? [`    ip saddr { ${v4.join(", ")} } tcp dport ${ports} accept`] : []),
    ...(v6.length ? [`    ip6 saddr { ${v6.join(", ")} } tcp dport ${ports} accept`] : []),
    `    tcp dport ${ports} drop`,
    "  }",
    "}",
    "",
  ].join("\n");
}

/** Loads the rules at boot, before the network comes up (and so before the service listens). */
export function renderFirewallUnit(f: Firewall): string {
  return [
    "# Managed by the synapse Pulumi program.",
    "[Unit]",
    `Description=Firewall for ${f.name}: ports ${f.ports.join(", ")} for the private network's hosts only (synapse-deploy)`,
    "After=nftables.service",
    "Before=network-pre.target",
    "Wants=network-pre.target",
    "",
    "[Service]",
    "Type=oneshot",
    "RemainAfterExit=yes",
    `ExecStart=/usr/sbin/nft -f ${firewallRules(f)}`,
    `ExecStop=/usr/sbin/nft delete table inet ${firewallTable(f)}`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}
