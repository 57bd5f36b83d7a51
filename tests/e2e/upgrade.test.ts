// End-to-end: a Synapse upgrade that cannot lose the homeserver. a.test runs an older Synapse from
// PyPI (packageSource: pypi) with two workers, federating with b.test (Debian's package); a has
// history, media and a room b joined. Then synapseVersion changes: the preview shows only that
// change, `pulumi up` backs up, stops the workers and the main process, puts the new release in
// place, starts it (it migrates the schema) and then the workers; everything is still there and
// federation works both ways, with the same signing key. A downgrade below the database's schema
// is refused before anything changes. Certificates and names come from the sandbox's ACME server
// and test DNS, as in federation.test.ts.
import { createHash, randomBytes } from "node:crypto";
import { downVps } from "../sandbox/sandbox";
import { request, sandboxAgent } from "./clients/https";
import { clientFor, federatingStack, Homeserver, startAcme, TestAcme } from "./support/acme";
import { suiteNeeding } from "./support/requirements";
import { bootVps, changes, commandResource, exemptFromRateLimit, expectClean, figure, previewExcerpt, record, timed, Vps } from "./support/stack";

const suite = suiteNeeding("sandbox", "engine", "pebble");
const minutes = (n: number) => n * 60_000;

const ACME = 50;
const A = 51;
const B = 52;
/** Two releases that install from PyPI on the sandbox's Python (sid's 3.14) from wheels, psycopg2 built: schema 93 → 94. */
const OLD = "1.150.0";
const NEW = "1.163.2";
/** A release whose code knows schemas up to 83: below the compat version (84) the newer ones write. */
const TOO_OLD = "1.98.0";
const MESSAGES = 60;

let acme: TestAcme;
let a: Homeserver;
let b: Homeserver;
let fedRoom: string;
const history = { room: "", sent: [] as string[], password: `up-${randomBytes(8).toString("hex")}`, mediaId: "", fileSha256: "" };
let verifyKeys: Record<string, unknown>;
let keyFileSha256: string;

async function waitFor<T>(what: string, seconds: number, probe: () => Promise<T | undefined>): Promise<T> {
  const t0 = Date.now();
  while (Date.now() - t0 < seconds * 1000) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not happen within ${seconds} s`);
}

/** The release a homeserver says it runs, over federation (what another server sees). */
async function serverVersion(hs: Homeserver): Promise<string> {
  return (await hs.client.get(`https://${hs.matrixHost}/_matrix/federation/v1/version`)).json().server.version;
}
async function bodies(hs: Homeserver, roomId: string, token = hs.token): Promise<string[]> {
  const out: string[] = [];
  for (let from = ""; ;) {
    const r = await hs.client.get(`https://${hs.matrixHost}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=f&limit=100${from && `&from=${from}`}`, token);
    if (r.status !== 200) return out;
    const page = r.json();
    out.push(...page.chunk.filter((e: any) => e.type === "m.room.message").map((e: any) => e.content.body));
    if (!page.end || page.chunk.length === 0) return out;
    from = encodeURIComponent(page.end);
  }
}
const send = (hs: Homeserver, room: string, txn: string, body: string, token = hs.token) =>
  hs.client.put(`https://${hs.matrixHost}/_matrix/client/v3/rooms/${encodeURIComponent(room)}/send/m.room.message/${txn}`, { msgtype: "m.text", body }, token);
const psql = async (vps: Vps, sql: string) => (await vps.sh(`runuser -u postgres -- psql -XAtc "${sql}" synapse`)).stdout.trim();
const login = async (hs: Homeserver) => hs.client.post(`https://${hs.matrixHost}/_matrix/client/v3/login`,
  { type: "m.login.password", identifier: { type: "m.id.user", user: "alice" }, password: history.password });

/** Federation both ways in the shared room: a message from each side reaches the other. */
async function federatesBothWays(tag: string): Promise<void> {
  expect((await send(a, fedRoom, `a-${tag}`, `from a, ${tag}`)).status).toBe(200);
  await waitFor(`a's message (${tag}) at b`, 60, async () => ((await bodies(b, fedRoom)).includes(`from a, ${tag}`) ? true : undefined));
  expect((await send(b, fedRoom, `b-${tag}`, `from b, ${tag}`)).status).toBe(200);
  await waitFor(`b's message (${tag}) at a`, 60, async () => ((await bodies(a, fedRoom)).includes(`from b, ${tag}`) ? true : undefined));
}

suite("a Synapse upgrade from PyPI, with history, media and federation", () => {
  beforeAll(async () => {
    let vpsA: Vps;
    let vpsB: Vps;
    [acme, vpsA, vpsB] = await Promise.all([startAcme(ACME), bootVps(A), bootVps(B, "packages")]);
    for (const [name, vps] of [["a.test", vpsA], ["matrix.a.test", vpsA], ["b.test", vpsB]] as const) await acme.addA(name, vps.host);
    await acme.useDns(vpsA);
    await acme.useDns(vpsB);
    const root = await acme.issuingRoot();
    // a: the older release from PyPI, a synchrotron and a federation reader (Redis and replication).
    const wsA = await federatingStack(acme, vpsA, "a.test", {
      packageSource: "pypi", synapseVersion: OLD, workerSynchrotrons: "1", workerFederationReaders: "1",
    });
    // b: Debian's package, its release held at what the archive has (synapseVersion unset).
    const wsB = await federatingStack(acme, vpsB, "b.test", { matrixHost: "b.test", federationPort8448: "true" });
    a = { name: "a.test", matrixHost: "matrix.a.test", vps: vpsA, ws: wsA, token: "", client: clientFor(vpsA, root) };
    b = { name: "b.test", matrixHost: "b.test", vps: vpsB, ws: wsB, token: "", client: clientFor(vpsB, root) };
  }, minutes(10));

  afterAll(async () => {
    a?.client.close();
    b?.client.close();
    if (process.env.E2E_KEEP !== "1") await downVps(ACME, A, B);
  }, minutes(2));

  test("1. a runs Synapse 1.150.0 from PyPI in matrix.org's layout, from a lock with hashes; b holds the release Debian's archive has", () => timed("upgrade 1 older Synapse from PyPI", async () => {
    const [upA, upB] = await Promise.all([a.ws.update("up"), b.ws.update("up")]);
    expectClean(upA);
    expectClean(upB);
    record("pulumi", "first pulumi up, Synapse from PyPI with two workers (ACME)", upA.seconds);
    const [outA, outB] = [await a.ws.outputs(), await b.ws.outputs()];
    a.token = outA.adminAccessToken;
    b.token = outB.adminAccessToken;
    expect(outA.synapseVersion).toBe(OLD);
    expect(await serverVersion(a)).toBe(OLD);
    // b set no version: it holds the one Debian's archive served at its first install.
    const debian = (await b.vps.sh("dpkg-query -W -f='${Version}' matrix-synapse")).stdout;
    expect(outB.synapseVersion).toBe(debian.replace(/-[^-]*$/, ""));
    expect(await serverVersion(b)).toBe(outB.synapseVersion);
    expect((await b.vps.sh("cat /etc/apt/preferences.d/synapse-deploy-synapse")).stdout).toContain(`Pin: version ${debian}`);

    // matrix.org's layout: the venv's path, the service user, the unit running its Python.
    expect((await a.vps.sh("readlink /opt/venvs/matrix-synapse")).stdout.trim()).toBe(`matrix-synapse-${OLD}`);
    expect((await a.vps.sh("systemctl show -p ExecStart --value matrix-synapse")).stdout).toContain("/opt/venvs/matrix-synapse/bin/python -m synapse.app.homeserver");
    expect((await a.vps.sh("stat -c %U /proc/$(systemctl show -p MainPID --value matrix-synapse)")).stdout.trim()).toBe("matrix-synapse");
    // The lock the stack holds is what is installed: every package, at its version, and nothing else.
    const [header, ...lock] = String((await commandResource(a.ws, `upgrades-synapse-lock-${OLD}`)).outputs.stdout).trim().split("\n");
    // The dependencies PyPI had when the release came out (1.150.0: 24 March 2026).
    expect(header).toMatch(new RegExp(`^# Synapse ${OLD.replace(/\./g, "\\.")}\\[postgres,redis\\] and its dependencies as PyPI had them on 2026-03-24T`));
    expect(lock.length).toBeGreaterThan(40);
    for (const line of lock) expect(line).toMatch(/^[a-z0-9._-]+==[^ ]+ --hash=sha256:[0-9a-f]{64}$/);
    // Names as PEP 503 compares them.
    const normal = (pin: string) => pin.toLowerCase().replace(/[-_.]+(?=[^=]*==)/g, "-");
    const freeze = (await a.vps.sh("/opt/venvs/matrix-synapse/bin/pip freeze")).stdout.trim().split("\n").map(normal).sort();
    expect(freeze).toEqual(lock.map((l) => normal(l.split(" ")[0])).sort());
    expect((await a.vps.sh("systemctl is-active matrix-synapse-worker@synchrotron1 matrix-synapse-worker@federation_reader1")).stdout.trim().split("\n"))
      .toEqual(["active", "active"]);
  }), minutes(15));

  test("2. a gets history, media and a room b joined", () => timed("upgrade 2 history", async () => {
    await a.vps.sh(`curl -sf -X PUT -H @- -d '{"password": "${history.password}"}' 'http://127.0.0.1:8008/_synapse/admin/v2/users/@alice:a.test'`,
      { stdin: `Authorization: Bearer ${a.token}\n` });
    await exemptFromRateLimit(a.vps, "@alice:a.test", a.token);
    const alice = (await login(a)).json().access_token as string;
    history.room = (await a.client.post(`https://${a.matrixHost}/_matrix/client/v3/createRoom`, { name: "history" }, alice)).json().room_id;
    for (let i = 0; i < MESSAGES; i++) {
      const body = `history ${i}`;
      expect((await send(a, history.room, `h${i}`, body, alice)).status).toBe(200);
      history.sent.push(body);
    }
    const file = randomBytes(256 * 1024);
    const up = await a.client.upload(`https://${a.matrixHost}/_matrix/media/v3/upload?filename=history.bin`, file, "application/octet-stream", alice);
    expect(up.status).toBe(200);
    history.mediaId = String(up.json().content_uri).split("/").pop()!;
    history.fileSha256 = createHash("sha256").update(file).digest("hex");

    fedRoom = (await a.client.post(`https://${a.matrixHost}/_matrix/client/v3/createRoom`,
      { room_alias_name: "fed", preset: "public_chat", name: "across the upgrade" }, a.token)).json().room_id;
    const joined = await waitFor("b joining #fed:a.test", 60, async () => {
      const r = await b.client.post(`https://${b.matrixHost}/_matrix/client/v3/join/${encodeURIComponent("#fed:a.test")}`, {}, b.token);
      return r.status === 200 ? r.json().room_id as string : undefined;
    });
    expect(joined).toBe(fedRoom);
    await federatesBothWays("before");
    verifyKeys = (await a.client.get(`https://${a.matrixHost}/_matrix/key/v2/server`)).json().verify_keys;
    keyFileSha256 = (await a.vps.sh("sha256sum /etc/matrix-synapse/homeserver.signing.key")).stdout.split(" ")[0];
  }), minutes(5));

  test("3. synapseVersion 1.150.0 → 1.163.2: the preview shows the version change and nothing else", () => timed("upgrade 3 preview", async () => {
    await a.ws.configSet("synapseVersion", NEW);
    const plan = await a.ws.plan();
    expect(plan.code).toBe(0);
    const planned = changes(plan);
    // The version's holder is made anew; the lock, the gate, the packages and the steps that start
    // Synapse again follow it. Nothing else: no config file, no other host's step.
    const expected = [
      `upgrades-synapse-version-pypi-${OLD}:delete`, `upgrades-synapse-version-pypi-${NEW}:create`,
      `upgrades-synapse-lock-${OLD}:delete`, `upgrades-synapse-lock-${NEW}:create`,
      "host-packages-synapse:update", "upgrades-gate:update", "synapse-packages:update", "synapse-activate:update", "synapse-workers:update",
    ].sort();
    expect(planned).toEqual(expected);
    const diff = (await a.ws.pulumi(["preview", "--diff"])).stdout;
    const excerpt = previewExcerpt(diff, ["synapse-packages", "synapse-activate"], /VERSION=/);
    expect(excerpt).toMatch(new RegExp(`-\\s*VERSION=${OLD.replace(/\./g, "\\.")}`));
    expect(excerpt).toMatch(new RegExp(`\\+\\s*VERSION=${NEW.replace(/\./g, "\\.")}`));
    figure("upgrade.synapse-preview", excerpt, "pulumi preview --diff after synapseVersion changed (an excerpt of the e2e run)");
  }), minutes(5));

  test("4. pulumi up: a backup, the workers then the main process stopped, 1.163.2 in place, migrated, started; everything is still there", () => timed("upgrade 4 synapse upgrade", async () => {
    const since = (await a.vps.sh("date '+%Y-%m-%d %H:%M:%S'")).stdout.trim();
    const backupsBefore = JSON.parse((await a.vps.sh("synapse-backup --list --json")).stdout).local as string[];
    const schemaBefore = Number(await psql(a.vps, "SELECT version FROM schema_version"));
    // A client polling the homeserver through nginx all along: the downtime is its longest run of failures.
    const probe = sandboxAgent({ address: a.vps.host, ca: await acme.issuingRoot(), keepAlive: false });
    let polling = true;
    let down = 0;
    let longest = 0;
    let downSince = 0;
    const poll = (async () => {
      while (polling) {
        const t = Date.now();
        const ok = await request(probe, `https://${a.matrixHost}/_matrix/client/versions`).then((r) => r.status === 200, () => false);
        if (!ok && !downSince) downSince = t;
        if (ok && downSince) { longest = Math.max(longest, Date.now() - downSince); down += Date.now() - downSince; downSince = 0; }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const up = await a.ws.update("up");
    polling = false;
    await poll;
    await probe.close();
    expectClean(up);
    record("pulumi", `pulumi up upgrading Synapse ${OLD} → ${NEW} (PyPI, two workers)`, up.seconds);
    figure("upgrade.synapse-up", up.seconds, `the pulumi up of the Synapse upgrade ${OLD} → ${NEW}`, "s");
    figure("upgrade.synapse-downtime", longest / 1000, `Synapse ${OLD} → ${NEW}: the longest time a client polling through nginx got no answer`, "s");
    expect(longest).toBeGreaterThan(0);

    expect(await serverVersion(a)).toBe(NEW);
    expect((await a.ws.outputs()).synapseVersion).toBe(NEW);
    expect(Number(await psql(a.vps, "SELECT version FROM schema_version"))).toBeGreaterThan(schemaBefore);
    // The backup came first, and the old release is kept for the way back.
    const backupsAfter = JSON.parse((await a.vps.sh("synapse-backup --list --json")).stdout).local as string[];
    expect(backupsAfter.length).toBe(backupsBefore.length + 1);
    expect((await a.vps.sh(`test -d /opt/venvs/matrix-synapse-${OLD} && readlink /opt/venvs/matrix-synapse`)).stdout.trim()).toBe(`matrix-synapse-${NEW}`);
    // The order, from the journal: the workers stopped before the main process, which started
    // (migrating) before them again.
    const journal = (await a.vps.sh(`journalctl --since '${since}' -o short-iso-precise --no-pager -u matrix-synapse -u 'matrix-synapse-worker@*' -u synapse-backup | grep -E 'Stopped|Started|Finished' || true`)).stdout;
    const at = (pattern: RegExp) => {
      const line = journal.split("\n").find((l) => pattern.test(l));
      if (!line) throw new Error(`no ${pattern} in the journal:\n${journal}`);
      return journal.indexOf(line);
    };
    expect(at(/synapse-backup/)).toBeLessThan(at(/Stopped .*matrix-synapse-worker@synchrotron1/));
    expect(at(/Stopped .*matrix-synapse-worker@synchrotron1/)).toBeLessThan(at(/Stopped (matrix-synapse\.service|Synapse Matrix homeserver)/));
    expect(at(/Started (matrix-synapse\.service|Synapse Matrix homeserver)/)).toBeLessThan(at(/Started .*matrix-synapse-worker@synchrotron1/));
    // Each process has the new release's code loaded (its Rust extension, mapped from the venv it came from).
    for (const unit of ["matrix-synapse", "matrix-synapse-worker@synchrotron1", "matrix-synapse-worker@federation_reader1"]) {
      const pid = (await a.vps.sh(`systemctl show -p MainPID --value ${unit}`)).stdout.trim();
      const venvs = (await a.vps.sh(`grep -o '/opt/venvs/matrix-synapse-[^/]*/' /proc/${pid}/maps | sort -u`)).stdout.trim();
      expect({ unit, venvs }).toEqual({ unit, venvs: `/opt/venvs/matrix-synapse-${NEW}/` });
    }

    // Every message and the file, for the same user; federation both ways; the same identity.
    const again = await login(a);
    expect(again.status).toBe(200);
    const alice = again.json().access_token as string;
    expect(await bodies(a, history.room, alice)).toEqual(history.sent);
    const file = await a.client.get(`https://${a.matrixHost}/_matrix/client/v1/media/download/a.test/${history.mediaId}`, alice);
    expect(file.status).toBe(200);
    expect(createHash("sha256").update(file.bytes).digest("hex")).toBe(history.fileSha256);
    await federatesBothWays("after");
    expect((await a.client.get(`https://${a.matrixHost}/_matrix/key/v2/server`)).json().verify_keys).toEqual(verifyKeys);
    expect((await a.vps.sh("sha256sum /etc/matrix-synapse/homeserver.signing.key")).stdout.split(" ")[0]).toBe(keyFileSha256);
    const keyAtB = (await b.client.get(`https://${b.matrixHost}/_matrix/key/v2/query/a.test`)).json();
    expect(keyAtB.server_keys.map((k: any) => Object.keys(k.verify_keys)).flat()).toEqual(Object.keys(verifyKeys));

    const second = await a.ws.update("up");
    expectClean(second);
    expect(changes(second)).toEqual([]);
  }), minutes(15));

  test("5. a downgrade below the database's schema is refused, naming the versions, before anything changes", () => timed("upgrade 5 downgrade refused", async () => {
    const pid = (await a.vps.sh("systemctl show -p MainPID --value matrix-synapse")).stdout.trim();
    const backups = (await a.vps.sh("synapse-backup --list --json")).stdout;
    const venvs = (await a.vps.sh("ls /opt/venvs")).stdout;
    await a.ws.configSet("synapseVersion", TOO_OLD);
    const refused = await a.ws.update("up");
    expect(refused.code).not.toBe(0);
    const said = refused.stdout + refused.stderr;
    expect(said).toMatch(new RegExp(`refusing to change Synapse ${NEW.replace(/\./g, "\\.")} to ${TOO_OLD.replace(/\./g, "\\.")}`));
    expect(said).toMatch(/Synapse 1\.98\.0 understands database schemas up to 83, and this database is at schema \d+, which Synapse releases below schema 84 cannot use/);
    expect(said).toContain("Nothing was changed.");
    // Nothing changed: the same process of the same release, no backup, no new virtualenv.
    expect((await a.vps.sh("systemctl show -p MainPID --value matrix-synapse")).stdout.trim()).toBe(pid);
    expect(await serverVersion(a)).toBe(NEW);
    expect((await a.vps.sh("synapse-backup --list --json")).stdout).toBe(backups);
    expect((await a.vps.sh("ls /opt/venvs")).stdout).toBe(venvs);
    // Set back, the stack is where it was.
    await a.ws.configSet("synapseVersion", NEW);
    const back = await a.ws.update("up");
    expectClean(back);
    expect(changes(back)).toEqual([]);
  }), minutes(5));
});
