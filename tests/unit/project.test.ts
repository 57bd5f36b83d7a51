// The project's own files agree with the code: Pulumi.yaml and the README's config table with
// the key table, the stacks with the validator, the README's test command with .ci/run.
import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { configKeys, declaredInProject, parseSettings } from "../../config";
import { testPrivateKey } from "../support/fixtures";

const root = path.join(__dirname, "..", "..");
const read = (f: string) => fs.readFileSync(path.join(root, f), "utf8");

describe("Pulumi.yaml", () => {
  const project = YAML.parse(read("Pulumi.yaml"));
  it("is the synapse project on nodejs", () => {
    expect(project.name).toBe("synapse");
    expect(project.runtime.name).toBe("nodejs");
  });
  it("declares every config key the engine accepts with its type, description and default", () => {
    // Optional secrets cannot be declared (the engine refuses a plain default for a secret).
    const declarable = configKeys.filter(declaredInProject);
    expect(configKeys.filter((k) => !declaredInProject(k)).map((k) => k.name).sort()).toEqual([
      "alertSmtpPassword", "appServiceRegistrations", "backupSecretAccessKey", "databaseSshPrivateKey", "mediaSecretAccessKey", "restoreAgeIdentity", "tlsPrivateKey",
      "wellKnownSshPrivateKey",
    ]);
    expect(Object.keys(project.config).sort()).toEqual(declarable.map((k) => k.name).sort());
    for (const k of declarable) {
      const declared = project.config[k.name];
      expect({ key: k.name, type: declared.type, description: declared.description, default: declared.default, secret: declared.secret ?? false })
        .toEqual({ key: k.name, type: k.type, description: k.description, default: k.default, secret: k.secret ?? false });
      // The engine refuses an array without the type of its items.
      if (k.type === "array") expect({ key: k.name, items: declared.items }).toEqual({ key: k.name, items: { type: "string" } });
    }
  });
});

describe("the manual", () => {
  it("lists every key in the config reference, with its type (the table is generated: npm run gen)", () => {
    const reference = read("docs/configuration.md");
    const rows = new Map([...reference.matchAll(/^\| `(\w+)`(?: \(secret\))? \| (\w+) \|/gm)].map((m) => [m[1], m[2]]));
    expect([...rows.keys()].sort()).toEqual(configKeys.map((k) => k.name).sort());
    for (const k of configKeys) expect({ key: k.name, type: rows.get(k.name) }).toEqual({ key: k.name, type: k.type });
  });
});

describe("README", () => {
  const readme = read("README.md");
  it("gives the test command that .ci/run runs", () => {
    const block = /Run the tests:\n```bash\n(.+)\n```/.exec(readme);
    expect(block).not.toBeNull();
    const commands = block![1].split("&&").map((c) => c.trim().replace(/^sudo /, ""));
    expect(commands).toEqual(["npm ci", "npm test", "npm run test:e2e"]);
    const ci = read(".ci/run").split("\n").map((l) => l.trim());
    for (const c of commands) expect(ci).toContain(c);
  });
});

describe("stacks", () => {
  const stackFiles = ["Pulumi.dev.yaml", ...fs.readdirSync(path.join(root, "examples")).map((f) => `examples/${f}`)];
  it.each(stackFiles)("%s is a valid stack", (file) => {
    const config = YAML.parse(read(file)).config as Record<string, unknown>;
    const raw: Record<string, string> = { sshPrivateKey: testPrivateKey };
    for (const [k, v] of Object.entries(config)) raw[k.replace(/^synapse:/, "")] = typeof v === "string" ? v : JSON.stringify(v);
    if (raw.tlsMode === "provided") Object.assign(raw, { tlsMode: "self-signed" }); // its PEMs are set by the user
    if (raw.mediaAccessKeyId) raw.mediaSecretAccessKey = "set-with-pulumi-config-set-secret"; // likewise
    const r = parseSettings(raw);
    expect(r.ok ? [] : r.errors).toEqual([]);
  });
});
