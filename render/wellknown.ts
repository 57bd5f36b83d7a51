// The .well-known delegation documents: federation on <matrixHost>:443 and client discovery.
import { NginxLocation } from "./nginx";

export interface WellKnownDocuments {
  server: { "m.server": string };
  client: { "m.homeserver": { base_url: string } };
}

/** Where other servers reach this one's federation API: nginx on the matrix host, port 443. */
export const federationAddress = (matrixHost: string) => `${matrixHost}:443`;

/** Where clients reach it. */
export const clientBaseUrl = (matrixHost: string) => `https://${matrixHost}`;

export function wellKnownDocuments(matrixHost: string): WellKnownDocuments {
  return {
    server: { "m.server": federationAddress(matrixHost) },
    client: { "m.homeserver": { base_url: clientBaseUrl(matrixHost) } },
  };
}

/** Exact-match locations that answer with the JSON from nginx itself, CORS open for web clients. */
export function wellKnownLocations(docs: WellKnownDocuments, kinds: (keyof WellKnownDocuments)[] = ["server", "client"]): NginxLocation[] {
  return kinds.map((kind) => {
    const json = JSON.stringify(docs[kind]);
    if (json.includes("'")) throw new Error("well-known JSON must not contain a single quote");
    return {
      match: `= /.well-known/matrix/${kind}`,
      directives: [
        "default_type application/json;",
        "add_header Access-Control-Allow-Origin * always;",
        `return 200 '${json}';`,
      ],
    };
  });
}
