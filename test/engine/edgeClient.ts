/**
 * Requests to the edge as a browser would send them: to this machine's published port (or another address's), with the domain as Host
 * header and TLS server name, each on a fresh connection (no keep-alive), so a refused connection shows.
 */
import * as http from "node:http";
import * as https from "node:https";

export interface EdgeRequest {
  scheme: "http" | "https";
  /** Where the edge's port is published: @default 127.0.0.1 (this machine); a bed node's address on a multi-node bed. */
  address?: string;
  port: number;
  host: string;
  path?: string;
  method?: string;
  body?: Buffer;
  /** CA certificate to verify the edge's certificate with (https). */
  ca?: Buffer;
}

export interface EdgeResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function edgeRequest(r: EdgeRequest): Promise<EdgeResponse> {
  return new Promise((resolve, reject) => {
    const options = {
      host: r.address ?? "127.0.0.1",
      port: r.port,
      path: r.path ?? "/",
      method: r.method ?? "GET",
      // A body waits for the server's 100 Continue, as curl does with large bodies: a server that refuses it (413)
      // answers before any of it is sent, instead of closing mid-upload (a reset can then swallow the 413).
      headers: { Host: r.host, ...(r.body ? { "Content-Length": String(r.body.length), Expect: "100-continue" } : {}) },
      agent: false as const,
      timeout: 10_000,
    };
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() });
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", done);
      // A server that refuses a body (413) may close while the body is still being sent: the status stands.
      res.on("error", done);
    };
    const req = r.scheme === "https" ? https.request({ ...options, servername: r.host, ca: r.ca }, onResponse) : http.request(options, onResponse);
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    // Once: a proxy may pass on the app's own 100 Continue after sending its own (Caddy before uvicorn does).
    if (r.body) req.once("continue", () => req.end(r.body));
    else req.end();
  });
}

/**
 * Sends requests on fresh connections from `workers` loops until `until` resolves and at least `min` were sent;
 * counts answers and failures, and keeps each request's milliseconds (latencies, in the order they ended).
 */
export async function loadWhile(
  until: Promise<unknown>,
  request: () => Promise<EdgeResponse>,
  workers = 4,
  min = 0,
): Promise<{ sent: number; failed: number; failures: string[]; latencies: number[] }> {
  let done = false;
  const result = { sent: 0, failed: 0, failures: [] as string[], latencies: [] as number[] };
  const loop = async () => {
    while (!done || result.sent < min) {
      result.sent++;
      const began = Date.now();
      try {
        const res = await request();
        if (res.status !== 200) throw new Error(`status ${res.status}`);
      } catch (e) {
        result.failed++;
        if (result.failures.length < 10) result.failures.push(e instanceof Error ? e.message : String(e));
      }
      result.latencies.push(Date.now() - began);
    }
  };
  const loops = Array.from({ length: workers }, loop);
  try {
    await until;
  } finally {
    done = true;
    await Promise.all(loops);
  }
  return result;
}
