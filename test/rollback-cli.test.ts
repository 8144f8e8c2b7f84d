/**
 * npm run rollback (scripts/rollback.ts): arguments, the target, the list, the migration warning, the stack-file
 * rewrite, and the refusals (76, 77, 78, 75) that leave the stack file untouched and no lock behind — against the
 * real release store (host/railyard-release.sh) in a temporary stack folder, docker stood in for by a stub.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  formatReleases, main, migrationsBetween, migrationWarning, parseArgs, pickTarget, ReleaseSummary, rewriteStackFile, policyPackFor, summaryOf, upArgv, upEnv,
} from "../scripts/rollback";
import { CliError } from "../scripts/stackHost";

const fails = (argv: string[]) => {
  try {
    parseArgs(argv);
  } catch (e) {
    if (e instanceof CliError) return `${e.code}: ${e.message}`;
    throw e;
  }
  throw new Error(`accepted ${argv.join(" ")}`);
};

const KEY = (n: number) => String(n).repeat(64).slice(0, 64);

function rec(seq: number, o: Partial<ReleaseSummary> = {}): ReleaseSummary {
  return {
    seq, status: "ok", kind: "deploy", at: `2026-11-2${seq % 10}T12:00:00Z`, who: "alice", commit: `${seq}`.repeat(40).slice(0, 40), key: KEY(seq), rollbackOf: null,
    services: { api: { swarm: "production-api", image: `ghcr.io/acme/api:v${seq}`, release: "abcdef012345", migration: true } }, migrated: [], ...o,
  };
}

describe("npm run rollback: arguments", () => {
  it("parses the documented forms", () => {
    expect(parseArgs(["--stack", "production"])).toEqual({ stack: "production", list: false });
    expect(parseArgs(["--stack", "production", "--to", "7", "--wait", "10m"])).toEqual({ stack: "production", list: false, to: 7, waitSeconds: 600 });
    expect(parseArgs(["--stack", "staging", "--list"])).toEqual({ stack: "staging", list: true });
    expect(parseArgs(["--stack", "staging", "--wait", "90"])).toMatchObject({ waitSeconds: 90 });
  });

  it("refuses bad ones with exit 2 and a message naming the argument", () => {
    expect(fails([])).toBe("2: --stack is required (the stack file Pulumi.<stack>.yaml)");
    expect(fails(["--stack"])).toBe("2: --stack needs a value");
    expect(fails(["--stack", "../prod"])).toContain('--stack must be a railyard name');
    expect(fails(["--stack", "p", "--to", "seven"])).toBe('2: --to must be a whole number from 1 to 999999, got "seven"');
    expect(fails(["--stack", "p", "--to", "0"])).toContain("--to must be a whole number from 1 to 999999");
    expect(fails(["--stack", "p", "--wait", "10 minutes"])).toBe('2: --wait must be a duration such as 90s, 10m or 1h (at most 86400 s), got "10 minutes"');
    expect(fails(["--stack", "p", "--wait", "48h"])).toContain("--wait must be a duration");
    expect(fails(["--stack", "p", "--list", "--to", "3"])).toBe("2: --list only lists: it takes no --to or --wait");
    expect(fails(["--stack", "p", "--to", "3", "--to", "4"])).toBe("2: --to is given twice");
    expect(fails(["--stack", "p", "--yes"])).toContain('2: unknown argument "--yes"');
    expect(fails(["--stack", "p", "--policy-pack", "policy", "--no-policy-pack"])).toBe("2: give --policy-pack or --no-policy-pack, not both");
  });
});

describe("npm run rollback: the target", () => {
  it("without --to: the previous good release, walking back past failed ones and ones equal to the live release", () => {
    const records = [rec(1), rec(2), rec(3, { status: "failed" }), rec(4, { key: KEY(2) }), rec(5)];
    expect(pickTarget(records, 5).seq).toBe(4);
    // Live 4 has release 2's key: 3 failed, 2 is the same content, so 1.
    expect(pickTarget(records, 4).seq).toBe(1);
  });

  it("after a rollback, the next one goes further back (from the release it rolled back to)", () => {
    const records = [rec(1), rec(2), rec(3), rec(4, { kind: "rollback", rollbackOf: 2, key: KEY(2) }), rec(5, { kind: "host-rollback", rollbackOf: 1, key: KEY(1) })];
    expect(pickTarget(records, 4).seq).toBe(1);
    expect(() => pickTarget(records, 5)).toThrow("nothing to roll back to");
  });

  it("--to N: a kept ok release that is not live; else 77", () => {
    const records = [rec(1), rec(2, { status: "failed" }), rec(3)];
    expect(pickTarget(records, 1, 3).seq).toBe(3);
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof CliError ? `${e.code}: ${e.message}` : String(e);
      }
      return "accepted";
    };
    expect(code(() => pickTarget(records, 3, 9))).toBe("77: release 9 is not kept on the host (--list shows the kept ones)");
    expect(code(() => pickTarget(records, 3, 2))).toBe("77: release 2 failed: only a release that passed its gates can be brought back (--list)");
    expect(code(() => pickTarget(records, 3, 3))).toBe("77: release 3 is already live");
    expect(code(() => pickTarget([], undefined))).toBe("77: no release is live yet: nothing to roll back to");
  });

  it("reads the store's records defensively (78 for one it did not write)", () => {
    expect(summaryOf({ seq: 2, status: "ok", services: { api: { swarm: "p-api", image: "i", release: "r", migration: true, spec: {} } }, rollbackOf: null })).toMatchObject({
      seq: 2, kind: "deploy", services: { api: { swarm: "p-api", image: "i", release: "r", migration: true } }, migrated: [],
    });
    expect(() => summaryOf({ seq: "2" })).toThrow(CliError);
  });
});

describe("npm run rollback: the list and the migration warning", () => {
  it("lists newest first, the live one marked, and says where a rollback without --to goes", () => {
    const records = [rec(1), rec(2, { status: "failed", services: {} }), rec(3, { kind: "rollback", rollbackOf: 1, key: KEY(1), commit: "" })];
    expect(formatReleases(records, 3).split("\n")).toEqual([
      "  SEQ    STATUS KIND             TIME                 WHO              COMMIT       IMAGES",
      "* 3      ok     rollback to 1    2026-11-23T12:00:00Z alice            -            api=ghcr.io/acme/api:v3",
      "  2      failed deploy           2026-11-22T12:00:00Z alice            222222222222 ",
      "  1      ok     deploy           2026-11-21T12:00:00Z alice            111111111111 api=ghcr.io/acme/api:v1",
      "* live: release 3; npm run rollback without --to goes to none (nothing to roll back to)",
    ]);
    expect(formatReleases([rec(1), rec(2)], 2).split("\n").at(-1)).toBe("* live: release 2; npm run rollback without --to goes to release 1");
    expect(formatReleases([], undefined)).toBe("no release recorded yet");
    expect(formatReleases([rec(1)], undefined).split("\n").at(-1)).toBe("no release is live");
  });

  it("names the releases after the target that ran a migration, and the services", () => {
    const records = [rec(1), rec(2, { migrated: ["api"] }), rec(3, { status: "failed", migrated: ["api"] }), rec(4, { migrated: ["api", "worker"] }), rec(5)];
    expect(migrationsBetween(records, 1, 5)).toEqual([{ seq: 2, services: ["api"] }, { seq: 4, services: ["api", "worker"] }]);
    expect(migrationsBetween(records, 4, 5)).toEqual([]);
    expect(migrationsBetween(records, 5, 2)).toEqual([]);
    expect(migrationWarning("production", 1, migrationsBetween(records, 1, 5))).toBe([
      "rollback: migrations ran after release 1: release 2 (api), release 4 (api, worker).",
      "  A rollback runs no migration, neither these backwards nor release 1's own: release 1's images meet the",
      "  newer schema. If the schema must go back",
      "  too, restore the pre-deploy backup taken before the first of them (README: Rolling back the schema;",
      "  npm run restore -- --stack production --database <name> --list).",
    ].join("\n"));
    expect(migrationWarning("production", 4, [])).toBeUndefined();
  });
});

const CURRENT = `# Production: the current stack file (this comment stays)
encryptionsalt: v1:abc=
config:
  # the current config's comment goes with it
  railyard:environment: production
  railyard:services:
    api:
      kind: web
      image: ghcr.io/acme/api@sha256:${"2".repeat(64)}
`;

const RECORDED = `# the file as release 1 was deployed
config:
  railyard:environment: production
  railyard:secrets:
    TOKEN:
      secure: AAABAJkP0ciphertext
  railyard:services:
    # built on the host then
    api:
      kind: web
      build: { context: ./api }
      env: { GREETING: A }
    worker:
      kind: worker
      image: ghcr.io/acme/worker@sha256:${"3".repeat(64)}
`;

describe("npm run rollback: the stack file", () => {
  it("replaces only the config map (comments and other keys kept), pins a built service to its recorded image", () => {
    const out = rewriteStackFile(CURRENT, RECORDED, { api: "railyard/production-api@sha256:" + "1".repeat(64) }, 1);
    expect(out).toBe(`# Production: the current stack file (this comment stays)
encryptionsalt: v1:abc=
config:
  railyard:environment: production
  railyard:secrets:
    TOKEN:
      secure: AAABAJkP0ciphertext
  railyard:services:
    # built on the host then
    api:
      kind: web
      image: railyard/production-api@sha256:${"1".repeat(64)}
      env: { GREETING: A }
    worker:
      kind: worker
      image: ghcr.io/acme/worker@sha256:${"3".repeat(64)}
`);
  });

  it("refuses (78) a recorded file without a config map, or a built service without a recorded image", () => {
    expect(() => rewriteStackFile(CURRENT, "nothing: here\n", {}, 4)).toThrow("release 4's recorded stack file has no config map");
    expect(() => rewriteStackFile(CURRENT, RECORDED, {}, 1)).toThrow("release 1 records no image for the built service api");
  });

  it("runs pulumi up with the rollback's environment (RAILYARD_WHO only when the operator set it)", () => {
    expect(upArgv("production")).toEqual(["pulumi", "up", "--stack", "production", "--yes", "--skip-preview"]);
    expect(upArgv("production", { dir: "/p/policy", config: "/p/policy/config/production.json" })).toEqual([
      "pulumi", "up", "--stack", "production", "--yes", "--skip-preview", "--policy-pack", "/p/policy", "--policy-pack-config", "/p/policy/config/production.json",
    ]);
    expect(upArgv("qa", { dir: "/p/policy" })).toEqual(["pulumi", "up", "--stack", "qa", "--yes", "--skip-preview", "--policy-pack", "/p/policy"]);
    expect(upEnv(3, "tok", undefined)).toEqual({ RAILYARD_RELEASE_KIND: "rollback", RAILYARD_ROLLBACK_OF: "3", RAILYARD_LOCK_TOKEN: "tok" });
    expect(upEnv(3, "tok", "bob")).toMatchObject({ RAILYARD_WHO: "bob" });
  });
});

describe("npm run rollback: against the host's release store (local mode)", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-rollback-cli-"));
  const dataDir = path.join(root, "data");
  const stackDir = path.join(dataDir, "rbt");
  const stub = path.join(root, "bin");
  const stackFile = path.join(root, "Pulumi.dev.yaml");
  const STACK_TEXT = `# the test's stack file\nconfig:\n  railyard:prefix: rbt\n  railyard:host: { mode: local, dataDir: ${dataDir} }\n  railyard:services:\n    api: { kind: web, image: "app:v2", env: { GREETING: B } }\n`;
  const record = (seq: number, config: string | null, image: string) => ({
    version: 1, seq, status: "ok", kind: "deploy", at: `2026-11-2${seq}T12:00:00Z`, who: "alice", commit: "", stack: "rbt", key: KEY(seq), rollbackOf: null,
    services: { api: { swarm: "rbt-api", image, release: "abcdef012345", migration: false, gate: [] } }, migrated: [], config,
  });
  const recordedConfig = (greeting: string, image: string) =>
    `config:\n  railyard:prefix: rbt\n  railyard:host: { mode: local, dataDir: ${dataDir} }\n  railyard:services:\n    api: { kind: web, image: "${image}", env: { GREETING: ${greeting} } }\n`;
  const saved = process.env.PATH;
  let printed: string[] = [];

  beforeEach(() => {
    fs.rmSync(stackDir, { recursive: true, force: true });
    fs.mkdirSync(path.join(stackDir, "releases"), { recursive: true });
    fs.writeFileSync(path.join(stackDir, "releases", "000001.json"), JSON.stringify(record(1, recordedConfig("A", "app:v1"), "app:v1")));
    fs.writeFileSync(path.join(stackDir, "releases", "000002.json"), JSON.stringify(record(2, recordedConfig("B", "app:v2"), "app:v2")));
    fs.writeFileSync(path.join(stackDir, "releases", "000003.json"), JSON.stringify(record(3, null, "app:v3")));
    fs.writeFileSync(path.join(stackDir, "releases", "live"), "2\n");
    fs.writeFileSync(stackFile, STACK_TEXT);
    fs.rmSync(`${stackFile}.before-rollback`, { force: true });
    // docker: the engine answers `version`; `image inspect` finds the images listed in bin/present (app:v1 and app:v3).
    fs.mkdirSync(stub, { recursive: true });
    fs.writeFileSync(path.join(stub, "present"), "app:v1\napp:v3\n");
    fs.writeFileSync(path.join(stub, "docker"), `#!/bin/bash\n[ "$1" = version ] && exit 0\n[ "$1 $2" = "image inspect" ] && grep -qxF -- "$3" ${stub}/present && exit 0\nexit 1\n`, { mode: 0o755 });
    process.env.PATH = `${stub}:${saved}`;
    printed = [];
    vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void printed.push(a.join(" ")));
    vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void printed.push(a.join(" ")));
  });
  afterEach(() => {
    process.env.PATH = saved;
    vi.restoreAllMocks();
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  const lockState = () => execFileSync("bash", [path.join(__dirname, "..", "host", "railyard-release.sh"), "--stack-dir", stackDir, "--stack", "rbt", "lock", "status"], { encoding: "utf8" }).trim();
  const untouched = () => {
    expect(fs.readFileSync(stackFile, "utf8")).toBe(STACK_TEXT);
    expect(fs.existsSync(`${stackFile}.before-rollback`)).toBe(false);
    expect(lockState()).toBe("unlocked");
  };

  it("rolls back to the previous good release: its config written, pulumi up run under the lock, the lock released", async () => {
    const calls: { stack: string; env: Record<string, string>; file: string; lock: string }[] = [];
    const code = await main(["--stack", "dev"], root, { up: async (stack, env) => (calls.push({ stack, env, file: fs.readFileSync(stackFile, "utf8"), lock: lockState() }), 0) });
    expect(code).toBe(0);
    expect(calls).toHaveLength(1);
    expect(calls[0].stack).toBe("dev");
    expect(calls[0].env).toMatchObject({ RAILYARD_RELEASE_KIND: "rollback", RAILYARD_ROLLBACK_OF: "1", RAILYARD_LOCK_TOKEN: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(JSON.parse(calls[0].lock)).toMatchObject({ kind: "rollback", token: calls[0].env.RAILYARD_LOCK_TOKEN, message: "rollback of dev to release 1" });
    expect(calls[0].file).toBe(`# the test's stack file\n${recordedConfig("A", "app:v1")}`);
    expect(fs.readFileSync(`${stackFile}.before-rollback`, "utf8")).toBe(STACK_TEXT);
    expect(lockState()).toBe("unlocked");
    expect(printed.join("\n")).toContain('Commit the stack file: git commit -m "Roll dev back to release 1" Pulumi.dev.yaml');
  });

  describe("the policy pack", () => {
    const policy = path.join(root, "policy");
    /** A `pulumi` on PATH that writes its arguments, one a line, to bin/pulumi-args (defaultUp runs it). */
    const fakePulumi = () => {
      fs.writeFileSync(path.join(stub, "pulumi"), `#!/bin/bash\nprintf '%s\\n' "$@" > '${stub}/pulumi-args'\n`, { mode: 0o755 });
      fs.rmSync(path.join(stub, "pulumi-args"), { force: true });
    };
    const seen = () => fs.readFileSync(path.join(stub, "pulumi-args"), "utf8").trimEnd().split("\n");
    beforeEach(() => {
      fs.mkdirSync(path.join(policy, "config"), { recursive: true });
      fs.writeFileSync(path.join(policy, "PulumiPolicy.yaml"), "runtime: nodejs\n");
      fs.writeFileSync(path.join(policy, "config", "dev.json"), "{}\n");
      fakePulumi();
    });
    afterEach(() => fs.rmSync(policy, { recursive: true, force: true }));

    it("runs pulumi up with the project's policy/ and its config for the stack, as a deploy does", async () => {
      expect(await main(["--stack", "dev"], root)).toBe(0);
      expect(seen()).toEqual(["up", "--stack", "dev", "--yes", "--skip-preview", "--policy-pack", policy, "--policy-pack-config", path.join(policy, "config", "dev.json")]);
      expect(lockState()).toBe("unlocked");
    });
    it("--policy-pack DIR (relative to the project), without a config for the stack; --no-policy-pack skips it; no policy/ runs none", async () => {
      fs.cpSync(policy, path.join(root, "other-pack"), { recursive: true });
      fs.rmSync(path.join(root, "other-pack", "config"), { recursive: true });
      expect(await main(["--stack", "dev", "--policy-pack", "other-pack"], root)).toBe(0);
      expect(seen().slice(5)).toEqual(["--policy-pack", path.join(root, "other-pack")]);
      fs.rmSync(path.join(root, "other-pack"), { recursive: true });
      fakePulumi();
      expect(await main(["--stack", "dev", "--no-policy-pack"], root)).toBe(0);
      expect(seen()).toEqual(["up", "--stack", "dev", "--yes", "--skip-preview"]);
      fs.rmSync(policy, { recursive: true });
      expect(policyPackFor({ stack: "dev" }, root)).toBeUndefined();
    });
    it("refuses (2) a --policy-pack that is not one, before anything changes", async () => {
      await expect(main(["--stack", "dev", "--policy-pack", "nope"], root)).rejects.toThrow(`--policy-pack "nope" is not a policy pack (no PulumiPolicy.yaml in ${path.join(root, "nope")})`);
      expect(fs.existsSync(path.join(stub, "pulumi-args"))).toBe(false);
      untouched();
    });
  });

  it("releases the lock and returns pulumi up's code when it fails", async () => {
    expect(await main(["--stack", "dev"], root, { up: async () => 3 })).toBe(3);
    expect(lockState()).toBe("unlocked");
    expect(printed.join("\n")).toContain("pulumi up failed (exit 3)");
  });

  it("lists the kept releases, the live one marked", async () => {
    expect(await main(["--stack", "dev", "--list"], root, { up: async () => 99 })).toBe(0);
    expect(printed.join("\n")).toContain("* 2      ok     deploy");
  });

  const refused = async (argv: string[], code: number, message: string) => {
    let ran = false;
    expect(await main(argv, root, { up: async () => ((ran = true), 0) }).catch((e: unknown) => (e instanceof CliError ? (printed.push(e.message), e.code) : -1))).toBe(code);
    expect(ran).toBe(false);
    expect(printed.join("\n")).toContain(message);
    untouched();
  };

  it("refuses an image gone from the host (76) before anything changes", async () => {
    fs.writeFileSync(path.join(stub, "present"), "app:v3\n");
    await refused(["--stack", "dev"], 76, "");
  });

  it("refuses a release that is not kept (77) and one recorded without its stack file (78)", async () => {
    await refused(["--stack", "dev", "--to", "9"], 77, "release 9 is not kept on the host");
    await refused(["--stack", "dev", "--to", "3"], 78, "release 3 was recorded without its stack file");
  });

  it("refuses while another holds the lock (75), naming the holder", async () => {
    execFileSync("bash", [path.join(__dirname, "..", "host", "railyard-release.sh"), "--stack-dir", stackDir, "--stack", "rbt", "lock", "acquire", "--who", "ops-bob", "--kind", "manual", "--message", "maintenance", "--token", "t0"]);
    let ran = false;
    expect(await main(["--stack", "dev"], root, { up: async () => ((ran = true), 0) })).toBe(75);
    expect(ran).toBe(false);
    expect(fs.readFileSync(stackFile, "utf8")).toBe(STACK_TEXT);
    expect(JSON.parse(lockState())).toMatchObject({ who: "ops-bob", token: "t0" });
  });
});
