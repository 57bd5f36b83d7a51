// End-to-end: the very first apply to a bare VPS is killed while it installs packages (SSH cut
// mid-apt), and the next apply still converges to a working homeserver.
import { downVps, sandboxAvailable } from "../sandbox/sandbox";
import { bootVps, expectApplied, httpsClient, StackRunner, timed, Vps } from "./support/stack";

const available = sandboxAvailable();
const suite = available.ok ? describe : describe.skip;
const minutes = (n: number) => n * 60_000;

let vps: Vps;

suite("a first apply cut off during package installation", () => {
  beforeAll(async () => { vps = await bootVps(3, "base"); }, minutes(5));
  afterAll(async () => { if (process.env.E2E_KEEP !== "1") await downVps(3); }, minutes(2));

  test("5e. converges on the next apply", () => timed("5e apply killed during apt", async () => {
    const stack = new StackRunner(vps, "vps3-interrupted");
    const killed = await stack.applyKilled("killed-in-apt", {}, /\+ create command:remote:Command synapse-packages/, 10_000);
    expect(killed).toBe(true);
    // What the host looked like when the apply died (kept in the report for the record).
    const apt = await vps.sh("pgrep -a 'apt|dpkg' || true; ls -l /usr/sbin/policy-rc.d 2>&1 || true; dpkg --audit || true");
    require("node:fs").writeFileSync(`${stack.dir}/host-after-kill.txt`, apt.stdout + apt.stderr);

    const r = await stack.apply("after-kill");
    expectApplied(r);
    expect((await vps.sh("dpkg --audit")).stdout.trim()).toBe("");
    // Nothing of the cut-off install is left to block later package upgrades.
    expect((await vps.sh("test -e /usr/sbin/policy-rc.d", { allowFail: true })).code).not.toBe(0);
    const https = await httpsClient(vps);
    try {
      expect((await https.get("https://matrix.sandbox.test/_matrix/client/versions")).status).toBe(200);
      expect((await https.get("https://sandbox.test/.well-known/matrix/server")).json()).toEqual({ "m.server": "matrix.sandbox.test:443" });
    } finally {
      https.close();
    }
    const steady = await stack.apply("steady");
    expect(steady.resources.filter((x) => x.custom && x.op !== "unchanged")).toEqual([]);
  }), minutes(10));
});
