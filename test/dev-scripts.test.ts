/**
 * The npm scripts a newcomer runs first (npm run dev:up, npm run dev:down, npm test), run for real by bash in a
 * copy of the project. Only what cannot run here is faked, first on PATH: the network (curl, apt-get), the Pulumi
 * CLI (not installable here) and the Docker engine (held by the engine tests).
 */
import { spawnSync, SpawnSyncReturns } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ROOT } from "./harness";

const PKG_PULUMI_VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> })
  .dependencies["@pulumi/pulumi"];

/** Tools the scripts may only reach through a fake (or not at all). */
const HIDDEN = ["pulumi", "curl", "docker", "apt-get", "shellcheck", "openssl", "dockerd", "debootstrap"];

let farm: string;
let tmp: string;

/** A PATH directory holding this machine's commands except HIDDEN (symlinks), so no real one leaks into a test. */
function buildFarm(dir: string): void {
  fs.mkdirSync(dir);
  for (const src of ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]) {
    if (!fs.existsSync(src)) continue;
    for (const name of fs.readdirSync(src)) {
      const dest = path.join(dir, name);
      if (HIDDEN.includes(name) || fs.existsSync(dest)) continue;
      fs.symlinkSync(path.join(src, name), dest);
    }
  }
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-scripts-"));
  fs.chmodSync(tmp, 0o755);
  farm = path.join(tmp, "farm");
  buildFarm(farm);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Project {
  dir: string;
  fakes: string;
  log: (name: string) => string[];
  run: (script: string, args?: string[], env?: Record<string, string>) => SpawnSyncReturns<string>;
}

let count = 0;
/** A copy of the project's scripts (and package.json), a fakes directory first on PATH, logs of every fake call. */
function project(opts: { nodeModules?: boolean } = {}): Project {
  const dir = path.join(tmp, `p${++count}`);
  const fakes = path.join(dir, ".fakes");
  fs.mkdirSync(path.join(dir, "scripts"), { recursive: true });
  fs.mkdirSync(fakes);
  fs.cpSync(path.join(ROOT, "scripts"), path.join(dir, "scripts"), { recursive: true });
  fs.copyFileSync(path.join(ROOT, "package.json"), path.join(dir, "package.json"));
  if (opts.nodeModules !== false) fs.mkdirSync(path.join(dir, "node_modules"));
  const home = path.join(dir, ".home");
  fs.mkdirSync(home);
  return {
    dir,
    fakes,
    log: (name) => {
      const file = path.join(fakes, `${name}.log`);
      return fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
    },
    run: (script, args = [], env = {}) =>
      spawnSync("bash", [path.join(dir, "scripts", script), ...args], {
        encoding: "utf8",
        timeout: 60_000,
        cwd: tmp,
        env: { PATH: `${fakes}:${farm}`, HOME: home, FAKES: fakes, LANG: "C.UTF-8", ...env },
      }),
  };
}

function fake(p: Project, name: string, body: string): void {
  fs.writeFileSync(path.join(p.fakes, name), `#!/usr/bin/env bash\n${body}\n`, { mode: 0o755 });
}

/** Records backend, engine, context and arguments of each call; answers like the CLI for what the scripts read. */
const FAKE_PULUMI = `printf '%s|%s|%s|%s\\n' "\${PULUMI_BACKEND_URL-}" "\${DOCKER_HOST-}" "\${DOCKER_CONTEXT-unset}" "$*" >> "$FAKES/pulumi.log"
case "$*" in
  version) echo v${PKG_PULUMI_VERSION} ;;
  login*) echo "login must not be called" >&2; exit 99 ;;
  "stack select"*) [ ! -f "$FAKES/no-stack" ] || { echo "error: no stack named 'dev' found" >&2; exit 255; } ;;
  "stack output urls"*) if [ -f "$FAKES/urls.json" ]; then cat "$FAKES/urls.json"; else echo "error: current stack does not have output property 'urls'" >&2; exit 255; fi ;;
  "stack output domains"*) cat "$FAKES/domains.json" ;;
  "config get --path railyard:edge.httpPort"*) echo 8080 ;;
  "config get railyard:prefix"*) echo "error: configuration key 'railyard:prefix' not found for stack 'dev'" >&2; exit 255 ;;
  up* | destroy*) echo "fake pulumi $1 done"; exit "\${FAKE_PULUMI_EXIT:-0}" ;;
esac`;

/** The engine: answers (or not) and reports the current context's endpoint. */
const FAKE_DOCKER = `printf '%s|%s|%s\\n' "\${DOCKER_HOST-}" "\${DOCKER_CONTEXT-unset}" "$*" >> "$FAKES/docker.log"
case "$1" in
  context) echo "\${FAKE_CONTEXT_HOST:-unix:///var/run/docker.sock}" ;;
  info) [ -z "\${FAKE_ENGINE_DOWN-}" ] || { echo "Cannot connect to the Docker daemon" >&2; exit 1; } ;;
  volume) printf 'dev-edge-data\\ndev-postgres-data\\ndev-redis-data\\n' ;;
  network) echo dev-net ;;
esac`;

/** get.pulumi.com unreachable, as on this machine. */
const CURL_OFFLINE = `echo "$*" >> "$FAKES/curl.log"; echo "curl: (6) Could not resolve host: get.pulumi.com" >&2; exit 6`;

/** get.pulumi.com reachable: serves an installer that records its arguments and installs the fake CLI. */
const CURL_ONLINE = `echo "$*" >> "$FAKES/curl.log"
out=
while [ $# -gt 0 ]; do case $1 in -o) out=$2; shift 2 ;; *) shift ;; esac; done
cat > "$out" <<'INSTALLER'
echo "$*" >> "$FAKES/installer.log"
root=
while [ $# -gt 0 ]; do case $1 in --install-root) root=$2; shift 2 ;; *) shift ;; esac; done
mkdir -p "$root/bin" && cp "$FAKES/pulumi.template" "$root/bin/pulumi" && chmod +x "$root/bin/pulumi"
INSTALLER`;

describe("npm run dev:up", () => {
  let p: Project;
  beforeEach(() => {
    p = project();
    fake(p, "docker", FAKE_DOCKER);
    fs.writeFileSync(path.join(p.fakes, "urls.json"), JSON.stringify(["http://api.localhost:8080/", "http://app.localhost:8080/"]));
    fs.writeFileSync(path.join(p.fakes, "domains.json"), JSON.stringify({ "api.localhost": "api", "app.localhost": "frontend" }));
    fs.writeFileSync(path.join(p.fakes, "pulumi.template"), `#!/usr/bin/env bash\n${FAKE_PULUMI}\n`, { mode: 0o755 });
  });

  it("documents itself and refuses another stack", () => {
    const help = p.run("dev-up.sh", ["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("PULUMI_BACKEND_URL");
    expect(help.stdout).toContain("npm run dev:down");
    const other = p.run("dev-up.sh", ["--stack", "production"]);
    expect(other.status).toBe(2);
    expect(p.log("pulumi")).toEqual([]);
  });

  it("offline without a Pulumi CLI: exit 10 with the command to run by hand, nothing installed", () => {
    fake(p, "curl", CURL_OFFLINE);
    const r = p.run("dev-up.sh");
    expect(r.status).toBe(10);
    expect(r.stderr).toContain("dev-up: could not download Pulumi's installer from https://get.pulumi.com (offline?)");
    const root = path.join(p.dir, ".railyard", "pulumi");
    expect(r.stderr).toContain(
      `curl -fsSL https://get.pulumi.com/install.sh | sh -s -- --version ${PKG_PULUMI_VERSION} --install-root "${root}" --no-edit-path`,
    );
    expect(p.log("curl")).toHaveLength(1);
    expect(fs.existsSync(path.join(root, "bin", "pulumi"))).toBe(false);
    expect(fs.existsSync(path.join(root, "install.sh"))).toBe(false);
    expect(p.log("docker")).toEqual([]);
  });

  it("installs the CLI into the project, keeps the state there, never logs in, and prints the URLs", () => {
    fake(p, "curl", CURL_ONLINE);
    const r = p.run("dev-up.sh", ["--refresh"], { FAKE_CONTEXT_HOST: "unix:///run/user/1000/docker.sock", DOCKER_CONTEXT: "rootless" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const root = path.join(p.dir, ".railyard", "pulumi");
    expect(p.log("installer")).toEqual([`--version ${PKG_PULUMI_VERSION} --install-root ${root} --no-edit-path`]);
    expect(fs.existsSync(path.join(root, "install.sh"))).toBe(false);
    expect(fs.statSync(path.join(p.dir, ".railyard", "state")).isDirectory()).toBe(true);
    const backend = `file://${p.dir}/.railyard/state`;
    const calls = p.log("pulumi").map((l) => l.split("|"));
    expect(calls.map((c) => c[3])).toEqual([
      "version",
      "stack select --create --non-interactive dev",
      "up --stack dev --yes --non-interactive --refresh",
      "stack output urls --json --stack dev",
    ]);
    // Every command gets the project's backend and the one engine; the context is resolved into DOCKER_HOST.
    for (const c of calls) expect(c.slice(0, 3)).toEqual([backend, "unix:///run/user/1000/docker.sock", "unset"]);
    expect(p.log("docker")).toEqual([
      "|rootless|context inspect --format {{.Endpoints.docker.Host}}",
      "unix:///run/user/1000/docker.sock|unset|info",
    ]);
    expect(r.stdout).toContain("dev-up: the dev stack is up. The app answers at:\n  http://api.localhost:8080/\n  http://app.localhost:8080/\n");
    expect(r.stdout).toContain("*.localhost names resolve to this machine (loopback) in curl and in browsers: curl -i http://api.localhost:8080/");
    expect(r.stdout).toContain("127.0.0.1 api.localhost");
    expect(r.stdout).toContain("npm run dev:down");
    expect(fs.existsSync(path.join(p.dir, ".home", ".pulumi"))).toBe(false);

    // A second run uses the installed CLI: no download.
    const again = p.run("dev-up.sh", [], { FAKE_CONTEXT_HOST: "unix:///run/user/1000/docker.sock" });
    expect(again.status).toBe(0);
    expect(p.log("curl")).toHaveLength(1);
  });

  it("follows DOCKER_HOST over the context, and says where a remote engine answers", () => {
    fake(p, "pulumi", FAKE_PULUMI);
    const r = p.run("dev-up.sh", [], { DOCKER_HOST: "tcp://203.0.113.7:2375", FAKE_CONTEXT_HOST: "unix:///elsewhere.sock" });
    expect(r.status).toBe(0);
    expect(p.log("docker")).toEqual(["tcp://203.0.113.7:2375|unset|info"]);
    for (const l of p.log("pulumi")) expect(l.split("|")[1]).toBe("tcp://203.0.113.7:2375");
    expect(r.stdout).toContain("the edge answers on 203.0.113.7, not on this machine's loopback");
    expect(r.stdout).toContain("curl --connect-to ::203.0.113.7: http://api.localhost:8080/");
  });

  it("falls back to the domains output and the edge's port when the program has no urls output", () => {
    fake(p, "pulumi", FAKE_PULUMI);
    fs.rmSync(path.join(p.fakes, "urls.json"));
    const r = p.run("dev-up.sh");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("The app answers at:\n  http://api.localhost:8080/\n  http://app.localhost:8080/\n");
  });

  it("stops with exit 11 before any pulumi command when the engine does not answer", () => {
    fake(p, "pulumi", FAKE_PULUMI);
    const r = p.run("dev-up.sh", [], { FAKE_ENGINE_DOWN: "1" });
    expect(r.status).toBe(11);
    expect(r.stderr).toContain("dev-up: the Docker engine at unix:///var/run/docker.sock does not answer");
    expect(p.log("pulumi").map((l) => l.split("|")[3])).toEqual([]);
  });

  it("passes pulumi up's failure through", () => {
    fake(p, "pulumi", FAKE_PULUMI);
    const r = p.run("dev-up.sh", [], { FAKE_PULUMI_EXIT: "255" });
    expect(r.status).toBe(255);
    expect(r.stdout).not.toContain("The app answers at");
  });
});

describe("npm run dev:down", () => {
  let p: Project;
  beforeEach(() => {
    p = project({ nodeModules: false });
    fake(p, "docker", FAKE_DOCKER);
    fake(p, "pulumi", FAKE_PULUMI);
    fs.mkdirSync(path.join(p.dir, ".railyard", "state", ".pulumi"), { recursive: true });
  });

  it("destroys the dev stack with the project's state and lists the kept volumes and how to remove them", () => {
    const r = p.run("dev-down.sh");
    expect(r.status).toBe(0);
    const backend = `file://${p.dir}/.railyard/state`;
    expect(p.log("pulumi")).toContain(`${backend}|unix:///var/run/docker.sock|unset|destroy --stack dev --yes --non-interactive`);
    expect(p.log("pulumi").some((l) => l.includes("login"))).toBe(false);
    expect(p.log("docker")).toContain("unix:///var/run/docker.sock|unset|volume ls --quiet --filter label=railyard.stack=dev");
    expect(r.stdout).toContain("data volumes: dev-edge-data dev-postgres-data dev-redis-data");
    expect(r.stdout).toContain("docker volume rm dev-edge-data dev-postgres-data dev-redis-data");
    expect(r.stdout).toContain("docker network rm dev-net");
    // npm ci is not needed to destroy: the program does not run.
    expect(fs.existsSync(path.join(p.dir, "node_modules"))).toBe(false);
  });

  it("has nothing to stop when there is no dev stack", () => {
    fs.writeFileSync(path.join(p.fakes, "no-stack"), "");
    const r = p.run("dev-down.sh");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("dev-down: no dev stack in .railyard/state: nothing to stop");
    expect(p.log("pulumi").some((l) => l.includes("destroy"))).toBe(false);
  });

  it("needs no Pulumi CLI when there is no state at all", () => {
    fs.rmSync(path.join(p.dir, ".railyard"), { recursive: true });
    fs.rmSync(path.join(p.fakes, "pulumi"));
    fake(p, "curl", CURL_OFFLINE);
    const r = p.run("dev-down.sh");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("dev-down: no state in .railyard/state: nothing to stop");
    expect(p.log("curl")).toEqual([]);
  });

  it("documents itself", () => {
    const r = p.run("dev-down.sh", ["--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("data volumes are kept");
  });
});

describe("npm test's set-up (scripts/test.sh --prereqs-only)", () => {
  const asRoot = process.getuid?.() === 0;
  /** Every tool present but shellcheck (stubs: the script only looks them up). */
  function withoutShellcheck(p: Project): void {
    for (const tool of ["curl", "openssl", "dockerd", "debootstrap"]) fake(p, tool, "exit 0");
  }

  it("documents itself and refuses unknown arguments", () => {
    const p = project();
    expect(p.run("test.sh", ["--help"]).stdout).toContain("--prereqs-only");
    const r = p.run("test.sh", ["--fast"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("npm test: unknown argument --fast");
  });

  it("not root: exit 20 naming the missing package and the command", () => {
    const p = project();
    withoutShellcheck(p);
    const script = path.join(p.dir, "scripts", "test.sh");
    const env = { PATH: `${p.fakes}:${farm}`, HOME: tmp, FAKES: p.fakes };
    const r = asRoot
      ? spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "bash", script, "--prereqs-only"], { encoding: "utf8", env, cwd: tmp })
      : spawnSync("bash", [script, "--prereqs-only"], { encoding: "utf8", env, cwd: tmp });
    expect(r.stderr).toContain("npm test: missing packages: shellcheck. Install them (Debian, as root: apt-get install shellcheck)");
    expect(r.status).toBe(20);
  });

  it.runIf(asRoot)("root on Debian: installs the missing package with apt-get, then goes on", () => {
    const p = project();
    withoutShellcheck(p);
    fake(p, "apt-get", `echo "$*" >> "$FAKES/apt-get.log"
if [ "$1" = install ]; then printf '#!/bin/sh\\n' > "$FAKES/shellcheck"; chmod +x "$FAKES/shellcheck"; fi`);
    const r = p.run("test.sh", ["--prereqs-only"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("npm test: installing shellcheck");
    expect(p.log("apt-get")).toEqual(["update -qq", "install -y -qq --no-install-recommends shellcheck"]);
  });

  it.runIf(asRoot)("root on Debian: exit 21 when apt-get leaves the tool missing", () => {
    const p = project();
    withoutShellcheck(p);
    fake(p, "apt-get", `echo "$*" >> "$FAKES/apt-get.log"`);
    const r = p.run("test.sh", ["--prereqs-only"]);
    expect(r.status).toBe(21);
    expect(r.stderr).toContain("npm test: still missing after apt-get install: shellcheck");
  });

  it("runs npm ci when node_modules is missing", () => {
    const p = project({ nodeModules: false });
    for (const tool of ["curl", "openssl", "dockerd", "debootstrap", "shellcheck"]) fake(p, tool, "exit 0");
    // A project whose only dependency is local, so npm ci needs no registry.
    fs.mkdirSync(path.join(p.dir, "dep"));
    fs.writeFileSync(path.join(p.dir, "dep", "package.json"), JSON.stringify({ name: "dep", version: "1.0.0" }));
    fs.writeFileSync(path.join(p.dir, "package.json"), JSON.stringify({ name: "t", version: "1.0.0", private: true, dependencies: { dep: "file:./dep" } }));
    const lock = spawnSync("npm", ["install", "--package-lock-only", "--offline", "--no-audit", "--no-fund"], { cwd: p.dir, encoding: "utf8" });
    expect(lock.status).toBe(0);
    const r = p.run("test.sh", ["--prereqs-only"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("npm test: node_modules is missing: running npm ci");
    expect(fs.existsSync(path.join(p.dir, "node_modules", "dep", "package.json"))).toBe(true);
    // Present now: a second run leaves it alone.
    expect(p.run("test.sh", ["--prereqs-only"]).stdout).not.toContain("npm ci");
  });
});
