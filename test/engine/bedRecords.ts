/**
 * The host's release records as the bed leaves them, made to hold what the bed ran: the program's record command
 * carries its services as base64 JSON, where the bed's substitution of the declared images (and the releases
 * that go with them) does not reach. Each record's declared image and release become the test image and its bed
 * release, so a recorded gate judges the tasks the bed started. A record already holding them is left as is.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { StackRun } from "../harness";
import { bedRelease, DeclaredService, declaredRelease, revealDeep } from "./spec";

export function bedRecords(stackDir: string, run: StackRun, image: (name: string) => string): void {
  const pairs = run.resources
    .filter((r) => r.type === "docker:index/service:Service")
    .flatMap((r) => {
      const d = revealDeep(r.inputs) as DeclaredService;
      const release = declaredRelease(d);
      const test = image(r.name);
      return [[String(d.taskSpec.containerSpec.image), test], ...(release ? [[release, bedRelease(release, test)]] : [])];
    })
    .sort((a, b) => b[0].length - a[0].length);
  const dir = path.join(stackDir, "releases");
  for (const file of fs.readdirSync(dir).filter((f) => /^\d{6}\.json$/.test(f))) {
    const text = fs.readFileSync(path.join(dir, file), "utf8");
    const bed = pairs.reduce((t, [declared, test]) => t.split(declared).join(test), text);
    if (bed !== text) fs.writeFileSync(path.join(dir, file), bed);
  }
}
