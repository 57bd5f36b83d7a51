// Workers on other hosts: config, placement, what the main process and nginx get, and the steps
// the program runs on each worker host.
import YAML from "yaml";
import { parseSettings, RawConfig, tierWorkers } from "../../config";
import { renderWorkerConfig, renderWorkerUnit, workerPlan, workerRouting, workersHomeserverPart } from "../../render/workers";
import { validRaw } from "../support/fixtures";
import { runProgram } from "../support/mockProgram";

const layout = { host: "10.0.0.2", databaseHost: "10.0.0.3", tier: "large" };
const errorsOf = (raw: RawConfig) => { const r = parseSettings({ ...validRaw(), ...raw }); return r.ok ? [] : r.errors; };

describe("config", () => {
  it("takes worker hosts on the private network, admitted by the database box too", () => {
    const r = parseSettings({ ...validRaw(), ...layout, workerHosts: '["10.0.0.4","10.0.0.5"]' });
    if (!r.ok) throw new Error(r.errors.join("\n"));
    expect(r.settings.workerHosts.mainAddress).toBe("10.0.0.2");
    expect(r.settings.workerHosts.hosts.map((h) => [h.address, h.connection.host, h.connection.user])).toEqual([
      ["10.0.0.4", "10.0.0.4", "root"], ["10.0.0.5", "10.0.0.5", "root"]]);
    expect(r.settings.database).toEqual({ box: true, address: "10.0.0.3", clients: ["10.0.0.2", "10.0.0.4", "10.0.0.5"] });
  });

  it.each<[string, RawConfig, RegExp[]]>([
    ["worker hosts without a database box", { host: "10.0.0.2", workerHosts: '["10.0.0.4"]' }, [/synapse:workerHosts: given \["10.0.0.4"\], expected them with databaseHost/]],
    ["a name instead of an address", { ...layout, workerHosts: '["workers.internal"]' }, [/synapse:workerHosts\[0\]: given .*expected an IPv4 or IPv6 address/]],
    ["a host twice, or the box", { ...layout, workerHosts: '["10.0.0.4","10.0.0.4","10.0.0.3"]' }, [
      /synapse:workerHosts\[1\]: given "10.0.0.4", expected a host of its own/, /synapse:workerHosts\[2\]: given "10.0.0.3", expected a host of its own/]],
    ["media in a bucket", { ...layout, workerHosts: '["10.0.0.4"]', mediaStorage: "s3", mediaBucket: "media", mediaAccessKeyId: "AKIA", mediaSecretAccessKey: "x" },
      [/synapse:workerHosts: .*expected none with mediaStorage s3/]],
  ])("refuses %s", (_, raw, expected) => {
    const errors = errorsOf(raw);
    for (const e of expected) expect(errors).toEqual(expect.arrayContaining([expect.stringMatching(e)]));
    expect(errors).toHaveLength(expected.length);
  });
});

describe("placement and rendering", () => {
  const plan = workerPlan(tierWorkers.large, ["10.0.0.4", "10.0.0.5"]);

  it("spreads the kinds that can run anywhere over the worker hosts in turn; media and background stay", () => {
    const where = Object.fromEntries(plan.map((w) => [w.name, w.host]));
    expect(where).toMatchObject({
      synchrotron1: "10.0.0.4", synchrotron2: "10.0.0.5", media_repository1: "127.0.0.1", background_worker1: "127.0.0.1",
    });
    const remote = plan.filter((w) => w.host !== "127.0.0.1");
    expect(remote.filter((w) => w.host === "10.0.0.4").length - remote.filter((w) => w.host === "10.0.0.5").length).toBeLessThanOrEqual(1);
    expect(workerPlan(tierWorkers.large).every((w) => w.host === "127.0.0.1")).toBe(true);
  });

  it("puts replication and Redis on the main process's private address, Redis's password in a file", () => {
    const part = workersHomeserverPart(plan, "10.0.0.2");
    expect(part.listeners![0]).toMatchObject({ port: 9093, bind_addresses: ["10.0.0.2"] });
    expect(part.redis).toEqual({ enabled: true, host: "10.0.0.2", port: 6379, password_path: "/etc/matrix-synapse/redis-password" });
    expect((part.instance_map as Record<string, unknown>).main).toEqual({ host: "10.0.0.2", port: 9093 });
    expect((part.instance_map as Record<string, unknown>).event_persister1).toEqual({ host: plan.find((w) => w.name === "event_persister1")!.host, port: 8151 });
    expect(JSON.stringify(part)).not.toMatch(/"password"/);
  });

  it("has each remote worker listen on its host's private address, and nginx reach it there", () => {
    const sync = plan.find((w) => w.name === "synchrotron2")!;
    expect(YAML.parse(renderWorkerConfig(sync)).worker_listeners[0].bind_addresses).toEqual(["10.0.0.5"]);
    expect(workerRouting(plan, "50M").upstreams.find((u) => u.name === "synapse_sync")!.servers).toEqual(["10.0.0.4:8111", "10.0.0.5:8112"]);
  });

  it("gives a worker host's units no dependency on the main process, which never runs there", () => {
    const unit = renderWorkerUnit("/usr/bin/python3", 1024, true);
    expect(unit).not.toMatch(/matrix-synapse\.service/);
    expect(unit).toContain("After=network-online.target");
  });
});

describe("the program", () => {
  const stack = { serverName: "example.org", tlsMode: "self-signed", packageSource: "debian", ...layout, tier: "community", workerHosts: '["10.0.0.4"]' };

  it("runs each worker host's steps there, with the main's config and signing key, after the main process", async () => {
    const run = await runProgram(stack);
    const host = (n: string) => run.byName(n).inputs.connection.host;
    const steps = run.resources.filter((r) => r.name.startsWith("worker-host-1-") && r.type === "command:remote:Command").map((r) => r.name);
    expect(steps).toEqual(expect.arrayContaining(["worker-host-1-packages", "worker-host-1-activate", "worker-host-1-workers", "worker-host-1-firewall",
      "worker-host-1-staged-signing-key", "worker-host-1-staged-homeserver", "worker-host-1-staged-secrets", "worker-host-1-staged-redis-password"]));
    for (const s of steps) expect([s, host(s)]).toEqual([s, "10.0.0.4"]);
    expect(run.byName("worker-host-1-staged-homeserver").inputs.stdin).toBe(run.byName("synapse-staged-homeserver").inputs.stdin);
    expect(run.byName("worker-host-1-activate").inputs.create).toContain("MAIN=false");
    expect(run.byName("worker-host-1-workers").inputs.create).toMatch(/WORKERS='synchrotron1:8111 federation_sender1:8121 federation_reader1:8131'/);
    expect(run.byName("worker-host-1-workers").inputs.create).toContain("HOST=10.0.0.4\n");
    expect(run.byName("synapse-workers").inputs.create).toContain("WORKERS=media_repository1:8161\n");
    expect(run.byName("synapse-redis").inputs.create).toContain("BIND=10.0.0.2\n");
    const redisPassword = String(run.byName("synapse-redis").inputs.stdin);
    expect(redisPassword.length).toBeGreaterThan(10);
    expect(run.byName("synapse-redis").inputs.create).not.toContain(redisPassword);
    expect(run.byName("synapse-staged-redis-password").inputs.stdin).toBe(redisPassword);
    expect(run.byName("synapse-staged-firewall-nft").inputs.stdin).toContain("ip saddr { 10.0.0.4 } tcp dport { 9093, 6379 } accept");
    expect(run.byName("worker-host-1-firewall-nft").inputs.stdin).toContain("ip saddr { 10.0.0.2 } tcp dport { 8111, 8121, 8131 } accept");
    // The signing key travels as a secret, read from the Synapse VPS once it runs.
    expect(run.byName("synapse-signing-key").inputs.create).toContain("synapse-signing-key");
    expect(run.byName("worker-host-1-activate").dependencies.map((u: string) => u.split("::").pop())).toEqual(expect.arrayContaining(["worker-host-1-staged-signing-key"]));
  });

  it("re-runs the box's firewall and pg_hba steps when a worker host joins (their inputs change, not only the staged files)", async () => {
    const { workerHosts: _, ...single } = stack;
    const before = await runProgram({ ...single, tier: "community" });
    const after = await runProgram(stack);
    for (const step of ["postgres-firewall", "postgres-network"]) {
      expect([step, before.byName(step).inputs.create === after.byName(step).inputs.create]).toEqual([step, false]);
    }
  });
});
