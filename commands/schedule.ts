/**
 * Command builders (Kamal style) that install and remove a scheduled job's systemd units on the host: a service
 * that runs the job once and a timer that starts it (render/systemd.ts writes both). One shell command each, run
 * by `Host.run` as root over SSH (or locally in dev), POSIX sh.
 */
import { shellQuote } from "../lib/shell";
import { asRootCommand, NOT_ROOT_EXIT } from "./asRoot";

export type ScheduledJob = "backup" | "drill";

/** Where units installed by the administrator live (systemd reads it before the packages' /lib/systemd/system). */
export const UNIT_DIR = "/etc/systemd/system";
/** Exists only while systemd runs as init (what sd_booted() checks). */
export const SYSTEMD_RUN_DIR = "/run/systemd/system";

/** The commands' exit codes beside the ones `systemctl` itself may return. */
export const SCHEDULE_EXIT = {
  /** The host does not run systemd: nothing would ever start a timer. */
  noSystemd: 70,
  /** A unit file could not be written or removed. */
  files: 71,
  /** systemctl failed (daemon-reload, enable, restart, disable). */
  systemctl: 72,
  /** The SSH user is not root and cannot run `sudo` without a password (commands/asRoot.ts). */
  notRoot: NOT_ROOT_EXIT,
} as const;

/** A railyard name (railyard-lib.sh `is_name`): a lower-case DNS label that starts with a letter. */
const RAILYARD_NAME = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** systemd's unit name rules: at most 255 characters with the suffix, of letters, digits and `:-_.\`. */
const UNIT_NAME = /^[A-Za-z0-9:_.\\-]+$/;
const UNIT_NAME_MAX = 255;

/**
 * The units' name without suffix: `railyard-<stack>.<job>-<database>`, e.g. "railyard-production.backup-postgres".
 * The dot, which no railyard name holds, ends the stack's name: stacks "prod" and "prod-backup" on one host never
 * share a unit.
 * Throws when a part is not a railyard name or the name breaks systemd's rules.
 */
export function scheduleUnitName(stack: string, job: ScheduledJob, database: string): string {
  for (const [what, value] of [["stack", stack], ["database", database]] as const) {
    if (!RAILYARD_NAME.test(value)) {
      throw new Error(`railyard: a scheduled job's ${what} must be a lower-case name of at most 63 letters, digits and inner hyphens starting with a letter, got ${JSON.stringify(value)}`);
    }
  }
  if (job !== "backup" && job !== "drill") throw new Error(`railyard: a scheduled job is backup or drill, got ${JSON.stringify(job)}`);
  const name = `railyard-${stack}.${job}-${database}`;
  checkUnitName(name);
  return name;
}

function checkUnitName(name: string): void {
  if (!UNIT_NAME.test(name) || name.startsWith(".") || `${name}.service`.length > UNIT_NAME_MAX) {
    throw new Error(`railyard: not a systemd unit name: ${JSON.stringify(name)}`);
  }
}

function checkDir(what: string, dir: string): void {
  if (!/^\/([A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*)?$/.test(dir) || /(^|\/)\.\.(\/|$)/.test(dir)) {
    throw new Error(`railyard: ${what} must be an absolute path of plain characters without .. or a trailing /, got ${JSON.stringify(dir)}`);
  }
}

export interface UnitLocation {
  /** The units' name without suffix (scheduleUnitName). */
  name: string;
  /** @default "/etc/systemd/system" */
  unitDir?: string;
  /** Where a running systemd shows itself (tests point it elsewhere). @default "/run/systemd/system" */
  systemdRunDir?: string;
}

export interface UnitPair extends UnitLocation {
  /** The service unit's text (serviceUnit). */
  service: string;
  /** The timer unit's text (timerUnit). */
  timer: string;
}

function locate(a: UnitLocation) {
  const unitDir = a.unitDir ?? UNIT_DIR;
  const runDir = a.systemdRunDir ?? SYSTEMD_RUN_DIR;
  checkUnitName(a.name);
  checkDir("unitDir", unitDir);
  checkDir("systemdRunDir", runDir);
  const file = (suffix: string) => `${unitDir}/${a.name}.${suffix}`;
  // A dot-file without a unit suffix: systemd never loads a half-written one.
  const temp = (suffix: string) => `${unitDir}/.${a.name}.${suffix}.tmp`;
  const fail = (code: number, message: string) => `{ echo ${shellQuote(`railyard: ${a.name}: ${message}`)} >&2; exit ${code}; }`;
  return { unitDir, runDir, file, temp, fail, timer: `${a.name}.timer`, service: `${a.name}.service` };
}

/**
 * Installs (or updates) the pair: refuses a host without a running systemd (exit 70); writes each file to a
 * temporary name in the unit folder and renames it over the old one (exit 71 when it cannot); reloads systemd,
 * enables the timer (started again at boot) and restarts it, so a changed schedule is in force at once whatever
 * state the timer was in (exit 72 when systemctl fails). With Persistent=true a restart runs no job unless a slot
 * was missed. A job running at that moment is left to finish.
 */
export function installUnitsCommand(a: UnitPair): string {
  const l = locate(a);
  const write = (suffix: string, text: string) =>
    `printf '%s' ${shellQuote(text)} > ${l.temp(suffix)} && chmod 0644 ${l.temp(suffix)} && mv -f ${l.temp(suffix)} ${l.file(suffix)}`;
  return asRootCommand(`${a.name}: installing systemd units`, [
    `if [ ! -d ${l.runDir} ]; then ${l.fail(SCHEDULE_EXIT.noSystemd, `this host has no running systemd (${l.runDir} is missing): scheduled jobs run as systemd timers; boot the host with systemd as init`)}; fi`,
    `{ ${write("service", a.service)} && ${write("timer", a.timer)}; } || { rm -f ${l.temp("service")} ${l.temp("timer")}; ${l.fail(SCHEDULE_EXIT.files, `could not write its units in ${l.unitDir} (installing units needs root)`)}; }`,
    `{ systemctl daemon-reload && systemctl enable ${l.timer} && systemctl restart ${l.timer}; } || ${l.fail(SCHEDULE_EXIT.systemctl, `systemctl could not load, enable or start ${l.timer}`)}`,
  ].join("\n"));
}

/**
 * Removes the pair: stops and disables the timer (a job running at that moment is left to finish), removes both
 * files and reloads systemd. Succeeds when they are already gone, and on a host without systemd (nothing runs
 * them there) it only removes the files.
 */
export function removeUnitsCommand(a: UnitLocation): string {
  const l = locate(a);
  return asRootCommand(`${a.name}: removing systemd units`, [
    `if [ -d ${l.runDir} ] && [ -e ${l.file("timer")} ]; then if ! systemctl disable --now ${l.timer} && systemctl is-active --quiet ${l.timer}; then ${l.fail(SCHEDULE_EXIT.systemctl, `systemctl could not stop ${l.timer}`)}; fi; fi`,
    `rm -f ${l.file("timer")} ${l.file("service")} ${l.temp("timer")} ${l.temp("service")} ${l.unitDir}/timers.target.wants/${l.timer} || ${l.fail(SCHEDULE_EXIT.files, `could not remove its units from ${l.unitDir}`)}`,
    `if [ -d ${l.runDir} ]; then systemctl daemon-reload || ${l.fail(SCHEDULE_EXIT.systemctl, "systemctl daemon-reload failed")}; systemctl reset-failed ${l.service} ${l.timer} 2>/dev/null || :; fi`,
  ].join("\n"));
}

