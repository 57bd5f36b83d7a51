// End-to-end: calls that connect. A solo homeserver with TURN and monitoring on (VPS 40), and a
// second VPS (41) with coturn's own test clients as the two ends of a call. The credentials come
// from the homeserver (matrix-js-sdk's turnServer()); both ends use relayed candidates only
// (turnutils_uclient -y: client to client through two allocations) over UDP, TCP and TLS; wrong,
// expired and denied-peer requests are refused. Also here, on the same homeserver: sliding sync
// (matrix-js-sdk's SlidingSync) and the solo tier's memory with TURN and monitoring under the
// benchmark's load.
import * as fs from "node:fs";
import * as path from "node:path";
import { peakPss, runClient, targetEnv } from "../../bench/performance/measure";
import { populate } from "../../bench/performance/setups";
import { hostHeadroom, tierHostMiB } from "../../config";
import { downVps } from "../sandbox/sandbox";
import { PulumiWorkspace } from "./support/pulumi";
import { suiteNeeding } from "./support/requirements";
import { bootVps, changes, devStack, expectClean, figure, httpsClient, matrixClient, outputDir, record, timed, Vps } from "./support/stack";

const suite = suiteNeeding("sandbox", "engine");

/** This file's sandbox VPSes: the homeserver, and the two ends of the call. */
const SERVER = 40;
const CALLERS = 41;
const server = "sandbox.test";
const matrix = `https://matrix.${server}`;
const minutes = (n: number) => n * 60_000;

let vps: Vps;
let callers: Vps;
let ws: PulumiWorkspace;
let caFile: string;
let adminPassword: string;

interface TurnAnswer { uris: string[]; username: string; password: string; ttl: number }

const turnCredentials = (count: number) => matrixClient<TurnAnswer[]>("turn-credentials.mjs", vps, {
  BASE_URL: matrix, CA_FILE: caFile, USER_ID: "admin", PASSWORD: adminPassword, COUNT: String(count),
});

/** coturn's own client on the callers' VPS; its report (messages sent and received) and what it printed. */
async function uclient(args: string, seconds = 25): Promise<{ sent: number; received: number; out: string }> {
  const r = await callers.sh(`timeout ${seconds} turnutils_uclient ${args} ${vps.host} 2>&1 || true`);
  const totals = [...r.stdout.matchAll(/tot_send_msgs=(\d+), tot_recv_msgs=(\d+)/g)].pop();
  return { sent: Number(totals?.[1] ?? 0), received: Number(totals?.[2] ?? 0), out: r.stdout.split("\n").slice(-12).join("\n") };
}
const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
const creds = (t: { username: string; password: string }) => `-u ${quote(t.username)} -w ${quote(t.password)}`;
/** coturn's journal since `since` (its refusals say why). */
const coturnSays = async (since: string) => (await vps.sh(`journalctl -u coturn --since '${since}' --no-pager -o cat`)).stdout;
const hostTime = async () => (await vps.sh("date '+%Y-%m-%d %H:%M:%S'")).stdout.trim();

suite("calls through TURN on a solo homeserver, sliding sync, and memory with TURN and monitoring", () => {
  beforeAll(async () => {
    [vps, callers] = await Promise.all([bootVps(SERVER, "base"), bootVps(CALLERS, "base")]);
    ws = await devStack(vps, `vps${SERVER}`, { turn: "true", monitoring: "true" });
    // The sandbox is a private network: the relay may reach it (and nothing else private).
    await ws.configSet("turnAllowedPeerRanges[0]", "10.231.0.0/16", { path: true });
    // coturn's test clients, without its server (which would start on the package's defaults).
    await callers.sh("printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && apt-get update -qq && " +
      "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends coturn >/dev/null; rc=$?; rm -f /usr/sbin/policy-rc.d; exit $rc");
  }, minutes(10));

  afterAll(async () => {
    if (process.env.E2E_KEEP !== "1") await downVps(SERVER, CALLERS);
  }, minutes(2));

  test("1. pulumi up with turn and monitoring: coturn on the managed certificate, the secret shared with Synapse, one apt transaction", () => timed("calls 1 first up", async () => {
    const r = await ws.update("up");
    expectClean(r);
    record("pulumi", "first pulumi up, solo with turn and monitoring", r.seconds);
    const installs = (await vps.sh("grep '^Commandline: .* install ' /var/log/apt/history.log || true")).stdout.trim().split("\n").filter(Boolean);
    expect(installs).toHaveLength(1);
    expect(installs[0]).toMatch(/ coturn /);
    const https = await httpsClient(vps);
    caFile = path.join(outputDir, `vps${SERVER}`, "ca.pem");
    fs.writeFileSync(caFile, https.ca);
    https.close();
    adminPassword = (await ws.outputs()).adminPassword;

    expect((await vps.sh("systemctl is-active coturn")).stdout.trim()).toBe("active");
    // One secret, in Synapse's 0600 file and coturn's 0640 config, never printed here.
    const files = await vps.sh("stat -c '%a %U:%G' /etc/matrix-synapse/turn-shared-secret /etc/turnserver.conf; " +
      "[ \"$(sed -n 's/^static-auth-secret=//p' /etc/turnserver.conf)\" = \"$(cat /etc/matrix-synapse/turn-shared-secret)\" ] && echo same");
    expect(files.stdout.trim().split("\n")).toEqual(["600 matrix-synapse:nogroup", "640 root:turnserver", "same"]);
    // TLS on 5349 with the certificate nginx serves on 443.
    const fingerprint = async (port: number) => (await callers.sh(`openssl s_client -connect ${vps.host}:${port} -servername matrix.${server} </dev/null 2>/dev/null | ` +
      "openssl x509 -noout -fingerprint -sha256")).stdout.trim();
    const tls = await fingerprint(5349);
    expect(tls).toMatch(/^sha256 Fingerprint=/i);
    expect(tls).toBe(await fingerprint(443));
    // The firewall: TURN's ports, and the relay's own packets to private ranges dropped.
    const table = (await vps.sh("nft list table inet synapse_turn")).stdout;
    expect(table).toMatch(/tcp dport \{ 3478, 5349 \} accept/);
    expect(table).toMatch(/udp dport \{ 3478, 49152-65535 \} accept/);
  }), minutes(15));

  test("2. the homeserver hands out credentials; two ends on relayed candidates exchange data over UDP, TCP and TLS", () => timed("calls 2 relay", async () => {
    const answers = await turnCredentials(3);
    for (const a of answers) {
      expect(a.uris).toEqual([`turn:matrix.${server}:3478?transport=udp`, `turn:matrix.${server}:3478?transport=tcp`, `turns:matrix.${server}:5349?transport=tcp`]);
      expect(a.ttl).toBe(3600);
      // TURN's REST API form: <expiry>:<user>, the expiry turn_user_lifetime from now.
      const [expiry, user] = a.username.split(/:(.*)/s);
      expect(user).toBe(`@admin:${server}`);
      expect(Number(expiry) - Date.now() / 1000).toBeGreaterThan(3500);
    }
    const transports: [string, string][] = [["UDP", ""], ["TCP", "-t"], ["TLS", "-t -S -p 5349"]];
    for (const [[name, flags], answer] of transports.map((t, i) => [t, answers[i]] as const)) {
      const r = await uclient(`-y -n 20 -m 1 -l 120 ${flags} ${creds(answer)}`);
      // Between the two allocations the relay is UDP, as media is: a datagram may drop on a busy
      // machine (measured: 2 of 80 over TLS once), and calls live with that. Most must arrive.
      const delivered = r.sent > 0 && r.received >= 0.9 * r.sent;
      expect({ name, sent: r.sent, delivered, out: delivered ? "" : r.out }).toEqual({ name, sent: 80, delivered: true, out: "" });
      figure(`calls.relay.${name.toLowerCase()}`, `${r.received} of ${r.sent}`, `messages relayed client to client through TURN over ${name} (turnutils_uclient -y)`);
    }
  }), minutes(4));

  test("3. wrong or expired credentials are refused, and so is a relay to a private or special address", () => timed("calls 3 refusals", async () => {
    const since = await hostTime();
    const [answer] = await turnCredentials(1);
    const wrong = await uclient(`-y -n 3 -m 1 -u ${quote(answer.username)} -w wrong`, 8);
    expect(wrong.received).toBe(0);
    // Credentials made the way Synapse makes them (HMAC-SHA1 of the username with the shared
    // secret, read on the host), once for a past expiry and once, as the control, for a future one.
    const made = async (expiry: number, user = `@admin:${server}`) => {
      const username = `${expiry}:${user}`;
      const password = (await vps.sh(`printf %s ${quote(username)} | openssl dgst -sha1 -hmac "$(cat /etc/matrix-synapse/turn-shared-secret)" -binary | base64`)).stdout.trim();
      return { username, password };
    };
    const now = Math.floor(Date.now() / 1000);
    const expired = await uclient(`-y -n 3 -m 1 ${creds(await made(now - 60))}`, 8);
    expect(expired.received).toBe(0);
    const control = await uclient(`-y -n 3 -m 1 ${creds(await made(now + 600))}`);
    expect({ sent: control.sent > 0, allBack: control.received === control.sent }).toEqual({ sent: true, allBack: true });
    const said = await coturnSays(since);
    expect(said).toContain(`credentials of user <${answer.username}> are wrong`);
    expect(said).toMatch(new RegExp(`credentials of user <${now - 60}:@admin:${server}> have expired`));

    // The relay towards the host itself, the cloud metadata service and a private network: refused
    // by coturn (403 on the permission), however valid the credentials. Each as a user of its own:
    // the clients above leave the admin's allocations behind (a UDP one lives until its lifetime
    // ends), and in a run the admin's next allocation here got 486 (user-quota, Synapse's guide's
    // 12, reached) instead of reaching the permission this is about.
    for (const [i, peer] of ["127.0.0.1", "169.254.169.254", "192.168.1.10"].entries()) {
      const c = await made(now + 600, `@peer-check${i}:${server}`);
      const r = await uclient(`-n 3 -m 1 -e ${peer} -r 3480 ${creds(c)}`, 15);
      const refused = /channel bind: error 403/.test(r.out);
      expect({ peer, refused, received: r.received, out: refused ? "" : r.out }).toEqual({ peer, refused: true, received: 0, out: "" });
    }
    // And below coturn, the firewall: the relay's sockets (coturn's user, a relay port) cannot send
    // to a denied range even if coturn would; to the allowed sandbox they can.
    const send = (to: string) => vps.sh(`runuser -u turnserver -- python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 65000))
try:
    s.sendto(b"x", (sys.argv[1], 9)); print("sent")
except OSError as e:
    print(e.strerror)' ${to}`);
    expect((await send("192.168.77.1")).stdout.trim()).toBe("Operation not permitted");
    expect((await send("169.254.169.254")).stdout.trim()).toBe("Operation not permitted");
    expect((await send(callers.host)).stdout.trim()).toBe("sent");
  }), minutes(4));

  test("4. sliding sync: the room list and a new message arrive through matrix-js-sdk's SlidingSync", () => timed("calls 4 sliding sync", async () => {
    const r = await matrixClient<{ rooms: number; listed: number; listCount: number; newMessage: boolean }>("sliding-sync.mjs", vps, {
      BASE_URL: matrix, CA_FILE: caFile, USER_ID: "admin", PASSWORD: adminPassword, ROOMS: "3",
    });
    expect(r).toMatchObject({ rooms: 3, listed: 3, newMessage: true });
    expect(r.listCount).toBeGreaterThanOrEqual(3);
  }), minutes(3));

  test("5. solo with TURN and monitoring fits its 2 GiB host with headroom under the benchmark's load", () => timed("calls 5 memory under load", async () => {
    // The benchmark's message load (bench/clients/load.mjs: 20 clients in 4 rooms, long-polling
    // /sync and sending one message after another), through nginx and TLS; the VPS's PSS sampled
    // from the host meanwhile (every process, so TURN's and monitoring's too).
    const population = await populate({ vps, secretsYaml: "/etc/matrix-synapse/conf.d/secrets.yaml" }, { load: 20, rooms: 4, syncRooms: 0, joiners: 0 });
    const { result, peak } = await peakPss(SERVER, () => runClient<{ steps: { sent: number; seconds: number; errors: number }[] }>("load.mjs", {
      TARGET: targetEnv({ base: matrix, address: vps.host, ca: caFile }), USERS: JSON.stringify(population.load), MODE: "closed", DURATION_S: "45", WARMUP_S: "5",
    }));
    const [steady] = result.steps;
    expect(steady.sent).toBeGreaterThan(0);
    expect(steady.errors).toBe(0);
    // What TURN and monitoring add, each service's PSS once the load is over.
    const units = { prometheus: ["prometheus"], monitoringRest: ["prometheus-alertmanager", "prometheus-node-exporter", "prometheus-postgres-exporter",
      "prometheus-nginx-exporter", "synapse-alert-receiver"], coturn: ["coturn"] };
    const pss = async (list: string[]) => Number((await vps.sh(`for u in ${list.join(" ")}; do awk '/^Pss:/ { print $2 }' /proc/$(systemctl show -p MainPID --value $u)/smaps_rollup; done | ` +
      "awk '{ s += $1 } END { print s }'")).stdout.trim());
    const services = Object.fromEntries(await Promise.all(Object.entries(units).map(async ([k, list]) => [k, await pss(list)] as const)));
    const mib = (kib: number) => Math.round(kib / 1024);
    fs.writeFileSync(path.join(outputDir, `vps${SERVER}`, "memory-under-load.json"), JSON.stringify({ peakKiB: peak, servicesKiB: services, sent: steady.sent }, null, 2));
    const load = `under the benchmark's load (${population.load.length} clients, 45 s, ${steady.sent} messages)`;
    figure("calls.memory.total", mib(peak.total), `everything on the solo VPS with TURN and monitoring: peak PSS ${load}`, "MiB");
    figure("calls.memory.synapse", mib(peak.synapse), `Synapse: peak PSS with TURN and monitoring on solo ${load}`, "MiB");
    figure("calls.memory.postgres", mib(peak.postgres), `PostgreSQL: peak PSS with TURN and monitoring on solo ${load}`, "MiB");
    figure("calls.memory.prometheus", mib(services.prometheus), "Prometheus on solo after the load (PSS)", "MiB");
    figure("calls.memory.monitoring-rest", mib(services.monitoringRest), "Alertmanager, the node, PostgreSQL and nginx exporters and the alert receiver on solo after the load (PSS)", "MiB");
    figure("calls.memory.coturn", mib(services.coturn), "coturn on solo after the load (PSS)", "MiB");
    expect(services.prometheus).toBeGreaterThan(20 * 1024);
    expect(services.coturn).toBeGreaterThan(1024);
    expect(peak.total).toBeGreaterThan(peak.synapse + peak.postgres + services.prometheus);
    expect(mib(peak.total)).toBeLessThan(tierHostMiB.solo * (1 - hostHeadroom));
  }), minutes(5));

  test("6. an unchanged pulumi up changes nothing", () => timed("calls 6 unchanged", async () => {
    const r = await ws.update("up");
    expectClean(r);
    expect(changes(r)).toEqual([]);
  }), minutes(3));
});
