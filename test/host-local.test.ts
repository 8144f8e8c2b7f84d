/** The dev stack's Docker provider reaches the engine DOCKER_HOST names (as `docker` and npm run dev:up do). */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_DOCKER_HOST, localDockerHost } from "../components/host";
import { one, runStack, stackFile, StackRunError, testSecrets } from "./harness";

const PROVIDER = "pulumi:providers:docker";

describe("localDockerHost", () => {
  it("is the default socket when DOCKER_HOST is unset or empty", () => {
    expect(localDockerHost({})).toBe("unix:///var/run/docker.sock");
    expect(localDockerHost({ DOCKER_HOST: "" })).toBe(DEFAULT_DOCKER_HOST);
  });

  it.each([
    "unix:///var/run/docker.sock",
    "unix:///run/user/1000/docker.sock",
    "tcp://127.0.0.1:2375",
    "tcp://[::1]:2376",
    "tcp://docker.internal",
    "ssh://deploy@203.0.113.10:22",
    "ssh://203.0.113.10",
  ])("takes %s as it is", (value) => {
    expect(localDockerHost({ DOCKER_HOST: value })).toBe(value);
  });

  it.each([
    ["/var/run/docker.sock", "not a URL"],
    ["unix://var/run/docker.sock", "an absolute socket path"],
    ["unix:///", "an absolute socket path"],
    ["http://127.0.0.1:2375", "unsupported scheme http:"],
    ["npipe:////./pipe/docker_engine", "unsupported scheme npipe:"],
    ["tcp://", "a host and nothing after the port"],
    ["tcp://127.0.0.1:99999", "not a URL"],
    ["tcp://127.0.0.1:2375/v1.45", "a host and nothing after the port"],
    ["tcp://user@127.0.0.1:2375", "no user in a tcp address"],
    ["ssh://deploy:hunter2@203.0.113.10", "no query, fragment or password"],
    ["tcp://127.0.0.1:2375?tls=1", "no query, fragment or password"],
    ["unix:///var/run/docker.sock; rm -rf /", "no spaces or control characters"],
    ["unix:///var/run/docker.sock\n", "no spaces or control characters"],
  ])("refuses %j with a clear error (%s)", (value, why) => {
    expect(() => localDockerHost({ DOCKER_HOST: value })).toThrow(
      `railyard: DOCKER_HOST: expected unix:///<socket path>, tcp://<host>[:<port>] or ssh://[<user>@]<host>[:<port>] (${why}), got ${JSON.stringify(value)}`,
    );
  });
});

describe("the dev stack's provider", () => {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.DOCKER_HOST;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = saved;
  });

  it("uses DOCKER_HOST when it is set", async () => {
    process.env.DOCKER_HOST = "unix:///run/user/1000/docker.sock";
    const r = await runStack("dev", stackFile("dev"));
    expect(one(r, PROVIDER, "host-docker").inputs.host).toBe("unix:///run/user/1000/docker.sock");
  });

  it("uses the default socket when DOCKER_HOST is unset", async () => {
    delete process.env.DOCKER_HOST;
    const r = await runStack("dev", stackFile("dev"));
    expect(one(r, PROVIDER, "host-docker").inputs.host).toBe(DEFAULT_DOCKER_HOST);
  });

  it("stops the program with the DOCKER_HOST error and declares no Docker resource", async () => {
    process.env.DOCKER_HOST = "http://127.0.0.1:2375";
    const failed = await runStack("dev", stackFile("dev")).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(StackRunError);
    expect((failed as StackRunError).message).toContain("railyard: DOCKER_HOST: expected unix:///<socket path>");
    expect((failed as StackRunError).message).toContain('got "http://127.0.0.1:2375"');
    expect((failed as StackRunError).resources.filter((r) => r.type.startsWith("docker:"))).toEqual([]);
  });

  it("leaves the SSH stacks' provider alone", async () => {
    process.env.DOCKER_HOST = "unix:///run/user/1000/docker.sock";
    const r = await runStack("staging", stackFile("staging"), testSecrets("staging"));
    expect(one(r, PROVIDER, "host-docker").inputs.host).toBe("ssh://deploy@203.0.113.10:22");
  });
});
