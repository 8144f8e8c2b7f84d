/**
 * railyard-node.sh, railyard-nodes.sh and the bootstrap's node options, run for real by bash with a fake `docker`
 * (and `curl`) first on PATH that answers from environment variables and records every call. Bad options exit 2
 * naming the option and call nothing; the join reads its token from stdin after the script (fed as over SSH) and
 * the token reaches the engine on curl's stdin only, never an argument; the port checks run against real
 * sockets on loopback. A second engine is not started here (the multi-node bed does that).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { bootstrapStdin, scriptStdin } from "../components/host";
import { ROOT } from "./harness";

const HOST = path.join(ROOT, "host");
const bin = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-nodes-fakebin-"));
const calls = path.join(bin, "calls");
const curlIn = path.join(bin, "curl-stdin");
const TOKEN = "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx";
const NODE_ID = "7n0drs5ah7yq4hx1b2ghu3q5v";

// docker: `docker info` answers unless FAKE_ENGINE=down; each --format asks one of the FAKE_* values.
fs.writeFileSync(
  path.join(bin, "docker"),
  `#!/bin/bash
printf '%s\\n' "$*" >> ${calls}
[ "\${FAKE_ENGINE:-up}" = up ] || exit 1
case "$*" in
  "network ls --filter label=railyard.stack "*) printf '%s\\n' \${FAKE_STACKS:-} ;;
  "service ls -q --filter label=railyard.stack="*) printf '%s\\n' \${FAKE_DB_IDS:-} ;;
  *"join .Spec.TaskTemplate.Placement.Constraints"*) echo "\${FAKE_DB_SPEC:-}" ;;
  'node inspect --format {{index .Spec.Labels "railyard.node"}} '*) echo "\${FAKE_NODE_LABEL:-}" ;;
  "node update --availability drain "*) ;;
  "info") exit 0 ;;
  *Swarm.LocalNodeState*) echo "\${FAKE_STATE:-inactive}" ;;
  *Swarm.RemoteManagers*) echo "\${FAKE_MANAGERS:-}" ;;
  *Swarm.ControlAvailable*) echo "\${FAKE_CONTROL:-false}" ;;
  *Swarm.NodeID*) echo "${NODE_ID}" ;;
  *Swarm.Nodes*) echo "\${FAKE_NODES:-1}" ;;
  "service inspect "*) [ -n "\${FAKE_SERVICE:-}" ] || exit 1; printf '%s|%s\\n' "$FAKE_SERVICE" "\${FAKE_CONSTRAINT:-}"; [ -z "\${FAKE_CONSTRAINT2:-}" ] || echo "$FAKE_CONSTRAINT2" ;;
  *"{{.Status.State}}"*) printf '%s\\n' "$FAKE_LS" ;;
  "node inspect --format {{.ID}} "*) [ "\${FAKE_NODE:-yes}" = yes ] || exit 1; echo "$5" ;;
  *'.Spec.Labels "railyard.data"'*) echo "\${FAKE_DATA_LABEL:-}" ;;
  *'.Spec.Labels "railyard.'*) echo "" ;;
  *Spec.Role*) echo "\${FAKE_ROLE:-worker}" ;;
  "node ps "*) [ -z "\${FAKE_TASKS:-}" ] || printf '%s Running 2 minutes ago\\n' $FAKE_TASKS ;;
  "node ls -q") [ -z "\${FAKE_LS:-}" ] || printf '%s\\n' "$FAKE_LS" | cut -d' ' -f1 ;;
  "network ls "*) [ -z "\${FAKE_NETWORK:-}" ] || echo ryt-net ;;
  *"{{.Driver}} {{.Attachable}}"*) echo "overlay true" ;;
  *'"railyard.stack"'*) echo ryt ;;
  *"range \\$k"*) echo "\${FAKE_NETWORK_OPTS:-}" ;;
  "node promote "*|"node demote "*) [ -z "\${FAKE_REFUSE:-}" ] || { echo "$FAKE_REFUSE" >&2; exit 1; } ;;
esac
exit 0
`,
  { mode: 0o755 },
);
// curl: records its arguments and stdin; answers FAKE_HTTP (200 by default) as curl -w '\\n%{http_code}' would.
fs.writeFileSync(
  path.join(bin, "curl"),
  `#!/bin/bash\nprintf 'curl %s\\n' "$*" >> ${calls}\ncat > ${curlIn}\nprintf '%s\\n%s' "\${FAKE_BODY:-}" "\${FAKE_HTTP:-200}"\n`,
  { mode: 0o755 },
);
// ss: 2377/tcp listens (FAKE_SS_TCP names another port), 7946/udp too, so the bootstrap's port check never reads
// this machine's own sockets (a CI machine runs no swarm while the unit tests run).
fs.writeFileSync(
  path.join(bin, "ss"),
  `#!/bin/bash\ncase "$*" in -Hltn) echo "LISTEN 0 4096 *:\${FAKE_SS_TCP:-2377} *:*" ;; *) echo "UNCONN 0 0 *:7946 *:*" ;; esac\n`,
  { mode: 0o755 },
);
const recorded = () => (fs.existsSync(calls) ? fs.readFileSync(calls, "utf8") : "");
beforeEach(() => {
  fs.rmSync(calls, { force: true });
  fs.rmSync(curlIn, { force: true });
});

type Env = Record<string, string>;
const run = (script: string, args: string[], opts: { input?: string; env?: Env; stdinFed?: boolean } = {}) =>
  spawnSync("bash", opts.stdinFed ? ["-s", "--", ...args] : [path.join(HOST, script), ...args], {
    encoding: "utf8",
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, ...opts.env },
    input: opts.stdinFed ? `${scriptStdin(script)}${opts.input ?? ""}` : (opts.input ?? ""),
    timeout: 30_000,
  });

const ESC = "\x1b[2J";
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f]/;

describe("bad options exit 2 naming the option, and call nothing", () => {
  const join = ["join", "--name", "worker-1", "--manager", "127.0.0.1:2377"];
  const apply = ["apply", "--name", "worker-1", "--id", NODE_ID, "--labels", "app", "--role", "worker", "--availability", "active"];
  const cases: [string, string, string[]][] = [
    ["railyard-node.sh", "unknown argument", ["dance"]],
    ["railyard-node.sh", "an action is needed", []],
    ["railyard-node.sh", "--name", ["join", "--name", "Worker", "--manager", "127.0.0.1"]],
    ["railyard-node.sh", "--name", ["join", "--name", "w".repeat(31), "--manager", "127.0.0.1"]],
    ["railyard-node.sh", "--name", ["leave", "--name", `w${ESC}`]],
    ["railyard-node.sh", "--manager", ["join", "--name", "w", "--manager", "127.0.0.1:99999"]],
    ["railyard-node.sh", "--manager", ["join", "--name", "w", "--manager", "256.0.0.1"]],
    ["railyard-node.sh", "--manager", ["join", "--name", "w", "--manager", "host;reboot"]],
    ["railyard-node.sh", "--manager", ["join", "--name", "w"]],
    ["railyard-node.sh", "--advertise-addr", [...join, "--advertise-addr", "eth0"]],
    ["railyard-node.sh", "--advertise-addr is for join only", ["leave", "--name", "w", "--advertise-addr", "10.0.0.2"]],
    ["railyard-node.sh", "--timeout", [...join, "--timeout", "0"]],
    ["railyard-node.sh", "--timeout", [...join, "--timeout", "301"]],
    ["railyard-node.sh", "unknown argument", [...join, "--token", TOKEN]],
    ["railyard-nodes.sh", "an action is needed", []],
    ["railyard-nodes.sh", "--name", ["forget", "--name", "w_1"]],
    ["railyard-nodes.sh", "--id", ["retire", "--name", "w", "--id", "abc"]],
    ["railyard-nodes.sh", "--id", ["retire", "--name", "w", "--id", `${NODE_ID}${ESC}`]],
    ["railyard-nodes.sh", "--id is not for forget", ["forget", "--name", "w", "--id", NODE_ID]],
    ["railyard-nodes.sh", "--labels", apply.map((a) => (a === "app" ? "app,app" : a))],
    ["railyard-nodes.sh", "--labels", apply.map((a) => (a === "app" ? "gpu" : a))],
    ["railyard-nodes.sh", "--labels", apply.map((a) => (a === "app" ? "" : a))],
    ["railyard-nodes.sh", "--role", apply.map((a) => (a === "worker" ? "leader" : a))],
    ["railyard-nodes.sh", "--availability", apply.map((a) => (a === "active" ? "pause" : a))],
    ["railyard-nodes.sh", "--timeout", [...apply, "--timeout", "86401"]],
    ["railyard-nodes.sh", "--labels, --role and --availability are for apply only", ["retire", "--name", "w", "--id", NODE_ID, "--role", "worker"]],
    ["railyard-nodes.sh", "--service", ["database-node", "--service", "Ryt-pg", "--node", "host"]],
    ["railyard-nodes.sh", "--node", ["database-node", "--service", "ryt-pg", "--node", "db_1"]],
    ["railyard-nodes.sh", "--move-from", ["database-node", "--service", "ryt-pg", "--node", "db-1", "--move-from", "db-1"]],
    ["railyard-nodes.sh", "database-node takes --service, --node and --move-from only", ["database-node", "--service", "ryt-pg", "--node", "host", "--name", "w"]],
    ["railyard-nodes.sh", "--service, --node and --move-from are for database-node only", ["forget", "--name", "w", "--node", "host"]],
    ["railyard-bootstrap.sh", "--node-labels", ["--stack", "ryt", "--network", "ryt-net", "--data-dir", "/tmp/x", "--node-labels", "data,gpu"]],
    ["railyard-bootstrap.sh", "--node-labels", ["--stack", "ryt", "--network", "ryt-net", "--data-dir", "/tmp/x", "--node-labels", "edge,edge"]],
  ];
  it.each(cases)("%s: %s in %j", (script, named, args) => {
    const r = run(script, args);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(named);
    expect(r.stderr).not.toMatch(RAW_CONTROL);
    expect(recorded()).toBe("");
  });

  it.each(["railyard-node.sh", "railyard-nodes.sh"])("%s --help lists every exit code, also fed on stdin", (script) => {
    for (const r of [run(script, ["--help"]), run(script, ["--help"], { stdinFed: true })]) {
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(`Usage: ${script}`);
      expect(r.stdout).toMatch(/Exit codes:\n {2}0 /);
    }
  });
});

describe("railyard-node.sh join", () => {
  let server: net.Server;
  let gossip: net.Server | undefined;
  let port = 0;
  beforeAll(async () => {
    server = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as net.AddressInfo).port;
    // 7946 on loopback: listened here unless this machine's own swarm engine already does (then it answers too).
    gossip = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => {
      gossip?.once("error", () => {
        gossip = undefined;
        resolve();
      });
      gossip?.listen(7946, "127.0.0.1", resolve);
    });
  });
  afterAll(() => {
    server.close();
    gossip?.close();
  });
  const join = () => ["join", "--name", "worker-1", "--manager", `127.0.0.1:${port}`, "--advertise-addr", "10.0.0.11"];

  it("fed on stdin as over SSH: reads the token after the script, posts it on curl's stdin, prints the node ID only", () => {
    const r = run("railyard-node.sh", join(), { stdinFed: true, input: `${TOKEN}\n` });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${NODE_ID}\n`);
    expect(r.stderr).toContain(`127.0.0.1:${port}/tcp and 127.0.0.1:7946/tcp answer (7946/udp and 4789/udp cannot be probed`);
    expect(r.stderr).toContain(`railyard-node: worker-1 joined the swarm of 127.0.0.1:${port}`);
    expect(JSON.parse(fs.readFileSync(curlIn, "utf8"))).toEqual({
      ListenAddr: "0.0.0.0:2377",
      RemoteAddrs: [`127.0.0.1:${port}`],
      JoinToken: TOKEN,
      AdvertiseAddr: "10.0.0.11",
    });
    expect(recorded()).toContain("curl --silent --show-error --max-time 120 -X POST -H Content-Type: application/json --data-binary @- -w \\n%{http_code} --unix-socket /var/run/docker.sock http://localhost/swarm/join");
    expect(recorded()).not.toContain("SWMTKN");
    expect(r.stdout + r.stderr).not.toContain("SWMTKN");
  });

  it("posts to DOCKER_HOST tcp:// when set, and says what the engine answered when it refuses (exit 22)", () => {
    const r = run("railyard-node.sh", join(), { input: `${TOKEN}\n`, env: { DOCKER_HOST: "tcp://10.9.0.2:2375", FAKE_HTTP: "503", FAKE_BODY: '{"message":"rpc error: timeout"}' } });
    expect(r.status, r.stderr).toBe(22);
    expect(recorded()).toContain("http://10.9.0.2:2375/swarm/join");
    expect(r.stderr).toContain("the engine refused the join");
    expect(r.stderr).toContain("rpc error: timeout");
    expect(r.stderr).not.toContain("SWMTKN");
  });

  it("refuses without a token (exit 3), and never shows a malformed one", () => {
    expect(run("railyard-node.sh", join(), { stdinFed: true, input: "" }).status).toBe(3);
    const r = run("railyard-node.sh", join(), { stdinFed: true, input: "SWMTKN-1-short-oops\n" });
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("is not a swarm join token (SWMTKN-1-…); it is not shown");
    expect(r.stderr).not.toContain("oops");
    expect(recorded()).toBe("");
  });

  it("a member of the manager's swarm already: prints its ID, joins nothing", () => {
    const r = run("railyard-node.sh", join(), { input: `${TOKEN}\n`, env: { FAKE_STATE: "active", FAKE_MANAGERS: `10.0.0.5:2377 127.0.0.1:${port} ` } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${NODE_ID}\n`);
    expect(recorded()).not.toContain("curl");
  });

  it("a node in another swarm is refused (exit 13), never forced", () => {
    const r = run("railyard-node.sh", join(), { input: `${TOKEN}\n`, env: { FAKE_STATE: "active", FAKE_MANAGERS: "10.0.0.5:2377" } });
    expect(r.status).toBe(13);
    expect(r.stderr).toContain("this node is in another swarm (its managers: 10.0.0.5:2377)");
    expect(recorded()).not.toMatch(/leave|curl/);
  });

  it("a locked swarm is exit 15; no engine is exit 11", () => {
    expect(run("railyard-node.sh", join(), { input: `${TOKEN}\n`, env: { FAKE_STATE: "locked" } }).status).toBe(15);
    expect(run("railyard-node.sh", join(), { input: `${TOKEN}\n`, env: { FAKE_ENGINE: "down" } }).status).toBe(11);
  });

  it("names the manager's port that does not answer (exit 20) before joining", async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const free = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const r = run("railyard-node.sh", ["join", "--name", "w", "--manager", `127.0.0.1:${free}`, "--timeout", "2"], { input: `${TOKEN}\n` });
    expect(r.status, r.stderr).toBe(20);
    expect(r.stderr).toContain(`the manager's swarm port 127.0.0.1:${free}/tcp does not answer from this node`);
    expect(recorded()).not.toContain("curl");
  });

  it("ports alone checks both TCP ports and says the UDP ones cannot be probed", () => {
    const r = run("railyard-node.sh", ["ports", "--manager", `127.0.0.1:${port}`]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("7946/udp and 4789/udp cannot be probed");
  });
});

describe("railyard-node.sh leave", () => {
  it("leaves a worker's swarm; nothing when not in one; refuses a manager (exit 14)", () => {
    let r = run("railyard-node.sh", ["leave", "--name", "w"], { stdinFed: true, input: `${TOKEN}\n`, env: { FAKE_STATE: "active" } });
    expect(r.status, r.stderr).toBe(0);
    expect(recorded()).toContain("swarm leave\n");
    expect(r.stderr).not.toContain("SWMTKN");
    r = run("railyard-node.sh", ["leave", "--name", "w"], { env: { FAKE_STATE: "inactive" } });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain("not in a swarm; nothing to leave");
    fs.rmSync(calls);
    r = run("railyard-node.sh", ["leave", "--name", "w"], { env: { FAKE_STATE: "active", FAKE_CONTROL: "true" } });
    expect(r.status).toBe(14);
    expect(recorded()).not.toContain("swarm leave");
  });
});

describe("railyard-nodes.sh on the main host", () => {
  const manager = { FAKE_CONTROL: "true" };
  const apply = (labels: string, role: string, availability: string) =>
    ["apply", "--name", "worker-1", "--id", NODE_ID, "--labels", labels, "--role", role, "--availability", availability, "--timeout", "2"];

  it("apply labels the node (removing labels it no longer has), promotes it, sets it active", () => {
    const r = run("railyard-nodes.sh", apply("app,edge", "manager", "active"), { env: { ...manager, FAKE_DATA_LABEL: "true" } });
    expect(r.status, r.stderr).toBe(0);
    const lines = recorded().split("\n");
    expect(lines).toContain(`node update --label-add railyard.node=worker-1 --label-rm railyard.data --label-add railyard.edge=true --label-add railyard.app=true ${NODE_ID}`);
    expect(lines).toContain(`node promote ${NODE_ID}`);
    expect(lines).toContain(`node update --availability active ${NODE_ID}`);
  });

  it("apply disowns the machine the name had before: removed when down; unlabelled, drained and demoted when up", () => {
    const old = "0ldmachine0000000000000aa";
    const down = run("railyard-nodes.sh", apply("app", "worker", "active"), { env: { ...manager, FAKE_LS: `${old} worker-1 down\n${NODE_ID} worker-1 ready` } });
    expect(down.status, down.stderr).toBe(0);
    expect(recorded()).toContain(`node rm --force ${old}\n`);
    expect(recorded()).not.toContain(`node rm ${NODE_ID}`);
    fs.rmSync(calls);
    const up = run("railyard-nodes.sh", apply("app", "worker", "active"), { env: { ...manager, FAKE_ROLE: "manager", FAKE_DATA_LABEL: "true", FAKE_LS: `${old} worker-1 ready` } });
    expect(up.status, up.stderr).toBe(0);
    const lines = recorded().split("\n");
    expect(lines).toContain(`node update --label-rm railyard.node --label-rm railyard.data ${old}`);
    expect(lines).toContain(`node update --availability drain ${old}`);
    expect(lines).toContain(`node demote ${old}`);
    expect(lines).not.toContain(`node rm ${old}`);
    expect(up.stderr).toContain(`warning: worker-1's previous machine (${old}) is still in the swarm, drained and unlabelled`);
  });

  it("apply with drain waits for the node's tasks and fails listing them when they stay (exit 31)", () => {
    const r = run("railyard-nodes.sh", apply("app", "worker", "drain"), { env: { ...manager, FAKE_TASKS: "ryt-api.1.abc ryt-api.2.def" } });
    expect(r.status, r.stderr).toBe(31);
    expect(r.stderr).toContain("tasks still run on worker-1 after 2s of drain: ryt-api.1.abc ryt-api.2.def;");
    expect(recorded()).toContain(`node update --availability drain ${NODE_ID}`);
    const ok = run("railyard-nodes.sh", apply("app", "worker", "drain"), { env: manager });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).toContain("worker-1 is drained (no task runs there)");
  });

  it("refuses off a manager (exit 12), an unknown node (exit 30), a refused promotion (exit 32)", () => {
    expect(run("railyard-nodes.sh", apply("app", "worker", "active")).status).toBe(12);
    expect(run("railyard-nodes.sh", apply("app", "worker", "active"), { env: { ...manager, FAKE_NODE: "no" } }).status).toBe(30);
    const r = run("railyard-nodes.sh", apply("app", "manager", "active"), { env: { ...manager, FAKE_REFUSE: "Error: cannot promote" } });
    expect(r.status).toBe(32);
    expect(r.stderr).toContain("promoting worker-1 refused");
  });

  it("retire drains and demotes a manager; a node already gone is fine", () => {
    const r = run("railyard-nodes.sh", ["retire", "--name", "worker-1", "--id", NODE_ID], { env: { ...manager, FAKE_ROLE: "manager" } });
    expect(r.status, r.stderr).toBe(0);
    expect(recorded()).toContain(`node update --availability drain ${NODE_ID}\n`);
    expect(recorded()).toContain(`node demote ${NODE_ID}\n`);
    const gone = run("railyard-nodes.sh", ["retire", "--name", "worker-1", "--id", NODE_ID], { env: { ...manager, FAKE_NODE: "no" } });
    expect(gone.status).toBe(0);
    expect(gone.stderr).toContain("already gone");
  });

  it("a machine known under another name is neither relabelled (apply: 35) nor drained (retire): a renamed key cannot make it leave", () => {
    const r = run("railyard-nodes.sh", apply("app", "worker", "active"), { env: { ...manager, FAKE_NODE_LABEL: "app-1" } });
    expect(r.status).toBe(35);
    expect(r.stderr).toContain(`this machine (${NODE_ID}) is node app-1 of the stack, not worker-1: rename a node by removing app-1 from railyard:nodes`);
    expect(recorded()).not.toContain("node update");
    const retire = run("railyard-nodes.sh", ["retire", "--name", "worker-1", "--id", NODE_ID], { env: { ...manager, FAKE_NODE_LABEL: "app-1" } });
    expect(retire.status, retire.stderr).toBe(0);
    expect(retire.stderr).toContain("is app-1 now, not worker-1: left as it is");
    expect(recorded()).not.toContain("--availability drain");
  });

  it("forget removes the named node once it is down, and fails while it is still up (exit 33)", () => {
    const r = run("railyard-nodes.sh", ["forget", "--name", "worker-1"], { env: { ...manager, FAKE_LS: `${NODE_ID} worker-1 down` } });
    expect(r.status, r.stderr).toBe(0);
    expect(recorded()).toContain(`node rm ${NODE_ID}\n`);
    const up = run("railyard-nodes.sh", ["forget", "--name", "worker-1", "--timeout", "1"], { env: { ...manager, FAKE_LS: `${NODE_ID} worker-1 ready` } });
    expect(up.status).toBe(33);
    expect(up.stderr).toContain("is still up after 1s: it did not leave");
    const other = run("railyard-nodes.sh", ["forget", "--name", "worker-1"], { env: { ...manager, FAKE_LS: `${NODE_ID} worker-2 ready` } });
    expect(other.status).toBe(0);
    expect(other.stderr).toContain("nothing to remove");
  });
});

describe("railyard-nodes.sh database-node: a database never starts on an empty volume by accident", () => {
  const manager = { FAKE_CONTROL: "true", FAKE_SERVICE: "ryt-postgres" };
  const check = (node: string, env: Env, moveFrom?: string) =>
    run("railyard-nodes.sh", ["database-node", "--service", "ryt-postgres", "--node", node, ...(moveFrom ? ["--move-from", moveFrom] : [])], { env: { ...manager, ...env } });

  it("passes when the service runs where node says, or does not exist yet", () => {
    expect(check("db-1", { FAKE_CONSTRAINT: "node.labels.railyard.node==db-1" }).status).toBe(0);
    expect(check("host", {}).status).toBe(0);
    const none = check("db-1", { FAKE_SERVICE: "" });
    expect(none.status).toBe(0);
    expect(none.stderr).toContain("no service ryt-postgres yet");
  });

  it("refuses another node (exit 34), a single-node stack's database counting as on host", () => {
    const r = check("db-1", {});
    expect(r.status).toBe(34);
    expect(r.stderr).toContain("ryt-postgres's data is on node host; with node: db-1 it would start on an empty volume there");
    const moved = check("host", { FAKE_CONSTRAINT: "node.labels.railyard.app==true", FAKE_CONSTRAINT2: "node.labels.railyard.node == db-1" });
    expect(moved.status).toBe(34);
    expect(moved.stderr).toContain("data is on node db-1");
  });

  it("lets a declared move through (moveFrom names where the data is)", () => {
    const r = check("db-1", {}, "host");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("moves from host to db-1 (moveFrom: host)");
    expect(check("db-2", {}, "db-1").status).toBe(34);
  });
});

describe("the bootstrap's node options (fed on stdin as over SSH)", () => {
  const args = ["--stack", "ryt", "--network", "ryt-net", "--data-dir", fs.mkdtempSync(path.join(os.tmpdir(), "railyard-nodes-boot-"))];
  const boot = (extra: string[], env: Env) =>
    spawnSync("bash", ["-s", "--", ...args, ...extra], { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, FAKE_STATE: "active", FAKE_CONTROL: "true", ...env }, input: bootstrapStdin() });

  it("labels the main host railyard.node=host and its labels, removing the others", () => {
    const r = boot(["--node-labels", "edge,app"], { FAKE_DATA_LABEL: "true" });
    expect(r.status, r.stderr).toBe(0);
    expect(recorded()).toContain(`node update --label-add railyard.node=host --label-rm railyard.data --label-add railyard.edge=true --label-add railyard.app=true ${NODE_ID}\n`);
  });

  it("refuses a swarm of several nodes without --multi-node (exit 16), accepts it with", () => {
    expect(boot([], { FAKE_NODES: "3" }).status).toBe(16);
    const r = boot(["--multi-node"], { FAKE_NODES: "3" });
    expect(r.status, r.stderr).toBe(0);
  });

  it("with --multi-node refuses a swarm that runs another railyard stack (18): its unplaced databases could land on the nodes", () => {
    const r = boot(["--multi-node"], { FAKE_NODES: "2", FAKE_STACKS: "ryt other ryt" });
    expect(r.status).toBe(18);
    expect(r.stderr).toContain("this swarm also runs railyard stack(s) other:");
    expect(recorded()).not.toContain("node update");
  });

  it("without --multi-node: this stack's own nodes being removed are drained at once; anyone else's nodes are still 16", () => {
    const ours = boot([], { FAKE_NODES: "2", FAKE_LS: `${NODE_ID}\nw1`, FAKE_NODE_LABEL: "app-1" });
    expect(ours.status, ours.stderr).toBe(0);
    expect(recorded()).toContain("node update --availability drain w1\n");
    expect(ours.stderr).toContain("1 node(s) of this stack are no longer in railyard:nodes: drained now");
    fs.rmSync(calls, { force: true });
    expect(boot([], { FAKE_NODES: "2", FAKE_LS: `${NODE_ID}\nw1`, FAKE_NODE_LABEL: "" }).status).toBe(16);
    expect(boot([], { FAKE_NODES: "2", FAKE_LS: `${NODE_ID}\nw1`, FAKE_NODE_LABEL: "app-1", FAKE_STACKS: "other" }).status).toBe(16);
    expect(recorded()).not.toContain("--availability drain");
  });

  it("without --multi-node refuses while a database of the stack is placed on another node (19), naming it", () => {
    const r = boot([], { FAKE_DB_IDS: "d1", FAKE_DB_SPEC: "ryt-postgres node.labels.railyard.node==db-1" });
    expect(r.status).toBe(19);
    expect(r.stderr).toContain("database ryt-postgres is placed on node db-1, where its data is; move it to the main host first");
    expect(boot([], { FAKE_DB_IDS: "d1", FAKE_DB_SPEC: "ryt-postgres node.labels.railyard.node==host" }).status).toBe(0);
    expect(boot([], { FAKE_DB_IDS: "d1", FAKE_DB_SPEC: "ryt-postgres " }).status).toBe(0);
  });

  it("with --multi-node checks the swarm port listens where the engine is on this machine, and says when it is not", () => {
    const ok = boot(["--multi-node"], { FAKE_NODES: "2" });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).toContain("warning: nothing listens on 7946/tcp");
    const closed = boot(["--multi-node"], { FAKE_NODES: "2", FAKE_SS_TCP: "7946" });
    expect(closed.status).toBe(17);
    expect(closed.stderr).toContain("the engine does not listen on 2377/tcp");
    const remote = boot(["--multi-node"], { FAKE_NODES: "2", FAKE_SS_TCP: "7946", DOCKER_HOST: "tcp://10.9.0.2:2375" });
    expect(remote.status, remote.stderr).toBe(0);
    expect(remote.stderr).toContain("not on this machine; its swarm ports were not checked");
  });

  it("creates the network encrypted with --encrypted; an existing one whose encryption differs is exit 13 naming the key", () => {
    expect(boot(["--encrypted"], {}).status).toBe(0);
    expect(recorded()).toContain("network create --driver overlay --attachable --label railyard.stack=ryt --opt encrypted ryt-net\n");
    const differs = boot(["--encrypted"], { FAKE_NETWORK: "yes" });
    expect(differs.status).toBe(13);
    expect(differs.stderr).toContain("network ryt-net is not encrypted, railyard:encryptNetwork says true");
    expect(boot([], { FAKE_NETWORK: "yes", FAKE_NETWORK_OPTS: "encrypted " }).status).toBe(13);
    expect(boot(["--encrypted"], { FAKE_NETWORK: "yes", FAKE_NETWORK_OPTS: "encrypted " }).status).toBe(0);
  });
});
