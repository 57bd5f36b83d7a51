// Shared test inputs: a valid stack config and helpers.
import { generateKeyPairSync } from "node:crypto";
import { RawConfig } from "../../config";

export const testPrivateKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();

/**
 * Two self-signed certificates with their keys (EC P-256, valid for a century), made once with
 * openssl req -x509 for these tests: a real certificate is what Synapse, nginx and certbot read.
 */
export const testCertificate = `-----BEGIN CERTIFICATE-----
MIIBiDCCAS+gAwIBAgIUPRRKgEd/axrmQrFXKzCvcb9vXdswCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOc3luYXBzZSB0ZXN0IGEwIBcNMjYxMjA1MDEyNDM1WhgPMjEy
NjExMTEwMTI0MzVaMBkxFzAVBgNVBAMMDnN5bmFwc2UgdGVzdCBhMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEwq3d5jEuoge44O9xt4dSphINKoIiuHHdGJPi6TlI
WW+WXbN4C1GL1ppKDGeJoI2YDWcTVTrR52ZwuGYvSkTc6KNTMFEwHQYDVR0OBBYE
FA7FIaQY1mkIioMkx8a68YdmhZ7EMB8GA1UdIwQYMBaAFA7FIaQY1mkIioMkx8a6
8YdmhZ7EMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgC+YdYj6a
TQ21AvPzCOXeJ5MaOPaS1ckI3SaIUtuthvQCIC/zhJd3Zm+i5CGtb8eAohEU80Bx
q9Pdicxerad3B3CZ
-----END CERTIFICATE-----
`;
export const testCertificateKey = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgeKb9/fL855/hU26X
L3HhGTja/9OTqHMvuEaqkTE3bv2hRANCAATCrd3mMS6iB7jg73G3h1KmEg0qgiK4
cd0Yk+LpOUhZb5Zds3gLUYvWmkoMZ4mgjZgNZxNVOtHnZnC4Zi9KRNzo
-----END PRIVATE KEY-----
`;
export const otherCertificate = `-----BEGIN CERTIFICATE-----
MIIBiDCCAS+gAwIBAgIUDohy0ZYTLcU9W9fN6fJ0bK95RJswCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOc3luYXBzZSB0ZXN0IGIwIBcNMjYxMjA1MDEyNDM1WhgPMjEy
NjExMTEwMTI0MzVaMBkxFzAVBgNVBAMMDnN5bmFwc2UgdGVzdCBiMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEqX0zLidhB7FKn95/MlkTD8xbXg2t9BOw2VmhxEvJ
BgLXxi1MhubGEyoVxA9PaqQy2eJBVZaL1CE7qXeDZSLkCKNTMFEwHQYDVR0OBBYE
FED2eb2Siy9F1VJ43oJG5m0WpigcMB8GA1UdIwQYMBaAFED2eb2Siy9F1VJ43oJG
5m0WpigcMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgejlJfSY8
aDh9m+PF0NIvtUY3Deeck/5sgH0TIi76LR4CIBmwZtcW/cdB7PGCXHPDNzu6pl5L
lc65uucmNurTzhwE
-----END CERTIFICATE-----
`;
export const otherCertificateKey = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgaG2HGqA5uolsHXjv
GCua28XpvxzCKg9GhSMlQZXtdoWhRANCAASpfTMuJ2EHsUqf3n8yWRMPzFteDa30
E7DZWaHES8kGAtfGLUyG5sYTKhXED09qpDLZ4kFVlovUITupd4NlIuQI
-----END PRIVATE KEY-----
`;

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
