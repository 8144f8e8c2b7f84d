/**
 * railyard:deploy.images reaches CI's docker/build-push-action, which takes a URL, a git remote or a `name=…` as a
 * REMOTE build context: a stack file must not be able to make the workflow build and push code from outside the
 * checkout with its token, nor add build arguments through a newline. Each value is checked by the schema alone,
 * then through the program's loader (the config error names the key and nothing is registered).
 */
import { describe, expect, it } from "vitest";
import { imageBuildsSchema } from "../config/images";
import { runStack, stackFile, StackRunError, testSecrets } from "./harness";

const REPO = "ghcr.io/example/backend";
const parse = (build: Record<string, unknown>) => imageBuildsSchema.safeParse({ [REPO]: build });

const REMOTE_OR_ODD = [
  "https://github.com/evil/app.git#main",
  "git@github.com:evil/app.git",
  "github.com/evil/app.git#main:sub",
  "name=https://evil.example/ctx.tar.gz",
  "-f",
  "back end",
  "backend\nother",
  "../outside",
  "a/../../outside",
  "/abs/path",
  "~/home",
];

describe("deploy.images build paths: plain folders of the checkout only", () => {
  it.each(REMOTE_OR_ODD)("context %j is refused", (context) => {
    const r = parse({ context });
    expect(r.success).toBe(false);
  });

  it.each(REMOTE_OR_ODD)("dockerfile %j is refused", (dockerfile) => {
    expect(parse({ context: "backend", dockerfile }).success).toBe(false);
  });

  it.each(["backend", "./backend", "apps/api-2", "examples/app", "a/b/../c", "."])("context %j is accepted", (context) => {
    expect(parse({ context, dockerfile: "examples/app/Dockerfile" }).success).toBe(true);
  });

  it("a build argument with a newline is refused (it would add an argument of its own); one line passes", () => {
    expect(parse({ context: "backend", args: { VERSION: "1\nEVIL=1" } }).success).toBe(false);
    expect(parse({ context: "backend", args: { VERSION: "1\rEVIL=1" } }).success).toBe(false);
    expect(parse({ context: "backend", args: { VERSION: "1.2.3 (build 7)" } }).success).toBe(true);
  });

  it("through the loader: the error names the key, and no resource is registered", async () => {
    const plain = structuredClone(stackFile("staging"));
    const deploy = plain["railyard:deploy"] as { images: Record<string, { context: string }> };
    deploy.images[REPO] = { context: "https://github.com/evil/app.git#main" };
    const error = await runStack("staging", plain, testSecrets("staging")).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StackRunError);
    expect((error as Error).message).toContain(`railyard:deploy.images["${REPO}"].context: expected a build context path inside the checkout`);
    expect((error as Error).message).toMatch(/no resource was registered/);
  });
});
