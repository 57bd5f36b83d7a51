// Per-service imports: type-checking the whole of @pulumi/aws would slow every `pulumi up`.
import * as iam from "@pulumi/aws/iam";
import { Provider } from "@pulumi/aws/provider";
import * as s3 from "@pulumi/aws/s3";
import * as pulumi from "@pulumi/pulumi";
import { S3MediaSettings } from "../config";
import {
  BucketLocation, mediaBucketPolicy, mediaStorageProvidersPart, mediaStorePath, mediaUploadScript,
  mediaUploadUnit, mediaUploadWorkDir, renderAwsConfig, renderAwsCredentials, renderMediaUploadService,
  renderMediaUploadTimer, renderSynapseMediaDropIn, s3ProviderEnsureScript, s3ProviderPaths, s3ProviderVersion,
  debianProviderPrefix,
} from "../render/media";
import { HomeserverPart } from "../render/homeserver";
import { componentPackages, packagesParam } from "../render/packages";
import { PackageSource, synapseConfigDir } from "../render/paths";
import { renderScript } from "../render/script";
import { sha256 } from "./remote";
import { SynapseExtension } from "./synapseExtension";

export interface MediaBucketArgs {
  media: S3MediaSettings;
  /** Which Python the provider goes into on the Synapse host. */
  packageSource: PackageSource;
}

const dropIn = "/etc/systemd/system/matrix-synapse.service.d/synapse-deploy-media.conf";

/**
 * Synapse's media in a bucket: the bucket itself (aws: with an IAM user, a key and a
 * least-privilege policy; s3-compatible: on the user's endpoint with the user's key; existing:
 * nothing to make), and what the Synapse host needs for it, as an extension SynapseHost wires:
 * synapse-s3-storage-provider, boto3's credentials and config files, and the upload job that
 * moves media already on disk into the bucket.
 */
export class MediaBucket extends pulumi.ComponentResource {
  public readonly bucket: pulumi.Output<string>;
  public readonly region: pulumi.Output<string>;
  /** Empty for AWS. */
  public readonly endpoint: pulumi.Output<string>;
  public readonly accessKeyId: pulumi.Output<string>;
  public readonly secretAccessKey: pulumi.Output<string>;
  /** `media_storage_providers` for homeserver.yaml (no secret in it). */
  public readonly homeserverPart: pulumi.Output<HomeserverPart>;
  public readonly synapseExtension: SynapseExtension;

  constructor(name: string, args: MediaBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:MediaBucket", name, {}, opts);
    const m = args.media;
    const made = m.mode === "existing" ? undefined : this.makeBucket(name, m);

    this.bucket = made ? made.bucket.bucket : pulumi.output(m.bucket);
    this.region = pulumi.output(m.region);
    this.endpoint = pulumi.output(m.endpoint);
    const key = made?.key;
    this.accessKeyId = key ? key.id : pulumi.output(m.accessKeyId);
    this.secretAccessKey = pulumi.secret(key ? key.secret : pulumi.output(m.secretAccessKey));

    const where = pulumi.all([this.bucket, this.region, this.endpoint])
      .apply(([bucket, region, endpoint]): BucketLocation => ({ bucket, region, endpoint }));
    this.homeserverPart = where.apply((w) => mediaStorageProvidersPart(m, w));
    this.synapseExtension = hostExtension(m, args.packageSource, where, this.accessKeyId, this.secretAccessKey);
    this.registerOutputs({
      bucket: this.bucket, region: this.region, endpoint: this.endpoint,
      accessKeyId: this.accessKeyId, secretAccessKey: this.secretAccessKey,
    });
  }

  /** The bucket (protected: `pulumi destroy` never deletes users' media) and, on AWS, Synapse's own key. */
  private makeBucket(name: string, m: S3MediaSettings) {
    const provider = m.mode === "aws"
      ? new Provider(`${name}-aws`, { region: m.region }, { parent: this })
      : new Provider(`${name}-endpoint`, {
        region: m.region,
        accessKey: m.accessKeyId,
        secretKey: pulumi.secret(m.secretAccessKey),
        endpoints: [{ s3: m.endpoint }],
        s3UsePathStyle: true,
        // Endpoints other than AWS have no STS, account IDs, AWS regions or instance metadata.
        skipCredentialsValidation: true,
        skipRequestingAccountId: true,
        skipRegionValidation: true,
        skipMetadataApiCheck: true,
      }, { parent: this });
    const child = { parent: this, provider };
    const bucket = new s3.Bucket(`${name}-bucket`, { bucket: m.bucket, forceDestroy: false }, { ...child, protect: true });
    if (m.versioning) {
      new s3.BucketVersioning(`${name}-versioning`, {
        bucket: bucket.id, versioningConfiguration: { status: "Enabled" },
      }, child);
    }
    if (m.mode !== "aws") return { bucket };

    new s3.BucketPublicAccessBlock(`${name}-public-access-block`, {
      bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true,
    }, child);
    new s3.BucketServerSideEncryptionConfiguration(`${name}-encryption`, {
      bucket: bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
    }, child);
    new s3.BucketLifecycleConfiguration(`${name}-lifecycle`, {
      bucket: bucket.id,
      rules: [{
        id: "abort-incomplete-multipart-uploads",
        status: "Enabled",
        filter: {},
        // Parts of an upload cut off mid-way are stored (and billed) until aborted.
        abortIncompleteMultipartUpload: { daysAfterInitiation: 3 },
      }],
    }, child);
    const user = new iam.User(`${name}-synapse`, { name: `${m.bucket}-synapse` }, child);
    new iam.UserPolicy(`${name}-synapse-policy`, { user: user.name, policy: bucket.arn.apply(mediaBucketPolicy) }, child);
    const key = new iam.AccessKey(`${name}-synapse-key`, { user: user.name }, { ...child, additionalSecretOutputs: ["secret"] });
    return { bucket, key };
  }
}

/** What the Synapse host needs: config files, staged units and scripts, and two steps. */
function hostExtension(
  m: S3MediaSettings, source: PackageSource, where: pulumi.Output<BucketLocation>,
  accessKeyId: pulumi.Output<string>, secretAccessKey: pulumi.Output<string>,
): SynapseExtension {
  const paths = s3ProviderPaths(source);
  const ensure = renderScript("s3-provider-ensure", {
    SOURCE: source, VERSION: s3ProviderVersion, PREFIX: debianProviderPrefix, DEBIAN_PACKAGES: packagesParam(componentPackages.s3ProviderDebian),
  });
  const job = where.apply((w) => renderScript("synapse-media-upload", {
    TOOL: paths.uploadTool, PYTHON: paths.python, MEDIA_STORE: mediaStorePath, BUCKET: w.bucket, ENDPOINT: w.endpoint,
    KEEP_LOCAL: m.keepLocalCopy, HOMESERVER: `${synapseConfigDir}/homeserver.yaml`,
  }));
  const dropInText = renderSynapseMediaDropIn(paths);
  const units = renderMediaUploadService() + renderMediaUploadTimer(m.uploadSchedule);
  const upload = { UNIT: mediaUploadUnit, SCRIPT: mediaUploadScript, WORKDIR: mediaUploadWorkDir, SCHEDULE: m.uploadSchedule };
  const provider = { ENSURE: s3ProviderEnsureScript, DROPIN: dropIn };
  // The steps re-run whenever what they put live changes.
  const digest = (text: string) => sha256(text).slice(0, 16);
  return {
    configFiles: [
      { name: "s3-credentials", path: "s3-credentials", mode: "0600", owner: "matrix-synapse:",
        content: pulumi.secret(pulumi.all([accessKeyId, secretAccessKey]).apply(([id, secret]) => renderAwsCredentials(id, secret))) },
      { name: "s3-config", path: "s3.conf", mode: "0644", owner: "root:root", content: where.apply(renderAwsConfig) },
    ],
    stagedFiles: [
      { name: "s3-provider-ensure", path: "media/s3-provider-ensure.sh", content: ensure },
      { name: "media-dropin", path: "media/matrix-synapse-media.conf", content: dropInText },
      { name: "media-upload-script", path: "media/synapse-media-upload.sh", content: job },
      { name: "media-upload-service", path: `media/${mediaUploadUnit}.service`, content: renderMediaUploadService() },
      { name: "media-upload-timer", path: `media/${mediaUploadUnit}.timer`, content: renderMediaUploadTimer(m.uploadSchedule) },
    ],
    beforeActivation: [{
      name: "media-provider", script: "media-provider", params: { ...provider, CONTENT_SHA256: digest(ensure + dropInText) },
      teardown: { script: "media-provider-teardown", params: provider },
    }],
    afterActivation: [{
      // Each run of this step also starts a run of the job.
      name: "media-upload", script: "media-upload",
      params: job.apply((j) => ({ ...upload, CONTENT_SHA256: digest(j + units) })),
      teardown: { script: "media-upload-teardown", params: { UNIT: mediaUploadUnit, SCRIPT: mediaUploadScript } },
    }],
  };
}
