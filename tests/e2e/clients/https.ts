// An HTTPS client for the sandbox: trusts the VPS's self-signed certificate and sends a host
// name to the VPS's address (no DNS here), as a real client resolving the name would.
import { Agent, fetch as undiciFetch } from "undici";

export interface SandboxTarget {
  /** Address every name resolves to. */
  address: string;
  /** PEM certificates to trust. */
  ca: string;
}

export function sandboxAgent(t: SandboxTarget): Agent {
  return new Agent({
    connect: {
      ca: t.ca,
      lookup: (_host: string, options: any, callback: any) => {
        if (options?.all) callback(null, [{ address: t.address, family: 4 }]);
        else callback(null, t.address, 4);
      },
    },
  });
}

export interface Response {
  status: number;
  headers: Record<string, string>;
  text: string;
  json<T = any>(): T;
}

export async function request(agent: Agent, url: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<Response> {
  const res = await undiciFetch(url, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    headers: {
      ...(init.body === undefined ? {} : { "content-type": "application/json" }),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
    },
    dispatcher: agent,
  });
  const text = await res.text();
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => { headers[k] = v; });
  return { status: res.status, headers, text, json: () => JSON.parse(text) };
}
