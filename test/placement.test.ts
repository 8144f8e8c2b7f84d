/**
 * Placement on a stack with more than one node (lib/placement.ts): the constraints by railyard's node labels, the
 * ignoreChanges that keeps the provider's read-back platforms from planning an update, and migration jobs that
 * take the service's constraints (commands/migrate.ts, host/railyard-migrate.sh --constraint, checked).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { MigrationJob, migrateCommand } from "../commands/migrate";
import { appPlacement, databasePlacement, edgePlacement, PLACEMENT_IGNORE, placed, placedOptions } from "../lib/placement";
import { ROOT } from "./harness";

describe("placement by railyard's node labels", () => {
  it("pins a database to its node, the edge to edge nodes, services to app nodes", () => {
    expect(databasePlacement("host")).toEqual({ constraints: ["node.labels.railyard.node==host"] });
    expect(databasePlacement("data-1")).toEqual({ constraints: ["node.labels.railyard.node==data-1"] });
    expect(edgePlacement()).toEqual({ constraints: ["node.labels.railyard.edge==true"] });
    expect(appPlacement()).toEqual({ constraints: ["node.labels.railyard.app==true"] });
    expect(() => databasePlacement("Data 1")).toThrow(/a node name .* got "Data 1"/);
  });

  it("adds nothing without a placement (a single-node stack's declarations stay as they were)", () => {
    const opts = { deleteBeforeReplace: true };
    expect(placedOptions(opts, undefined)).toBe(opts);
    expect(placed(undefined)).toEqual({});
    expect(Object.keys(placed(undefined))).toEqual([]);
  });

  it("ignores the platforms the provider's create adds, after any ignoreChanges already set", () => {
    expect(PLACEMENT_IGNORE).toEqual(["taskSpec.placement.platforms"]);
    expect(placedOptions({ deleteBeforeReplace: true }, appPlacement())).toEqual({ deleteBeforeReplace: true, ignoreChanges: ["taskSpec.placement.platforms"] });
    expect(placedOptions({ ignoreChanges: ["labels"] }, edgePlacement()).ignoreChanges).toEqual(["labels", "taskSpec.placement.platforms"]);
    expect(placed(appPlacement())).toEqual({ placement: { constraints: ["node.labels.railyard.app==true"] } });
  });
});

const job: MigrationJob = {
  stack: "st",
  job: "st-api-migrate",
  image: "app:v1",
  network: "st-net",
  env: {},
  secrets: [],
  secretVars: [],
  command: "migrate",
  timeoutSeconds: 60,
  pause: [],
  stateDir: "/srv/railyard/st/state",
  labels: {},
};

describe("migration jobs with the service's constraints", () => {
  it("passes each constraint to the script before the job's arguments; none without them", () => {
    const script = "/srv/railyard/st/scripts/railyard-migrate.sh";
    const base = `timeout 420 bash ${script} --job st-api-migrate --timeout 60 --stack st --state-dir /srv/railyard/st/state`;
    expect(migrateCommand(script, job)).toBe(`${base} -- --network st-net app:v1 /bin/sh -c 'exec migrate'`);
    expect(migrateCommand(script, { ...job, constraints: ["node.labels.railyard.app==true", "node.role!=manager"] })).toBe(
      `${base} --constraint node.labels.railyard.app==true --constraint 'node.role!=manager' -- --network st-net app:v1 /bin/sh -c 'exec migrate'`,
    );
  });

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-placement-"));
  const calls = path.join(dir, "calls");
  // A docker that records its calls and fails: the create is recorded, then the script stops (32).
  fs.writeFileSync(path.join(dir, "docker"), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${calls}\nexit 1\n`, { mode: 0o755 });
  const migrate = (...constraint: string[]) => {
    fs.rmSync(calls, { force: true });
    const args = ["--job", "st-api-migrate", "--timeout", "5", "--state-dir", path.join(dir, "state"), ...constraint.flatMap((c) => ["--constraint", c]), "--", "app:v1", "true"];
    const r = spawnSync("bash", [path.join(ROOT, "host", "railyard-migrate.sh"), ...args], { encoding: "utf8", env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
    return { ...r, calls: fs.existsSync(calls) ? fs.readFileSync(calls, "utf8") : "" };
  };

  it.each([
    "node.labels.railyard.app=true",
    "node.labels.railyard.app==true node.role==manager",
    "node.labels.x==$(id)",
    "engine.labels.x==y",
    "node.labels.==y",
    "node.labels.x==",
    "node.labels.x==a\nb",
  ])("refuses the constraint %j before anything runs (exit 2)", (bad) => {
    const r = migrate("node.role==worker", bad);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("railyard-migrate: --constraint must be a placement constraint such as node.labels.railyard.app==true");
    expect(r.calls).toBe("");
  });

  it("creates the job with each constraint", () => {
    const r = migrate("node.labels.railyard.app==true", "node.hostname!=db-1");
    expect(r.calls).toMatch(/service create --detach --quiet --name st-api-migrate .*--init --constraint node\.labels\.railyard\.app==true --constraint node\.hostname!=db-1 app:v1 true\n/);
  });
});
