// End-to-end: a user's checkout with the dev stack, applied by the real Pulumi CLI to a real
// Debian VPS (systemd-nspawn), checked with real clients. Scenarios run in order on one VPS; each
// builds on the last.
import * as fs from "node:fs";
import * as path from "node:path";
import { workerCountKeys } from "../../config/keys";
import { downVps } from "../sandbox/sandbox";
import { PulumiWorkspace, stripAnsi } from "./support/pulumi";
import { suiteNeeding } from "./support/requirements";
import {
  bootVps, changes, chat, commandResource, devStack, exemptFromRateLimit, expectClean, exportedState, figure, httpsClient, outputDir,
  previewExcerpt, record, recoverFromInterruptedUpdate, timed, Vps,
} from "./support/stack";

const suite = suiteNeeding("sandbox", "engine");

const server = "sandbox.test";
const workerKeys = Object.values(workerCountKeys).map((w) => w.key);
/** Messages in the database once scenarios 2 (100) and 4w (20) have run. */
const messagesSent = 120;
const matrix = `https://matrix.${server}`;
const minutes = (n: number) => n * 60_000;

let vps: Vps;
let ws: PulumiWorkspace;
let https: Awaited<ReturnType<typeof httpsClient>>;

async function synapsePid(): Promise<string> {
  return (await vps.sh("systemctl show -p MainPID --value matrix-synapse")).stdout.trim();
}
async function nginxPid(): Promise<string> {
  return (await vps.sh("systemctl show -p MainPID --value nginx")).stdout.trim();
}
async function signingKeyHash(): Promise<string> {
  return (await vps.sh("sha256sum /etc/matrix-synapse/homeserver.signing.key")).stdout.split(" ")[0];
}
async function messageCount(): Promise<number> {
  const r = await vps.sh(`runuser -u postgres -- psql -XAtc "SELECT count(*) FROM events WHERE type = 'm.room.message'" synapse`);
  return Number(r.stdout.trim());
}
async function synapseStartsSince(since: string): Promise<number> {
  const r = await vps.sh(`journalctl -u matrix-synapse --since '${since}' --no-pager -o cat | grep -c '^Started matrix-synapse' || true`);
  return Number(r.stdout.trim());
}
async function hostTime(): Promise<string> {
  return (await vps.sh("date '+%Y-%m-%d %H:%M:%S'")).stdout.trim();
}
async function loginAsAdmin(password: string) {
  return https.post(`${matrix}/_matrix/client/v3/login`, {
    type: "m.login.password", identifier: { type: "m.id.user", user: "admin" }, password,
  });
}

/** A value of `pulumi stack export --show-secrets`: secrets come as {<sig>, plaintext: JSON}. */
function plain(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && "plaintext" in value) return JSON.parse(String((value as { plaintext: string }).plaintext));
  return undefined;
}

/** Runs every command of the state again over SSH, in the order the update ran them. */
async function rerunEveryScript(): Promise<Record<string, string>> {
  const state = await exportedState(ws, true);
  const out: Record<string, string> = {};
  for (const r of state.deployment.resources.filter((x: any) => x.type === "command:remote:Command" && x.inputs.create)) {
    const res = await vps.sh(String(r.inputs.create), { stdin: plain(r.inputs.stdin) });
    out[r.urn.split("::").pop()] = res.stdout.trim();
  }
  return out;
}

suite("a homeserver on one sandbox VPS, through the real Pulumi CLI", () => {
  beforeAll(async () => {
    vps = await bootVps(1, "base");
    ws = await devStack(vps, "vps1");
  }, minutes(10));

  afterAll(async () => {
    https?.close();
    if (process.env.E2E_KEEP !== "1") await downVps(1);
  }, minutes(2));

  test("1. pulumi up on a bare VPS: federating Synapse on PostgreSQL behind nginx with TLS, no warning", () => timed("1 solo on a bare VPS", async () => {
    const preview = await ws.pulumi(["preview", "--diff"]);
    expect(preview.stdout).toMatch(/server_name\s*: "sandbox\.test"/);
    const r = await ws.update("up");
    expectClean(r);
    record("pulumi", "first pulumi up (bare VPS to homeserver)", r.seconds);
    expect(new Set(changes(r).map((c) => c.split(":")[1]))).toEqual(new Set(["create"]));
    // Every package in one apt transaction (host-packages): a component whose packages the plan
    // lacks would show up here as a second install.
    const installs = (await vps.sh("grep '^Commandline: .* install ' /var/log/apt/history.log || true")).stdout.trim().split("\n").filter(Boolean);
    expect(installs).toHaveLength(1);
    // Synapse's package at the release the stack holds, PostgreSQL's server at the major it holds.
    expect(installs[0]).toMatch(/ matrix-synapse=\S+ /);
    expect(installs[0]).toMatch(/ postgresql-\d+ /);
    https = await httpsClient(vps);

    const versions = await https.get(`${matrix}/_matrix/client/versions`);
    expect(versions.status).toBe(200);
    expect(versions.json().versions).toEqual(expect.arrayContaining(["v1.1"]));

    const fed = await https.get(`${matrix}/_matrix/federation/v1/version`);
    expect(fed.status).toBe(200);
    expect(fed.json().server.name).toBe("Synapse");

    const keys = await https.get(`${matrix}/_matrix/key/v2/server`);
    expect(keys.status).toBe(200);
    expect(keys.json().server_name).toBe(server);
    expect(Object.keys(keys.json().verify_keys)).toHaveLength(1);

    for (const [doc, body] of [
      ["server", { "m.server": `matrix.${server}:443` }],
      ["client", { "m.homeserver": { base_url: `https://matrix.${server}` } }],
    ] as const) {
      const wk = await https.get(`https://${server}/.well-known/matrix/${doc}`);
      expect(wk.status).toBe(200);
      expect(wk.headers["content-type"]).toBe("application/json");
      expect(wk.headers["access-control-allow-origin"]).toBe("*");
      expect(wk.json()).toEqual(body);
    }

    const collation = await vps.sh(`runuser -u postgres -- psql -XAtc "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database WHERE datname = 'synapse'"`);
    expect(collation.stdout.trim()).toBe("UTF8|C|C");
    // Synapse really uses PostgreSQL, not SQLite: its connections are open there (over the Unix
    // socket, client_port -1, none over TCP), the admin it registered is a row there, and no
    // SQLite file exists.
    const synapseConnections = "FROM pg_stat_activity WHERE datname = 'synapse' AND usename = 'synapse_user'";
    const onPostgres = await vps.sh(`runuser -u postgres -- psql -XAtc "SELECT (SELECT count(*) ${synapseConnections} AND client_port = -1), (SELECT count(*) ${synapseConnections} AND client_port <> -1), (SELECT count(*) FROM users WHERE name = '@admin:${server}')" synapse`);
    const [onSocket, overTcp, adminRows] = onPostgres.stdout.trim().split("|").map(Number);
    expect({ onSocket: onSocket > 0, overTcp }).toEqual({ onSocket: true, overTcp: 0 });
    expect(adminRows).toBe(1);
    expect((await vps.sh("test -e /var/lib/matrix-synapse/homeserver.db", { allowFail: true })).code).not.toBe(0);

    // The admin API: refused from outside, answered from the host itself.
    const outside = await https.get(`${matrix}/_synapse/admin/v1/server_version`);
    expect(outside.status).toBe(403);
    const inside = await vps.sh(`curl -sk -o /dev/null -w '%{http_code}' --resolve matrix.${server}:443:127.0.0.1 https://matrix.${server}/_synapse/admin/v1/server_version`);
    expect(inside.stdout).toBe("200");

    // HTTP redirects to HTTPS.
    const http = await vps.sh(`curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: matrix.${server}' http://127.0.0.1/_matrix/client/versions`);
    expect(http.stdout).toBe(`301 https://matrix.${server}/_matrix/client/versions`);

    // The first admin logs in, and the token the stack exported works on the admin API.
    const out = await ws.outputs();
    expect(out.adminUser).toBe(`@admin:${server}`);
    expect((await loginAsAdmin(out.adminPassword)).status).toBe(200);
    const users = await vps.sh(`curl -sf -H @- http://127.0.0.1:8008/_synapse/admin/v2/users`, { stdin: `Authorization: Bearer ${out.adminAccessToken}\n` });
    expect(JSON.parse(users.stdout).users.map((u: { name: string }) => u.name)).toContain(`@admin:${server}`);
    expect(out.sqliteMigration).toBe("nothing to migrate (no SQLite database)");
    const shown = await ws.outputs(false);
    expect(shown.adminAccessToken).toBe("[secret]");
    expect(shown.adminPassword).toBe("[secret]");
  }), minutes(12));

  test("2. a real Matrix client sends 100 messages and reads them all back with /sync", () => timed("2 matrix-js-sdk 100 messages", async () => {
    const caFile = path.join(outputDir, "vps1", "ca.pem");
    fs.writeFileSync(caFile, https.ca);
    const out = await ws.outputs();
    // Synapse's default rc_message (0.2/s, burst 10) would make the client wait ~5 s per message:
    // exempt this user through the admin API, as an admin would for a bot.
    await exemptFromRateLimit(vps, `@admin:${server}`, out.adminAccessToken);
    const result = await chat(vps, { baseUrl: matrix, caFile, user: "admin", password: out.adminPassword, count: 100 });
    fs.writeFileSync(path.join(outputDir, "vps1", "chat.json"), JSON.stringify(result, null, 2));
    expect(result).toMatchObject({ sent: 100, received: 100, inOrder: true });
    expect(await messageCount()).toBe(100);

    // The solo tier's promise: everything on the VPS (Synapse, PostgreSQL, nginx, systemd…) fits in
    // 2 GB. Proportional set sizes, so PostgreSQL's shared buffers count once, not per backend.
    const pss = async (pgrepArgs: string) => Number((await vps.sh(
      `for p in $(pgrep ${pgrepArgs} || true); do cat /proc/$p/smaps_rollup 2>/dev/null; done | awk '/^Pss:/ {s += $2} END {print s + 0}'`)).stdout.trim());
    const memory = {
      totalKiB: Number((await vps.sh("cat /proc/[0-9]*/smaps_rollup 2>/dev/null | awk '/^Pss:/ {s += $2} END {print s}'")).stdout.trim()),
      synapseKiB: await pss("-u matrix-synapse"), postgresKiB: await pss("-u postgres"), nginxKiB: await pss("-x nginx"),
    };
    fs.writeFileSync(path.join(outputDir, "vps1", "memory-solo.json"), JSON.stringify(memory, null, 2) + "\n");
    const mib = (kib: number) => Math.round(kib / 1024);
    figure("solo.memory.total", mib(memory.totalKiB), "everything on the solo VPS after 100 messages (PSS)", "MiB");
    figure("solo.memory.synapse", mib(memory.synapseKiB), "Synapse on the solo VPS (PSS)", "MiB");
    figure("solo.memory.postgres", mib(memory.postgresKiB), "PostgreSQL on the solo VPS (PSS)", "MiB");
    figure("solo.memory.nginx", mib(memory.nginxKiB), "nginx on the solo VPS (PSS)", "MiB");
    expect(memory.synapseKiB).toBeGreaterThan(50 * 1024);
    expect(memory.postgresKiB).toBeGreaterThan(10 * 1024);
    expect(memory.totalKiB).toBeGreaterThanOrEqual(memory.synapseKiB + memory.postgresKiB + memory.nginxKiB);
    expect(memory.totalKiB).toBeLessThan(2 * 1024 * 1024);
  }), minutes(5));

  test("3. an unchanged pulumi up changes nothing in seconds, and neither does running every script again", () => timed("3 unchanged re-apply", async () => {
    const before = { key: await signingKeyHash(), synapse: await synapsePid(), nginx: await nginxPid(), messages: await messageCount() };

    const plan = await ws.plan();
    expect(plan.code).toBe(0);
    expect(changes(plan)).toEqual([]);

    const again = await ws.update("up");
    expectClean(again);
    expect(changes(again)).toEqual([]);
    expect(Object.keys(again.summary)).toEqual(["same"]);
    record("pulumi", "unchanged pulumi up", again.seconds);
    expect(again.seconds).toBeLessThan(60);
    figure("solo.unchanged-up.seconds", again.seconds, "an unchanged pulumi up of the solo dev stack (wall time)", "s");
    figure("solo.resources", again.summary.same, "resources of the solo dev stack");

    const outputs = await rerunEveryScript();
    expect(outputs["synapse-activate"]).toBe("unchanged");
    expect(outputs["nginx-activate"]).toBe("unchanged");
    expect(outputs["well-known-activate"]).toBe("unchanged");
    expect(outputs["postgres-tuning"]).toBe("unchanged");
    expect(outputs["postgres-database"]).toBe("exists");
    expect(outputs["postgres-autovacuum"]).toMatch(/^autovacuum: 0 tables set, [1-9]\d* already set, \d+ absent/);
    expect(JSON.parse(outputs["synapse-admin-user"]).user_id).toBe(`@admin:${server}`);

    const after = { key: await signingKeyHash(), synapse: await synapsePid(), nginx: await nginxPid(), messages: await messageCount() };
    expect(after).toEqual(before);
  }), minutes(5));

  test("4. a tier change previews readably, touches only what it affects, restarts Synapse once and keeps the data", () => timed("4 tier solo to community", async () => {
    const messages = await messageCount();
    const key = await signingKeyHash();
    const since = await hostTime();
    await ws.configSet("tier", "community");
    await ws.configSet("maxUploadSize", "60M");
    // The sizing knobs alone here; community's workers come in scenario 4w.
    for (const key of workerKeys) await ws.configSet(key, "0");

    // What a reviewer sees in the pull request (kept for the README's operations section).
    const diff = await ws.pulumi(["preview", "--diff"]);
    fs.writeFileSync(path.join(outputDir, "vps1", "tier-change-preview.txt"), diff.stdout);
    expect(diff.stdout).toMatch(/~ global_factor\s*: 0\.5 => 1\n/);
    expect(diff.stdout).toMatch(/~ max_upload_size\s*: "50M" => "60M"\n/);
    expect(diff.stdout).toMatch(/~ cp_max\s*: 10 => 15\n/);
    expect(diff.stdout).toMatch(/- shared_buffers = '256MB'\n[\s\S]*\+ shared_buffers = '512MB'\n/);
    expect(diff.stdout).toMatch(/client_max_body_size 60M;/);
    figure("tier-change-preview", previewExcerpt(stripAnsi(diff.stdout), ["postgres-tuning", "synapse-staged-homeserver"],
      /max_connections|shared_buffers|global_factor|caches|database|args|cp_max|max_upload_size|stdin/),
    "pulumi preview --diff of a tier change, solo to community with maxUploadSize 60M (excerpt)");

    const plan = await ws.plan();
    expect(changes(plan)).toEqual([
      "nginx-activate:update", "nginx-staged-site:update", "postgres-tuning:update",
      "synapse-activate:update", "synapse-staged-homeserver:update",
    ]);

    const r = await ws.update("up");
    expectClean(r);
    expect(changes(r)).toEqual(changes(plan));
    record("pulumi", "pulumi up after a tier change (5 steps)", r.seconds);
    expect(await synapseStartsSince(since)).toBe(1);
    expect(await messageCount()).toBe(messages);
    expect(await signingKeyHash()).toBe(key);
    expect((await vps.sh("runuser -u postgres -- psql -XAtc 'SHOW shared_buffers'")).stdout.trim()).toBe("512MB");
    const token = (await ws.outputs()).adminAccessToken;
    const media = await https.get(`${matrix}/_matrix/client/v1/media/config`, token);
    expect(media.status).toBe(200);
    expect(media.json()["m.upload.size"]).toBe(60 * 1024 * 1024);
    expect((await vps.sh("grep -c 'client_max_body_size 60M;' /etc/nginx/sites-available/matrix.conf")).stdout.trim()).toBe("2");
  }), minutes(5));

  test("4w. community's workers: the client passes through them, each route answered by its worker; a worker removed from config is gone", () => timed("4w workers", async () => {
    for (const key of workerKeys) await ws.pulumi(["config", "rm", key]);
    const plan = await ws.plan();
    expect(changes(plan)).toEqual(expect.arrayContaining([
      "nginx-activate:update", "nginx-staged-site:update", "synapse-activate:update", "synapse-redis:create",
      "synapse-staged-homeserver:update", "synapse-staged-secrets:update", "synapse-staged-worker-synchrotron1:create",
      "synapse-staged-worker-media_repository1:create", "synapse-staged-worker-unit:create", "synapse-workers:create",
    ]));
    const r = await ws.update("up");
    expectClean(r);
    record("pulumi", "pulumi up adding community's 4 workers and Redis", r.seconds);
    // From here on every request goes through the workers' routes (journal times are to the second).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const since = await hostTime();
    const workers = ["synchrotron1", "federation_sender1", "federation_reader1", "media_repository1"];
    for (const w of workers) {
      expect((await vps.sh(`systemctl is-active matrix-synapse-worker@${w}`)).stdout.trim()).toBe("active");
    }
    expect((await vps.sh("redis-cli ping")).stdout.trim()).toBe("PONG");
    expect((await vps.sh("ss -ltnH 'sport = :6379' | awk '{print $4}'")).stdout.trim().split("\n").every((a) => /^(127\.0\.0\.1|\[::1\]):6379$/.test(a))).toBe(true);

    // The real client, through nginx: /sync must be answered by the synchrotron.
    const out = await ws.outputs();
    expect(await chat(vps, { baseUrl: matrix, caFile: path.join(outputDir, "vps1", "ca.pem"), user: "admin", password: out.adminPassword, count: 20 }))
      .toMatchObject({ sent: 20, received: 20, inOrder: true });
    // Synapse's access log (the journal of each process) says who served what.
    const served = async (unit: string, pattern: string) =>
      Number((await vps.sh(`journalctl -u ${unit} --since '${since}' --no-pager -o cat | grep -cE '${pattern}' || true`)).stdout.trim());
    expect(await served("matrix-synapse-worker@synchrotron1", '"GET /_matrix/client/(r0|v3)/sync')).toBeGreaterThan(0);
    expect(await served("matrix-synapse", '"GET /_matrix/client/(r0|v3)/sync')).toBe(0);

    // Media: uploaded and downloaded through nginx, served by the media worker, same bytes back.
    const bytes = Buffer.from(`worker media ${Date.now()}`);
    const up = await https.upload(`${matrix}/_matrix/media/v3/upload?filename=w.txt`, bytes, "text/plain", out.adminAccessToken);
    expect(up.status).toBe(200);
    const mxc = new URL(up.json().content_uri);
    const down = await https.get(`${matrix}/_matrix/client/v1/media/download/${mxc.host}${mxc.pathname}`, out.adminAccessToken);
    expect(down.status).toBe(200);
    expect(down.bytes.equals(bytes)).toBe(true);
    expect(await served("matrix-synapse-worker@media_repository1", '"POST /_matrix/media/v3/upload')).toBe(1);
    expect(await served("matrix-synapse-worker@media_repository1", '"GET /_matrix/client/v1/media/download/')).toBe(1);
    expect(await served("matrix-synapse", "/_matrix/(media|client/v1/media)/")).toBe(0);

    // An admin quarantines that file through nginx (from the host, which the admin API admits):
    // the request is routed as the program routes it, it succeeds, and the file is no longer served.
    const quarantine = await vps.sh(`curl -s -o /dev/stderr -w '%{http_code}' -X POST -H @- --cacert /etc/synapse-deploy/tls/matrix/fullchain.pem `
      + `--resolve matrix.${server}:443:127.0.0.1 'https://matrix.${server}/_synapse/admin/v1/media/quarantine/${mxc.host}${mxc.pathname}'`,
    { stdin: `Authorization: Bearer ${out.adminAccessToken}\n`, allowFail: true });
    expect({ status: quarantine.stdout, body: quarantine.stderr }).toEqual({ status: "200", body: "{}" });
    expect(await served("matrix-synapse-worker@media_repository1", '"POST /_synapse/admin/v1/media/quarantine/')).toBe(1);
    const afterQuarantine = await https.get(`${matrix}/_matrix/client/v1/media/download/${mxc.host}${mxc.pathname}`, out.adminAccessToken);
    expect(afterQuarantine.status).toBe(404);
    expect(afterQuarantine.bytes.equals(bytes)).toBe(false);

    // A worker taken out of config is stopped, disabled and deleted; its routes go back to main.
    const mainPid = await synapsePid();
    await ws.configSet("workerSynchrotrons", "0");
    const removed = await ws.update("up");
    expectClean(removed);
    expect(changes(removed)).toEqual(expect.arrayContaining(["synapse-staged-worker-synchrotron1:delete", "synapse-workers:update"]));
    expect((await vps.sh("systemctl is-active matrix-synapse-worker@synchrotron1", { allowFail: true })).stdout.trim()).toBe("inactive");
    expect((await vps.sh("systemctl is-enabled matrix-synapse-worker@synchrotron1", { allowFail: true })).stdout.trim()).not.toBe("enabled");
    expect((await vps.sh("test -e /etc/matrix-synapse/workers/synchrotron1.yaml", { allowFail: true })).code).not.toBe(0);
    expect((await vps.sh("grep -c synapse_sync /etc/nginx/sites-available/matrix.conf || true")).stdout.trim()).toBe("0");
    expect(await synapsePid()).toBe(mainPid); // the main process's config did not change: it kept running
    expect((await https.get(`${matrix}/_matrix/client/v3/sync?timeout=0`, out.adminAccessToken)).status).toBe(200);
    const steady = await ws.update("up");
    expectClean(steady);
    expect(changes(steady)).toEqual([]);
  }), minutes(8));

  test("5a. a broken stack config is rejected before any SSH connection", () => timed("5a bad config", async () => {
    const logins = async () => Number((await vps.sh("journalctl -u ssh --no-pager -o cat | grep -c 'Accepted publickey' || true")).stdout.trim());
    const before = await logins();
    await ws.configSet("tier", "huge");
    await ws.configSet("sshPort", "70000");
    try {
      const r = await ws.update("up");
      expect(r.code).not.toBe(0);
      expect(r.stdout).toMatch(/synapse:tier: given "huge"[\s\S]*synapse:sshPort: given "70000"/);
      expect(changes(r)).toEqual([]);
      expect(await logins()).toBe(before + 1); // the count's own login, none by pulumi
    } finally {
      await ws.configSet("tier", "community");
      await ws.pulumi(["config", "rm", "sshPort"]);
    }
  }), minutes(2));

  test("5b. a broken nginx site or Synapse config is never activated; the old one keeps serving", () => timed("5b broken configs", async () => {
    const create = async (name: string) => String((await commandResource(ws, name)).inputs.create);
    const liveSite = (await vps.sh("sha256sum /etc/nginx/sites-available/matrix.conf")).stdout;
    const liveHomeserver = (await vps.sh("sha256sum /etc/matrix-synapse/homeserver.yaml")).stdout;
    const pid = await synapsePid();

    await vps.sh("echo 'this is not nginx;' >> /var/lib/synapse-deploy/staged/nginx/matrix.conf");
    const nginxFail = await vps.sh(await create("nginx-activate"), { allowFail: true });
    expect(nginxFail.code).not.toBe(0);
    expect(nginxFail.stderr).toContain("nginx -t rejected the new site matrix");
    expect((await vps.sh("sha256sum /etc/nginx/sites-available/matrix.conf")).stdout).toBe(liveSite);
    expect((await https.get(`${matrix}/_matrix/client/versions`)).status).toBe(200);

    await vps.sh("sed -i 's/^max_upload_size: .*/max_upload_size: lots/' /var/lib/synapse-deploy/staged/synapse/homeserver.yaml");
    const synapseFail = await vps.sh(await create("synapse-activate"), { allowFail: true });
    expect(synapseFail.code).not.toBe(0);
    // With a media worker the main process no longer reads the media settings: the media worker's
    // check (Synapse's loader, as that worker loads its config) is the one that refuses it.
    expect(synapseFail.stderr).toMatch(/Synapse rejected the (new config|config of worker media_repository1); the running config is unchanged/);
    expect((await vps.sh("sha256sum /etc/matrix-synapse/homeserver.yaml")).stdout).toBe(liveHomeserver);
    expect(await synapsePid()).toBe(pid);
    expect((await https.get(`${matrix}/_matrix/client/versions`)).status).toBe(200);

    // The staged files are the program's: re-running their steps puts them back.
    for (const name of ["nginx-staged-site", "synapse-staged-homeserver"]) {
      const { inputs } = await commandResource(ws, name);
      await vps.sh(String(inputs.create), { stdin: String(inputs.stdin) });
    }
    expect((await vps.sh(await create("synapse-activate"))).stdout.trim()).toBe("unchanged");
  }), minutes(3));

  test("5c. an update killed mid-way (CLI, providers and SSH sessions gone) converges on the next pulumi up", () => timed("5c interrupted update", async () => {
    await ws.configSet("maxUploadSize", "70M");
    // Kill the whole CLI in the middle of Synapse's activation: the new homeserver.yaml is live,
    // but the restart on it is not recorded yet (the digest of what Synapse last started with is
    // still the old one). That is the cut the activation's record exists for.
    const applied = "cat /var/lib/synapse-deploy/applied/synapse";
    const appliedBefore = (await vps.sh(applied)).stdout;
    const midActivation = async () => {
      const live = await vps.sh("grep -c '^max_upload_size: 70M$' /etc/matrix-synapse/homeserver.yaml", { allowFail: true });
      return live.stdout.trim() === "1" && (await vps.sh(applied)).stdout === appliedBefore;
    };
    const kill = await ws.upKilled(/synapse-activate\s+updating/, midActivation);
    expect(kill).toEqual({ killed: true, why: "killed while the host showed the step half done" });

    // The dead CLI's lock stays; the README's recovery clears it and the pending operation.
    const locked = await ws.update("up");
    expect(locked.code).not.toBe(0);
    expect(locked.stderr).toContain("the stack is currently locked");
    await recoverFromInterruptedUpdate(ws);
    const r = await ws.update("up");
    fs.writeFileSync(path.join(outputDir, "vps1", "after-interruption.txt"), r.stdout + r.stderr);
    expectClean(r);
    const token = (await ws.outputs()).adminAccessToken;
    const media = await https.get(`${matrix}/_matrix/client/v1/media/config`, token);
    expect(media.json()["m.upload.size"]).toBe(70 * 1024 * 1024);
    expect(await messageCount()).toBe(messagesSent);
    const steady = await ws.update("up");
    expectClean(steady);
    expect(changes(steady)).toEqual([]);
  }), minutes(5));

  test("5d. changing serverName of a host that serves another name is refused, nothing changes", () => timed("5d server name change refused", async () => {
    const key = await signingKeyHash();
    await ws.configSet("serverName", "other.test");
    try {
      const r = await ws.update("up");
      expect(r.code).not.toBe(0);
      expect(r.stdout).toContain("already serves the Matrix server name 'sandbox.test'");
      expect(await signingKeyHash()).toBe(key);
      expect((await vps.sh("grep '^server_name' /etc/matrix-synapse/homeserver.yaml")).stdout.trim()).toBe("server_name: sandbox.test");
      expect((await https.get(`${matrix}/_matrix/client/versions`)).status).toBe(200);
    } finally {
      await ws.configSet("serverName", server);
    }
    expectClean(await ws.update("up"));
  }), minutes(5));

  test("6. no secret in plain text in the state, the CLI's output, the stack file or the host's logs", () => timed("6 secrets nowhere", async () => {
    const out = await ws.outputs();
    const onHost = (await vps.sh("cat /etc/matrix-synapse/conf.d/secrets.yaml /etc/matrix-synapse/pgpass")).stdout;
    const secrets = [
      ...vps.privateKey.split("\n").filter((l) => l.length > 40),
      out.adminAccessToken, out.adminPassword,
      ...[...onHost.matchAll(/^\w+: (\S{20,})$/gm)].map((m) => m[1]), // registration, macaroon, form secrets
      onHost.trim().split("\n").pop()!.split(":").pop()!, // the database password
    ];
    expect(secrets.length).toBeGreaterThanOrEqual(8);
    const hostLogs = (await vps.sh("journalctl --no-pager -o cat; cat /var/log/nginx/*.log /var/log/postgresql/*.log 2>/dev/null || true")).stdout;
    const places: Record<string, string> = {
      "state backend": ws.stateText(),
      "CLI output": ws.transcript(),
      "Pulumi.dev.yaml": fs.readFileSync(path.join(ws.dir, "Pulumi.dev.yaml"), "utf8"),
      "host logs": hostLogs,
    };
    for (const [place, text] of Object.entries(places)) {
      expect(text.length).toBeGreaterThan(1000);
      for (const s of secrets) expect({ place, leaks: text.includes(s) }).toEqual({ place, leaks: false });
    }
  }), minutes(3));

  test("7. pulumi destroy stops the homeserver and keeps its data; pulumi up brings the same server back", () => timed("7 destroy keeps data", async () => {
    const key = await signingKeyHash();
    const r = await ws.update("destroy");
    expectClean(r);
    record("pulumi", "pulumi destroy (data kept)", r.seconds);
    expect((await vps.sh("systemctl is-active matrix-synapse", { allowFail: true })).stdout.trim()).toBe("inactive");
    expect((await vps.sh("systemctl is-enabled matrix-synapse", { allowFail: true })).stdout.trim()).toBe("disabled");
    expect((await vps.sh("ls /etc/nginx/sites-enabled/")).stdout).not.toMatch(/matrix/);
    expect((await vps.sh(`curl -sk -o /dev/null -w '%{http_code}' --resolve matrix.${server}:443:127.0.0.1 https://matrix.${server}/_matrix/client/versions`, { allowFail: true })).stdout).not.toBe("200");
    expect(await messageCount()).toBe(messagesSent);
    expect(await signingKeyHash()).toBe(key);
    // The engine deletes dependents first: nginx's sites, then Synapse, then PostgreSQL.
    const deleted = r.steps.filter((s) => s.op === "delete").map((s) => s.name);
    const teardowns = ["nginx-teardown", "well-known-teardown", "synapse-teardown", "postgres-teardown"];
    // Each teardown ran (a missing one would sort first as -1), in dependency order.
    expect(teardowns.filter((t) => !deleted.includes(t))).toEqual([]);
    const at = (name: string) => deleted.indexOf(name);
    expect(at("nginx-teardown")).toBeLessThan(at("synapse-teardown"));
    expect(at("well-known-teardown")).toBeLessThan(at("synapse-teardown"));
    expect(at("synapse-teardown")).toBeLessThan(at("postgres-teardown"));
    expect(r.diagnostics.map((d) => d.message).join("\n")).toContain("stopped Synapse; its data was kept");

    const back = await ws.update("up");
    expectClean(back);
    expect(await signingKeyHash()).toBe(key);
    expect(await messageCount()).toBe(messagesSent);
    const out = await ws.outputs();
    expect((await loginAsAdmin(out.adminPassword)).status).toBe(200);
    expect((await https.get(`${matrix}/_matrix/client/versions`)).status).toBe(200);
  }), minutes(8));

  test("8. with destroyDeletesData, pulumi destroy deletes the database, media and signing key", () => timed("8 destroy deletes data", async () => {
    await ws.configSet("destroyDeletesData", "true");
    const plan = await ws.plan();
    expect(changes(plan)).toEqual(["postgres-teardown:update", "synapse-teardown:update"]);
    const up = await ws.update("up");
    expectClean(up);
    const r = await ws.update("destroy");
    expectClean(r);
    const db = await vps.sh(`runuser -u postgres -- psql -XAtc "SELECT count(*) FROM pg_database WHERE datname = 'synapse'"`);
    expect(db.stdout.trim()).toBe("0");
    expect((await vps.sh("test -e /etc/matrix-synapse/homeserver.signing.key", { allowFail: true })).code).not.toBe(0);
    expect((await vps.sh("test -e /var/lib/matrix-synapse/media", { allowFail: true })).code).not.toBe(0);
    expect((await ws.pulumi(["stack", "output", "--json"])).stdout.trim()).toBe("{}");
  }), minutes(5));
});
