/**
 * Backups of a database whose task runs on another node (host/railyard-backup.sh against a scripted `docker`): the
 * dump runs as a one-off Swarm job of the database's image pinned to this node, with its password secret and
 * network, reaching it by its service name; its output comes back through a named pipe. A job that fails or never
 * starts fails the backup loudly, naming the node, and leaves no dump, no job and no pipe behind. The password check
 * (a client container over the network) works as on one node; a restore into the live database runs its clients in
 * a job of the database's image on this node, by its service name, and so does the password rotation.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./harness";
import { scriptedDocker } from "./scriptedDocker";

const SRC_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-backup-src-"));
// No container of ryt-postgres here. RUNNING_ON: the node its running task is on (none: no running task).
// JOB: what the dump job does: "ok" writes a dump into the mounted pipe and completes, "fail" exits 1 without
// writing, "pending" never starts.
const docker = scriptedDocker(
  "railyard-backup-nodes-",
  `  "ps --quiet --filter label=com.docker.swarm.service.name=ryt-postgres --filter status=running") ;;
  "service inspect --format {{.Spec.Name}}|{{.ID}} ryt-postgres") echo "ryt-postgres|sid" ;;
  "service inspect --format {{.Spec.Name}}|{{.Spec.TaskTemplate.ContainerSpec.Image}} ryt-postgres") echo "ryt-postgres|postgres:16.4" ;;
  "run --rm -i --network ryt-net --label railyard.role=dbpass-check --entrypoint sh postgres:16.4 "*) echo railyard-ok ;;
  "service ps --no-trunc --filter desired-state=running --format"*) [ -z "$RUNNING_ON" ] || echo "Running 5 minutes ago|$RUNNING_ON" ;;
  "service ls --quiet --filter label=railyard.job-owner") printf '%s' "$STALE_IDS" ;;
  "service inspect --format {{.Spec.Name}}|{{index .Spec.Labels "*) printf '%s' "$STALE_JOBS" ;;
  "service inspect --format"*" ryt-postgres") echo "postgres:16.4|netid1 |ryt-postgres-pw-abc" ;;
  "info --format {{.Swarm.NodeID}}") echo n1 ;;
  "service create "*"--label railyard.job=restore "*) [ "$RESTORE_CREATE" != fail ] || { echo "no such image"; exit 1; }; echo jobid ;;
  "ps --quiet --filter label=com.docker.swarm.service.name=ryt-postgres-restore-"*" --filter status=running") echo rc1 ;;
  "exec -i rc1 "*) ;;
  "service create "*"--label railyard.job=dbpass "*) echo jobid ;;
  "ps --quiet --filter label=com.docker.swarm.service.name=ryt-postgres-dbpass-"*" --filter status=running") echo dc1 ;;
  "exec -i dc1 "*) echo railyard-ok ;;
  "service create "*)
    for a in "$@"; do case "$a" in type=bind,source=*) src=\${a#type=bind,source=}; src=\${src%%,*} ;; esac; done
    echo "$src" > ${SRC_DIR}/src
    if [ "$JOB" = ok ]; then (sleep 0.3; printf 'PGDMP-dump-bytes' > "$src/dump") >/dev/null 2>&1 & fi
    echo jobid ;;
  "service ps -q --no-trunc ryt-postgres-dump-"*) [ "$JOB" = pending ] || echo jt1 ;;
  "inspect --format {{.Status.State}}|"*" jt1") if [ "$JOB" = ok ]; then sleep 0.5; echo "complete|0|"; else echo "failed|1|task: non-zero exit (1)"; fi ;;
  "service logs --raw --tail 20 "*) echo 'pg_dump: error: connection to server at "ryt-postgres" failed' ;;
  "service rm "*|"ps -aq "*) ;;`,
);

function backup(runningOn: string, job: string, env: Record<string, string> = {}) {
  docker.reset();
  fs.rmSync(path.join(SRC_DIR, "src"), { force: true });
  const out = fs.mkdtempSync(path.join(SRC_DIR, "out-"));
  const r = spawnSync(
    "bash",
    ["-c", `source ${JSON.stringify(path.join(ROOT, "host", "railyard-backup.sh"))}; JOB_START_S=1; main "$@"`, "backup", "--service", "ryt-postgres", "--engine", "postgres", "--user", "app", "--database", "app", "--dir", out],
    { encoding: "utf8", timeout: 20_000, env: { ...process.env, PATH: `${docker.dir}:${process.env.PATH}`, TMPDIR: SRC_DIR, RUNNING_ON: runningOn, JOB: job, ...env } },
  );
  const src = fs.existsSync(path.join(SRC_DIR, "src")) ? fs.readFileSync(path.join(SRC_DIR, "src"), "utf8").trim() : "";
  return { ...r, calls: docker.calls(), out, files: fs.readdirSync(out), pipeDir: src };
}

describe("a backup of a database on another node", () => {
  it("dumps through a job pinned to this node, with the database's image, network and secret, by its service name", () => {
    const r = backup("worker-2", "ok");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("railyard-backup: ryt-postgres runs on node worker-2: dumping it from a job on this node, over the overlay network\n");
    expect(r.files).toHaveLength(1);
    expect(r.files[0]).toMatch(/^ryt-postgres-\d{8}T\d{6}Z\.dump$/);
    expect(fs.readFileSync(path.join(r.out, r.files[0]), "utf8")).toBe("PGDMP-dump-bytes");
    const create = r.calls.split("\n").find((l) => l.startsWith("service create "));
    expect(create).toMatch(
      new RegExp(
        "^service create --detach --quiet --name ryt-postgres-dump-[0-9a-f]{6} --with-registry-auth --label railyard.job=dump --label railyard.dump-of=ryt-postgres " +
          "--label railyard.job-owner=n1:[^: ]+:[^: ]*:\\d*:\\d+:\\d+:\\d+ " +
          "--mode replicated-job --restart-condition none --constraint node.id==n1 --network netid1 " +
          "--secret source=ryt-postgres-pw-abc,target=railyard_db_password,mode=0400 --mount type=bind,source=.*/railyard-dump\\.\\w+,target=/railyard-dump " +
          "--entrypoint sh postgres:16.4 -c exec \"\\$@\" >\"\\$0\" /railyard-dump/dump sh -c .* -h ryt-postgres -U .* /run/secrets/railyard_db_password app app$",
      ),
    );
    expect(create).not.toContain("127.0.0.1");
    expect(r.calls).toMatch(/^service rm ryt-postgres-dump-[0-9a-f]{6}$/m);
    expect(fs.existsSync(r.pipeDir), "the pipe's folder is removed").toBe(false);
  });

  it("fails (21) naming the node and showing the job's output when the dump job fails; nothing is left", () => {
    const r = backup("worker-2", "fail");
    expect(r.status).toBe(21);
    expect(r.stderr).toContain('pg_dump: error: connection to server at "ryt-postgres" failed');
    expect(r.stderr).toContain("the postgres dump of ryt-postgres failed (its task runs on node worker-2; dumped from a job on this node); older dumps in");
    expect(r.files).toEqual([]);
    expect(r.calls).toMatch(/^service rm ryt-postgres-dump-/m);
    expect(fs.existsSync(r.pipeDir)).toBe(false);
  });

  it("fails (26) naming the node when the job does not start in time", () => {
    const r = backup("worker-2", "pending");
    expect(r.status).toBe(26);
    expect(r.stderr).toContain("the dump job did not start within 1 s: no task yet");
    expect(r.stderr).toContain("ryt-postgres's task runs on node worker-2, and the dump job on this node did not start; older dumps in");
    expect(r.files).toEqual([]);
    expect(fs.existsSync(r.pipeDir)).toBe(false);
  });

  it("first removes the jobs a killed run of this machine left (owner gone, its PID reused, or made before a restart), no one else's", () => {
    // This test's own process is a live owner, read the way the script reads it: machine:boot:pid namespace:uid:pid:start.
    const me = spawnSync("bash", ["-c", `source ${JSON.stringify(path.join(ROOT, "host", "railyard-lib.sh"))}; job_owner ${process.pid}`], { encoding: "utf8" }).stdout;
    const [machine, boot, ns, uid, pid, start] = me.split(":");
    expect(pid).toBe(String(process.pid));
    expect(start).toMatch(/^\d+$/);
    const owner = (o: { node?: string; machine?: string; boot?: string; ns?: string; pid?: string; start?: string }) =>
      [o.node ?? "n1", o.machine ?? machine, o.boot ?? boot, o.ns ?? ns, uid, o.pid ?? pid, o.start ?? start].join(":");
    const jobs = [
      `ryt-postgres-restore-aaaaaa|${owner({ pid: "4194303" })}`, // its process is gone
      `ryt-postgres-dump-bbbbbb|${owner({ start: "1" })}`, // its PID now runs another process
      `ryt-postgres-dump-ffffff|${owner({ boot: "another-boot", pid: "4194303" })}`, // made before this machine restarted
      `ryt-postgres-dump-cccccc|${owner({})}`, // a run still going on here
      `ryt-postgres-dbpass-dddddd|${owner({ machine: "another-machine", pid: "4194303" })}`, // someone else's
      `ryt-postgres-dbpass-gggggg|${owner({ node: "n2", pid: "4194303" })}`, // made on another node
      `ryt-postgres-dbpass-hhhhhh|${owner({ ns: "1", pid: "4194303" })}`, // another PID namespace: cannot tell
      "ryt-postgres-dump-eeeeee|", // no owner recorded
    ];
    const r = backup("worker-2", "ok", { STALE_IDS: "j1 j2 j3 j4 j5 j6 j7 j8\n", STALE_JOBS: `${jobs.join("\n")}\n` });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("railyard-backup: removing one-off job ryt-postgres-restore-aaaaaa: the process that made it (pid 4194303) is gone\n");
    expect(r.stderr).toContain(`removing one-off job ryt-postgres-dump-bbbbbb: the process that made it (pid ${process.pid}) is gone\n`);
    expect(r.stderr).toContain("removing one-off job ryt-postgres-dump-ffffff: it was made before this machine restarted\n");
    const removed = r.calls.split("\n").filter((l) => l.startsWith("service rm ")).map((l) => l.slice("service rm ".length));
    expect(removed.slice(0, 3)).toEqual(["ryt-postgres-restore-aaaaaa", "ryt-postgres-dump-bbbbbb", "ryt-postgres-dump-ffffff"]);
    expect(removed).toHaveLength(4); // and the run's own job at its end
    expect(r.calls.indexOf("service rm ryt-postgres-dump-ffffff")).toBeLessThan(r.calls.indexOf("service create"));
    // The run's own job is labelled the same way, behind this engine's node ID.
    expect(r.calls).toMatch(new RegExp(`--label railyard\\.job-owner=n1:${machine}:${boot}:${ns}:${uid}:\\d+:\\d+ `));
  });

  it("fails (20) when no task of the database runs anywhere, creating nothing", () => {
    const r = backup("", "ok");
    expect(r.status).toBe(20);
    expect(r.stderr).toContain("no running task of service ryt-postgres, on this node or any other");
    expect(r.calls).not.toContain("service create");
  });
});

describe("password steps and live restores of a database on another node", () => {
  const script = (name: string) => path.join(ROOT, "host", name);
  const run = (args: string[], runningOn: string) => {
    docker.reset();
    return spawnSync("bash", args, { encoding: "utf8", input: "a-new-password-0123456789\n", env: { ...process.env, PATH: `${docker.dir}:${process.env.PATH}`, RUNNING_ON: runningOn, RESTORE_CREATE: "" } });
  };
  const db = ["--service", "ryt-postgres", "--engine", "postgres", "--user", "app", "--database", "app"];

  it("checks the password from a client container of the service's image over the network", () => {
    const r = run([script("railyard-dbpass.sh"), "--check", ...db, "--network", "ryt-net"], "worker-2");
    expect(r.status, r.stderr).toBe(0);
    expect(docker.calls()).toMatch(/^run --rm -i --network ryt-net --label railyard\.role=dbpass-check --entrypoint sh postgres:16\.4 /m);
    expect(run([script("railyard-dbpass.sh"), "--check", ...db, "--network", "ryt-net"], "").stderr).toContain("no running task of ryt-postgres on any node");
  });

  it("rotates the password from a job of its image on this node, by its service name", () => {
    const r = run([script("railyard-dbpass.sh"), "--rotate", ...db], "worker-2");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/its task runs on node worker-2: changing the password from a job on this node \(ryt-postgres-dbpass-[0-9a-f]{6}\)/);
    const calls = docker.calls();
    expect(calls).toMatch(/^service create .*--name ryt-postgres-dbpass-[0-9a-f]{6} .*--constraint node\.id==n1 --network netid1 --secret source=ryt-postgres-pw-abc,target=railyard_db_password,mode=0400 --entrypoint sleep postgres:16\.4 600$/m);
    expect(calls).toMatch(/^exec -i dc1 sh -c .*psql -X -w -q -v ON_ERROR_STOP=1 -h ryt-postgres -U "\$1" -d "\$2"/m);
    expect(calls).not.toContain("127.0.0.1");
    expect(calls).toMatch(/^service rm ryt-postgres-dbpass-/m);
  });

  it("restores into the live database from a job of its image on this node, its clients reaching it by name", () => {
    const code = `source ${JSON.stringify(script("railyard-restore.sh"))}; service=ryt-postgres engine=postgres into=live user=app database=app
      live_container; echo "target $target"; restore_tool </dev/null`;
    const r = run(["-c", code], "worker-2");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/the task of ryt-postgres runs on node worker-2: restoring from a job on this node \(ryt-postgres-restore-[0-9a-f]{6}\), over the overlay network/);
    expect(r.stdout).toBe("target rc1\n");
    const calls = docker.calls();
    expect(calls).toMatch(/^service create --detach --quiet --name ryt-postgres-restore-[0-9a-f]{6} .*--label railyard\.job=restore .*--constraint node\.id==n1 --network netid1 --secret source=ryt-postgres-pw-abc,target=railyard_db_password,mode=0400 --entrypoint sleep postgres:16\.4 86400$/m);
    expect(calls).toMatch(/^exec -i rc1 sh -c PGPASSWORD=.* exec pg_restore -h ryt-postgres -U "\$1" -d "\$2" .* \/run\/secrets\/railyard_db_password app app$/m);
    expect(calls, "the job is removed on exit").toMatch(/^service rm ryt-postgres-restore-[0-9a-f]{6}$/m);
  });

  it("fails (20) naming the node when the restore job cannot run; the live database is not touched", () => {
    const r = run(["-c", `source ${JSON.stringify(script("railyard-restore.sh"))}; service=ryt-postgres engine=postgres into=live; RESTORE_CREATE=fail live_container`], "worker-2");
    expect(r.status).toBe(20);
    expect(r.stderr).toContain("the task of service ryt-postgres runs on node worker-2, and a restore job on this node cannot run: the job could not be created: no such image; the live database was not touched");
  });
});
