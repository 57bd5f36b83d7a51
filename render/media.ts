// Media in a bucket: the homeserver.yaml part, boto3's credentials and config files, the IAM
// policy, and the systemd units of the S3 provider and of the upload job. The key lives only in
// the 0600 credentials file (boto3 reads it through AWS_SHARED_CREDENTIALS_FILE), so
// homeserver.yaml and every unit stay readable in preview diffs.
import { S3MediaSettings } from "../config";
import { HomeserverPart } from "./homeserver";
import { hasVenv, PackageSource, synapseConfigDir, synapsePaths, synapseVenv } from "./paths";

/** The synapse-s3-storage-provider release installed (≥ 1.6.0 is needed from Synapse 1.140 on). */
export const s3ProviderVersion = "1.7.0";
export const s3CredentialsFile = `${synapseConfigDir}/s3-credentials`;
export const s3ConfigFile = `${synapseConfigDir}/s3.conf`;
export { mediaStorePath } from "./paths";
export const deployLibDir = "/usr/local/lib/synapse-deploy";
export const s3ProviderEnsureScript = `${deployLibDir}/s3-provider-ensure.sh`;
export const mediaUploadScript = `${deployLibDir}/synapse-media-upload.sh`;
export const mediaUploadUnit = "synapse-media-upload";
export const mediaUploadWorkDir = "/var/lib/synapse-deploy/media-upload";

/** Where the provider and its upload tool live for each package source. */
export interface S3ProviderPaths {
  /** Python with boto3 and the provider: runs s3_media_upload and the verification. */
  python: string;
  uploadTool: string;
  /** Added to Synapse's PYTHONPATH (Debian's package: a venv of its own); none for matrix.org's venv. */
  pythonPath?: string;
}

/** Debian's Python is externally managed: the provider gets a venv that sees the system's packages. */
export const debianProviderPrefix = "/opt/synapse-s3-storage-provider";

export function s3ProviderPaths(source: PackageSource): S3ProviderPaths {
  if (hasVenv(source)) {
    return { python: synapsePaths(source).python, uploadTool: `${synapseVenv}/bin/s3_media_upload` };
  }
  return {
    python: `${debianProviderPrefix}/venv/bin/python`,
    uploadTool: `${debianProviderPrefix}/venv/bin/s3_media_upload`,
    pythonPath: `${debianProviderPrefix}/site`,
  };
}

/** Where the bucket is, once it exists. */
export interface BucketLocation {
  bucket: string;
  region: string;
  /** Empty: AWS. */
  endpoint: string;
}

export type MediaStoreFlags = Pick<S3MediaSettings, "storeLocal" | "storeRemote" | "storeSynchronous">;

/** `media_storage_providers`: no credentials here (boto3 finds them through the environment). */
export function mediaStorageProvidersPart(flags: MediaStoreFlags, where: BucketLocation): HomeserverPart {
  return {
    media_storage_providers: [{
      module: "s3_storage_provider.S3StorageProviderBackend",
      store_local: flags.storeLocal,
      store_remote: flags.storeRemote,
      store_synchronous: flags.storeSynchronous,
      config: {
        bucket: where.bucket,
        region_name: where.region,
        ...(where.endpoint ? { endpoint_url: where.endpoint } : {}),
        storage_class: "STANDARD",
      },
    }],
  };
}

const managed = "# Managed by the synapse Pulumi program (MediaBucket); local edits are overwritten.";

/** boto3's shared credentials file: the bucket's key, 0600 for the service user. */
export function renderAwsCredentials(accessKeyId: string, secretAccessKey: string): string {
  return [managed, "[default]", `aws_access_key_id = ${accessKeyId}`, `aws_secret_access_key = ${secretAccessKey}`, ""].join("\n");
}

/**
 * boto3's config file: the region and, for any endpoint but AWS's, path-style addressing and
 * checksums only when required, which S3-compatible stores (B2, MinIO, …) understand.
 */
export function renderAwsConfig(where: BucketLocation): string {
  const lines = [managed, "[default]", `region = ${where.region}`];
  if (where.endpoint) {
    lines.push("s3 =", "    addressing_style = path",
      "request_checksum_calculation = when_required", "response_checksum_validation = when_required");
  }
  return [...lines, ""].join("\n");
}

/** Least privilege for Synapse's key: list the bucket, read, write and delete its objects. */
export function mediaBucketPolicy(bucketArn: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      { Sid: "ListTheMediaBucket", Effect: "Allow", Action: ["s3:ListBucket"], Resource: [bucketArn] },
      { Sid: "ReadWriteMedia", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], Resource: [`${bucketArn}/*`] },
    ],
  }, null, 2);
}

function awsEnvironment(): string[] {
  return [`Environment=AWS_SHARED_CREDENTIALS_FILE=${s3CredentialsFile}`, `Environment=AWS_CONFIG_FILE=${s3ConfigFile}`];
}

/** The matrix-synapse drop-in: the provider checked before every start, boto3's files, PYTHONPATH. */
export function renderSynapseMediaDropIn(paths: S3ProviderPaths): string {
  return [
    managed,
    "[Service]",
    "# A package upgrade may replace the venv the provider lives in: re-install it before Synapse",
    "# starts, or fail the start with the reason in the journal.",
    `ExecStartPre=+${s3ProviderEnsureScript}`,
    ...awsEnvironment(),
    ...(paths.pythonPath ? [`Environment=PYTHONPATH=${paths.pythonPath}`] : []),
    "",
  ].join("\n");
}

export function renderMediaUploadService(): string {
  return [
    managed,
    "[Unit]",
    "Description=Upload Synapse's media to the S3 bucket (s3_media_upload)",
    "After=network-online.target matrix-synapse.service",
    "Wants=network-online.target",
    "",
    "[Service]",
    "Type=oneshot",
    "User=matrix-synapse",
    `WorkingDirectory=${mediaUploadWorkDir}`,
    ...awsEnvironment(),
    `ExecStart=${mediaUploadScript}`,
    "Nice=10",
    "IOSchedulingClass=idle",
    "",
  ].join("\n");
}

export function renderMediaUploadTimer(schedule: string): string {
  return [
    managed,
    "[Unit]",
    "Description=Upload Synapse's media to the S3 bucket on a schedule",
    "",
    "[Timer]",
    `OnCalendar=${schedule}`,
    "Persistent=true",
    "RandomizedDelaySec=15min",
    "",
    "[Install]",
    "WantedBy=timers.target",
    "",
  ].join("\n");
}
