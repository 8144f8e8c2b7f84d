/**
 * Command builders for the gates after a service update (Kamal style: pure functions returning shell lines;
 * every value is one quoted word, so nothing in it is expanded). The script lives in host/ and works by hand with
 * --help: railyard-gate.sh (health gate after the update of a release, rollback and an explanation on failure; with --settle, the wait for
 * Swarm's own update of the edge and the databases, which convergeConfig ends too early).
 */
import { shellJoin } from "../lib/shell";

export interface GateArgs {
  /** Swarm service name. */
  service: string;
  /** The image the update declared: the gate passes only when every running task runs it. */
  image: string;
  /**
   * The declared release: RAILYARD_RELEASE (12 hex digits, a hash of the whole task template) in the env of every
   * task of it. The gate judges exactly the tasks that carry it, whatever the release changed.
   */
  release: string;
  /** Where the gate records what failed a release (created if missing), so that a re-run can say it. */
  stateDir: string;
  /** Probe each new task from inside on 127.0.0.1:port/path (web services with an HTTP health check). */
  probe?: { port: number; path: string };
  /** Probe through the edge: URL on the host, Host header / TLS name, accept the origin certificate. */
  edge?: { url: string; host: string; insecure: boolean };
  attempts: number;
  intervalSeconds: number;
  /** Seconds a task of the release must have run before it counts as up (catches a crash a few seconds after start). */
  stableSeconds: number;
}

/**
 * railyard-gate.sh's arguments (after the script's path) for a release: what gateCommand runs, and what a release
 * record keeps so that a rollback on the host can gate the same way.
 */
export function gateArgv(g: GateArgs): string[] {
  const words = ["--service", g.service, "--image", g.image, "--release", g.release, "--state-dir", g.stateDir];
  if (g.probe) words.push("--port", String(g.probe.port), "--path", g.probe.path);
  if (g.edge) words.push("--url", g.edge.url, "--host", g.edge.host, ...(g.edge.insecure ? ["--insecure"] : []));
  words.push("--attempts", String(g.attempts), "--interval", String(g.intervalSeconds), "--stable", String(g.stableSeconds));
  return words;
}

/** Seconds the gate may take, even if Docker hangs: every attempt plus the 120 s rollback wait, plus a margin. */
export function gateTimeoutSeconds(g: Pick<GateArgs, "attempts" | "intervalSeconds" | "stableSeconds">): number {
  return Math.ceil(g.attempts * (g.intervalSeconds + 15) + g.stableSeconds + 180);
}

export function gateCommand(scriptPath: string, g: GateArgs): string {
  return shellJoin(["timeout", String(gateTimeoutSeconds(g)), "bash", scriptPath, ...gateArgv(g)]);
}

export interface SettleArgs {
  /** Swarm service name. */
  service: string;
  /** How long Swarm's update (its monitor window, and a rollback) may take, in whole seconds. */
  timeoutSeconds: number;
}

/** Waits for Swarm's own update of the service to complete (railyard-gate.sh --settle); `timeout` a minute after its own limit. */
export function settleCommand(scriptPath: string, g: SettleArgs): string {
  return shellJoin(["timeout", String(g.timeoutSeconds + 60), "bash", scriptPath, "--settle", "--service", g.service, "--timeout", String(g.timeoutSeconds)]);
}
