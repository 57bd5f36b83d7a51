// What synapse-backup and synapse-restore read on the Synapse VPS: the backup settings, and the
// off-host copy's coordinates and credentials (rclone's S3 remote, configured by environment).
import { OffsiteSettings } from "../config/backups";
import { shellQuote } from "./script";

export const backup = { name: "synapse-backup", toolPath: "/usr/local/sbin/synapse-backup", confPath: "/etc/synapse-deploy/backup.conf" };
export const restoreTool = { name: "synapse-restore", toolPath: "/usr/local/sbin/synapse-restore" };
export const backupDir = "/var/backups/synapse-deploy";
/** Credentials of the off-host copy (0600, root): a secret file of its own, out of preview diffs. */
export const offsiteEnvPath = "/etc/synapse-deploy/backup-offsite.env";

export function renderBackupConf(keep: number, media: "local" | "none", offsite: boolean): string {
  return [
    "# Managed by the synapse Pulumi program: synapse-backup's settings.",
    `dir=${backupDir}`,
    `keep=${keep}`,
    "# local: mirror the media store (only new files each run); none: media is in a bucket.",
    `media=${media}`,
    "# The off-host copy's remote and credentials (empty: none; the backups stay on this VPS).",
    `offsite=${offsite ? offsiteEnvPath : ""}`,
    "",
  ].join("\n");
}

/**
 * The off-host copy as rclone environment variables (remote "offsite") plus where in it and to
 * whom it is encrypted. Sourced by bash: every value shell-quoted.
 */
export function renderOffsiteEnv(o: OffsiteSettings): string {
  const vars: Record<string, string> = {
    OFFSITE_REMOTE: `offsite:${o.bucket}/${o.prefix}`,
    OFFSITE_RECIPIENT: o.recipient,
    RCLONE_CONFIG_OFFSITE_TYPE: "s3",
    RCLONE_CONFIG_OFFSITE_PROVIDER: o.endpoint ? "Other" : "AWS",
    ...(o.endpoint ? { RCLONE_CONFIG_OFFSITE_ENDPOINT: o.endpoint, RCLONE_CONFIG_OFFSITE_FORCE_PATH_STYLE: "true" } : {}),
    RCLONE_CONFIG_OFFSITE_REGION: o.region,
    RCLONE_CONFIG_OFFSITE_ACCESS_KEY_ID: o.accessKeyId,
    RCLONE_CONFIG_OFFSITE_SECRET_ACCESS_KEY: o.secretAccessKey,
    // The bucket is the user's: never try to create it.
    RCLONE_CONFIG_OFFSITE_NO_CHECK_BUCKET: "true",
  };
  return ["# Managed by the synapse Pulumi program: the off-host copy of synapse-backup (secret).",
    ...Object.entries(vars).map(([k, v]) => `${k}=${shellQuote(v)}`), ""].join("\n");
}
