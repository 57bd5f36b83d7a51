// 3. Homeserver throughput and latency per tier: the same bounded load (20 matrix-js-sdk clients
//    in 4 rooms, each sending messages one after another for 45 s while long-polling /sync) on
//    (a) the distribution's package with its defaults (SQLite, no tuning; plain HTTP on 8008, as
//    it comes), (b) the hand setup an admin makes from Synapse's docs (the same package on
//    PostgreSQL with its defaults: a role, a database with collation C, no tuning; plain HTTP too),
//    (c) solo and (d) community with workers (both through nginx and TLS, as deployed).
//    Messages per second and send and /sync round trips (p50/p95/p99) against (a), and the peak
//    memory (PSS) of Synapse's processes, PostgreSQL and Redis against the tier's host size.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { downVps } from "../../tests/sandbox/sandbox";
import { bootVps, devStack, expectClean, Vps } from "../../tests/e2e/support/stack";
import { Comparison, compare, measured, percentile } from "../stats";

const root = path.join(__dirname, "..", "..");
const load = { users: 20, rooms: 4, seconds: 45, messages: 500 };
/** The host each tier is sized for (config/tiers.ts). */
const tierHostMiB = { hand: 2048, solo: 2048, community: 4096 } as const;

interface Setup {
  key: "distro" | "hand" | "solo" | "community";
  name: string;
  vps: Vps;
  baseUrl: string;
  caFile?: string;
  /** The YAML file with registration_shared_secret, on the VPS. */
  secretsYaml: string;
}

/** The listener reachable from the sandbox host, and a shared secret for the load's users. */
const benchListener = [
  "listeners:", "  - port: 8008", "    tls: false", "    type: http", "    x_forwarded: false", "    bind_addresses: ['0.0.0.0']",
  "    resources: [{names: [client], compress: false}]",
  `registration_shared_secret: "${Math.random().toString(36).slice(2)}${Date.now()}"`];

/** Debian's package, untouched but for conf.d/bench.yaml: the listener (and `extra` lines). */
async function packageSetup(n: number, key: "distro" | "hand", name: string, prepare = "", extra: string[] = []): Promise<Setup> {
  const vps = await bootVps(n, "packages");
  if (prepare) await vps.sh(prepare);
  await vps.sh("cat > /etc/matrix-synapse/conf.d/bench.yaml && systemctl restart matrix-synapse", { stdin: [
    "# bench: see bench/scenarios/throughput.ts", ...benchListener, ...extra, ""].join("\n") });
  await vps.sh("for i in $(seq 120); do curl -fsS -o /dev/null http://127.0.0.1:8008/health && exit 0; sleep 1; done; exit 1");
  return { key, name, vps, baseUrl: `http://${vps.host}:8008`, secretsYaml: "/etc/matrix-synapse/conf.d/bench.yaml" };
}

/** (a) The "packages" image has Debian's matrix-synapse installed, untouched: SQLite. */
const distroSetup = (n: number) => packageSetup(n, "distro", "distribution package, defaults (SQLite)");

/** (b) By hand, as Synapse's docs say: PostgreSQL from the distribution with its defaults, a role and a C-collated database. */
function handSetup(n: number): Promise<Setup> {
  const password = `bench${Date.now()}`;
  return packageSetup(n, "hand", "hand setup (PostgreSQL defaults)", [
    "export DEBIAN_FRONTEND=noninteractive",
    "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends postgresql python3-psycopg2 >/dev/null",
    "systemctl start postgresql && for i in $(seq 60); do runuser -u postgres -- pg_isready -q && break; sleep 1; done",
    `runuser -u postgres -- psql -q -c "CREATE ROLE synapse_user LOGIN PASSWORD '${password}'"`,
    "runuser -u postgres -- createdb --encoding=UTF8 --locale=C --template=template0 --owner=synapse_user synapse",
    // The package's SQLite database, made at its first start, would not move by itself: start anew.
    "systemctl stop matrix-synapse && rm -f /var/lib/matrix-synapse/homeserver.db",
  ].join(" && "), [
    "database:", "  name: psycopg2", "  args:", "    user: synapse_user", `    password: ${password}`, "    dbname: synapse",
    "    host: 127.0.0.1", "    cp_min: 5", "    cp_max: 10"]);
}

async function programSetup(n: number, tier: "solo" | "community"): Promise<Setup> {
  const vps = await bootVps(n);
  const ws = await devStack(vps, `bench-vps${n}-${tier}`, { tier });
  expectClean(await ws.update("up"));
  const caFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bench-ca-")), "ca.pem");
  fs.writeFileSync(caFile, (await vps.sh("cat /etc/synapse-deploy/tls/*/fullchain.pem")).stdout);
  return { key: tier, name: tier === "solo" ? "solo" : "community (workers)", vps, baseUrl: "https://matrix.sandbox.test", caFile, secretsYaml: "/etc/matrix-synapse/conf.d/secrets.yaml" };
}

/** The load's users, made on the host through the shared-secret API, with the message rate limit lifted (as for a bot). */
async function makeUsers(setup: Setup): Promise<{ userId: string; accessToken: string }[]> {
  const r = await setup.vps.sh(`python3 - ${setup.secretsYaml} ${load.users}`, { stdin: `
import hashlib, hmac, json, secrets, sys, urllib.request
import yaml
secret = yaml.safe_load(open(sys.argv[1]))["registration_shared_secret"]
base = "http://127.0.0.1:8008"
def call(path, body=None, token=None):
    req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(), method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json", **({"Authorization": "Bearer " + token} if token else {})})
    return json.load(urllib.request.urlopen(req))
def register(user, admin):
    nonce = call("/_synapse/admin/v1/register")["nonce"]
    password = secrets.token_hex(12)
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
    mac.update(b"\\x00".join([nonce.encode(), user.encode(), password.encode(), b"admin" if admin else b"notadmin"]))
    return call("/_synapse/admin/v1/register", {"nonce": nonce, "username": user, "password": password, "admin": admin, "mac": mac.hexdigest()})
admin = register("benchadmin", True)
users = [register("load%d" % i, False) for i in range(int(sys.argv[2]))]
for u in users:
    call("/_synapse/admin/v1/users/%s/override_ratelimit" % u["user_id"], {"messages_per_second": 0, "burst_count": 0}, admin["access_token"])
print(json.dumps([{"userId": u["user_id"], "accessToken": u["access_token"]} for u in users]))
` });
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

/** Peak PSS (MiB) of Synapse's processes, PostgreSQL and Redis while `during` runs, sampled every 2 s. */
async function peakMemory<T>(vps: Vps, during: Promise<T>): Promise<{ result: T; synapse: number; postgres: number; redis: number }> {
  const peak = { synapse: 0, postgres: 0, redis: 0 };
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const r = await vps.sh(`pss() { local s=0 p; for p in $(pgrep "$@" || true); do s=$((s + $(awk '/^Pss:/ {print $2}' /proc/$p/smaps_rollup 2>/dev/null || echo 0))); done; echo $s; }
echo "$(pss -f 'synapse[.]app') $(pss -x postgres) $(pss -x redis-server)"`, { allowFail: true });
      const [s, p, rd] = r.stdout.trim().split(" ").map((x) => Number(x) / 1024);
      if (Number.isFinite(s)) Object.assign(peak, { synapse: Math.max(peak.synapse, s), postgres: Math.max(peak.postgres, p), redis: Math.max(peak.redis, rd) });
      await new Promise((res) => setTimeout(res, 2000));
    }
  })();
  try {
    return { result: await during, ...peak };
  } finally {
    done = true;
    await sampler;
  }
}

interface LoadResult { sent: number; seconds: number; errors: number; send: number[]; sync: number[] }

function runLoad(setup: Setup, users: { userId: string; accessToken: string }[]): Promise<LoadResult> {
  const child = spawn(process.execPath, [path.join(root, "bench", "clients", "load.mjs")], {
    cwd: root,
    env: { ...process.env, BASE_URL: setup.baseUrl, ADDRESS: setup.vps.host, CA_FILE: setup.caFile ?? "", USERS: JSON.stringify(users),
      ROOMS: String(load.rooms), DURATION_S: String(load.seconds), MESSAGES: String(load.messages) },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => { stdout += d; });
  child.stderr.on("data", (d) => { stderr += d; });
  return new Promise((resolve, reject) => child.on("close", (code) => {
    if (code !== 0) reject(new Error(`the load client exited ${code}: ${stderr.slice(-2000)}`));
    else resolve(JSON.parse(stdout.trim().split("\n").pop()!));
  }));
}

export async function throughputScenario(rounds: number): Promise<{ comparisons: Comparison[]; notes: string[] }> {
  const setups: Setup[] = [];
  const notes: string[] = [];
  try {
    setups.push(await distroSetup(22));
    setups.push(await handSetup(25));
    setups.push(await programSetup(20, "solo"));
    setups.push(await programSetup(21, "community"));
    const users = new Map<string, { userId: string; accessToken: string }[]>();
    for (const s of setups) users.set(s.key, await makeUsers(s));
    const per = new Map<string, { rate: number[]; send: number[][]; sync: number[][]; memory: { synapse: number; postgres: number; redis: number }[]; errors: number }>();
    for (const s of setups) per.set(s.key, { rate: [], send: [], sync: [], memory: [], errors: 0 });
    // Interleaved: each round runs the load on every setup in turn (the others idle meanwhile).
    for (let round = 0; round < rounds; round++) {
      for (const s of setups) {
        const m = await peakMemory(s.vps, runLoad(s, users.get(s.key)!));
        const p = per.get(s.key)!;
        p.rate.push(m.result.sent / m.result.seconds);
        p.send.push(m.result.send);
        p.sync.push(m.result.sync);
        p.memory.push({ synapse: m.synapse, postgres: m.postgres, redis: m.redis });
        p.errors += m.result.errors;
      }
    }
    const base = per.get("distro")!;
    const pctRuns = (runs: number[][], q: number) => runs.map((xs) => (xs.length ? percentile(xs, q) : NaN));
    const comparisons: Comparison[] = [];
    for (const s of setups.filter((x) => x.key !== "distro")) {
      const p = per.get(s.key)!;
      comparisons.push(compare(`${s.name}: messages per second`, measured(s.name, "msg/s", p.rate), measured("distribution defaults", "msg/s", base.rate)));
      for (const q of [50, 95, 99]) {
        comparisons.push(compare(`${s.name}: send round trip p${q}`, measured(s.name, "ms", pctRuns(p.send, q)), measured("distribution defaults", "ms", pctRuns(base.send, q))));
      }
      for (const q of [50, 95, 99]) {
        comparisons.push(compare(`${s.name}: /sync round trip p${q}`, measured(s.name, "ms", pctRuns(p.sync, q)), measured("distribution defaults", "ms", pctRuns(base.sync, q))));
      }
      const totals = p.memory.map((m) => m.synapse + m.postgres + m.redis);
      const budget = tierHostMiB[s.key as "hand" | "solo" | "community"];
      comparisons.push(compare(`${s.name}: peak memory of Synapse, PostgreSQL and Redis (PSS) against the tier's host (${budget} MiB)`,
        measured(s.name, "MiB", totals), measured(`${s.key === "hand" ? "solo" : s.key} host`, "MiB", [budget])));
      notes.push(`${s.name}: peak PSS per round (MiB): ${p.memory.map((m) => `Synapse ${m.synapse.toFixed(0)}, PostgreSQL ${m.postgres.toFixed(0)}, Redis ${m.redis.toFixed(0)}`).join("; ")}; errors ${p.errors}`);
    }
    notes.push(`distribution defaults: peak PSS per round (MiB): ${base.memory.map((m) => `Synapse ${m.synapse.toFixed(0)}`).join("; ")}; errors ${base.errors}`);
    notes.push(`the load: ${load.users} matrix-js-sdk clients in ${load.rooms} rooms, each sending one message after another for ${load.seconds} s ` +
      "while long-polling /sync (5 s); the distribution's package and the hand setup are reached on plain HTTP port 8008 (as the package comes), the program's tiers through nginx and TLS");
    return { comparisons, notes };
  } finally {
    await downVps(...setups.map((s) => s.vps.n));
  }
}
