/** Small pieces of Swarm service specs shared by services and databases. */
import { createHash } from "node:crypto";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ResourcesConfig } from "../config/schema";
import { memoryBytes, nanoCpus } from "./units";

export interface LogSettings {
  maxSize: string;
  maxFiles: number;
}

/** json-file logs with rotation, so a chatty container cannot fill the disk. */
export function logDriver(logs: LogSettings): docker.types.input.ServiceTaskSpecLogDriver {
  return { name: "json-file", options: { "max-size": logs.maxSize, "max-file": String(logs.maxFiles) } };
}

/** CPU and memory limits, when the stack file sets them. */
export function resourceLimits(r: ResourcesConfig): docker.types.input.ServiceTaskSpecResources | undefined {
  if (r.cpus === undefined && r.memory === undefined) return undefined;
  return {
    limits: {
      nanoCpus: r.cpus === undefined ? undefined : nanoCpus(r.cpus),
      memoryBytes: r.memory === undefined ? undefined : memoryBytes(r.memory),
    },
  };
}

/** Labels that tell which stack and railyard resource a Docker object belongs to. */
export function railyardLabels(stack: string, role: string, name: string): { label: string; value: string }[] {
  return [
    { label: "railyard.stack", value: stack },
    { label: "railyard.role", value: role },
    { label: "railyard.name", value: name },
  ];
}

/**
 * Mounts a Swarm secret as /run/secrets/<fileName>, readable by any user (0444): images that switch to a
 * non-root user (mongo's entrypoint, app images with USER) must still read it.
 */
export function secretFile(secret: docker.Secret, fileName: string): docker.types.input.ServiceTaskSpecContainerSpecSecret {
  return { secretId: secret.id, secretName: secret.name, fileName, fileMode: 0o444 };
}

/** A Swarm secret holding `value` (Docker wants it base64-encoded). Auto-named, so a new value rolls a new secret. */
export function swarmSecret(
  name: string,
  value: pulumi.Input<string>,
  labels: { label: string; value: string }[],
  opts: pulumi.CustomResourceOptions,
): docker.Secret {
  const data = pulumi.secret(pulumi.output(value).apply((v) => Buffer.from(v, "utf8").toString("base64")));
  return new docker.Secret(name, { data, labels }, opts);
}

/** A Swarm config holding `text`, named by a hash of its content: new content, a new config (and a task roll). */
export function contentNamedConfig(
  name: string,
  swarmName: string,
  text: string,
  labels: { label: string; value: string }[],
  opts: pulumi.CustomResourceOptions,
): docker.ServiceConfig {
  const hash = createHash("sha256").update(text).digest("hex").slice(0, 12);
  return new docker.ServiceConfig(name, { name: `${swarmName}-${hash}`, data: Buffer.from(text, "utf8").toString("base64"), labels }, opts);
}
