/**
 * `convergeConfig` the way the real provider waits (kreuzwerker/terraform-provider-docker v4.5.0,
 * internal/provider/resource_docker_service_funcs.go, through terraform-plugin-sdk v2's helper/retry/state.go),
 * so the engine bed reports what `pulumi up` would: including its blind spot. After an update the provider
 * returns "completed" as soon as every slot has a running task, even while Swarm's UpdateStatus is still
 * "updating" (the monitor window), so a release Swarm rolls back a few seconds later has already passed.
 *
 * - Timing (retry.StateChangeConf): wait `Delay` (create: convergeConfig.delay; update: always 7 s), refresh,
 *   then wait 100 ms doubled after each refresh, floored by MinTimeout (5 s) and capped at 10 s; so with the
 *   provider's MinTimeout refreshes come at Delay, +5 s, +15 s, +25 s … A refresh starts only before Timeout
 *   (convergeConfig.timeout, counted from the start, Delay included); one under way when it passes may finish.
 * - Create refresh: the tasks desired running, one per slot (lowest desired state, then lowest observed state),
 *   on active nodes; "running" when as many run as the service has replicas. On timeout or error the provider
 *   deletes the service and fails (DidNotConvergeError on timeout).
 * - Update refresh: UpdateStatus completed → done; rollback_started → rollback mode; rollback_completed, paused
 *   and rollback_paused → fail with Swarm's message; otherwise (no status, updating, rollback mode) running ==
 *   replicas → "completed", or in rollback mode the error "service rollback completed".
 */
import { engine, filters } from "./engineApi";
import { goDurationString } from "./provider/flatten";
import { goParseDuration } from "./provider/send";

/** What the provider's refreshes use of retry.StateChangeConf (milliseconds). */
export interface StateChangeTiming {
  delayMs: number;
  minTimeoutMs: number;
  timeoutMs: number;
}

/** The provider's MinTimeout for both waits, its update Delay, and state.go's backoff start and cap. */
export const MIN_TIMEOUT_MS = 5_000;
export const UPDATE_DELAY_MS = 7_000;
const BACKOFF_START_MS = 100;
const BACKOFF_CAP_MS = 10_000;

/** state.go's wait after a refresh that did not reach the target, given the wait before it (100 ms before the first). */
export function nextWaitMs(previousMs: number, minTimeoutMs: number): number {
  const doubled = previousMs * 2;
  if (doubled < minTimeoutMs) return minTimeoutMs;
  return Math.min(doubled, BACKOFF_CAP_MS);
}

/**
 * When retry.StateChangeConf refreshes, in milliseconds from the start of the wait, if every refresh took no
 * time and none reached the target: the first after Delay, then after each nextWaitMs; only those that start
 * before Timeout.
 */
export function refreshSchedule(t: StateChangeTiming): number[] {
  const at: number[] = [];
  let next = t.delayMs;
  let wait = BACKOFF_START_MS;
  while (next < t.timeoutMs) {
    at.push(next);
    wait = nextWaitMs(wait, t.minTimeoutMs);
    next += wait;
  }
  return at;
}

/** The task states in the order of Swarm's state machine (numberedStates); others are not counted. */
const STATE_ORDER: Record<string, number> = {
  new: 1,
  allocated: 2,
  pending: 3,
  assigned: 4,
  accepted: 5,
  preparing: 6,
  ready: 7,
  starting: 8,
  running: 9,
  complete: 10,
  shutdown: 11,
  failed: 12,
  rejected: 13,
};

export interface SlotTask {
  Slot: number;
  NodeID?: string;
  DesiredState: string;
  Status: { State: string };
}

/**
 * The provider's progress check (replicatedConsoleLogUpdater.update): one task per slot (tasksBySlot: the lowest
 * desired state, then the lowest observed state; tasks on inactive nodes skipped), and whether as many of them
 * run (desired state not past running, observed running) as the service has replicas.
 */
export function allSlotsRunning(tasks: SlotTask[], activeNodes: Set<string>, replicas: number): boolean {
  const bySlot = new Map<number, SlotTask>();
  for (const task of tasks) {
    const desired = STATE_ORDER[task.DesiredState] ?? 0;
    const observed = STATE_ORDER[task.Status.State] ?? 0;
    if (desired === 0 || observed === 0) continue;
    const existing = bySlot.get(task.Slot);
    if (existing) {
      const existingDesired = STATE_ORDER[existing.DesiredState];
      if (existingDesired < desired) continue;
      if (existingDesired === desired && STATE_ORDER[existing.Status.State] <= observed) continue;
    }
    if (task.NodeID && !activeNodes.has(task.NodeID)) continue;
    bySlot.set(task.Slot, task);
  }
  const running = [...bySlot.values()].filter((t) => STATE_ORDER[t.DesiredState] <= STATE_ORDER.running && t.Status.State === "running").length;
  return running === replicas;
}

interface InspectedService {
  ID: string;
  Spec: { Mode: { Replicated?: { Replicas?: number } } };
  UpdateStatus?: { State: string; Message?: string };
}

type Refresh = { state: string } | { error: string };

async function progress(service: InspectedService): Promise<boolean> {
  const replicas = service.Spec.Mode.Replicated?.Replicas;
  if (replicas === undefined) throw new Error("no replica count");
  const tasks = await engine<SlotTask[]>("GET", `/tasks?filters=${filters({ service: [service.ID], "desired-state": ["running"] })}`);
  const nodes = await engine<{ ID: string; Status: { State: string } }[]>("GET", "/nodes");
  return allSlotsRunning(tasks, new Set(nodes.filter((n) => n.Status.State !== "down").map((n) => n.ID)), replicas);
}

/** resourceDockerServiceCreateRefreshFunc. */
async function createRefresh(id: string): Promise<Refresh> {
  const service = await engine<InspectedService>("GET", `/services/${id}`);
  return { state: (await progress(service)) ? "running" : "creating" };
}

/** resourceDockerServiceUpdateRefreshFunc. */
async function updateRefresh(id: string): Promise<Refresh> {
  const service = await engine<InspectedService>("GET", `/services/${id}`);
  const status = service.UpdateStatus;
  let rollback = false;
  switch (status?.State) {
    case "completed":
      return { state: "completed" };
    case "rollback_started":
      rollback = true;
      break;
    case "rollback_completed":
      return { error: `service rollback completed: ${status.Message ?? ""}` };
    case "paused":
      return { error: `service update paused: ${status.Message ?? ""}` };
    case "rollback_paused":
      return { error: `service rollback paused: ${status.Message ?? ""}` };
  }
  if (await progress(service)) return rollback ? { error: `service rollback completed: ${status?.Message ?? ""}` } : { state: "completed" };
  return { state: "updating" };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** retry.StateChangeConf.WaitForStateContext: "done", the refresh's error, or "timeout". */
async function waitForState(t: StateChangeTiming, target: string[], refresh: () => Promise<Refresh>): Promise<{ done: true } | { error: string } | { timeout: true }> {
  const start = Date.now();
  let wait = 0;
  let first = true;
  const until = async (ms: number) => {
    const left = t.timeoutMs - (Date.now() - start);
    await sleep(Math.max(0, Math.min(ms, left)));
    return ms <= left;
  };
  if (!(await until(t.delayMs))) return { timeout: true };
  for (;;) {
    if (!first && !(await until(wait))) return { timeout: true };
    wait = first ? BACKOFF_START_MS : wait;
    first = false;
    // A refresh under way when Timeout passes may still finish (state.go's 30 s grace period).
    let r: Refresh;
    try {
      r = await refresh();
    } catch (e) {
      return { error: e instanceof Error ? e.message : String(e) };
    }
    if ("error" in r) return { error: r.error };
    if (target.includes(r.state)) return { done: true };
    wait = nextWaitMs(wait, t.minTimeoutMs);
  }
}

export type ConvergeResult = { outcome: "converged"; elapsedMs: number } | { outcome: "failed"; error: string; elapsedMs: number };

/**
 * Waits for `service` (name or ID) after its create or update, as the provider's convergeConfig does, and
 * reports what the provider would: converged, or failed with the provider's error text. A failed create
 * deletes the service (the provider does, so the next `pulumi up` creates it again).
 */
export async function providerConverge(service: string, phase: "create" | "update", cfg: { delay: string; timeout: string }): Promise<ConvergeResult> {
  const started = Date.now();
  const { ID: id } = await engine<{ ID: string }>("GET", `/services/${service}`);
  // createConvergeConfig: time.ParseDuration with its error ignored (0).
  const ms = (goDuration: string) => (goParseDuration(goDuration) ?? 0) / 1e6;
  const timeoutMs = ms(cfg.timeout);
  const timing: StateChangeTiming = { delayMs: phase === "create" ? ms(cfg.delay) : UPDATE_DELAY_MS, minTimeoutMs: MIN_TIMEOUT_MS, timeoutMs };
  const result = phase === "create" ? await waitForState(timing, ["running", "complete"], () => createRefresh(id)) : await waitForState(timing, ["completed"], () => updateRefresh(id));
  const elapsedMs = () => Date.now() - started;
  if ("done" in result) return { outcome: "converged", elapsedMs: elapsedMs() };
  const error = "timeout" in result ? `Service with ID (${id}) did not converge after ${goDurationString(timeoutMs * 1e6)}` : result.error;
  if (phase === "create") await deleteService(id);
  return { outcome: "failed", error, elapsedMs: elapsedMs() };
}

/** The provider's deleteService after a create that did not converge: the service goes, then its containers (bounded). */
async function deleteService(id: string): Promise<void> {
  await engine("DELETE", `/services/${id}`).catch(() => undefined);
  const containers = filters({ label: [`com.docker.swarm.service.id=${id}`] });
  for (let i = 0; i < 60; i++) {
    if ((await engine<unknown[]>("GET", `/containers/json?all=1&filters=${containers}`)).length === 0) return;
    await sleep(500);
  }
}
