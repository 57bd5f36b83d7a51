import * as pulumi from "@pulumi/pulumi";
import YAML from "yaml";
import { testPrivateKey } from "../support/fixtures";
import { adminToken, MockRun, runProgram, secretOf } from "../support/mockProgram";

const stack = {
  serverName: "example.org",
  host: "203.0.113.10",
  tlsMode: "self-signed",
  packageSource: "debian",
  adminUser: "admin",
};

let run: MockRun;
// What the SQLite migration step prints on a host with nothing to migrate (the stack output).
const migrationAnswer = "nothing to migrate (no SQLite database)";
beforeAll(async () => { run = await runProgram(stack, undefined, { "postgres-sqlite-migration": migrationAnswer }); });

const commands = () => run.resources.filter((r) => r.type === "command:remote:Command");

describe("resources", () => {
  it("builds the components (the worker pool of a solo stack is empty)", () => {
    const components = run.resources.filter((r) => !r.custom).map((r) => `${r.type} ${r.name}`).sort();
    expect(components).toEqual([
      "synapse:index:AdminTools admin-tools",
      "synapse:index:Backups backups",
      "synapse:index:DatabaseMaintenance maintenance",
      "synapse:index:HostPackages host-packages",
      "synapse:index:NginxProxy nginx",
      "synapse:index:PostgresDatabase postgres",
      "synapse:index:SpaceReclaim maintenance-reclaim",
      "synapse:index:StateCompressor maintenance-compressor",
      "synapse:index:SynapseHost synapse",
      "synapse:index:Upgrades upgrades",
      "synapse:index:WellKnownSite well-known",
      "synapse:index:WorkerPool workers",
    ]);
  });

  it("runs these host steps", () => {
    expect(commands().map((r) => r.name).sort()).toEqual([
      "admin-tools-synadm", "admin-tools-synadm-config",
      "backups-packages", "backups-restore-tool",
      "backups-timer", "backups-timer-conf", "backups-timer-service", "backups-timer-timer", "backups-timer-tool",
      "host-packages-synapse",
      "maintenance-admin-token",
      "maintenance-compressor-conf", "maintenance-compressor-install", "maintenance-compressor-service",
      "maintenance-compressor-state-map-Cargo-toml", "maintenance-compressor-state-map-src-lib-rs",
      "maintenance-compressor-timer", "maintenance-compressor-timer-conf", "maintenance-compressor-timer-service",
      "maintenance-compressor-timer-timer", "maintenance-compressor-timer-tool", "maintenance-compressor-tool",
      "maintenance-purge-empty-rooms", "maintenance-purge-empty-rooms-conf", "maintenance-purge-empty-rooms-service",
      "maintenance-purge-empty-rooms-timer", "maintenance-purge-empty-rooms-tool",
      "maintenance-purge-remote-media", "maintenance-purge-remote-media-conf", "maintenance-purge-remote-media-service",
      "maintenance-purge-remote-media-timer", "maintenance-purge-remote-media-tool",
      "maintenance-reclaim-install", "maintenance-reclaim-timer", "maintenance-reclaim-timer-conf", "maintenance-reclaim-timer-service",
      "maintenance-reclaim-timer-timer", "maintenance-reclaim-timer-tool",
      "maintenance-report", "maintenance-report-conf", "maintenance-report-service", "maintenance-report-timer", "maintenance-report-tool",
      "nginx-activate", "nginx-certificate", "nginx-packages", "nginx-staged-site", "nginx-teardown",
      "postgres-autovacuum", "postgres-cluster", "postgres-database", "postgres-sqlite-migration", "postgres-teardown", "postgres-tuning",
      "synapse-activate", "synapse-admin-user", "synapse-packages", "synapse-preflight",
      "synapse-staged-homeserver", "synapse-staged-log", "synapse-staged-passfile", "synapse-staged-secrets", "synapse-staged-start-dropin", "synapse-teardown",
      "upgrades-gate", "upgrades-postgres-version", "upgrades-synapse-version-debian",
      "well-known-activate", "well-known-certificate", "well-known-packages", "well-known-staged-site", "well-known-teardown",
    ]);
  });

  it("gives each component a teardown that runs only on delete, keeping data unless asked", async () => {
    const teardowns = commands().filter((r) => r.name.endsWith("-teardown"));
    expect(teardowns).toHaveLength(4);
    for (const t of teardowns) {
      expect({ name: t.name, create: t.inputs.create, update: t.inputs.update }).toEqual({ name: t.name, create: undefined, update: undefined });
      expect(t.inputs.delete).toMatch(/^bash -c "\$\(cat <<'SYNAPSE_DEPLOY_SCRIPT'/);
    }
    expect(run.byName("synapse-teardown").inputs.delete).toContain("DELETE_DATA=false");
    expect(run.byName("postgres-teardown").inputs.delete).toContain("DELETE_DATA=false");
    expect(run.byName("nginx-teardown").inputs.delete).toContain("SITE=matrix\n");
    const deleting = await runProgram({ ...stack, destroyDeletesData: "true" });
    expect(deleting.byName("synapse-teardown").inputs.delete).toContain("DELETE_DATA=true");
    expect(deleting.byName("postgres-teardown").inputs.delete).toContain("DELETE_DATA=true");
    // Flipping the choice changes only the teardowns' delete commands (an update that runs nothing).
    const before = Object.fromEntries(run.resources.map((x) => [x.name, JSON.stringify(x.inputs)]));
    expect(deleting.resources.filter((x) => before[x.name] !== JSON.stringify(x.inputs)).map((x) => x.name).sort())
      .toEqual(["postgres-teardown", "synapse-teardown"]);
  });

  it("parents every child to its component", () => {
    const parentType: Record<string, string> = {
      postgres: "synapse:index:PostgresDatabase", synapse: "synapse:index:SynapseHost",
      nginx: "synapse:index:NginxProxy", "well-known": "synapse:index:WellKnownSite", maintenance: "synapse:index:DatabaseMaintenance",
      "maintenance-compressor": "synapse:index:StateCompressor", "maintenance-reclaim": "synapse:index:SpaceReclaim",
      "admin-tools": "synapse:index:AdminTools", backups: "synapse:index:Backups",
      "host-packages": "synapse:index:HostPackages", upgrades: "synapse:index:Upgrades",
    };
    for (const r of run.resources.filter((x) => x.custom)) {
      const prefix = Object.keys(parentType).sort((a, b) => b.length - a.length).find((p) => r.name.startsWith(`${p}-`))!;
      expect(r.urn).toContain(`${parentType[prefix]}$${r.type}::${r.name}`);
      // A component nested in another (the compressor in the maintenance) follows its type with `$`.
      expect(r.parent).toMatch(new RegExp(`[:$]${parentType[prefix]}::${prefix}$`));
    }
  });

  it("declares the dependencies the engine orders by", () => {
    const dependsOn = (name: string) => run.byName(name).dependencies.map((u) => u.split("::").pop());
    expect(dependsOn("synapse-activate")).toEqual(expect.arrayContaining([
      "synapse-staged-homeserver", "synapse-staged-log", "synapse-staged-secrets", "synapse-staged-passfile"]));
    expect(dependsOn("postgres-sqlite-migration")).toContain("postgres-database");
    expect(dependsOn("nginx-activate")).toEqual(expect.arrayContaining(["nginx-certificate", "nginx-staged-site"]));
  });

  it("stages nginx, the backups and the maintenance while Synapse starts, and puts live only what needs it after it", () => {
    // The mock engine registers a step as soon as what it waits for is registered: a step that
    // waited for Synapse would start after Synapse's activation finished.
    const at = (name: string) => run.byName(name);
    for (const staged of ["nginx-packages", "nginx-certificate", "nginx-staged-site", "well-known-staged-site", "backups-timer-tool",
      "maintenance-report-tool", "maintenance-report", "maintenance-reclaim-install"]) {
      expect({ staged, beforeSynapseRuns: at(staged).started < at("synapse-activate").finished, afterPackages: at(staged).started > at("host-packages-synapse").finished })
        .toEqual({ staged, beforeSynapseRuns: true, afterPackages: true });
    }
    expect(at("maintenance-report").started).toBeGreaterThan(at("postgres-database").finished);
    // Live after Synapse (every step of it, its admin included): the sites, the backup timer, the
    // purges (they need the admin's token); the sites' teardowns wait too, so that a destroy takes
    // them down before Synapse.
    for (const live of ["nginx-activate", "well-known-activate", "backups-timer", "nginx-teardown", "well-known-teardown", "maintenance-purge-remote-media"]) {
      expect({ live, afterSynapse: at(live).started > at("synapse-admin-user").finished && at(live).started > at("synapse-teardown").finished })
        .toEqual({ live, afterSynapse: true });
    }
    // Recorded as dependencies, which is what orders a destroy: the sites' teardowns before Synapse's.
    for (const teardown of ["nginx-teardown", "well-known-teardown"]) {
      expect({ teardown, deps: run.byName(teardown).dependencies.map((u) => u.split("::").pop()) })
        .toEqual({ teardown, deps: expect.arrayContaining(["synapse-teardown", "synapse-activate"]) });
    }
  });

  it("orders steps on a host by their dependencies", () => {
    const after = (later: string, earlier: string) =>
      expect({ later, earlier, ok: run.byName(later).started > run.byName(earlier).finished }).toEqual({ later, earlier, ok: true });
    after("host-packages-synapse", "upgrades-synapse-version-debian");
    after("host-packages-synapse", "upgrades-postgres-version");
    after("upgrades-gate", "host-packages-synapse");
    after("postgres-cluster", "upgrades-gate");
    after("synapse-packages", "upgrades-gate");
    after("postgres-tuning", "postgres-cluster");
    after("postgres-database", "postgres-tuning");
    after("postgres-sqlite-migration", "postgres-database");
    after("synapse-preflight", "postgres-sqlite-migration");
    after("synapse-packages", "synapse-preflight");
    after("synapse-staged-homeserver", "synapse-packages");
    after("synapse-activate", "synapse-staged-homeserver");
    after("synapse-activate", "synapse-staged-secrets");
    after("synapse-admin-user", "synapse-activate");
    after("nginx-activate", "synapse-activate");
    after("nginx-activate", "synapse-admin-user");
    after("backups-timer", "synapse-activate");
    after("maintenance-purge-remote-media", "synapse-admin-user");
    after("nginx-activate", "nginx-certificate");
    after("nginx-activate", "nginx-staged-site");
  });

  it("gives the admin user's token only as a secret output", async () => {
    expect(run.outputs.adminUser).toBe("@admin:example.org");
    expect(run.outputs.adminAccessToken).toBe(adminToken);
    const token = run.program.adminAccessToken as pulumi.Output<string>;
    expect(await (token as any).isSecret).toBe(true);
    expect(await (run.program.adminUser as any).isSecret).toBe(false);
  });

  it("exports where the server is", () => {
    expect(run.outputs).toMatchObject({
      serverName: "example.org",
      clientBaseUrl: "https://matrix.example.org",
      federationUrl: "https://matrix.example.org:443",
      databaseName: "synapse",
      databaseHost: "203.0.113.10",
      sqliteMigration: migrationAnswer,
    });
  });
});

describe("secrets", () => {
  const secretValues = () => [
    testPrivateKey.split("\n")[1],
    adminToken,
    ...run.resources.filter((r) => r.type.startsWith("random:")).map((r) => secretOf(r.name)),
  ];

  it("are never sent back to the host as SSH environment requests (addPreviousOutputInEnv off)", () => {
    expect(commands().length).toBeGreaterThan(10);
    for (const r of commands()) expect({ name: r.name, env: r.inputs.addPreviousOutputInEnv }).toEqual({ name: r.name, env: false });
  });

  it("never appear in a command string", () => {
    expect(secretValues().length).toBeGreaterThanOrEqual(6);
    for (const r of commands()) {
      const text = JSON.stringify([r.inputs.create, r.inputs.update, r.inputs.delete, r.inputs.triggers]);
      for (const s of secretValues()) expect({ resource: r.name, leaks: text.includes(s) }).toEqual({ resource: r.name, leaks: false });
    }
  });

  it("are marked secret where they enter a resource", () => {
    for (const name of ["synapse-staged-secrets", "synapse-staged-passfile", "postgres-database", "postgres-sqlite-migration", "synapse-admin-user"]) {
      expect({ name, secret: run.byName(name).secretInputs }).toEqual({ name, secret: expect.arrayContaining(["stdin", "connection"]) });
    }
    expect(run.byName("synapse-staged-homeserver").secretInputs).not.toContain("stdin");
  });

  it("reach the host only through stdin, to 0600 files", () => {
    const secrets = run.byName("synapse-staged-secrets");
    expect(secrets.inputs.stdin).toContain(secretOf("synapse-registration-secret"));
    expect(secrets.inputs.create).toContain("MODE=0600");
    const passfile = run.byName("synapse-staged-passfile");
    expect(passfile.inputs.stdin).toBe(["/var/run/postgresql", "localhost"].map((h) => `${h}:5432:synapse:synapse_user:${secretOf("postgres-password")}\n`).join(""));
    expect(passfile.inputs.create).toContain("MODE=0600");
    expect(run.byName("postgres-database").inputs.stdin).toBe(secretOf("postgres-password"));
  });

  it("keep homeserver.yaml and the nginx site free of secrets, so their diffs stay readable", () => {
    const homeserver = run.byName("synapse-staged-homeserver").inputs.stdin as string;
    const site = run.byName("nginx-staged-site").inputs.stdin as string;
    for (const s of secretValues()) {
      expect(homeserver).not.toContain(s);
      expect(site).not.toContain(s);
    }
    expect(YAML.parse(homeserver).database.args.passfile).toBe("/etc/matrix-synapse/pgpass");
  });
});

describe("stability", () => {
  it("renders byte-identical inputs from unchanged config (no spurious diffs)", async () => {
    const again = await runProgram(stack);
    const inputs = (r: MockRun) => Object.fromEntries(r.resources.map((x) => [x.name, JSON.stringify(x.inputs)]));
    expect(inputs(again)).toEqual(inputs(run));
  });

  it("changes only the affected steps when the upload size changes", async () => {
    const changed = await runProgram({ ...stack, maxUploadSize: "80M" });
    const before = Object.fromEntries(run.resources.map((x) => [x.name, JSON.stringify(x.inputs)]));
    const differing = changed.resources.filter((x) => before[x.name] !== JSON.stringify(x.inputs)).map((x) => x.name).sort();
    expect(differing).toEqual(["nginx-activate", "nginx-staged-site", "synapse-activate", "synapse-staged-homeserver"]);
  });
});

describe("variants", () => {
  it("serves .well-known from the matrix site when the server name is the matrix host", async () => {
    const r = await runProgram({ ...stack, matrixHost: "example.org" });
    expect(r.resources.some((x) => x.type === "synapse:index:WellKnownSite")).toBe(false);
    expect(r.byName("nginx-staged-site").inputs.stdin).toContain("location = /.well-known/matrix/server");
  });

  it("adds certbot issuance for ACME", async () => {
    const r = await runProgram({ ...stack, tlsMode: "acme", acmeEmail: "ops@example.org" });
    expect(r.byName("nginx-acme").inputs.create).toContain("EMAIL=ops@example.org");
    expect(r.byName("well-known-acme").inputs.create).toContain("DOMAINS=example.org");
  });

  it("creates no admin when none is asked for", async () => {
    const { adminUser: _none, ...noAdmin } = stack;
    const r = await runProgram(noAdmin);
    expect(r.resources.some((x) => x.name === "synapse-admin-user")).toBe(false);
    expect(r.outputs.adminAccessToken).toBeUndefined();
  });

  it("fails with every config problem before registering a resource, as a RunError (no stack trace)", async () => {
    const error = await runProgram({ ...stack, tier: "huge", sshPort: "0" }).then(() => undefined, (e: unknown) => e);
    expect(String(error)).toMatch(/synapse:tier[\s\S]*synapse:sshPort/);
    expect(pulumi.RunError.isInstance(error)).toBe(true);
  });

  it("refuses an optional secret set without --secret", async () => {
    const pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
    await expect(runProgram({ ...stack, wellKnownSshPrivateKey: pem })).rejects.toThrow(/synapse:wellKnownSshPrivateKey: given a plain-text value/);
    await expect(runProgram({ ...stack, wellKnownSshPrivateKey: pem }, ["sshPrivateKey", "wellKnownSshPrivateKey"])).resolves.toBeDefined();
  });
});
