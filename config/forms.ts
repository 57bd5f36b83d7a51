// The forms a config value can take (zod schemas with the message a user reads when a value does
// not fit), shared by the keys in keys.ts. Each message completes "expected …".
import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { z } from "zod";

export const dnsLabel = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
export const dnsName = new RegExp(`^(?=.{1,253}$)${dnsLabel}(?:\\.${dnsLabel})+$`);
const privateKeyPem =
  /^-----BEGIN ((?:OPENSSH|RSA|EC|DSA|ENCRYPTED) )?PRIVATE KEY-----\r?\n(?:[A-Za-z0-9+/=:,\- ]*\r?\n)*[A-Za-z0-9+/=]+\r?\n-----END \1?PRIVATE KEY-----\s*$/;
const certificatePem = /^(?:-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*)+$/;

/** S3 bucket names: 3-63 of a-z, 0-9, dot and hyphen, starting and ending with a letter or digit. */
export const bucketNamePattern = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** A systemd calendar expression without anything a unit file or a shell would read differently. */
export const calendarPattern = /^[A-Za-z0-9 *:,.~\/-]+$/;
/** A Synapse duration (Config.parse_duration): a number and s, m, h, d, w or y. No ms: Synapse refuses it. */
export const durationPattern = /^[1-9][0-9]*(s|m|h|d|w|y)$/;
const durationSeconds: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400, y: 365 * 86400 };

/** "90d" → seconds (the value has matched durationPattern). */
export function durationToSeconds(duration: string): number {
  const [, n, unit] = /^(\d+)([a-z]+)$/.exec(duration)!;
  return Number(n) * durationSeconds[unit];
}

export function isCidr(value: string): boolean {
  const [address, prefix, ...rest] = value.split("/");
  const family = isIP(address ?? "");
  if (rest.length > 0 || family === 0 || prefix === undefined || !/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

/** Each certificate of a PEM bundle, as its own PEM text. */
export function pemBlocks(bundle: string): string[] {
  return [...bundle.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => `${m[0]}\n`);
}

/**
 * PEM certificates that OpenSSL reads (Node's X509Certificate is OpenSSL's parser): what Synapse
 * (Twisted's Certificate.loadPEM for federation_custom_ca_list), nginx (ssl_certificate) and
 * certbot (its CA bundle) each refuse when a certificate does not parse.
 */
const parsedCertificates = z.string().regex(certificatePem, { error: "one or more PEM certificates" })
  .superRefine((bundle, ctx) => {
    // Only what the form accepts (not aborting the regex keeps the union's message the form's).
    if (!certificatePem.test(bundle)) return;
    pemBlocks(bundle).forEach((pem, i, all) => {
      try {
        new X509Certificate(pem);
      } catch {
        ctx.addIssue({ code: "custom", message: `PEM certificates that parse (${all.length > 1 ? `certificate ${i + 1} of ${all.length}` : "the certificate"} is no valid X.509 certificate)` });
      }
    });
  });

/** The empty string: "not set" for an optional string key. */
export const unset = <T extends z.ZodTypeAny>(schema: T) => z.union([z.literal(""), schema]);
/** 0 or "": the tier's value. */
export const override = <T extends z.ZodTypeAny>(schema: T) => z.union([z.literal(""), z.literal(0), schema]);

export const forms = {
  port: z.number().int().min(1, { error: "a port from 1 to 65535" }).max(65535, { error: "a port from 1 to 65535" }),
  host: z.string().regex(/^[A-Za-z0-9.:\-\[\]]+$/, { error: "a host name or IP address" }),
  ip: z.string().refine((v) => isIP(v) !== 0, { error: "an IPv4 or IPv6 address" }),
  unixUser: z.string().regex(/^[a-z_][a-z0-9_-]*$/, { error: "a Unix user name" }),
  privateKey: z.string().regex(privateKeyPem, { error: "a PEM or OpenSSH private key (-----BEGIN … PRIVATE KEY----- … -----END … PRIVATE KEY-----)" }),
  pemPrivateKey: z.string().regex(privateKeyPem, { error: "a PEM private key" }),
  certificates: parsedCertificates,
  serverName: z.string().regex(dnsName, { error: "a lower-case DNS name with at least one dot, e.g. example.org (no scheme, port or path)" }),
  dnsName: z.string().regex(dnsName, { error: "a lower-case DNS name, e.g. matrix.example.org" }),
  cidr: z.string().refine(isCidr, { error: "a CIDR such as 192.0.2.0/24 or 2001:db8::/32" }),
  calendar: z.string().regex(calendarPattern, { error: "a systemd OnCalendar expression such as daily, weekly or *-*-* 03:30" }),
  duration: z.string().regex(durationPattern, { error: "a duration such as 90d (a number and s, m, h, d, w or y)" }),
  bucket: z.string().regex(bucketNamePattern, { error: "an S3 bucket name: 3-63 of a-z, 0-9, . and -" }),
  region: z.string().regex(/^[a-z0-9-]+$/, { error: "a region such as us-east-1" }),
  s3Endpoint: z.url({ protocol: /^https?$/, error: "an http(s):// URL such as https://s3.us-west-004.backblazeb2.com" }),
  accessKeyId: z.string().regex(/^[A-Za-z0-9+/=_-]+$/, { error: "an access key ID" }),
  secretAccessKey: z.string().regex(/^\S+$/, { error: "a secret access key (no spaces)" }),
  positive: z.number().int().min(1, { error: "an integer >= 1" }),
  tierOverride: z.number().int().min(0, { error: "an integer >= 1 (0 = the tier's)" }),
};
