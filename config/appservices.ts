// Application services (bridges, bots): their registration files, as the admin got them from the
// bridge, one YAML document each. Synapse loads them from app_service_config_files; the tokens in
// them are secrets, so the key is one.
import YAML from "yaml";
import { z } from "zod";

/** What Synapse's own loader (synapse/config/appservice.py) requires of a registration. */
const namespace = z.array(z.object({ exclusive: z.boolean(), regex: z.string().min(1) }));
const registration = z.object({
  id: z.string({ error: "id: letters, digits and ._- (it names the file)" }).regex(/^[A-Za-z0-9._-]+$/, { error: "id: letters, digits and ._- (it names the file)" }),
  url: z.union([z.null(), z.url({ protocol: /^https?$/, error: "url: an http(s):// URL, or null for a service Synapse never calls" })]),
  as_token: z.string({ error: "as_token: a token" }).min(1, { error: "as_token: a token" }),
  hs_token: z.string({ error: "hs_token: a token" }).min(1, { error: "hs_token: a token" }),
  sender_localpart: z.string({ error: "sender_localpart: a Matrix localpart" }).regex(/^[a-z0-9._=\-/]+$/, { error: "sender_localpart: a Matrix localpart" }),
  namespaces: z.object({ users: namespace.optional(), aliases: namespace.optional(), rooms: namespace.optional() },
    { error: "namespaces: users, aliases and rooms, each a list of {exclusive, regex}" }),
  rate_limited: z.boolean().optional(),
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
  return { id: r.data.id, registration: text } satisfies AppService;
});
