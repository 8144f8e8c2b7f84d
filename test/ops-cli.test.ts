/**
 * The operator's day-two commands (scripts/status.ts, logs.ts, exec.ts, audit.ts, lock.ts over scripts/stackHost.ts):
 * arguments with errors naming the argument, the host command lines by exact string, and the host scripts'
 * own pure parts (host/railyard-run.sh's job spec and secret-env wrapper, argument checks) without an engine.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parseArgs as execArgs, runCommand } from "../scripts/exec";
import { lockWords, parseArgs as lockArgs } from "../scripts/lock";
import { logsCommand, parseArgs as logsArgs } from "../scripts/logs";
import { parseArgs as auditArgs } from "../scripts/audit";
import { statusCommand } from "../scripts/status";
import { CliError, durationOption, hostArgv, hostOf, parseOptions, readStackHost, scriptPath } from "../scripts/stackHost";

const ROOT = path.join(__dirname, "..");
const fails = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (e instanceof CliError) return `${e.code}: ${e.message}`;
    throw e;
  }
  throw new Error("accepted");
};

describe("stackHost: the stack's host and the option parser", () => {
  it("reads the prefix, target and stack folder of a stack file", () => {
    expect(readStackHost("production")).toEqual({
      stack: "production", prefix: "production", stackDir: "/srv/railyard/production",
      host: { mode: "ssh", address: "203.0.113.20", port: 22, user: "deploy", dataDir: "/srv/railyard", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJhaWx5YXJkLXByb2R1Y3Rpb24taG9zdC1rZXktZXhhbXBsZQ" },
    });
    expect(hostOf({ "railyard:prefix": "dv", "railyard:host": { mode: "local" } }, "dev")).toEqual({ prefix: "dv", host: { mode: "local", dataDir: "/var/lib/railyard" } });
    expect(() => hostOf({ "railyard:host": { mode: "ssh", address: "h" } }, "s")).toThrow("Pulumi.s.yaml: railyard:host needs address and hostKey");
  });

  it("runs a host line with bash here, or over ssh with the pinned key (a terminal when asked)", () => {
    expect(hostArgv({ mode: "local", dataDir: "/d" }, "echo hi", "")).toEqual(["bash", "-c", "echo hi"]);
    const ssh = { mode: "ssh" as const, address: "203.0.113.20", port: 2222, user: "deploy", hostKey: "ssh-ed25519 AAAA", dataDir: "/srv/railyard" };
    expect(hostArgv(ssh, "echo hi", "/tmp/kh", true)).toEqual([
      "ssh", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=/tmp/kh", "-o", "GlobalKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-t", "-p", "2222", "deploy@203.0.113.20", "echo hi",
    ]);
    const h = { stack: "production", prefix: "production", stackDir: "/srv/railyard/production", host: ssh };
    expect(scriptPath(h, "railyard-run.sh")).toBe("/srv/railyard/production/scripts/railyard-run.sh");
    expect(scriptPath({ ...h, host: { mode: "local", dataDir: "/tmp/r" } }, "railyard-run.sh")).toBe(path.join(ROOT, "host", "railyard-run.sh"));
  });

  it("parses options: values, switches, the words after --; errors name the argument", () => {
    const spec = { "--a": "value", "--b": "switch" } as const;
    expect(parseOptions(["--a", "1", "--b", "--", "x", "--a"], spec, "usage", true)).toEqual({ values: new Map([["--a", "1"]]), switches: new Set(["--b"]), rest: ["x", "--a"] });
    expect(fails(() => parseOptions(["--a"], spec, "usage"))).toBe("2: --a needs a value");
    expect(fails(() => parseOptions(["--b", "--b"], spec, "usage"))).toBe("2: --b is given twice");
    expect(fails(() => parseOptions(["--", "x"], spec, "usage"))).toBe('2: unknown argument "--"\nusage');
    const d = (v: string) => durationOption(parseOptions(["--w", v], { "--w": "value" }, ""), "--w");
    expect([d("90"), d("90s"), d("10m"), d("2h")]).toEqual([90, 90, 600, 7200]);
    expect(fails(() => d("0"))).toContain("--w must be a duration such as 90s, 10m or 1h");
  });
});

describe("npm run logs", () => {
  it("parses its options and builds docker service logs by exact string", () => {
    const a = logsArgs(["--stack", "production", "--service", "api", "--since", "1h30m", "--tail", "200", "--follow"]);
    expect(a).toEqual({ stack: "production", service: "api", since: "1h30m", tail: 200, follow: true });
    expect(logsCommand("production-api", a)).toBe("docker service logs --timestamps --since 1h30m --tail 200 --follow production-api");
    expect(logsCommand("production-api", { follow: false })).toBe("docker service logs --timestamps production-api");
    expect(logsCommand("p-api", { follow: false, since: "2026-11-20T14:30:00Z" })).toBe("docker service logs --timestamps --since 2026-11-20T14:30:00Z p-api");
  });

  it("refuses bad options naming them", () => {
    expect(fails(() => logsArgs(["--stack", "p"]))).toBe("2: --service is required (a service, database or edge service of the stack file)");
    expect(fails(() => logsArgs(["--stack", "p", "--service", "API"]))).toContain("--service must be a railyard name");
    expect(fails(() => logsArgs(["--stack", "p", "--service", "api", "--since", "yesterday"]))).toBe('2: --since must be a duration (10m, 2h, 1h30m) or a UTC time (2026-11-20T14:30:00Z), got "yesterday"');
    expect(fails(() => logsArgs(["--stack", "p", "--service", "api", "--tail", "-1"]))).toBe('2: --tail must be a whole number from 1 to 100000, got "-1"');
    expect(fails(() => logsArgs(["--stack", "p", "--service", "api", "--tail", "all"]))).toBe('2: --tail must be a whole number from 1 to 100000, got "all"');
  });
});

describe("npm run exec", () => {
  it("takes the command after --, and builds railyard-run.sh's line by exact string", () => {
    const a = execArgs(["--stack", "production", "--service", "api", "--timeout", "10m", "--", "alembic", "current", "--verbose"]);
    expect(a).toEqual({ stack: "production", service: "api", reuse: false, timeoutSeconds: 600, command: ["alembic", "current", "--verbose"] });
    expect(runCommand("/srv/railyard/production/scripts/railyard-run.sh", { swarm: "production-api", stack: "production", reuse: false, tty: false, timeoutSeconds: 600, command: a.command })).toBe(
      "bash /srv/railyard/production/scripts/railyard-run.sh --service production-api --stack production --timeout 600 -- alembic current --verbose",
    );
    expect(runCommand("/s/railyard-run.sh", { swarm: "p-api", stack: "p", reuse: true, tty: true, command: ["sh", "-c", "echo $HOME; it's"] })).toBe(
      "bash /s/railyard-run.sh --service p-api --stack p --reuse --tty -- sh -c 'echo $HOME; it'\\''s'",
    );
  });

  it("refuses bad options naming them", () => {
    expect(fails(() => execArgs(["--stack", "p", "--service", "api"]))).toBe("2: the command is missing: put it after -- (npm run exec -- --stack S --service api -- alembic current)");
    expect(fails(() => execArgs(["--stack", "p", "--", "ls"]))).toBe("2: --service is required (a service or database of the stack file)");
    expect(fails(() => execArgs(["--stack", "p", "--service", "api", "--reuse", "--timeout", "5m", "--", "ls"]))).toBe("2: --timeout goes with a job, not --reuse");
    expect(fails(() => execArgs(["--stack", "p", "--service", "api", "ls"]))).toContain('2: unknown argument "ls"');
  });
});

describe("npm run status, audit, lock", () => {
  it("status: railyard-status.sh's line", () => {
    expect(statusCommand("/srv/railyard/p/scripts/railyard-status.sh", "/srv/railyard/p", "p")).toBe("bash /srv/railyard/p/scripts/railyard-status.sh --stack-dir /srv/railyard/p --stack p");
  });

  it("audit: --lines 1 to 10000, default 20", () => {
    expect(auditArgs(["--stack", "p"])).toEqual({ stack: "p", lines: 20 });
    expect(auditArgs(["--stack", "p", "--lines", "5"])).toEqual({ stack: "p", lines: 5 });
    expect(fails(() => auditArgs(["--stack", "p", "--lines", "0"]))).toBe('2: --lines must be a whole number from 1 to 10000, got "0"');
  });

  it("lock: one action, its options, and the store's words", () => {
    expect(lockWords(lockArgs(["--stack", "p"]), "", "t")).toEqual(["lock", "status"]);
    expect(lockWords(lockArgs(["--stack", "p", "--acquire", "--message", "db maintenance", "--wait", "1m"]), "alice", "t0k")).toEqual([
      "lock", "acquire", "--who", "alice", "--kind", "manual", "--message", "db maintenance", "--token", "t0k", "--wait", "60",
    ]);
    expect(lockWords(lockArgs(["--stack", "p", "--release", "--token", "t0k"]), "alice", "x")).toEqual(["lock", "release", "--token", "t0k"]);
    expect(lockWords(lockArgs(["--stack", "p", "--release", "--force"]), "alice", "x")).toEqual(["lock", "release", "--force", "--who", "alice"]);
    expect(fails(() => lockArgs(["--stack", "p", "--acquire"]))).toBe("2: --acquire needs --message (why: shown to whoever meets the lock)");
    expect(fails(() => lockArgs(["--stack", "p", "--acquire", "--release"]))).toBe("2: --acquire and --release do not go together: one action at a time");
    expect(fails(() => lockArgs(["--stack", "p", "--release"]))).toBe("2: --release needs --token T (the token --acquire printed) or --force (any holder's lock)");
    expect(fails(() => lockArgs(["--stack", "p", "--status", "--force"]))).toBe("2: --force does not go with --status");
    expect(fails(() => lockArgs(["--stack", "p", "--release", "--token", "a b"]))).toContain("--token must be the token --acquire printed");
  });
});

describe("host/railyard-run.sh and railyard-status.sh without an engine", () => {
  const RUN = path.join(ROOT, "host", "railyard-run.sh");
  const run = (args: string[]) => {
    const r = spawnSync("bash", [RUN, ...args], { encoding: "utf8" });
    return `${r.status}: ${r.stderr.trim().split("\n").at(-1)}`;
  };

  it("checks its arguments before anything runs", () => {
    expect(run(["--service", "api", "--stack", "p"])).toBe("2: railyard-run: the command is missing after --");
    expect(run(["--service", "API", "--stack", "p", "--", "ls"])).toBe("2: railyard-run: --service must be a Swarm service name (a-z, 0-9, inner -, at most 63), got API");
    expect(run(["--service", "api", "--stack", "p", "--timeout", "0", "--", "ls"])).toBe("2: railyard-run: --timeout must be a number of seconds (1 to 999999), got 0");
    expect(run(["--service", "api", "--stack", "p", "--tty", "--", "ls"])).toBe("2: railyard-run: --tty goes with --reuse (a job has no terminal)");
    expect(run(["--bogus"])).toBe("2: railyard-run: unknown argument: --bogus");
    expect(spawnSync("bash", [RUN, "--help"], { encoding: "utf8" }).stdout).toContain("Exit codes:");
    expect(spawnSync("bash", [path.join(ROOT, "host", "railyard-status.sh"), "--help"], { encoding: "utf8" }).stdout).toContain("Exit codes:");
  });

  it("makes the job from the service's task spec: the command, no alias, no port, no health check, restart none", () => {
    const spec = {
      Name: "p-api", Labels: { "railyard.stack": "p" },
      TaskTemplate: {
        ContainerSpec: {
          Image: "app@sha256:" + "1".repeat(64), Command: ["/bin/sh", "-c", "exec serve"], Env: ["A=1"],
          Healthcheck: { Test: ["CMD", "true"] },
          Secrets: [{ File: { Name: "env_TOKEN" }, SecretName: "p-api-token-abc" }, { File: { Name: "cert.pem" }, SecretName: "p-cert" }, { File: { Name: "env_bad-name" }, SecretName: "x" }],
        },
        RestartPolicy: { Condition: "any" }, Networks: [{ Target: "net1", Aliases: ["api"] }], ForceUpdate: 3,
      },
      Mode: { Replicated: { Replicas: 2 } }, EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 80 }] },
    };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-run-spec-"));
    fs.writeFileSync(path.join(dir, "spec.json"), JSON.stringify(spec));
    const out = execFileSync("bash", ["-c", `source ${RUN}; job=p-api-run-1 stack=p service=p-api; cmd=(sh -c 'echo "$1"' -c --x); s=$(cat ${dir}/spec.json); w=$(secret_env_wrapper "$s"); printf '%s\\n' "$w"; job_spec "$s" "$w"`], { encoding: "utf8" });
    fs.rmSync(dir, { recursive: true, force: true });
    const [wrapper, job] = out.trim().split("\n");
    expect(wrapper).toBe('TOKEN="$(cat /run/secrets/env_TOKEN && printf x)" && TOKEN="${TOKEN%x}" && export TOKEN && exec "$@"');
    expect(JSON.parse(job)).toEqual({
      Name: "p-api-run-1",
      Labels: { "railyard.stack": "p", "railyard.job": "run", "railyard.run-of": "p-api" },
      TaskTemplate: {
        ContainerSpec: {
          ...spec.TaskTemplate.ContainerSpec,
          Command: ["/bin/sh", "-c", wrapper, "railyard-run"], Args: ["sh", "-c", 'echo "$1"', "-c", "--x"], Healthcheck: { Test: ["NONE"] }, Init: true,
        },
        RestartPolicy: { Condition: "none", MaxAttempts: 0 }, Networks: [{ Target: "net1" }],
      },
      Mode: { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } },
    });
  });
});
