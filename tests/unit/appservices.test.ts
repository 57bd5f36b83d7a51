// Application service registrations: what the config accepts and refuses, and where they go.
import YAML from "yaml";
import { parseSettings } from "../../config";
import { validRaw } from "../support/fixtures";
import { runProgram } from "../support/mockProgram";

const registration = (id: string, extra = "") => [
  // Synapse refuses two registrations with one as_token: each has its own.
  `id: ${id}`, "url: null", `as_token: as-secret-token-${id}`, "hs_token: hs-secret-token", "sender_localpart: trapbot", "rate_limited: false",
  "namespaces:", "  users:", "    - exclusive: true", `      regex: '@m[0-9]+:example\\.org'`, extra,
].join("\n");
const raw = (regs: string[]) => validRaw({ appServiceRegistrations: JSON.stringify(regs) });
const errorsOf = (regs: string[]) => { const r = parseSettings(raw(regs), new Set(["sshPrivateKey", "appServiceRegistrations"])); return r.ok ? [] : r.errors; };

describe("config", () => {
  it("takes registrations as the bridges give them, none by default", () => {
    const r = parseSettings(raw([registration("puppets")]), new Set(["sshPrivateKey", "appServiceRegistrations"]));
    expect(r.ok && r.settings.appServices).toEqual([{ id: "puppets", registration: registration("puppets") }]);
    const none = parseSettings(validRaw());
    expect(none.ok && none.settings.appServices).toEqual([]);
  });

  it("refuses what Synapse's loader would, never echoing the tokens", () => {
    expect(errorsOf(["id: [unclosed"])).toEqual([
      "synapse:appServiceRegistrations[0]: given a secret value, expected an application service registration in YAML (it does not parse)",
    ]);
    expect(errorsOf([registration("a b").replace(/as_token: .*\n/, "")])).toEqual([
      "synapse:appServiceRegistrations[0]: given a secret value, expected an application service registration (id: letters, digits and ._- (it names the file); as_token: a token)",
    ]);
    expect(errorsOf([registration("one"), registration("one")])).toEqual([
      'synapse:appServiceRegistrations[1]: given a secret value, expected an id of its own ("one" is taken)',
    ]);
    expect(JSON.stringify(errorsOf(["as_token: leaked-token"]))).not.toContain("leaked-token");
  });

  it("must be a secret", () => {
    const r = parseSettings(raw([registration("puppets")]), new Set(["sshPrivateKey"]));
    expect(r.ok ? [] : r.errors).toEqual([expect.stringMatching(/^synapse:appServiceRegistrations: given a plain-text value, expected a secret/)]);
  });
});

describe("the program", () => {
  it("stages each registration as a 0600 secret file, named in homeserver.yaml and checked with it", async () => {
    const run = await runProgram({ ...raw([registration("puppets"), registration("bridge")]), tlsMode: "self-signed", packageSource: "debian" } as never,
      ["sshPrivateKey", "appServiceRegistrations"]);
    const staged = run.byName("synapse-staged-appservice-puppets");
    expect(staged.inputs.create).toContain("DEST=/var/lib/synapse-deploy/staged/synapse/appservices/puppets.yaml\nMODE=0600\nOWNER=matrix-synapse:\n");
    expect(staged.secretInputs).toContain("stdin");
    expect(staged.inputs.stdin).toBe(registration("puppets"));
    expect(YAML.parse(run.byName("synapse-staged-homeserver").inputs.stdin).app_service_config_files)
      .toEqual(["/etc/matrix-synapse/appservices/puppets.yaml", "/etc/matrix-synapse/appservices/bridge.yaml"]);
    expect(run.byName("synapse-activate").inputs.create).toContain("appservices/bridge.yaml");
    for (const r of run.resources) expect(JSON.stringify(r.inputs.create ?? "")).not.toContain("as-secret-token");
  });
});
