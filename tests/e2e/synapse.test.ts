// End-to-end: the real program applied by the harness to a real Debian VPS (systemd-nspawn),
// checked with real clients. Scenarios run in order on one VPS; each builds on the last.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { sandboxAvailable, downVps } from "../sandbox/sandbox";
import { bootVps, expectApplied, httpsClient, root, StackRunner, timed, Vps } from "./support/stack";

const available = sandboxAvailable();
if (!available.ok) console.warn(`e2e suite skipped: ${available.reason}`);
const suite = available.ok ? describe : describe.skip;

const server = "sandbox.test";
const matrix = `https://matrix.${server}`;
const minutes = (n: number) => n * 60_000;

let vps: Vps;
let stack: StackRunner;
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

/** Runs every command of the last apply again over SSH, in the order the apply ran them. */
async function rerunEveryScript(): Promise<Record<string, string>> {
  const state = stack.state();
  const out: Record<string, string> = {};
  const commands = Object.values(state.resources).filter((r) => r.type === "command:remote:Command");
  for (const r of commands) {
    const res = await vps.sh(String(r.inputs.create), { stdin: typeof r.inputs.stdin === "string" ? r.inputs.stdin : undefined });
    out[r.name] = res.stdout.trim();
  }
  return out;
}

suite("a homeserver on one sandbox VPS", () => {
  beforeAll(async () => {
    vps = await bootVps(1, "base");
    stack = new StackRunner(vps, "vps1");
  }, minutes(10));

  afterAll(async () => {
    https?.close();
    if (process.env.E2E_KEEP !== "1") await downVps(1);
  }, minutes(2));

  test("1. solo tier on a bare VPS: federating Synapse on PostgreSQL behind nginx with TLS", () => timed("1 solo on a bare VPS", async () => {
    const r = await stack.apply("first-apply");
    expectApplied(r);
    expect(r.resources.filter((x) => x.custom).every((x) => x.op === "create")).toBe(true);
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
    // Synapse really uses PostgreSQL, not SQLite.
    expect(await messageCount()).toBeGreaterThanOrEqual(0);
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
    const out = stack.outputs();
    expect(out.adminUser).toBe(`@admin:${server}`);
    const login = await https.post(`${matrix}/_matrix/client/v3/login`, {
      type: "m.login.password", identifier: { type: "m.id.user", user: "admin" }, password: out.adminPassword,
    });
    expect(login.status).toBe(200);
    const users = await vps.sh(`curl -sf -H @- http://127.0.0.1:8008/_synapse/admin/v2/users`, { stdin: `Authorization: Bearer ${out.adminAccessToken}\n` });
    expect(JSON.parse(users.stdout).users.map((u: { name: string }) => u.name)).toContain(`@admin:${server}`);
    expect(r.outputs.sqliteMigration).toBe("nothing to migrate (no SQLite database)");
  }), minutes(12));

  test("2. a real Matrix client sends 100 messages and reads them all back with /sync", () => timed("2 matrix-js-sdk 100 messages", async () => {
    const caFile = path.join(stack.dir, "ca.pem");
    fs.writeFileSync(caFile, https.ca);
    const out = stack.outputs();
    // Synapse's default rc_message (0.2/s, burst 10) would make the client wait ~5 s per message:
    // exempt this user through the admin API, as an admin would for a bot.
    await vps.sh(`curl -sf -X POST -H @- -d '{"messages_per_second": 0, "burst_count": 0}' 'http://127.0.0.1:8008/_synapse/admin/v1/users/@admin:${server}/override_ratelimit'`,
      { stdin: `Authorization: Bearer ${out.adminAccessToken}\n` });
    const child = spawnSync(process.execPath, [path.join(__dirname, "clients", "chat.mjs")], {
      cwd: root, encoding: "utf8", timeout: minutes(4),
      env: { ...process.env, BASE_URL: matrix, ADDRESS: vps.host, CA_FILE: caFile, USER_ID: "admin", PASSWORD: out.adminPassword, COUNT: "100" },
    });
    if (child.status !== 0) throw new Error(`chat client failed: ${child.stderr}\n${child.stdout}`);
    const result = JSON.parse(child.stdout.trim().split("\n").pop()!);
    fs.writeFileSync(path.join(stack.dir, "chat.json"), JSON.stringify(result, null, 2));
    expect(result).toMatchObject({ sent: 100, received: 100, inOrder: true });
    expect(await messageCount()).toBe(100);
  }), minutes(5));

  test("3. re-applying unchanged config changes nothing, and neither does running every script again", () => timed("3 unchanged re-apply", async () => {
    const before = { key: await signingKeyHash(), synapse: await synapsePid(), nginx: await nginxPid(), messages: await messageCount() };

    const preview = await stack.apply("preview-unchanged", {}, true);
    expectApplied(preview);
    const ops = preview.resources.filter((x) => x.custom).map((x) => `${x.name}:${x.op}`);
    expect(ops.filter((o) => !o.endsWith(":unchanged"))).toEqual([]);

    const again = await stack.apply("apply-unchanged");
    expectApplied(again);
    expect(again.resources.filter((x) => x.custom && (x.op !== "unchanged" || x.seconds > 0))).toEqual([]);

    const outputs = await rerunEveryScript();
    expect(outputs["synapse-activate"]).toBe("unchanged");
    expect(outputs["nginx-activate"]).toBe("unchanged");
    expect(outputs["well-known-activate"]).toBe("unchanged");
    expect(outputs["postgres-tuning"]).toBe("unchanged");
    expect(outputs["postgres-database"]).toBe("exists");
    expect(JSON.parse(outputs["synapse-admin-user"]).user_id).toBe(`@admin:${server}`);

    const after = { key: await signingKeyHash(), synapse: await synapsePid(), nginx: await nginxPid(), messages: await messageCount() };
    expect(after).toEqual(before);
  }), minutes(5));

  test("4. a tier change touches only what it affects, restarts Synapse once and keeps the data", () => timed("4 tier solo to community", async () => {
    const messages = await messageCount();
    const key = await signingKeyHash();
    const since = await hostTime();
    const change = { tier: "community", maxUploadSize: "60M" };

    const preview = await stack.apply("preview-community", change, true);
    expectApplied(preview);
    const changed = preview.resources.filter((x) => x.custom && x.op !== "unchanged").map((x) => `${x.name}:${x.op}`).sort();
    expect(changed).toEqual([
      "nginx-activate:update", "nginx-staged-site:update", "postgres-tuning:update",
      "synapse-activate:update", "synapse-staged-homeserver:update",
    ]);

    expectApplied(await stack.apply("apply-community", change));
    expect(await synapseStartsSince(since)).toBe(1);
    expect(await messageCount()).toBe(messages);
    expect(await signingKeyHash()).toBe(key);
    expect((await vps.sh("runuser -u postgres -- psql -XAtc 'SHOW shared_buffers'")).stdout.trim()).toBe("1GB");
    const token = stack.outputs().adminAccessToken;
    const media = await https.get(`${matrix}/_matrix/client/v1/media/config`, token);
    expect(media.status).toBe(200);
    expect(media.json()["m.upload.size"]).toBe(60 * 1024 * 1024);
    expect((await vps.sh("grep -c 'client_max_body_size 60M;' /etc/nginx/sites-available/matrix.conf")).stdout.trim()).toBe("2");
  }), minutes(5));

  test("5a. a broken stack config is rejected before any SSH connection", () => timed("5a bad config", async () => {
    const r = await stack.apply("bad-config", { tier: "huge", sshPort: "70000" });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/synapse:tier: given "huge"[\s\S]*synapse:sshPort: given "70000"/);
    expect(r.resources.filter((x) => x.custom && x.seconds > 0)).toEqual([]);
  }), minutes(2));

  test("5b. a broken nginx site or Synapse config is never activated; the old one keeps serving", () => timed("5b broken configs", async () => {
    const state = stack.state();
    const cmd = (name: string) => Object.values(state.resources).find((r) => r.name === name)!;
    const liveSite = (await vps.sh("sha256sum /etc/nginx/sites-available/matrix.conf")).stdout;
    const liveHomeserver = (await vps.sh("sha256sum /etc/matrix-synapse/homeserver.yaml")).stdout;
    const pid = await synapsePid();

    await vps.sh("echo 'this is not nginx;' >> /var/lib/synapse-deploy/staged/nginx/matrix.conf");
    const nginxFail = await vps.sh(String(cmd("nginx-activate").inputs.create), { allowFail: true });
    expect(nginxFail.code).not.toBe(0);
    expect(nginxFail.stderr).toContain("nginx -t rejected the new site matrix");
    expect((await vps.sh("sha256sum /etc/nginx/sites-available/matrix.conf")).stdout).toBe(liveSite);
    expect((await https.get(`${matrix}/_matrix/client/versions`)).status).toBe(200);

    await vps.sh("sed -i 's/^max_upload_size: .*/max_upload_size: lots/' /var/lib/synapse-deploy/staged/synapse/homeserver.yaml");
    const synapseFail = await vps.sh(String(cmd("synapse-activate").inputs.create), { allowFail: true });
    expect(synapseFail.code).not.toBe(0);
    expect(synapseFail.stderr).toContain("Synapse rejected the new config; the running config is unchanged");
    expect((await vps.sh("sha256sum /etc/matrix-synapse/homeserver.yaml")).stdout).toBe(liveHomeserver);
    expect(await synapsePid()).toBe(pid);
    expect((await https.get(`${matrix}/_matrix/client/versions`)).status).toBe(200);

    // The staged files are the program's: re-running their steps puts them back.
    for (const name of ["nginx-staged-site", "synapse-staged-homeserver"]) {
      await vps.sh(String(cmd(name).inputs.create), { stdin: String(cmd(name).inputs.stdin) });
    }
    expect((await vps.sh(String(cmd("synapse-activate").inputs.create))).stdout.trim()).toBe("unchanged");
  }), minutes(3));

  test("5c. an apply killed mid-way (SSH cut) converges on the next apply", () => timed("5c interrupted apply", async () => {
    const change = { tier: "community", maxUploadSize: "70M" };
    // Kill the whole apply as soon as Synapse's activation starts.
    const killed = await stack.applyKilled("killed", change, /\+ update command:remote:Command synapse-activate/, 300);
    expect(killed).toBe(true);

    const r = await stack.apply("after-interruption", change);
    expectApplied(r);
    const token = stack.outputs().adminAccessToken;
    const media = await https.get(`${matrix}/_matrix/client/v1/media/config`, token);
    expect(media.json()["m.upload.size"]).toBe(70 * 1024 * 1024);
    expect(await messageCount()).toBe(100);
    const steady = await stack.apply("steady-after-interruption", change);
    expect(steady.resources.filter((x) => x.custom && x.op !== "unchanged")).toEqual([]);
  }), minutes(5));

  test("5d. changing serverName of a host that serves another name is refused, nothing changes", () => timed("5d server name change refused", async () => {
    const key = await signingKeyHash();
    const r = await stack.apply("rename", { serverName: "other.test", tier: "community", maxUploadSize: "70M" });
    expect(r.ok).toBe(false);
    expect(r.error).toContain("already serves the Matrix server name 'sandbox.test'");
    expect(await signingKeyHash()).toBe(key);
    expect((await vps.sh("grep '^server_name' /etc/matrix-synapse/homeserver.yaml")).stdout.trim()).toBe("server_name: sandbox.test");
    expect((await https.get(`${matrix}/_matrix/client/versions`)).status).toBe(200);
  }), minutes(3));
});
