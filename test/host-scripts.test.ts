/**
 * The host scripts' argument checks, run for real by bash with a `docker` first on PATH that only records that it
 * was called: every bad option exits 2 naming the option, prints nothing raw, and runs nothing. The shared library's
 * validators are unit-tested by sourcing host/railyard-lib.sh; the bootstrap also runs fed on stdin after the
 * library, as it does over SSH.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { bootstrapStdin, HOST_LIB } from "../components/host";
import { ROOT } from "./harness";

const HOST = path.join(ROOT, "host");
const bin = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-fakebin-"));
const calls = path.join(bin, "calls");
// Records the call and fails, as an engine that does not answer would.
fs.writeFileSync(path.join(bin, "docker"), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${calls}\nexit 1\n`, { mode: 0o755 });
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
const recorded = () => (fs.existsSync(calls) ? fs.readFileSync(calls, "utf8") : "");
beforeEach(() => fs.rmSync(calls, { force: true }));

const run = (script: string, args: string[], input?: string) =>
  spawnSync("bash", input === undefined ? [path.join(HOST, script), ...args] : ["-s", "--", ...args], { encoding: "utf8", env, input });

/** Any control character but the newline that ends each line. */
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f]/;
const ESC = "\x1b[2J";

const valid = {
  "railyard-bootstrap.sh": ["--stack", "ryt", "--network", "ryt-net", "--data-dir", "/tmp/railyard-host-scripts"],
  "railyard-backup.sh": ["--service", "ryt-postgres", "--engine", "postgres", "--user", "app", "--database", "app", "--dir", "/tmp/railyard-host-scripts"],
  "railyard-migrate.sh": ["--job", "ryt-api-migrate", "--timeout", "30", "--state-dir", "/tmp/railyard-host-scripts", "--", "--network", "ryt-net", "img:v1", "true"],
  "railyard-gate.sh": ["--service", "ryt-api", "--image", "railyard-test/app:v1"],
} as const;
type Script = keyof typeof valid;

/** The valid arguments with OPTION's value replaced (or OPTION added with VALUE; VALUE undefined removes it). */
function withOption(script: Script, option: string, value?: string): string[] {
  const args: string[] = [...valid[script]];
  const end = args.indexOf("--") === -1 ? args.length : args.indexOf("--");
  const at = args.indexOf(option);
  if (at !== -1 && at < end) {
    if (value === undefined) args.splice(at, 2);
    else args[at + 1] = value;
  } else if (value !== undefined) args.splice(end, 0, option, value);
  return args;
}

const BAD: [Script, string, string[]][] = [
  // bootstrap
  ["railyard-bootstrap.sh", "--stack", ["--stack"]],
  ["railyard-bootstrap.sh", "--stack", withOption("railyard-bootstrap.sh", "--stack", "s;reboot")],
  ["railyard-bootstrap.sh", "--stack", withOption("railyard-bootstrap.sh", "--stack", "a".repeat(64))],
  ["railyard-bootstrap.sh", "--network", withOption("railyard-bootstrap.sh", "--network", "Net")],
  ["railyard-bootstrap.sh", "--network", withOption("railyard-bootstrap.sh", "--network", "net-")],
  ["railyard-bootstrap.sh", "--data-dir", withOption("railyard-bootstrap.sh", "--data-dir", "srv/railyard")],
  ["railyard-bootstrap.sh", "--data-dir", withOption("railyard-bootstrap.sh", "--data-dir", "/srv/../etc")],
  ["railyard-bootstrap.sh", "--advertise-addr", withOption("railyard-bootstrap.sh", "--advertise-addr", "256.0.2.1")],
  ["railyard-bootstrap.sh", "--advertise-addr", withOption("railyard-bootstrap.sh", "--advertise-addr", "192.0.2")],
  ["railyard-bootstrap.sh", "--advertise-addr", withOption("railyard-bootstrap.sh", "--advertise-addr", "eth0")],
  ["railyard-bootstrap.sh", "--advertise-addr", withOption("railyard-bootstrap.sh", "--advertise-addr", "2001:db8::1::2")],
  ["railyard-bootstrap.sh", "--advertise-addr", withOption("railyard-bootstrap.sh", "--advertise-addr", `192.0.2.1${ESC}`)],
  ["railyard-bootstrap.sh", "--bogus", [...valid["railyard-bootstrap.sh"], `--bogus${ESC}`]],
  // backup
  ["railyard-backup.sh", "--service", withOption("railyard-backup.sh", "--service", "Postgres")],
  ["railyard-backup.sh", "--service", withOption("railyard-backup.sh", "--service", "p".repeat(64))],
  ["railyard-backup.sh", "--engine", withOption("railyard-backup.sh", "--engine", "oracle")],
  ["railyard-backup.sh", "--user", withOption("railyard-backup.sh", "--user", "app;id")],
  ["railyard-backup.sh", "--database", withOption("railyard-backup.sh", "--database", `app\n`)],
  ["railyard-backup.sh", "--dir", withOption("railyard-backup.sh", "--dir", "/tmp/$(reboot)")],
  ["railyard-backup.sh", "--keep", withOption("railyard-backup.sh", "--keep", "0")],
  ["railyard-backup.sh", "--keep", withOption("railyard-backup.sh", "--keep", "1000")],
  ["railyard-backup.sh", "--keep", withOption("railyard-backup.sh", "--keep", "05")],
  ["railyard-backup.sh", "--keep", [...valid["railyard-backup.sh"], "--keep"]],
  // migrate
  ["railyard-migrate.sh", "--job", withOption("railyard-migrate.sh", "--job", "j".repeat(64))],
  ["railyard-migrate.sh", "--job", withOption("railyard-migrate.sh", "--job", "api-")],
  ["railyard-migrate.sh", "--job", withOption("railyard-migrate.sh", "--job", `api${ESC}`)],
  ["railyard-migrate.sh", "--timeout", withOption("railyard-migrate.sh", "--timeout", "0")],
  ["railyard-migrate.sh", "--timeout", withOption("railyard-migrate.sh", "--timeout", "abc")],
  ["railyard-migrate.sh", "--log-lines", withOption("railyard-migrate.sh", "--log-lines", "0")],
  ["railyard-migrate.sh", "--log-lines", withOption("railyard-migrate.sh", "--log-lines", "10000")],
  ["railyard-migrate.sh", "--pause", withOption("railyard-migrate.sh", "--pause", "Worker")],
  ["railyard-migrate.sh", "--pause", withOption("railyard-migrate.sh", "--pause", "w".repeat(64))],
  ["railyard-migrate.sh", "--state-dir", withOption("railyard-migrate.sh", "--state-dir", "state")],
  ["railyard-migrate.sh", "--state-dir", withOption("railyard-migrate.sh", "--state-dir", "/srv/../etc")],
  ["railyard-migrate.sh", "--state-dir", withOption("railyard-migrate.sh", "--state-dir", `/srv/$(reboot)`)],
  ["railyard-migrate.sh", "--state-dir", withOption("railyard-migrate.sh", "--state-dir")],
  ["railyard-migrate.sh", "--", ["--job", "ryt-api-migrate", "--timeout", "30", "--state-dir", "/tmp/railyard-host-scripts"]],
  // gate
  ["railyard-gate.sh", "--service", withOption("railyard-gate.sh", "--service", "s".repeat(64))],
  ["railyard-gate.sh", "--image", withOption("railyard-gate.sh", "--image", "img;rm -rf /")],
  ["railyard-gate.sh", "--image", withOption("railyard-gate.sh", "--image", "team/App")],
  ["railyard-gate.sh", "--image", withOption("railyard-gate.sh", "--image", "localhost:70000/app:v1")],
  ["railyard-gate.sh", "--image", withOption("railyard-gate.sh", "--image", `app${ESC}\n`)],
  ["railyard-gate.sh", "--port", [...withOption("railyard-gate.sh", "--port", "99999"), "--path", "/health"]],
  ["railyard-gate.sh", "--port", [...withOption("railyard-gate.sh", "--port", "0"), "--path", "/health"]],
  ["railyard-gate.sh", "--port", withOption("railyard-gate.sh", "--port", "3000")],
  ["railyard-gate.sh", "--path", withOption("railyard-gate.sh", "--path", "/health")],
  ["railyard-gate.sh", "--path", [...withOption("railyard-gate.sh", "--port", "3000"), "--path", "/$(id)"]],
  ["railyard-gate.sh", "--url", withOption("railyard-gate.sh", "--url", "https://127.0.0.1:99999/health")],
  ["railyard-gate.sh", "--url", withOption("railyard-gate.sh", "--url", "ftp://127.0.0.1/")],
  ["railyard-gate.sh", "--url", withOption("railyard-gate.sh", "--url", "http://999.0.0.1/")],
  ["railyard-gate.sh", "--host", withOption("railyard-gate.sh", "--host", "api.example.com")],
  ["railyard-gate.sh", "--host", [...withOption("railyard-gate.sh", "--url", "https://127.0.0.1/"), "--host", "Api Example"]],
  ["railyard-gate.sh", "--insecure", [...valid["railyard-gate.sh"], "--insecure"]],
  ["railyard-gate.sh", "--attempts", withOption("railyard-gate.sh", "--attempts", "0")],
  ["railyard-gate.sh", "--attempts", withOption("railyard-gate.sh", "--attempts", "1000")],
  ["railyard-gate.sh", "--stable", withOption("railyard-gate.sh", "--stable", "3601")],
  ["railyard-gate.sh", "--interval", withOption("railyard-gate.sh", "--interval", "0")],
  ["railyard-gate.sh", "--interval", withOption("railyard-gate.sh", "--interval", "0.000")],
  ["railyard-gate.sh", "--interval", withOption("railyard-gate.sh", "--interval", "-1")],
  ["railyard-gate.sh", "--since", withOption("railyard-gate.sh", "--since", "yesterday")],
  ["railyard-gate.sh", "--since", withOption("railyard-gate.sh", "--since", "17000000000")],
  ["railyard-gate.sh", "--release", withOption("railyard-gate.sh", "--release", "0123456789AB")],
  ["railyard-gate.sh", "--release", withOption("railyard-gate.sh", "--release", "0123456789a")],
  ["railyard-gate.sh", "--release", withOption("railyard-gate.sh", "--release", `0123456789ab${ESC}`)],
  ["railyard-gate.sh", "--release", [...valid["railyard-gate.sh"], "--release"]],
  ["railyard-gate.sh", "--state-dir", withOption("railyard-gate.sh", "--state-dir", "state")],
  ["railyard-gate.sh", "--state-dir", withOption("railyard-gate.sh", "--state-dir", "/srv/../etc")],
  ["railyard-gate.sh", "--state-dir", withOption("railyard-gate.sh", "--state-dir", "/srv/rail yard")],
  ["railyard-gate.sh", "--release", ["--settle", "--service", "ryt-edge", "--release", "0123456789ab"]],
  ["railyard-gate.sh", "--state-dir", ["--settle", "--service", "ryt-edge", "--state-dir", "/tmp/x"]],
  // gate --settle (the edge's and databases' gate): only --service and --timeout
  ["railyard-gate.sh", "--image", ["--settle", "--service", "ryt-edge", "--image", "railyard-test/edge:v1"]],
  ["railyard-gate.sh", "--attempts", ["--settle", "--service", "ryt-edge", "--attempts", "5"]],
  ["railyard-gate.sh", "--insecure", ["--settle", "--service", "ryt-edge", "--insecure"]],
  ["railyard-gate.sh", "--timeout", ["--settle", "--service", "ryt-edge", "--timeout", "0"]],
  ["railyard-gate.sh", "--timeout", ["--settle", "--service", "ryt-edge", "--timeout", "86401"]],
  ["railyard-gate.sh", "--timeout", ["--settle", "--service", "ryt-edge", "--timeout", "1.5"]],
  ["railyard-gate.sh", "--timeout", [...valid["railyard-gate.sh"], "--timeout", "30"]],
  ["railyard-gate.sh", "--service", ["--settle", "--service", `edge${ESC}`]],
];

describe("host scripts refuse bad options before anything runs", () => {
  it.each(BAD)("%s: %s in %j exits 2 naming it, prints nothing raw, calls nothing", (script, option, args) => {
    const r = run(script, args);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(option);
    expect(r.stderr).not.toMatch(RAW_CONTROL);
    expect(recorded()).toBe("");
  });

  it.each(Object.keys(valid) as Script[])("%s with valid options gets past its checks and calls docker (the fake records it)", (script) => {
    const r = run(script, [...valid[script]]);
    expect(r.stderr).not.toMatch(/must be|needs|unknown argument/);
    expect(recorded()).not.toBe("");
  });

  it("a bootstrap with an IPv6 --advertise-addr gets past its checks", () => {
    const r = run("railyard-bootstrap.sh", withOption("railyard-bootstrap.sh", "--advertise-addr", "2001:db8::10"));
    expect(r.status, r.stderr).toBe(11);
  });

  it("a gate with --port/--path and --url/--host/--insecure gets past its checks", () => {
    const since = String(Math.floor(Date.now() / 1000));
    const args = [...valid["railyard-gate.sh"], "--port", "65535", "--path", "/api/v1/health?full=1", "--url", "https://[::1]:8443/h", "--host", "api.example.com", "--insecure", "--interval", "0.5", "--since", since];
    const r = run("railyard-gate.sh", args);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("no Swarm service named ryt-api");
    expect(recorded()).toContain("service inspect");
  });

  it("a gate --settle with --timeout gets past its checks", () => {
    const r = run("railyard-gate.sh", ["--settle", "--service", "ryt-edge", "--timeout", "86400"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("no Swarm service named ryt-edge");
    expect(recorded()).toContain("service inspect");
  });

  it.each(Object.keys(valid) as Script[])("%s --help lists every exit code and runs from its own folder", (script) => {
    const r = spawnSync("bash", [script, "--help"], { encoding: "utf8", env, cwd: HOST });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("Usage:");
    expect(r.stdout).toMatch(/Exit codes:\n {2}0 {3}.+\n {2}2 {3}bad arguments/);
  });
});

/** Runs bash code after sourcing host/railyard-lib.sh; returns the exit status and output. */
const lib = (code: string, ...args: string[]) =>
  spawnSync("bash", ["-c", `source ${JSON.stringify(HOST_LIB)}; ${code}`, "lib", ...args], { encoding: "utf8", env });

describe("host/railyard-lib.sh", () => {
  const cases: [string, string, boolean][] = [
    ["is_port", "1", true],
    ["is_port", "65535", true],
    ["is_port", "65536", false],
    ["is_port", "0", false],
    ["is_port", "080", false],
    ["is_port", " 80", false],
    ["is_seconds", "0.5", true],
    ["is_seconds", "5", true],
    ["is_seconds", "0", false],
    ["is_seconds", "0.0", false],
    ["is_seconds", "1e3", false],
    ["is_name", "staging-api-migrate", true],
    ["is_name", "a".repeat(63), true],
    ["is_name", "a".repeat(64), false],
    ["is_name", "api-", false],
    ["is_name", "1api", false],
    ["is_name", "Api", false],
    ["is_name", "api\n", false],
    ["is_domain", "api.example.com", true],
    ["is_domain", "-api.example.com", false],
    ["is_abs_path", "/srv/railyard", true],
    ["is_abs_path", "/", true],
    ["is_abs_path", "srv", false],
    ["is_abs_path", "/srv/../etc", false],
    ["is_abs_path", "/srv/$(id)", false],
    ["is_ipv4", "203.0.113.10", true],
    ["is_ipv4", "255.255.255.255", true],
    ["is_ipv4", "256.1.1.1", false],
    ["is_ipv4", "01.2.3.4", false],
    ["is_ipv4", "1.2.3", false],
    ["is_ipv6", "::", true],
    ["is_ipv6", "::1", true],
    ["is_ipv6", "2001:db8::10", true],
    ["is_ipv6", "1:2:3:4:5:6:7:8", true],
    ["is_ipv6", "1:2:3:4:5:6:7::", true],
    ["is_ipv6", "::ffff:192.0.2.1", true],
    ["is_ipv6", "1:2:3:4:5:6:7:8:9", false],
    ["is_ipv6", "1:2:3:4:5:6:7:8::", false],
    ["is_ipv6", "1::2::3", false],
    ["is_ipv6", ":::1", false],
    ["is_ipv6", "1::2:", false],
    ["is_ipv6", "::ffff:300.0.2.1", false],
    ["is_ipv6", "12345::1", false],
    ["is_ip", "192.0.2.1", true],
    ["is_ip", "2001:db8::1", true],
    ["is_ip", "localhost", false],
    ["is_image", "railyard-test/app-v1:0123abcd", true],
    ["is_image", "postgres:16", true],
    ["is_image", `registry.example.com:5000/team/api@sha256:${"a".repeat(64)}`, true],
    ["is_image", "registry.example.com:65536/api", false],
    ["is_image", "Api", false],
    ["is_image", "api:tag:tag", false],
    ["is_image", "api tag", false],
    ["is_image", "", false],
    ["is_url", "https://127.0.0.1:443/api/v1/health", true],
    ["is_url", "http://example.com", true],
    ["is_url", "http://[::1]:8080/h?a=b&c=d", true],
    ["is_url", "http://example.com:/", false],
    ["is_url", "http://example.com:65536/", false],
    ["is_url", "http://[zz]/", false],
    ["is_url", "http://a b/", false],
    ["is_url", "http://example.com/$(id)", false],
  ];
  it.each(cases)("%s %j → %s", (fn, value, ok) => {
    expect(lib(`${fn} "$1"`, value).status).toBe(ok ? 0 : 1);
  });

  it("is_int_in checks the range, without sign or leading zeros", () => {
    expect(lib('is_int_in 1 999 "$1"', "999").status).toBe(0);
    expect(lib('is_int_in 0 9999999999 "$1"', "1795000000").status).toBe(0);
    for (const v of ["0", "1000", "007", "-1", "+5", ""]) expect(lib('is_int_in 1 999 "$1"', v).status, v).toBe(1);
  });

  it("split_url gives scheme, host, port (the scheme's default when absent) and path", () => {
    const parts = (url: string) => lib('split_url "$1" && echo "$url_scheme $url_host $url_port $url_path"', url).stdout.trim();
    expect(parts("https://[::1]/h")).toBe("https [::1] 443 /h");
    expect(parts("http://api.example.com:8080")).toBe("http api.example.com 8080 /");
  });

  it("q escapes control characters for a terminal", () => {
    const r = lib('q "$1"', `a\nb${ESC}`);
    expect(r.stdout).toBe("$'a\\nb\\E[2J'");
    expect(lib('q "$1"', "").stdout).toBe("''");
  });

  it("check fails with exit 2 naming the option and the escaped value; opt_value needs a value", () => {
    const r = lib('RAILYARD_SCRIPT=t; check --port "$1" "a port" is_port', `9${ESC}`);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("t: --port must be a port, got $'9\\E[2J'\n");
    expect(lib('check --port "$1" "a port" is_port && echo ok', "80").stdout).toBe("ok\n");
    const missing = lib('opt_value v "$@"', "--stack");
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("--stack needs a value");
    expect(lib('opt_value v "$@"; printf %s "$v"', "--stack", " two words\n").stdout).toBe(" two words\n");
  });

  it("service_field reads the service named exactly NAME, not one whose ID starts with it", () => {
    fs.writeFileSync(path.join(bin, "docker"), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${calls}\necho 'other-service|abc'\n`, { mode: 0o755 });
    try {
      expect(lib('service_field "$1" "{{.ID}}"', "abc").status).toBe(1);
      fs.writeFileSync(path.join(bin, "docker"), `#!/bin/sh\necho 'abc|id1 label'\n`, { mode: 0o755 });
      expect(lib('service_field "$1" "{{.ID}}"', "abc").stdout).toBe("id1 label\n");
    } finally {
      fs.writeFileSync(path.join(bin, "docker"), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${calls}\nexit 1\n`, { mode: 0o755 });
    }
  });
  it("remove_container asks again while the engine refuses, and names the container it could not remove", () => {
    const count = path.join(bin, "rm-count");
    // docker rm refuses twice (as a loaded dockerd does), then removes; inspect finds it until then.
    const fake = (refusals: number) =>
      fs.writeFileSync(
        path.join(bin, "docker"),
        `#!/bin/sh\nprintf '%s\\n' "$*" >> ${calls}\nn=$(cat ${count} 2>/dev/null || echo 0)\n` +
          `if [ "$1" = rm ]; then n=$((n+1)); echo $n > ${count}; [ $n -gt ${refusals} ] && exit 0; echo 'Error response from daemon: tried to kill container, but did not receive an exit event' >&2; exit 1; fi\n` +
          `[ $n -gt ${refusals} ] && exit 1; exit 0\n`,
        { mode: 0o755 },
      );
    try {
      fake(2);
      fs.writeFileSync(calls, "");
      const ok = lib('sleep() { :; }; remove_container "$1"', "ryx-pg-scratch-1");
      expect(ok.status, ok.stderr).toBe(0);
      expect(fs.readFileSync(calls, "utf8").split("\n").filter((l) => l.startsWith("rm "))).toEqual(Array(3).fill("rm --force --volumes ryx-pg-scratch-1"));
      fs.rmSync(count);
      fake(99);
      const kept = lib('sleep() { :; }; remove_container "$1"', "ryx-pg-scratch-2");
      expect(kept.status).toBe(1);
      expect(kept.stderr).toBe("railyard: the container ryx-pg-scratch-2 was not removed: Error response from daemon: tried to kill container, but did not receive an exit event\n");
      expect(fs.readFileSync(count, "utf8").trim()).toBe("5");
    } finally {
      fs.rmSync(count, { force: true });
      fs.writeFileSync(path.join(bin, "docker"), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${calls}\nexit 1\n`, { mode: 0o755 });
    }
  });
});

describe("host scripts sourced for their functions", () => {
  const sourced = (script: string, code: string) =>
    spawnSync("bash", ["-c", `source ${JSON.stringify(path.join(HOST, script))}; ${code}`], { encoding: "utf8", env });

  it.each(Object.keys(valid) as Script[])("sourcing %s runs nothing and defines main", (script) => {
    const r = sourced(script, "declare -F main parse_args >/dev/null && echo defined");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe("defined\n");
    expect(recorded()).toBe("");
  });

  it("the gate keys a task template the same for the service's template (Swarm's defaults filled in) and its tasks' view of it", () => {
    // TEMPLATE's fields (container spec | resources | restart policy | logging | networks | forced updates) as
    // `docker service inspect` prints a template stored without a grace period, DNS config, resources or restart
    // policy, and as a task of it prints the same template.
    const line = (container: string, resources = "", restart = "", logging = "", networks = "") => [container, resources, restart, logging, networks, "0"].join("|");
    const service = line('{"Image":"a:v1","Init":false,"StopGracePeriod":10000000000,"Healthcheck":{"Test":["CMD","true"]},"DNSConfig":{}}', "{}", '{"Condition":"any","Delay":5000000000,"MaxAttempts":0}');
    const container = '{"Image":"a:v1","Init":false,"Healthcheck":{"Test":["CMD","true"]}}';
    const task = line(container);
    const key = (text: string) => sourced("railyard-gate.sh", `template_key <<<${JSON.stringify(text)}`).stdout.trim();
    expect(key(service)).toMatch(/^[0-9a-f]{12}$/);
    expect(key(task)).toBe(key(service));
    // A restart policy stored without its delay is printed with Swarm's 5 s for the service only.
    expect(key(line(container, "", '{"Condition":"on-failure","MaxAttempts":3}'))).toBe(key(line(container, "", '{"Condition":"on-failure","Delay":5000000000,"MaxAttempts":3}')));
    // Resources, health check, restart policy, logging, networks, grace period: any change is another release.
    const changed = [
      line(container, '{"Limits":{"MemoryBytes":6291456}}'),
      line(container.replace('"CMD","true"', '"CMD","false"')),
      line(container, "", '{"Condition":"on-failure","MaxAttempts":0}'),
      line(container, "", "", '{"Name":"json-file","Options":{"max-size":"1m"}}'),
      line(container, "", "", "", '[{"Target":"n1"}]'),
      line(container.replace('"Init":false', '"Init":false,"StopGracePeriod":30000000000')),
    ];
    expect(new Set([key(task), ...changed.map(key)]).size).toBe(changed.length + 1);
  });

  it("the gate tells tasks the engine lost from the release's failures", () => {
    const lost = (state: string, err: string) => sourced("railyard-gate.sh", `engine_lost ${JSON.stringify(state)} ${JSON.stringify(err)}`).status;
    expect(lost("failed", "No such container: ryg-api.1.abc")).toBe(0);
    expect(lost("orphaned", "-")).toBe(0);
    expect(lost("failed", "task: non-zero exit (1)")).toBe(1);
    expect(lost("rejected", "No such image: app:v9")).toBe(1);
    const bad = (state: string, desired: string) => sourced("railyard-gate.sh", `ended_badly ${state} ${desired}`).status;
    expect([bad("failed", "shutdown"), bad("rejected", "shutdown"), bad("complete", "shutdown"), bad("shutdown", "running")]).toEqual([0, 0, 0, 0]);
    expect([bad("shutdown", "shutdown"), bad("running", "running"), bad("starting", "running")]).toEqual([1, 1, 1]);
  });

  it("the gate's body check and the library's image check do not shadow each other", () => {
    expect(sourced("railyard-gate.sh", `body_ok '{"status":"ok","db":"up"}'`).status).toBe(0);
    expect(sourced("railyard-gate.sh", `body_ok '{"status":"ok","db":"down"}'`).status).toBe(1);
    expect(sourced("railyard-gate.sh", "is_image UPPER").status).toBe(1);
    expect(sourced("railyard-gate.sh", "image=app:v1; runs_image app:v1@sha256:abc && ! runs_image app:v2").status).toBe(0);
  });
});

describe("the bootstrap fed on stdin after the library (bash -s, as over SSH)", () => {
  it("prints its help", () => {
    const r = run("railyard-bootstrap.sh", ["--help"], bootstrapStdin());
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("Usage: railyard-bootstrap.sh");
  });

  it("refuses a bad option with exit 2 and calls nothing", () => {
    const r = run("railyard-bootstrap.sh", withOption("railyard-bootstrap.sh", "--advertise-addr", "300.0.0.1"), bootstrapStdin());
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("railyard-bootstrap: --advertise-addr must be an IPv4 or IPv6 address, got 300.0.0.1");
    expect(recorded()).toBe("");
  });

  it("runs its main with valid options (exit 11: the fake engine does not answer)", () => {
    const r = run("railyard-bootstrap.sh", [...valid["railyard-bootstrap.sh"]], bootstrapStdin());
    expect(r.status, r.stderr).toBe(11);
    expect(recorded()).toContain("info");
  });
});

/**
 * railyard-migrate against a scripted `docker` (the engine's answers are set per test; every call is recorded):
 * a pause is one update that scales to 0 and records the count as labels, a restore one update that removes them;
 * paused services and leftover jobs of another stack are refused before anything changes, and a paused service
 * that cannot be scaled back makes the run fail loudly (34) even when the job completed.
 */
describe("railyard-migrate's stack labels and restores", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-scripted-"));
  const log = path.join(dir, "calls");
  const paused = path.join(dir, "paused");
  fs.writeFileSync(
    path.join(dir, "docker"),
    `#!/bin/bash
printf '%s\\n' "$*" >> ${log}
last=\${@: -1}
case "$1 $2" in
  "service inspect")
    case "$last" in
      ryt-worker) echo "ryt-worker|wid|2|$WORKER_PAUSED_BY|$WORKER_RECORDED|$WORKER_STACK" ;;
      ryt-api-migrate) [ -n "$JOB_STACK" ] && echo "ryt-api-migrate|jid migration $JOB_STACK" || exit 1 ;;
      wid) echo 120000000000 ;;
      *) exit 1 ;;
    esac ;;
  "service update")
    if [[ "$*" == *"--replicas 0 "* ]]; then touch ${paused}; exit 0; fi
    [ -z "$RESTORE_FAILS" ] || { echo "update out of sequence" >&2; exit 1; }
    rm -f ${paused} ;;
  "service create") echo newjob ;;
  "service ps") if [ "$last" = wid ]; then [ -e ${paused} ] || printf 'Running 1 second ago\\n%.0s' 1 2 3; else echo "Complete 1 second ago"; fi ;;
  *) exit 0 ;;
esac
`,
    { mode: 0o755 },
  );
  const migrate = (extra: NodeJS.ProcessEnv) => {
    fs.rmSync(log, { force: true });
    fs.rmSync(paused, { force: true });
    const args = ["--job", "ryt-api-migrate", "--timeout", "30", "--stack", "ryt", "--state-dir", path.join(dir, "state"), "--pause", "ryt-worker", "--", "img:v1", "true"];
    const r = spawnSync("bash", [path.join(HOST, "railyard-migrate.sh"), ...args], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, WORKER_STACK: "ryt", WORKER_PAUSED_BY: "", WORKER_RECORDED: "", JOB_STACK: "", RESTORE_FAILS: "", ...extra },
    });
    return { ...r, calls: fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "" };
  };

  it("pauses its own stack's worker recording its count, runs the job under Swarm's init and restores the worker", () => {
    const r = migrate({});
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls).toContain("service update --detach --replicas 0 --label-add railyard.paused-by=ryt-api-migrate --label-add railyard.paused-replicas=2 wid");
    expect(r.calls).toContain("service create --detach --quiet --name ryt-api-migrate --label railyard.job=migration --label railyard.stack=ryt --mode replicated-job --restart-condition none --init img:v1 true");
    expect(r.calls).toContain("service update --detach --replicas 2 --label-rm railyard.paused-by --label-rm railyard.paused-replicas wid");
    expect(r.calls).not.toContain("service scale");
    expect(r.stderr).toContain("ryt-worker back to 2 replicas");
  });

  it("keeps the recorded count of a service an earlier run of the same job left paused (never restores it to 0)", () => {
    const r = migrate({ WORKER_PAUSED_BY: "ryt-api-migrate", WORKER_RECORDED: "3" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("ryt-worker is still paused by an earlier run of ryt-api-migrate (recorded: 3 replicas)");
    expect(r.calls).toContain("--label-add railyard.paused-replicas=3 wid");
    expect(r.calls).toContain("service update --detach --replicas 3 --label-rm");
  });

  it("refuses a paused-replicas label that is not a count (exit 2, nothing scaled)", () => {
    const r = migrate({ WORKER_PAUSED_BY: "ryt-api-migrate", WORKER_RECORDED: "x" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--pause ryt-worker: its label railyard.paused-replicas is x, not a count");
    expect(r.calls).not.toMatch(/service (update|create|rm)/);
  });

  it("refuses to pause another stack's service that happens to have the name (exit 2, nothing scaled)", () => {
    const r = migrate({ WORKER_STACK: "ryt-other" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--pause ryt-worker: the service belongs to stack ryt-other, not ryt");
    expect(r.calls).not.toMatch(/service (update|create|rm)/);
  });

  it("leaves another stack's migration job of the same name alone (exit 33, nothing removed)", () => {
    const r = migrate({ JOB_STACK: "ryt-x" });
    expect(r.status).toBe(33);
    expect(r.calls).not.toMatch(/service (update|create|rm)/);
  });

  it("fails with 34 and says how to restore when a paused service cannot be scaled back, though the job completed", () => {
    const r = migrate({ RESTORE_FAILS: "1" });
    expect(r.status).toBe(34);
    expect(r.stderr).toContain("NOT restored: ryt-worker=2; restore by hand: docker service scale ryt-worker=2");
    expect(r.calls.match(/service update --detach --replicas 2 /g)?.length).toBeGreaterThanOrEqual(3);
  });
});

/**
 * railyard-gate --settle against a scripted `docker`: Swarm's UpdateStatus answers in turn from STATES (the last
 * one repeats), its tasks from TASKS. Success needs the update completed (or none) with every replica running;
 * a rollback (with the reason Swarm gave while it rolled back), a pause and the time budget fail with their
 * codes, the failed tasks' logs or Swarm's own error, and the script never changes the service.
 */
describe("railyard-gate --settle", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-settle-"));
  const log = path.join(dir, "calls");
  // The service's task template as the gate reads it (Swarm's defaults filled in), and a task's view of it.
  const template = '{"Image":"railyard-test/edge:v1","Args":["caddy"],"StopGracePeriod":10000000000}|{}|{"Condition":"any","Delay":5000000000,"MaxAttempts":0}|||0';
  const taskSpec = '{"Image":"railyard-test/edge:v1","Args":["caddy"]}|||||0';
  fs.writeFileSync(
    path.join(dir, "docker"),
    `#!/bin/bash
printf '%s\\n' "$*" >> ${log}
case "$*" in
  version*) echo 20.10.24 ;;
  *railyard.stack*) echo "ryt-edge|sid ryt" ;;
  *StartedAt.Unix*) echo 1000 ;;
  *UpdateStatus.State*)
    n=$(cat ${dir}/n 2>/dev/null || echo 0); echo $((n + 1)) > ${dir}/n
    IFS=';' read -ra states <<<"$STATES"
    [ "\${#states[@]}" -eq 0 ] || echo "\${states[n < \${#states[@]} ? n : \${#states[@]} - 1]}" ;;
  *Replicated.Replicas*) echo 2 ;;
  *"with .TaskTemplate"*) echo '${template}' ;;
  "service ps -q --no-trunc sid") for t in $TASKS; do echo "\${t%%:*}"; done ;;
  "inspect --format {{.ID}}"*)
    for t in $TASKS; do IFS=: read -r id state desired created <<<"$t"; printf '%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "$id" "$state" "$desired" "$created" railyard-test/edge:v1 "task: non-zero exit (1)" '${taskSpec}'; done ;;
  "inspect --format {{.Status.State}}|"*) echo "failed|1|c-$4|task: non-zero exit (1)" ;;
  "inspect --format {{.State.OOMKilled}}|"*) echo "false|1|" ;;
  "service logs --raw --tail 50 t4") echo "caddy: the second task fails now" ;;
  "service logs"*) ;;
  *) exit 1 ;;
esac
`,
    { mode: 0o755 },
  );
  const settle = (states: string, tasks: string, timeout = "5") => {
    fs.rmSync(log, { force: true });
    fs.rmSync(path.join(dir, "n"), { force: true });
    const r = spawnSync("bash", [path.join(HOST, "railyard-gate.sh"), "--settle", "--service", "ryt-edge", "--timeout", timeout], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, STATES: states, TASKS: tasks },
    });
    const calls = fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "";
    // Never rolls back, updates or scales anything itself.
    expect(calls).not.toMatch(/service (rollback|update|scale|rm)/);
    return r;
  };
  const RUNNING = "t1:running:running:1001 t2:running:running:1002";
  const FAILED = "t3:failed:shutdown:1003 t4:failed:shutdown:1004 t0:failed:shutdown:999";

  it("passes once Swarm completed the update and every replica runs the current spec", () => {
    const r = settle("updating|update in progress;updating|update in progress;completed|update completed", RUNNING);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("ryt-edge: completed; 2 task(s) run the current spec");
  });

  it("passes a service with no update (a first deploy) once every replica runs", () => {
    expect(settle("", RUNNING).status).toBe(0);
    const starting = settle("", "t1:running:running:1001 t2:starting:running:1002", "1");
    expect(starting.status).toBe(46);
    expect(starting.stderr).toContain("not settled within 1 s (Swarm's update: none; 1 of 2 replica(s) run the current spec)");
  });

  it("fails with 44 when Swarm rolled back, with the reason it gave while rolling back and each failed task's logs or error", () => {
    const reason = "update rolled back due to failure or early termination of task t4";
    const r = settle(`updating|update in progress;rollback_started|${reason};rollback_completed|rollback completed`, `${RUNNING} ${FAILED}`);
    expect(r.status, r.stderr).toBe(44);
    expect(r.stderr).toContain("railyard-gate: task t4: crash (exit 1); its last 50 log lines:\ncaddy: the second task fails now\n");
    expect(r.stderr).toContain("railyard-gate: task t3: crash (exit 1); it left no log lines\n");
    expect(r.stderr, "a task older than the update is not shown").not.toContain("t0");
    expect(r.stderr).toMatch(new RegExp(`railyard-gate: ryt-edge: Swarm rolled the update back \\(${reason}\\); the previous release runs again on 2 task\\(s\\)`));
    // Run again later (the rollback long done): still 44.
    expect(settle("rollback_completed|rollback completed", RUNNING).status).toBe(44);
  });

  it("fails with 45 when Swarm paused the update or its rollback", () => {
    const paused = settle("paused|update paused due to failure or early termination of task t4", `${RUNNING} ${FAILED}`);
    expect(paused.status).toBe(45);
    expect(paused.stderr).toContain("Swarm paused the update: update paused due to failure or early termination of task t4");
    expect(paused.stderr).toContain("caddy: the second task fails now");
    expect(settle("rollback_paused|rollback paused", RUNNING).status).toBe(45);
  });

  it("fails with 46 when Swarm is still updating at the end of the budget, and with 44 when it is still rolling back", () => {
    const updating = settle("updating|update in progress", RUNNING, "1");
    expect(updating.status).toBe(46);
    expect(updating.stderr).toContain("not settled within 1 s (Swarm's update: updating; 2 of 2 replica(s) run the current spec)");
    const rolling = settle("rollback_started|update rolled back due to failure", "t1:running:running:1001 t2:starting:running:1002", "1");
    expect(rolling.status).toBe(44);
    expect(rolling.stderr).toContain("Swarm is rolling the update back (update rolled back due to failure); after 1 s the previous release runs on 1 of 2 task(s)");
  });
});
