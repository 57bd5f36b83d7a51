// The .well-known delegation documents: federation on <matrixHost>:443 and client discovery.
import { NginxLocation } from "./nginx";

export interface WellKnownDocuments {
  server: { "m.server": string };
  client: { "m.homeserver": { base_url: string } };
}

export function wellKnownDocuments(matrixHost: string): WellKnownDocuments {
  return {
    server: { "m.server": `${matrixHost}:443` },
    client: { "m.homeserver": { base_url: `https://${matrixHost}` } },
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
