/**
 * A minimal Docker Engine API client (no dependency, JSON in and out): over the local unix socket, or the engine
 * DOCKER_HOST names when it is `tcp://<host>:<port>` or `unix://<path>` (read at each call, so a test that points
 * DOCKER_HOST at another engine, such as a multi-node bed's main node, moves the docker CLI and this client together).
 */
import * as http from "node:http";

/** Where the Engine API answers: RAILYARD_DOCKER_SOCKET, else DOCKER_HOST (tcp or unix), else the default socket. */
export function engineAddress(env: NodeJS.ProcessEnv = process.env): { socketPath: string } | { host: string; port: number } {
  if (env.RAILYARD_DOCKER_SOCKET) return { socketPath: env.RAILYARD_DOCKER_SOCKET };
  const tcp = /^tcp:\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(env.DOCKER_HOST ?? "");
  if (tcp) return { host: tcp[1].replace(/^\[|\]$/g, ""), port: Number(tcp[2] ?? 2375) };
  const unix = /^unix:\/\/(\/.+)$/.exec(env.DOCKER_HOST ?? "");
  return { socketPath: unix ? unix[1] : "/var/run/docker.sock" };
}

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
        ...engineAddress(),
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
