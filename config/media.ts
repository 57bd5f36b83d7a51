// Where media lives: the host's disk, or a bucket (MediaBucket). Cross-key rules of the media*
// keys; the single-key forms are in keys.ts.
export const mediaBucketModes = ["aws", "s3-compatible", "existing"] as const;
export type MediaBucketMode = (typeof mediaBucketModes)[number];

export interface S3MediaSettings {
  storage: "s3";
  mode: MediaBucketMode;
  bucket: string;
  region: string;
  /** Empty: AWS's own endpoint for the region. */
  endpoint: string;
  /** The user's key (s3-compatible, existing); the aws mode makes its own. Secret: wrap it. */
  accessKeyId: string;
  secretAccessKey: string;
  versioning: boolean;
  storeLocal: boolean;
  storeRemote: boolean;
  storeSynchronous: boolean;
  keepLocalCopy: boolean;
  uploadSchedule: string;
}

export type MediaSettings = { storage: "local" } | S3MediaSettings;


export interface RawMediaKeys {
  mediaStorage: "local" | "s3";
  mediaBucketMode: MediaBucketMode;
  mediaBucket: string;
  mediaRegion: string;
  mediaEndpoint: string;
  mediaAccessKeyId: string;
  mediaSecretAccessKey: string;
  mediaBucketVersioning: boolean;
  mediaStoreLocal: boolean;
  mediaStoreRemote: boolean;
  mediaStoreSynchronous: boolean;
  mediaKeepLocalCopy: boolean;
  mediaUploadSchedule: string;
}

/** The media settings, or errors (each naming the key) pushed onto `errors`. */
export function mediaSettings(c: RawMediaKeys, errors: string[], project: string): MediaSettings {
  if (c.mediaStorage === "local") return { storage: "local" };
  const need = (key: keyof RawMediaKeys, what: string) => {
    if (c[key] === "") errors.push(`${project}:${key}: given nothing, expected ${what} (required when mediaStorage is s3 and mediaBucketMode is ${c.mediaBucketMode})`);
  };
  need("mediaBucket", "a bucket name");
  if (c.mediaBucketMode === "aws") {
    for (const key of ["mediaEndpoint", "mediaAccessKeyId", "mediaSecretAccessKey"] as const) {
      if (c[key] !== "") errors.push(`${project}:${key}: expected nothing with mediaBucketMode aws (it uses AWS's endpoint and makes its own key)`);
    }
  } else {
    if (c.mediaBucketMode === "s3-compatible") need("mediaEndpoint", "the endpoint URL");
    need("mediaAccessKeyId", "an access key ID");
    need("mediaSecretAccessKey", "a secret access key (pulumi config set --secret mediaSecretAccessKey)");
  }
  if (c.mediaBucketMode === "existing" && c.mediaBucketVersioning) {
    errors.push(`${project}:mediaBucketVersioning: expected false with mediaBucketMode existing (this program does not manage your bucket)`);
  }
  return {
    storage: "s3",
    mode: c.mediaBucketMode,
    bucket: c.mediaBucket,
    region: c.mediaRegion,
    endpoint: c.mediaEndpoint.replace(/\/+$/, ""),
    accessKeyId: c.mediaAccessKeyId,
    secretAccessKey: c.mediaSecretAccessKey,
    versioning: c.mediaBucketVersioning,
    storeLocal: c.mediaStoreLocal,
    storeRemote: c.mediaStoreRemote,
    storeSynchronous: c.mediaStoreSynchronous,
    keepLocalCopy: c.mediaKeepLocalCopy,
    uploadSchedule: c.mediaUploadSchedule,
  };
}
