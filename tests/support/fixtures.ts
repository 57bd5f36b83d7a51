// Shared test inputs: a valid stack config and helpers.
import { generateKeyPairSync } from "node:crypto";
import { RawConfig } from "../../config";

export const testPrivateKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();

/** A minimal valid stack (raw strings, as Pulumi stores them). */
export function validRaw(overrides: RawConfig = {}): RawConfig {
  return {
    serverName: "example.org",
    host: "203.0.113.10",
    sshPrivateKey: testPrivateKey,
    tlsMode: "acme",
    acmeEmail: "admin@example.org",
    ...overrides,
  };
}
