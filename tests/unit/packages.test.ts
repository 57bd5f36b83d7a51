// Each host's Debian packages in one apt transaction before the components' steps: which host
// gets what, and how the program orders the step.
import * as fs from "node:fs";
import * as path from "node:path";
import { parseSettings, RawConfig } from "../../config";
import { componentPackages, hostPackagePlans, synapsePackagesFrom } from "../../render/packages";
import { validRaw } from "../support/fixtures";
import { runProgram } from "../support/mockProgram";

const repoRoot = path.join(__dirname, "..", "..");

const plansOf = (raw: RawConfig) => {
  const r = parseSettings({ ...validRaw(), ...raw });
  if (!r.ok) throw new Error(r.errors.join("\n"));
  return hostPackagePlans(r.settings).map((p) => ({ role: p.role, host: p.connection.host, packages: p.packages, synapse: p.synapse }));
};

describe("host package plans", () => {
  it("puts everything of a solo stack on its one host, Synapse's package with its debconf answers", () => {
    const [plan, ...others] = plansOf({ host: "203.0.113.10", tier: "solo", packageSource: "debian", adminUser: "admin", tlsMode: "self-signed" });
    expect(others).toEqual([]);
    expect(plan.role).toBe("synapse");
    expect(plan.packages).toEqual(["age", "ca-certificates", "curl", "debconf-utils", "nginx", "openssl", "postgresql-%s", "postgresql-%s-repack", "python3",
      "python3-venv", "sqlite3", "ssl-cert"]);
    expect(plan.synapse).toMatchObject({ source: "debian", reportStats: false });
  });

  it("adds certbot with ACME, Redis with workers (and its client libraries for Debian's package), rclone with an off-host copy", () => {
    const plan = plansOf({
      host: "203.0.113.10", tier: "community", packageSource: "debian", tlsMode: "acme", acmeEmail: "ops@example.org",
      backupBucket: "backups", backupAccessKeyId: "AKIA1", backupSecretAccessKey: "s3cret", backupAgeRecipient: `age1${"q".repeat(58)}`,
    })[0];
    expect(plan.packages).toEqual(expect.arrayContaining(["certbot", "redis-server", "python3-hiredis", "rclone", "age"]));
    const orgPlan = plansOf({ host: "203.0.113.10", tier: "community", packageSource: "matrix-org" })[0];
    expect(orgPlan.packages).toContain("redis-server");
    expect(orgPlan.packages).not.toContain("python3-hiredis");
    expect(orgPlan.packages).not.toContain("python3-venv"); // no admin, no synadm
  });

  it("gives a database box PostgreSQL and its firewall, worker hosts Synapse, and a well-known host nginx", () => {
    const plans = plansOf({
      host: "10.0.0.2", databaseHost: "10.0.0.3", tier: "large", workerHosts: '["10.0.0.4"]', packageSource: "debian",
      serverName: "example.org", matrixHost: "matrix.example.org", wellKnownHost: "10.0.0.9",
    });
    expect(plans.map((p) => [p.role, p.host])).toEqual([["synapse", "10.0.0.2"], ["database", "10.0.0.3"], ["well-known", "10.0.0.9"], ["worker-host-1", "10.0.0.4"]]);
    expect(plans[0].packages).not.toContain("postgresql-%s");
    expect(plans[1]).toMatchObject({ packages: ["nftables", "postgresql-%s", "postgresql-%s-repack"], synapse: undefined });
    expect(plans[2].packages).toEqual(["certbot", "nginx", "openssl", "ssl-cert"]); // validRaw uses ACME
    expect(plans[3].packages).toEqual(expect.arrayContaining(["nftables", "python3-hiredis", "python3"]));
    expect(plans[3].synapse).toBeDefined();
  });
});

describe("the host-packages step", () => {
  const stack = { serverName: "example.org", host: "203.0.113.10", tlsMode: "self-signed", packageSource: "debian", adminUser: "admin" };

  it("runs first on the host, after the versions are resolved, with the packages, the versions and Synapse's debconf answers as parameters", async () => {
    const run = await runProgram(stack, undefined, { "upgrades-synapse-version-debian": "1.160.0\n", "upgrades-postgres-version": "18/main\n" });
    const step = run.byName("host-packages-synapse");
    expect(step.inputs.create).toContain("SCRIPT_NAME=host-packages\n");
    expect(step.inputs.create).toMatch(
      /\nPACKAGES='age ca-certificates curl [^']*postgresql-%s[^']*'\nPG_MAJOR=18\nSOURCE=debian\nSERVER_NAME=example.org\nREPORT_STATS=false\nSYNAPSE_VERSION=1.160.0\n/);
    const first = run.resources.filter((r) => r.type === "command:remote:Command" && !r.name.endsWith("-teardown") && !r.name.startsWith("upgrades-"))
      .sort((a, b) => a.started - b.started)[0];
    expect(first.name).toBe("host-packages-synapse");
    for (const resolve of ["upgrades-synapse-version-debian", "upgrades-postgres-version"]) {
      expect({ resolve, before: run.byName(resolve).finished < step.started }).toEqual({ resolve, before: true });
    }
    for (const later of ["postgres-cluster", "synapse-preflight", "nginx-packages", "backups-packages", "admin-tools-synadm"]) {
      expect({ later, after: run.byName(later).started > step.finished }).toEqual({ later, after: true });
    }
  });

  it("lets synadm's install from PyPI run beside Synapse's steps; only its config waits for the admin's token", async () => {
    const run = await runProgram(stack);
    expect(run.byName("admin-tools-synadm").started).toBeLessThan(run.byName("synapse-activate").finished);
    expect(run.byName("admin-tools-synadm-config").started).toBeGreaterThan(run.byName("synapse-admin-user").finished);
  });
});

describe("the one package list", () => {
  // Every Debian package name render/packages.ts knows: scripts get theirs as parameters.
  const known = [...new Set([
    ...Object.values(componentPackages).flatMap((list) => (typeof list === "function" ? list(true) : list)),
    ...synapsePackagesFrom("matrix-org"), ...synapsePackagesFrom("debian"),
  ])];
  const operations = /\b(ensure_packages|apt_install_services_down|apt_install|packages_missing|apt_candidate|dpkg-query\s+-W|apt-get\s+install|apt_locked\s+install|apt-cache\s+(?:depends|policy|show))\b(.*)$/;
  const code = (text: string) => text.split("\n").map((line, i) => ({ n: i + 1, line: line.replace(/(^|\s)#.*$/, "") }))
    .filter(({ line }) => line.trim() !== "");
  const files = ["scripts", "host-tools"].flatMap((dir) => fs.readdirSync(path.join(repoRoot, dir)).filter((f) => f.endsWith(".sh")).map((f) => `${dir}/${f}`));
  const isKnown = (word: string) => known.includes(word.replace(/^['"]|['"]$/g, "").replace(/\\n$/, ""));

  /**
   * Where a script names a package of its own: a literal word given to a package operation, a
   * known name in a list or a value assigned, or printed as a line of its own.
   */
  function ownPackages(text: string): string[] {
    const found: string[] = [];
    for (const { n, line } of code(text)) {
      const op = operations.exec(line);
      if (op && !/^\s*[\w-]+\(\)\s*\{/.test(line)) {
        // Its arguments, up to the end of the command: each an option, a redirection or an expansion.
        const args = op[2].split(/[|;&)\]]/)[0].trim().split(/\s+/).filter(Boolean);
        const literal = args.filter((a) => !/^(-|[0-9]?>|"?\$)/.test(a));
        if (literal.length > 0) found.push(`${n}: ${op[1]} ${literal.join(" ")}`);
      }
      for (const m of line.matchAll(/\b\w+\+?=\(([^)]*)\)/g)) {
        // A list's words, and an associative array's keys ([key]=value).
        for (const w of m[1].trim().split(/\s+/)) {
          const word = /^\[([^\]]+)\]=/.exec(w)?.[1] ?? w;
          if (isKnown(word)) found.push(`${n}: ${word} in ${m[0]}`);
        }
      }
      for (const m of line.matchAll(/\b\w+=([^\s;()$]+)(?=$|[\s;])/g)) if (isKnown(m[1])) found.push(`${n}: ${m[1]} in ${m[0]}`);
      for (const m of line.matchAll(/\b(?:printf|echo)\s+(\S+)\s*(?:$|[;|&>])/g)) if (isKnown(m[1])) found.push(`${n}: ${m[1]} printed`);
    }
    return found;
  }

  it.each(files)("%s names no package of its own (render/packages.ts passes each its list)", (file) => {
    expect(ownPackages(fs.readFileSync(path.join(repoRoot, file), "utf8"))).toEqual([]);
  });

  it("the components and renderers name none either: their strings of package names come from render/packages.ts", () => {
    const sources = ["components", "render"].flatMap((dir) => fs.readdirSync(path.join(repoRoot, dir)).map((f) => `${dir}/${f}`))
      .filter((f) => f.endsWith(".ts") && f !== "render/packages.ts");
    const named = sources.flatMap((f) => [...fs.readFileSync(path.join(repoRoot, f), "utf8").matchAll(/(["'`])([a-z0-9][a-z0-9.+%-]*(?: [a-z0-9][a-z0-9.+%-]*)*)\1/g)]
      .filter((m) => m[2].split(" ").every(isKnown)).map((m) => `${f}: ${m[0]}`));
    expect(named).toEqual([]);
  });

  it("finds a package a script names (the check can fail)", () => {
    expect(ownPackages([
      'ensure_packages nftables "$X"', "pkgs=(nginx openssl)", "printf 'python3-psycopg2\\n'", "  matrix-org) package=matrix-synapse-py3 ;;",
      "major=$(apt-cache depends postgresql)", 'ensure_packages $PACKAGES >&2', "nginx -t && systemctl reload nginx",
      "declare -A files=([prometheus-node-exporter]=node.default)", "",
    ].join("\n"))).toEqual([
      "1: ensure_packages nftables", "2: nginx in pkgs=(nginx openssl)", "2: openssl in pkgs=(nginx openssl)",
      "3: 'python3-psycopg2\\n' printed", "4: matrix-synapse-py3 in package=matrix-synapse-py3", "5: apt-cache depends postgresql",
      "8: prometheus-node-exporter in files=([prometheus-node-exporter]=node.default)",
    ]);
  });
});
