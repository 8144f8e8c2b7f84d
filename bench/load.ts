/**
 * Bounded HTTP load with autocannon against a port on this machine: a fixed number of requests, or until a
 * deploy step ends and at least `min` requests were sent. Loopback only.
 */
import { execFileSync } from "node:child_process";
import autocannon from "autocannon";

export interface Phase {
  label: string;
  sent: number;
  failed: number;
  p50: number;
  p99: number;
  seconds: number;
}

export const CONNECTIONS = 10;

/** Load on http://127.0.0.1:<port>/ with the given Host header: `amount` requests, or until `until` ends and `min` were sent. */
export function load(label: string, port: number, host: string, stop: { amount: number } | { until: Promise<unknown>; min: number }): Promise<Phase> {
  return new Promise((resolve, reject) => {
    const bounded = "amount" in stop;
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${port}/`,
        headers: { host },
        connections: CONNECTIONS,
        timeout: 10,
        ...(bounded ? { amount: stop.amount } : { duration: 900 }),
      },
      (err, r) => {
        if (err) return reject(err);
        resolve({
          label,
          sent: r.requests.sent,
          failed: r.errors + r.non2xx,
          p50: r.latency.p50,
          p99: r.latency.p99,
          seconds: r.duration,
        });
      },
    );
    if (bounded) return;
    let answered = 0;
    instance.on("response", () => answered++);
    instance.on("reqError", () => answered++);
    stop.until.then(
      async () => {
        while (answered < stop.min) await new Promise((r) => setTimeout(r, 100));
        instance.stop();
      },
      (e: unknown) => {
        instance.stop();
        reject(e);
      },
    );
  });
}

/** Waits until http://127.0.0.1:<port>/ answers 200 (bounded). */
export async function waitHttp(port: number, host: string, timeoutMs = 60_000): Promise<void> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    try {
      const status = execFileSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "2", "-H", `Host: ${host}`, `http://127.0.0.1:${port}/`], {
        encoding: "utf8",
      });
      if (status === "200") return;
    } catch {
      // not answering yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing answered 200 on port ${port} within ${timeoutMs} ms`);
}

export function table(phases: Phase[]): string {
  const head = `${"phase".padEnd(34)}${"sent".padStart(8)}${"failed".padStart(8)}${"p50 ms".padStart(8)}${"p99 ms".padStart(8)}${"seconds".padStart(9)}`;
  const rows = phases.map(
    (p) =>
      `${p.label.padEnd(34)}${String(p.sent).padStart(8)}${String(p.failed).padStart(8)}${String(p.p50).padStart(8)}${String(p.p99).padStart(8)}${p.seconds.toFixed(1).padStart(9)}`,
  );
  return [head, ...rows].join("\n");
}
