// Backups, their off-host copy and a restore: the settings and their cross-key checks.
import type { ConfigValues } from "./keys";

/** Where the off-host copy goes (rclone's S3 remote) and who can read it (an age recipient). */
export interface OffsiteSettings {
  /** "" means AWS. */
  endpoint: string;
  region: string;
  bucket: string;
  /** The folder in the bucket: the server name unless set. */
  prefix: string;
  accessKeyId: string;
  /** Secret. */
  secretAccessKey: string;
  /** The age public key every copy is encrypted to. */
  recipient: string;
}

export interface BackupSettings {
  schedule: string;
  keep: number;
  /** local: mirror the media store; none: media is in a bucket. */
  media: "local" | "none";
  offsite?: OffsiteSettings;
}

export interface RestoreSettings {
  /** "offsite", "offsite:<run>" or an absolute path on the Synapse VPS. */
  source: string;
  /** Secret: the age private key, "" when the source is not encrypted. */
  identity: string;
  overwrite: boolean;
  offsite?: OffsiteSettings;
}

type RawBackupKeys = Pick<ConfigValues, "backups" | "backupSchedule" | "backupKeep" | "backupBucket" | "backupEndpoint" | "backupRegion"
  | "backupPrefix" | "backupAccessKeyId" | "backupSecretAccessKey" | "backupAgeRecipient" | "restoreFrom" | "restoreAgeIdentity"
  | "restoreOverwrite" | "serverName" | "mediaStorage">;

function offsiteSettings(c: RawBackupKeys, errors: string[], project: string): OffsiteSettings | undefined {
  if (c.backupBucket === "") {
    for (const key of ["backupEndpoint", "backupPrefix", "backupAccessKeyId", "backupSecretAccessKey", "backupAgeRecipient"] as const) {
      if (c[key] !== "") errors.push(`${project}:${key}: given a value, expected nothing without backupBucket`);
    }
    return undefined;
  }
  const need = (key: "backupAccessKeyId" | "backupSecretAccessKey" | "backupAgeRecipient", what: string) => {
    if (c[key] === "") errors.push(`${project}:${key}: given nothing, expected ${what} (required with backupBucket)`);
  };
  need("backupAccessKeyId", "an access key ID");
  need("backupSecretAccessKey", "a secret access key (pulumi config set --secret backupSecretAccessKey)");
  need("backupAgeRecipient", "an age public key (age1…; make the pair with age-keygen and keep the private key off the VPS)");
  return {
    endpoint: c.backupEndpoint.replace(/\/+$/, ""),
    region: c.backupRegion,
    bucket: c.backupBucket,
    prefix: c.backupPrefix || c.serverName,
    accessKeyId: c.backupAccessKeyId,
    secretAccessKey: c.backupSecretAccessKey,
    recipient: c.backupAgeRecipient,
  };
}

/** The backup and restore settings, or errors (each naming the key) pushed onto `errors`. */
export function backupSettings(c: RawBackupKeys, errors: string[], project: string): { backups?: BackupSettings; restore?: RestoreSettings } {
  const offsite = offsiteSettings(c, errors, project);
  const backups: BackupSettings | undefined = c.backups
    ? { schedule: c.backupSchedule, keep: c.backupKeep, media: c.mediaStorage === "s3" ? "none" : "local", ...(offsite ? { offsite } : {}) }
    : undefined;
  if (c.restoreFrom === "") {
    if (c.restoreOverwrite) errors.push(`${project}:restoreOverwrite: given true, expected false without restoreFrom`);
    return { backups };
  }
  const fromOffsite = c.restoreFrom.startsWith("offsite");
  if (fromOffsite && !offsite) {
    errors.push(`${project}:restoreFrom: given ${JSON.stringify(c.restoreFrom)}, expected backupBucket (with its endpoint and keys) to be set too`);
  }
  if ((fromOffsite || c.restoreFrom.endsWith(".age")) && c.restoreAgeIdentity === "") {
    errors.push(`${project}:restoreAgeIdentity: given nothing, expected the age private key that decrypts ${JSON.stringify(c.restoreFrom)} ` +
      "(pulumi config set --secret restoreAgeIdentity AGE-SECRET-KEY-1…)");
  }
  return { backups, restore: { source: c.restoreFrom, identity: c.restoreAgeIdentity, overwrite: c.restoreOverwrite, ...(fromOffsite && offsite ? { offsite } : {}) } };
}
