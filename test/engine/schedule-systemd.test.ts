/**
 * Scheduled jobs on a real systemd: a container whose PID 1 is systemd (Debian's, test/engine/build-systemd-image.sh)
 * stands for the host. The install and remove commands run there as `pulumi up` would run them; the service runs
 * the exact argv it was given; the timer is enabled across a reboot; and with Persistent=true a slot missed while
 * the host was down runs when it boots again, once. Containers are named railyard-sched-*; only they are removed.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installUnitsCommand, removeUnitsCommand, SCHEDULE_EXIT, scheduleUnitName } from "../../commands/schedule";
import { cronToOnCalendar } from "../../lib/cron";
import { serviceUnit, timerUnit } from "../../render/systemd";
import { HOSTILE } from "../hostile";

const HOST = `railyard-sched-${process.pid}`;
const NAME = scheduleUnitName("rysched", "backup", "postgres");
const STAMP = `/var/lib/systemd/timers/stamp-${NAME}.timer`;
/** Words the job must receive exactly, through ExecStart: the shell's hostile values and systemd's own specials. */
const WORDS = [...HOSTILE, ";", "\\;", "%n", "%%", "$HOME", "${HOME}", "$$", "x\\", "'"];
/** The job: records each run's time and its argv (NUL-separated); fails with 3 while /var/lib/job/fail exists. */
const JOB = `#!/bin/bash
set -euo pipefail
mkdir -p /var/lib/job
date -u +%s >> /var/lib/job/runs
printf '%s\\0' "$@" > /var/lib/job/argv
if [ -e /var/lib/job/fail ]; then echo "job: failing as asked" >&2; exit 3; fi
`;

let image = "";

function docker(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync("docker", args, { encoding: "utf8", input, timeout: 120_000 });
}

/** A shell command on the host, as Host.run gives it (sh -c, as root). */
function onHost(command: string) {
  return docker(["exec", HOST, "sh", "-c", command]);
}

function systemctl(...args: string[]): string {
  return docker(["exec", HOST, "systemctl", ...args]).stdout.trim();
}

function runs(): number[] {
  const r = onHost("cat /var/lib/job/runs 2>/dev/null || true");
  return r.stdout.split("\n").filter(Boolean).map(Number);
}

/** Waits until systemd has booted (running, or degraded when some unit of the image failed). */
async function booted(): Promise<void> {
  const until = Date.now() + 90_000;
  for (;;) {
    const state = systemctl("is-system-running");
    if (state === "running" || state === "degraded") return;
    if (Date.now() > until) throw new Error(`systemd in ${HOST} did not finish booting: ${state}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function waitFor(what: string, test: () => boolean, seconds: number): Promise<void> {
  const until = Date.now() + seconds * 1000;
  while (!test()) {
    if (Date.now() > until) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const daily = cronToOnCalendar("0 3 * * *");
if (!daily.ok) throw new Error("0 3 * * * must convert");
const service = serviceUnit({
  description: "railyard: backup of rysched/postgres to the bucket",
  execStart: ["/usr/bin/bash", "/usr/local/bin/job.sh", ...WORDS],
  timeoutSeconds: 60,
});
const timer = timerUnit({ description: "railyard: backup of rysched/postgres to the bucket (timer)", onCalendar: [daily.onCalendar], unit: `${NAME}.service` });

beforeAll(async () => {
  image = execFileSync("bash", [path.join(__dirname, "build-systemd-image.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
  docker(["rm", "-f", HOST]);
  // systemd as PID 1 in a container: SYS_ADMIN for its mounts, /run and /run/lock as tmpfs (cleared at each boot, as
  // on a host), the cgroup tree read-only, and the signal that makes systemd shut down (SIGTERM re-executes it).
  const started = docker([
    "run", "-d", "--name", HOST, "--cap-add", "SYS_ADMIN", "--tmpfs", "/run", "--tmpfs", "/run/lock",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro", "--stop-signal", "RTMIN+3", image,
  ]);
  expect(started.stderr).toBe("");
  await booted();
  const job = docker(["exec", "-i", HOST, "sh", "-c", "mkdir -p /var/lib/job && cat > /usr/local/bin/job.sh && chmod 0755 /usr/local/bin/job.sh"], JOB);
  expect(job.status).toBe(0);
});

afterAll(() => {
  docker(["rm", "-f", HOST]);
});

describe("a scheduled job on systemd as PID 1", () => {
  it("refuses a host where systemd is not running (exit 70), with the same image booted without it", () => {
    const r = docker(["run", "--rm", "--name", `${HOST}-bare`, image, "sh", "-c", installUnitsCommand({ name: NAME, service, timer })]);
    expect(r.status).toBe(SCHEDULE_EXIT.noSystemd);
    expect(r.stderr).toContain(`railyard: ${NAME}: this host has no running systemd (/run/systemd/system is missing)`);
  });

  it("installs: the timer is enabled and waiting for 03:00 UTC, and the service runs the exact argv", () => {
    const r = onHost(installUnitsCommand({ name: NAME, service, timer }));
    expect(r.stderr).toBe(`Created symlink /etc/systemd/system/timers.target.wants/${NAME}.timer → /etc/systemd/system/${NAME}.timer.\n`);
    expect(r.status).toBe(0);
    expect(systemctl("is-enabled", `${NAME}.timer`)).toBe("enabled");
    expect(systemctl("is-active", `${NAME}.timer`)).toBe("active");
    expect(systemctl("show", "-P", "NextElapseUSecRealtime", `${NAME}.timer`)).toMatch(/^\w{3} \d{4}-\d{2}-\d{2} 03:00:00 UTC$/);
    // Installing created the timer's stamp, and ran nothing.
    expect(onHost(`test -e ${STAMP}`).status).toBe(0);
    expect(runs()).toEqual([]);

    expect(docker(["exec", HOST, "systemctl", "start", `${NAME}.service`]).status).toBe(0);
    const argv = onHost("cat /var/lib/job/argv").stdout.split("\0");
    expect(argv.pop()).toBe("");
    expect(argv).toEqual(WORDS);
    expect(systemctl("show", "-P", "Result", `${NAME}.service`)).toBe("success");
  });

  it("installing a changed schedule puts it in force at once, and creates nothing new", () => {
    const at0430 = timerUnit({ description: "railyard: backup of rysched/postgres to the bucket (timer)", onCalendar: ["*-*-* 04:30:00 UTC"], unit: `${NAME}.service` });
    expect(onHost(installUnitsCommand({ name: NAME, service, timer: at0430 })).status).toBe(0);
    expect(systemctl("show", "-P", "NextElapseUSecRealtime", `${NAME}.timer`)).toMatch(/ 04:30:00 UTC$/);
    expect(onHost(installUnitsCommand({ name: NAME, service, timer })).status).toBe(0);
    expect(systemctl("show", "-P", "NextElapseUSecRealtime", `${NAME}.timer`)).toMatch(/ 03:00:00 UTC$/);
    expect(onHost(`ls -A /etc/systemd/system | grep -c ${NAME}`).stdout.trim()).toBe("2");
    expect(runs()).toHaveLength(1);
  });

  it("a failed run is recorded as failed by systemd, with the job's message in its journal", () => {
    onHost("touch /var/lib/job/fail");
    const r = docker(["exec", HOST, "systemctl", "start", `${NAME}.service`]);
    expect(r.status).not.toBe(0);
    expect(systemctl("is-failed", `${NAME}.service`)).toBe("failed");
    expect(systemctl("show", "-P", "ExecMainStatus", `${NAME}.service`)).toBe("3");
    expect(docker(["exec", HOST, "journalctl", "-u", `${NAME}.service`, "--no-pager"]).stdout).toContain("job: failing as asked");
    onHost("rm /var/lib/job/fail /var/lib/job/runs");
  });

  it("Persistent=true: a slot missed while the host was down runs at boot, once", async () => {
    // The timer last fired two days ago (its stamp), then the host goes down and comes back.
    expect(onHost(`touch -d '2 days ago' ${STAMP}`).status).toBe(0);
    const before = Math.floor(Date.now() / 1000);
    expect(docker(["restart", "-t", "30", HOST]).status).toBe(0);
    await booted();
    await waitFor("the missed run at boot", () => runs().length > 0, 30);
    expect(runs()).toHaveLength(1);
    expect(runs()[0]).toBeGreaterThanOrEqual(before);
    expect(systemctl("is-active", `${NAME}.timer`)).toBe("active");

    // Booting again with no slot missed since runs nothing: it was the missed slot, not every boot.
    expect(docker(["restart", "-t", "30", HOST]).status).toBe(0);
    await booted();
    await new Promise((r) => setTimeout(r, 5000));
    expect(runs()).toHaveLength(1);
    expect(systemctl("is-enabled", `${NAME}.timer`)).toBe("enabled");
  });

  it("removes: timer stopped and disabled, files gone; removing again succeeds", () => {
    const remove = removeUnitsCommand({ name: NAME });
    const r = onHost(remove);
    expect(r.stderr).toBe(`Removed "/etc/systemd/system/timers.target.wants/${NAME}.timer".\n`);
    expect(r.status).toBe(0);
    expect(onHost(`ls /etc/systemd/system/${NAME}.* /etc/systemd/system/timers.target.wants/${NAME}.timer`).status).not.toBe(0);
    expect(systemctl("is-active", `${NAME}.timer`)).not.toBe("active");
    expect(systemctl("list-timers", "--all", "--no-legend")).not.toContain(NAME);
    expect(onHost(remove).status).toBe(0);
  });
});
