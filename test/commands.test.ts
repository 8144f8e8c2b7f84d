/** Command builders: exact strings, then run for real by bash. */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { backupCommand } from "../commands/backup";
import { bootstrapFromFile, bootstrapFromStdin, networkIdCommand } from "../commands/bootstrap";
import { settleCommand } from "../commands/gate";
import { commandHealthcheck, httpHealthcheck, startCommand } from "../commands/container";
import { BOOTSTRAP_SCRIPT } from "../components/host";
import { shellJoin, shellQuote } from "../lib/shell";
import { HOSTILE } from "./hostile";

/** Hostile values: each must reach the program as exactly one literal argument. */

describe("shellQuote", () => {
  it("leaves safe words alone and single-quotes the rest", () => {
    expect(shellQuote("staging-net")).toBe("staging-net");
    expect(shellQuote("/srv/railyard")).toBe("/srv/railyard");
    expect(shellQuote("two words")).toBe("'two words'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote("")).toBe("''");
    expect(shellJoin(["echo", "$(x)"])).toBe("echo '$(x)'");
  });

  it("delivers every hostile value literally to a real shell and executes nothing", () => {
    fs.rmSync("/tmp/railyard-pwned", { force: true });
    expect(HOSTILE.length).toBeGreaterThanOrEqual(20);
    for (const value of HOSTILE) {
      const script = `printf '%s' ${shellQuote(value)}`;
      const out = execFileSync("bash", ["-c", script], { encoding: "utf8" });
      expect(out).toBe(value);
      const sh = execFileSync("sh", ["-c", script], { encoding: "utf8" });
      expect(sh).toBe(value);
    }
    expect(fs.existsSync("/tmp/railyard-pwned")).toBe(false);
  });
});

describe("bootstrap command", () => {
  const args = { stack: "staging", network: "staging-net", dataDir: "/srv/railyard" };

  it("builds the exact remote and local lines", () => {
    expect(bootstrapFromStdin(args, 300)).toBe("timeout 300 bash -s -- --stack staging --network staging-net --data-dir /srv/railyard");
    expect(bootstrapFromStdin({ ...args, advertiseAddress: "203.0.113.10" }, 300)).toBe(
      "timeout 300 bash -s -- --stack staging --network staging-net --data-dir /srv/railyard --advertise-addr 203.0.113.10",
    );
    expect(bootstrapFromFile("/opt/rail yard/b.sh", args, 60)).toBe(
      "timeout 60 bash '/opt/rail yard/b.sh' --stack staging --network staging-net --data-dir /srv/railyard",
    );
  });

  it("looks up the network's ID (services attach by ID, as the provider reads them back)", () => {
    expect(networkIdCommand("staging-net", 30)).toBe("timeout 30 docker network inspect --format '{{.Id}}' staging-net");
  });

  const run = (argv: string[], env: NodeJS.ProcessEnv = process.env) =>
    spawnSync("bash", [BOOTSTRAP_SCRIPT, ...argv], { encoding: "utf8", env });

  it("prints its help and exits 0", () => {
    const r = run(["--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Usage: railyard-bootstrap.sh --stack NAME --network NAME --data-dir DIR");
    expect(r.stdout).toContain("10  docker is not installed");
  });

  it("refuses bad arguments with exit 2 before touching anything", () => {
    expect(run(["--stack"]).status).toBe(2);
    expect(run(["--bogus"]).status).toBe(2);
    const bad = run(["--stack", "s", "--network", "n", "--data-dir", "/srv/../etc"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--data-dir must be an absolute path");
    const hostile = run(["--stack", "s;reboot", "--network", "n", "--data-dir", "/srv"]);
    expect(hostile.status).toBe(2);
  });

  it("fails clearly with exit 10 when docker is missing", () => {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-nodocker-"));
    for (const tool of ["bash", "mkdir", "chmod"]) fs.symlinkSync(execFileSync("bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim(), path.join(bin, tool));
    const r = spawnSync(path.join(bin, "bash"), [BOOTSTRAP_SCRIPT, "--stack", "s", "--network", "n", "--data-dir", "/tmp/railyard-t"], {
      encoding: "utf8",
      env: { PATH: bin },
    });
    expect(r.status).toBe(10);
    expect(r.stderr).toContain("docker is not installed on this host");
  });

  it("fails clearly with exit 11 when the engine does not answer", () => {
    const r = run(["--stack", "s", "--network", "n", "--data-dir", "/tmp/railyard-t"], {
      ...process.env,
      DOCKER_HOST: "unix:///nonexistent/railyard-test.sock",
    });
    expect(r.status).toBe(11);
    expect(r.stderr).toContain("the Docker engine does not answer");
  });

  it("refuses a swarm of more than one node with exit 16, before it labels a node or creates anything", () => {
    // A docker first on PATH that answers as the manager of a three-node swarm and records every call.
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-swarm3-"));
    const calls = path.join(bin, "calls");
    const answers: Record<string, string> = {
      "{{.Swarm.LocalNodeState}}": "active",
      "{{.Swarm.ControlAvailable}}": "true",
      "{{.Swarm.Nodes}}": "3",
    };
    const cases = Object.entries(answers).map(([f, a]) => `  *'${f}'*) echo ${a} ;;`).join("\n");
    fs.writeFileSync(path.join(bin, "docker"), `#!/bin/bash\necho "$*" >> ${calls}\ncase "$*" in\n${cases}\nesac\nexit 0\n`, { mode: 0o755 });
    const r = run(["--stack", "s", "--network", "n", "--data-dir", "/tmp/railyard-t"], { ...process.env, PATH: `${bin}:${process.env.PATH}` });
    expect(r.status).toBe(16);
    expect(r.stderr).toContain("this node's swarm has 3 nodes");
    const made = fs.readFileSync(calls, "utf8");
    expect(made).not.toMatch(/node update|network create|swarm init/);
  });
});

describe("backup command", () => {
  it("builds the exact line", () => {
    expect(
      backupCommand("/srv/railyard/production/scripts/railyard-backup.sh", {
        service: "production-postgres",
        engine: "postgres",
        user: "crm",
        database: "crm",
        dir: "/srv/railyard/production/backups",
        keep: 5,
        timeoutSeconds: 1800,
      }),
    ).toBe(
      "timeout 1800 bash /srv/railyard/production/scripts/railyard-backup.sh --service production-postgres --engine postgres --user crm --database crm --dir /srv/railyard/production/backups --keep 5",
    );
  });
});

describe("settle command (the edge's and databases' gate)", () => {
  it("builds the exact line: the gate's --settle mode, bounded by timeout a minute after its own limit", () => {
    expect(settleCommand("/srv/railyard/production/scripts/railyard-gate.sh", { service: "production-edge", timeoutSeconds: 300 })).toBe(
      "timeout 360 bash /srv/railyard/production/scripts/railyard-gate.sh --settle --service production-edge --timeout 300",
    );
    expect(settleCommand("/opt/rail yard/railyard-gate.sh", { service: "dev-postgres", timeoutSeconds: 30 })).toBe(
      "timeout 90 bash '/opt/rail yard/railyard-gate.sh' --settle --service dev-postgres --timeout 30",
    );
  });
});

describe("container commands", () => {
  it("exports secret env from files, then execs the start command", () => {
    expect(startCommand("uvicorn app:app --port 8000", ["DATABASE_URL", "SECRET_KEY"])).toEqual([
      "/bin/sh",
      "-c",
      'DATABASE_URL="$(cat /run/secrets/env_DATABASE_URL && printf x)" && DATABASE_URL="${DATABASE_URL%x}" && export DATABASE_URL && ' +
        'SECRET_KEY="$(cat /run/secrets/env_SECRET_KEY && printf x)" && SECRET_KEY="${SECRET_KEY%x}" && export SECRET_KEY && exec uvicorn app:app --port 8000',
    ]);
    expect(startCommand("celery -A app beat", [])).toEqual(["/bin/sh", "-c", "exec celery -A app beat"]);
  });

  it("the start wrapper exports file contents literally, hostile or not", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-secrets-"));
    // Trailing newlines included (a PEM key ends in one; a bare $(cat) would strip them), by sh and bash alike.
    for (const [i, value] of [...HOSTILE, "-----END PRIVATE KEY-----\n", "x\n\n"].entries()) {
      fs.writeFileSync(path.join(dir, "env_V"), value);
      const [, flag, script] = startCommand(`printf '%s' "$V"`, ["V"]);
      for (const shell of ["sh", "bash"]) {
        const out = execFileSync(shell, [flag, script.replaceAll("/run/secrets/", `${dir}/`)], { encoding: "utf8" });
        expect(out, `value #${i} by ${shell}`).toBe(value);
      }
    }
    expect(fs.existsSync("/tmp/railyard-pwned")).toBe(false);
  });

  it("the start wrapper refuses to start when a secret file is missing", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-secrets-"));
    const [shell, flag, script] = startCommand("echo started", ["V"]);
    const r = spawnSync(shell, [flag, script.replaceAll("/run/secrets/", `${dir}/`)], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stdout).not.toContain("started");
  });

  it("probes HTTP health with curl, or wget where there is no curl", () => {
    expect(httpHealthcheck(3002, "/api/v1/health")).toEqual([
      "CMD-SHELL",
      "curl -fsS -o /dev/null http://127.0.0.1:3002/api/v1/health || wget -q -O /dev/null http://127.0.0.1:3002/api/v1/health",
    ]);
    expect(httpHealthcheck(80, "/a?b=1&c=2")).toEqual([
      "CMD-SHELL",
      "curl -fsS -o /dev/null 'http://127.0.0.1:80/a?b=1&c=2' || wget -q -O /dev/null 'http://127.0.0.1:80/a?b=1&c=2'",
    ]);
    expect(commandHealthcheck("celery inspect ping")).toEqual(["CMD-SHELL", "celery inspect ping"]);
    expect(commandHealthcheck("celery inspect ping", ["REDIS_URL"])).toEqual([
      "CMD-SHELL",
      'REDIS_URL="$(cat /run/secrets/env_REDIS_URL && printf x)" && REDIS_URL="${REDIS_URL%x}" && export REDIS_URL && celery inspect ping',
    ]);
  });
});
