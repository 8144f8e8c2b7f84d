/**
 * Constant load through a bed's edge (the front's published port on a node's address), each request on a fresh
 * connection (edgeClient): until a step ends and at least `min` requests were sent. Every failure is counted
 * (a refused connection, a timeout, a status other than 200), with the first few reasons kept; its loop then pauses
 * FAILURE_PAUSE_MS (latencies include that pause).
 */
import { edgeRequest, loadWhile } from "../edgeClient";
import { EDGE_HTTP_PORT } from "../probe";

export interface Load {
  sent: number;
  failed: number;
  failures: string[];
  p50: number;
  p99: number;
  seconds: number;
}

export const LOAD_WORKERS = 4;
export const FAILURE_PAUSE_MS = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function loadThrough(address: string, host: string, until: Promise<unknown>, min = 0, workers = LOAD_WORKERS): Promise<Load> {
  const began = Date.now();
  // A failed request is followed by a pause of its loop (as a client retrying would), so an outage counts failed
  // attempts at a bounded rate instead of as fast as refused connections come back.
  const request = () =>
    edgeRequest({ scheme: "http", address, port: EDGE_HTTP_PORT, host, path: "/" }).then(
      async (res) => {
        if (res.status !== 200) await sleep(FAILURE_PAUSE_MS);
        return res;
      },
      async (e: unknown) => {
        await sleep(FAILURE_PAUSE_MS);
        throw e;
      },
    );
  const { latencies, ...result } = await loadWhile(until, request, workers, min);
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { ...result, p50: at(0.5), p99: at(0.99), seconds: (Date.now() - began) / 1000 };
}
