// A real S3-compatible store on a sandbox VPS: the Versity S3 gateway with its posix backend
// (objects are files, kept across restarts), built by tests/engine/build.sh. The media and the
// backup scenarios keep their buckets on it.
import * as fs from "node:fs";
import { serverBinary } from "./pulumi";
import { Vps } from "./stack";

export interface S3Store {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  /** An S3 request with curl's SigV4 (credentials on stdin, never on a command line). */
  request(method: "GET" | "HEAD" | "PUT", path: string): Promise<{ status: string; body: string }>;
  /** Object keys in a bucket. */
  keys(bucket: string): Promise<string[]>;
}

export async function startS3Store(vps: Vps, accessKey: string, secretKey: string, buckets: string[]): Promise<S3Store> {
  await vps.sh("cat > /usr/local/bin/versitygw && chmod 0755 /usr/local/bin/versitygw && install -d -m 0700 /var/lib/versitygw",
    { stdin: fs.readFileSync(serverBinary("versitygw")) });
  await vps.sh("install -m 0600 /dev/stdin /etc/versitygw.env", { stdin: `ROOT_ACCESS_KEY_ID=${accessKey}\nROOT_SECRET_ACCESS_KEY=${secretKey}\n` });
  await vps.sh("cat > /etc/systemd/system/versitygw.service && systemctl daemon-reload && systemctl enable --now versitygw", { stdin: [
    "[Service]", "EnvironmentFile=/etc/versitygw.env",
    `ExecStart=/usr/local/bin/versitygw --port ${vps.host}:7070 posix /var/lib/versitygw`, "Restart=on-failure",
    "[Install]", "WantedBy=multi-user.target", ""].join("\n") });
  await vps.sh(`for i in $(seq 50); do curl -s -o /dev/null http://${vps.host}:7070/ && exit 0; sleep 0.2; done; exit 1`);
  const endpoint = `http://${vps.host}:7070`;
  const request: S3Store["request"] = async (method, path) => {
    const r = await vps.sh(`curl -sS -K - -X ${method} ${method === "HEAD" ? "-I" : ""} -w '\\n%{http_code}' '${endpoint}/${path}'`,
      { stdin: `aws-sigv4 = "aws:amz:us-east-1:s3"\nuser = "${accessKey}:${secretKey}"\n`, allowFail: true });
    const lines = r.stdout.trimEnd().split("\n");
    return { status: lines.pop()!, body: lines.join("\n") };
  };
  // The buckets, made by the test on that server with the S3 API.
  for (const bucket of buckets) {
    const made = await request("PUT", bucket);
    if (made.status !== "200") throw new Error(`cannot make bucket ${bucket}: ${made.status} ${made.body}`);
  }
  return {
    endpoint, accessKey, secretKey, request,
    async keys(bucket) {
      const r = await request("GET", `${bucket}?list-type=2&max-keys=1000`);
      if (r.status !== "200") throw new Error(`cannot list ${bucket}: ${r.status} ${r.body}`);
      return [...r.body.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]).sort();
    },
  };
}
