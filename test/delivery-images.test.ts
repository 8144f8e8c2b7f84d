import { describe as group, expect, it } from "vitest";
import { buildSchema, imageBuildProblems, imageBuildsSchema, imageRepository, isRepository, promoteFromSchema, promotionProblems } from "../config/images";
import { formatProblem } from "../config/problems";

const services = {
  api: { image: "ghcr.io/example/backend@sha256:" + "1".repeat(64) },
  worker: { image: "ghcr.io/example/backend:1.4@sha256:" + "1".repeat(64) },
  web: { image: "ghcr.io/example/frontend:latest" },
  built: {},
};
const lines = (images: unknown) => imageBuildProblems(imageBuildsSchema.parse(images), services).map(formatProblem);

group("imageRepository", () => {
  it.each([
    ["ghcr.io/example/backend@sha256:" + "a".repeat(64), "ghcr.io/example/backend"],
    ["ghcr.io/example/backend:1.2@sha256:" + "a".repeat(64), "ghcr.io/example/backend"],
    ["localhost:5000/app", "localhost:5000/app"],
    ["localhost:5000/app:dev", "localhost:5000/app"],
    ["nginx:1.27", "nginx"],
    ["nginx", "nginx"],
  ])("%s → %s", (image, repo) => expect(imageRepository(image)).toBe(repo));
  it("tells a bare repository from a tagged or malformed one", () => {
    expect(isRepository("ghcr.io/example/backend")).toBe(true);
    expect(isRepository("registry.example.com:5000/team/app")).toBe(true);
    expect(isRepository("ghcr.io/example/backend:1")).toBe(false);
    expect(isRepository("GHCR.io/example/backend")).toBe(false);
    expect(isRepository("ghcr.io/example/backend@sha256:" + "a".repeat(64))).toBe(false);
    expect(isRepository("reg.example.com:99999/app")).toBe(false);
  });
});

group("imageBuildsSchema", () => {
  it("takes builds shaped like a service's build", () => {
    const parsed = imageBuildsSchema.parse({
      "ghcr.io/example/backend": { context: "./backend", dockerfile: "backend/Dockerfile", target: "prod", args: { PY: "3.12" } },
      "ghcr.io/example/frontend": { context: "./frontend" },
    });
    expect(parsed["ghcr.io/example/frontend"]).toEqual({ context: "./frontend" });
  });
  it.each([
    [{ context: "/abs" }, "relative to the project directory"],
    [{ context: "../out" }, "inside the project directory"],
    [{ context: "a/../../b" }, "inside the project directory"],
    [{ context: "." , dockerfile: "~/Dockerfile" }, "relative to the project directory"],
    [{ context: ".", target: "a b" }, "a build stage name"],
    [{ context: ".", args: { "1X": "v" } }, "a build argument name"],
    [{ context: ".", extra: 1 }, "Unrecognized key"],
    [{}, "a build context path as a string"],
  ])("refuses %j", (build, message) => {
    const r = imageBuildsSchema.safeParse({ "ghcr.io/example/backend": build });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain(message);
  });
  it("refuses prototype keys and non-maps", () => {
    // (__proto__ is caught before the schema, for every key of the stack file: config/load.ts prototypeKeyProblems.)
    expect(imageBuildsSchema.safeParse({ constructor: { context: "." } }).success).toBe(false);
    expect(imageBuildsSchema.safeParse(["ghcr.io/x"]).success).toBe(false);
  });
  it("is the same shape as a service's build", () => {
    expect(buildSchema.parse({ context: "./api", args: { A: "1" } })).toEqual({ context: "./api", args: { A: "1" } });
  });
});

group("imageBuildProblems", () => {
  it("passes repositories the services use", () => {
    expect(lines({ "ghcr.io/example/backend": { context: "." }, "ghcr.io/example/frontend": { context: "." } })).toEqual([]);
  });
  it("names a key with a tag and says which repository to use", () => {
    expect(lines({ "ghcr.io/example/backend:1.4": { context: "." } })).toEqual([
      'railyard:deploy.images["ghcr.io/example/backend:1.4"]: expected an image repository without a tag or digest, such as ' +
        'ghcr.io/example/backend (CI adds the digest it pushed), got "ghcr.io/example/backend:1.4", which has a tag or digest: use "ghcr.io/example/backend"',
    ]);
  });
  it("names a key with a digest", () => {
    const key = "ghcr.io/example/backend@sha256:" + "1".repeat(64);
    const [line] = lines({ [key]: { context: "." } });
    expect(line).toContain(`railyard:deploy.images["${key}"]: expected an image repository without a tag or digest`);
    expect(line).toContain('use "ghcr.io/example/backend"');
  });
  it("names a malformed key", () => {
    expect(lines({ "Not A Repo": { context: "." } })).toEqual([
      'railyard:deploy.images["Not A Repo"]: expected an image repository without a tag or digest, such as ghcr.io/example/backend (CI adds the digest it pushed), got "Not A Repo"',
    ]);
  });
  it("names a repository no service uses, listing those in use", () => {
    expect(lines({ "ghcr.io/example/backnd": { context: "." } })).toEqual([
      'railyard:deploy.images["ghcr.io/example/backnd"]: expected a repository some service\'s image is in ' +
        '(ghcr.io/example/backend, ghcr.io/example/frontend), got "ghcr.io/example/backnd", which no service uses',
    ]);
  });
  it("reports every bad key at once", () => {
    expect(lines({ "a:1": { context: "." }, "ghcr.io/x/y": { context: "." }, "ghcr.io/example/backend": { context: "." } })).toHaveLength(2);
  });
  it("says so when no service names an image", () => {
    const [p] = imageBuildProblems({ "ghcr.io/x/y": { context: "." } }, { built: {} });
    expect(p.expected).toContain("no service names an image");
  });
});

group("promoteFrom", () => {
  it("takes a stack name", () => {
    expect(promoteFromSchema.parse("staging")).toBe("staging");
    expect(promoteFromSchema.safeParse("Staging").success).toBe(false);
    expect(promoteFromSchema.safeParse("../x").success).toBe(false);
  });
  it("refuses the stack itself and images beside it, naming the key", () => {
    expect(promotionProblems("production", undefined, { "ghcr.io/x/y": { context: "." } })).toEqual([]);
    expect(promotionProblems("production", "staging", undefined)).toEqual([]);
    expect(promotionProblems("production", "production", undefined).map(formatProblem)).toEqual([
      'railyard:deploy.promoteFrom: expected another stack\'s name (the stack whose tested images this one deploys), got "production", this stack itself',
    ]);
    expect(promotionProblems("production", "staging", { "ghcr.io/x/y": { context: "." } }).map(formatProblem)[0]).toContain(
      "railyard:deploy.promoteFrom: expected no railyard:deploy.images beside it",
    );
  });
});
