/**
 * host/railyard-backup.sh's bucket mode and host/railyard-s3.sh without an engine: the script run for real by bash
 * with a `docker` and an `aws` first on PATH that stand in for the engine and the uploader (real zstd, sha256sum,
 * tee). The stand-in uploader records what it received and whether it saw the end of its input: a dump that fails
 * must never let it see one. The engine tests (test/engine/s3-backup.test.ts) run the same on real databases
 * and a real S3 server.
 */
import { spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { ROOT } from "./harness";
import { HOSTILE } from "./hostile";

const SCRIPT = path.join(ROOT, "host", "railyard-backup.sh");
const LIBS = `source ${path.join(ROOT, "host", "railyard-lib.sh")}; source ${path.join(ROOT, "host", "railyard-s3.sh")}`;
const work = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-backup-script-"));
const bin = path.join(work, "bin");
const out = path.join(work, "out");
const stateDir = path.join(work, "state");
const credentials = path.join(work, "uploader.ini");
fs.mkdirSync(bin);
fs.writeFileSync(credentials, "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = example\n", { mode: 0o600 });

// docker: `ps` finds a container (unless NO_CONTAINER); `exec` answers the size probe, or writes DUMP_BYTES
// pseudo-random bytes (the dump), then fails with DUMP_EXIT when set.
fs.writeFileSync(
  path.join(bin, "docker"),
  `#!/bin/bash
printf '%s\\n' "$*" >> "$OUT/docker.calls"
case "$1" in
  ps) [ -n "\${NO_CONTAINER:-}" ] || echo c0ffee ;;
  exec)
    case "$*" in *pg_database_size*) echo 123456789; exit 0 ;; esac
    head -c "\${DUMP_BYTES:-300000}" /dev/urandom
    sleep "\${DUMP_SLEEP:-0}"
    exit "\${DUMP_EXIT:-0}" ;;
esac
`,
  { mode: 0o755 },
);
// aws: `s3 cp - URL` stores its input (the object, or the manifest for a .json key) and marks that it saw the end
// of it; UPLOAD_EXIT / MANIFEST_EXIT make it fail after reading. It records its argv and AWS environment.
fs.writeFileSync(
  path.join(bin, "aws"),
  `#!/bin/bash
printf '%s\\n' "$*" >> "$OUT/aws.calls"
env | grep '^AWS_' | sort > "$OUT/aws.env"
case "$*" in
  *" s3 cp - "*.json*) sleep "\${MANIFEST_SLEEP:-0}"; cat > "$OUT/manifest"; exit "\${MANIFEST_EXIT:-0}" ;;
  *" s3 cp - "*) cat > "$OUT/object"; echo eof > "$OUT/object.eof"; exit "\${UPLOAD_EXIT:-0}" ;;
esac
exit 9
`,
  { mode: 0o755 },
);

const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...process.env,
  PATH: `${bin}:/usr/bin:/bin:/usr/sbin:/sbin`,
  OUT: out,
  AWS_ACCESS_KEY_ID: "FROM-THE-ENVIRONMENT",
  AWS_SECRET_ACCESS_KEY: "FROM-THE-ENVIRONMENT",
  AWS_PROFILE: "someone-else",
  AWS_ENDPOINT_URL: "http://elsewhere.example",
  AWS_CA_BUNDLE: "/etc/ssl/certs/ca-certificates.crt",
  ...extra,
});
const ARGS = [
  ...["--service", "ryt-postgres", "--engine", "postgres", "--user", "app", "--database", "app"],
  ...["--bucket", "ryt-backups", "--prefix", "ryt/postgres", "--credentials", credentials, "--endpoint", "http://127.0.0.1:9"],
  ...["--state-dir", stateDir],
];
const run = (args: string[] = ARGS, extra: NodeJS.ProcessEnv = {}) => spawnSync("bash", [SCRIPT, ...args], { encoding: "utf8", env: env(extra) });
const read = (f: string) => (fs.existsSync(path.join(out, f)) ? fs.readFileSync(path.join(out, f)) : undefined);
const state = () => JSON.parse(fs.readFileSync(path.join(stateDir, "backup-postgres.json"), "utf8")) as Record<string, unknown>;
const unzstd = (b: Buffer) => spawnSync("zstd", ["-dc"], { input: b, maxBuffer: 64 * 1024 * 1024 }).stdout;

beforeEach(() => {
  fs.rmSync(out, { recursive: true, force: true });
  fs.rmSync(stateDir, { recursive: true, force: true });
  fs.mkdirSync(out);
});

describe("railyard-backup.sh --bucket (stand-in docker and aws)", () => {
  it("streams the dump compressed, then writes the manifest; prints the key and records ok", () => {
    const r = run(ARGS, { DUMP_BYTES: "3000000" });
    expect(r.status, r.stderr).toBe(0);
    const key = r.stdout.trim();
    expect(key).toMatch(/^ryt\/postgres\/\d{8}T\d{6}Z\.dump\.zst$/);
    const object = read("object") as Buffer;
    expect(read("object.eof")?.toString()).toBe("eof\n");
    expect(unzstd(object).length).toBe(3000000);
    const manifest = JSON.parse(read("manifest")?.toString() ?? "") as Record<string, unknown>;
    expect(manifest).toEqual({
      format: 1,
      stack: "ryt",
      database: "postgres",
      engine: "postgres",
      key,
      bytes: object.length,
      sha256: crypto.createHash("sha256").update(object).digest("hex"),
      compression: "zstd",
      started: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      finished: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      reason: "scheduled",
      host: os.hostname(),
    });
    expect(state()).toMatchObject({ result: "ok", key, bytes: object.length, sha256: manifest.sha256, exit_code: 0, message: "" });
    const calls = read("aws.calls")?.toString().split("\n") ?? [];
    expect(calls[0]).toBe(`--endpoint-url http://127.0.0.1:9 --region us-east-1 s3 cp - s3://ryt-backups/${key} --only-show-errors --expected-size 123456789`);
    expect(calls[1]).toBe(`--endpoint-url http://127.0.0.1:9 --region us-east-1 s3 cp - s3://ryt-backups/${key}.json --only-show-errors --content-type application/json`);
    // Only the credentials file: the environment's keys, profile and endpoint are dropped (its CA bundle kept),
    // no config file is read.
    expect(read("aws.env")?.toString()).toBe(`AWS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt\nAWS_CONFIG_FILE=/dev/null\nAWS_EC2_METADATA_DISABLED=true\nAWS_PAGER=\nAWS_SHARED_CREDENTIALS_FILE=${credentials}\n`);
    // pg_dump uncompressed (zstd compresses), the password read inside the container.
    expect(read("docker.calls")?.toString()).toMatch(/pg_dump .*--format=custom "\$@" \/run\/secrets\/railyard_db_password app app --compress=0\n/);
  });

  it("a dump that fails part-way exits 21: the uploader never sees the end of its input, no manifest", () => {
    const r = run(ARGS, { DUMP_BYTES: "20000000", DUMP_EXIT: "3" });
    expect(r.status, r.stderr).toBe(21);
    expect(r.stderr).toContain("the postgres dump of ryt-postgres failed (exit 3); the upload of s3://ryt-backups/ryt/postgres/");
    expect(r.stdout).toBe("");
    expect(read("object.eof")).toBeUndefined();
    expect(read("manifest")).toBeUndefined();
    expect(state()).toMatchObject({ result: "failed", exit_code: 21 });
    expect(String(state().message)).toContain("was aborted");
  });

  /**
   * Runs the script and sends it TERM once `ready()` holds: its exit status, the milliseconds from the signal to its
   * exit ("exit", not "close": a stand-in dump still asleep holds the script's stderr open), and its stdout once
   * every holder of its pipes has closed them.
   */
  async function terminated(extra: NodeJS.ProcessEnv, ready: () => boolean): Promise<{ status: number | null; ms: number; stdout: Promise<string> }> {
    const child = spawn("bash", [SCRIPT, ...ARGS], { env: env(extra), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", r));
    const stdout = new Promise<string>((r) => child.on("close", () => r(out)));
    for (let i = 0; i < 200 && !ready(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(ready()).toBe(true);
    const sent = Date.now();
    child.kill("SIGTERM");
    const status = await exited;
    return { status, ms: Date.now() - sent, stdout };
  }

  it("TERM during the dump exits 25 at once: the uploader never sees the end of its input, failed recorded", async () => {
    const r = await terminated({ DUMP_SLEEP: "10" }, () => (read("docker.calls")?.toString().split("\n").length ?? 0) >= 4);
    expect(r.status).toBe(25);
    expect(r.ms).toBeLessThan(3000);
    expect(read("object.eof")).toBeUndefined();
    expect(read("manifest")).toBeUndefined();
    expect(state()).toMatchObject({ result: "failed", exit_code: 25 });
  });

  it("TERM to the script while the manifest is written waits for it: the dump is complete, exit 0, ok recorded", async () => {
    const r = await terminated({ MANIFEST_SLEEP: "2" }, () => (read("aws.calls")?.toString().split("\n").length ?? 0) >= 3);
    expect(r.status).toBe(0);
    expect(read("manifest")).toBeDefined();
    expect(await r.stdout).toMatch(/^ryt\/postgres\/\d{8}T\d{6}Z\.dump\.zst\n$/);
    expect(state()).toMatchObject({ result: "ok", exit_code: 0 });
  });

  it("an empty dump exits 21 and is not uploaded", () => {
    const r = run(ARGS, { DUMP_BYTES: "0" });
    expect(r.status, r.stderr).toBe(21);
    expect(r.stderr).toContain("the postgres dump of ryt-postgres is empty");
    expect(read("object.eof")).toBeUndefined();
    expect(read("manifest")).toBeUndefined();
  });

  it("the redis dump streams with redis-cli 7 or later and refuses an older one (it would write a file)", () => {
    const fake = path.join(work, "rediscli");
    fs.mkdirSync(fake, { recursive: true });
    const dumpWith = (version: string) => {
      fs.writeFileSync(path.join(fake, "redis-cli"), `#!/bin/sh\n[ "$1" = --version ] && { echo "redis-cli ${version}"; exit 0; }\necho "args: $*"\n`, { mode: 0o755 });
      const script = `source ${SCRIPT}; engine=redis dir=""; dump_command; PATH=${fake}:$PATH "\${dump[@]}"`;
      return spawnSync("bash", ["-c", script], { encoding: "utf8" });
    };
    const v7 = dumpWith("7.0.15");
    expect(v7.status, v7.stderr).toBe(0);
    expect(v7.stdout).toBe("args: --no-auth-warning -h 127.0.0.1 --rdb -\n");
    const v6 = dumpWith("6.2.14");
    expect(v6.status).toBe(3);
    expect(v6.stderr).toContain("redis-cli 7 or later is needed to stream the snapshot (--rdb -)");
    expect(v6.stdout).toBe("");
  });

  it("mongodump gets its password in a YAML --config on stdin, never in its argv", () => {
    const fake = path.join(work, "mongobin");
    fs.mkdirSync(fake, { recursive: true });
    // Prints its argv, then the config file it was given.
    fs.writeFileSync(
      path.join(fake, "mongodump"),
      `#!/bin/bash\nprintf 'argv:'; printf ' %s' "$@"; echo\nwhile [ $# -gt 0 ]; do [ "$1" = --config ] && cat "$2"; shift; done\n`,
      { mode: 0o755 },
    );
    const secret = path.join(work, "mongo-password");
    const password = `pa"ss\\word $(id) 'x'`;
    fs.writeFileSync(secret, `${password}\n`);
    // dump[3] is the secret's path ($0 of the container's shell).
    const script = `source ${SCRIPT}; engine=mongo user=app database=app dir=""; dump_command; dump[3]="$1"; PATH=${fake}:$PATH "\${dump[@]}"`;
    const r = spawnSync("bash", ["-c", script, "bash", secret], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const [argv, config] = r.stdout.split("\n");
    expect(argv).toBe("argv: --quiet --archive --username app --authenticationDatabase admin --db app --config /dev/stdin");
    expect(config).toBe(`password: ${JSON.stringify(password)}`); // a YAML double-quoted string: \\ and \" escaped
  });

  it("an upload that fails exits 22, no manifest; a manifest that cannot be written exits 23", () => {
    const up = run(ARGS, { UPLOAD_EXIT: "1" });
    expect(up.status, up.stderr).toBe(22);
    expect(up.stderr).toContain("failed (aws exit 1)");
    expect(read("manifest")).toBeUndefined();
    expect(state()).toMatchObject({ result: "failed", exit_code: 22 });

    const man = run(ARGS, { MANIFEST_EXIT: "1" });
    expect(man.status, man.stderr).toBe(23);
    expect(man.stderr).toContain("the dump object is there but not complete-looking");
    expect(state()).toMatchObject({ result: "failed", exit_code: 23 });
  });

  it("exits 20 without a container and 24 without zstd, recording each", () => {
    const none = run(ARGS, { NO_CONTAINER: "1" });
    expect(none.status).toBe(20);
    expect(state()).toMatchObject({ result: "failed", exit_code: 20 });
    // A PATH with everything of /usr/bin but zstd.
    const nozstd = path.join(work, "nozstd");
    fs.mkdirSync(nozstd, { recursive: true });
    for (const tool of fs.readdirSync("/usr/bin")) {
      if (tool !== "zstd" && !fs.existsSync(path.join(nozstd, tool))) fs.symlinkSync(path.join("/usr/bin", tool), path.join(nozstd, tool));
    }
    const r = run(ARGS, { PATH: `${bin}:${nozstd}` });
    expect(r.status, r.stderr).toBe(24);
    expect(r.stderr).toContain("zstd is not installed on this host");
    expect(read("aws.calls")).toBeUndefined();
  });

  it("--help lists both modes and every exit code", () => {
    const r = run(["--help"]);
    expect(r.status).toBe(0);
    for (const text of ["--bucket BUCKET --prefix STACK/DATABASE --credentials FILE", "--reason scheduled|pre-deploy|safety", "--webhook-file FILE"]) {
      expect(r.stdout).toContain(text);
    }
    for (const code of [0, 2, 20, 21, 22, 23, 24, 25]) expect(r.stdout).toMatch(new RegExp(`^  ${code} +\\S`, "m"));
  });

  const without = (option: string) => {
    const at = ARGS.indexOf(option);
    return [...ARGS.slice(0, at), ...ARGS.slice(at + 2)];
  };
  const withValue = (option: string, value: string) => {
    const at = ARGS.indexOf(option);
    return at === -1 ? [...ARGS, option, value] : ARGS.map((a, i) => (i === at + 1 ? value : a));
  };
  const loose = path.join(work, "loose.ini");
  fs.writeFileSync(loose, "[default]\n", { mode: 0o644 });
  const BAD: [string, string[]][] = [
    ["--dir DIR or --bucket BUCKET is required", ARGS.slice(0, 8)],
    ["exclude each other", [...ARGS, "--dir", "/tmp/x"]],
    ["--keep goes with --dir", [...ARGS, "--keep", "5"]],
    ["--bucket must be", withValue("--bucket", "Ryt_Backups")],
    ["--bucket must be", withValue("--bucket", "ab")],
    ["--bucket must be", withValue("--bucket", "a..b")],
    ["--prefix must be", withValue("--prefix", "ryt")],
    ["--prefix must be", withValue("--prefix", "ryt/$(id)")],
    ["--prefix must be", withValue("--prefix", "ryt/postgres/x")],
    ["--prefix must be", without("--prefix")],
    ["--credentials must be", withValue("--credentials", "uploader.ini")],
    ["--credentials must be", withValue("--credentials", "/nonexistent/uploader.ini")],
    ["--credentials must be", withValue("--credentials", loose)],
    ["--endpoint must be", withValue("--endpoint", "ftp://127.0.0.1/")],
    ["--endpoint must be", withValue("--endpoint", "http://127.0.0.1:99999")],
    ["--region must be", withValue("--region", "us east")],
    ["--reason must be", withValue("--reason", "nightly")],
    ["--level must be", withValue("--level", "0")],
    ["--level must be", withValue("--level", "20")],
    ["--state-dir must be", withValue("--state-dir", "state")],
    ["--webhook-file must be", withValue("--webhook-file", loose)],
    ["--region needs a value", [...ARGS, "--region"]],
  ];
  it.each(BAD)("refuses (%s) with exit 2 before anything runs", (message, args) => {
    const r = run(args);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/);
    expect(read("docker.calls")).toBeUndefined();
    expect(read("aws.calls")).toBeUndefined();
    expect(fs.existsSync(stateDir)).toBe(false);
  });

  it("--dir mode refuses the bucket's options", () => {
    const dirArgs = [...ARGS.slice(0, 8), "--dir", path.join(work, "dumps")];
    for (const extra of [["--reason", "safety"], ["--level", "3"], ["--state-dir", stateDir], ["--region", "us-east-1"]]) {
      const r = run([...dirArgs, ...extra]);
      expect(r.status, extra.join(" ")).toBe(2);
    }
  });
});

describe("railyard-s3.sh", () => {
  const bash = (script: string, ...args: string[]) => spawnSync("bash", ["-c", `set -euo pipefail; ${LIBS}; ${script}`, "bash", ...args], { encoding: "utf8" });

  it("json_str makes every hostile value a JSON string that parses back to it", () => {
    for (const value of [...HOSTILE, "\x01\x1f\x7f\r\b\f", "a\\\\\"b"]) {
      const r = bash('json_str "$1"', value);
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout), JSON.stringify(value)).toBe(value);
    }
  });

  it("reads dump keys' times, manifest fields, and converts times", () => {
    const r = bash(
      [
        "key_time ryt/postgres/20261120T030000Z.dump.zst",
        "key_time ryt/postgres/20261120T030000Z.dump.zst.json || echo not-a-dump",
        "key_time ryt/postgres/20261120T030000Z.dump || echo not-a-dump",
        "stamp_iso 20261120T030000Z",
        "epoch_stamp 1795143600",
        "epoch_iso 1795143600",
        "stamp_epoch 20261120T030000Z",
        `json_field sha256 '{"format":1,"sha256":"ab12","bytes":42}'`,
        `json_field bytes '{"format":1,"sha256":"ab12","bytes":42}'`,
        `json_field key '{"format":1}' || echo absent`,
        "engine_ext mysql",
        "engine_ext oracle || echo unknown",
        "s3_prefix=ryt/postgres; dump_key 20261120T030000Z dump",
      ].join("; echo; "),
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split("\n").filter((l) => l !== "")).toEqual([
      "20261120T030000Z",
      "not-a-dump",
      "not-a-dump",
      "2026-11-20T03:00:00Z",
      "20261120T030000Z",
      "2026-11-20T03:00:00Z",
      "1795143600",
      "ab12",
      "42",
      "absent",
      "sql",
      "unknown",
      "ryt/postgres/20261120T030000Z.dump.zst",
    ]);
  });

  it("s3_parse_option takes the common options and leaves the others to the caller", () => {
    const loop = `while [ $# -gt 0 ]; do if s3_parse_option "$@"; then shift 2; else echo "other $1"; shift; fi; done; echo "$s3_bucket|$s3_prefix|$s3_credentials|$s3_endpoint|$s3_region"`;
    const r = bash(loop, "--bucket", "b-1", "--keep", "--prefix", "s/d", "--credentials", "/c", "--endpoint", "http://h", "--region", "auto");
    expect(r.stdout).toBe("other --keep\nb-1|s/d|/c|http://h|auto\n");
    const missing = bash(loop, "--bucket");
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("--bucket needs a value");
  });

  it("write_json replaces the file whole and leaves no temporary file", () => {
    const dir = path.join(work, "json");
    const r = bash(`write_json "$1/backup-x.json" '{"a":1}' && write_json "$1/backup-x.json" '{"a":2}'`, dir);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readdirSync(dir)).toEqual(["backup-x.json"]);
    expect(fs.readFileSync(path.join(dir, "backup-x.json"), "utf8")).toBe('{"a":2}\n');
    expect(bash(`write_json /proc/railyard/backup-x.json '{}'`).status).toBe(1);
  });

  it("post_webhook POSTs {text} to the file's URL and keeps the URL out of curl's argv", async () => {
    const bodies: { url?: string; type?: string; body: string }[] = [];
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        bodies.push({ url: req.url, type: req.headers["content-type"], body });
        res.end("ok");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const file = path.join(work, "webhook.url");
    fs.writeFileSync(file, `http://127.0.0.1:${port}/hooks/T0KEN-secret\n`, { mode: 0o600 });
    // curl stands in by a wrapper that records its argv, then runs the real one.
    const wrap = path.join(work, "curlbin");
    fs.mkdirSync(wrap, { recursive: true });
    fs.writeFileSync(path.join(wrap, "curl"), `#!/bin/bash\nprintf '%s\\n' "$*" >> ${work}/curl.calls\nexec /usr/bin/curl "$@"\n`, { mode: 0o755 });
    const { spawn } = await import("node:child_process");
    const child = spawn("bash", ["-c", `${LIBS}; PATH=${wrap}:$PATH; post_webhook "$1" "$2"`, "bash", file, `backup "failed" ✓\n`]);
    const status = await new Promise<number | null>((r) => child.on("close", r));
    server.close();
    expect(status).toBe(0);
    expect(bodies).toEqual([{ url: "/hooks/T0KEN-secret", type: "application/json", body: expect.any(String) }]);
    expect(JSON.parse(bodies[0].body)).toEqual({ text: `backup "failed" ✓\n` });
    expect(fs.readFileSync(path.join(work, "curl.calls"), "utf8")).not.toContain("T0KEN");
    fs.writeFileSync(file, "not a url\n", { mode: 0o600 });
    const bad = bash('post_webhook "$1" text', file);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("holds no http(s) URL");
  });
});
