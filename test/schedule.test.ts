/**
 * Schedules: cron → systemd OnCalendar (exact strings, then systemd-analyze's own reading of each), the job's
 * service and timer units (exact text, `systemd-analyze verify`, and systemd parsing ExecStart back into the same
 * argv), and the host commands that install and remove them, run by sh and bash against a temporary unit folder
 * with a `systemctl` that records its calls (systemd is not PID 1 here).
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { asRootCommand } from "../commands/asRoot";
import { installUnitsCommand, removeUnitsCommand, SCHEDULE_EXIT, scheduleUnitName } from "../commands/schedule";
import { CRON_MAX_LENGTH, cronToOnCalendar } from "../lib/cron";
import { execLine, serviceUnit, timerUnit } from "../render/systemd";
import { HOSTILE } from "./hostile";

/** Cron line → OnCalendar, and its first elapse after BASE (a Friday) by hand: day, date and time in UTC. */
const BASE = "2026-11-20 00:00:00 UTC";
const VALID: [cron: string, onCalendar: string, next: string][] = [
  ["0 3 * * *", "*-*-* 03:00:00 UTC", "Fri 2026-11-20 03:00:00"],
  ["*/15 * * * *", "*-*-* *:00/15:00 UTC", "Fri 2026-11-20 00:15:00"],
  ["0 */6 * * *", "*-*-* 00/6:00:00 UTC", "Fri 2026-11-20 06:00:00"],
  ["30 2 * * 0", "Sun *-*-* 02:30:00 UTC", "Sun 2026-11-22 02:30:00"],
  ["0 3 * * 7", "Sun *-*-* 03:00:00 UTC", "Sun 2026-11-22 03:00:00"],
  ["0 3 * * mon-fri", "Mon..Fri *-*-* 03:00:00 UTC", "Fri 2026-11-20 03:00:00"],
  ["0 3 * * 5-7", "Fri..Sun *-*-* 03:00:00 UTC", "Fri 2026-11-20 03:00:00"],
  ["0 3 * * SAT,sun", "Sat,Sun *-*-* 03:00:00 UTC", "Sat 2026-11-21 03:00:00"],
  ["0 3 * * 1,3,5", "Mon,Wed,Fri *-*-* 03:00:00 UTC", "Fri 2026-11-20 03:00:00"],
  ["15 3 * * */2", "Tue,Thu,Sat,Sun *-*-* 03:15:00 UTC", "Sat 2026-11-21 03:15:00"],
  ["0 3 * * 0-7", "*-*-* 03:00:00 UTC", "Fri 2026-11-20 03:00:00"],
  ["0 0 1 * *", "*-*-01 00:00:00 UTC", "Tue 2026-12-01 00:00:00"],
  ["0 0 1,15 * *", "*-*-01,15 00:00:00 UTC", "Tue 2026-12-01 00:00:00"],
  ["0 0 1 1 *", "*-01-01 00:00:00 UTC", "Fri 2027-01-01 00:00:00"],
  ["0 12 15 6 *", "*-06-15 12:00:00 UTC", "Tue 2027-06-15 12:00:00"],
  ["0 0 29 2 *", "*-02-29 00:00:00 UTC", "Tue 2028-02-29 00:00:00"],
  ["59 23 31 12 *", "*-12-31 23:59:00 UTC", "Thu 2026-12-31 23:59:00"],
  ["0 4 1 jan,apr,jul,oct *", "*-01/3-01 04:00:00 UTC", "Fri 2027-01-01 04:00:00"],
  ["0 0,12 * * *", "*-*-* 00,12:00:00 UTC", "Fri 2026-11-20 12:00:00"],
  ["5,10,15 * * * *", "*-*-* *:05..15/5:00 UTC", "Fri 2026-11-20 00:05:00"],
  ["*/20 8-18 * * mon-fri", "Mon..Fri *-*-* 08..18:00/20:00 UTC", "Fri 2026-11-20 08:00:00"],
  ["0-30/10 1,2,3,5 * jan-jun/2 *", "*-01..05/2-* 01..03,05:00..30/10:00 UTC", "Fri 2027-01-01 01:00:00"],
  ["* * * * *", "*-*-* *:*:00 UTC", "Fri 2026-11-20 00:01:00"],
  // Debian's cron: a day field starting with "*" does not make "either day" apply (both must match).
  ["0 0 */2 * 1", "Mon *-*-01/2 00:00:00 UTC", "Mon 2026-11-23 00:00:00"],
  // Both restricted, but every day of the month: "either" is every day.
  ["0 3 1-31 * mon", "*-*-* 03:00:00 UTC", "Fri 2026-11-20 03:00:00"],
  ["\t0  3 * * *  ", "*-*-* 03:00:00 UTC", "Fri 2026-11-20 03:00:00"],
  ["0 3 * * 01", "Mon *-*-* 03:00:00 UTC", "Mon 2026-11-23 03:00:00"],
  ["@hourly", "*-*-* *:00:00 UTC", "Fri 2026-11-20 01:00:00"],
  ["@daily", "*-*-* 00:00:00 UTC", "Sat 2026-11-21 00:00:00"],
  ["@midnight", "*-*-* 00:00:00 UTC", "Sat 2026-11-21 00:00:00"],
  // cron's @weekly is Sunday (systemd's own "weekly" is Monday).
  ["@weekly", "Sun *-*-* 00:00:00 UTC", "Sun 2026-11-22 00:00:00"],
  ["@monthly", "*-*-01 00:00:00 UTC", "Tue 2026-12-01 00:00:00"],
  ["@yearly", "*-01-01 00:00:00 UTC", "Fri 2027-01-01 00:00:00"],
  ["@annually", "*-01-01 00:00:00 UTC", "Fri 2027-01-01 00:00:00"],
];

const CRON = "a cron expression in UTC (5 fields: minute hour day-of-month month day-of-week) or @hourly, @daily, @weekly, @monthly, @yearly";
const ITEM = (label: string) => `*, a value, a range a-b, a step */n or a-b/n, or a list of them (${label})`;
const INVALID: [cron: unknown, expected: string, got: string][] = [
  ["", CRON, '""'],
  ["   ", CRON, '"   "'],
  [42, CRON, "42"],
  [`0 3 * * *${" ".repeat(CRON_MAX_LENGTH - 8)}`, "a cron expression of at most 64 characters", "65 characters"],
  ["61 * * * *", "a value from 0 to 59 (field 1, minute)", '"61" in "61 * * * *"'],
  ["0 24 * * *", "a value from 0 to 23 (field 2, hour)", '"24" in "0 24 * * *"'],
  ["0 0 0 * *", "a value from 1 to 31 (field 3, day-of-month)", '"0" in "0 0 0 * *"'],
  ["0 0 32 * *", "a value from 1 to 31 (field 3, day-of-month)", '"32" in "0 0 32 * *"'],
  ["0 0 * 13 *", "a value from 1 to 12 or jan to dec (field 4, month)", '"13" in "0 0 * 13 *"'],
  ["0 0 * * 8", "a value from 0 to 7 (0 and 7 are Sunday) or sun to sat (field 5, day-of-week)", '"8" in "0 0 * * 8"'],
  ["0 3 * * foo", "a value from 0 to 7 (0 and 7 are Sunday) or sun to sat (field 5, day-of-week)", '"foo" in "0 3 * * foo"'],
  ["jan 3 * * *", "a value from 0 to 59 (field 1, minute)", '"jan" in "jan 3 * * *"'],
  ["0 3 * * 001", "a value from 0 to 7 (0 and 7 are Sunday) or sun to sat (field 5, day-of-week)", '"001" in "0 3 * * 001"'],
  ["*/0 * * * *", "a step from 1 to 59 (field 1, minute)", '"*/0" in "*/0 * * * *"'],
  ["0 3 * * 1-5/0", "a step from 1 to 7 (field 5, day-of-week)", '"1-5/0" in "0 3 * * 1-5/0"'],
  ["*/60 * * * *", "a step from 1 to 59 (field 1, minute)", '"*/60" in "*/60 * * * *"'],
  ["5/15 * * * *", "a step after * or a range (*/n or a-b/n, field 1, minute)", '"5/15" in "5/15 * * * *"'],
  ["0 22-2 * * *", "a range low-high with low at most high (field 2, hour; cron ranges do not wrap)", '"22-2" in "0 22-2 * * *"'],
  ["0 3 * * mon-sun", "a range low-high with low at most high (field 5, day-of-week; cron ranges do not wrap)", '"mon-sun" in "0 3 * * mon-sun"'],
  ["0 3 ** * *", ITEM("field 3, day-of-month"), '"**" in "0 3 ** * *"'],
  ["0 3 1,,2 * *", ITEM("field 3, day-of-month"), '"" in "0 3 1,,2 * *"'],
  ["0 3 -1 * *", ITEM("field 3, day-of-month"), '"-1" in "0 3 -1 * *"'],
  [
    "0 3 1 * mon",
    "a day-of-month or a day-of-week, not both: cron runs on days matching either, a systemd timer only on days matching both (give two schedules, one for each)",
    '"0 3 1 * mon"',
  ],
  ["0 0 31 2 *", "a day-of-month that exists in one of the months given (it would never run)", '"0 0 31 2 *"'],
  ["0 0 30,31 feb *", "a day-of-month that exists in one of the months given (it would never run)", '"0 0 30,31 feb *"'],
  ["0 0 3 * * *", "5 fields: minute hour day-of-month month day-of-week (UTC; no seconds or year field)", '6 fields in "0 0 3 * * *"'],
  ["0 3 * *", "5 fields: minute hour day-of-month month day-of-week (UTC; no seconds or year field)", '4 fields in "0 3 * *"'],
  ["@reboot", "@hourly, @daily, @weekly, @monthly or @yearly (or 5 cron fields)", '"@reboot"'],
  ["@Daily", "@hourly, @daily, @weekly, @monthly or @yearly (or 5 cron fields)", '"@Daily"'],
  ["@every 5m", "@hourly, @daily, @weekly, @monthly or @yearly (or 5 cron fields)", '"@every 5m"'],
  [
    "0 3 * * 1;reboot",
    `${CRON}: digits, month and weekday names, * , - / and spaces`,
    '"0 3 * * 1;reboot"',
  ],
  ["0 3 * * $(reboot)", `${CRON}: digits, month and weekday names, * , - / and spaces`, '"0 3 * * $(reboot)"'],
  ["0 3 * * *\n0 4 * * *", `${CRON}: digits, month and weekday names, * , - / and spaces`, '"0 3 * * *\\n0 4 * * *"'],
  ["0 3 * * \u202e1", `${CRON}: digits, month and weekday names, * , - / and spaces`, '"0 3 * * \\u202e1"'],
];

describe("cron → OnCalendar", () => {
  it(`converts ${VALID.length} valid expressions exactly`, () => {
    expect(VALID.length).toBeGreaterThanOrEqual(25);
    for (const [cron, onCalendar] of VALID) expect(cronToOnCalendar(cron), JSON.stringify(cron)).toEqual({ ok: true, onCalendar });
  });

  it(`refuses ${INVALID.length} invalid ones with an "expected …, got …" problem`, () => {
    for (const [cron, expected, got] of INVALID) {
      expect(cronToOnCalendar(cron), JSON.stringify(cron)).toEqual({ ok: false, problem: { expected, got } });
    }
  });

  it("refuses every hostile value, and says so in printable text", () => {
    for (const value of HOSTILE) {
      const r = cronToOnCalendar(value);
      expect(r.ok, JSON.stringify(value)).toBe(false);
      if (!r.ok) expect(r.problem.got).not.toMatch(/[\u0000-\u001f\u007f]/);
    }
  });

  it("every OnCalendar it makes is read back by systemd-analyze as written, and fires first when expected", () => {
    const exprs = [...new Set(VALID.map(([, c]) => c))];
    const r = spawnSync("systemd-analyze", ["calendar", "--iterations=3", `--base-time=${BASE}`, ...exprs], { encoding: "utf8", env: { ...process.env, TZ: "UTC" } });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    // One block per expression; "Original form" appears only when systemd's normalized form differs from it.
    expect(r.stdout).not.toContain("Original form");
    const blocks = r.stdout.split(/\n(?=Normalized form:)/);
    expect(blocks).toHaveLength(exprs.length);
    const read = new Map(
      blocks.map((b) => {
        const normalized = /Normalized form: (.*)/.exec(b)?.[1];
        const next = /Next elapse: (.*) UTC/.exec(b)?.[1];
        expect(b, normalized).toContain("Iter. #3:");
        return [normalized, next];
      }),
    );
    for (const [cron, onCalendar, next] of VALID) expect(read.get(onCalendar), cron).toBe(next);
  });
});

const JOB_ARGV = [
  "/usr/bin/bash",
  "/srv/railyard/production/scripts/railyard-backup.sh",
  "--bucket",
  "acme-backups",
  "--prefix",
  "production/postgres",
  "--credentials",
  "/srv/railyard/production/secrets/backup-uploader.ini",
  "--reason",
  "scheduled",
];

const SERVICE_TEXT = `[Unit]
Description=railyard: backup of production/postgres to the bucket
Wants=network-online.target
After=network-online.target docker.service

[Service]
Type=oneshot
ExecStart=/usr/bin/bash /srv/railyard/production/scripts/railyard-backup.sh --bucket acme-backups --prefix production/postgres --credentials /srv/railyard/production/secrets/backup-uploader.ini --reason scheduled
TimeoutStartSec=3600
Nice=10
IOSchedulingClass=best-effort
IOSchedulingPriority=7
UMask=0077
`;

const TIMER_TEXT = `[Unit]
Description=railyard: backup of production/postgres to the bucket (timer)

[Timer]
OnCalendar=*-*-* 03:00:00 UTC
OnCalendar=Sun *-*-* 12:00:00 UTC
Unit=railyard-production.backup-postgres.service
Persistent=true
AccuracySec=1s
RandomizedDelaySec=0

[Install]
WantedBy=timers.target
`;

const NAME = "railyard-production.backup-postgres";
const service = () => serviceUnit({ description: "railyard: backup of production/postgres to the bucket", execStart: JOB_ARGV, timeoutSeconds: 3600 });
const timer = () =>
  timerUnit({
    description: "railyard: backup of production/postgres to the bucket (timer)",
    onCalendar: ["*-*-* 03:00:00 UTC", "Sun *-*-* 12:00:00 UTC"],
    unit: `${NAME}.service`,
  });

/** Words systemd must hand to the program exactly: the shell's hostile values and systemd's own specials. */
const EXEC_HOSTILE = [...HOSTILE, ";", "\\;", "%n", "%%", "$HOME", "${HOME}", "$$", "x\\", "\\", "'", "ctl\u0001\u007fx", "a\rb", "@x", "-x", ":", "+"];

function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** `systemd-analyze verify` of unit files: exit 0 and not a word on stderr (unknown keys are only warnings). */
function verify(files: string[]): void {
  const r = spawnSync("systemd-analyze", ["verify", "--man=no", ...files], { encoding: "utf8" });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
}

/**
 * The argv systemd builds from a service's ExecStart: systemd (not PID 1, as nobody: `--test` refuses root) loads
 * the unit and dumps it; its "Command Line" quotes each word as a shell would ("…" with \-escapes, C escapes for
 * control characters). `$$` is still doubled there: variables are expanded when the command runs, `$$` → `$`.
 */
function systemdArgv(dir: string, unit: string): string[] {
  const r = spawnSync(
    "setpriv",
    ["--reuid=65534", "--regid=65534", "--clear-groups", "env", `SYSTEMD_UNIT_PATH=${dir}:`, "/lib/systemd/systemd", "--test", "--system", `--unit=${unit}`, "--no-pager", "--log-target=console"],
    { encoding: "utf8" },
  );
  expect(r.status).toBe(0);
  const block = r.stdout.split(/\n(?=\t-> Unit )/).find((b) => b.startsWith(`\t-> Unit ${unit}:`));
  const line = /\n\t\t\tCommand Line: (.*)\n/.exec(block ?? "")?.[1];
  expect(line, r.stdout.slice(0, 400)).toBeDefined();
  // What the command would see: `$$` is a `$`; any other `$NAME` or `${NAME}` would be expanded (marked here).
  return dumpWords(line ?? "").map((w) => w.replace(/\$\$|\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*/g, (m) => (m === "$$" ? "$" : "<expanded>")));
}

/** Splits systemd's dumped command line into its words. */
function dumpWords(line: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const m of line.matchAll(re)) {
    if (m[2] !== undefined) words.push(m[2]);
    else
      words.push(
        m[1].replace(/\\([0-7]{3}|.)/g, (_, c: string) =>
          /^[0-7]{3}$/.test(c) ? String.fromCharCode(parseInt(c, 8)) : ({ n: "\n", t: "\t", r: "\r", a: "\u0007", b: "\b", f: "\f", v: "\v" } as Record<string, string>)[c] ?? c,
        ),
      );
  }
  return words;
}

describe("systemd units", () => {
  it("renders the service and timer exactly", () => {
    expect(service()).toBe(SERVICE_TEXT);
    expect(timer()).toBe(TIMER_TEXT);
  });

  it("quotes ExecStart by systemd's rules, not the shell's", () => {
    expect(execLine(["/usr/bin/bash", "/srv/x.sh", "--at", "2026-11-20T14:30Z", "a b", "it's", 'say "hi"', "100%", "$HOME", ";", "", "back\\slash", "l1\nl2"])).toBe(
      String.raw`/usr/bin/bash /srv/x.sh --at 2026-11-20T14:30Z "a b" "it's" "say \"hi\"" "100%%" "$$HOME" ";" "" "back\\slash" "l1\nl2"`,
    );
    expect(() => execLine([])).toThrow("ExecStart needs a program");
    expect(() => execLine(["bash", "-c", "x"])).toThrow("must be an absolute path");
    expect(() => execLine(["/usr/bin/$X"])).toThrow("must be an absolute path");
    expect(() => execLine(["/usr/bin/bash", "a\u0000b"])).toThrow("NUL");
    expect(() => execLine(["/usr/bin/bash", "\ud800"])).toThrow("valid Unicode");
  });

  it("refuses what a unit line cannot hold", () => {
    expect(() => serviceUnit({ description: "two\nlines", execStart: JOB_ARGV, timeoutSeconds: 60 })).toThrow("one line of text");
    expect(() => serviceUnit({ description: "d", execStart: JOB_ARGV, timeoutSeconds: 0 })).toThrow("whole number of seconds from 1");
    expect(() => serviceUnit({ description: "d", execStart: JOB_ARGV, timeoutSeconds: 1.5 })).toThrow("whole number of seconds from 1");
    expect(() => timerUnit({ description: "d", onCalendar: [], unit: "a.service" })).toThrow("at least one OnCalendar");
    expect(() => timerUnit({ description: "d", onCalendar: ["daily\nExecStart=/bin/sh"], unit: "a.service" })).toThrow("not an OnCalendar expression");
    expect(() => timerUnit({ description: "d", onCalendar: ["daily"], unit: "a.timer" })).toThrow("not a service unit name");
    expect(serviceUnit({ description: "100% of db", execStart: JOB_ARGV, timeoutSeconds: 60 })).toContain("Description=100%% of db\n");
    expect(serviceUnit({ description: "d", execStart: JOB_ARGV, timeoutSeconds: 60, user: "deploy" })).toContain("\nType=oneshot\nUser=deploy\nExecStart=");
    for (const user of ["", "Root", "de ploy", "a\nExecStart=/bin/sh", "x".repeat(33)]) {
      expect(() => serviceUnit({ description: "d", execStart: JOB_ARGV, timeoutSeconds: 60, user }), user).toThrow("a unit's user must be a login name");
    }
  });

  it("passes systemd-analyze verify, and verify catches a missing program", () => {
    const dir = tempDir("railyard-units-");
    fs.writeFileSync(path.join(dir, `${NAME}.service`), service());
    fs.writeFileSync(path.join(dir, `${NAME}.timer`), timer());
    verify([path.join(dir, `${NAME}.service`), path.join(dir, `${NAME}.timer`)]);
    // The check can fail: the same unit with a program that does not exist.
    fs.writeFileSync(path.join(dir, "broken.service"), service().replace("/usr/bin/bash", "/usr/bin/railyard-missing"));
    const r = spawnSync("systemd-analyze", ["verify", "--man=no", path.join(dir, "broken.service")], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("is not executable");
  });

  it("systemd parses ExecStart back into exactly the argv given, hostile words included", () => {
    const dir = tempDir("railyard-exec-");
    const script = path.join(dir, "job.sh");
    fs.writeFileSync(script, "#!/bin/bash\n", { mode: 0o755 });
    const argv = ["/usr/bin/bash", script, ...EXEC_HOSTILE];
    fs.writeFileSync(path.join(dir, "railyard-t-backup-db.service"), serviceUnit({ description: "railyard: 100% $HOME", execStart: argv, timeoutSeconds: 60 }));
    verify([path.join(dir, "railyard-t-backup-db.service")]);
    expect(systemdArgv(dir, "railyard-t-backup-db.service")).toEqual(argv);
  });
});

describe("unit names", () => {
  it("are railyard-<stack>.<job>-<database>, from railyard names only, and two stacks never share one", () => {
    expect(scheduleUnitName("production", "backup", "postgres")).toBe("railyard-production.backup-postgres");
    expect(scheduleUnitName("staging", "drill", "redis")).toBe("railyard-staging.drill-redis");
    const long = `a${"b".repeat(62)}`;
    expect(scheduleUnitName(long, "drill", long)).toBe(`railyard-${long}.drill-${long}`);
    // Stack "prod" with database "drill-pg", and stack "prod-backup" with database "pg".
    expect(scheduleUnitName("prod", "backup", "drill-pg")).not.toBe(scheduleUnitName("prod-backup", "drill", "pg"));
    for (const bad of ["", "Prod", "1st", "a_b", "a.b", "-a", "a-", `a${"b".repeat(63)}`, "a b", "../x", ...HOSTILE.filter((h) => h !== "plain")]) {
      expect(() => scheduleUnitName(bad, "backup", "postgres"), JSON.stringify(bad)).toThrow("a scheduled job's stack must be");
      expect(() => scheduleUnitName("production", "backup", bad), JSON.stringify(bad)).toThrow("a scheduled job's database must be");
    }
    expect(() => scheduleUnitName("production", "restore" as "backup", "postgres")).toThrow("backup or drill");
  });

  it("refuse a unit folder or name that is not plain", () => {
    for (const unitDir of ["etc/systemd", "/etc/../tmp", "/etc/systemd/", "/etc/sys temd", "/etc/$(x)"]) {
      expect(() => removeUnitsCommand({ name: NAME, unitDir }), unitDir).toThrow("unitDir must be an absolute path");
    }
    expect(() => removeUnitsCommand({ name: "x;y" })).toThrow("not a systemd unit name");
    expect(() => removeUnitsCommand({ name: ".hidden" })).toThrow("not a systemd unit name");
  });
});

/** What the commands wrap their script in (commands/asRoot.ts, tested in test/as-root.test.ts). */
const asRootLines = (script: string, verb = "installing") => asRootCommand(`${NAME}: ${verb} systemd units`, script);

describe("install and remove commands", () => {
  it("build the exact lines", () => {
    expect(installUnitsCommand({ name: NAME, service: "S'1\n", timer: "T\n" })).toBe(
      asRootLines([
        "if [ ! -d /run/systemd/system ]; then { echo 'railyard: railyard-production.backup-postgres: this host has no running systemd (/run/systemd/system is missing): scheduled jobs run as systemd timers; boot the host with systemd as init' >&2; exit 70; }; fi",
        "{ printf '%s' 'S'\\''1\n' > /etc/systemd/system/.railyard-production.backup-postgres.service.tmp && chmod 0644 /etc/systemd/system/.railyard-production.backup-postgres.service.tmp && mv -f /etc/systemd/system/.railyard-production.backup-postgres.service.tmp /etc/systemd/system/railyard-production.backup-postgres.service && " +
          "printf '%s' 'T\n' > /etc/systemd/system/.railyard-production.backup-postgres.timer.tmp && chmod 0644 /etc/systemd/system/.railyard-production.backup-postgres.timer.tmp && mv -f /etc/systemd/system/.railyard-production.backup-postgres.timer.tmp /etc/systemd/system/railyard-production.backup-postgres.timer; } || " +
          "{ rm -f /etc/systemd/system/.railyard-production.backup-postgres.service.tmp /etc/systemd/system/.railyard-production.backup-postgres.timer.tmp; { echo 'railyard: railyard-production.backup-postgres: could not write its units in /etc/systemd/system (installing units needs root)' >&2; exit 71; }; }",
        "{ systemctl daemon-reload && systemctl enable railyard-production.backup-postgres.timer && systemctl restart railyard-production.backup-postgres.timer; } || { echo 'railyard: railyard-production.backup-postgres: systemctl could not load, enable or start railyard-production.backup-postgres.timer' >&2; exit 72; }",
      ].join("\n")),
    );
    expect(removeUnitsCommand({ name: NAME })).toBe(
      asRootLines([
        "if [ -d /run/systemd/system ] && [ -e /etc/systemd/system/railyard-production.backup-postgres.timer ]; then if ! systemctl disable --now railyard-production.backup-postgres.timer && systemctl is-active --quiet railyard-production.backup-postgres.timer; then { echo 'railyard: railyard-production.backup-postgres: systemctl could not stop railyard-production.backup-postgres.timer' >&2; exit 72; }; fi; fi",
        "rm -f /etc/systemd/system/railyard-production.backup-postgres.timer /etc/systemd/system/railyard-production.backup-postgres.service /etc/systemd/system/.railyard-production.backup-postgres.timer.tmp /etc/systemd/system/.railyard-production.backup-postgres.service.tmp /etc/systemd/system/timers.target.wants/railyard-production.backup-postgres.timer || { echo 'railyard: railyard-production.backup-postgres: could not remove its units from /etc/systemd/system' >&2; exit 71; }",
        "if [ -d /run/systemd/system ]; then systemctl daemon-reload || { echo 'railyard: railyard-production.backup-postgres: systemctl daemon-reload failed' >&2; exit 72; }; systemctl reset-failed railyard-production.backup-postgres.service railyard-production.backup-postgres.timer 2>/dev/null || :; fi",
      ].join("\n"), "removing"),
    );
  });

  /**
   * A host: a unit folder, a folder standing for /run/systemd/system, and a `systemctl` first on PATH that logs
   * its argv (one call a line) and fails when its first argument is listed in $FAIL (and `is-active` answers
   * $ACTIVE's status).
   */
  function fakeHost(opts: { systemd?: boolean } = {}) {
    const root = tempDir("railyard-sched-");
    const unitDir = path.join(root, "etc-systemd-system");
    const runDir = path.join(root, "run-systemd-system");
    const bin = path.join(root, "bin");
    fs.mkdirSync(unitDir);
    fs.mkdirSync(bin);
    if (opts.systemd !== false) fs.mkdirSync(runDir);
    const log = path.join(root, "systemctl.log");
    fs.writeFileSync(
      path.join(bin, "systemctl"),
      `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\ncase " \${FAIL:-} " in *" $1 "*) echo "systemctl: $1 failed" >&2; exit 1;; esac\n[ "$1" = is-active ] && exit "\${ACTIVE:-3}"\nexit 0\n`,
      { mode: 0o755 },
    );
    const calls = () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trimEnd().split("\n") : []);
    const run = (shell: string, command: string, env: Record<string, string> = {}) =>
      spawnSync(shell, ["-c", command], { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, ...env } });
    const files = () => fs.readdirSync(unitDir).sort();
    return { root, unitDir, runDir, log, calls, run, files };
  }

  for (const shell of ["sh", "bash"]) {
    it(`install writes both units, reloads, enables and restarts the timer; again with new units it replaces them (${shell})`, () => {
      const h = fakeHost();
      // A unit whose ExecStart carries every hostile word: the file must come out byte for byte.
      const hostileService = serviceUnit({ description: "railyard: backup of t/db", execStart: ["/usr/bin/bash", "/srv/x.sh", ...EXEC_HOSTILE], timeoutSeconds: 60 });
      const cmd = installUnitsCommand({ name: NAME, unitDir: h.unitDir, systemdRunDir: h.runDir, service: hostileService, timer: timer() });
      const r = h.run(shell, cmd);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(h.files()).toEqual([`${NAME}.service`, `${NAME}.timer`]);
      expect(fs.readFileSync(path.join(h.unitDir, `${NAME}.service`), "utf8")).toBe(hostileService);
      expect(fs.readFileSync(path.join(h.unitDir, `${NAME}.timer`), "utf8")).toBe(TIMER_TEXT);
      expect(fs.statSync(path.join(h.unitDir, `${NAME}.service`)).mode & 0o777).toBe(0o644);
      expect(h.calls()).toEqual(["daemon-reload", `enable ${NAME}.timer`, `restart ${NAME}.timer`]);
      expect(fs.existsSync("/tmp/railyard-pwned")).toBe(false);

      const r2 = h.run(shell, installUnitsCommand({ name: NAME, unitDir: h.unitDir, systemdRunDir: h.runDir, service: service(), timer: timer() }));
      expect(r2.status).toBe(0);
      expect(h.files()).toEqual([`${NAME}.service`, `${NAME}.timer`]);
      expect(fs.readFileSync(path.join(h.unitDir, `${NAME}.service`), "utf8")).toBe(SERVICE_TEXT);
      expect(h.calls()).toHaveLength(6);
      // What it installed is what systemd accepts.
      verify([path.join(h.unitDir, `${NAME}.service`), path.join(h.unitDir, `${NAME}.timer`)]);
    });

    it(`install fails with exit 70 and touches nothing on a host without systemd (${shell})`, () => {
      const h = fakeHost({ systemd: false });
      const r = h.run(shell, installUnitsCommand({ name: NAME, unitDir: h.unitDir, systemdRunDir: h.runDir, service: service(), timer: timer() }));
      expect(r.status).toBe(SCHEDULE_EXIT.noSystemd);
      expect(r.stderr).toBe(
        `railyard: ${NAME}: this host has no running systemd (${h.runDir} is missing): scheduled jobs run as systemd timers; boot the host with systemd as init\n`,
      );
      expect(h.files()).toEqual([]);
      expect(h.calls()).toEqual([]);
    });

    it(`install fails with exit 71 when the unit folder cannot be written, leaving no temp file (${shell})`, () => {
      const h = fakeHost();
      const missing = path.join(h.root, "no-such-dir");
      const r = h.run(shell, installUnitsCommand({ name: NAME, unitDir: missing, systemdRunDir: h.runDir, service: service(), timer: timer() }));
      expect(r.status).toBe(SCHEDULE_EXIT.files);
      expect(r.stderr).toContain(`railyard: ${NAME}: could not write its units in ${missing} (installing units needs root)\n`);
      expect(h.calls()).toEqual([]);
      // The timer's temp name is taken by a folder: the service is in place, its temp gone, nothing reloaded.
      fs.mkdirSync(path.join(h.unitDir, `.${NAME}.timer.tmp`));
      const r2 = h.run(shell, installUnitsCommand({ name: NAME, unitDir: h.unitDir, systemdRunDir: h.runDir, service: service(), timer: timer() }));
      expect(r2.status).toBe(SCHEDULE_EXIT.files);
      expect(r2.stderr).toContain(`railyard: ${NAME}: could not write its units in ${h.unitDir} (installing units needs root)\n`);
      expect(h.files()).toEqual([`.${NAME}.timer.tmp`, `${NAME}.service`]);
      expect(h.calls()).toEqual([]);
    });

    it(`install run by a user who is not root and has no sudo fails with exit 73 and says what to grant (${shell})`, () => {
      const h = fakeHost();
      const cmd = installUnitsCommand({ name: NAME, unitDir: h.unitDir, systemdRunDir: h.runDir, service: service(), timer: timer() });
      const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", shell, "-c", cmd], {
        encoding: "utf8",
        env: { ...process.env, PATH: `${path.join(h.root, "bin")}:${process.env.PATH}` },
      });
      expect(r.status).toBe(SCHEDULE_EXIT.notRoot);
      expect(r.stderr).toContain(`railyard: ${NAME}: installing systemd units needs root`);
      expect(h.files()).toEqual([]);
      expect(h.calls()).toEqual([]);
    });

    it(`install run by a user who is not root goes through sudo -n when sudo allows it (${shell})`, () => {
      const h = fakeHost();
      // A stand-in sudo that logs its argv and runs the rest (as the same user: the folders are opened to it).
      const sudoLog = path.join(h.root, "sudo.log");
      fs.writeFileSync(path.join(h.root, "bin", "sudo"), `#!/bin/sh\nprintf '%s\\n' "$1 $2" >> '${sudoLog}'\n[ "$1" = -n ] || exit 1\nshift\nexec "$@"\n`, { mode: 0o755 });
      fs.chmodSync(h.root, 0o777);
      fs.chmodSync(h.unitDir, 0o777);
      fs.writeFileSync(h.log, "");
      fs.chmodSync(h.log, 0o666);
      const cmd = installUnitsCommand({ name: NAME, unitDir: h.unitDir, systemdRunDir: h.runDir, service: service(), timer: timer() });
      const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", shell, "-c", cmd], {
        encoding: "utf8",
        env: { ...process.env, PATH: `${path.join(h.root, "bin")}:${process.env.PATH}` },
      });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(fs.readFileSync(sudoLog, "utf8")).toBe("-n true\n-n sh\n");
      expect(h.files()).toEqual([`${NAME}.service`, `${NAME}.timer`]);
      expect(h.calls()).toEqual(["daemon-reload", `enable ${NAME}.timer`, `restart ${NAME}.timer`]);
    });

    it(`install fails with exit 72 when systemctl fails, and says which timer (${shell})`, () => {
      const h = fakeHost();
      const r = h.run(shell, installUnitsCommand({ name: NAME, unitDir: h.unitDir, systemdRunDir: h.runDir, service: service(), timer: timer() }), { FAIL: "enable" });
      expect(r.status).toBe(SCHEDULE_EXIT.systemctl);
      expect(r.stderr).toBe(`systemctl: enable failed\nrailyard: ${NAME}: systemctl could not load, enable or start ${NAME}.timer\n`);
      expect(h.calls()).toEqual(["daemon-reload", `enable ${NAME}.timer`]);
    });

    it(`remove disables the timer, removes every file and reloads; again it succeeds with nothing to do (${shell})`, () => {
      const h = fakeHost();
      expect(h.run(shell, installUnitsCommand({ name: NAME, unitDir: h.unitDir, systemdRunDir: h.runDir, service: service(), timer: timer() })).status).toBe(0);
      // What `systemctl enable` leaves, and a temp file of an install killed part-way.
      fs.mkdirSync(path.join(h.unitDir, "timers.target.wants"));
      fs.symlinkSync(path.join(h.unitDir, `${NAME}.timer`), path.join(h.unitDir, "timers.target.wants", `${NAME}.timer`));
      fs.writeFileSync(path.join(h.unitDir, `.${NAME}.service.tmp`), "half");
      fs.writeFileSync(path.join(h.unitDir, "other.timer"), "not ours");
      fs.rmSync(h.log);
      const remove = removeUnitsCommand({ name: NAME, unitDir: h.unitDir, systemdRunDir: h.runDir });
      const r = h.run(shell, remove);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(h.files()).toEqual(["other.timer", "timers.target.wants"]);
      expect(fs.readdirSync(path.join(h.unitDir, "timers.target.wants"))).toEqual([]);
      expect(h.calls()).toEqual([`disable --now ${NAME}.timer`, "daemon-reload", `reset-failed ${NAME}.service ${NAME}.timer`]);
      fs.rmSync(h.log);
      const again = h.run(shell, remove);
      expect(again.status).toBe(0);
      expect(h.calls()).toEqual(["daemon-reload", `reset-failed ${NAME}.service ${NAME}.timer`]);
    });

    it(`remove: a failed disable is fine when the timer is stopped, exit 72 when it still runs; without systemd only files go (${shell})`, () => {
      const h = fakeHost();
      const install = installUnitsCommand({ name: NAME, unitDir: h.unitDir, systemdRunDir: h.runDir, service: service(), timer: timer() });
      const remove = removeUnitsCommand({ name: NAME, unitDir: h.unitDir, systemdRunDir: h.runDir });
      expect(h.run(shell, install).status).toBe(0);
      const running = h.run(shell, remove, { FAIL: "disable", ACTIVE: "0" });
      expect(running.status).toBe(SCHEDULE_EXIT.systemctl);
      expect(running.stderr).toContain(`railyard: ${NAME}: systemctl could not stop ${NAME}.timer\n`);
      expect(h.files()).toEqual([`${NAME}.service`, `${NAME}.timer`]);
      const stopped = h.run(shell, remove, { FAIL: "disable", ACTIVE: "3" });
      expect(stopped.status).toBe(0);
      expect(h.files()).toEqual([]);

      const bare = fakeHost({ systemd: false });
      fs.writeFileSync(path.join(bare.unitDir, `${NAME}.timer`), "x");
      fs.writeFileSync(path.join(bare.unitDir, `${NAME}.service`), "x");
      const r = bare.run(shell, removeUnitsCommand({ name: NAME, unitDir: bare.unitDir, systemdRunDir: bare.runDir }));
      expect(r.status).toBe(0);
      expect(bare.files()).toEqual([]);
      expect(bare.calls()).toEqual([]);
    });
  }
});

describe("BackupSchedule", () => {
  it("installs one unit pair through Host.run: the units in create (an update re-installs), the unit name the only trigger, the removal as its delete", async () => {
    const made: { type: string; name: string; inputs: Record<string, unknown> }[] = [];
    await pulumi.runtime.setMocks(
      {
        newResource: (a) => {
          made.push({ type: a.type, name: a.name, inputs: a.inputs });
          return { id: `${a.name}-id`, state: a.inputs };
        },
        call: (a) => ({ ...a.inputs, id: "net-id" }),
      },
      "railyard",
      "production",
      false,
    );
    const { Host } = await import("../components/host");
    const { BackupSchedule } = await import("../components/backupSchedule");
    const host = new Host("host", { stack: "production", target: { mode: "local", dataDir: "/srv/railyard" }, network: "production-net" });
    const schedule = new BackupSchedule("postgres-backup", {
      host,
      stack: "production",
      job: "backup",
      database: "postgres",
      user: "deploy",
      schedules: ["*-*-* 03:00:00 UTC", "Sun *-*-* 12:00:00 UTC"],
      execStart: JOB_ARGV,
      timeoutSeconds: 3600,
      dependsOn: [],
    });
    await new Promise<void>((resolve) => schedule.install.urn.apply(() => resolve()));
    expect(schedule.unitName).toBe(NAME);
    const units = made.find((r) => r.name === "postgres-backup-units");
    expect(units?.type).toBe("command:local:Command");
    const service = SERVICE_TEXT.replace("\nExecStart=", "\nUser=deploy\nExecStart=");
    expect(units?.inputs.create).toBe(installUnitsCommand({ name: NAME, service, timer: TIMER_TEXT }));
    expect(units?.inputs.triggers).toEqual([NAME]);
    expect(units?.inputs.update).toBeUndefined();
    expect(units?.inputs.delete).toBe(removeUnitsCommand({ name: NAME }));
    expect(() => new BackupSchedule("bad", { host, stack: "production", job: "backup", database: "Bad_Name", user: "root", schedules: ["daily"], execStart: JOB_ARGV, timeoutSeconds: 60, dependsOn: [] })).toThrow(
      "a scheduled job's database must be",
    );
  });
});

describe("the real tools this file relies on", () => {
  it("are here: systemd-analyze 252 or later, systemd, setpriv, sh and bash", () => {
    const version = execFileSync("systemd-analyze", ["--version"], { encoding: "utf8" });
    expect(Number(/^systemd (\d+)/.exec(version)?.[1])).toBeGreaterThanOrEqual(252);
    for (const tool of ["/lib/systemd/systemd", "/usr/bin/setpriv", "/usr/bin/bash"]) expect(fs.existsSync(tool), tool).toBe(true);
  });
});
