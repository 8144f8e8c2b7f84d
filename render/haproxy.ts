/**
 * The front's HAProxy config: a TCP pass-through from the host's ports to the edge's Caddy tasks, found through
 * Swarm DNS (`tasks.<edge>`, re-resolved each second). A connection that a leaving Caddy task refuses is retried
 * on another task (`retries` + `redispatch`), so the Caddy tier can roll start-first behind host-mode ports.
 * It never holds TLS material or domains: it changes only when the edge's name or ports do.
 */

export interface FrontPlan {
  /** Swarm DNS name of the Caddy tasks, e.g. "tasks.staging-edge". */
  upstream: string;
  /** Ports the front listens on inside its container, each forwarded to the same port on the Caddy tasks. */
  ports: number[];
  /** Idle timeout for client and server sides (the edge's idle timeout). */
  idleSeconds: number;
}

export function haproxyConfig(plan: FrontPlan): string {
  const lines = [
    "global",
    "\tlog stdout format raw local0 notice",
    "\tmaxconn 4096",
    "",
    "defaults",
    "\tmode tcp",
    "\tlog global",
    "\toption dontlog-normal",
    "\ttimeout connect 2s",
    `\ttimeout client ${plan.idleSeconds}s`,
    `\ttimeout server ${plan.idleSeconds}s`,
    "\ttimeout client-fin 5s",
    "\tretries 3",
    "\toption redispatch 1",
    "",
    "resolvers swarm",
    "\tnameserver docker 127.0.0.11:53",
    "\tresolve_retries 3",
    "\ttimeout resolve 1s",
    "\ttimeout retry 1s",
    "\thold valid 1s",
    "\thold obsolete 0s",
  ];
  for (const port of plan.ports) {
    lines.push(
      "",
      `frontend in_${port}`,
      `\tbind :${port}`,
      `\tdefault_backend edge_${port}`,
      "",
      `backend edge_${port}`,
      "\tbalance roundrobin",
      `\tserver-template edge 10 ${plan.upstream}:${port} check inter 1s fall 1 rise 1 resolvers swarm init-addr none`,
    );
  }
  return `${lines.join("\n")}\n`;
}
