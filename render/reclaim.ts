// synapse-reclaim on the database host: gives the space deleted rows leave in Synapse's tables back
// to the disk, online, with pg_repack (host-tools/synapse-reclaim.sh says how and when).
import type { ReclaimSettings } from "../config";
import { MaintenanceTool } from "./maintenance";

export const reclaim = {
  name: "synapse-reclaim",
  toolPath: "/usr/local/sbin/synapse-reclaim",
  confPath: "/etc/synapse-deploy/reclaim.conf",
};
export const reclaimStateDir = "/var/lib/synapse-deploy/reclaim";

export function renderReclaimConf(database: string, cluster: string, s: ReclaimSettings): string {
  return [
    "# Managed by the synapse Pulumi program: synapse-reclaim's settings.",
    `database=${database}`,
    "# The PostgreSQL cluster serving it (major/name).",
    `cluster=${cluster}`,
    "# A table is rebuilt only when at least min_mib MiB and min_percent % of it (with its indexes) is reclaimable.",
    `min_mib=${s.minMiB}`,
    `min_percent=${s.minPercent}`,
    `state_dir=${reclaimStateDir}`,
    "",
  ].join("\n");
}

export function reclaimTool(database: string, cluster: string, s: ReclaimSettings): MaintenanceTool {
  return {
    ...reclaim,
    description: "Synapse's tables rebuilt online where deleted rows left space (pg_repack)",
    schedule: s.schedule,
    conf: renderReclaimConf(database, cluster, s),
    after: ["postgresql.service"],
  };
}
