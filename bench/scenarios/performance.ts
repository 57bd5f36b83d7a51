// 3. Performance, like for like. The same load on each setup (bench/performance/setups.ts: the
//    distribution's package as it comes, the hand setup from Synapse's docs, solo, community, and
//    any variant given with --setups), each through the same nginx site with the same TLS, and at
//    Synapse's own listeners too (the proxy's cost as a figure of its own). One setup is booted at
//    a time, confined as its tier's host would be: one core (the load generator has the other)
//    and the host's memory (2 GiB solo and the package setups, 4 GiB community), through the
//    sandbox's cgroups; a setup that does not fit shows up as OOM kills or swap, not as a number.
//    Rounds are interleaved (each round boots every setup in turn, the order rotating), each
//    measurement after a warm-up. Figures: the server's CPU seconds per 1,000 events (its
//    cgroup), throughput and latency on the wire (the client's own queueing excluded), Synapse's
//    own latency (its metrics), and the peak PSS of every process on the VPS, per scenario:
//      steady      20 clients in 4 rooms, each long-polling /sync and sending one message after
//                  another (closed loop), through nginx and again at Synapse's listeners;
//      open loop   messages at fixed rates in steps: the highest rate still answered in time;
//      initial sync  a user in 120 rooms opening the app;
//      big room    a room of 1,000 members: /members, 10 pages of /messages, a join;
//      media       1600×1200 images uploaded and thumbnailed (scaled and cropped);
//      federation  a second homeserver's 20 users sending into a room of the setup's, at fixed
//                  rates: delivery to a client of the setup, and the setup's CPU per event.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { downVps, startVps, stopVps, vpsStats } from "../../tests/sandbox/sandbox";
import { checkoutOf } from "../checkout";
import { Better, Comparison, compare, measured, percentile } from "../stats";
import { cpuRoles, CpuSplit, cpuSplitDuring, histogramQuantile, peakPss, responseTimes, runClient, targetEnv, loadCpu } from "../performance/measure";
import {
  benchPki, hostsFile, LoadUser, mainPort, packageSetup, populate, Population, programSetup, puppetRegistration, senderSetup, Setup, waitHealthy,
} from "../performance/setups";

const plan = {
  users: 20, rooms: 4, warmupS: 8, closedS: 20, openRates: [10, 20, 40, 80], stepS: 10,
  syncRooms: 120, initialSyncs: 4, bigMembers: 1000, bigMessages: 300, pages: 10, uploads: 3,
  senders: 20, fedRates: [10, 25], fedStepS: 15,
};
/** VPS numbers: the base setups, the sender, then variants. */
const base = { solo: 30, community: 31, distro: 32, hand: 33 } as const;
const SENDER = 34;
const FIRST_VARIANT = 38;
const tierHostMiB: Record<string, number> = { solo: 2048, community: 4096, large: 8192 };

interface SetupSpec {
  key: string; name: string; n: number; server: string; kind: "program" | "distro" | "hand"; tier?: string; config?: Record<string, string>;
  /** The program at another git revision (a change measured against the one before it). */
  fixture?: string;
  /** Experiments the program does not have yet: bench/tweaks/<name>.sh, run on the VPS after the deploy. */
  tweaks?: string[];
}

/**
 * "distro", "hand", "solo", "community", or a variant of a tier: more stack config,
 * "<tier>+<key>=<value>[+…]", the program at another revision, "<tier>@<rev>", or an experiment
 * the program does not have yet, "<tier>!<tweak>[!…]" (bench/tweaks/<tweak>.sh); they combine.
 */
function specs(list: string[]): SetupSpec[] {
  let variant = 0;
  return list.map((key): SetupSpec => {
    if (key === "distro") return { key, name: "distribution package, defaults (SQLite)", n: base.distro, server: "d.test", kind: "distro" };
    if (key === "hand") return { key, name: "hand setup (PostgreSQL defaults)", n: base.hand, server: "h.test", kind: "hand" };
    const [withoutTweaks, ...tweaks] = key.split("!");
    const [tierAt, ...settings] = withoutTweaks.split("+");
    const [tier, rev] = tierAt.split("@");
    if (!(tier in tierHostMiB)) throw new Error(`--setups: unknown setup '${key}' (distro, hand, solo, community, large, or <tier>+<key>=<value>)`);
    const config = Object.fromEntries(settings.map((kv) => {
      const i = kv.indexOf("=");
      if (i < 1) throw new Error(`--setups: '${kv}' in '${key}' is not <key>=<value>`);
      return [kv.slice(0, i), kv.slice(i + 1)];
    }));
    if (settings.length === 0 && !rev && tweaks.length === 0 && (tier === "solo" || tier === "community")) {
      return { key, name: tier === "solo" ? "solo" : "community (workers)", n: base[tier], server: `${tier[0]}.test`, kind: "program", tier, config };
    }
    variant++;
    const at = rev ? checkoutOf(rev) : undefined;
    const what = [...(at ? [`at ${at.commit}`] : []), ...(settings.length || tweaks.length ? [`with ${[...settings, ...tweaks].join(", ")}`] : [])].join(" ");
    return { key, name: `${tier} ${what}`, n: FIRST_VARIANT + variant - 1, server: `v${variant}.test`, kind: "program", tier, config, fixture: at?.dir, tweaks };
  });
}

interface RoundResult {
  steady: Record<"rate" | "sendP50" | "sendP99" | "deliveryP50" | "deliveryP99" | "serverP50" | "serverP99" | "cpuPer1k" | "errors", number>;
  direct: Record<"rate" | "sendP50" | "sendP99" | "cpuPer1k" | "errors", number>;
  open: { knee: number; steps: { rate: number; achieved: number; p50: number; p99: number; errors: number; cpuPer1k: number }[] };
  initialSync: Record<"p50" | "cpuPerOp" | "errors" | "rooms", number>;
  bigRoom: Record<"members" | "messagesP50" | "join" | "cpuPerOp" | "errors", number>;
  media: Record<"uploadP50" | "thumbnailP50" | "cpuPerOp" | "errors", number>;
  federation: { deliveryP50: number; deliveryP99: number; cpuPer1k: number; delivered: number; errors: number; steps: unknown[] };
  memory: Record<"peakMiB" | "synapseMiB" | "postgresMiB" | "oomKills" | "swapMiB", number>;
  /** Each role's CPU per event of the scenario (its share of the VPS's CPU × the scenario's CPU per event). */
  split: Record<"steady" | "initial" | "federation", CpuSplit>;
  /** The roles' shares themselves (0..1), for the notes. */
  shares: Record<"steady" | "initial" | "federation", CpuSplit>;
}

interface LoadStep { rate?: number; seconds: number; cpuSeconds: number; sent: number; send: number[]; delivery: number[]; errors: number }
interface RequestsResult { ms: Record<string, number[]>; cpuSeconds: number; operations: number; errors: number }

const p = (xs: number[] | undefined, q: number) => (xs && xs.length ? percentile(xs, q) : NaN);
const perK = (cpu: number, events: number) => (events > 0 ? (cpu / events) * 1000 : NaN);

export async function performanceScenario(rounds: number, setupList: string[]): Promise<{ sections: { title: string; comparisons: Comparison[]; notes: string[]; extra?: Record<string, unknown> }[] }> {
  const t0 = Date.now();
  const wanted = specs(setupList);
  const targets: Setup[] = [];
  let sender: Setup | undefined;
  const notes: string[] = [];
  const seconds: Record<string, number> = {};
  const lap = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const s = Date.now();
    try { return await fn(); } finally { seconds[what] = (Date.now() - s) / 1000; }
  };
  try {
    const pki = benchPki(fs.mkdtempSync(path.join(os.tmpdir(), "bench-pki-")), [...wanted.map((w) => w.server), "f.test"]);
    const asToken = randomBytes(24).toString("hex");
    const hsToken = randomBytes(24).toString("hex");
    await lap("deploying the setups", async () => {
      const programs = await Promise.all(wanted.filter((w) => w.kind === "program").map((w) => programSetup({
        key: w.key, name: w.name, n: w.n, server: w.server, tier: w.tier!, hostMiB: tierHostMiB[w.tier!], config: w.config ?? {}, pki, fixture: w.fixture, tweaks: w.tweaks,
        registration: puppetRegistration(w.server, asToken, hsToken),
      })));
      const siteFrom = programs.find((s) => s.key === "solo") ?? programs[0];
      const packages = wanted.filter((w) => w.kind !== "program");
      if (packages.length > 0 && !siteFrom) throw new Error("--setups: distro and hand take their nginx site from a program setup: add solo");
      const packaged = await Promise.all(packages.map((w) => packageSetup({
        key: w.kind as "distro" | "hand", name: w.name, n: w.n, server: w.server, pki, registration: puppetRegistration(w.server, asToken, hsToken), site: { from: siteFrom },
      })));
      for (const w of wanted) targets.push([...programs, ...packaged].find((s) => s.key === w.key)!);
      sender = await senderSetup({ n: SENDER, server: "f.test:8448", pki, cpus: loadCpu });
      await hostsFile([...targets, sender]);
    });
    const senderPopulation = await populate(sender!, { load: plan.senders, rooms: 0, syncRooms: 0, joiners: 0 });
    await lap("populating the setups", () => Promise.all(targets.map(async (s) => {
      s.population = await populate(s, { load: plan.users, rooms: plan.rooms, syncRooms: plan.syncRooms, joiners: rounds });
      await runClient("../../tests/e2e/clients/big-room.mjs", {
        BASE_URL: s.nginx.base, ADDRESS: s.vps.host, CA_FILE: pki.caFile, AS_TOKEN: asToken, SERVER: s.server, MEMBERS: String(plan.bigMembers),
        MESSAGES: String(plan.bigMessages), ROOM: s.population.reader.room, PHASES: "register,join,message", CONCURRENCY: "4",
      }, 20 * 60_000);
      // The sender's users join the setup's room over federation (its per-room join limit: patiently).
      for (const u of senderPopulation.load) await joinOverFederation(sender!, u, s.population.receiver.room, s.server);
      await stopVps(s.vps.n);
    })));

    const results = new Map<string, RoundResult[]>(targets.map((s) => [s.key, []]));
    await lap("the measured rounds", async () => {
      for (let round = 0; round < rounds; round++) {
        const order = targets.map((_, i) => targets[(i + round) % targets.length]);
        for (const s of order) {
          console.error(`bench: performance round ${round + 1}/${rounds}: ${s.name}`);
          results.get(s.key)!.push(await measureRound(s, round, sender!, senderPopulation));
        }
      }
    });
    notes.push(...methodNotes(targets, rounds, seconds, t0));
    return { sections: sectionsOf(targets, results, notes) };
  } finally {
    // BENCH_KEEP=1 leaves the VPSes up, for looking into a failure.
    if (process.env.BENCH_KEEP !== "1") await downVps(...targets.map((s) => s.vps.n), ...(sender ? [sender.vps.n] : []));
  }
}

async function joinOverFederation(sender: Setup, u: LoadUser, room: string, server: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const r = await fetch(`${sender.direct.base}/_matrix/client/v3/join/${encodeURIComponent(room)}?server_name=${server}`, {
      method: "POST", headers: { Authorization: `Bearer ${u.accessToken}`, "Content-Type": "application/json" }, body: "{}",
    });
    if (r.ok) return;
    const text = await r.text();
    if (attempt >= 90) throw new Error(`${u.userId} could not join ${room} on ${server}: ${r.status} ${text}`);
    await new Promise((res) => setTimeout(res, 2000));
  }
}

/** One setup, one round: booted confined, every scenario, its memory and OOM kills, shut down. */
async function measureRound(s: Setup, round: number, sender: Setup, senders: Population): Promise<RoundResult> {
  const n = s.vps.n;
  const pop = s.population!;
  await startVps(n, { cpus: "1", memory: `${s.hostMiB}M` });
  await waitHealthy(s.vps, s.metricsPorts);
  const cpuFile = (await vpsStats(n)).cpuUsageFile;
  const common = { CPU_FILE: cpuFile, WARMUP_S: String(plan.warmupS) };
  const load = (front: "nginx" | "direct", env: Record<string, string>) => runClient<{ steps: LoadStep[] }>("load.mjs", {
    ...common, TARGET: targetEnv(s[front]), USERS: JSON.stringify(pop.load), ...env,
  });
  const { result, peak } = await peakPss(n, async () => {
    const h0 = await responseTimes(s.vps.host, s.metricsPorts, "RoomSendEventRestServlet", "PUT");
    const steadySplit = await cpuSplitDuring(n, () => load("nginx", { MODE: "closed", DURATION_S: String(plan.closedS) }));
    const steady = steadySplit.result.steps[0];
    const h1 = await responseTimes(s.vps.host, s.metricsPorts, "RoomSendEventRestServlet", "PUT");
    const direct = (await load("direct", { MODE: "closed", DURATION_S: String(plan.closedS) })).steps[0];
    const open = (await load("nginx", { MODE: "open", RATES: plan.openRates.join(","), STEP_S: String(plan.stepS) })).steps;
    const requests = (scenario: string, env: Record<string, string>) => runClient<RequestsResult>("requests.mjs", {
      ...common, TARGET: targetEnv(s.nginx), SCENARIO: scenario, ...env,
    });
    const initialSplit = await cpuSplitDuring(n, () => requests("initial-sync", { USER: JSON.stringify(pop.sync), REPEAT: String(plan.initialSyncs) }));
    const initial = initialSplit.result;
    const big = await requests("big-room", { USER: JSON.stringify(pop.reader), ROOM: pop.reader.room, PAGES: String(plan.pages), JOINER: JSON.stringify(pop.joiners[round]) });
    const media = await requests("media", { USER: JSON.stringify(pop.load[0]), UPLOADS: String(plan.uploads), SEED: String(round) });
    // The sender may have backed off from this name while the setup was down: start afresh.
    await fetch(`${sender.direct.base}/_synapse/admin/v1/federation/destinations/${s.server}/reset_connection`, {
      method: "POST", headers: { Authorization: `Bearer ${senders.admin.accessToken}` }, body: "{}",
    });
    const fedSplit = await cpuSplitDuring(n, () => runClient<{ steps: LoadStep[] }>("load.mjs", {
      ...common, TARGET: targetEnv(sender.direct), MODE: "open", RATES: plan.fedRates.join(","), STEP_S: String(plan.fedStepS),
      USERS: JSON.stringify(senders.load.map((u) => ({ ...u, room: pop.receiver.room }))),
      RECEIVER: JSON.stringify({ target: s.nginx, user: pop.receiver }),
    }));
    const fed = fedSplit.result.steps;
    const shares = { steady: steadySplit.shares, initial: initialSplit.shares, federation: fedSplit.shares };
    return { steady, direct, open, initial, big, media, fed, h0, h1, shares };
  });
  const stats = await vpsStats(n);
  await stopVps(n);

  const { steady, direct, open, initial, big, media, fed, h0, h1, shares } = result;
  const knee = open.filter((st) => st.sent / st.seconds >= 0.95 * st.rate! && p(st.send, 99) < 1000 && st.errors <= st.sent * 0.01)
    .reduce((m, st) => Math.max(m, st.rate!), 0);
  const fedAll = { delivery: fed.flatMap((st) => st.delivery), sent: fed.reduce((a, st) => a + st.sent, 0), cpu: fed.reduce((a, st) => a + st.cpuSeconds, 0) };
  return {
    steady: {
      rate: steady.sent / steady.seconds, sendP50: p(steady.send, 50), sendP99: p(steady.send, 99), deliveryP50: p(steady.delivery, 50),
      deliveryP99: p(steady.delivery, 99), serverP50: histogramQuantile(h0, h1, 0.5), serverP99: histogramQuantile(h0, h1, 0.99),
      cpuPer1k: perK(steady.cpuSeconds, steady.sent), errors: steady.errors,
    },
    direct: { rate: direct.sent / direct.seconds, sendP50: p(direct.send, 50), sendP99: p(direct.send, 99), cpuPer1k: perK(direct.cpuSeconds, direct.sent), errors: direct.errors },
    open: { knee, steps: open.map((st) => ({ rate: st.rate!, achieved: st.sent / st.seconds, p50: p(st.send, 50), p99: p(st.send, 99), errors: st.errors, cpuPer1k: perK(st.cpuSeconds, st.sent) })) },
    initialSync: { p50: p(initial.ms["initial sync"], 50), cpuPerOp: initial.cpuSeconds / Math.max(initial.operations, 1), errors: initial.errors, rooms: plan.syncRooms },
    bigRoom: { members: p(big.ms["/members"], 50), messagesP50: p(big.ms["/messages page"], 50), join: p(big.ms.join, 50), cpuPerOp: big.cpuSeconds, errors: big.errors },
    media: { uploadP50: p(media.ms.upload, 50), thumbnailP50: p(media.ms.thumbnail, 50), cpuPerOp: media.cpuSeconds / Math.max(media.operations, 1), errors: media.errors },
    federation: { deliveryP50: p(fedAll.delivery, 50), deliveryP99: p(fedAll.delivery, 99), cpuPer1k: perK(fedAll.cpu, fedAll.sent),
      delivered: fedAll.delivery.length / Math.max(fedAll.sent, 1), errors: fed.reduce((a, st) => a + st.errors, 0),
      steps: fed.map((st) => ({ rate: st.rate, sent: st.sent, delivered: st.delivery.length, p50: p(st.delivery, 50), p99: p(st.delivery, 99), cpuPer1k: perK(st.cpuSeconds, st.sent) })) },
    memory: { peakMiB: peak.total / 1024, synapseMiB: peak.synapse / 1024, postgresMiB: peak.postgres / 1024, oomKills: stats.oomKills, swapMiB: stats.swapBytes / 2 ** 20 },
    split: {
      steady: perRole(shares.steady, perK(steady.cpuSeconds, steady.sent)),
      initial: perRole(shares.initial, initial.cpuSeconds / Math.max(initial.operations, 1)),
      federation: perRole(shares.federation, perK(fedAll.cpu, fedAll.sent)),
    },
    shares,
  };
}

/** A scenario's CPU per event, split by the roles' shares of it. */
const perRole = (shares: CpuSplit, cpuPerEvent: number): CpuSplit =>
  Object.fromEntries(cpuRoles.map((r) => [r, shares[r] * cpuPerEvent])) as CpuSplit;

interface Metric {
  id: string; scenario: string; what: string; unit: string; better: Better; get: (r: RoundResult) => number;
  /** PostgreSQL's own figures: not compared with a setup that has no PostgreSQL (the distribution's SQLite). */
  postgresOnly?: boolean;
}

const splitScenario = "where the server's CPU goes";

const metrics: Metric[] = [
  { id: "steady.cpu", scenario: "steady", what: "server CPU per 1,000 messages", unit: "CPU s", better: "lower", get: (r) => r.steady.cpuPer1k },
  { id: "steady.rate", scenario: "steady", what: "messages per second", unit: "msg/s", better: "higher", get: (r) => r.steady.rate },
  { id: "steady.send.p50", scenario: "steady", what: "send p50", unit: "ms", better: "lower", get: (r) => r.steady.sendP50 },
  { id: "steady.send.p99", scenario: "steady", what: "send p99", unit: "ms", better: "lower", get: (r) => r.steady.sendP99 },
  { id: "steady.server.p50", scenario: "steady", what: "send p50 in Synapse's own metrics", unit: "ms", better: "lower", get: (r) => r.steady.serverP50 },
  { id: "steady.delivery.p99", scenario: "steady", what: "delivery to the room's other clients p99", unit: "ms", better: "lower", get: (r) => r.steady.deliveryP99 },
  { id: "direct.cpu", scenario: "steady, at Synapse's listener", what: "server CPU per 1,000 messages", unit: "CPU s", better: "lower", get: (r) => r.direct.cpuPer1k },
  { id: "direct.rate", scenario: "steady, at Synapse's listener", what: "messages per second", unit: "msg/s", better: "higher", get: (r) => r.direct.rate },
  { id: "open.knee", scenario: "open loop", what: "highest rate answered in time (p99 < 1 s, ≥ 95 % sent)", unit: "msg/s", better: "higher", get: (r) => r.open.knee },
  { id: "initial.p50", scenario: "initial sync", what: "initial sync of a user in 120 rooms, p50", unit: "ms", better: "lower", get: (r) => r.initialSync.p50 },
  { id: "initial.cpu", scenario: "initial sync", what: "server CPU per initial sync", unit: "CPU s", better: "lower", get: (r) => r.initialSync.cpuPerOp },
  { id: "big.members", scenario: "big room", what: "/members of 1,000", unit: "ms", better: "lower", get: (r) => r.bigRoom.members },
  { id: "big.messages", scenario: "big room", what: "/messages page p50", unit: "ms", better: "lower", get: (r) => r.bigRoom.messagesP50 },
  { id: "big.join", scenario: "big room", what: "a join", unit: "ms", better: "lower", get: (r) => r.bigRoom.join },
  { id: "big.cpu", scenario: "big room", what: "server CPU for the whole pass", unit: "CPU s", better: "lower", get: (r) => r.bigRoom.cpuPerOp },
  { id: "media.upload", scenario: "media", what: "upload p50", unit: "ms", better: "lower", get: (r) => r.media.uploadP50 },
  { id: "media.thumbnail", scenario: "media", what: "thumbnail p50", unit: "ms", better: "lower", get: (r) => r.media.thumbnailP50 },
  { id: "media.cpu", scenario: "media", what: "server CPU per image (upload, two thumbnails)", unit: "CPU s", better: "lower", get: (r) => r.media.cpuPerOp },
  { id: "fed.cpu", scenario: "federation inbound", what: "server CPU per 1,000 inbound events", unit: "CPU s", better: "lower", get: (r) => r.federation.cpuPer1k },
  { id: "fed.delivery.p50", scenario: "federation inbound", what: "delivery from the other server's client p50", unit: "ms", better: "lower", get: (r) => r.federation.deliveryP50 },
  { id: "fed.delivery.p99", scenario: "federation inbound", what: "delivery p99", unit: "ms", better: "lower", get: (r) => r.federation.deliveryP99 },
  { id: "split.steady.synapse", scenario: splitScenario, what: "steady: Synapse's own CPU per 1,000 messages", unit: "CPU s", better: "lower", get: (r) => r.split.steady.synapse },
  { id: "split.steady.postgres", scenario: splitScenario, what: "steady: PostgreSQL's CPU per 1,000 messages", unit: "CPU s", better: "lower", postgresOnly: true, get: (r) => r.split.steady.postgres },
  { id: "split.initial.synapse", scenario: splitScenario, what: "initial sync: Synapse's own CPU per sync", unit: "CPU s", better: "lower", get: (r) => r.split.initial.synapse },
  { id: "split.initial.postgres", scenario: splitScenario, what: "initial sync: PostgreSQL's CPU per sync", unit: "CPU s", better: "lower", postgresOnly: true, get: (r) => r.split.initial.postgres },
  { id: "split.fed.synapse", scenario: splitScenario, what: "federation inbound: Synapse's own CPU per 1,000 events", unit: "CPU s", better: "lower", get: (r) => r.split.federation.synapse },
  { id: "split.fed.postgres", scenario: splitScenario, what: "federation inbound: PostgreSQL's CPU per 1,000 events", unit: "CPU s", better: "lower", postgresOnly: true, get: (r) => r.split.federation.postgres },
];

/** Who is compared with whom: solo against both defaults, community and variants against their tier's base. */
function pairs(targets: Setup[]): [Setup, Setup][] {
  const by = (k: string) => targets.find((s) => s.key === k);
  const out: [Setup, Setup][] = [];
  const solo = by("solo");
  for (const b of ["distro", "hand"]) if (solo && by(b)) out.push([solo, by(b)!]);
  for (const s of targets) {
    if (["distro", "hand", "solo"].includes(s.key)) continue;
    const tier = s.key.split(/[+@!]/)[0];
    const against = s.key === "community" ? solo : by(tier) ?? solo;
    if (against && against !== s) out.push([s, against]);
  }
  return out;
}

function sectionsOf(targets: Setup[], results: Map<string, RoundResult[]>, notes: string[]) {
  const runs = (s: Setup, m: Metric) => results.get(s.key)!.map(m.get);
  const scenarios = [...new Set(metrics.map((m) => m.scenario))];
  const sections = scenarios.map((scenario) => ({
    title: `Performance: ${scenario} (sandbox VPS, one core, the tier's memory)`,
    notes: [] as string[],
    comparisons: pairs(targets).flatMap(([f, b]) => metrics.filter((m) => m.scenario === scenario && !(m.postgresOnly && [f, b].some((x) => x.key === "distro"))).map((m) =>
      compare(`${m.what}: ${f.name} ÷ ${b.name}`, measured(f.name, m.unit, runs(f, m)), measured(b.name, m.unit, runs(b, m)), `perf.${m.id}.${f.key}-${b.key}`, m.better))),
  }));
  sections[scenarios.indexOf(splitScenario)].notes.push(...splitNotes(targets, results));
  // The proxy's cost, per setup: CPU per 1,000 messages through nginx and TLS against at Synapse's listener.
  sections.push({
    title: "Performance: the cost of nginx and TLS in front (steady sending, same rounds)",
    notes: [],
    comparisons: targets.map((s) => compare(`${s.name}: server CPU per 1,000 messages through nginx and TLS ÷ at Synapse's listener`,
      measured("through nginx", "CPU s", runs(s, metrics[0])), measured("at Synapse's listener", "CPU s", results.get(s.key)!.map((r) => r.direct.cpuPer1k)),
      `perf.proxy.cpu.${s.key}`, "lower")),
  });
  // Memory: the peak PSS of everything on the VPS against the host the setup is sized for.
  sections.push({
    title: "Performance: peak memory (PSS of every process on the VPS) against the host's size",
    notes: targets.map((s) => `${s.name}: peak PSS per round (MiB): ${results.get(s.key)!.map((r) =>
      `${r.memory.peakMiB.toFixed(0)} (Synapse ${r.memory.synapseMiB.toFixed(0)}, PostgreSQL ${r.memory.postgresMiB.toFixed(0)})`).join("; ")}; ` +
      `OOM kills ${results.get(s.key)!.reduce((a, r) => a + r.memory.oomKills, 0)}, swap at the end ${Math.max(...results.get(s.key)!.map((r) => r.memory.swapMiB)).toFixed(0)} MiB`),
    comparisons: targets.map((s) => compare(`${s.name}: peak PSS ÷ its host (${s.hostMiB} MiB)`,
      measured(s.name, "MiB", results.get(s.key)!.map((r) => r.memory.peakMiB)), measured("host", "MiB", [s.hostMiB]), `perf.memory.${s.key}`)),
  });
  const raw = Object.fromEntries(targets.map((s) => [s.key, results.get(s.key)]));
  sections[sections.length - 1].notes.push(...notes);
  return sections.map((sec, i) => (i === 0 ? { ...sec, extra: { plan, raw } } : sec));
}

/** Each setup's split of the server's CPU per scenario, as shares: medians of the rounds (min–max). */
function splitNotes(targets: Setup[], results: Map<string, RoundResult[]>): string[] {
  const pct = (xs: number[]) => {
    const m = measured("", "%", xs.map((x) => x * 100));
    return `${m.median.toFixed(0)} % (${Math.min(...m.runs).toFixed(0)}–${Math.max(...m.runs).toFixed(0)})`;
  };
  const scenarioNames = { steady: "steady", initial: "initial sync", federation: "federation inbound" } as const;
  return [
    "how: the CPU time of the VPS's processes by name (Synapse's, PostgreSQL's, nginx's), read from the host's /proc before and after each scenario's " +
      "client (its warm-up included), each role's share of the VPS cgroup's CPU meanwhile, times the scenario's CPU per event; PostgreSQL's exited " +
      "backends count in its postmaster's reaped-children time; other: the cgroup's total less the three (Redis, systemd, processes that exited to init)",
    ...targets.flatMap((s) => (Object.keys(scenarioNames) as (keyof typeof scenarioNames)[]).map((sc) => `${s.name}, ${scenarioNames[sc]}: ` +
      cpuRoles.map((r) => `${r === "synapse" ? "Synapse" : r === "postgres" ? "PostgreSQL" : r} ${pct(results.get(s.key)!.map((x) => x.shares[sc][r]))}`).join(", "))),
  ];
}

function methodNotes(targets: Setup[], rounds: number, seconds: Record<string, number>, t0: number): string[] {
  return [
    `method: ${rounds} interleaved rounds (each round boots every setup in turn, the order rotating, one at a time, and shuts it down after); ` +
      `each setup's VPS pinned to host CPU 1 and capped at its host's memory (${targets.map((s) => `${s.name} ${s.hostMiB} MiB`).join(", ")}), ` +
      `the clients and the sending homeserver pinned to CPU 0. Every measurement starts after ${plan.warmupS} s of the same load. ` +
      "Figures are medians of the rounds; the range after each ratio is the smallest and largest of the rounds' own ratios; a difference " +
      "is called (better/worse) only when every round of one lies beyond every round of the other",
    "what is isolated: the setups from each other (one booted at a time), the server from the load generator (separate cores), memory (each VPS's cgroup). " +
      "What is not: the machine is shared (other jobs run on both cores and on the disk), the VPSes share the host's kernel and page cache, " +
      "and the clients run on one core for all 20 simulated users. CPU seconds per event are steadier than rates under this noise",
    `the front: every setup behind the program's nginx site (solo's, with the setup's name) and one certificate from a bench CA; at Synapse's listener ` +
      `the kernel forwards the VPS's port ${mainPort} (and the workers' ports, routed by path as nginx routes them) to loopback, no proxy in between`,
    "latencies are timed on the wire: from the request's first byte sent to its response's last byte received, each simulated client with its own connections; " +
      "delivery is from a message's send to another client's /sync returning it (all clocks are the host's)",
    `the load: ${plan.users} clients in ${plan.rooms} rooms, each long-polling /sync (30 s) and sending (closed loop: ${plan.closedS} s; open loop: ` +
      `${plan.openRates.join(", ")} msg/s for ${plan.stepS} s each, stopping at the first step with errors over 5 %); initial sync: ${plan.initialSyncs} in a row, ` +
      `each with its own filter (Synapse caches an identical one); big room: ${plan.bigMembers} members (application-service puppets) and ${plan.bigMessages} messages; ` +
      `media: ${plan.uploads} images of 1600×1200; federation: ${plan.senders} users of f.test (Debian's package, SQLite) at ${plan.fedRates.join(" then ")} msg/s, ${plan.fedStepS} s each`,
    `the scenario took ${((Date.now() - t0) / 60_000).toFixed(1)} min (${Object.entries(seconds).map(([w, s]) => `${w} ${s.toFixed(0)} s`).join(", ")})`,
  ];
}


