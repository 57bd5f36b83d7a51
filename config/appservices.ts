// Application services (bridges, bots): their registration files, as the admin got them from the
// bridge, one YAML document each. Synapse loads them from app_service_config_files; the tokens in
// them are secrets, so the key is one.
import { isIP } from "node:net";
import YAML from "yaml";
import { z } from "zod";
import { isCidr } from "./forms";

/**
 * What Synapse's own loader requires of a registration (Synapse 1.160: _load_appservice in
 * synapse/config/appservice.py and ApplicationService in synapse/appservice/__init__.py). Whether
 * a namespace's regex compiles is Python's re to say: that one is left to the loader's check on
 * the host, before anything goes live.
 */
const namespace = z.array(z.object({ exclusive: z.boolean(), regex: z.string().min(1) }));
/** The scopes Synapse 1.160 knows (its Scopes enum). */
export const appServiceScopes = ["urn:matrix:client:io.element.msc4502:rooms:is_joined"] as const;
const isAddressRange = (v: string) => isIP(v) !== 0 || isCidr(v);
const addressRanges = "ip_range_whitelist: a list of IP addresses or CIDRs";
const senderLocalpart = "sender_localpart: a Matrix localpart of a-z, 0-9 and ._-/ (Synapse refuses one that needs URL encoding, such as =)";
const scopes = `io.element.msc4502.scopes: a list of the scopes Synapse knows (${appServiceScopes.join(", ")})`;
const registration = z.object({
  // No '|' either: ApplicationService refuses it.
  id: z.string({ error: "id: letters, digits and ._- (it names the file)" }).regex(/^[A-Za-z0-9._-]+$/, { error: "id: letters, digits and ._- (it names the file)" }),
  url: z.union([z.null(), z.url({ protocol: /^https?$/, error: "url: an http(s):// URL, or null for a service Synapse never calls" })]),
  as_token: z.string({ error: "as_token: a token" }).min(1, { error: "as_token: a token" }),
  hs_token: z.string({ error: "hs_token: a token" }).min(1, { error: "hs_token: a token" }),
  // A Matrix localpart that needs no URL encoding (urllib's quote keeps a-z, 0-9 and ._-/ as they are).
  sender_localpart: z.string({ error: senderLocalpart }).regex(/^[a-z0-9._\-/]+$/, { error: senderLocalpart }),
  namespaces: z.object({ users: namespace.optional(), aliases: namespace.optional(), rooms: namespace.optional() },
    { error: "namespaces: users, aliases and rooms, each a list of {exclusive, regex}" }),
  rate_limited: z.boolean().optional(),
  protocols: z.array(z.string({ error: "protocols: a list of strings" }), { error: "protocols: a list of strings" }).optional(),
  ip_range_whitelist: z.array(z.string().refine(isAddressRange, { error: addressRanges }), { error: addressRanges }).optional(),
  "org.matrix.msc3202": z.boolean({ error: "org.matrix.msc3202: true or false" }).optional(),
  "io.element.msc4190": z.boolean({ error: "io.element.msc4190: true or false" }).optional(),
  "io.element.msc4502.scopes": z.array(z.enum(appServiceScopes, { error: scopes }), { error: scopes }).optional(),
}).loose();

export interface AppService {
  id: string;
  /** The registration as the admin gave it (secret). */
  registration: string;
}

/** A registration file's text, checked; the message completes "expected …". */
export const appServiceRegistration = z.string().transform((text, ctx) => {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch {
    ctx.addIssue({ code: "custom", message: "an application service registration in YAML (it does not parse)" });
    return z.NEVER;
  }
  const r = registration.safeParse(doc);
  if (!r.success) {
    ctx.addIssue({ code: "custom", message: `an application service registration (${r.error.issues.map((i) => i.message).join("; ")})` });
    return z.NEVER;
  }
  // Its as_token only for the loader's rule (no two registrations share one; config/loaderRules.ts).
  return { id: r.data.id, asToken: r.data.as_token, registration: text } satisfies AppService & { asToken: string };
});
