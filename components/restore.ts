import * as pulumi from "@pulumi/pulumi";
import { RestoreSettings } from "../config/backups";
import { backup, renderOffsiteEnv, restoreTool } from "../render/backup";
import { renderHostTool } from "../render/maintenance";
import { componentPackages, packagesParam } from "../render/packages";
import { sha256 } from "./remote";
import { HostStep, SynapseExtension } from "./synapseExtension";

/** A restore as SynapseHost's extension, and its step: what the step prints is the stack's `restore` output. */
export interface RestoreExtension extends SynapseExtension {
  step: HostStep;
}

/**
 * restoreFrom: a step on the Synapse VPS before Synapse's first activation that restores the
 * database, signing key and media from a backup (synapse-restore, staged with it). The age key
 * and the bucket's credentials go on stdin, as a secret. Re-running it is a no-op once restored.
 */
export function restoreExtension(restore: RestoreSettings, serverName: string): RestoreExtension {
  const tool = renderHostTool(restoreTool.name, backup.confPath);
  const secrets = `${restore.identity}\n${restore.offsite ? renderOffsiteEnv(restore.offsite) : ""}`;
  const step: HostStep = {
    name: "restore",
    script: "synapse-restore",
    params: {
      SOURCE: restore.source, SERVER_NAME: serverName, OVERWRITE: restore.overwrite,
      // age decrypts with the identity; rclone fetches from the bucket.
      PACKAGES: packagesParam([...(restore.identity ? componentPackages.age : []), ...(restore.offsite ? componentPackages.rclone : [])]),
      TOOL_SHA256: sha256(tool).slice(0, 16),
    },
    stdin: pulumi.secret(secrets),
  };
  return { stagedFiles: [{ name: "restore-tool", path: "restore/synapse-restore", content: tool }], beforeActivation: [step], step };
}
