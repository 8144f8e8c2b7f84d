/** npm run restore (scripts/restore.ts): arguments, the stack file, the pick by date, the command lines. */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  bucketOf,
  downloadArgv,
  formatList,
  hostRestoreCommand,
  knownHostsLine,
  listArgv,
  main,
  parseArgs,
  parseTime,
  pickDump,
  readStack,
  RestoreError,
  sshArgv,
  stackInfo,
} from "../scripts/restore";
import { asRootCommand } from "../commands/asRoot";

const fails = (argv: string[]) => {
  try {
    parseArgs(argv);
  } catch (e) {
    if (e instanceof RestoreError) return `${e.code}: ${e.message}`;
    throw e;
  }
  throw new Error(`accepted ${argv.join(" ")}`);
};

describe("npm run restore: arguments", () => {
  it("parses the documented forms", () => {
    expect(parseArgs(["--stack", "production", "--database", "postgres", "--at", "2026-11-20"])).toEqual({
      stack: "production", database: "postgres", at: "20261120T235959Z", list: false, into: "scratch", yes: false, keep: false,
    });
    expect(parseArgs(["--stack", "staging", "--database", "redis", "--list"])).toMatchObject({ list: true });
    expect(parseArgs(["--stack", "production", "--database", "postgres", "--into", "live", "--yes"])).toMatchObject({ into: "live", yes: true });
    expect(parseArgs(["--stack", "production", "--database", "postgres", "--keep"])).toMatchObject({ into: "scratch", keep: true });
  });

  it("refuses bad ones with exit 2 and a message naming the argument", () => {
    expect(fails(["--database", "postgres"])).toBe("2: --stack is required (the stack file Pulumi.<stack>.yaml)");
    expect(fails(["--stack", "production"])).toContain("2: --database is required");
    expect(fails(["--stack"])).toBe("2: --stack needs a value");
    expect(fails(["--stack", "--database", "x"])).toBe("2: --stack needs a value");
    expect(fails(["--stack", "../prod", "--database", "postgres"])).toContain("--stack must be a railyard name");
    expect(fails(["--stack", "production", "--database", "Post gres"])).toContain("--database must be a railyard name");
    expect(fails(["--stack", "production", "--database", "postgres", "--at", "yesterday"])).toContain('--at must be a UTC date or time: 2026-11-20, 2026-11-20T14:30Z or 2026-11-20T14:30:00Z, got "yesterday"');
    expect(fails(["--stack", "production", "--database", "postgres", "--at", "2026-02-30"])).toContain("--at must be");
    expect(fails(["--stack", "production", "--database", "postgres", "--into", "prod"])).toContain("--into must be scratch or live");
    expect(fails(["--stack", "production", "--database", "postgres", "--into", "live"])).toContain("add --yes to confirm");
    expect(fails(["--stack", "production", "--database", "postgres", "--yes"])).toContain("--yes goes with --into live");
    expect(fails(["--stack", "production", "--database", "postgres", "--into", "live", "--yes", "--keep"])).toContain("--keep goes with --into scratch");
    expect(fails(["--stack", "production", "--database", "postgres", "--bogus"])).toContain('unknown argument "--bogus"');
  });

  it("reads times as UTC stamps: a date is the end of its day, minutes without seconds are :00", () => {
    expect(parseTime("2026-11-20")).toBe("20261120T235959Z");
    expect(parseTime("2026-11-20T14:30Z")).toBe("20261120T143000Z");
    expect(parseTime("2026-11-20T14:30:15Z")).toBe("20261120T143015Z");
    expect(parseTime("2028-02-29")).toBe("20280229T235959Z");
    for (const bad of ["2026-02-29", "2026-13-01", "2026-11-20T24:00Z", "2026-11-20T14:30", "2026-11-20 14:30Z", "20261120", "", "2026-11-20T14:30:60Z"]) {
      expect(parseTime(bad), bad).toBeUndefined();
    }
  });
});

describe("npm run restore: the pick by date", () => {
  const P = "production/postgres";
  const objects = [
    { key: `${P}/20261118T030000Z.dump.zst`, size: 100 },
    { key: `${P}/20261118T030000Z.dump.zst.json`, size: 300 },
    { key: `${P}/20261119T030000Z.dump.zst`, size: 200 },
    { key: `${P}/20261119T030000Z.dump.zst.json`, size: 300 },
    { key: `${P}/20261120T030000Z.dump.zst`, size: 300 },
    { key: `${P}/20261120T030000Z.dump.zst.json`, size: 300 },
    // Newer than the right one for 20 Nov, but it has no manifest: never picked.
    { key: `${P}/20261120T150000Z.dump.zst`, size: 999 },
    { key: `${P}/20261121T030000Z.dump.zst`, size: 400 },
    { key: `${P}/20261121T030000Z.dump.zst.json`, size: 300 },
    // Strangers: another engine's extension, a manifest without its dump, an object not named as dumps are.
    { key: `${P}/20261122T030000Z.sql.zst`, size: 1 },
    { key: `${P}/20261122T030000Z.sql.zst.json`, size: 1 },
    { key: `${P}/20261123T030000Z.dump.zst.json`, size: 1 },
    { key: `${P}/notes.txt`, size: 1 },
  ];
  const keyAt = (at: string) => pickDump(objects, P, "dump", parseTime(at) ?? "")?.picked?.key;

  it("picks the newest complete dump at or before the time; the newer incomplete one is skipped", () => {
    expect(keyAt("2026-11-20")).toBe(`${P}/20261120T030000Z.dump.zst`);
    expect(keyAt("2026-11-20T14:59Z")).toBe(`${P}/20261120T030000Z.dump.zst`);
    expect(keyAt("2026-11-25")).toBe(`${P}/20261121T030000Z.dump.zst`);
  });

  it("includes a dump made exactly at the time, and finds none before the first", () => {
    expect(keyAt("2026-11-19T03:00:00Z")).toBe(`${P}/20261119T030000Z.dump.zst`);
    expect(keyAt("2026-11-19T02:59:59Z")).toBe(`${P}/20261118T030000Z.dump.zst`);
    expect(keyAt("2026-11-18T02:59Z")).toBeUndefined();
  });

  it("lists complete dumps newest first, the pick marked, the incomplete one marked", () => {
    const pick = pickDump(objects, P, "dump", "20261120T235959Z");
    expect(pick.complete.map((d) => d.size)).toEqual([400, 300, 200, 100]);
    expect(pick.incomplete.map((d) => d.key)).toEqual([`${P}/20261120T150000Z.dump.zst`]);
    expect(formatList(pick, "20261120T235959Z").split("\n")).toEqual([
      "  TIME                          BYTES  KEY",
      "  2026-11-21T03:00:00Z            400  production/postgres/20261121T030000Z.dump.zst",
      "* 2026-11-20T03:00:00Z            300  production/postgres/20261120T030000Z.dump.zst",
      "  2026-11-19T03:00:00Z            200  production/postgres/20261119T030000Z.dump.zst",
      "  2026-11-18T03:00:00Z            100  production/postgres/20261118T030000Z.dump.zst",
      "  2026-11-20T15:00:00Z     incomplete  production/postgres/20261120T150000Z.dump.zst (no manifest: never restored)",
      "* the newest complete dump at or before 2026-11-20T23:59:59Z",
    ]);
  });
});

describe("npm run restore: the stack file and the command lines", () => {
  it("reads the production stack file's host, database and bucket (non-secret keys only)", () => {
    const info = readStack("production", "postgres");
    expect(info).toEqual({
      prefix: "production",
      host: {
        mode: "ssh", address: "203.0.113.20", port: 22, user: "deploy", dataDir: "/srv/railyard",
        hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJhaWx5YXJkLXByb2R1Y3Rpb24taG9zdC1rZXktZXhhbXBsZQ",
      },
      bucket: { name: "railyard-production-backups-example", region: "sa-east-1", endpoint: undefined },
      engine: "postgres", user: "crm", dbName: "crm", service: "production-postgres",
    });
    expect(() => readStack("production", "nope")).toThrow('railyard:databases has no database named "nope"');
    expect(() => readStack("nope", "postgres")).toThrow("no stack file");
  });

  it("reads the bucket in one place: name, endpoint and region of railyard:backups.bucket", () => {
    expect(bucketOf({ bucket: { provider: "s3", name: "b", endpoint: "https://r2.example.com", region: "auto", accessKeySecret: "X" } }, "s")).toEqual({
      name: "b", endpoint: "https://r2.example.com", region: "auto",
    });
    expect(() => bucketOf(undefined, "dev")).toThrow("Pulumi.dev.yaml: railyard:backups.bucket.name is not set");
    const local = stackInfo({ "railyard:prefix": "dev", "railyard:host": { mode: "local", dataDir: "/tmp/railyard" }, "railyard:databases": { redis: { engine: "redis" } }, "railyard:backups": { bucket: { name: "b" } } }, "dev", "redis");
    expect(local).toMatchObject({ host: { mode: "local", dataDir: "/tmp/railyard" }, engine: "redis", user: "default", dbName: "0", service: "dev-redis" });
  });

  it("pins the host key in a known_hosts line (the stack file's host field replaced by the address)", () => {
    expect(knownHostsLine("203.0.113.20", 22, "ssh-ed25519 AAAAkey")).toBe("203.0.113.20 ssh-ed25519 AAAAkey");
    expect(knownHostsLine("203.0.113.20", 2222, "203.0.113.99 ssh-ed25519 AAAAkey comment")).toBe("[203.0.113.20]:2222 ssh-ed25519 AAAAkey");
  });

  it("builds the exact aws, ssh and host lines", () => {
    const info = readStack("production", "postgres");
    expect(listArgv(info.bucket, "production/postgres")).toEqual([
      "aws", "--region", "sa-east-1", "s3api", "list-objects-v2", "--bucket", "railyard-production-backups-example", "--prefix", "production/postgres/", "--output", "json",
    ]);
    expect(downloadArgv({ name: "b", endpoint: "http://127.0.0.1:9000" }, "dev/redis/20261120T030000Z.rdb.zst")).toEqual([
      "aws", "--endpoint-url", "http://127.0.0.1:9000", "s3", "cp", "--quiet", "s3://b/dev/redis/20261120T030000Z.rdb.zst", "-",
    ]);
    if (info.host.mode !== "ssh") throw new Error("production is an ssh host");
    expect(sshArgv(info.host, "/tmp/kh", "true")).toEqual([
      "ssh", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=/tmp/kh", "-o", "GlobalKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
      "-p", "22", "deploy@203.0.113.20", "true",
    ]);
    const key = "production/postgres/20261120T030000Z.dump.zst";
    const sha = "0".repeat(64);
    const script = "/srv/railyard/production/scripts/railyard-restore.sh";
    // Run as root on the host (commands/asRoot.ts): the live restore's safety dump reads the root-only uploader key.
    expect(hostRestoreCommand(info, "postgres", parseArgs(["--stack", "production", "--database", "postgres", "--keep"]), key, sha, script)).toBe(
      asRootCommand(
        "the restore of postgres",
        `timeout 21600 bash ${script} --service production-postgres --engine postgres --user crm --database crm --stdin --key ${key} --sha256 ${sha} --into scratch --keep`,
      ),
    );
    expect(hostRestoreCommand(info, "postgres", parseArgs(["--stack", "production", "--database", "postgres", "--into", "live", "--yes"]), key, sha, script)).toBe(
      asRootCommand(
        "the restore of postgres",
        `timeout 21600 bash ${script} --service production-postgres --engine postgres --user crm --database crm --stdin --key ${key} --sha256 ${sha}` +
          " --bucket railyard-production-backups-example --prefix production/postgres --region sa-east-1" +
          " --into live --yes --safety-credentials /srv/railyard/production/secrets/backup-uploader.ini",
      ),
    );
  });
});

describe("npm run restore: a listing with the operator's credentials", () => {
  afterEach(() => vi.restoreAllMocks());

  it("uses the operator's own environment for aws and never prints a credential", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-restore-cli-"));
    const secret = "operator-secret-Kq8Zt2Vw9";
    // A fake aws first on PATH: it records whether it saw the operator's keys, and answers the listing.
    const listing = JSON.stringify({ Contents: [{ Key: "dev/postgres/20261120T030000Z.dump.zst", Size: 42 }, { Key: "dev/postgres/20261120T030000Z.dump.zst.json", Size: 9 }] });
    fs.writeFileSync(path.join(dir, "aws"), `#!/bin/bash\n[ "$AWS_SECRET_ACCESS_KEY" = ${secret} ] && echo saw-key >> ${dir}/seen\necho "$*" >> ${dir}/calls\nprintf '%s' '${listing}'\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), [
      "config:",
      "  railyard:prefix: dev",
      "  railyard:host: { mode: local, dataDir: /tmp/railyard }",
      "  railyard:databases: { postgres: { engine: postgres } }",
      "  railyard:backups: { bucket: { provider: s3, name: dev-backups, endpoint: 'http://127.0.0.1:9', accessKeySecret: S3_KEY } }",
      "",
    ].join("\n"));
    const printed: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void printed.push(a.join(" ")));
    vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void printed.push(a.join(" ")));
    const saved = { PATH: process.env.PATH, AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.PATH = `${dir}:${process.env.PATH}`;
    process.env.AWS_SECRET_ACCESS_KEY = secret;
    try {
      expect(await main(["--stack", "dev", "--database", "postgres", "--list", "--at", "2026-11-21"], dir)).toBe(0);
    } finally {
      process.env.PATH = saved.PATH;
      if (saved.AWS_SECRET_ACCESS_KEY === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      else process.env.AWS_SECRET_ACCESS_KEY = saved.AWS_SECRET_ACCESS_KEY;
    }
    expect(fs.readFileSync(path.join(dir, "seen"), "utf8")).toBe("saw-key\n");
    expect(fs.readFileSync(path.join(dir, "calls"), "utf8")).toBe("--endpoint-url http://127.0.0.1:9 s3api list-objects-v2 --bucket dev-backups --prefix dev/postgres/ --output json\n");
    expect(printed.join("\n")).toContain("* 2026-11-20T03:00:00Z             42  dev/postgres/20261120T030000Z.dump.zst");
    expect(printed.join("\n")).not.toContain(secret);
  });

  it("runs as npm run restore: --help exits 0, a bad argument exits 2 naming it", () => {
    const ts = (args: string[]) => execFileSync("bash", ["-c", `npx ts-node --transpile-only scripts/restore.ts "$@" 2>&1; echo "exit=$?"`, "x", ...args], { encoding: "utf8" });
    expect(ts(["--help"])).toContain("Usage: npm run restore -- --stack STACK --database NAME");
    expect(ts(["--stack", "production", "--database", "postgres", "--at", "soon"])).toMatch(/restore: --at must be a UTC date or time.*\n.*exit=2/s);
  });
});
