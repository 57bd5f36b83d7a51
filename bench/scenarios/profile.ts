// 6. Where PostgreSQL's time goes. The performance scenario finds solo's CPU per message split
//    about evenly between Synapse and PostgreSQL; this one asks PostgreSQL what it does per
//    message. The solo dev stack on a bare VPS with pg_stat_statements loaded (planning tracked
//    too: a bench-only change, made after the deploy), then per round a real client
//    (matrix-js-sdk, tests/e2e/clients/chat.mjs) sends messages into a new room and reads them
//    back, with the statistics reset before it: statements and transactions per message, the
//    time PostgreSQL spent planning and executing them, and the CPU its processes and Synapse's
//    used meanwhile (read from the host's /proc, as the performance scenario does).
import * as fs from "node:fs";
import * as path from "node:path";
import { downVps, vpsCpu } from "../../tests/sandbox/sandbox";
import { bootVps, chat, devStack, exemptFromRateLimit, expectClean, httpsClient, outputDir, Vps } from "../../tests/e2e/support/stack";
import { Comparison, compare, measured } from "../stats";

const PROFILED = 26;
const messages = 300;

interface Round { statements: number; transactions: number; execMs: number; planMs: number; postgresMs: number; synapseMs: number; top: TopStatement[] }
interface TopStatement { calls: number; ms: number; query: string }

/** psql as postgres on the VPS, unaligned: one row a line, fields split by tabs. */
async function query(vps: Vps, sql: string): Promise<string[][]> {
  const out = (await vps.sh("runuser -u postgres -- psql -XAt -F $'\\t' -v ON_ERROR_STOP=1 -d synapse", { stdin: sql })).stdout;
  return out.trim().split("\n").filter(Boolean).map((l) => l.split("\t"));
}

async function profileRound(vps: Vps, client: (count: number) => Promise<unknown>): Promise<Round> {
  await query(vps, "SELECT pg_stat_statements_reset(); SELECT pg_stat_reset();");
  const before = await vpsCpu(vps.n);
  await client(messages);
  const after = await vpsCpu(vps.n);
  const [[statements, execMs, planMs]] = await query(vps,
    "SELECT sum(calls), sum(total_exec_time), sum(total_plan_time) FROM pg_stat_statements");
  const [[transactions]] = await query(vps, "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'synapse'");
  const top = (await query(vps, "SELECT calls, total_exec_time + total_plan_time, regexp_replace(left(query, 90), '\\s+', ' ', 'g') " +
    "FROM pg_stat_statements ORDER BY 2 DESC LIMIT 8")).map(([calls, ms, q]) => ({ calls: Number(calls), ms: Number(ms), query: q }));
  const per = (x: number) => x / messages;
  return {
    statements: per(Number(statements)), transactions: per(Number(transactions)), execMs: per(Number(execMs)), planMs: per(Number(planMs)),
    postgresMs: per((after.postgres - before.postgres) * 1000), synapseMs: per((after.synapse - before.synapse) * 1000), top,
  };
}

export async function profileScenario(rounds: number): Promise<{ comparisons: Comparison[]; notes: string[] }> {
  const vps = await bootVps(PROFILED);
  try {
    const ws = await devStack(vps, `bench-vps${PROFILED}-profile`);
    expectClean(await ws.update("up"));
    const out = await ws.outputs();
    await query(vps, "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'; ALTER SYSTEM SET pg_stat_statements.track = 'all'; " +
      "ALTER SYSTEM SET pg_stat_statements.track_planning = on;");
    await vps.sh("systemctl restart postgresql && systemctl restart matrix-synapse && " +
      "for i in $(seq 90); do curl -sf http://127.0.0.1:8008/health >/dev/null && exit 0; sleep 1; done; exit 1");
    await query(vps, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;");
    await exemptFromRateLimit(vps, out.adminUser, out.adminAccessToken);
    const https = await httpsClient(vps);
    await https.close();
    const caFile = path.join(outputDir, `bench-vps${PROFILED}-ca.pem`);
    fs.writeFileSync(caFile, https.ca);
    const client = (count: number) => chat(vps, { baseUrl: "https://matrix.sandbox.test", caFile, user: "admin", password: out.adminPassword, count });
    await client(50); // warm-up: Synapse's caches, PostgreSQL's buffers
    const runs: Round[] = [];
    for (let i = 0; i < rounds; i++) runs.push(await profileRound(vps, client));
    const of = (name: string, unit: string, get: (r: Round) => number) => measured(name, unit, runs.map(get));
    const plan = of("planning", "ms", (r) => r.planMs);
    const exec = of("executing", "ms", (r) => r.execMs);
    const postgres = of("PostgreSQL's processes", "CPU ms", (r) => r.postgresMs);
    const comparisons = [
      compare("PostgreSQL, per message: planning the statements ÷ executing them", plan, exec, "profile.plan-exec"),
      compare("PostgreSQL, per message: its processes' CPU ÷ the time it spent planning and executing statements", postgres,
        of("planning + executing", "ms", (r) => r.planMs + r.execMs), "profile.postgres-statements"),
      compare("per message: PostgreSQL's CPU ÷ Synapse's", postgres, of("Synapse's process", "CPU ms", (r) => r.synapseMs), "profile.postgres-synapse"),
    ];
    const last = runs[runs.length - 1];
    const notes = [
      `each round: one client (matrix-js-sdk) sends ${messages} messages one after another into a new room and reads them back through /sync, ` +
        "with pg_stat_statements (planning tracked) and PostgreSQL's statistics reset before it; the solo dev stack, no CPU or memory cap, one client: " +
        "not the performance scenario's load, and pg_stat_statements adds a little to PostgreSQL's own CPU",
      `statements per message: ${runs.map((r) => r.statements.toFixed(0)).join(", ")}; transactions per message: ${runs.map((r) => r.transactions.toFixed(0)).join(", ")} ` +
        "(each round, everything PostgreSQL ran meanwhile: Synapse's background jobs included)",
      `the statements that took longest (planning + executing) in the last round, with their calls per message: ` +
        last.top.map((t) => `${(t.calls / messages).toFixed(1)}× ${t.query.trim()}… ${(t.ms / messages).toFixed(2)} ms`).join("; "),
    ];
    return { comparisons, notes };
  } finally {
    await downVps(PROFILED);
  }
}
