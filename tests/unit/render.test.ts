import YAML from "yaml";
import { parseSettings, Settings } from "../../config";
import {
  baseHomeserverPart, composeHomeserver, renderHomeserver, renderLogConfig, renderPassfile, renderSecrets,
} from "../../render/homeserver";
import { acmeWebroot, mainUpstream, matrixLocations, renderSite, tlsDirFor } from "../../render/nginx";
import { renderPostgresTuning } from "../../render/postgres";
import { wellKnownDocuments, wellKnownLocations } from "../../render/wellknown";
import { validRaw } from "../support/fixtures";

function settings(overrides = {}): Settings {
  const r = parseSettings(validRaw(overrides));
  if (!r.ok) throw new Error(r.errors.join("\n"));
  return r.settings;
}

const databasePart = {
  database: {
    name: "psycopg2" as const,
    args: { user: "synapse_user", dbname: "synapse", host: "127.0.0.1", port: 5432, passfile: "/etc/matrix-synapse/pgpass", cp_min: 5, cp_max: 10 },
  },
};

describe("homeserver.yaml", () => {
  const s = settings({ maxUploadSize: "80M", trustedKeyServers: '["matrix.org","example.net"]' });
  const parsed = YAML.parse(renderHomeserver([baseHomeserverPart(s), databasePart]));

  it("has the listener nginx proxies to, and only on loopback", () => {
    expect(parsed.listeners).toEqual([{
      port: 8008, type: "http", tls: false, x_forwarded: true, bind_addresses: ["127.0.0.1"],
      resources: [{ names: ["client", "federation"], compress: false }],
    }]);
  });

  it.each([
    ["server_name", "example.org"],
    ["public_baseurl", "https://matrix.example.org/"],
    ["max_upload_size", "80M"],
    ["media_store_path", "/var/lib/matrix-synapse/media"],
    ["signing_key_path", "/etc/matrix-synapse/homeserver.signing.key"],
    ["log_config", "/etc/matrix-synapse/log.yaml"],
    ["report_stats", false],
    ["enable_registration", false],
    ["serve_server_wellknown", false],
    ["suppress_key_server_warning", true],
  ])("sets %s", (key, value) => {
    expect(parsed[key]).toEqual(value);
  });

  it("sizes caches and the pool from the tier", () => {
    expect(parsed.caches).toEqual({ global_factor: 0.5 });
    expect(parsed.database).toEqual(databasePart.database);
    expect(parsed.trusted_key_servers).toEqual([{ server_name: "matrix.org" }, { server_name: "example.net" }]);
    for (const key of ["federation_custom_ca_list", "ip_range_whitelist", "federation_domain_whitelist"]) expect(parsed).not.toHaveProperty(key);
  });

  it("holds no secret", () => {
    for (const key of ["registration_shared_secret", "macaroon_secret_key", "form_secret", "password"]) {
      expect(JSON.stringify(parsed)).not.toContain(key);
    }
  });

  it("requires a token when registration is open", () => {
    const open = YAML.parse(renderHomeserver([baseHomeserverPart(settings({ enableRegistration: "true" })), databasePart]));
    expect(open.enable_registration).toBe(true);
    expect(open.registration_requires_token).toBe(true);
  });

  it("refuses two parts that set the same key, and a config without a database", () => {
    expect(() => composeHomeserver([baseHomeserverPart(s), databasePart, { database: databasePart.database }])).toThrow(/'database' set by part 1 and part 2/);
    expect(() => composeHomeserver([baseHomeserverPart(s)])).toThrow(/no part sets 'database'/);
  });

  it("is byte-identical for the same input", () => {
    expect(renderHomeserver([baseHomeserverPart(s), databasePart])).toBe(renderHomeserver([baseHomeserverPart(settings({ maxUploadSize: "80M", trustedKeyServers: '["matrix.org","example.net"]' })), databasePart]));
  });
});

describe("secret files", () => {
  it("puts the three Synapse secrets in their own file", () => {
    expect(YAML.parse(renderSecrets({ registrationSharedSecret: "a", macaroonSecretKey: "b", formSecret: "c" })))
      .toEqual({ registration_shared_secret: "a", macaroon_secret_key: "b", form_secret: "c" });
  });
  it("writes a pgpass line, escaping separators", () => {
    expect(renderPassfile(databasePart.database.args, "pw:x")).toBe("127.0.0.1:5432:synapse:synapse_user:pw\\:x\n");
  });
  it("adds the localhost line libpq looks for on a connection over the Unix socket", () => {
    expect(renderPassfile({ ...databasePart.database.args, host: "/var/run/postgresql" }, "pw"))
      .toBe("/var/run/postgresql:5432:synapse:synapse_user:pw\nlocalhost:5432:synapse:synapse_user:pw\n");
  });
  it("logs to stderr for the journal", () => {
    const log = YAML.parse(renderLogConfig());
    expect(log.root).toEqual({ level: "INFO", handlers: ["console"] });
    expect(log.handlers.console.class).toBe("logging.StreamHandler");
  });
});

describe("nginx site", () => {
  const site = (networks: string[] = [], ports = [443]) => renderSite({
    name: "matrix", serverNames: ["matrix.example.org"], tlsDir: tlsDirFor("matrix"), httpsPorts: ports,
    upstreams: [mainUpstream], acmeWebroot,
    locations: matrixLocations({ upstream: mainUpstream.name, maxUploadSize: "50M", adminAllowedNetworks: networks }),
  });

  it("proxies the seed's paths with the forwarding headers and Synapse's upload size", () => {
    const text = site();
    const block = text.slice(text.indexOf("location ~* ^(\\/_matrix|\\/_synapse\\/client)"));
    for (const line of [
      "proxy_pass http://synapse_main;", "proxy_set_header X-Forwarded-For $remote_addr;",
      "proxy_set_header X-Forwarded-Proto $scheme;", "proxy_set_header Host $host;", "client_max_body_size 50M;",
    ]) expect(block).toContain(line);
    expect(text).toContain("server 127.0.0.1:8008;");
  });

  it("keeps its connections to Synapse open: every proxied location clears Connection, every upstream has a pool", () => {
    const text = site(["192.0.2.0/24"]);
    const proxied = text.split("proxy_pass ").length - 1;
    expect(proxied).toBeGreaterThan(1);
    expect(text.split('proxy_set_header Connection "";').length - 1).toBe(proxied);
    expect(text).toMatch(/upstream synapse_main \{[^}]*keepalive \d+;/);
  });

  it("redirects HTTP to HTTPS but serves ACME challenges", () => {
    const text = site();
    expect(text).toContain("return 301 https://$host$request_uri;");
    expect(text).toMatch(/location \^~ \/.well-known\/acme-challenge\/ \{\n\s+root \/var\/www\/acme;/);
  });

  it("fences the admin API: the host itself and the allowed networks, nobody else", () => {
    const text = site(["192.0.2.0/24"]);
    const admin = text.slice(text.indexOf("location ^~ /_synapse/admin"), text.indexOf("location ~*"));
    expect(admin).toMatch(/allow 127\.0\.0\.1;\s+allow ::1;\s+allow 192\.0\.2\.0\/24;\s+deny all;/);
    expect(site()).not.toContain("192.0.2.0/24");
  });

  it("listens on 8448 only when asked", () => {
    expect(site()).not.toContain("8448");
    expect(site([], [443, 8448])).toContain("listen 8448 ssl;");
  });

  it("has balanced braces", () => {
    const text = site(["192.0.2.0/24"], [443, 8448]);
    expect(text.split("{").length).toBe(text.split("}").length);
  });
});

describe("well-known", () => {
  it("delegates federation and clients to the matrix host", () => {
    expect(wellKnownDocuments("matrix.example.org")).toEqual({
      server: { "m.server": "matrix.example.org:443" },
      client: { "m.homeserver": { base_url: "https://matrix.example.org" } },
    });
  });
  it("answers as JSON with CORS open", () => {
    const [server, client] = wellKnownLocations(wellKnownDocuments("matrix.example.org"));
    expect(server.match).toBe("= /.well-known/matrix/server");
    expect(client.match).toBe("= /.well-known/matrix/client");
    expect(server.directives).toContain("default_type application/json;");
    expect(server.directives).toContain("add_header Access-Control-Allow-Origin * always;");
    const body = /return 200 '(.*)';/.exec(server.directives.join("\n"))![1];
    expect(JSON.parse(body)).toEqual({ "m.server": "matrix.example.org:443" });
  });
});

describe("PostgreSQL drop-in", () => {
  it("carries the tier's memory settings", () => {
    const text = renderPostgresTuning(settings({ tier: "community" }).sizing);
    expect(text).toContain("shared_buffers = '512MB'");
    expect(text).toContain("effective_cache_size = '2GB'");
    expect(text).toContain("max_connections = 100");
  });
});
