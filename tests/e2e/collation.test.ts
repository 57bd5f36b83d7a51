// End-to-end: a host whose PostgreSQL already holds a `synapse` database with another collation
// (made by hand, as a tutorial's `createdb synapse` would). The deployment stops there, says how
// to fix it and drops nothing; done as the message says, the next `pulumi up` deploys.
import { downVps } from "../sandbox/sandbox";
import { suiteNeeding } from "./support/requirements";
import { bootVps, devStack, expectClean, timed, Vps } from "./support/stack";

const suite = suiteNeeding("sandbox", "engine");
const minutes = (n: number) => n * 60_000;
const N = 15;

let vps: Vps;
const psql = async (sql: string, db = "postgres") =>
  (await vps.sh(`runuser -u postgres -- psql -XAt -v ON_ERROR_STOP=1 -d ${db}`, { stdin: sql })).stdout.trim();
const databases = () => psql("SELECT datname || ' ' || datcollate FROM pg_database WHERE datname LIKE 'synapse%' ORDER BY datname;");

suite("a database with the wrong collation", () => {
  beforeAll(async () => { vps = await bootVps(N, "packages"); }, minutes(5));
  afterAll(async () => { if (process.env.E2E_KEEP !== "1") await downVps(N); }, minutes(2));

  test("r1. stops the deployment with the fix in the message and drops nothing; after the fix pulumi up deploys", () => timed("r1 wrong collation refused", async () => {
    await vps.sh("systemctl enable --now postgresql");
    await psql("CREATE DATABASE synapse ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0;");
    await psql("CREATE TABLE keep_me (n int); INSERT INTO keep_me SELECT generate_series(1, 3);", "synapse");
    const ws = await devStack(vps, `vps${N}-collation`);

    const refused = await ws.update("up");
    expect(refused.code).not.toBe(0);
    const said = refused.stdout + refused.stderr;
    expect(said).toContain("database 'synapse' exists with encoding/collation/ctype 'UTF8 C.UTF-8 C.UTF-8', but Synapse needs 'UTF8 C C'");
    expect(said).toContain("Nothing was dropped.");
    expect(said).toContain("ALTER DATABASE synapse RENAME TO synapse_old");
    // Nothing was dropped or changed, and Synapse never started on it.
    expect(await databases()).toBe("synapse C.UTF-8");
    expect(await psql("SELECT count(*) FROM keep_me;", "synapse")).toBe("3");
    expect((await vps.sh("systemctl is-active matrix-synapse", { allowFail: true })).stdout.trim()).not.toBe("active");

    // The fix the message gives (there is nothing of Synapse's to carry over here).
    await psql("ALTER DATABASE synapse RENAME TO synapse_old;");
    expectClean(await ws.update("up"));
    expect(await databases()).toBe("synapse C\nsynapse_old C.UTF-8");
    expect(await psql("SELECT count(*) FROM keep_me;", "synapse_old")).toBe("3");
    expect((await vps.sh("curl -fsS http://127.0.0.1:8008/health")).stdout).toBe("OK");
  }), minutes(10));
});
