// npm run admin -- <command>: operations on the homeserver from your own machine, over the
// stack's SSH connection. The hosts and the key come from the stack's `adminAccess` output
// (`pulumi stack output`, the stack selected in this checkout or --stack). Each command runs the
// tool the program installed on the host and passes its output and exit status through.
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Table from "cli-table3";
import { Command, CommanderError } from "commander";
// Where things are on the hosts, as the program renders it. Node runs this file as an ES module
// (type stripping), which imports JSON only with its type; the type check and jest compile it to
// CommonJS, whose require needs none (TS2856).
// @ts-expect-error TS2856
import hostLayout from "../config/hostLayout.json" with { type: "json" };

const synapseHealth = `http://${hostLayout.synapseListen.host}:${hostLayout.synapseListen.port}/health`;
const workerUnits = hostLayout.workerUnitTemplate.replace("@.", "@*.");
const runName = hostLayout.backupRunName.pattern;

export interface HostAccess { host: string; port: number; user: string; privateKey: string }
export interface AdminAccess { synapse: HostAccess; database: HostAccess }
export interface HostResult { code: number; stdout: string; stderr?: string }

/** An error the CLI reports in one line, with its own exit status. */
export class AdminError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** `pulumi stack output [name] --json`, through the Pulumi CLI the user already has. */
function stackOutput(name: string | undefined, secrets: boolean, stack: string | undefined, cwd: string): any {
  const all = ["stack", "output", ...(name ? [name] : []), "--json", ...(secrets ? ["--show-secrets"] : []), ...(stack ? ["--stack", stack] : [])];
  const r = spawnSync("pulumi", all, { cwd, encoding: "utf8" });
  if (r.error) throw new AdminError(`cannot run the Pulumi CLI: ${r.error.message}`, 3);
  if (r.status !== 0) throw new AdminError(`pulumi ${all.slice(0, 3).join(" ")} failed: ${r.stderr.trim() || r.stdout.trim()}`, 3);
  return JSON.parse(r.stdout || "null");
}

/** The stack's `adminAccess` output. */
export function stackAccess(stack: string | undefined, cwd: string): AdminAccess {
  const access = stackOutput("adminAccess", true, stack, cwd);
  if (!access?.synapse?.host) throw new AdminError("the stack has no adminAccess output: run `pulumi up` first", 3);
  return access;
}

/** The versions the stack pins (its synapseVersion and postgresVersion outputs). */
export interface Pins { synapseVersion?: string; postgresVersion?: string }
export function stackPins(stack: string | undefined, cwd: string): Pins {
  const outputs = stackOutput(undefined, false, stack, cwd) ?? {};
  return { synapseVersion: outputs.synapseVersion, postgresVersion: outputs.postgresVersion };
}

/**
 * Runs `command` on the host as root (sudo for another user), with the stack's key in a 0600
 * file that is removed afterwards. Host keys are remembered per checkout in .admin/known_hosts.
 */
export async function onHost(access: HostAccess, command: string, cwd: string, capture = false, input?: string): Promise<HostResult> {
  const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-admin-"));
  const key = path.join(keyDir, "key");
  fs.writeFileSync(key, access.privateKey.endsWith("\n") ? access.privateKey : `${access.privateKey}\n`, { mode: 0o600 });
  const knownHosts = path.join(cwd, ".admin", "known_hosts");
  fs.mkdirSync(path.dirname(knownHosts), { recursive: true });
  const remote = access.user === "root" ? command : `sudo -n bash -c ${shellQuote(command)}`;
  try {
    const child = spawn("ssh", [
      "-i", key, "-p", String(access.port), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=15",
      "-o", "StrictHostKeyChecking=accept-new", "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "LogLevel=ERROR",
      `${access.user}@${access.host}`, "--", remote,
    ], { stdio: [input === undefined ? "ignore" : "pipe", capture ? "pipe" : "inherit", "pipe"] });
    // Secrets (an age key) go on ssh's stdin, never into the remote command.
    child.stdin?.end(input);
    let stdout = "";
    child.stdout?.on("data", (d) => { stdout += d; });
    let stderr = "";
    child.stderr?.on("data", (d) => { stderr += d; process.stderr.write(d); });
    const code = await new Promise<number>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (c) => resolve(c ?? 1));
    });
    // ssh's own failures exit 255: say which host could not be reached.
    if (code === 255) throw new AdminError(`cannot reach ${access.user}@${access.host}:${access.port} over SSH${stderr ? "" : " (no reason given)"}`, 255);
    return { code, stdout, stderr };
  } finally {
    fs.rmSync(keyDir, { recursive: true, force: true });
  }
}

// render/script.ts has a shellQuote too, but Node's type stripping runs this file as ESM, which
// can import another .ts file only by its extension, and tsc refuses such imports in this
// project: so this small copy, which always quotes.
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The remote command of each subcommand (what the host's tools do is theirs). */
export const remoteCommands = {
  dbReport: (json: boolean) => `synapse-db-report${json ? " --json" : ""}`,
  // The service runs as its timer would; its lines of this run are printed from the journal.
  compressState: () => [
    "since=$(date '+%Y-%m-%d %H:%M:%S')",
    "rc=0; systemctl start synapse-compress-state.service || rc=$?",
    "journalctl -u synapse-compress-state --since \"$since\" --no-pager -o cat | grep '^synapse-compress-state:' || true",
    "exit $rc",
  ].join("; "),
  backupNow: () => [
    "since=$(date '+%Y-%m-%d %H:%M:%S')",
    "rc=0; systemctl start synapse-backup.service || rc=$?",
    "journalctl -u synapse-backup --since \"$since\" --no-pager -o cat | grep '^synapse-backup:' || true",
    "exit $rc",
  ].join("; "),
  // What each table holds and what a rebuild would give back, and the last treatment; nothing
  // when the tool is not installed (reclaimSpace off): `{}`.
  reclaimMeasure: () => "if command -v synapse-reclaim >/dev/null; then printf '{\"tables\":'; synapse-reclaim --measure --json; " +
    "printf ',\"lastReclaim\":'; synapse-reclaim --status --json 2>/dev/null || printf null; printf '}\\n'; else echo '{}'; fi",
  reclaim: () => [
    "since=$(date '+%Y-%m-%d %H:%M:%S')",
    "rc=0; systemctl start synapse-reclaim.service || rc=$?",
    "journalctl -u synapse-reclaim --since \"$since\" --no-pager -o cat | grep '^synapse-reclaim:' || true",
    "exit $rc",
  ].join("; "),
  // The fallback's window: Synapse and the workers running on its VPS stopped (their names kept),
  // then started again once the database host is done; each start waits for health.
  stopSynapse: () => `systemctl list-units --state=active --plain --no-legend '${workerUnits}' | awk '{ print $1 }' > /run/synapse-deploy-stopped-workers; ` +
    "systemctl stop matrix-synapse",
  startSynapse: () => "systemctl start matrix-synapse && xargs -r systemctl start < /run/synapse-deploy-stopped-workers; rm -f /run/synapse-deploy-stopped-workers; " +
    `for i in $(seq 120); do curl -fs -o /dev/null ${synapseHealth} && exit 0; sleep 1; done; exit 69`,
  vacuumFull: () => "synapse-reclaim --vacuum-full",
  backupStatus: (json: boolean) => `synapse-backup --status${json ? " --json" : ""}`,
  // What runs on a host, one `key=value` a line: the OS, Python, the Synapse its venv or the system
  // Python imports, each PostgreSQL cluster, and the server on PostgreSQL's port (the one serving).
  versions: () => [
    'printf "os=%s\\n" "$(. /etc/os-release && echo "$PRETTY_NAME")"',
    'command -v python3 >/dev/null && printf "python=%s\\n" "$(python3 -c "import platform; print(platform.python_version())")"',
    `py=/usr/bin/python3; [ -x ${hostLayout.synapseVenv}/bin/python ] && py=${hostLayout.synapseVenv}/bin/python`,
    `"$py" -c 'import synapse; print("synapse=" + synapse.__version__)' 2>/dev/null`,
    "command -v pg_lsclusters >/dev/null && pg_lsclusters --no-header | awk '{ print \"cluster=\" $1 \"/\" $2 \" \" $3 \" \" $4 }'",
    'command -v psql >/dev/null && printf "postgres=%s\\n" "$(runuser -u postgres -- psql -p 5432 -XAtc \"SHOW server_version\" 2>/dev/null)"',
    "true",
  ].join("; "),
  // The monitoring's view (Prometheus, Alertmanager), or `{}` when monitoring is off.
  status: () => "if command -v synapse-status >/dev/null; then synapse-status; else echo '{}'; fi",
  backupList: (json: boolean) => `synapse-backup --list${json ? " --json" : ""}`,
  // Synapse is stopped for the restore and started again; the current state is backed up first.
  restore: (source: string, identity: boolean) =>
    `synapse-restore --overwrite --start${identity ? " --identity -" : ""} ${shellQuote(source)}`,
  // synadm has no terminal to prompt on over ssh: --batch, after our own confirmation. Synapse
  // answering first makes "Synapse is down" an error of its own, not synadm's traceback.
  synadm: (args: string[], json: boolean) =>
    `curl -fsS -o /dev/null --max-time 10 ${synapseHealth} || exit 69; synadm --batch${json ? " -o json" : ""} ${args.map(shellQuote).join(" ")}`,
};

/** synadm commands that delete or lock something away: asked about first, unless --yes. */
const destructive = /^(deactivate|delete|purge|quarantine|redact|block|shadow-ban)$/;
export function isDestructive(args: string[]): boolean {
  const words = args.filter((a) => !a.startsWith("-"));
  return words.length >= 2 && destructive.test(words[1]);
}

export interface Deps {
  access: (stack: string | undefined) => AdminAccess;
  pins: (stack: string | undefined) => Pins;
  run: (host: HostAccess, command: string, capture?: boolean, input?: string) => Promise<HostResult>;
  readFile: (file: string) => string;
  confirm: (question: string) => Promise<boolean>;
  sleep: (ms: number) => Promise<void>;
  print: (text: string) => void;
}

/**
 * Exit status 69 (EX_UNAVAILABLE) from the host: Synapse did not answer its health check. synadm
 * prints Synapse's error (an unknown user or room: 404) and still exits 0, logging the HTTP
 * status on stderr: that becomes a failure here.
 */
function checked(r: HostResult): number {
  if (r.code === 69) throw new AdminError(`Synapse is not answering on the host (${synapseHealth}): see systemctl status matrix-synapse`, 69);
  const refused = /Synapse returned status code (\d{3})/.exec(r.stderr ?? "");
  if (r.code === 0 && refused) {
    const status = Number(refused[1]);
    throw new AdminError(status === 404
      ? "Synapse answered 404: no such user, room or media (check the ID, with its :server part)"
      : `Synapse answered ${status}: see synadm's output above`, 1);
  }
  return r.code;
}

export function program(deps: Deps, setExit: (code: number) => void): Command {
  const cli = new Command("npm run admin --")
    .description("Operations on the homeserver this stack deployed, over its SSH connection.")
    .option("-s, --stack <name>", "the Pulumi stack (default: the selected one)")
    .exitOverride()
    .showHelpAfterError();
  const access = () => deps.access(cli.opts().stack);
  const confirmOrStop = async (yes: boolean | undefined, question: string) => {
    if (!yes && !(await deps.confirm(question))) throw new AdminError("not confirmed: nothing was done (--yes skips the question)", 1);
  };
  cli.command("db-report")
    .description("the database report: size, growth, state, media (synapse-db-report), and per table what it holds and what a rebuild would " +
      "give back, with the last treatment (synapse-reclaim, on the database host); exits 2 on a growth alert")
    .option("--json", "one JSON object, for scripts")
    .action(async (o: { json?: boolean }) => {
      const hosts = access();
      const report = await deps.run(hosts.synapse, remoteCommands.dbReport(true), true);
      const parsed = parseJson(report.stdout);
      if (!parsed) throw new AdminError(`synapse-db-report gave no report (exit ${report.code}): see above`, report.code || 1);
      const space = parseJson((await deps.run(hosts.database, remoteCommands.reclaimMeasure(), true)).stdout) ?? {};
      const merged = { ...parsed, ...space };
      deps.print(o.json ? `${JSON.stringify(merged)}\n` : renderDbReport(merged));
      setExit(report.code);
    });
  cli.command("reclaim")
    .description("give the space deleted rows left in the database back to the disk now, online (synapse-reclaim on the database host), and print its result")
    .option("--vacuum-full", "the fallback where pg_repack cannot run: stop Synapse, rewrite the same tables with VACUUM FULL, start Synapse (downtime: asks first)")
    .option("--yes", "do not ask for confirmation")
    .action(async (o: { vacuumFull?: boolean; yes?: boolean }) => {
      const hosts = access();
      if (!o.vacuumFull) return setExit((await deps.run(hosts.database, remoteCommands.reclaim())).code);
      await confirmOrStop(o.yes, `Stop Synapse on ${hosts.synapse.host} while the database's bloated tables are rewritten (VACUUM FULL)? The homeserver is down meanwhile.`);
      const t0 = Date.now();
      const stopped = await deps.run(hosts.synapse, remoteCommands.stopSynapse());
      if (stopped.code !== 0) throw new AdminError("could not stop Synapse: nothing was rewritten", stopped.code);
      let code = 1;
      try {
        code = (await deps.run(hosts.database, remoteCommands.vacuumFull())).code;
      } finally {
        const started = await deps.run(hosts.synapse, remoteCommands.startSynapse());
        deps.print(`Synapse was down ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
        if (started.code !== 0) throw new AdminError("Synapse did not come back: see systemctl status matrix-synapse", 69);
      }
      setExit(code);
    });
  cli.command("status")
    .description("one screen of the homeserver's health (needs monitoring): each Synapse process, the services it needs, the alerts firing, " +
      "the database's size and growth, each certificate's expiry, the last good backup; exits 1 when a process is down or an alert fires")
    .option("--json", "one JSON object, for scripts")
    .action(async (o: { json?: boolean }) => {
      const r = await deps.run(access().synapse, remoteCommands.status(), true);
      const status = parseJson(r.stdout);
      if (r.code !== 0 || !status) throw new AdminError(`synapse-status gave no status (exit ${r.code}): see above`, r.code || 1);
      if (!("up" in status)) throw new AdminError("monitoring is off: set monitoring to true (with adminUser) and run pulumi up", 3);
      const view = statusView(status);
      deps.print(o.json ? `${JSON.stringify(status)}\n` : renderStatus(view));
      setExit(view.healthy ? 0 : 1);
    });
  cli.command("compress-state")
    .description("run the state compressor now (synapse-compress-state on the database host) and print its result")
    .action(async () => setExit((await deps.run(access().database, remoteCommands.compressState())).code));
  cli.command("backup-now")
    .description("run a backup now (synapse-backup on the Synapse VPS) and print its result")
    .action(async () => setExit((await deps.run(access().synapse, remoteCommands.backupNow())).code));
  cli.command("backup-status")
    .description("the last good backup: when, how old, where, what it holds; exits 1 when there is none")
    .option("--json", "one JSON object, for scripts")
    .action(async (o: { json?: boolean }) => setExit((await deps.run(access().synapse, remoteCommands.backupStatus(!!o.json))).code));
  cli.command("backup-list")
    .description("the backup runs kept on the Synapse VPS and in the off-host copy, by name (what restore takes)")
    .option("--json", "one JSON object, for scripts")
    .action(async (o: { json?: boolean }) => setExit((await deps.run(access().synapse, remoteCommands.backupList(!!o.json))).code));
  cli.command("restore")
    .description("replace the running homeserver's database, signing key and media with a backup (synapse-restore); Synapse is stopped meanwhile and its current state is backed up first")
    .argument("<source>", "offsite (the newest off-host run), offsite:<run>, <run> (kept on the VPS) or the path of a run directory or archive on the VPS")
    .option("--identity-file <file>", "the age private key (a file here) that decrypts an off-host or .tar.age source")
    .option("--yes", "do not ask for confirmation")
    .action(async (source: string, o: { identityFile?: string; yes?: boolean }) => {
      if (!new RegExp(`^(offsite|offsite:${runName}|${runName}|/[A-Za-z0-9._/-]+)$`).test(source)) {
        throw new AdminError(`given ${JSON.stringify(source)}, expected offsite, offsite:<run>, <run> or an absolute path (backup-list shows the runs)`, 2);
      }
      if ((source.startsWith("offsite") || source.endsWith(".age")) && !o.identityFile) {
        throw new AdminError(`${source} is encrypted: give the age private key with --identity-file`, 2);
      }
      const identity = o.identityFile ? deps.readFile(o.identityFile) : undefined;
      const host = access().synapse;
      await confirmOrStop(o.yes, `Replace the homeserver on ${host.host} (its database, signing key and media) with backup ${source}? Messages since that backup are lost.`);
      setExit((await deps.run(host, remoteCommands.restore(source, identity !== undefined), false, identity)).code);
    });
  cli.command("versions")
    .description("what runs on each host, Synapse, PostgreSQL (every cluster), Python and the OS, against what the stack pins; exits 2 when a host differs")
    .option("--json", "one JSON object, for scripts")
    .action(async (o: { json?: boolean }) => {
      const hosts = access();
      const pins = deps.pins(cli.opts().stack);
      const same = hosts.database.host === hosts.synapse.host && hosts.database.port === hosts.synapse.port;
      const roles: [string, HostAccess][] = same ? [["synapse, database", hosts.synapse]] : [["synapse", hosts.synapse], ["database", hosts.database]];
      const found: HostVersions[] = [];
      for (const [role, host] of roles) {
        const r = await deps.run(host, remoteCommands.versions(), true);
        if (r.code !== 0) throw new AdminError(`cannot read the versions on ${host.host}`, r.code);
        found.push({ role, host: host.host, ...parseVersions(r.stdout) });
      }
      const report = versionsReport(found, pins);
      deps.print(o.json ? `${JSON.stringify(report)}\n` : renderVersions(report));
      setExit(report.differs.length > 0 ? 2 : 0);
    });
  cli.command("synadm")
    .description("run synadm on the Synapse VPS as the admin, e.g. `synadm user list`; --json for JSON, --yes skips the confirmation of deactivations, purges and deletions")
    .argument("[args...]", "synadm's own arguments")
    .allowUnknownOption()
    .helpOption(false)
    .action(async (raw: string[]) => {
      const yes = raw.includes("--yes");
      const json = raw.includes("--json");
      const args = raw.filter((a) => a !== "--yes" && a !== "--json");
      if (isDestructive(args)) await confirmOrStop(yes, `Run \`synadm ${args.join(" ")}\` on the homeserver? This cannot be undone.`);
      setExit(checked(await deps.run(access().synapse, remoteCommands.synadm(args, json))));
    });
  cli.command("purge-history")
    .description("purge a room's history older than a point through synadm, and wait for the purge to end")
    .argument("<room>", "the room ID (!…:server)")
    .requiredOption("--before-days <n>", "purge events older than this many days")
    .option("--delete-local", "also events sent by local users (by default Synapse keeps them: they may be the only copies)")
    .option("--yes", "do not ask for confirmation")
    .option("--json", "print the final status as JSON")
    .action(async (room: string, o: { beforeDays: string; deleteLocal?: boolean; yes?: boolean; json?: boolean }) => {
      if (!/^\d+$/.test(o.beforeDays)) throw new AdminError(`--before-days: given ${JSON.stringify(o.beforeDays)}, expected a whole number of days`, 2);
      await confirmOrStop(o.yes, `Purge the history of ${room} older than ${o.beforeDays} days? This cannot be undone.`);
      const host = access().synapse;
      const started = await deps.run(host, remoteCommands.synadm(["history", "purge", room, "--before-days", o.beforeDays, ...(o.deleteLocal ? ["--delete-local"] : [])], true), true);
      if (checked(started) !== 0) throw new AdminError(`synadm could not start the purge of ${room}: ${started.stdout.trim() || "see above"}`, 1);
      const purgeId = parseJson(started.stdout)?.purge_id;
      if (!purgeId) throw new AdminError(`synadm did not return a purge ID: ${started.stdout.trim()}`, 1);
      for (;;) {
        const polled = await deps.run(host, remoteCommands.synadm(["history", "purge-status", purgeId], true), true);
        const status = checked(polled) === 0 ? parseJson(polled.stdout)?.status : undefined;
        if (status === "complete" || status === "failed") {
          deps.print(o.json ? `${JSON.stringify({ room, purgeId, status })}\n` : `purge ${purgeId} of ${room}: ${status}\n`);
          setExit(status === "complete" ? 0 : 1);
          return;
        }
        if (status !== "active") throw new AdminError(`unexpected purge status for ${purgeId}: ${polled.stdout.trim()}`, 1);
        await deps.sleep(2000);
      }
    });
  return cli;
}

/** What runs on one host. */
export interface HostVersions {
  role: string;
  host: string;
  os?: string;
  python?: string;
  synapse?: string;
  /** The server on PostgreSQL's port: the cluster serving Synapse. */
  postgres?: string;
  /** Every cluster: "18/main 5432 online". */
  clusters: string[];
}

export function parseVersions(text: string): Omit<HostVersions, "role" | "host"> {
  const out: Omit<HostVersions, "role" | "host"> = { clusters: [] };
  for (const line of text.split("\n")) {
    const m = /^(os|python|synapse|postgres|cluster)=(.*)$/.exec(line.trim());
    if (!m || m[2] === "") continue;
    if (m[1] === "cluster") out.clusters.push(m[2]);
    else out[m[1] as "os" | "python" | "synapse" | "postgres"] = m[2];
  }
  return out;
}

/** The hosts' versions against the stack's pins, and every difference in words. */
export function versionsReport(hosts: HostVersions[], pins: Pins): { hosts: HostVersions[]; pins: Pins; differs: string[] } {
  const differs: string[] = [];
  for (const h of hosts) {
    if (pins.synapseVersion && h.synapse && h.synapse !== pins.synapseVersion) {
      differs.push(`${h.host} runs Synapse ${h.synapse}, the stack pins ${pins.synapseVersion}`);
    }
    const major = h.postgres?.split(".")[0];
    if (pins.postgresVersion && major && major !== pins.postgresVersion) {
      differs.push(`${h.host} serves the database from PostgreSQL ${h.postgres}, the stack pins ${pins.postgresVersion}`);
    }
  }
  return { hosts, pins, differs };
}

export function renderVersions(r: ReturnType<typeof versionsReport>): string {
  const table = new Table({ head: ["host", "Synapse", "PostgreSQL", "Python", "OS"], style: { head: [], border: [] } });
  for (const h of r.hosts) {
    const others = h.clusters.filter((c) => !c.includes(" 5432 ")).map((c) => `also ${c}`);
    table.push([`${h.host} (${h.role})`, h.synapse ?? "–", [h.postgres ?? "–", ...others].join("\n"), h.python ?? "–", h.os ?? "?"]);
  }
  const lines = [table.toString(), `the stack pins: Synapse ${r.pins.synapseVersion ?? "?"}, PostgreSQL ${r.pins.postgresVersion ?? "?"}`];
  lines.push(...(r.differs.length ? r.differs.map((d) => `DIFFERS: ${d}`) : ["every host runs what the stack pins"]));
  return `${lines.join("\n")}\n`;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

/** The merged report for people: the summary, a table per table, the last treatment, the trend. */
export function renderDbReport(r: any): string {
  const lines = [`database: ${mib(r.databaseBytes)}` + (r.growthBytesPerDay === null ? " (no report an hour or more older to compare with yet)" : `, growing ${mib(r.growthBytesPerDay)} per day since the last report`),
    `state: ${r.stateGroupsStateRows} rows in state_groups_state (estimate), ${r.stateGroups} state groups`,
    `media: ${mib(r.mediaLocalBytes)} uploaded here, ${mib(r.mediaRemoteBytes)} cached from other servers, ${mib(r.mediaOnDiskBytes)} on this disk`];
  const table = new Table({ head: ["table", "on disk", "live", "reclaimable"], colAligns: ["left", "right", "right", "right"], style: { head: [], border: [] } });
  if (Array.isArray(r.tables)) {
    for (const t of r.tables.slice(0, 15)) {
      table.push([t.table, mib(t.bytes), mib(t.bytes - t.reclaimable), `${mib(t.reclaimable)} (${Math.round((100 * t.reclaimable) / Math.max(t.bytes, 1))} %)`]);
    }
  } else {
    for (const [name, bytes] of r.largestTables as [string, number][]) table.push([name, mib(bytes), "?", "?"]);
  }
  lines.push(table.toString());
  if (!Array.isArray(r.tables)) lines.push("(live and reclaimable bytes come from synapse-reclaim on the database host: reclaimSpace is off)");
  // Big rooms are where the state tables grow (each state change costs about 1 + members/100 rows).
  if (Array.isArray(r.roomsByStateGroups) && r.roomsByStateGroups.length > 0) {
    lines.push("rooms with the most state groups:", ...r.roomsByStateGroups.map(([room, count]: [string, number]) => `  ${room}  ${count}`));
  }
  if (r.lastReclaim) {
    lines.push(`last treatment, ${r.lastReclaim.time}: ${r.lastReclaim.summary}`);
    for (const t of r.lastReclaim.tables) lines.push(`  ${t.table}: ${t.outcome}`);
  }
  if (Array.isArray(r.history) && r.history.length > 1) {
    lines.push("trend (reports, oldest first): " + r.history.map(([time, bytes]: [number, number]) => `${new Date(time * 1000).toISOString().slice(0, 10)} ${mib(bytes)}`).join(", "));
  }
  return `${lines.join("\n")}\n`;
}

/** A Prometheus instant query's answer: its series' labels and values (none when it did not answer). */
const samples = (answer: any): { labels: Record<string, string>; value: number }[] =>
  (answer?.data?.result ?? []).map((r: any) => ({ labels: r.metric, value: Number(r.value[1]) }));

export interface StatusView {
  /** false when Prometheus did not answer. */
  prometheus: boolean;
  processes: { process: string; host: string; up: boolean }[];
  servicesDown: string[];
  services: number;
  alerts: { name: string; severity: string; summary: string; since: string }[];
  databaseBytes?: number;
  growthBytesPerDay?: number;
  certificates: { site: string; expires: number }[];
  backup?: { time: number; ageSeconds: number; run: string };
  healthy: boolean;
}

/** synapse-status's answer, read. */
export function statusView(s: any): StatusView {
  const processes = samples(s.up).map((x) => ({ process: x.labels.process, host: x.labels.host, up: x.value === 1 }))
    .sort((a, b) => (a.process === "main" ? -1 : b.process === "main" ? 1 : a.process.localeCompare(b.process)));
  const services = samples(s.services);
  const alerts = (Array.isArray(s.alerts) ? s.alerts : []).map((a: any) => ({
    name: a.labels.alertname, severity: a.labels.severity ?? "", summary: a.annotations?.summary ?? "", since: a.startsAt,
  }));
  const view: StatusView = {
    prometheus: s.up !== null,
    processes,
    servicesDown: services.filter((x) => x.value !== 1).map((x) => x.labels.name).sort(),
    services: services.length,
    alerts,
    databaseBytes: samples(s.databaseBytes)[0]?.value,
    growthBytesPerDay: samples(s.growthBytesPerDay)[0]?.value,
    certificates: samples(s.certificates).map((x) => ({ site: x.labels.site, expires: x.value })),
    backup: s.backup ?? undefined,
    healthy: false,
  };
  view.healthy = view.prometheus && processes.every((p) => p.up) && view.servicesDown.length === 0 && alerts.length === 0;
  return view;
}

const ago = (seconds: number) => (seconds >= 86400 ? `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`
  : seconds >= 3600 ? `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min` : `${Math.floor(seconds / 60)} min`);
const utc = (unixSeconds: number) => `${new Date(unixSeconds * 1000).toISOString().slice(0, 16).replace("T", " ")} UTC`;

export function renderStatus(v: StatusView, now = Date.now() / 1000): string {
  if (!v.prometheus) return "Prometheus is not answering on the Synapse VPS: systemctl status prometheus\n";
  const table = new Table({ head: ["process", "host", "state"], style: { head: [], border: [] } });
  for (const p of v.processes) table.push([p.process, p.host, p.up ? "up" : "DOWN"]);
  const lines = [table.toString(),
    v.servicesDown.length > 0 ? `services down: ${v.servicesDown.join(", ")}` : `services: all ${v.services} running`];
  if (v.alerts.length === 0) lines.push("alerts: none firing");
  else {
    lines.push(`alerts firing (${v.alerts.length}):`);
    for (const a of v.alerts) lines.push(`  ${a.severity.padEnd(8)} ${a.name}: ${a.summary} (since ${a.since.slice(0, 16).replace("T", " ")} UTC)`);
  }
  if (v.databaseBytes !== undefined) {
    lines.push(`database: ${mib(v.databaseBytes)}${v.growthBytesPerDay === undefined ? "" : `, growing ${mib(v.growthBytesPerDay)} a day (over the last day)`}`);
  }
  lines.push(v.backup ? `last good backup: ${utc(v.backup.time)} (${ago(v.backup.ageSeconds)} ago), ${v.backup.run}` : "last good backup: none yet");
  for (const c of v.certificates) lines.push(`certificate ${c.site}: expires ${utc(c.expires)} (in ${ago(c.expires - now)})`);
  return `${lines.join("\n")}\n`;
}

function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function askOnTerminal(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) throw new AdminError("this cannot be undone and there is no terminal to confirm on: add --yes", 1);
  const rl = (await import("node:readline/promises")).createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

export async function main(argv: string[], cwd = process.cwd()): Promise<number> {
  let exitCode = 0;
  const cli = program({
    access: (stack) => stackAccess(stack, cwd),
    pins: (stack) => stackPins(stack, cwd),
    run: (host, command, capture, input) => onHost(host, command, cwd, capture, input),
    readFile: (file) => {
      try {
        return fs.readFileSync(file, "utf8");
      } catch (e) {
        throw new AdminError(`cannot read ${file}: ${(e as Error).message}`, 2);
      }
    },
    confirm: askOnTerminal,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    print: (text) => process.stdout.write(text),
  }, (c) => { exitCode = c; });
  try {
    await cli.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof AdminError) {
      process.stderr.write(`admin: ${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  }
}
