import * as pulumi from "@pulumi/pulumi";
import { configKeys } from "./keys";
import { ConfigError, parseSettings, projectName, RawConfig, Settings } from "./settings";

export * from "./keys";
export * from "./settings";
export * from "./tiers";

/** Reads the stack's `synapse:*` config and validates it; throws one ConfigError listing every problem. */
export function loadSettings(): Settings {
  const raw: RawConfig = {};
  const prefix = `${projectName}:`;
  // Read every value through the runtime (not Config.get) so secrets are validated without
  // warnings; they are wrapped in pulumi.secret where components use them.
  const all = pulumi.runtime.allConfig();
  for (const [fullKey, value] of Object.entries(all)) {
    if (fullKey.startsWith(prefix)) raw[fullKey.slice(prefix.length)] = value;
  }
  for (const key of configKeys) if (!(key.name in raw)) raw[key.name] = undefined;
  const result = parseSettings(raw);
  if (!result.ok) throw new ConfigError(result.errors);
  return result.settings;
}
