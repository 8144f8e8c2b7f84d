/**
 * The engine bed's copy of the provider's convergeConfig wait (test/engine/converge.ts): retry.StateChangeConf's
 * timing as terraform-plugin-sdk v2's helper/retry/state.go runs it, and the provider's per-slot progress check.
 */
import { describe, expect, it } from "vitest";
import { allSlotsRunning, MIN_TIMEOUT_MS, nextWaitMs, refreshSchedule, SlotTask, UPDATE_DELAY_MS } from "./engine/converge";

describe("retry.StateChangeConf's timing", () => {
  it("doubles the wait from 100 ms, floored by MinTimeout and capped at 10 s", () => {
    expect(nextWaitMs(100, 5_000)).toBe(5_000);
    expect(nextWaitMs(5_000, 5_000)).toBe(10_000);
    expect(nextWaitMs(10_000, 5_000)).toBe(10_000);
    // Without a floor: 200, 400, 800 … up to the cap.
    expect(nextWaitMs(100, 0)).toBe(200);
    expect(nextWaitMs(3_200, 0)).toBe(6_400);
    expect(nextWaitMs(6_400, 0)).toBe(10_000);
  });

  it("refreshes an update at 7 s, then 5 s later, then every 10 s, until the timeout", () => {
    expect(refreshSchedule({ delayMs: UPDATE_DELAY_MS, minTimeoutMs: MIN_TIMEOUT_MS, timeoutMs: 60_000 })).toEqual([7_000, 12_000, 22_000, 32_000, 42_000, 52_000]);
  });

  it("refreshes a create after convergeConfig.delay (the edge's and databases' 2 s), then at +5 s, +15 s …", () => {
    const schedule = refreshSchedule({ delayMs: 2_000, minTimeoutMs: MIN_TIMEOUT_MS, timeoutMs: 300_000 });
    expect(schedule.slice(0, 4)).toEqual([2_000, 7_000, 17_000, 27_000]);
    // 5 minutes: the last refresh starts before the timeout (at 4 min 57 s), 31 in all.
    expect(schedule).toHaveLength(31);
    expect(schedule[schedule.length - 1]).toBe(297_000);
  });

  it("never refreshes when Delay reaches the timeout, and backs off from 100 ms without a MinTimeout", () => {
    expect(refreshSchedule({ delayMs: 7_000, minTimeoutMs: MIN_TIMEOUT_MS, timeoutMs: 7_000 })).toEqual([]);
    expect(refreshSchedule({ delayMs: 0, minTimeoutMs: 0, timeoutMs: 2_000 })).toEqual([0, 200, 600, 1_400]);
  });
});

describe("the provider's progress check (one task per slot)", () => {
  const task = (slot: number, desired: string, state: string, node = "n1"): SlotTask => ({ Slot: slot, NodeID: node, DesiredState: desired, Status: { State: state } });
  const nodes = new Set(["n1"]);

  it("counts a start-first slot as running only once its new task runs (the lower observed state wins)", () => {
    const rolling = [task(1, "running", "running"), task(1, "running", "starting"), task(2, "running", "running")];
    expect(allSlotsRunning(rolling, nodes, 2)).toBe(false);
    expect(allSlotsRunning([task(1, "running", "running"), task(2, "running", "running")], nodes, 2)).toBe(true);
  });

  it("passes a rollout still inside Swarm's monitor window: it sees only running tasks, never UpdateStatus", () => {
    // Batch 2's task runs; the one that will fail in a few seconds looks exactly like a healthy one.
    expect(allSlotsRunning([task(1, "running", "running"), task(2, "running", "running"), task(2, "shutdown", "shutdown")], nodes, 2)).toBe(true);
  });

  it("skips tasks on inactive nodes and states it does not know", () => {
    expect(allSlotsRunning([task(1, "running", "running"), task(2, "running", "running", "gone")], nodes, 2)).toBe(false);
    expect(allSlotsRunning([task(1, "running", "running"), task(2, "running", "remove")], nodes, 2)).toBe(false);
  });
});
