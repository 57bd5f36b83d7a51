// End-to-end: an existing Synapse on SQLite (the package default) with users and messages is
// moved to PostgreSQL by the program, and every message is still there afterwards.
import { remoteCommand } from "../../render/script";
import { downVps } from "../sandbox/sandbox";
import { suiteNeeding } from "./support/requirements";
import { bootVps, changes, commandResource, devStack, expectClean, httpsClient, timed, Vps } from "./support/stack";

const suite = suiteNeeding("sandbox", "engine");
const server = "sandbox.test";
const minutes = (n: number) => n * 60_000;

const sqliteConfig = `server_name: ${server}
report_stats: false
listeners:
  - {port: 8008, type: http, tls: false, x_forwarded: true, bind_addresses: ['127.0.0.1'], resources: [{names: [client, federation]}]}
database: {name: sqlite3, args: {database: /var/lib/matrix-synapse/homeserver.db}}
media_store_path: /var/lib/matrix-synapse/media
signing_key_path: /etc/matrix-synapse/homeserver.signing.key
registration_shared_secret: sqlite-era-shared-secret
trusted_key_servers: []
`;

/** Posts messages as a user through Synapse's local listener (inside the VPS). */
const postMessages = `
import json, sys, urllib.request
base = "http://127.0.0.1:8008/_matrix/client/v3"
def call(method, path, body, token=None):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **({"Authorization": "Bearer " + token} if token else {})})
    return json.load(urllib.request.urlopen(req))
token = call("POST", "/login", {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": "alice-password"})["access_token"]
room = call("POST", "/createRoom", {"name": "from the SQLite days"}, token)["room_id"]
for i in range(5):
    call("PUT", f"/rooms/{room}/send/m.room.message/txn{i}", {"msgtype": "m.text", "body": f"sqlite message {i}"}, token)
print(room)
`;

let vps: Vps;

suite("an existing SQLite install", () => {
  beforeAll(async () => { vps = await bootVps(2, "base"); }, minutes(5));
  afterAll(async () => { if (process.env.E2E_KEEP !== "1") await downVps(2); }, minutes(2));

  test("6. is migrated to PostgreSQL with every message kept (applied as a sudo user)", () => timed("6 SQLite to PostgreSQL", async () => {
    // The state the package leaves: Synapse on SQLite, with a user and a room with messages.
    await vps.sh([
      "export DEBIAN_FRONTEND=noninteractive",
      `printf 'matrix-synapse matrix-synapse/server-name string ${server}\\nmatrix-synapse matrix-synapse/report-stats boolean false\\n' | debconf-set-selections`,
      "apt-get update -q >/dev/null",
      "apt-get install -y -q matrix-synapse python3-psycopg2 >/dev/null",
    ].join(" && "));
    await vps.sh("cat > /etc/matrix-synapse/homeserver.yaml", { stdin: sqliteConfig });
    await vps.sh("python3 -m synapse.app.homeserver -c /etc/matrix-synapse/homeserver.yaml -c /etc/matrix-synapse/conf.d/ --generate-keys"
      + " && chown matrix-synapse: /etc/matrix-synapse/homeserver.signing.key && systemctl restart matrix-synapse"
      + " && for i in $(seq 60); do curl -fs -o /dev/null http://127.0.0.1:8008/health && exit 0; sleep 1; done; exit 1");
    await vps.sh(remoteCommand("synapse-admin-user", { ADMIN_USER: "alice", PYTHON: "/usr/bin/python3", BASE_URL: "http://127.0.0.1:8008" }, "root"),
      { stdin: "alice-password\n" });
    const roomId = (await vps.sh("python3 -", { stdin: postMessages })).stdout.trim();
    const key = (await vps.sh("sha256sum /etc/matrix-synapse/homeserver.signing.key")).stdout;

    // This time the program logs in as an ordinary user with passwordless sudo, as many VPS
    // providers set up, instead of root.
    await vps.sh("useradd -m -s /bin/bash deploy && install -d -m 0700 -o deploy -g deploy /home/deploy/.ssh"
      + " && install -m 0600 -o deploy -g deploy /root/.ssh/authorized_keys /home/deploy/.ssh/authorized_keys"
      + " && echo 'deploy ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/deploy && chmod 0440 /etc/sudoers.d/deploy");
    const ws = await devStack(vps, "vps2-sqlite", { sshUser: "deploy" });
    const r = await ws.update("up");
    expectClean(r);
    expect((await commandResource(ws, "synapse-activate")).inputs.create).toMatch(/^sudo -n bash -c/);
    expect((await ws.outputs()).sqliteMigration).toMatch(/^migrated \d+ events from SQLite to PostgreSQL/);
    expect((await vps.sh("test -e /var/lib/matrix-synapse/homeserver.db.migrated-to-postgres && ! test -e /var/lib/matrix-synapse/homeserver.db")).code).toBe(0);
    expect((await vps.sh("sha256sum /etc/matrix-synapse/homeserver.signing.key")).stdout).toBe(key);

    // The old user logs in through nginx and reads every message, now from PostgreSQL.
    const https = await httpsClient(vps);
    try {
      const login = await https.post(`https://matrix.${server}/_matrix/client/v3/login`, {
        type: "m.login.password", identifier: { type: "m.id.user", user: "alice" }, password: "alice-password",
      });
      expect(login.status).toBe(200);
      const token = login.json().access_token;
      const messages = await https.get(`https://matrix.${server}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=50`, token);
      expect(messages.status).toBe(200);
      const bodies = messages.json().chunk.filter((e: any) => e.type === "m.room.message").map((e: any) => e.content.body).reverse();
      expect(bodies).toEqual([0, 1, 2, 3, 4].map((i) => `sqlite message ${i}`));
    } finally {
      https.close();
    }
    const inPostgres = await vps.sh(`runuser -u postgres -- psql -XAtc "SELECT count(*) FROM events WHERE type = 'm.room.message'" synapse`);
    expect(Number(inPostgres.stdout.trim())).toBe(5);

    // A second apply finds nothing left to migrate and changes nothing.
    const again = await ws.update("up");
    expectClean(again);
    expect(changes(again)).toEqual([]);
  }), minutes(12));
});
