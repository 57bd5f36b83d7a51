import * as pulumi from "@pulumi/pulumi";
import { configKeys } from "./keys";
import { formatConfigErrors, parseSettings, projectName, RawConfig, Settings } from "./settings";

export * from "./federationLimits";
export * from "./keys";
export * from "./loaderRules";
export * from "./media";
export * from "./settings";
export * from "./tiers";
export * from "./versions";
export * from "./workers";

/**
 * A bad stack config. A RunError, so the CLI prints just the list of problems: no stack trace,
 * no program source.
 */
export class ConfigError extends pulumi.RunError {
  constructor(public readonly errors: string[]) {
    super(formatConfigErrors(errors));
    this.name = "ConfigError";
  }
}

/** The keys the stack holds encrypted, as the language host passes them (undefined if unknown). */
function configSecretKeys(): Set<string> | undefined {
  // Not in the typings (@internal), but what Config.get consults to warn about secrets.
  const isSecret = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
  if (typeof isSecret !== "function") return undefined;
  const prefix = `${projectName}:`;
  return new Set(Object.keys(pulumi.runtime.allConfig()).filter((k) => k.startsWith(prefix) && isSecret(k)).map((k) => k.slice(prefix.length)));
}

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
  const result = parseSettings(raw, configSecretKeys());
  if (!result.ok) throw new ConfigError(result.errors);
  return result.settings;
}
