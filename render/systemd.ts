/**
 * systemd units for the host's scheduled jobs (backups and restore drills): a oneshot service that runs one host
 * script, and the timer that starts it. Pure text, checked by `systemd-analyze verify` in the tests. Nothing
 * secret ever goes in a unit (they are world-readable files under /etc/systemd/system): only paths to root-only
 * files, which the script reads.
 */
import { UNIX_USER } from "../config/patterns";

export interface ServiceUnit {
  description: string;
  /** The program (an absolute path) and its arguments, each passed to it exactly as given. */
  execStart: string[];
  /** Seconds the job may run before systemd stops it and records it as failed (TimeoutStartSec). */
  timeoutSeconds: number;
  /** The user it runs as (the owner of the files it reads). @default root (no User= line) */
  user?: string;
}

export interface TimerUnit {
  description: string;
  /** OnCalendar expressions (lib/cron.ts makes them from the stack file's cron lines); the timer fires on each. */
  onCalendar: string[];
  /** The service it starts, e.g. "railyard-production-backup-postgres.service". */
  unit: string;
}

/**
 * The job's service. Type=oneshot: the unit is "activating" while the script runs and "failed" when it exits
 * non-zero (what `systemctl status` and `--failed` show), and a second start while it runs is merged into the
 * running one, never a second dump beside it.
 * Nice=10: zstd compresses on every core (-T0) beside the live app; a lower priority keeps the app's latency
 * while the job still gets idle CPU. The dump tool itself runs in the database's container (docker exec), not in
 * this cgroup, so this never slows the database's own work.
 * IOSchedulingClass=best-effort at the lowest priority (7), not idle: the job writes nothing to the host's disk
 * (the dump is streamed), and the idle class may starve under BFQ/CFQ while the app does I/O, so a backup could
 * miss its hour and run into its timeout.
 * UMask=0077: whatever the script records (state files) is readable by root only.
 */
export function serviceUnit(u: ServiceUnit): string {
  checkText("description", u.description);
  if (!Number.isInteger(u.timeoutSeconds) || u.timeoutSeconds < 1) {
    throw new Error(`railyard: a unit's timeout must be a whole number of seconds from 1, got ${u.timeoutSeconds}`);
  }
  if (u.user !== undefined && !UNIX_USER.test(u.user)) {
    throw new Error(`railyard: a unit's user must be a login name such as root or deploy, got ${JSON.stringify(u.user)}`);
  }
  return lines([
    "[Unit]",
    `Description=${escapeSpecifiers(u.description)}`,
    // The job talks to Docker (the dump runs in the database's task) and to the bucket.
    "Wants=network-online.target",
    "After=network-online.target docker.service",
    "",
    "[Service]",
    "Type=oneshot",
    ...(u.user === undefined ? [] : [`User=${u.user}`]),
    `ExecStart=${execLine(u.execStart)}`,
    `TimeoutStartSec=${u.timeoutSeconds}`,
    "Nice=10",
    "IOSchedulingClass=best-effort",
    "IOSchedulingPriority=7",
    "UMask=0077",
  ]);
}

/**
 * The job's timer. Persistent=true: the time of the last run is kept on disk, so a slot missed while the host
 * was down (or the timer stopped) runs as soon as the timer starts again — the schedule survives reboots.
 * AccuracySec=1s: systemd's default lets a timer fire up to a minute late to batch wake-ups; the job should start
 * at the time the stack file says, which is also the time in its object key and in the recorded RPO.
 * RandomizedDelaySec=0 (systemd's default, written so that nobody assumes otherwise): one host runs its own
 * jobs, there is no fleet to spread; the operator chose a quiet hour and the job runs in it.
 */
export function timerUnit(t: TimerUnit): string {
  checkText("description", t.description);
  if (t.onCalendar.length === 0) throw new Error("railyard: a timer needs at least one OnCalendar expression");
  for (const c of t.onCalendar) {
    if (!/^[A-Za-z0-9*,./:~ -]+$/.test(c)) throw new Error(`railyard: not an OnCalendar expression: ${JSON.stringify(c)}`);
  }
  if (!/^[A-Za-z0-9:_.\\@-]+\.service$/.test(t.unit)) throw new Error(`railyard: not a service unit name: ${JSON.stringify(t.unit)}`);
  return lines([
    "[Unit]",
    `Description=${escapeSpecifiers(t.description)}`,
    "",
    "[Timer]",
    ...t.onCalendar.map((c) => `OnCalendar=${c}`),
    `Unit=${t.unit}`,
    "Persistent=true",
    "AccuracySec=1s",
    "RandomizedDelaySec=0",
    "",
    "[Install]",
    "WantedBy=timers.target",
  ]);
}

function lines(l: string[]): string {
  return `${l.join("\n")}\n`;
}

/** One line of printable text (a unit's line cannot hold a newline; a control character has no business there). */
function checkText(what: string, value: string): void {
  if (value.length === 0 || /[\u0000-\u001f\u007f]/.test(value) || value !== value.trim()) {
    throw new Error(`railyard: a unit's ${what} must be one line of text without control characters or edge spaces, got ${JSON.stringify(value)}`);
  }
}

/** `%` starts a specifier (%n, %h, …) in most unit settings; `%%` is a literal `%`. */
function escapeSpecifiers(text: string): string {
  return text.replace(/%/g, "%%");
}

/** Words that systemd reads back as themselves without quotes. */
const PLAIN_WORD = /^[A-Za-z0-9_./:@+=,-]+$/;

/**
 * An argv as an ExecStart= line, by systemd's own rules (systemd.syntax(7) "Quoting", systemd.service(5)
 * "Command lines"): a word of plain characters as it is, any other in double quotes with `\` and `"` escaped and
 * control characters as C escapes; `%` doubled (specifiers are expanded when the unit is loaded) and `$` doubled
 * (variables are expanded when the command runs). A quoted ";" is an argument, never a command separator.
 * `systemd-escape` is something else: it makes unit names and paths, not command lines.
 */
export function execLine(argv: string[]): string {
  if (argv.length === 0) throw new Error("railyard: ExecStart needs a program");
  const [program] = argv;
  if (!/^\/[^\u0000-\u001f\u007f]*$/.test(program) || program.includes("$")) {
    throw new Error(`railyard: ExecStart's program must be an absolute path without control characters or $, got ${JSON.stringify(program)}`);
  }
  return argv.map(execWord).join(" ");
}

function execWord(word: string): string {
  if (word.includes("\u0000")) throw new Error("railyard: an argument cannot hold a NUL character");
  if (/[\ud800-\udfff]/u.test(word)) throw new Error(`railyard: an argument must be valid Unicode, got ${JSON.stringify(word)}`);
  if (PLAIN_WORD.test(word)) return word;
  const escaped = word.replace(/[\\"\u0001-\u001f\u007f%$]/g, (c) => {
    switch (c) {
      case "\\":
        return "\\\\";
      case '"':
        return '\\"';
      case "%":
        return "%%";
      case "$":
        return "$$";
      case "\n":
        return "\\n";
      case "\t":
        return "\\t";
      default:
        return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
    }
  });
  return `"${escaped}"`;
}
