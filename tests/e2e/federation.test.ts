// End-to-end: two homeservers built by the program from their own stacks, with certificates from
// a real ACME server (Pebble) through the program's normal path, federating with certificate
// verification on. a.test delegates through /.well-known/matrix/server on 443; b.test serves
// federation on 8448 and has no /.well-known/matrix/server. Names come from the test DNS.
// Last, the restore drill: a's backup goes to a real S3-compatible store, a's VPS is destroyed,
// and a new VPS is restored from the bucket through `pulumi up` with restoreFrom.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { downVps } from "../sandbox/sandbox";
import { request, sandboxAgent } from "./clients/https";
import { clientFor, federatingStack, Homeserver, startAcme, TestAcme } from "./support/acme";
import { suiteNeeding } from "./support/requirements";
import { S3Store, startS3Store } from "./support/s3";
import { bootVps, changes, exemptFromRateLimit, expectClean, figure, record, runAdmin, timed, Vps } from "./support/stack";
import * as fs from "node:fs";

const suite = suiteNeeding("sandbox", "engine", "pebble", "versitygw");
const minutes = (n: number) => n * 60_000;

const ACME = 6;
const A = 7;
const B = 8;
/** a's new VPS in the restore drill. */
const A_RESTORED = 9;
const backupBucket = "synapse-backups";
const backupKey = { id: "sandboxbackup", secret: randomBytes(20).toString("hex") };

/** An age key pair, as a user makes it with age-keygen (the private key stays off the VPS). */
function ageKeyPair(): { identity: string; recipient: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "age-"));
  try {
    execFileSync("age-keygen", ["-o", path.join(dir, "key")], { stdio: "pipe" });
    const identity = fs.readFileSync(path.join(dir, "key"), "utf8").split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"))!;
    return { identity, recipient: execFileSync("age-keygen", ["-y", path.join(dir, "key")], { encoding: "utf8" }).trim() };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
const ageKey = ageKeyPair();

let acme: TestAcme;
let root: string;
let store: S3Store;
/** The room of test 3, which b joined. */
let fedRoomId: string;
let a: Homeserver;
let b: Homeserver;

/** The certificate a host presents for a name (serial and issuer), verified against `ca`. */
function servedCertificate(address: string, name: string, port: number, ca: string): Promise<{ serial: string; issuer: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: address, port, servername: name, ca }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      resolve({ serial: cert.serialNumber, issuer: String(cert.issuer.CN) });
    });
    socket.on("error", reject);
  });
}

const homeserverStack = (vps: Vps, name: string, extra: Record<string, string>) => federatingStack(acme, vps, name, extra);

async function waitFor<T>(what: string, seconds: number, probe: () => Promise<T | undefined>): Promise<{ value: T; seconds: number }> {
  const t0 = Date.now();
  while (Date.now() - t0 < seconds * 1000) {
    const value = await probe();
    if (value !== undefined) return { value, seconds: (Date.now() - t0) / 1000 };
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not happen within ${seconds} s`);
}

/** The bodies of the text messages in a room, as a member sees them. */
async function bodies(hs: Homeserver, roomId: string): Promise<string[]> {
  const r = await hs.client.get(`https://${hs.matrixHost}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=50`, hs.token);
  if (r.status !== 200) return [];
  return r.json().chunk.filter((e: any) => e.type === "m.room.message").map((e: any) => e.content.body);
}

suite("two homeservers federating, with certificates from a real ACME server", () => {
  beforeAll(async () => {
    let vpsA: Vps;
    let vpsB: Vps;
    [acme, vpsA, vpsB] = await Promise.all([startAcme(ACME), bootVps(A), bootVps(B)]);
    for (const [name, vps] of [["a.test", vpsA], ["matrix.a.test", vpsA], ["b.test", vpsB]] as const) await acme.addA(name, vps.host);
    await acme.useDns(vpsA);
    await acme.useDns(vpsB);
    root = await acme.issuingRoot();
    // The bucket for a's off-host backups, on the ACME VPS (it outlives a's VPS).
    store = await startS3Store(acme.vps, backupKey.id, backupKey.secret, [backupBucket]);
    // a keeps media cached from other servers for one minute only, so test 4 can watch it go;
    // its backups go to the bucket, encrypted to an age key the VPS never sees the private half of.
    const wsA = await homeserverStack(vpsA, "a.test", {
      mediaRetentionRemote: "1m",
      backupBucket, backupEndpoint: store.endpoint, backupAccessKeyId: backupKey.id, backupAgeRecipient: ageKey.recipient,
    });
    await wsA.configSet("backupSecretAccessKey", backupKey.secret, { secret: true });
    // b runs community's workers: its federation goes in through a reader and out through a sender.
    const wsB = await homeserverStack(vpsB, "b.test", { matrixHost: "b.test", federationPort8448: "true", tier: "community" });
    a = { name: "a.test", matrixHost: "matrix.a.test", vps: vpsA, ws: wsA, token: "", client: clientFor(vpsA, root) };
    b = { name: "b.test", matrixHost: "b.test", vps: vpsB, ws: wsB, token: "", client: clientFor(vpsB, root) };
  }, minutes(10));

  afterAll(async () => {
    a?.client.close();
    b?.client.close();
    if (process.env.E2E_KEEP !== "1") await downVps(ACME, A, B, A_RESTORED);
  }, minutes(2));

  test("1. both homeservers get Pebble certificates through the program's ACME path; clients verify them", () => timed("federation 1 two homeservers with ACME", async () => {
    const [upA, upB] = await Promise.all([a.ws.update("up"), b.ws.update("up")]);
    expectClean(upA);
    expectClean(upB);
    record("pulumi", "two homeservers with ACME, in parallel (slower of the two)", Math.max(upA.seconds, upB.seconds));
    for (const [hs, names] of [[a, ["matrix.a.test", "a.test"]], [b, ["b.test"]]] as const) {
      hs.token = (await hs.ws.outputs()).adminAccessToken;
      for (const name of names) {
        const cert = await servedCertificate(hs.vps.host, name, 443, root);
        expect(cert.issuer).toMatch(/^Pebble Intermediate CA/);
      }
      // The placeholder was replaced by certbot's lineage (symlinks into /etc/letsencrypt/live).
      const link = (await hs.vps.sh("readlink /etc/synapse-deploy/tls/matrix/fullchain.pem")).stdout.trim();
      expect(link).toBe(`/etc/letsencrypt/live/${hs.matrixHost}/fullchain.pem`);
      expect((await hs.client.get(`https://${hs.matrixHost}/_matrix/client/versions`)).status).toBe(200);
    }
    expect((await servedCertificate(b.vps.host, "b.test", 8448, root)).issuer).toMatch(/^Pebble Intermediate CA/);
    // Discovery: a delegates on 443, b has no server delegation and answers on 8448.
    expect((await a.client.get("https://a.test/.well-known/matrix/server")).json()).toEqual({ "m.server": "matrix.a.test:443" });
    expect((await b.client.get("https://b.test/.well-known/matrix/server")).status).toBe(404);
  }), minutes(15));

  test("2. a renewal (certbot renew --force-renewal) reloads nginx with the new certificate, with no downtime", () => timed("federation 2 renewal", async () => {
    const before = await servedCertificate(a.vps.host, "matrix.a.test", 443, root);
    const nginxPid = (await a.vps.sh("systemctl show -p MainPID --value nginx")).stdout.trim();
    let requests = 0;
    const failures: string[] = [];
    let renewing = true;
    // Downtime is a new connection refused or failing. A new connection for every request: an idle
    // keep-alive connection that an old worker closes as it exits is the HTTP/1.1 race clients
    // retry (RFC 9112 9.3.1), and undici's fetch does not.
    const fresh = sandboxAgent({ address: a.vps.host, ca: root, keepAlive: false });
    const load = (async () => {
      while (renewing) {
        const r = await request(fresh, "https://matrix.a.test/_matrix/client/versions")
          .catch((e) => ({ status: `${e} (${e.cause ?? "no cause"})` }));
        requests++;
        if (r.status !== 200) failures.push(String(r.status));
      }
    })();
    try {
      // As certbot.timer runs it: with certbot.service's environment (the private ACME root).
      await a.vps.sh("env $(systemctl show -p Environment --value certbot.service) certbot renew --force-renewal --no-random-sleep-on-renew");
    } finally {
      renewing = false;
      await load;
      await fresh.close();
    }
    // `systemctl reload nginx` signals nginx and returns: new workers take over a moment later.
    const after = await waitFor("nginx serving the renewed certificate", 15, async () => {
      const served = await servedCertificate(a.vps.host, "matrix.a.test", 443, root);
      return served.serial !== before.serial ? served : undefined;
    });
    expect(after.value.issuer).toMatch(/^Pebble Intermediate CA/);
    expect((await a.vps.sh("systemctl show -p MainPID --value nginx")).stdout.trim()).toBe(nginxPid);
    expect(requests).toBeGreaterThan(5);
    expect(failures).toEqual([]);
  }), minutes(5));

  test("3. a user on b joins a room on a by alias; messages flow both ways; an invite from a reaches b; key queries answer", () => timed("federation 3 federating", async () => {
    const room = await a.client.post(`https://${a.matrixHost}/_matrix/client/v3/createRoom`,
      { room_alias_name: "fed", preset: "public_chat", name: "across the federation" }, a.token);
    expect(room.status).toBe(200);
    const roomId: string = room.json().room_id;
    fedRoomId = roomId;

    const joined = await waitFor("b joining #fed:a.test", 60, async () => {
      const r = await b.client.post(`https://${b.matrixHost}/_matrix/client/v3/join/${encodeURIComponent("#fed:a.test")}`, {}, b.token);
      return r.status === 200 ? r.json().room_id as string : undefined;
    });
    expect(joined.value).toBe(roomId);

    const send = (hs: Homeserver, txn: string, body: string) =>
      hs.client.put(`https://${hs.matrixHost}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${txn}`, { msgtype: "m.text", body }, hs.token);
    expect((await send(a, "a1", "hello from a")).status).toBe(200);
    const toB = await waitFor("a's message at b", 30, async () => ((await bodies(b, roomId)).includes("hello from a") ? true : undefined));
    expect((await send(b, "b1", "hello from b")).status).toBe(200);
    const toA = await waitFor("b's message at a", 30, async () => ((await bodies(a, roomId)).includes("hello from b") ? true : undefined));
    record("federation", "a → b message delivery", toB.seconds);
    record("federation", "b → a message delivery", toA.seconds);
    expect(toB.seconds).toBeLessThan(10);
    expect(toA.seconds).toBeLessThan(10);

    // On b, workers carried federation: the reader took a's transactions (its access log), the
    // sender sent b's (its journal and its transaction counter), the main process sent none.
    const count = async (unit: string, pattern: string) =>
      Number((await b.vps.sh(`journalctl -u ${unit} --no-pager -o cat | grep -cF '${pattern}' || true`)).stdout.trim());
    expect(await count("matrix-synapse-worker@federation_reader1", '"PUT /_matrix/federation/v1/send/')).toBeGreaterThan(0);
    expect(await count("matrix-synapse-worker@federation_sender1", "TX [a.test]")).toBeGreaterThan(0);
    expect(await count("matrix-synapse", "TX [a.test]")).toBe(0);
    const metrics = (await b.vps.sh("curl -fsS http://127.0.0.1:8121/_synapse/metrics")).stdout;
    const sent = /^synapse_federation_client_sent_transactions_total\{server_name="b\.test"\} ([0-9.e+]+)$/m.exec(metrics);
    expect(Number(sent?.[1])).toBeGreaterThan(0);

    const dm = await a.client.post(`https://${a.matrixHost}/_matrix/client/v3/createRoom`, { invite: ["@admin:b.test"], is_direct: true }, a.token);
    expect(dm.status).toBe(200);
    const dmId: string = dm.json().room_id;
    await waitFor("a's invite at b", 30, async () => {
      const r = await b.client.get(`https://${b.matrixHost}/_matrix/client/v3/sync?timeout=0`, b.token);
      return r.status === 200 && r.json().rooms?.invite?.[dmId] ? true : undefined;
    });

    for (const [asker, about] of [[a, b], [b, a]] as const) {
      const keys = await asker.client.get(`https://${asker.matrixHost}/_matrix/key/v2/query/${about.name}`);
      expect(keys.status).toBe(200);
      const own = await about.client.get(`https://${about.matrixHost}/_matrix/key/v2/server`);
      expect(keys.json().server_keys.map((k: any) => k.server_name)).toContain(about.name);
      expect(Object.keys(keys.json().server_keys[0].verify_keys)).toEqual(Object.keys(own.json().verify_keys));
    }
  }), minutes(5));

  test("4. a's remote media cache purge (its timer's service) deletes b's media it cached and no one read for a minute; a fetches it again on demand", () => timed("federation 4 remote media cache purge", async () => {
    const bytes = Buffer.from(`media from b ${Date.now()}\n`.repeat(200));
    const up = await b.client.upload(`https://${b.matrixHost}/_matrix/media/v3/upload?filename=b.txt`, bytes, "text/plain", b.token);
    expect(up.status).toBe(200);
    const mediaId = String(up.json().content_uri).split("/").pop()!;
    const download = () => a.client.get(`https://${a.matrixHost}/_matrix/client/v1/media/download/b.test/${mediaId}`, a.token);
    const first = await download();
    expect(first.status).toBe(200);
    expect(first.bytes.equals(bytes)).toBe(true);
    const cached = async () => Number((await a.vps.sh(`runuser -u postgres -- psql -XAtc "SELECT count(*) FROM remote_media_cache WHERE media_origin = 'b.test' AND media_id = '${mediaId}'" synapse`)).stdout.trim());
    expect(await cached()).toBe(1);
    expect((await a.vps.sh("systemctl is-enabled synapse-purge-remote-media.timer")).stdout.trim()).toBe("enabled");

    // Older than a's keep period (1 minute), then the timer's service, as the timer would run it.
    // Synapse records an access time when it flushes its "recently accessed" set, once a minute,
    // so the cached copy's last access can be up to a minute after the download.
    await new Promise((r) => setTimeout(r, 125_000));
    const since = (await a.vps.sh("date '+%Y-%m-%d %H:%M:%S'")).stdout.trim();
    await a.vps.sh("systemctl start synapse-purge-remote-media.service");
    const journal = (await a.vps.sh(`journalctl -u synapse-purge-remote-media --since '${since}' --no-pager -o cat`)).stdout;
    expect(journal).toMatch(/^synapse-purge-remote-media: deleted [1-9]\d* cached remote media files last accessed before /m);
    expect(await cached()).toBe(0);
    expect((await a.vps.sh(`find /var/lib/matrix-synapse/media/remote_content/b.test -type f | wc -l`)).stdout.trim()).toBe("0");
    // Nothing is lost: a fetches it from b again.
    const again = await download();
    expect(again.status).toBe(200);
    expect(again.bytes.equals(bytes)).toBe(true);
    expect(await cached()).toBe(1);
  }), minutes(5));

  test("5. the restore drill: a's backup goes to the bucket, a's VPS is destroyed, a new VPS restored from it has every message, the file, the same key, and b keeps federating", () => timed("federation 5 restore drill", async () => {
    // A user with a password, a room of 120 messages, an uploaded file.
    const password = `drill-${randomBytes(8).toString("hex")}`;
    await a.vps.sh(`curl -sf -X PUT -H @- -d '{"password": "${password}"}' 'http://127.0.0.1:8008/_synapse/admin/v2/users/@alice:a.test'`,
      { stdin: `Authorization: Bearer ${a.token}\n` });
    const login = async (hs: Homeserver) => hs.client.post(`https://${hs.matrixHost}/_matrix/client/v3/login`,
      { type: "m.login.password", identifier: { type: "m.id.user", user: "alice" }, password });
    const alice = (await login(a)).json().access_token as string;
    await exemptFromRateLimit(a.vps, "@alice:a.test", a.token);
    const drill = (await a.client.post(`https://${a.matrixHost}/_matrix/client/v3/createRoom`, { name: "drill" }, alice)).json().room_id as string;
    const sent: string[] = [];
    for (let i = 0; i < 120; i++) {
      const body = `drill message ${i}`;
      const r = await a.client.put(`https://${a.matrixHost}/_matrix/client/v3/rooms/${encodeURIComponent(drill)}/send/m.room.message/d${i}`, { msgtype: "m.text", body }, alice);
      expect(r.status).toBe(200);
      sent.push(body);
    }
    const file = randomBytes(256 * 1024);
    const up = await a.client.upload(`https://${a.matrixHost}/_matrix/media/v3/upload?filename=drill.bin`, file, "application/octet-stream", alice);
    expect(up.status).toBe(200);
    const mediaId = String(up.json().content_uri).split("/").pop()!;
    const verifyKeys = (await a.client.get(`https://${a.matrixHost}/_matrix/key/v2/server`)).json().verify_keys;
    const identityFiles = "sha256sum /etc/matrix-synapse/homeserver.signing.key /etc/matrix-synapse/conf.d/secrets.yaml /etc/matrix-synapse/pgpass";
    const identityBefore = (await a.vps.sh(identityFiles)).stdout;

    // The backup, as an admin takes one by hand; it goes to the bucket encrypted.
    const backup = await runAdmin(a.ws, ["backup-now"]);
    expect(backup.code).toBe(0);
    expect(backup.stdout).toMatch(/; off-host: offsite:synapse-backups\/a\.test\/runs\/\d{8}T\d{6}Z\.tar\.age, [1-9]\d* new media files; \d+ s$/m);
    const status = JSON.parse((await runAdmin(a.ws, ["backup-status", "--json"])).stdout);
    const run = /runs\/(\d{8}T\d{6}Z)\.tar\.age$/.exec(status.offsite.object)![1];
    const keys = await store.keys(backupBucket);
    expect(keys).toContain(`a.test/runs/${run}.tar.age`);
    expect(keys.filter((k) => k.startsWith("a.test/media/local_content/") && k.endsWith(".age")).length).toBeGreaterThan(0);
    expect((await store.request("GET", `${backupBucket}/a.test/runs/${run}.tar.age`)).body.split("\n")[0]).toBe("age-encryption.org/v1");
    expect(JSON.parse((await runAdmin(a.ws, ["backup-list", "--json"])).stdout)).toMatchObject({ offsite: [run], offsiteConfigured: true });

    // a's VPS is gone. A new one takes its names (as a user changes DNS), and the stack points at it.
    await downVps(A);
    const fresh = await bootVps(A_RESTORED);
    for (const name of ["a.test", "matrix.a.test"]) await acme.replaceA(name, fresh.host);
    await acme.useDns(fresh);
    await a.ws.configSet("host", fresh.host);
    await a.ws.configSet("restoreFrom", "offsite");
    await a.ws.configSet("restoreAgeIdentity", ageKey.identity, { secret: true });
    const restored = await a.ws.update("up");
    expectClean(restored);
    record("restore", "drill: pulumi up onto a new VPS, restoring from the bucket (the run, its media, ACME)", restored.seconds);
    figure("restore.drill-up", restored.seconds, "the restore drill's pulumi up onto a new VPS (the run from the bucket, its media, ACME)", "s");
    const outputs = await a.ws.outputs();
    expect(outputs.restore).toMatch(new RegExp(`^restored run ${run} from offsite: \\d+ events, \\d+ users, [1-9]\\d* media files; signing key ed25519:a_\\w+; secrets identical to the backup's$`));
    const oldClient = a.client;
    a = { ...a, vps: fresh, token: outputs.adminAccessToken, client: clientFor(fresh, root) };
    await oldClient.close();

    // Every message, read by alice with her old password; the file, byte for byte; the same identity.
    const again = await login(a);
    expect(again.status).toBe(200);
    const token = again.json().access_token as string;
    const bodiesRead: string[] = [];
    for (let from = ""; ;) {
      const page = (await a.client.get(`https://${a.matrixHost}/_matrix/client/v3/rooms/${encodeURIComponent(drill)}/messages?dir=f&limit=100${from && `&from=${from}`}`, token)).json();
      bodiesRead.push(...page.chunk.filter((e: any) => e.type === "m.room.message").map((e: any) => e.content.body));
      if (!page.end || page.chunk.length === 0) break;
      from = encodeURIComponent(page.end);
    }
    expect(bodiesRead).toEqual(sent);
    const download = await a.client.get(`https://${a.matrixHost}/_matrix/client/v1/media/download/a.test/${mediaId}`, token);
    expect(download.status).toBe(200);
    expect(createHash("sha256").update(download.bytes).digest("hex")).toBe(createHash("sha256").update(file).digest("hex"));
    expect((await a.client.get(`https://${a.matrixHost}/_matrix/key/v2/server`)).json().verify_keys).toEqual(verifyKeys);
    expect((await fresh.sh(identityFiles)).stdout).toBe(identityBefore);

    // b, which federated with the old VPS, keeps federating with the new one: no key mismatch.
    const send = (hs: Homeserver, txn: string, body: string) =>
      hs.client.put(`https://${hs.matrixHost}/_matrix/client/v3/rooms/${encodeURIComponent(fedRoomId)}/send/m.room.message/${txn}`, { msgtype: "m.text", body }, hs.token);
    expect((await send(a, "restored-a", "a, restored")).status).toBe(200);
    const toB = await waitFor("the restored a's message at b", 90, async () => ((await bodies(b, fedRoomId)).includes("a, restored") ? true : undefined));
    expect((await send(b, "restored-b", "b, to the restored a")).status).toBe(200);
    const toA = await waitFor("b's message at the restored a", 90, async () => ((await bodies(a, fedRoomId)).includes("b, to the restored a") ? true : undefined));
    record("restore", "drill: the restored a's message reaching b", toB.seconds);
    record("restore", "drill: b's message reaching the restored a", toA.seconds);
    const keyAtB = (await b.client.get(`https://${b.matrixHost}/_matrix/key/v2/query/a.test`)).json();
    expect(keyAtB.server_keys.map((k: any) => Object.keys(k.verify_keys)).flat()).toEqual(Object.keys(verifyKeys));

    // Re-applying restores nothing again; a restore over this homeserver, now with data, is refused.
    const reapply = await a.ws.update("up");
    expectClean(reapply);
    expect(changes(reapply)).toEqual([]);
    await a.ws.configSet("restoreFrom", `offsite:${run}`);
    const refused = await a.ws.update("up");
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toContain("refusing to restore over a homeserver that has data");
    const stillThere = await login(a);
    expect(stillThere.status).toBe(200);
  }), minutes(20));
});
