/**
 * An S3-compatible server on loopback for tests and benchmarks: npm s3rver (multipart uploads, listing, ranged
 * reads) in its own process, storing under a temp folder, with an AWS shared-credentials file (mode 0600) as the
 * host scripts read theirs. s3rver has no versioning, lifecycle, Object Lock, bucket
 * policy or IAM: the graph tests check those (test/backup-bucket.test.ts). It checks only the key ID (its own, S3RVER);
 * the secret key signs requests but is not verified.
 */
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface S3Server {
  endpoint: string;
  bucket: string;
  /** An AWS shared-credentials file ([default]) for the server. */
  credentialsFile: string;
  /** Where the server keeps its objects (one folder per bucket; each object as <key>._S3rver_object). */
  directory: string;
  /** The environment the host scripts run with: Debian's awscli first on PATH, no AWS variables inherited. */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** PATH with Debian's tools (its awscli v2) ahead of any other `aws` the machine has. */
export const SYSTEM_PATH = `/usr/bin:/bin:/usr/sbin:/sbin:${process.env.PATH ?? ""}`;

/** The environment without AWS_* settings (a developer's profile or keys must not reach a test). */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("AWS_")) env[k] = v;
  return { ...env, PATH: SYSTEM_PATH, ...extra };
}

/** Starts s3rver on 127.0.0.1 (a free port) with `bucket` created. */
export async function startS3(bucket = "railyard-test-backups"): Promise<S3Server> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-s3-"));
  const directory = path.join(base, "data");
  fs.mkdirSync(directory);
  const credentialsFile = path.join(base, "credentials.ini");
  fs.writeFileSync(credentialsFile, "[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n", { mode: 0o600 });
  const child = spawn(process.execPath, [path.join(__dirname, "s3server.cjs"), directory, bucket], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await listening(child);
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    credentialsFile,
    directory,
    env: cleanEnv({ AWS_CONFIG_FILE: "/dev/null" }),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
}

function listening(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("s3rver did not start within 20 s")), 20_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited ${code} before it listened`));
    });
  });
}
