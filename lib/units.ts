/** Parsing and printing of the durations and sizes the stack files use ("30s", "2m", "512M"). */

/** A stack file's duration: one unit, at most 9 digits (nothing the parser or the engine could overflow). */
export const DURATION_PATTERN = /^(\d{1,9})(ms|s|m|h)$/;
export const MEMORY_PATTERN = /^(\d{1,9})([KMG])$/;

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
/** A duration in Go's syntax: one or more number-unit parts. */
const GO_DURATION = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/;
const MEMORY_BYTES: Record<string, number> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/**
 * Milliseconds in a duration: the stack file's form ("30s", "1500ms") or Go's, as Docker and the provider print
 * it ("1m30s", "1.5s", "1h0m1s"); throws on anything else.
 */
export function durationMs(value: string): number {
  if (!GO_DURATION.test(value)) throw new Error(`not a duration: ${JSON.stringify(value)}`);
  const ns = [...value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)].reduce((sum, m) => sum + Number(m[1]) * UNIT_NS[m[2]], 0);
  return Math.round(ns) / 1e6;
}

/** The digits of a fraction v / 10^prec without trailing zeros ("" when it is 0), and the integer part. */
function fraction(v: bigint, prec: number): { text: string; whole: bigint } {
  const scale = 10n ** BigInt(prec);
  const digits = (v % scale).toString().padStart(prec, "0").replace(/0+$/, "");
  return { text: digits === "" ? "" : `.${digits}`, whole: v / scale };
}

/**
 * A duration printed the way the Docker provider reads it back: Go's time.Duration.String ("500ms", "1.5s",
 * "1m30s", "1h0m1s") with a trailing "0s" after minutes and "0m" after hours trimmed ("1m", "1h", "1h30m").
 * Declaring this exact form is what keeps the next `pulumi up` from seeing a change.
 */
export function goDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new Error(`not a duration: ${ms} ms`);
  const ns = BigInt(Math.round(ms * 1e6));
  if (ns === 0n) return "0s";
  if (ns < 1_000_000_000n) {
    const [prec, unit] = ns < 1_000n ? [0, "ns"] : ns < 1_000_000n ? [3, "µs"] : [6, "ms"];
    const f = fraction(ns, prec);
    return `${f.whole}${f.text}${unit}`;
  }
  const f = fraction(ns, 9);
  const seconds = f.whole % 60n;
  const minutes = (f.whole / 60n) % 60n;
  const hours = f.whole / 3600n;
  let text = `${seconds}${f.text}s`;
  if (f.whole >= 60n) text = `${minutes}m${text}`;
  if (hours > 0n) text = `${hours}h${text}`;
  if (text.endsWith("m0s")) text = text.slice(0, -2);
  if (text.endsWith("h0m")) text = text.slice(0, -2);
  return text;
}

/** Bytes in a memory size such as "512M"; throws on anything else. */
export function memoryBytes(value: string): number {
  const match = MEMORY_PATTERN.exec(value);
  if (!match) throw new Error(`not a memory size: ${JSON.stringify(value)}`);
  return Number(match[1]) * MEMORY_BYTES[match[2]];
}

/** Docker's NanoCPUs for a CPU count such as 0.5. */
export function nanoCpus(cpus: number): number {
  return Math.round(cpus * 1e9);
}
