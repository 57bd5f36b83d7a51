// MediaBucket: config validation, the rendered files, and the resources of each mode under mocks.
import YAML from "yaml";
import { parseSettings, RawConfig } from "../../config";
import {
  mediaBucketPolicy, mediaStorageProvidersPart, renderAwsConfig, renderAwsCredentials, renderMediaUploadService,
  renderMediaUploadTimer, renderSynapseMediaDropIn, s3ProviderPaths,
} from "../../render/media";
import { renderScript } from "../../render/script";
import { validRaw, testPrivateKey } from "../support/fixtures";
import { adminToken, awsSecretKey, MockRun, runProgram, secretOf } from "../support/mockProgram";

const s3 = { mediaStorage: "s3", mediaBucket: "media-example" };
const b2 = {
  ...s3, mediaBucketMode: "s3-compatible", mediaEndpoint: "https://s3.us-west-004.backblazeb2.com", mediaRegion: "us-west-004",
  mediaAccessKeyId: "004a1b2c3d4e5f60000000001", mediaSecretAccessKey: "K004-b2-application-key-secret",
};
const existing = { ...b2, mediaBucketMode: "existing" };

function errorsOf(raw: RawConfig): string[] {
  const r = parseSettings(validRaw(raw));
  return r.ok ? [] : r.errors;
}

describe("media config", () => {
  it("keeps media on disk by default", () => {
    const r = parseSettings(validRaw());
    expect(r.ok && r.settings.media).toEqual({ storage: "local" });
  });

  it("takes each mode with what it needs", () => {
    for (const raw of [{ ...s3, mediaBucketMode: "aws" }, b2, existing]) {
      const r = parseSettings(validRaw(raw));
      expect(r.ok ? [] : r.errors).toEqual([]);
    }
  });

  it.each<[string, RawConfig, RegExp]>([
    ["s3 without a bucket", { mediaStorage: "s3", mediaBucketMode: "aws" }, /synapse:mediaBucket: given nothing, expected a bucket name/],
    ["a bucket name S3 refuses", { ...s3, mediaBucketMode: "aws", mediaBucket: "Media_Bucket" }, /synapse:mediaBucket: given "Media_Bucket", expected an S3 bucket name/],
    ["s3-compatible without its endpoint and key", { ...s3, mediaBucketMode: "s3-compatible" },
      /mediaEndpoint: given nothing, expected the endpoint URL[\s\S]*mediaAccessKeyId: given nothing[\s\S]*mediaSecretAccessKey: given nothing/],
    ["an endpoint that is no URL", { ...b2, mediaEndpoint: "s3.example.com" }, /synapse:mediaEndpoint: given "s3.example.com", expected an http\(s\):\/\/ URL/],
    ["a key with the aws mode (it makes its own)", { ...s3, mediaBucketMode: "aws", mediaAccessKeyId: "AKIA123" }, /synapse:mediaAccessKeyId: expected nothing with mediaBucketMode aws/],
    ["versioning on a bucket this program does not manage", { ...existing, mediaBucketVersioning: "true" }, /synapse:mediaBucketVersioning: expected false with mediaBucketMode existing/],
    ["an unknown mode", { ...s3, mediaBucketMode: "gcs" }, /synapse:mediaBucketMode: given "gcs", expected aws, s3-compatible, existing/],
    ["a schedule a unit file would misread", { ...existing, mediaUploadSchedule: "daily\nExecStart=/bin/sh" }, /synapse:mediaUploadSchedule: .*expected a systemd OnCalendar expression/],
  ])("refuses %s", (_, raw, message) => {
    expect(errorsOf(raw).join("\n")).toMatch(message);
  });

  it("never echoes the secret key", () => {
    const errors = errorsOf({ ...b2, mediaSecretAccessKey: "has spaces in it" });
    expect(errors.join("\n")).toMatch(/mediaSecretAccessKey: given a secret value/);
    expect(errors.join("\n")).not.toContain("has spaces");
  });
});

describe("media rendering", () => {
  const flags = { storeLocal: true, storeRemote: false, storeSynchronous: true };

  it("names the provider in homeserver.yaml without credentials", () => {
    expect(mediaStorageProvidersPart(flags, { bucket: "m", region: "us-west-004", endpoint: "https://s3.us-west-004.backblazeb2.com" })).toEqual({
      media_storage_providers: [{
        module: "s3_storage_provider.S3StorageProviderBackend", store_local: true, store_remote: false, store_synchronous: true,
        config: { bucket: "m", region_name: "us-west-004", endpoint_url: "https://s3.us-west-004.backblazeb2.com", storage_class: "STANDARD" },
      }],
    });
    // On AWS the endpoint comes from the region.
    expect(mediaStorageProvidersPart(flags, { bucket: "m", region: "eu-west-1", endpoint: "" }).media_storage_providers).toEqual([
      expect.objectContaining({ config: { bucket: "m", region_name: "eu-west-1", storage_class: "STANDARD" } })]);
  });

  it("writes boto3's files: the key in the credentials file, path-style only off AWS", () => {
    expect(renderAwsCredentials("KEYID", "SECRET")).toMatch(/^\[default\]\naws_access_key_id = KEYID\naws_secret_access_key = SECRET\n$/m);
    const b2conf = renderAwsConfig({ bucket: "m", region: "us-west-004", endpoint: "https://s3.us-west-004.backblazeb2.com" });
    expect(b2conf).toContain("region = us-west-004\ns3 =\n    addressing_style = path\nrequest_checksum_calculation = when_required\n");
    expect(renderAwsConfig({ bucket: "m", region: "eu-west-1", endpoint: "" })).not.toContain("addressing_style");
  });

  it("gives Synapse's key exactly ListBucket on the bucket and Get/Put/DeleteObject on its objects", () => {
    expect(JSON.parse(mediaBucketPolicy("arn:aws:s3:::media-example"))).toEqual({
      Version: "2012-10-17",
      Statement: [
        { Sid: "ListTheMediaBucket", Effect: "Allow", Action: ["s3:ListBucket"], Resource: ["arn:aws:s3:::media-example"] },
        { Sid: "ReadWriteMedia", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], Resource: ["arn:aws:s3:::media-example/*"] },
      ],
    });
  });

  it("hooks the provider check and boto3's files into matrix-synapse; PYTHONPATH only for Debian's package", () => {
    const debian = renderSynapseMediaDropIn(s3ProviderPaths("debian"));
    expect(debian).toContain("ExecStartPre=+/usr/local/lib/synapse-deploy/s3-provider-ensure.sh\n");
    expect(debian).toContain("Environment=AWS_SHARED_CREDENTIALS_FILE=/etc/matrix-synapse/s3-credentials\n");
    expect(debian).toContain("Environment=PYTHONPATH=/opt/synapse-s3-storage-provider/site\n");
    expect(renderSynapseMediaDropIn(s3ProviderPaths("matrix-org"))).not.toContain("PYTHONPATH");
    expect(s3ProviderPaths("matrix-org").uploadTool).toBe("/opt/venvs/matrix-synapse/bin/s3_media_upload");
  });

  it("runs the upload job as the service user on the schedule", () => {
    const service = renderMediaUploadService();
    expect(service).toMatch(/^User=matrix-synapse$/m);
    expect(service).toMatch(/^Type=oneshot$/m);
    expect(service).toMatch(/^ExecStart=\/usr\/local\/lib\/synapse-deploy\/synapse-media-upload\.sh$/m);
    expect(renderMediaUploadTimer("*-*-* 03:30")).toMatch(/^OnCalendar=\*-\*-\* 03:30$/m);
  });

  it("renders the host scripts it ships as standalone programs", () => {
    const ensure = renderScript("s3-provider-ensure", { SOURCE: "debian", VERSION: "1.7.0", PREFIX: "/opt/x" });
    expect(ensure.startsWith("#!/usr/bin/env bash\n")).toBe(true);
    expect(ensure).toContain("set -euo pipefail");
  });
});

const base = { serverName: "example.org", host: "203.0.113.10", tlsMode: "self-signed", packageSource: "debian", adminUser: "admin" };
const byType = (r: MockRun, type: string) => r.resources.filter((x) => x.type === type);

describe("the aws mode under mocks", () => {
  let run: MockRun;
  beforeAll(async () => { run = await runProgram({ ...base, ...s3, mediaBucketMode: "aws", mediaRegion: "eu-west-1", mediaBucketVersioning: "true" }); });

  it("makes a protected, private, encrypted bucket that aborts cut-off uploads", () => {
    const [bucket] = byType(run, "aws:s3/bucket:Bucket");
    expect(bucket.inputs).toMatchObject({ bucket: "media-example", forceDestroy: false });
    expect(bucket.protect).toBe(true);
    expect(byType(run, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")[0].inputs).toMatchObject({
      blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
    expect(byType(run, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")[0].inputs.rules)
      .toEqual([{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }]);
    expect(byType(run, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")[0].inputs.rules).toEqual([
      expect.objectContaining({ status: "Enabled", abortIncompleteMultipartUpload: { daysAfterInitiation: 3 } })]);
    expect(byType(run, "aws:s3/bucketVersioning:BucketVersioning")[0].inputs.versioningConfiguration).toEqual({ status: "Enabled" });
    expect(byType(run, "pulumi:providers:aws")[0].inputs.region).toBe("eu-west-1");
  });

  it("gives Synapse an IAM user with only the bucket policy, and exports its key's secret as a secret", async () => {
    const [policy] = byType(run, "aws:iam/userPolicy:UserPolicy");
    expect(JSON.parse(policy.inputs.policy)).toEqual(JSON.parse(mediaBucketPolicy("arn:aws:s3:::media-example")));
    expect(byType(run, "aws:iam/accessKey:AccessKey")).toHaveLength(1);
    expect(run.outputs.mediaAccessKeyId).toBe("AKIAMOCKKEYID");
    expect(run.outputs.mediaSecretAccessKey).toBe(awsSecretKey);
    expect(await (run.program.mediaSecretAccessKey as any).isSecret).toBe(true);
    expect(run.byName("synapse-staged-s3-credentials").inputs.stdin).toContain(`aws_secret_access_key = ${awsSecretKey}`);
  });
});

describe("the s3-compatible mode under mocks (Backblaze B2)", () => {
  let run: MockRun;
  beforeAll(async () => { run = await runProgram({ ...base, ...b2 }, ["sshPrivateKey", "mediaSecretAccessKey"]); });

  it("makes the bucket through a provider for the endpoint, with the user's key", () => {
    const [provider] = byType(run, "pulumi:providers:aws");
    // Provider config travels as strings.
    expect(provider.inputs).toMatchObject({
      region: "us-west-004", accessKey: b2.mediaAccessKeyId, s3UsePathStyle: "true", skipCredentialsValidation: "true",
      skipRequestingAccountId: "true", skipRegionValidation: "true", skipMetadataApiCheck: "true",
    });
    expect(provider.secretInputs).toContain("secretKey");
    expect(JSON.stringify(provider.inputs.endpoints)).toContain(b2.mediaEndpoint);
    const [bucket] = byType(run, "aws:s3/bucket:Bucket");
    expect(bucket.protect).toBe(true);
    expect(bucket.provider).toMatch(/pulumi:providers:aws::media-endpoint::/);
    expect(byType(run, "aws:iam/user:User")).toEqual([]);
  });
});

describe("the existing mode under mocks", () => {
  let run: MockRun;
  beforeAll(async () => { run = await runProgram({ ...base, ...existing }, ["sshPrivateKey", "mediaSecretAccessKey"]); });

  it("makes no cloud resource", () => {
    expect(run.resources.filter((r) => r.type.startsWith("aws:") || r.type === "pulumi:providers:aws")).toEqual([]);
  });

  it("puts media_storage_providers in homeserver.yaml and the key only in a 0600 file through stdin", () => {
    const homeserver = run.byName("synapse-staged-homeserver").inputs.stdin as string;
    expect(YAML.parse(homeserver).media_storage_providers[0].config).toEqual({
      bucket: "media-example", region_name: "us-west-004", endpoint_url: b2.mediaEndpoint, storage_class: "STANDARD" });
    const credentials = run.byName("synapse-staged-s3-credentials");
    expect(credentials.inputs.create).toContain("MODE=0600");
    expect(credentials.secretInputs).toContain("stdin");
    expect(run.byName("synapse-activate").inputs.create).toContain("FILES='homeserver.yaml log.yaml conf.d/secrets.yaml pgpass s3-credentials s3.conf'");
  });

  it("keeps every secret out of homeserver.yaml, the units and every command string", () => {
    const secrets = [b2.mediaSecretAccessKey, testPrivateKey.split("\n")[1], adminToken, secretOf("postgres-password")];
    for (const r of run.resources.filter((x) => x.type === "command:remote:Command")) {
      const shown = JSON.stringify([r.inputs.create, r.inputs.update, r.inputs.delete,
        r.secretInputs.includes("stdin") ? "" : r.inputs.stdin]);
      for (const s of secrets) expect({ resource: r.name, leaks: shown.includes(s) }).toEqual({ resource: r.name, leaks: false });
    }
  });

  it("installs the provider before Synapse's config check, and the upload job once Synapse runs", () => {
    const dependsOn = (name: string) => run.byName(name).dependencies.map((u) => u.split("::").pop());
    expect(dependsOn("synapse-media-provider")).toEqual(expect.arrayContaining(["synapse-packages", "synapse-staged-s3-provider-ensure", "synapse-staged-media-dropin"]));
    expect(dependsOn("synapse-activate")).toEqual(expect.arrayContaining(["synapse-media-provider", "synapse-staged-s3-credentials", "synapse-staged-s3-config"]));
    expect(dependsOn("synapse-media-upload")).toEqual(expect.arrayContaining(["synapse-activate", "synapse-staged-media-upload-timer"]));
    expect(run.byName("synapse-media-upload").inputs.delete).toContain("# synapse-deploy: media-upload-teardown");
    expect(run.byName("synapse-media-provider").inputs.delete).toContain("# synapse-deploy: media-provider-teardown");
  });

  it("changes nothing for a stack that keeps media on disk", async () => {
    const local = await runProgram(base);
    // (The remote media cache purge is database maintenance, whatever the storage.)
    expect(local.resources.filter((r) => /media|s3/.test(r.name) && !r.name.startsWith("maintenance-purge-remote-media"))).toEqual([]);
    expect(local.byName("synapse-activate").inputs.create).not.toContain("EXTENSIONS_SHA256");
  });
});

