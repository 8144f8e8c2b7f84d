/** The release store's builders (commands/release.ts) and gateArgv: exact lines, hostile values through real shells, bad inputs refused. */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { GateArgs, gateArgv, gateCommand } from "../commands/gate";
import { BeginArgs, RecordArgs, beginCommand, recordCommand, releaseCli, servicesPayload } from "../commands/release";
import { HOSTILE } from "./hostile";

const SCRIPT = "/srv/railyard/production/scripts/railyard-release.sh";
const KEY = "3f2a1bc0d1e2" + "0".repeat(52);
const base: BeginArgs = {
  stackDir: "/srv/railyard/production",
  stack: "production",
  token: KEY,
  who: "alice",
  commit: "3f2a1bc0d1e2",
  kind: "deploy",
  message: "deploy 3f2a1bc0d1e2",
};
const gate: GateArgs = {
  service: "production-api",
  image: "ghcr.io/acme/api:1.4.2",
  release: "0123456789ab",
  stateDir: "/srv/railyard/production/state",
  probe: { port: 8000, path: "/health" },
  attempts: 30,
  intervalSeconds: 5,
  stableSeconds: 5,
};
const record: RecordArgs = {
  ...base,
  keep: 10,
  services: { api: { swarm: "production-api", image: "ghcr.io/acme/api:1.4.2", release: "0123456789ab", migration: true, gate: gateArgv(gate) } },
  config: "config:\n  railyard:stack: production\n",
};

describe("gateArgv", () => {
  it("is what gateCommand runs after the script's path", () => {
    expect(gateArgv(gate)).toEqual([
      "--service", "production-api", "--image", "ghcr.io/acme/api:1.4.2", "--release", "0123456789ab",
      "--state-dir", "/srv/railyard/production/state", "--port", "8000", "--path", "/health",
      "--attempts", "30", "--interval", "5", "--stable", "5",
    ]);
    expect(gateCommand("/s/railyard-gate.sh", gate)).toBe(`timeout 785 bash /s/railyard-gate.sh ${gateArgv(gate).join(" ")}`);
    const edge = { ...gate, probe: undefined, edge: { url: "https://127.0.0.1:443/", host: "api.example.com", insecure: true } };
    expect(gateArgv(edge)).toEqual([
      "--service", "production-api", "--image", "ghcr.io/acme/api:1.4.2", "--release", "0123456789ab",
      "--state-dir", "/srv/railyard/production/state", "--url", "https://127.0.0.1:443/", "--host", "api.example.com", "--insecure",
      "--attempts", "30", "--interval", "5", "--stable", "5",
    ]);
  });
});

describe("begin command", () => {
  it("builds the exact line of a deploy: bounded by timeout, the common options first", () => {
    expect(beginCommand(SCRIPT, base)).toBe(
      "timeout 60 bash /srv/railyard/production/scripts/railyard-release.sh --stack-dir /srv/railyard/production --stack production begin " +
        `--token ${KEY} --who alice --commit 3f2a1bc0d1e2 --kind deploy --message 'deploy 3f2a1bc0d1e2'`,
    );
  });

  it("builds a rollback's line under the CLI's lock, with its wait", () => {
    expect(beginCommand(SCRIPT, { ...base, kind: "rollback", rollbackOf: 7, commit: "", lockToken: "k3Yz-9_a.b", waitSeconds: 600, who: "bob smith" })).toBe(
      "timeout 660 bash /srv/railyard/production/scripts/railyard-release.sh --stack-dir /srv/railyard/production --stack production begin " +
        `--token ${KEY} --who 'bob smith' --commit '' --kind rollback --rollback-of 7 --message 'deploy 3f2a1bc0d1e2' --lock-token k3Yz-9_a.b --wait 600`,
    );
  });

  it("refuses bad inputs, naming them", () => {
    const bad: [Partial<BeginArgs>, RegExp][] = [
      [{ stackDir: "srv/railyard" }, /stackDir/],
      [{ stackDir: "/srv/../etc" }, /stackDir/],
      [{ stack: "Production" }, /stack must/],
      [{ token: "abc" }, /token/],
      [{ token: KEY.toUpperCase() }, /token/],
      [{ who: "" }, /who/],
      [{ who: "a\0b" }, /who/],
      [{ commit: "main" }, /commit/],
      [{ kind: "host-rollback" as "deploy" }, /kind/],
      [{ rollbackOf: 3 }, /rollbackOf/],
      [{ kind: "rollback" }, /rollbackOf/],
      [{ kind: "rollback", rollbackOf: 0 }, /rollbackOf/],
      [{ kind: "rollback", rollbackOf: 1.5 }, /rollbackOf/],
      [{ message: "x".repeat(1025) }, /message/],
      [{ lockToken: "two words" }, /lockToken/],
      [{ lockToken: "" }, /lockToken/],
      [{ waitSeconds: -1 }, /waitSeconds/],
      [{ waitSeconds: 2.5 }, /waitSeconds/],
    ];
    for (const [change, message] of bad) expect(() => beginCommand(SCRIPT, { ...base, ...change }), JSON.stringify(change)).toThrow(message);
  });
});

describe("record command", () => {
  it("builds the exact line: services and config as base64 JSON and text", () => {
    const services = Buffer.from(
      JSON.stringify({ api: { swarm: "production-api", image: "ghcr.io/acme/api:1.4.2", release: "0123456789ab", migration: true, gate: gateArgv(gate) } }),
    ).toString("base64");
    const config = Buffer.from("config:\n  railyard:stack: production\n").toString("base64");
    expect(recordCommand(SCRIPT, record)).toBe(
      "timeout 600 bash /srv/railyard/production/scripts/railyard-release.sh --stack-dir /srv/railyard/production --stack production record " +
        `--token ${KEY} --who alice --commit 3f2a1bc0d1e2 --kind deploy --keep 10 --services-b64 ${services} --config-b64 ${config}`,
    );
    expect(recordCommand(SCRIPT, { ...record, config: null, kind: "rollback", rollbackOf: 2 })).toBe(
      "timeout 600 bash /srv/railyard/production/scripts/railyard-release.sh --stack-dir /srv/railyard/production --stack production record " +
        `--token ${KEY} --who alice --commit 3f2a1bc0d1e2 --kind rollback --rollback-of 2 --keep 10 --services-b64 ${services}`,
    );
  });

  it("orders the services by name and keeps only the recorded fields, so one release gives one line", () => {
    const a = { swarm: "production-a", image: "a:1", release: "aaaaaaaaaaaa", migration: false, gate: [] };
    const b = { swarm: "production-b", image: "b:1", release: "bbbbbbbbbbbb", migration: false, gate: ["--service", "production-b"] };
    const one = servicesPayload({ b, a });
    expect(one).toBe(servicesPayload({ a, b: { ...b, extra: 1 } as typeof b }));
    expect(JSON.parse(Buffer.from(one, "base64").toString("utf8"))).toEqual({ a, b });
  });

  it("refuses bad inputs, naming them", () => {
    const svc = record.services.api;
    const bad: [Partial<RecordArgs>, RegExp][] = [
      [{ keep: 0 }, /keep/],
      [{ keep: 101 }, /keep/],
      [{ services: {} }, /at least one service/],
      [{ services: { API: svc } }, /service name/],
      [{ services: { api: { ...svc, swarm: "x_y" } } }, /services\.api\.swarm/],
      [{ services: { api: { ...svc, image: "a b" } } }, /services\.api\.image/],
      [{ services: { api: { ...svc, release: "xyz" } } }, /services\.api\.release/],
      [{ services: { api: { ...svc, gate: ["a\0"] } } }, /services\.api\.gate/],
      [{ config: "a\0b" }, /config/],
      [{ config: "x".repeat(65_537) }, /config must be text without NUL, at most 65536 characters/],
      [{ config: "é".repeat(65_536) }, /the record line must be at most 120000 bytes/],
      [{ token: "" }, /token/],
    ];
    for (const [change, message] of bad) expect(() => recordCommand(SCRIPT, { ...record, ...change }), JSON.stringify(change)).toThrow(message);
  });
});

describe("release CLI lines", () => {
  it("builds the exact lines of the operator's subcommands", () => {
    const cli = (args: string[]) => releaseCli(SCRIPT, "/srv/railyard/production", "production", args);
    const head = "bash /srv/railyard/production/scripts/railyard-release.sh --stack-dir /srv/railyard/production --stack production";
    expect(cli(["list", "--json"])).toBe(`${head} list --json`);
    expect(cli(["show", "7"])).toBe(`${head} show 7`);
    expect(cli(["check-images", "7"])).toBe(`${head} check-images 7`);
    expect(cli(["lock", "acquire", "--who", "bob", "--kind", "rollback", "--message", "rollback to 7", "--token", "t1", "--wait", "600"])).toBe(
      `${head} lock acquire --who bob --kind rollback --message 'rollback to 7' --token t1 --wait 600`,
    );
    expect(cli(["lock", "release", "--force"])).toBe(`${head} lock release --force`);
    expect(cli(["audit", "--lines", "50"])).toBe(`${head} audit --lines 50`);
  });

  it("refuses no subcommand, a bad stack or a NUL", () => {
    expect(() => releaseCli(SCRIPT, "/srv/railyard/production", "production", [])).toThrow(/subcommand/);
    expect(() => releaseCli(SCRIPT, "relative", "production", ["list"])).toThrow(/stackDir/);
    expect(() => releaseCli(SCRIPT, "/srv", "-x", ["list"])).toThrow(/stack must/);
    expect(() => releaseCli(SCRIPT, "/srv", "production", ["a\0"])).toThrow(/argument/);
  });
});

describe("hostile values", () => {
  it("reach the script as exactly one literal argument each, by bash and sh, and execute nothing", () => {
    fs.rmSync("/tmp/railyard-pwned", { force: true });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-release-argv-"));
    const echo = path.join(dir, "rail yard's release.sh");
    fs.writeFileSync(echo, `printf '%s\\0' "$@"\n`);
    const run = (line: string, shell: string) => execFileSync(shell, ["-c", line.replace(/^timeout \d+ /, "")], { encoding: "utf8" }).split("\0").slice(0, -1);
    for (const value of HOSTILE) {
      const text = value === "" ? "x" : value;
      const lines: [string, string[]][] = [
        [beginCommand(echo, { ...base, who: text, message: value }), ["--who", text, "--message", value]],
        [recordCommand(echo, { ...record, who: text, config: value }), ["--who", text, "--config-b64", Buffer.from(value).toString("base64")]],
        [releaseCli(echo, "/srv/railyard/production", "production", ["lock", "acquire", "--message", value]), ["--message", value]],
      ];
      for (const [line, words] of lines) {
        for (const shell of ["bash", "sh"]) {
          const argv = run(line, shell);
          expect(argv.slice(0, 4)).toEqual(["--stack-dir", "/srv/railyard/production", "--stack", "production"]);
          for (let i = 0; i < words.length; i += 2) expect(argv[argv.indexOf(words[i]) + 1], `${JSON.stringify(value)} by ${shell}`).toBe(words[i + 1]);
        }
      }
    }
    expect(fs.existsSync("/tmp/railyard-pwned")).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("carries hostile gate words and config text through base64 unchanged", () => {
    const words = HOSTILE.filter((v) => !v.includes("\0"));
    const payload = servicesPayload({ api: { ...record.services.api, gate: words } });
    expect(JSON.parse(Buffer.from(payload, "base64").toString("utf8")).api.gate).toEqual(words);
  });
});
