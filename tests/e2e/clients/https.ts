// An HTTPS client for the sandbox: trusts the VPS's self-signed certificate and sends a host
// name to the VPS's address (no DNS here), as a real client resolving the name would.
import { Agent, fetch as undiciFetch } from "undici";

export interface SandboxTarget {
  /** Address every name resolves to. */
  address: string;
  /** PEM certificates to trust. */
  ca: string;
  /** false: a new connection for every request (no keep-alive). */
  keepAlive?: boolean;
}

export function sandboxAgent(t: SandboxTarget): Agent {
  return new Agent({
    ...(t.keepAlive === false ? { pipelining: 0 } : {}),
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
  bytes: Buffer;
  json<T = any>(): T;
}

export interface RequestInit {
  method?: string;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is, with `contentType` (media uploads). */
  raw?: { bytes: Buffer; contentType: string };
  token?: string;
  /** Sent as given (a federation request's X-Matrix authorization, say). */
  headers?: Record<string, string>;
}

export async function request(agent: Agent, url: string, init: RequestInit = {}): Promise<Response> {
  const hasBody = init.body !== undefined || init.raw !== undefined;
  const res = await undiciFetch(url, {
    method: init.method ?? (hasBody ? "POST" : "GET"),
    body: init.raw ? init.raw.bytes : init.body === undefined ? undefined : JSON.stringify(init.body),
    headers: {
      ...(init.raw ? { "content-type": init.raw.contentType } : init.body === undefined ? {} : { "content-type": "application/json" }),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...init.headers,
    },
    dispatcher: agent,
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  const text = bytes.toString("utf8");
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => { headers[k] = v; });
  return { status: res.status, headers, text, bytes, json: () => JSON.parse(text) };
}
