// End-to-end: a homeserver deployed by the previous version of this program (the commit this one
// branched from) takes this version without a change it cannot explain. A refactor that says
// "behaviour stays the same" is held to it: the preview creates, deletes and replaces nothing;
// what updates is a remote command whose command text or staged content changed (explained
// below); the update restarts no service and changes no file on the host but the installed tools;
// and the next preview is empty.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { downVps } from "../sandbox/sandbox";
import { synadmConfigPath } from "../../render/admin";
import { adminTokenPath } from "../../render/maintenance";
import { deployConfigDir, deployStateDir, synapseConfigDir, synapseLocalUrl } from "../../render/paths";
import { repoRoot } from "./support/pulumi";
import { suiteNeeding } from "./support/requirements";
import { bootVps, changes, devStack, expectClean, httpsClient, outputDir, record, timed, Vps } from "./support/stack";

const suite = suiteNeeding("sandbox", "engine");
const minutes = (n: number) => n * 60_000;
/** This file's sandbox VPS. */
const N = 60;

/**
 * What an update may change, and why (the explanation a reviewer reads):
 * - a remote command's `create`/`delete`/`update` text: it carries the rendered script (parameters,
 *   where things are on the host, lib.sh and the script), so any change to a script or to lib.sh
 *   updates every step that runs it, and the step runs again (each converges);
 * - `stdin` of the steps that stage an installed tool: the tools carry a rendered header;
 * - `stdin` of the steps that stage the admin's access token (synadm's config, the maintenance
 *   tools' token file): the token is the stdout of synapse-admin-user, which runs again (its
 *   command text changed) and, as it always did when it runs, logs the admin in: a new access
 *   token (a new device; the earlier token stays valid), so these two files are rewritten.
 */
const explained = {
  inputs: new Set(["create", "delete", "update", "stdin"]),
  stdin: /-tool$|^admin-tools-synadm-config$|^maintenance-admin-token$/,
  /** Host files the update may rewrite: the installed tools and the admin's new token. */
  files: new RegExp(`^/usr/local/sbin/synapse-|^${adminTokenPath}$|^${synadmConfigPath}$`),
};

/**
 * Behaviour changed on purpose, each change declared with the commit that makes it: when the base
 * predates that commit, the steps whose staged content it changes, the files it rewrites and the
 * services it restarts are explained too, and nothing else is. The apply must still be clean, the
 * client still pass and the next preview be empty: this is the upgrade every existing host takes.
 */
const declared: { commit: string; why: string; stdin: RegExp; files: RegExp; restarts: RegExp }[] = [{
  commit: "6f0972c",
  why: "Synapse reaches PostgreSQL on its own host over the Unix socket: homeserver.yaml's database host and the passfile change, pg_hba gains Synapse's socket line, and Synapse's processes restart on the new config",
  stdin: /^synapse-staged-(homeserver|passfile)$/,
  files: new RegExp(`^${synapseConfigDir}/(homeserver\\.yaml|pgpass)$|^/etc/postgresql/[^/]+/[^/]+/pg_hba\\.conf$|^${deployStateDir}/applied/`),
  restarts: /^matrix-synapse/,
}];

/** The declared changes the base predates (HEAD has them, the base does not). */
function declaredSince(base: string): typeof declared {
  const isAncestor = (a: string, b: string) => {
    try { execFileSync("git", ["-C", repoRoot, "merge-base", "--is-ancestor", a, b]); return true; } catch { return false; }
  };
  return declared.filter((d) => isAncestor(d.commit, "HEAD") && !isAncestor(d.commit, base));
}

/** The revision to compare with: SYNAPSE_BASE_REV, else where this branch left main (on main: the previous commit). */
function baseRevision(): string {
  const git = (...args: string[]) => execFileSync("git", ["-C", repoRoot, ...args], { encoding: "utf8" }).trim();
  if (process.env.SYNAPSE_BASE_REV) return git("rev-parse", process.env.SYNAPSE_BASE_REV);
  const head = git("rev-parse", "HEAD");
  let base = head;
  try { base = git("merge-base", "HEAD", "main"); } catch { /* no local main: the previous commit */ }
  return base === head ? git("rev-parse", "HEAD^1") : base;
}

let vps: Vps;

/** What a deployed homeserver is on its host: the services' processes and the files the program manages. */
async function hostState(): Promise<{ services: Record<string, string>; files: Record<string, string> }> {
  const units = (await vps.sh("systemctl list-units --plain --no-legend --state=active 'matrix-synapse*' nginx.service redis-server.service 'postgresql@*' | awk '{ print $1 }'"))
    .stdout.trim().split("\n").filter(Boolean);
  const services: Record<string, string> = {};
  for (const u of units) services[u] = (await vps.sh(`systemctl show -p MainPID -p ExecMainStartTimestampMonotonic --value ${u}`)).stdout.trim().replace(/\n/g, " ");
  const sums = await vps.sh(`find ${synapseConfigDir} ${deployConfigDir} /etc/nginx/sites-available /etc/postgresql /etc/redis /usr/local/sbin ` +
    `${deployStateDir}/applied ${synadmConfigPath} -type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum; ` +
    "find /etc/systemd/system -maxdepth 2 -type f \\( -name 'matrix-synapse*' -o -name 'synapse-*' \\) -print0 | sort -z | xargs -0 -r sha256sum");
  const files = Object.fromEntries(sums.stdout.trim().split("\n").map((l) => { const [sum, ...f] = l.split(/\s+/); return [f.join(" "), sum]; }));
  return { services, files };
}

suite("a homeserver of the previous version, under this one", () => {
  beforeAll(async () => { vps = await bootVps(N, "base"); }, minutes(5));
  afterAll(async () => { if (process.env.E2E_KEEP !== "1") await downVps(N); }, minutes(2));

  test("previews only explained updates, applies them without a restart or a changed file, then nothing", () => timed("unchanged: previous version → this one", async () => {
    const base = baseRevision();
    const since = declaredSince(base);
    const stdinExplained = (name: string) => explained.stdin.test(name) || since.some((d) => d.stdin.test(name));
    const fileExplained = (f: string) => explained.files.test(f) || since.some((d) => d.files.test(f));
    const source = path.join(outputDir, `vps${N}-unchanged`, "previous");
    fs.rmSync(source, { recursive: true, force: true });
    fs.mkdirSync(source, { recursive: true });
    execFileSync("bash", ["-c", 'git -C "$1" archive "$2" | tar -x -C "$3"', "-", repoRoot, base, source]);
    // The community tier: workers, Redis and their routes besides everything of solo.
    const ws = await devStack(vps, `vps${N}-unchanged`, { tier: "community" }, source);
    const first = await ws.update("up");
    expectClean(first);
    record("pulumi", `pulumi up of the previous version (${base.slice(0, 7)}), community`, first.seconds);
    const before = await hostState();
    expect(Object.keys(before.services)).toEqual(expect.arrayContaining(["matrix-synapse.service", "nginx.service", "redis-server.service"]));

    ws.checkOutWorkingTree();
    const plan = await ws.plan();
    expect({ code: plan.code, stderr: plan.stderr }).toEqual({ code: 0, stderr: "" });
    const changed = plan.steps.filter((s) => s.op !== "same" && s.type !== "pulumi:pulumi:Stack" && !s.type.startsWith("pulumi:providers:"));
    fs.writeFileSync(path.join(outputDir, `vps${N}-unchanged`, "changes.json"),
      JSON.stringify({ base, declared: since.map((d) => `${d.commit}: ${d.why}`), changed: changed.map((s) => ({ name: s.name, op: s.op, diffs: s.diffs })) }, null, 2));
    // Nothing is created, deleted or replaced: the resources (their names and types) are the same.
    expect(changed.filter((s) => s.op !== "update").map((s) => `${s.name}:${s.op}`)).toEqual([]);
    expect(changed.filter((s) => s.type !== "command:remote:Command").map((s) => s.name)).toEqual([]);
    // Every update is explained: its command text, or an installed tool's staged content.
    const unexplained = changed.filter((s) => (s.diffs ?? []).some((d) => !explained.inputs.has(d))
      || ((s.diffs ?? []).includes("stdin") && !stdinExplained(s.name)));
    expect(unexplained.map((s) => `${s.name}: ${(s.diffs ?? []).join(", ")}`)).toEqual([]);

    const r = await ws.update("up");
    expectClean(r);
    expect(changes(r)).toEqual(changes(plan));
    record("pulumi", `pulumi up of this version over the previous one (${changed.length} steps run again)`, r.seconds);
    const after = await hostState();
    // No service restarted (the same process, started at the same moment) but a declared change's…
    const kept = (services: Record<string, string>) => Object.fromEntries(Object.entries(services).filter(([u]) => !since.some((d) => d.restarts.test(u))));
    expect(kept(after.services)).toEqual(kept(before.services));
    expect(Object.keys(after.services).sort()).toEqual(Object.keys(before.services).sort());
    // …and no file changed but the installed tools and a declared change's.
    const rewritten = Object.keys({ ...before.files, ...after.files }).filter((f) => before.files[f] !== after.files[f]);
    expect(rewritten.filter((f) => !fileExplained(f))).toEqual([]);
    fs.appendFileSync(path.join(outputDir, `vps${N}-unchanged`, "changes.json"), `\nrewritten on the host: ${JSON.stringify(rewritten)}\n`);

    // The admin's new token (rewritten above) is one Synapse accepts for its admin API.
    const admin = await vps.sh(`curl -fsS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat ${adminTokenPath})" ${synapseLocalUrl}/_synapse/admin/v1/server_version`);
    expect(admin.stdout).toBe("200");
    const https = await httpsClient(vps);
    try {
      expect((await https.get("https://matrix.sandbox.test/_matrix/client/versions")).status).toBe(200);
    } finally {
      https.close();
    }
    const steady = await ws.plan();
    expect(changes(steady)).toEqual([]);
  }), minutes(25));
});
