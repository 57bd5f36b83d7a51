// End-to-end: the very first apply to a bare VPS is killed while it installs packages (SSH cut
// mid-apt), and the next apply still converges to a working homeserver.
import * as fs from "node:fs";
import * as path from "node:path";
import { downVps } from "../sandbox/sandbox";
import { suiteNeeding } from "./support/requirements";
import { bootVps, changes, devStack, expectClean, httpsClient, outputDir, recoverFromInterruptedUpdate, timed, Vps } from "./support/stack";

const suite = suiteNeeding("sandbox", "engine");
const minutes = (n: number) => n * 60_000;

let vps: Vps;

suite("a first apply cut off during package installation", () => {
  beforeAll(async () => { vps = await bootVps(3, "base"); }, minutes(5));
  afterAll(async () => { if (process.env.E2E_KEEP !== "1") await downVps(3); }, minutes(2));

  test("5e. converges on the next apply", () => timed("5e apply killed during apt", async () => {
    const ws = await devStack(vps, "vps3-interrupted");
    // Kill the whole CLI while dpkg is unpacking or configuring the one apt transaction's packages.
    const dpkgRunning = async () => (await vps.sh("pgrep -x dpkg >/dev/null", { allowFail: true })).code === 0;
    const kill = await ws.upKilled(/host-packages-synapse\s+creating/, dpkgRunning, minutes(5));
    expect(kill).toEqual({ killed: true, why: "killed while the host showed the step half done" });
    // What the host looked like when the update died (kept for the record).
    const apt = await vps.sh("pgrep -a 'apt|dpkg' || true; ls -l /usr/sbin/policy-rc.d 2>&1 || true; dpkg --audit || true");
    fs.writeFileSync(path.join(outputDir, "vps3-interrupted", "host-after-kill.txt"), apt.stdout + apt.stderr);

    await recoverFromInterruptedUpdate(ws);
    const r = await ws.update("up");
    fs.writeFileSync(path.join(outputDir, "vps3-interrupted", "after-kill.txt"), r.stdout + r.stderr);
    expectClean(r);
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
    const steady = await ws.update("up");
    expectClean(steady);
    expect(changes(steady)).toEqual([]);
  }), minutes(10));
});
