import { defineConfig } from "vitest/config";

/** Benchmarks run on the real engine like the engine tests (same setup: dockerd, swarm, test images). */
export default defineConfig({
  test: {
    include: ["bench/**/*.bench-run.ts"],
    globalSetup: ["test/engine/setup.ts"],
    testTimeout: 1_800_000,
    hookTimeout: 600_000,
    pool: "forks",
    fileParallelism: false,
  },
});
