// End-to-end: a community homeserver (4 workers) with monitoring on (VPS 42), its rules evaluated
// every 5 s and firing after 15 s so that each alert comes within a minute. What the admin sees:
// the bot invites them into the alert room, where matrix-js-sdk logged in as the admin reads the
// notices; a worker stopped fires, started again resolves; a small filesystem filled fires the
// disk alert; `npm run admin -- status` shows it all. Prometheus and every metrics endpoint are
// unreachable from outside the host. Sliding sync through the synchrotron is checked here too.
import * as net from "node:net";
import * as fs from "node:fs";
import * as path from "node:path";
import { promDurationSeconds } from "../../config/monitoring";
import { monitoringPorts } from "../../render/monitoring";
import { downVps } from "../sandbox/sandbox";
import { PulumiWorkspace } from "./support/pulumi";
import { suiteNeeding } from "./support/requirements";
import {
  bootVps, changes, commandResource, devStack, expectClean, figure, httpsClient, matrixClient, outputDir, record, runAdmin, timed, Vps,
} from "./support/stack";

const suite = suiteNeeding("sandbox", "engine");

/** This file's sandbox VPS. */
const N = 42;
const server = "sandbox.test";
const matrix = `https://matrix.${server}`;
const minutes = (n: number) => n * 60_000;
const interval = "5s";
const alertFor = "15s";
/** A notice may come this long after its cause: the alert's `for`, then a minute (scrape, evaluation, Alertmanager's wait, delivery). */
const noticeWithin = promDurationSeconds(alertFor) + 60;
const workers = ["synchrotron1", "federation_sender1", "federation_reader1", "media_repository1"];
const workerPorts = [8111, 8121, 8131, 8161];
/** The admin's own webhook, played by a listener on the VPS that writes what it gets to a file. */
const hook = { port: 9300, log: "/var/log/e2e-alert-webhook.jsonl" };

let vps: Vps;
let ws: PulumiWorkspace;
let caFile: string;
let adminPassword: string;
let room: string;

interface Notice { sender: string; body: string; msgtype: string; formatted: string; afterSeconds: number }
/** Waits (as the admin, in the alert room) for the bot's notice matching `pattern`, sent after `since`. */
const notice = (pattern: string, since: number) => matrixClient<Notice>("alert-room.mjs", vps, {
  BASE_URL: matrix, CA_FILE: caFile, USER_ID: "admin", PASSWORD: adminPassword, ROOM_ID: room, PATTERN: pattern, SINCE: String(since),
  TIMEOUT_S: String(noticeWithin + 30),
}, (noticeWithin + 90) * 1000);
const hostTime = async () => (await vps.sh("date '+%Y-%m-%d %H:%M:%S'")).stdout.trim();
const journal = async (unit: string, since: string, pattern: string) =>
  Number((await vps.sh(`journalctl -u ${unit} --since '${since}' --no-pager -o cat | grep -cE '${pattern}' || true`)).stdout.trim());

/** Whether a TCP connection from here (outside the VPS) to the port gets through within 3 s. */
function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: vps.host, port, timeout: 3000 });
    const done = (ok: boolean) => { socket.destroy(); resolve(ok); };
    socket.on("connect", () => done(true)).on("timeout", () => done(false)).on("error", () => done(false));
  });
}

suite("monitoring and alerts on a community homeserver", () => {
  beforeAll(async () => {
    vps = await bootVps(N, "base");
    ws = await devStack(vps, `vps${N}`, {
      tier: "community", monitoring: "true", monitoringInterval: interval, monitoringAlertFor: alertFor,
      alertWebhookUrl: `http://127.0.0.1:${hook.port}/hook`,
    });
  }, minutes(10));

  afterAll(async () => {
    if (process.env.E2E_KEEP !== "1") await downVps(N);
  }, minutes(2));

  test("1. pulumi up: every Synapse process scraped, the admin invited to the alert room; nothing of it reachable from outside", () => timed("monitoring 1 first up", async () => {
    const r = await ws.update("up");
    expectClean(r);
    record("pulumi", "first pulumi up, community with monitoring", r.seconds);
    const out = await ws.outputs();
    adminPassword = out.adminPassword;
    room = out.alertRoom;
    expect(room).toMatch(/^!.+:sandbox\.test$/);
    const https = await httpsClient(vps);
    caFile = path.join(outputDir, `vps${N}`, "ca.pem");
    fs.writeFileSync(caFile, https.ca);
    https.close();
    // The admin's webhook (a listener writing each notification as a line).
    await vps.sh(`systemd-run --unit e2e-alert-webhook python3 -c 'import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        open("${hook.log}", "ab").write(body + b"\\n"); self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", ${hook.port}), H).serve_forever()'`);

    // Prometheus scrapes the main process and every worker (each answering), and the exporters.
    let targets: { job: string; process?: string; health: string }[] = [];
    for (let i = 0; i < 30; i++) {
      const t = await vps.sh(`curl -fs http://127.0.0.1:${monitoringPorts.prometheus}/api/v1/targets`);
      targets = JSON.parse(t.stdout).data.activeTargets.map((x: any) => ({ job: x.labels.job, process: x.labels.process, health: x.health }));
      if (targets.length > 0 && targets.every((x) => x.health === "up")) break;
      await new Promise((res) => setTimeout(res, 2000));
    }
    expect(targets.filter((t) => t.job === "synapse").map((t) => `${t.process} ${t.health}`).sort()).toEqual(["main", ...workers].map((p) => `${p} up`).sort());
    expect(targets.filter((t) => t.job !== "synapse").map((t) => `${t.job} ${t.health}`).sort()).toEqual(["alertmanager up", "nginx-exporter up", "node up", "postgres up"]);

    // From outside: none of it answers (HTTPS does, so the check can tell).
    expect(await reachable(443)).toBe(true);
    const ports = [...Object.values(monitoringPorts), ...workerPorts];
    const open = [];
    for (const p of ports) if (await reachable(p)) open.push(p);
    expect(open).toEqual([]);
    // On the host, each listens on loopback only, and the firewall drops them from elsewhere too.
    const listening = (await vps.sh("ss -ltnH | awk '{ print $4 }'")).stdout.trim().split("\n");
    for (const p of ports) {
      const at = listening.filter((a) => a.endsWith(`:${p}`));
      expect({ port: p, at }).toEqual({ port: p, at: [`127.0.0.1:${p}`] });
    }
    const table = (await vps.sh("nft list table inet synapse_monitoring")).stdout;
    // nft lists a set's elements in ascending order, whatever order they were given in.
    expect(table).toContain(`tcp dport { ${[...ports].sort((a, b) => a - b).join(", ")} } drop`);
  }), minutes(15));

  test("2. sliding sync on community: the room list and a new message arrive, served by the synchrotron", () => timed("monitoring 2 sliding sync", async () => {
    await new Promise((res) => setTimeout(res, 1100));
    const since = await hostTime();
    const r = await matrixClient<{ rooms: number; listed: number; newMessage: boolean }>("sliding-sync.mjs", vps, {
      BASE_URL: matrix, CA_FILE: caFile, USER_ID: "admin", PASSWORD: adminPassword, ROOMS: "3",
    });
    expect(r).toMatchObject({ rooms: 3, listed: 3, newMessage: true });
    const slidingSync = '"POST /_matrix/client/unstable/org\\.matrix\\.simplified_msc3575/sync';
    expect(await journal("matrix-synapse-worker@synchrotron1", since, slidingSync)).toBeGreaterThan(0);
    expect(await journal("matrix-synapse", since, slidingSync)).toBe(0);
  }), minutes(3));

  test("3. a worker stopped: the bot's notice reaches the admin in the room, and `status` shows it; started again: resolved", () => timed("monitoring 3 worker down and up", async () => {
    const stoppedAt = Date.now();
    await vps.sh("systemctl stop matrix-synapse-worker@synchrotron1");
    const firing = await notice("^🔴 FIRING SynapseProcessDown: Synapse process synchrotron1 is down", stoppedAt);
    expect(firing.sender).toBe(`@alerts:${server}`);
    expect(firing.msgtype).toBe("m.notice");
    expect(firing.body).toContain("systemctl status matrix-synapse-worker@synchrotron1");
    expect(firing.afterSeconds).toBeLessThanOrEqual(noticeWithin);
    figure("monitoring.worker-down.notice-seconds", firing.afterSeconds, "from stopping a worker to the bot's notice in the admin room (for 15 s, every 5 s)", "s");
    figure("monitoring.worker-down.notice", firing.body, "the bot's notice in the admin room when a worker stopped (from a run)");

    const status = await runAdmin(ws, ["status"]);
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(/synchrotron1\s*│\s*synapse\s*│\s*DOWN/);
    expect(status.stdout).toMatch(/main\s*│\s*synapse\s*│\s*up/);
    expect(status.stdout).toContain("critical SynapseProcessDown: Synapse process synchrotron1 is down");
    expect(status.stdout).toMatch(/database: \d+\.\d MiB/);
    expect(status.stdout).toMatch(/certificate matrix: expires \d{4}-/);
    figure("monitoring.status", status.stdout, "npm run admin -- status with a worker stopped (from a run)");

    const startedAt = Date.now();
    await vps.sh("systemctl start matrix-synapse-worker@synchrotron1");
    const resolved = await notice("^✅ RESOLVED SynapseProcessDown: Synapse process synchrotron1 is down", startedAt);
    expect(resolved.afterSeconds).toBeLessThanOrEqual(noticeWithin);
    figure("monitoring.worker-up.notice", resolved.body, "the bot's notice in the admin room when the worker was back (from a run)");
  }), minutes(6));

  test("4. a small filesystem filled: the disk alert fires into the room and to the admin's webhook; emptied: resolved", () => timed("monitoring 4 disk", async () => {
    // A filesystem of its own (tmpfs: a loop device cannot be set up in the sandbox's container).
    await vps.sh("mkdir -p /srv/e2e-disk && mount -t tmpfs -o size=16M tmpfs /srv/e2e-disk");
    const filledAt = Date.now();
    await vps.sh("head -c 15M /dev/zero > /srv/e2e-disk/fill");
    const firing = await notice("^🔴 FIRING DiskAlmostFull: /srv/e2e-disk on synapse is \\d+ % free", filledAt);
    expect(firing.body).toContain("has less than 10 % free");
    figure("monitoring.disk.notice", firing.body, "the bot's notice in the admin room when a filesystem filled (from a run)");
    // One line per notification, and a blank one after each: Alertmanager's JSON ends in a newline.
    const hooked = (await vps.sh(`cat ${hook.log}`)).stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
    expect(hooked.some((n) => n.alerts.some((a: any) => a.labels.alertname === "DiskAlmostFull" && a.labels.mountpoint === "/srv/e2e-disk" && a.status === "firing")))
      .toBe(true);
    const emptiedAt = Date.now();
    await vps.sh("rm /srv/e2e-disk/fill");
    await notice("^✅ RESOLVED DiskAlmostFull: /srv/e2e-disk on synapse", emptiedAt);
    await vps.sh("umount /srv/e2e-disk");
  }), minutes(6));

  test("5. an unchanged pulumi up changes nothing; the bot's and the monitoring's steps run again change nothing either", () => timed("monitoring 5 unchanged", async () => {
    const token = (await vps.sh("sha256sum /etc/synapse-deploy/alert-bot-token")).stdout;
    const r = await ws.update("up");
    expectClean(r);
    expect(changes(r)).toEqual([]);
    // As a later apply would run them: the bot keeps its token and room, nothing is reloaded.
    const bot = await commandResource(ws, "monitoring-bot", true);
    const again = await vps.sh(String(bot.inputs.create), { stdin: JSON.parse(bot.inputs.stdin.plaintext) });
    expect(JSON.parse(again.stdout.trim().split("\n").pop()!)).toEqual({ room_id: room, bot: `@alerts:${server}` });
    const activate = await commandResource(ws, "monitoring-activate");
    expect((await vps.sh(String(activate.inputs.create), { stdin: "" })).stdout.trim()).toBe("unchanged");
    expect((await vps.sh("sha256sum /etc/synapse-deploy/alert-bot-token")).stdout).toBe(token);
  }), minutes(3));
});
