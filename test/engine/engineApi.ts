/** A minimal Docker Engine API client over the local unix socket (no dependency, JSON in and out). */
import * as http from "node:http";

const SOCKET = process.env.RAILYARD_DOCKER_SOCKET ?? "/var/run/docker.sock";

export class EngineError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function engine<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        socketPath: SOCKET,
        path,
        method,
        headers: payload ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if ((res.statusCode ?? 500) >= 400) {
            reject(new EngineError(res.statusCode ?? 500, `${method} ${path}: ${res.statusCode} ${text.trim()}`));
            return;
          }
          resolve((text ? JSON.parse(text) : undefined) as T);
        });
      },
    );
    req.on("error", reject);
    if (payload) req.write(payload);
    req.end();
  });
}

export const filters = (f: Record<string, string[]>) =>
  encodeURIComponent(JSON.stringify(Object.fromEntries(Object.entries(f).map(([k, vs]) => [k, Object.fromEntries(vs.map((v) => [v, true]))]))));
