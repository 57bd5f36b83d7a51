// End-to-end: two homeservers built by the program from their own stacks, with certificates from
// a real ACME server (Pebble) through the program's normal path, federating with certificate
// verification on. a.test delegates through /.well-known/matrix/server on 443; b.test serves
// federation on 8448 and has no /.well-known/matrix/server. Names come from the test DNS.
import * as tls from "node:tls";
import { downVps, sandboxAvailable } from "../sandbox/sandbox";
import { request, sandboxAgent } from "./clients/https";
import { startAcme, TestAcme } from "./support/acme";
import { engineAvailable, PulumiWorkspace, serverBinary } from "./support/pulumi";
import { bootVps, devStack, expectClean, record, timed, Vps } from "./support/stack";
import * as fs from "node:fs";

const available = sandboxAvailable().ok ? engineAvailable() : sandboxAvailable();
const why = available.ok && !fs.existsSync(serverBinary("pebble")) ? "pebble is not built: run tests/engine/build.sh" : available.reason;
if (why) console.warn(`federation e2e skipped: ${why}`);
const suite = why ? describe.skip : describe;
const minutes = (n: number) => n * 60_000;

const ACME = 6;
const A = 7;
const B = 8;

interface Homeserver {
  name: string;
  matrixHost: string;
  vps: Vps;
  ws: PulumiWorkspace;
  token: string;
  client: ReturnType<typeof clientFor>;
}

let acme: TestAcme;
let root: string;
let a: Homeserver;
let b: Homeserver;

/** A client of one homeserver that trusts only Pebble's issuing root. */
function clientFor(vps: Vps, ca: string) {
  const agent = sandboxAgent({ address: vps.host, ca });
  return {
    get: (url: string, token?: string) => request(agent, url, { token }),
    post: (url: string, body: unknown, token?: string) => request(agent, url, { body, token }),
    put: (url: string, body: unknown, token?: string) => request(agent, url, { method: "PUT", body, token }),
    upload: (url: string, bytes: Buffer, contentType: string, token: string) => request(agent, url, { raw: { bytes, contentType }, token }),
    close: () => agent.close(),
  };
}

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

async function homeserverStack(vps: Vps, name: string, extra: Record<string, string>): Promise<PulumiWorkspace> {
  const ws = await devStack(vps, `vps${vps.n}-${name}`, {
    serverName: name, tlsMode: "acme", acmeEmail: `ops@${name}`, acmeServer: acme.directory, ...extra,
  });
  await ws.configSet("acmeCaBundle", acme.apiCa);
  await ws.configSet("federationCaCertificates", root);
  await ws.configSet("federationIpRangeAllowlist[0]", "10.231.0.0/16", { path: true });
  // An empty list (fetch keys from each server itself) is written in the stack file.
  ws.setInStackFile("dev", "synapse:trustedKeyServers", []);
  return ws;
}

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
    // a keeps media cached from other servers for one minute only, so test 4 can watch it go.
    const wsA = await homeserverStack(vpsA, "a.test", { mediaRetentionRemote: "1m" });
    // b runs community's workers: its federation goes in through a reader and out through a sender.
    const wsB = await homeserverStack(vpsB, "b.test", { matrixHost: "b.test", federationPort8448: "true", tier: "community" });
    a = { name: "a.test", matrixHost: "matrix.a.test", vps: vpsA, ws: wsA, token: "", client: clientFor(vpsA, root) };
    b = { name: "b.test", matrixHost: "b.test", vps: vpsB, ws: wsB, token: "", client: clientFor(vpsB, root) };
  }, minutes(10));

  afterAll(async () => {
    a?.client.close();
    b?.client.close();
    if (process.env.E2E_KEEP !== "1") await downVps(ACME, A, B);
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
});
