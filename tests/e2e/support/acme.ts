// The sandbox's ACME server and DNS, on a VPS of their own: Let's Encrypt's test server Pebble
// (which validates HTTP-01 for real, on port 80 of the name) and pebble-challtestsrv as the DNS
// server the other VPSes use for the test names. Pebble's own HTTPS API gets a certificate from a
// throwaway CA made here: that CA is what a user gives the program as acmeCaBundle.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Agent, fetch } from "undici";
import { request, sandboxAgent } from "../clients/https";
import { PulumiWorkspace, serverBinary } from "./pulumi";
import { bootVps, devStack, Vps } from "./stack";

export interface TestAcme {
  vps: Vps;
  /** The name Pebble's API answers to (an A record of the test DNS). */
  directory: string;
  /** The throwaway CA of Pebble's API (for certbot: acmeCaBundle). */
  apiCa: string;
  /** The root that signs the certificates Pebble issues (new on every start of Pebble). */
  issuingRoot(): Promise<string>;
  /** An A record in the test DNS. */
  addA(name: string, address: string): Promise<void>;
  /** Moves a name to another address (what a user does in DNS after moving to a new VPS). */
  replaceA(name: string, address: string): Promise<void>;
  /** Points a VPS's resolver at the test DNS. */
  useDns(vps: Vps): Promise<void>;
}

function throwawayCa(apiName: string, apiAddress: string): { ca: string; cert: string; key: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "acme-ca-"));
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  try {
    ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "7",
      "-subj", "/CN=sandbox ACME API root", "-keyout", "ca.key", "-out", "ca.pem",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
    ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${apiName}`,
      "-keyout", "api.key", "-out", "api.csr");
    fs.writeFileSync(path.join(dir, "ext"), `subjectAltName=DNS:${apiName},IP:${apiAddress}\nextendedKeyUsage=serverAuth\n`);
    ssl("x509", "-req", "-in", "api.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "7",
      "-extfile", "ext", "-out", "api.pem");
    const read = (f: string) => fs.readFileSync(path.join(dir, f), "utf8");
    return { ca: read("ca.pem"), cert: read("api.pem"), key: read("api.key") };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const unit = (description: string, exec: string, env: string[] = []) => [
  "[Unit]", `Description=${description}`, "[Service]", ...env.map((e) => `Environment=${e}`),
  `ExecStart=${exec}`, "Restart=on-failure", "[Install]", "WantedBy=multi-user.target", "",
].join("\n");

export async function startAcme(n: number, apiName = "acme.test"): Promise<TestAcme> {
  const vps = await bootVps(n);
  const tls = throwawayCa(apiName, vps.host);
  for (const bin of ["pebble", "pebble-challtestsrv"]) {
    await vps.sh(`cat > /usr/local/bin/${bin} && chmod 0755 /usr/local/bin/${bin}`, { stdin: fs.readFileSync(serverBinary(bin)) });
  }
  await vps.sh("install -d /etc/pebble && cat > /etc/pebble/api.pem", { stdin: tls.cert });
  await vps.sh("install -m 0600 /dev/stdin /etc/pebble/api.key", { stdin: tls.key });
  await vps.sh("cat > /etc/pebble/config.json", { stdin: JSON.stringify({
    pebble: {
      listenAddress: "0.0.0.0:14000", managementListenAddress: "0.0.0.0:15000",
      certificate: "/etc/pebble/api.pem", privateKey: "/etc/pebble/api.key",
      // Validation on the real ports: nginx answers HTTP-01 from its webroot.
      httpPort: 80, tlsPort: 443, ocspResponderURL: "", externalAccountBindingRequired: false,
      keyAlgorithm: "ecdsa", profiles: { default: { description: "default", validityPeriod: 7776000 } },
    },
  }, null, 2) });
  await vps.sh("cat > /etc/systemd/system/challtestsrv.service", { stdin: unit("The test DNS (pebble-challtestsrv)",
    "/usr/local/bin/pebble-challtestsrv -dnsserver :53 -management :8055 -http01 '' -https01 '' -tlsalpn01 '' -doh '' -defaultIPv4 '' -defaultIPv6 ''") });
  await vps.sh("cat > /etc/systemd/system/pebble.service", { stdin: unit("Pebble, Let's Encrypt's test ACME server",
    "/usr/local/bin/pebble -config /etc/pebble/config.json -dnsserver 127.0.0.1:53",
    // No artificial delays, and no nonces rejected on purpose: validation itself stays real.
    ["PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0"]) });
  await vps.sh("systemctl daemon-reload && systemctl enable --now challtestsrv pebble");
  await vps.sh("for i in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:8055/ && curl -sk -o /dev/null https://127.0.0.1:14000/dir && exit 0; sleep 0.1; done; exit 1");

  const agent = new Agent({ connect: { ca: tls.ca } });
  const manage = async (what: string, body: unknown) => {
    const r = await fetch(`http://${vps.host}:8055/${what}`, { method: "POST", body: JSON.stringify(body) });
    if (!r.ok) throw new Error(`challtestsrv ${what}: ${r.status} ${await r.text()}`);
  };
  const acme: TestAcme = {
    vps,
    directory: `https://${apiName}:14000/dir`,
    apiCa: tls.ca,
    async issuingRoot() {
      const r = await fetch(`https://${vps.host}:15000/roots/0`, { dispatcher: agent });
      if (!r.ok) throw new Error(`pebble roots: ${r.status}`);
      return r.text();
    },
    addA: (name, address) => manage("add-a", { host: name, addresses: [address] }),
    async replaceA(name, address) {
      await manage("clear-a", { host: name });
      await manage("add-a", { host: name, addresses: [address] });
    },
    async useDns(target) {
      await target.sh(`printf '# the sandbox test DNS (pebble-challtestsrv)\\nnameserver ${vps.host}\\n' > /etc/resolv.conf`);
    },
  };
  await acme.addA(apiName, vps.host);
  return acme;
}

/**
 * A user's checkout for a homeserver of a private federation in the sandbox: certificates from
 * this ACME server through the program's normal path, the federation trusting its issuing root,
 * the sandbox's private addresses allowed, and each server's keys fetched from that server.
 */
export async function federatingStack(acme: TestAcme, vps: Vps, name: string, extra: Record<string, string> = {}): Promise<PulumiWorkspace> {
  const ws = await devStack(vps, `vps${vps.n}-${name}`, {
    serverName: name, tlsMode: "acme", acmeEmail: `ops@${name}`, acmeServer: acme.directory, ...extra,
  });
  await ws.configSet("acmeCaBundle", acme.apiCa);
  await ws.configSet("federationCaCertificates", await acme.issuingRoot());
  await ws.configSet("federationIpRangeAllowlist[0]", "10.231.0.0/16", { path: true });
  // An empty list (fetch keys from each server itself) is written in the stack file.
  ws.setInStackFile("dev", "synapse:trustedKeyServers", []);
  return ws;
}

/** A homeserver of a federation test: its stack, an admin's token and a client of it. */
export interface Homeserver {
  name: string;
  matrixHost: string;
  vps: Vps;
  ws: PulumiWorkspace;
  token: string;
  client: ReturnType<typeof clientFor>;
}

/** A client of one homeserver that trusts only Pebble's issuing root (`ca`). */
export function clientFor(vps: Vps, ca: string) {
  const agent = sandboxAgent({ address: vps.host, ca });
  return {
    get: (url: string, token?: string) => request(agent, url, { token }),
    post: (url: string, body: unknown, token?: string) => request(agent, url, { body, token }),
    put: (url: string, body: unknown, token?: string) => request(agent, url, { method: "PUT", body, token }),
    upload: (url: string, bytes: Buffer, contentType: string, token: string) => request(agent, url, { raw: { bytes, contentType }, token }),
    close: () => agent.close(),
  };
}
