// PostgreSQL settings for Synapse, as a conf.d drop-in (the memory knobs of the tier).
import { Sizing } from "../config";

export const postgresDropIn = "60-synapse.conf";

export function renderPostgresTuning(s: Sizing): string {
  const settings: [string, string | number][] = [
    ["max_connections", s.postgresMaxConnections],
    ["shared_buffers", s.postgresSharedBuffers],
    ["effective_cache_size", s.postgresEffectiveCacheSize],
    ["work_mem", s.postgresWorkMem],
    ["maintenance_work_mem", s.postgresMaintenanceWorkMem],
  ];
  return [
    "# Managed by the synapse Pulumi program: sizing for Synapse (see the tier in stack config).",
    ...settings.map(([k, v]) => `${k} = ${typeof v === "number" ? v : `'${v}'`}`),
    "",
  ].join("\n");
}
