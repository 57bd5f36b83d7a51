// What the real engine checks before any host is touched, on a user's checkout: the config
// schema in Pulumi.yaml, the TypeScript compile by @pulumi/pulumi's runner, the program's own
// validation as the CLI prints it, and the GitHub workflow's preview as far as it runs without
// GitHub. A preview never opens an SSH connection, so none of this needs a VPS.
import { generateKeyPairSync } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { testCertificate, testCertificateKey } from "../support/fixtures";
import { PulumiWorkspace, repoRoot, stripAnsi } from "./support/pulumi";
import { suiteNeeding } from "./support/requirements";
import { outputDir } from "./support/stack";

const suite = suiteNeeding("engine");
jest.setTimeout(180_000);

const key = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const keyLine = key.split("\n")[1];

suite("the real engine on a fresh checkout", () => {
  let ws: PulumiWorkspace;

  beforeAll(async () => {
    ws = await PulumiWorkspace.create(path.join(outputDir, "engine", "checkout"), { logDir: path.join(outputDir, "engine") });
  });

  test("a stack with only the keys the README's first command sets previews without a warning", async () => {
    // The README's getting-started line, as typed (the key from a file, through stdin).
    await ws.pulumi(["stack", "init", "prod"]);
    await ws.configSet("serverName", "example.org");
    await ws.configSet("host", "203.0.113.10");
    await ws.configSet("acmeEmail", "you@example.org");
    await ws.pulumi(["config", "set", "--secret", "sshPrivateKey"], { stdin: key });
    const plan = await ws.plan();
    expect({ code: plan.code, stderr: plan.stderr }).toEqual({ code: 0, stderr: "" });
    const ops = new Set(plan.steps.map((s) => s.op));
    expect(ops).toEqual(new Set(["create"]));
    expect(plan.steps.filter((s) => s.type === "command:remote:Command").length).toBeGreaterThan(20);
    expect((plan.json.diagnostics ?? []).filter((d: any) => d.severity !== "info")).toEqual([]);
    // The key is encrypted in the stack file, and never printed.
    expect(fs.readFileSync(path.join(ws.dir, "Pulumi.prod.yaml"), "utf8")).not.toContain(keyLine);
    expect(plan.stdout).not.toContain(keyLine);
  });

  test("a bad stack config fails before any resource, printing just the list of problems", async () => {
    await ws.configSet("tier", "huge");
    await ws.configSet("sshPort", "70000");
    const r = await ws.update("up");
    expect(r.code).not.toBe(0);
    const text = r.stdout + r.stderr;
    expect(stripAnsi(text)).toBe(text); // no colour codes
    expect(text).toContain([
      "Invalid stack config (2 problems):",
      "      - synapse:tier: given \"huge\", expected one of solo, community, large",
      "      - synapse:sshPort: given \"70000\", expected a port from 1 to 65535",
    ].join("\n"));
    // No stack trace, no program source, no TypeScript error.
    expect(text).not.toMatch(/^\s+at |\.ts:\d+|TSError|ConfigError:/m);
    expect(r.steps.filter((s) => s.type !== "pulumi:pulumi:Stack")).toEqual([]);
    await ws.pulumi(["config", "rm", "tier"]);
    await ws.pulumi(["config", "rm", "sshPort"]);
  });

  test("the engine itself refuses a value of the wrong type, naming the key", async () => {
    await ws.configSet("sshPort", "twenty-two");
    const r = await ws.plan();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("configuration key 'sshPort' must be of type 'integer'");
    await ws.pulumi(["config", "rm", "sshPort"]);
  });

  test("an optional secret set without --secret is refused; set with --secret it is accepted", async () => {
    await ws.configSet("tlsMode", "provided");
    // A real pair: nginx's rule (the key is the certificate's) is checked before any host too.
    await ws.configSet("tlsCertificate", testCertificate);
    await ws.configSet("tlsPrivateKey", testCertificateKey);
    const plain = await ws.plan();
    expect(plain.code).not.toBe(0);
    const problems = (plain.json.diagnostics ?? []).map((d: any) => d.message).join("\n");
    expect(problems).toContain("synapse:tlsPrivateKey: given a plain-text value, expected a secret (pulumi config set --secret tlsPrivateKey");
    expect(problems).not.toContain(testCertificateKey.split("\n")[1]); // the program never echoes it (the CLI's own config dump does)
    await ws.configSet("tlsPrivateKey", testCertificateKey, { secret: true });
    const encrypted = await ws.plan();
    expect(encrypted.code).toBe(0);
    for (const k of ["tlsMode", "tlsCertificate", "tlsPrivateKey"]) await ws.pulumi(["config", "rm", k]);
  });

  test("the GitHub workflow's preview job runs as written against a local backend", async () => {
    const workflow = YAML.parse(fs.readFileSync(path.join(repoRoot, ".github", "workflows", "ci.yml"), "utf8"));
    const job = workflow.jobs.preview;
    const action = job.steps.find((s: any) => String(s.uses ?? "").startsWith("pulumi/actions@"));
    expect(job.steps.map((s: any) => s.run).filter(Boolean)).toEqual(["npm ci"]); // done by the test setup
    expect(action.with).toMatchObject({ command: "preview", "stack-name": "${{ matrix.stack }}", diff: true, "comment-on-pr": true });
    expect(action.with["cloud-url"]).toBe("${{ vars.PULUMI_BACKEND_URL }}");
    expect(Object.keys(action.env).sort()).toEqual(["PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE"]);
    // What the action runs: login to cloud-url, select the matrix's stack, preview --diff. The stack
    // is an example from examples/ as a user would copy it, with the key set as the README says.
    for (const stack of job.strategy.matrix.stack as string[]) {
      fs.copyFileSync(path.join(repoRoot, "examples", "Pulumi.solo.yaml"), path.join(ws.dir, `Pulumi.${stack}.yaml`));
      await ws.pulumi(["login", `file://${ws.stateDir}`]);
      await ws.pulumi(["stack", "init", stack]);
      await ws.pulumi(["config", "set", "--secret", "sshPrivateKey"], { stdin: key });
      const r = await ws.pulumi(["preview", "--stack", stack, "--diff"]);
      // The PR comment's content: homeserver.yaml shown as a tree of keys, secrets hidden.
      expect(r.stdout).toMatch(/stdin\s*: \(yaml\) \{/);
      expect(r.stdout).toMatch(/server_name\s*: "example\.org"/);
      expect(r.stdout).toContain("[secret]");
      expect(r.stdout).not.toContain(keyLine);
      fs.writeFileSync(path.join(outputDir, "engine", `workflow-preview-${stack}.txt`), r.stdout);
    }
  });
});
