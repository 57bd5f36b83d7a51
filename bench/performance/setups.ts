// The setups the performance scenario compares, each on a sandbox VPS of its own, all behind the
// same nginx site with the same TLS certificate, and all reachable at Synapse's own listeners too:
//   distro     Debian's matrix-synapse as it comes (SQLite, the package's defaults);
//   hand       the same package on PostgreSQL as Synapse's docs set it up (a role, a C-collated
//              database, PostgreSQL's defaults, Synapse's pool of 5–10);
//   solo, community, and variants (a tier with more stack config): deployed by the program.
// The nginx site is the program's own (solo's, rendered for the setup's name), copied onto the
// package setups, so the proxy and TLS in front are identical. One certificate from a bench CA
// covers every name; every homeserver trusts that CA for federation. Plus a sending homeserver
// (f.test, Debian's package) for federation inbound load, pinned to the load generator's core.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { tierWorkers } from "../../config/workers";
import { routes, workerPlan } from "../../render/workers";
import { bootVps, devStack, expectClean, Vps } from "../../tests/e2e/support/stack";
import { PulumiWorkspace } from "../../tests/e2e/support/pulumi";

const root = path.join(__dirname, "..", "..");
export const sandboxNetwork = "10.231.0.0/16";
/** Synapse's main listener and the first metrics port, on every setup. */
export const mainPort = 8008;
export const metricsPort = 9000;

/**
 * Keys are fetched from each server itself: matrix.org, every setup's default notary, is out of
 * the sandbox's reach (a request to it hangs until it times out). The same on every setup.
 */
const noNotary = "trusted_key_servers: []";

export interface LoadUser { userId: string; accessToken: string; room?: string }
/** What users.py made on a homeserver. */
export interface Population {
  load: LoadUser[];
  sync: LoadUser & { rooms: number };
  reader: LoadUser & { room: string };
  receiver: LoadUser & { room: string };
  joiners: LoadUser[];
  admin: LoadUser;
}
/** Where a client sends requests (bench/clients/http.mjs). */
export interface Target { base: string; address: string; ca?: string; routes?: [string, number][] }

export interface Setup {
  key: string;
  name: string;
  server: string;
  vps: Vps;
  /** The host size the setup is confined to (MiB): its tier's, 2 GiB for the package setups. */
  hostMiB: number;
  nginx: Target;
  direct: Target;
  metricsPorts: number[];
  /** conf.d file with registration_shared_secret. */
  secretsYaml: string;
  ws?: PulumiWorkspace;
  population?: Population;
}

export interface BenchPki { dir: string; caFile: string; ca: string; cert: string; key: string }

/** A CA and one certificate for every name (server names and their matrix. hosts). */
export function benchPki(dir: string, names: string[]): BenchPki {
  fs.mkdirSync(dir, { recursive: true });
  const f = (n: string) => path.join(dir, n);
  const ssl = (args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  ssl(["req", "-x509", ...ec, "-keyout", f("ca.key"), "-out", f("ca.pem"), "-days", "30", "-subj", "/CN=synapse bench CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  ssl(["req", ...ec, "-keyout", f("leaf.key"), "-out", f("leaf.csr"), "-subj", "/CN=synapse bench"]);
  fs.writeFileSync(f("leaf.ext"), [`subjectAltName=${names.flatMap((n) => [`DNS:${n}`, `DNS:matrix.${n}`]).join(",")}`,
    "basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth,clientAuth", ""].join("\n"));
  ssl(["x509", "-req", "-in", f("leaf.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial", "-out", f("leaf.pem"),
    "-days", "30", "-extfile", f("leaf.ext")]);
  const read = (n: string) => fs.readFileSync(f(n), "utf8");
  return { dir, caFile: f("ca.pem"), ca: read("ca.pem"), cert: read("leaf.pem"), key: read("leaf.key") };
}

/** The application service whose puppets fill the big room (rate_limited: false). */
export function puppetRegistration(server: string, asToken: string, hsToken: string): string {
  return ["id: bench-puppets", "url: null", `as_token: ${asToken}`, `hs_token: ${hsToken}`, "sender_localpart: benchbot",
    "rate_limited: false", "namespaces:", "  users:", "    - exclusive: true", `      regex: '@m[0-9]+:${server.replace(/\./g, "\\.")}'`, ""].join("\n");
}

const shipped = (name: string) => fs.readFileSync(path.join(root, "bench", "vps", name), "utf8");

/**
 * Writes a file on the VPS. Mode 0600 files belong to Synapse's user (its secrets, which it
 * alone reads); others to root, readable by all. The TLS files are nginx's (root's).
 */
async function putFile(vps: Vps, file: string, content: string, mode: string): Promise<void> {
  const owner = mode === "0600" && !file.startsWith("/etc/synapse-deploy/") ? "matrix-synapse" : "root";
  await vps.sh(`install -D -m ${mode} -o ${owner} -g "$(id -gn ${owner})" /dev/stdin ${file}`, { stdin: content });
}

/** Synapse's listeners reachable from the sandbox host on these ports (bench/vps/direct-front.sh). */
async function exposeListeners(vps: Vps, ports: number[]): Promise<void> {
  await vps.sh(`bash -s ${ports.join(" ")}`, { stdin: shipped("direct-front.sh") });
}

/** The worker listeners of a tier, as the program plans them: the direct front routes to them as nginx does. */
function directRoutes(tier: string): [string, number][] {
  const plan = workerPlan(tierWorkers[tier as keyof typeof tierWorkers]);
  const port = (kind: string) => plan.find((w) => w.kind === kind)?.port;
  const out: [string, number][] = [];
  const add = (kind: string, patterns: readonly string[]) => {
    const p = port(kind);
    if (p !== undefined) for (const re of patterns) out.push([re, p]);
  };
  add("media", routes.media);
  add("synchrotron", routes.sync);
  add("federationReader", [...routes.federationInbound, ...routes.federation]);
  add("clientReader", [...routes.clientByRoom, ...routes.client]);
  return out;
}

/**
 * Until the main process answers /health and every process's metrics listener answers (the
 * workers start after the main process: a round that began on the main process's health alone
 * met a worker not listening yet).
 */
export async function waitHealthy(vps: Vps, metricsPorts: number[] = []): Promise<void> {
  const urls = [`http://127.0.0.1:${mainPort}/health`, ...metricsPorts.map((p) => `http://127.0.0.1:${p}/_synapse/metrics`)];
  await vps.sh(`for url in ${urls.join(" ")}; do for i in $(seq 180); do curl -fsS -o /dev/null "$url" && continue 2; sleep 1; done; echo "$url did not answer in 180 s" >&2; exit 1; done`);
}

/** solo, community or a variant: the program's `pulumi up` on a fresh VPS. */
export async function programSetup(o: { key: string; name: string; n: number; server: string; tier: string; hostMiB: number; config: Record<string, string>;
  pki: BenchPki; registration: string; fixture?: string; tweaks?: string[] }): Promise<Setup> {
  const vps = await bootVps(o.n);
  const ws = await devStack(vps, `bench-vps${o.n}-${o.key.replace(/[^A-Za-z0-9.-]/g, "_")}`,
    { tier: o.tier, serverName: o.server, tlsMode: "provided", tlsCertificate: o.pki.cert, ...o.config }, o.fixture);
  await ws.configSet("tlsPrivateKey", o.pki.key, { secret: true });
  await ws.configSet("federationCaCertificates", o.pki.ca);
  await ws.configSet("federationIpRangeAllowlist[0]", sandboxNetwork, { path: true });
  await ws.configSet("appServiceRegistrations[0]", o.registration, { secret: true, path: true });
  ws.setInStackFile("dev", "synapse:trustedKeyServers", []);
  expectClean(await ws.update("up"));
  // Metrics on every process (bench/vps/metrics.py), then reachable with the listeners.
  const metricsPorts = (await vps.sh(`python3 - ${metricsPort}`, { stdin: shipped("metrics.py") })).stdout.trim().split("\n").map(Number);
  for (const t of o.tweaks ?? []) await vps.sh("bash -s", { stdin: fs.readFileSync(path.join(root, "bench", "tweaks", `${t}.sh`), "utf8") });
  await vps.sh("systemctl restart matrix-synapse && (systemctl restart matrix-synapse-workers.target 2>/dev/null || true) && systemctl reload nginx");
  await waitHealthy(vps, metricsPorts);
  const routes = directRoutes(o.tier);
  await exposeListeners(vps, [mainPort, ...new Set(routes.map(([, p]) => p)), ...metricsPorts]);
  return {
    key: o.key, name: o.name, server: o.server, vps, hostMiB: o.hostMiB, ws, metricsPorts, secretsYaml: "/etc/matrix-synapse/conf.d/secrets.yaml",
    nginx: { base: `https://matrix.${o.server}`, address: vps.host, ca: o.pki.caFile },
    direct: { base: `http://${vps.host}:${mainPort}`, address: vps.host, routes },
  };
}

/**
 * distro or hand: Debian's package on the "packages" image, started with its own homeserver.yaml
 * and a conf.d file of what the benchmark needs (the server name, the listeners with a metrics
 * one, the shared secret, the puppets' registration, the bench CA for federation, the sandbox's
 * network allowed for federation; for hand, the database). Listeners as Debian's (client
 * responses gzipped by Synapse, as the package has it) but without its TLS one on 8448: nginx is
 * in front, with the program's site for this name.
 */
export async function packageSetup(o: { key: "distro" | "hand"; name: string; n: number; server: string; pki: BenchPki; registration: string;
  site: { from: Setup } }): Promise<Setup> {
  const vps = await bootVps(o.n, "packages");
  const secret = `bench-${Math.random().toString(36).slice(2)}${Date.now()}`;
  const conf: string[] = [
    "# The benchmark's additions to Debian's defaults (bench/performance/setups.ts).",
    `public_baseurl: https://matrix.${o.server}/`,
    "listeners:",
    `  - {port: ${mainPort}, tls: false, type: http, x_forwarded: true, bind_addresses: ['::1', '127.0.0.1'],`,
    "     resources: [{names: [client], compress: true}, {names: [federation], compress: false}]}",
    `  - {port: ${metricsPort}, type: metrics, bind_addresses: ['127.0.0.1']}`,
    "enable_metrics: true",
    `registration_shared_secret: "${secret}"`,
    "app_service_config_files: [/etc/matrix-synapse/bench-puppets.yaml]",
    "federation_custom_ca_list: [/etc/matrix-synapse/bench-ca.pem]",
    `ip_range_whitelist: ['${sandboxNetwork}']`,
    noNotary,
  ];
  const steps = ["export DEBIAN_FRONTEND=noninteractive"];
  if (o.key === "hand") {
    const password = `bench${Date.now()}`;
    conf.push("database:", "  name: psycopg2", "  args:", "    user: synapse_user", `    password: ${password}`, "    dbname: synapse",
      "    host: 127.0.0.1", "    cp_min: 5", "    cp_max: 10");
    steps.push("systemctl enable --now postgresql", "for i in $(seq 60); do runuser -u postgres -- pg_isready -q && break; sleep 1; done",
      `runuser -u postgres -- psql -q -c "CREATE ROLE synapse_user LOGIN PASSWORD '${password}'"`,
      "runuser -u postgres -- createdb --encoding=UTF8 --locale=C --template=template0 --owner=synapse_user synapse");
  }
  const put = (file: string, content: string, mode = "0644") => putFile(vps, file, content, mode);
  await put("/etc/matrix-synapse/conf.d/server_name.yaml", `server_name: ${o.server}\n`);
  await put("/etc/matrix-synapse/conf.d/bench.yaml", `${conf.join("\n")}\n`, "0600");
  await put("/etc/matrix-synapse/bench-puppets.yaml", o.registration, "0600");
  await put("/etc/matrix-synapse/bench-ca.pem", o.pki.ca);
  // The program's nginx site (solo's), for this name, with the same certificate.
  for (const site of ["matrix.conf", "matrix-well-known.conf"]) {
    const text = (await o.site.from.vps.sh(`cat /etc/nginx/sites-enabled/${site}`)).stdout;
    await put(`/etc/nginx/sites-enabled/${site}`, text.replace(new RegExp(`\\b${o.site.from.server.replace(/\./g, "\\.")}\\b`, "g"), o.server));
  }
  for (const dir of ["matrix", "matrix-well-known"]) {
    await put(`/etc/synapse-deploy/tls/${dir}/fullchain.pem`, o.pki.cert);
    await put(`/etc/synapse-deploy/tls/${dir}/privkey.pem`, o.pki.key, "0600");
  }
  steps.push("nginx -t -q", "systemctl enable --now nginx", "systemctl enable --now matrix-synapse");
  await vps.sh(steps.join(" && "));
  await waitHealthy(vps);
  await exposeListeners(vps, [mainPort, metricsPort]);
  return {
    key: o.key, name: o.name, server: o.server, vps, hostMiB: 2048, metricsPorts: [metricsPort], secretsYaml: "/etc/matrix-synapse/conf.d/bench.yaml",
    nginx: { base: `https://matrix.${o.server}`, address: vps.host, ca: o.pki.caFile },
    direct: { base: `http://${vps.host}:${mainPort}`, address: vps.host },
  };
}

/**
 * The sending homeserver for federation inbound load: Debian's package (SQLite), serving
 * federation itself with TLS on 8448, presence off so it sends nothing while no test runs. Its
 * server name carries the port (f.test:8448): other servers then look up neither .well-known nor
 * SRV records, which in the sandbox (no DNS) would hang until their timeout. Pinned to the load
 * generator's core.
 */
export async function senderSetup(o: { n: number; server: string; pki: BenchPki; cpus: string }): Promise<Setup> {
  const vps = await bootVps(o.n, "packages", { cpus: o.cpus });
  const secret = `bench-${Math.random().toString(36).slice(2)}${Date.now()}`;
  const conf = [
    "listeners:",
    `  - {port: ${mainPort}, tls: false, type: http, x_forwarded: false, bind_addresses: ['0.0.0.0'], resources: [{names: [client, federation], compress: false}]}`,
    "  - {port: 8448, tls: true, type: http, x_forwarded: false, bind_addresses: ['0.0.0.0'], resources: [{names: [federation], compress: false}]}",
    "tls_certificate_path: /etc/matrix-synapse/bench.crt",
    "tls_private_key_path: /etc/matrix-synapse/bench.key",
    `registration_shared_secret: "${secret}"`,
    "federation_custom_ca_list: [/etc/matrix-synapse/bench-ca.pem]",
    `ip_range_whitelist: ['${sandboxNetwork}']`,
    noNotary,
    "presence: {enabled: false}",
  ];
  const put = (file: string, content: string, mode = "0600") => putFile(vps, file, content, mode);
  await put("/etc/matrix-synapse/conf.d/server_name.yaml", `server_name: ${o.server}\n`, "0644");
  await put("/etc/matrix-synapse/conf.d/bench.yaml", `${conf.join("\n")}\n`);
  await put("/etc/matrix-synapse/bench.crt", o.pki.cert);
  await put("/etc/matrix-synapse/bench.key", o.pki.key);
  await put("/etc/matrix-synapse/bench-ca.pem", o.pki.ca, "0644");
  await vps.sh("systemctl enable --now matrix-synapse");
  await waitHealthy(vps);
  return {
    key: "sender", name: `sending homeserver (${o.server})`, server: o.server, vps, hostMiB: 0, metricsPorts: [], secretsYaml: "/etc/matrix-synapse/conf.d/bench.yaml",
    nginx: { base: `http://${vps.host}:${mainPort}`, address: vps.host }, direct: { base: `http://${vps.host}:${mainPort}`, address: vps.host },
  };
}

/** Every homeserver knows every other's name (there is no DNS in the sandbox). */
export async function hostsFile(all: Setup[]): Promise<void> {
  const lines = all.map((s) => s.server.split(":")[0]).map((name, i) => `${all[i].vps.host} ${name} matrix.${name} # bench\n`).join("");
  await Promise.all(all.map((s) => s.vps.sh("sed -i '/ # bench$/d' /etc/hosts && cat >> /etc/hosts", { stdin: lines })));
}

/** users.py on the setup's VPS. */
export async function populate(s: Pick<Setup, "vps" | "secretsYaml">, counts: { load: number; rooms: number; syncRooms: number; joiners: number }): Promise<Population> {
  const r = await s.vps.sh(`python3 - ${s.secretsYaml} ${counts.load} ${counts.rooms} ${counts.syncRooms} ${counts.joiners}`, { stdin: shipped("users.py") });
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}
