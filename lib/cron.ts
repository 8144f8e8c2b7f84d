/**
 * Cron expressions (UTC) as systemd OnCalendar expressions. The stack file speaks cron, which operators know;
 * the host runs systemd timers, which survive reboots and run a missed slot (Persistent=true). Only what a
 * timer fires at exactly the same minutes as Debian's cron is converted; anything else is a problem returned
 * as data ("expected …, got …") for the config layer to report with its key path.
 *
 * Each field is expanded to the set of values cron would match, then printed in the form systemd prints it back
 * (`systemd-analyze calendar` shows the same text as its normalized form): two-digit values, runs of three or
 * more as `a..b`, arithmetic steps as `a/n` or `a..b/n`, weekdays Mon first.
 */
import { describe } from "../config/problems";

/** Longest expression accepted: cron lines are short; a longer value is a mistake (or an attack on a log). */
export const CRON_MAX_LENGTH = 64;

export interface CronProblem {
  /** What was expected (the config layer prefixes "expected"). */
  expected: string;
  /** What was found, quoted for a message. */
  got: string;
}

export type CronResult = { ok: true; onCalendar: string } | { ok: false; problem: CronProblem };

interface Field {
  /** As a message names it. */
  name: string;
  /** Its position in the expression, from 1. */
  position: number;
  min: number;
  max: number;
  /** Three-letter names, the first standing for `min` (day-of-week: sun = 0). */
  names?: string[];
  /** How a message describes an allowed value. */
  allowed: string;
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const FIELDS: Field[] = [
  { name: "minute", position: 1, min: 0, max: 59, allowed: "0 to 59" },
  { name: "hour", position: 2, min: 0, max: 23, allowed: "0 to 23" },
  { name: "day-of-month", position: 3, min: 1, max: 31, allowed: "1 to 31" },
  { name: "month", position: 4, min: 1, max: 12, names: MONTHS, allowed: "1 to 12 or jan to dec" },
  { name: "day-of-week", position: 5, min: 0, max: 7, names: WEEKDAYS, allowed: "0 to 7 (0 and 7 are Sunday) or sun to sat" },
];

/** Cron's macros, as the five fields Debian's cron gives them (@weekly is Sunday; systemd's `weekly` is Monday). */
const MACROS: Record<string, string> = {
  "@hourly": "0 * * * *",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@weekly": "0 0 * * 0",
  "@monthly": "0 0 1 * *",
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
};

const EXPECTED_EXPRESSION =
  "a cron expression in UTC (5 fields: minute hour day-of-month month day-of-week) or @hourly, @daily, @weekly, @monthly, @yearly";

/** Days in each month at most (February 29 in leap years): a day-of-month no month given has never fires. */
const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/** systemd's weekday names, in its order (Monday first); cron's day-of-week d is systemd's (d + 6) % 7. */
const SYSTEMD_WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

class Problem extends Error {
  constructor(readonly problem: CronProblem) {
    super(`expected ${problem.expected}, got ${problem.got}`);
  }
}

/**
 * The OnCalendar expression (with an explicit UTC zone) that fires at the same minutes as `expression` under
 * Debian's cron, or the problem with it. When both day-of-month and day-of-week are restricted, cron runs on days
 * matching either; a timer matches both, so that is refused (two schedules, one per field, say the same thing).
 */
export function cronToOnCalendar(expression: unknown): CronResult {
  try {
    return { ok: true, onCalendar: convert(expression) };
  } catch (e) {
    if (e instanceof Problem) return { ok: false, problem: e.problem };
    throw e;
  }
}

function convert(expression: unknown): string {
  if (typeof expression !== "string") throw new Problem({ expected: EXPECTED_EXPRESSION, got: describe(expression) });
  if (expression.length > CRON_MAX_LENGTH) {
    throw new Problem({ expected: `a cron expression of at most ${CRON_MAX_LENGTH} characters`, got: `${expression.length} characters` });
  }
  const text = expression.replace(/^[ \t]+|[ \t]+$/g, "");
  if (text === "") throw new Problem({ expected: EXPECTED_EXPRESSION, got: describe(expression) });
  if (text.startsWith("@")) {
    const fields = MACROS[text];
    if (fields === undefined) {
      throw new Problem({ expected: "@hourly, @daily, @weekly, @monthly or @yearly (or 5 cron fields)", got: describe(expression) });
    }
    return convert(fields);
  }
  if (!/^[A-Za-z0-9*,/ \t-]+$/.test(text)) {
    throw new Problem({ expected: `${EXPECTED_EXPRESSION}: digits, month and weekday names, * , - / and spaces`, got: describe(expression) });
  }
  const parts = text.split(/[ \t]+/);
  if (parts.length !== 5) {
    throw new Problem({
      expected: "5 fields: minute hour day-of-month month day-of-week (UTC; no seconds or year field)",
      got: `${parts.length} field${parts.length === 1 ? "" : "s"} in ${describe(expression)}`,
    });
  }
  const [minute, hour, dom, month, dow] = FIELDS.map((f, i) => parseField(f, parts[i], expression));
  // Debian's cron: a day field whose text starts with "*" is unrestricted for this rule (even "*/2").
  const domStar = parts[2].startsWith("*");
  const dowStar = parts[4].startsWith("*");
  const weekdays = new Set([...dow].map((d) => d % 7));
  let days = dom;
  let anyWeekday = weekdays.size === 7;
  if (!domStar && !dowStar) {
    const domAll = dom.size === 31;
    if (!domAll && !anyWeekday) {
      throw new Problem({
        expected:
          "a day-of-month or a day-of-week, not both: cron runs on days matching either, a systemd timer only on days matching both (give two schedules, one for each)",
        got: describe(expression),
      });
    }
    // Either one matches every day, so the other changes nothing.
    days = new Set(range(1, 31));
    anyWeekday = true;
  }
  if (![...month].some((m) => [...days].some((d) => d <= MONTH_DAYS[m - 1]))) {
    throw new Problem({ expected: "a day-of-month that exists in one of the months given (it would never run)", got: describe(expression) });
  }
  const weekdayPart = anyWeekday ? "" : `${weekdayList(weekdays)} `;
  return `${weekdayPart}*-${numbers([...month], 1, 12)}-${numbers([...days], 1, 31)} ${numbers([...hour], 0, 23)}:${numbers([...minute], 0, 59)}:00 UTC`;
}

/** The values one field matches: a comma list of `*`, values, ranges `a-b` and steps (a and b numbers or names). */
function parseField(f: Field, text: string, expression: string): Set<number> {
  const values = new Set<number>();
  const where = (item: string) => `${describe(item)} in ${describe(expression)}`;
  const label = `field ${f.position}, ${f.name}`;
  for (const item of text.split(",")) {
    const m = /^(\*|([A-Za-z0-9]+)(?:-([A-Za-z0-9]+))?)(?:\/([0-9]+))?$/.exec(item);
    if (!m) {
      throw new Problem({ expected: `*, a value, a range a-b, a step */n or a-b/n, or a list of them (${label})`, got: where(item) });
    }
    const [, , lowText, highText, stepText] = m;
    if (stepText !== undefined) {
      const step = Number(stepText);
      if (!/^[0-9]{1,2}$/.test(stepText) || step < 1 || step > f.max) {
        throw new Problem({ expected: `a step from 1 to ${f.max} (${label})`, got: where(item) });
      }
      if (lowText !== undefined && highText === undefined) {
        throw new Problem({ expected: `a step after * or a range (*/n or a-b/n, ${label})`, got: where(item) });
      }
    }
    const low = lowText === undefined ? f.min : value(f, lowText, label, where(item));
    const high = lowText === undefined ? f.max : highText === undefined ? low : value(f, highText, label, where(item));
    if (low > high) {
      throw new Problem({ expected: `a range low-high with low at most high (${label}; cron ranges do not wrap)`, got: where(item) });
    }
    const step = stepText === undefined ? 1 : Number(stepText);
    for (let v = low; v <= high; v += step) values.add(v);
  }
  return values;
}

function value(f: Field, text: string, label: string, where: string): number {
  const name = f.names?.indexOf(text.toLowerCase()) ?? -1;
  if (name >= 0) return f.min + name;
  const n = /^[0-9]{1,2}$/.test(text) ? Number(text) : NaN;
  if (!(n >= f.min && n <= f.max)) throw new Problem({ expected: `a value from ${f.allowed} (${label})`, got: where });
  return n;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

const pad = (n: number) => String(n).padStart(2, "0");

/** A set of values as systemd prints it: `*`, `a..b`, `a/n`, `a..b/n`, or a list of values and runs. */
function numbers(set: number[], min: number, max: number): string {
  const v = [...set].sort((a, b) => a - b);
  if (v.length === max - min + 1) return "*";
  if (v.length >= 3) {
    const d = v[1] - v[0];
    if (v.every((x, i) => i === 0 || x - v[i - 1] === d)) {
      const last = v[v.length - 1];
      if (d === 1) return `${pad(v[0])}..${pad(last)}`;
      return last + d > max ? `${pad(v[0])}/${d}` : `${pad(v[0])}..${pad(last)}/${d}`;
    }
  }
  return runs(v).map((r) => (r.length >= 3 ? `${pad(r[0])}..${pad(r[r.length - 1])}` : r.map(pad).join(","))).join(",");
}

/** Weekdays (cron numbering, Sunday 0) as systemd prints them: Monday first, runs of three or more as `A..B`. */
function weekdayList(days: Set<number>): string {
  const order = [...days].map((d) => (d + 6) % 7).sort((a, b) => a - b);
  return runs(order)
    .map((r) => (r.length >= 3 ? `${SYSTEMD_WEEKDAYS[r[0]]}..${SYSTEMD_WEEKDAYS[r[r.length - 1]]}` : r.map((i) => SYSTEMD_WEEKDAYS[i]).join(",")))
    .join(",");
}

/** Sorted values cut into runs of consecutive ones. */
function runs(sorted: number[]): number[][] {
  const out: number[][] = [];
  for (const x of sorted) {
    const last = out[out.length - 1];
    if (last && x === last[last.length - 1] + 1) last.push(x);
    else out.push([x]);
  }
  return out;
}
