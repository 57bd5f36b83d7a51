// Each host's Debian packages in one apt transaction before the components' steps: which host
// gets what, and how the program orders the step.
import { parseSettings, RawConfig } from "../../config";
import { hostPackagePlans } from "../../render/packages";
import { validRaw } from "../support/fixtures";
import { runProgram } from "../support/mockProgram";

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
