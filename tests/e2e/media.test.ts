// End-to-end: media in a bucket. A real S3-compatible store (the Versity S3 gateway, files on
// disk) on its own sandbox VPS, a homeserver on another, the real Pulumi CLI between them, and a
// Matrix client uploading and downloading media. Scenarios run in order on one deployment.
import { createHash, randomBytes } from "node:crypto";
import { downVps } from "../sandbox/sandbox";
import { png } from "./clients/png";
import { PulumiWorkspace } from "./support/pulumi";
import { suiteNeeding } from "./support/requirements";
import { S3Store, startS3Store } from "./support/s3";
import { bootVps, changes, devStack, expectClean, httpsClient, timed, Vps } from "./support/stack";

const suite = suiteNeeding("sandbox", "engine", "versitygw");

const minutes = (n: number) => n * 60_000;
const server = "sandbox.test";
const matrix = `https://matrix.${server}`;
const bucket = "synapse-media";
const accessKey = "sandboxmedia";
const secretKey = randomBytes(20).toString("hex");
const STORE = 4;
const HOMESERVER = 5;

let store: Vps;
let s3Store: S3Store;
let vps: Vps;
let ws: PulumiWorkspace;
let https: Awaited<ReturnType<typeof httpsClient>>;
let token: string;
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
/** Media uploaded so far: mxc id → the bytes. */
const uploaded = new Map<string, Buffer>();

/** An S3 request to the media bucket, and its keys. */
const s3 = (method: "GET" | "HEAD", path: string) => s3Store.request(method, `${bucket}${path}`);
const bucketKeys = () => s3Store.keys(bucket);
/** Where Synapse keeps a local media file: local_content/AB/CD/EFGH… */
const localPath = (mediaId: string) => `/var/lib/matrix-synapse/media/local_content/${mediaId.slice(0, 2)}/${mediaId.slice(2, 4)}/${mediaId.slice(4)}`;

async function upload(bytes: Buffer, contentType: string): Promise<string> {
  const r = await https.upload(`${matrix}/_matrix/media/v3/upload?filename=f`, bytes, contentType, token);
  if (r.status !== 200) throw new Error(`upload failed: ${r.status} ${r.text}`);
  const mxc: string = r.json().content_uri;
  uploaded.set(mxc, bytes);
  return mxc;
}
const mediaId = (mxc: string) => mxc.split("/").pop()!;
const download = (mxc: string) => https.get(`${matrix}/_matrix/client/v1/media/download/${server}/${mediaId(mxc)}`, token);

/** Waits for a run of the upload job to end; returns its journal. */
async function uploadJobRun(since: string): Promise<string> {
  for (let i = 0; i < 120; i++) {
    const journal = (await vps.sh(`journalctl -u synapse-media-upload --since '${since}' --no-pager -o cat`)).stdout;
    if (/\[synapse-media-upload\] done$/m.test(journal) || /Failed with result/.test(journal)) return journal;
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error("the upload job did not finish within 4 minutes");
}

suite("media in a bucket, with a real S3-compatible store on its own VPS", () => {
  beforeAll(async () => {
    [store, vps] = await Promise.all([bootVps(STORE), bootVps(HOMESERVER)]);
    // The store: the Versity S3 gateway with its posix backend (objects are files, kept across restarts).
    s3Store = await startS3Store(store, accessKey, secretKey, [bucket]);
    ws = await devStack(vps, "vps5-media");
  }, minutes(10));

  afterAll(async () => {
    https?.close();
    if (process.env.E2E_KEEP !== "1") await downVps(STORE, HOMESERVER);
  }, minutes(2));

  test("b1. a homeserver keeps its media on disk (the default)", () => timed("media b1 local media", async () => {
    expectClean(await ws.update("up"));
    https = await httpsClient(vps);
    token = (await ws.outputs()).adminAccessToken;
    for (let i = 0; i < 3; i++) await upload(png(96 + i * 16, 64, i), "image/png");
    await upload(randomBytes(300 * 1024), "application/octet-stream");
    for (const mxc of uploaded.keys()) expect((await vps.sh(`test -s ${localPath(mediaId(mxc))}`, { allowFail: true })).code).toBe(0);
    expect(await bucketKeys()).toEqual([]);
  }), minutes(12));

  test("b2. switched to the bucket: the upload job moves every file there, then the client downloads each", () => timed("media b2 switch to s3", async () => {
    await ws.configSet("mediaStorage", "s3");
    await ws.configSet("mediaBucketMode", "existing");
    await ws.configSet("mediaBucket", bucket);
    await ws.configSet("mediaEndpoint", s3Store.endpoint);
    await ws.configSet("mediaAccessKeyId", accessKey);
    await ws.configSet("mediaSecretAccessKey", secretKey, { secret: true });
    await ws.configSet("mediaKeepLocalCopy", "false");
    const preview = await ws.pulumi(["preview", "--diff"]);
    expect(preview.stdout).toMatch(/\+ media_storage_providers\s*: \[/);
    expect(preview.stdout).not.toContain(secretKey);

    const since = (await vps.sh("date '+%Y-%m-%d %H:%M:%S'")).stdout.trim();
    const r = await ws.update("up");
    expectClean(r);
    expect(changes(r)).toEqual(expect.arrayContaining(["synapse-media-provider:create", "synapse-media-upload:create", "synapse-activate:update"]));
    const journal = await uploadJobRun(since);
    expect(journal).toMatch(/files are in the bucket with their size; \d+ local copies deleted/);
    expect((await vps.sh("systemctl show -p Result --value synapse-media-upload")).stdout.trim()).toBe("success");

    // Every original and every thumbnail Synapse made is an object; no local copy is left.
    const keys = await bucketKeys();
    for (const mxc of uploaded.keys()) {
      const id = mediaId(mxc);
      expect(keys).toContain(`local_content/${id.slice(0, 2)}/${id.slice(2, 4)}/${id.slice(4)}`);
      expect((await vps.sh(`test -e ${localPath(id)}`, { allowFail: true })).code).not.toBe(0);
    }
    expect(keys.filter((k) => k.startsWith("local_thumbnails/")).length).toBeGreaterThanOrEqual(3);
    for (const [mxc, bytes] of uploaded) {
      const got = await download(mxc);
      expect({ mxc, status: got.status, sha: sha(got.bytes) }).toEqual({ mxc, status: 200, sha: sha(bytes) });
    }
    expect((await ws.update("up")).summary).toEqual({ same: expect.any(Number) });
  }), minutes(10));

  test("a. a new upload lands in the bucket; with its local copy gone the client still gets the same bytes and thumbnails", () => timed("media a upload to s3", async () => {
    const image = png(200, 150, 9);
    const mxc = await upload(image, "image/png");
    const id = mediaId(mxc);
    const head = await s3("HEAD", `/local_content/${id.slice(0, 2)}/${id.slice(2, 4)}/${id.slice(4)}`);
    expect(head.status).toBe("200");
    expect(head.body).toMatch(new RegExp(`content-length: ${image.length}\\b`, "i"));
    await vps.sh(`rm -rf ${localPath(id)} /var/lib/matrix-synapse/media/local_thumbnails/${id.slice(0, 2)}/${id.slice(2, 4)}/${id.slice(4)}`);
    const got = await download(mxc);
    expect(got.status).toBe(200);
    expect(sha(got.bytes)).toBe(sha(image));
    const thumb = await https.get(`${matrix}/_matrix/client/v1/media/thumbnail/${server}/${id}?width=32&height=32&method=crop`, token);
    expect(thumb.status).toBe(200);
    expect(thumb.headers["content-type"]).toMatch(/^image\//);
    expect(thumb.bytes.length).toBeGreaterThan(100);
  }), minutes(5));

  test("c. with the store down an upload fails clearly and nothing stored is lost; once it is back, uploads work again", () => timed("media c store down", async () => {
    const before = await bucketKeys();
    await store.sh("systemctl stop versitygw");
    try {
      const r = await https.upload(`${matrix}/_matrix/media/v3/upload?filename=down`, randomBytes(1024), "application/octet-stream", token);
      expect(r.status).toBeGreaterThanOrEqual(500);
      expect(r.json().errcode).toBeDefined();
    } finally {
      await store.sh("systemctl start versitygw");
      await store.sh(`for i in $(seq 50); do curl -s -o /dev/null http://${store.host}:7070/ && exit 0; sleep 0.2; done; exit 1`);
    }
    expect(await bucketKeys()).toEqual(before);
    for (const [mxc, bytes] of uploaded) {
      const got = await download(mxc);
      expect({ mxc, status: got.status, sha: sha(got.bytes) }).toEqual({ mxc, status: 200, sha: sha(bytes) });
    }
    // No redeploy: the same Synapse uploads again.
    const mxc = await upload(randomBytes(2048), "application/octet-stream");
    expect((await bucketKeys()).length).toBeGreaterThan(before.length);
    expect((await download(mxc)).status).toBe(200);
  }), minutes(5));

  test("d. switching back to local removes the provider and the job, and deletes nothing from the bucket", () => timed("media d back to local", async () => {
    const before = await bucketKeys();
    await ws.configSet("mediaStorage", "local");
    const r = await ws.update("up");
    expectClean(r);
    expect(changes(r)).toEqual(expect.arrayContaining(["synapse-media-provider:delete", "synapse-media-upload:delete"]));
    expect(await bucketKeys()).toEqual(before);
    expect((await vps.sh("systemctl cat synapse-media-upload.timer", { allowFail: true })).code).not.toBe(0);
    expect((await vps.sh("grep -c media_storage_providers /etc/matrix-synapse/homeserver.yaml", { allowFail: true })).stdout.trim()).toBe("0");
    expect((await https.get(`${matrix}/_matrix/client/versions`)).status).toBe(200);
    // The key never reached a log.
    expect((await vps.sh("journalctl --no-pager -o cat")).stdout).not.toContain(secretKey);
  }), minutes(5));
});
