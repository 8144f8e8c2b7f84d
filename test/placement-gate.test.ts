/**
 * The health gate across nodes (host/railyard-gate.sh sourced for its functions, against a scripted `docker`):
 * a task on this node is probed from inside its container as before; a task on another node at its overlay
 * address, from a local container on the stack's network that has curl or wget (the same service's first), else
 * a throwaway container of the release's image when it is here (never pulled), else Swarm's own health check is
 * taken, said once. A failed task on another node is explained from what Swarm knows, naming the node.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./harness";
import { scriptedDocker } from "./scriptedDocker";

// Tasks t1 (this node, container c1) and t2 (node n2, 10.0.1.6 on ryt-net); containers on ryt-net here: SAME (of
// the service) and OTHERS; TOOLS the containers whose shell has curl or wget; LOCAL_IMAGE whether the image is here.
const docker = scriptedDocker(
  "railyard-gate-nodes-",
  `  "info --format {{.Swarm.NodeID}}") echo n1 ;;
  "inspect --format {{.NodeID}}|"*" t1") echo "n1|c1|ryt-net=10.0.1.5/24 " ;;
  "inspect --format {{.NodeID}}|"*" t2") echo "n2|c2|ryt-net=10.0.1.6/24 " ;;
  "inspect --format {{.NodeID}} t2") echo n2 ;;
  "node inspect "*" n2") echo worker-1 ;;
  "ps -q --filter status=running --filter label=com.docker.swarm.service.id=sid --filter network=ryt-net") echo "$SAME" ;;
  "ps -q --filter status=running --filter network=ryt-net") echo "$OTHERS" ;;
  "exec "*" sh -c command -v curl || command -v wget") [[ " $TOOLS " == *" $2 "* ]] ;;
  "exec c1 sh -c curl"*" http://127.0.0.1:3000/health") echo '{"status":"ok"}' ;;
  "exec "*" sh -c curl"*" http://10.0.1.6:3000/health") echo "$BODY" ;;
  "image inspect app:v1") [ "$LOCAL_IMAGE" = 1 ] ;;
  "run --rm --pull never --network ryt-net --label railyard.role=gate-probe --entrypoint sh app:v1 -c curl"*" http://10.0.1.6:3000/health") echo "$BODY" ;;
  "inspect --format {{.Status.State}}|"*" t2") echo "failed|$EXIT|c2|$ERR" ;;
  "inspect --format {{.State.Running}} "*) echo true ;;`,
);

interface Fake {
  same?: string;
  others?: string;
  tools?: string;
  localImage?: boolean;
  body?: string;
  exit?: string;
  err?: string;
}

/** Runs CODE in bash with the gate sourced (service ryt-api, id sid, image app:v1, probe port 3000 path /health). */
function gate(code: string, f: Fake = {}) {
  docker.reset();
  const r = spawnSync(
    "bash",
    ["-c", `source ${JSON.stringify(path.join(ROOT, "host", "railyard-gate.sh"))}; service=ryt-api sid=sid image=app:v1 port=3000 path=/health; ${code}`],
    {
      encoding: "utf8",
      env: {
        ...process.env,
        PATH: `${docker.dir}:${process.env.PATH}`,
        SAME: f.same ?? "",
        OTHERS: f.others ?? "",
        TOOLS: f.tools ?? "",
        LOCAL_IMAGE: f.localImage ? "1" : "0",
        BODY: f.body ?? '{"status":"ok"}',
        EXIT: f.exit ?? "1",
        ERR: f.err ?? "task: non-zero exit (1)",
      },
    },
  );
  return { ...r, calls: docker.calls() };
}

const verdict = (code: string, f: Fake = {}) => {
  const r = gate(`${code} && echo "verdict 0" || echo "verdict $?"`, f);
  return { ...r, verdict: /verdict (\d+)/.exec(r.stdout)?.[1] };
};

describe("the gate probes tasks wherever they run", () => {
  it("probes a task on this node from inside its container, as on one node", () => {
    const r = verdict("probe_any_task t1 running");
    expect(r.verdict).toBe("0");
    expect(r.calls).toContain("exec c1 sh -c curl -fsS -m 5 \"$0\" 2>/dev/null || wget -q -T 5 -O - \"$0\" http://127.0.0.1:3000/health\n");
    expect(r.calls).not.toMatch(/^ps /m);
  });

  it("probes a task on another node at its overlay address from a container of the same service here", () => {
    const r = verdict("probe_any_task t2 running", { same: "c1", others: "edge1 c1", tools: "c1 edge1" });
    expect(r.verdict).toBe("0");
    expect(r.calls).toMatch(/^exec c1 sh -c curl .* http:\/\/10\.0\.1\.6:3000\/health$/m);
    expect(r.calls).not.toContain("exec edge1");
  });

  it("else from any container on the network with curl or wget (the edge's), found once; a bad component is 3", () => {
    const r = verdict("probe_any_task t2 running || :; probe_any_task t2 running", { others: "db1 edge1", tools: "edge1", body: '{"status":"ok","db":"down"}' });
    expect(r.verdict).toBe("3");
    expect(r.calls).toContain("exec db1 sh -c command -v curl || command -v wget\n");
    expect(r.calls.match(/^exec edge1 sh -c curl .* http:\/\/10\.0\.1\.6:3000\/health$/gm)).toHaveLength(2);
    expect(r.calls.match(/^ps -q/gm), "the prober is found once").toHaveLength(2);
  });

  it("else from a throwaway container of the release's image when it is on this node, never pulled", () => {
    const r = verdict("probe_any_task t2 starting", { others: "db1", localImage: true });
    expect(r.verdict).toBe("0");
    expect(r.calls).toMatch(/^run --rm --pull never --network ryt-net --label railyard\.role=gate-probe --entrypoint sh app:v1 -c curl .* http:\/\/10\.0\.1\.6:3000\/health$/m);
    expect(r.calls).not.toMatch(/^pull /m);
  });

  it("else takes Swarm's health check for that task (running counts, starting does not) and says so once", () => {
    const running = verdict("probe_any_task t2 running; probe_any_task t2 running");
    expect(running.verdict).toBe("0");
    const said = "railyard-gate: ryt-api: task t2 runs on node worker-1, and nothing on this node can reach it over ryt-net (no running container on it here has curl or wget, and app:v1 is not here): its health is Swarm's own health check\n";
    expect(running.stderr).toBe(said);
    expect(verdict("probe_any_task t2 starting").verdict).toBe("1");
  });

  it("explains a failed task on another node from Swarm's record, naming the node", () => {
    const unhealthy = gate("task_reason t2", { exit: "137", err: "task: non-zero exit (137): dockerexec: unhealthy container" });
    expect(unhealthy.stdout).toBe("unhealthy: its health check failed on node worker-1 (its output: docker inspect c2 there)\n");
    const crash = gate("task_reason t2", { exit: "1" });
    expect(crash.stdout).toBe("crash (exit 1) on node worker-1 (whether out of memory: docker inspect c2 there)\n");
    const rejected = gate("task_reason t2", { exit: "0", err: "no suitable node" });
    expect(rejected.stdout).toBe("failed: no suitable node on node worker-1\n");
  });
});
