// A real nginx from the machine on loopback, serving a site the program renders, in front of stub
// upstreams that answer with their own name: for tests of routing and limits without a VPS.
import { ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { NginxSite, renderSite } from "../../../render/nginx";

export const nginxFound = spawnSync("nginx", ["-v"]).status === 0;

/** A loopback HTTP server per process, answering with its name and the URL it got. */
export async function startStubs(processes: { name: string; port: number }[]): Promise<http.Server[]> {
  return Promise.all(processes.map(({ name, port }) => new Promise<http.Server>((resolve, reject) => {
    const server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ process: name, url: req.url }));
      });
    });
    server.keepAliveTimeout = 1000;
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  })));
}

export interface LoopbackNginx { dir: string; child: ChildProcess; ca: string }

/**
 * nginx with `site` (rendered by the program) as its only site. The only changes to the rendered
 * site: loopback addresses and unprivileged ports.
 */
export async function startNginx(label: string, site: Omit<NginxSite, "tlsDir" | "acmeWebroot" | "httpsPorts">,
  ports: { https: number; http: number }): Promise<LoopbackNginx> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nginx-${label}-`));
  const host = site.serverNames[0];
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
    "-subj", `/CN=${host}`, "-addext", `subjectAltName=DNS:${host}`, "-keyout", `${dir}/privkey.pem`, "-out", `${dir}/fullchain.pem`], { stdio: "ignore" });
  const text = renderSite({ ...site, tlsDir: dir, httpsPorts: [ports.https], acmeWebroot: dir })
    .replace("listen 80;", `listen 127.0.0.1:${ports.http};`)
    .replace(`listen ${ports.https} ssl;`, `listen 127.0.0.1:${ports.https} ssl;`)
    .replace(/^\s*listen \[::\]:.*\n/gm, "");
  fs.writeFileSync(`${dir}/site.conf`, text);
  fs.writeFileSync(`${dir}/nginx.conf`, [
    "worker_processes 1;", "user root;", `pid ${dir}/nginx.pid;`, `error_log ${dir}/error.log;`,
    "events { worker_connections 256; }",
    `http { access_log ${dir}/access.log; client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;`,
    `  include ${dir}/site.conf; }`, "",
  ].join("\n"));
  execFileSync("nginx", ["-t", "-q", "-p", dir, "-c", `${dir}/nginx.conf`], { stdio: "pipe" });
  const child = spawn("nginx", ["-p", dir, "-c", `${dir}/nginx.conf`, "-g", "daemon off;"], { stdio: "inherit" });
  const ca = fs.readFileSync(`${dir}/fullchain.pem`, "utf8");
  for (let i = 0; i < 100; i++) {
    const listening = await new Promise<boolean>((resolve) => {
      const socket = net.connect(ports.https, "127.0.0.1", () => { socket.destroy(); resolve(true); });
      socket.on("error", () => resolve(false));
    });
    if (listening) return { dir, child, ca };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nginx did not start; see ${dir}/error.log`);
}

export async function stopAll(nginx: LoopbackNginx | undefined, stubs: http.Server[]): Promise<void> {
  if (nginx && nginx.child.exitCode === null) {
    const exited = new Promise((r) => nginx.child.once("exit", r));
    nginx.child.kill("SIGTERM");
    await exited;
  }
  for (const s of stubs) s.closeAllConnections();
  await Promise.all(stubs.map((s) => new Promise((r) => s.close(r))));
  if (nginx) fs.rmSync(nginx.dir, { recursive: true, force: true });
}
