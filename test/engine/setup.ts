/** Global setup of the engine tests: a Docker engine in swarm mode, and the test images (built once, cached). */
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    images: Record<string, string>;
  }
}

export default function setup(project: TestProject): void {
  const here = path.join(__dirname);
  execFileSync("bash", [path.join(here, "start-engine.sh")], { stdio: "inherit" });
  const started = Date.now();
  const out = execFileSync("bash", [path.join(here, "build-images.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  console.log(`engine setup: test images ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const images = Object.fromEntries(
    out
      .trim()
      .split("\n")
      .map((line) => line.split("=") as [string, string]),
  );
  project.provide("images", images);
}
