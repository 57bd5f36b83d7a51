// The fetch the sandbox's Matrix clients give matrix-js-sdk: every name resolves to the VPS
// (there is no DNS for sandbox names) and TLS trusts only the given CA file.
import * as fs from "node:fs";
import { Agent, fetch as undiciFetch } from "undici";

export function sandboxFetch(caFile, address) {
  const agent = new Agent({
    connect: {
      ca: fs.readFileSync(caFile, "utf8"),
      lookup: (_h, o, cb) => (o?.all ? cb(null, [{ address, family: 4 }]) : cb(null, address, 4)),
    },
  });
  return (url, init) => undiciFetch(url, { ...init, dispatcher: agent });
}
