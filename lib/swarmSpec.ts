/** Small pieces of Swarm service specs shared by services and databases. */
import { createHash } from "node:crypto";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ResourcesConfig } from "../config/schema";
import { familiarImage, pinnedByDigest } from "./imageRef";
import { memoryBytes, nanoCpus } from "./units";

export interface LogSettings {
  maxSize: string;
  maxFiles: number;
}

/** json-file logs with rotation, so a chatty container cannot fill the disk. */
export function logDriver(logs: LogSettings): docker.types.input.ServiceTaskSpecLogDriver {
  return { name: "json-file", options: { "max-size": logs.maxSize, "max-file": String(logs.maxFiles) } };
}

/**
 * CPU and memory limits, always declared (0 is no limit): the provider keeps limits a stack file no longer sets
 * when the block is left out (it is Optional and Computed), so removing them would change nothing.
 */
export function resourceLimits(r: ResourcesConfig): docker.types.input.ServiceTaskSpecResources {
  return {
    limits: {
      nanoCpus: r.cpus === undefined ? 0 : nanoCpus(r.cpus),
      memoryBytes: r.memory === undefined ? 0 : memoryBytes(r.memory),
    },
  };
}

/**
 * The image a service declares, in the form the provider reads back: a reference pinned by digest as it is
 * (familiar form); a tag (dev only: the config refuses one elsewhere) pulled once by a RemoteImage and declared
 * by the digest it resolved to. The provider pins a tag to its digest when it creates a service and sends the
 * bare tag on update, so a tag would roll the service on the next `pulumi up`. An image with no registry digest
 * (built or loaded locally) is declared as named.
 */
export function serviceImage(name: string, image: string, opts: pulumi.CustomResourceOptions): pulumi.Output<string> {
  const familiar = familiarImage(image);
  if (pinnedByDigest(familiar)) return pulumi.output(familiar);
  const pulled = new docker.RemoteImage(name, { name: familiar, keepLocally: true }, opts);
  return pulled.repoDigest.apply((digest) => (digest === "" ? familiar : digest));
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

/**
 * Options for a Swarm service, whose name is fixed (its DNS name): a replacement (a ForceNew field such as its
 * network changed) deletes the old service first. Pulumi's default creates the new one first, which Swarm
 * refuses under the same name, so the `pulumi up` would fail halfway.
 */
export function fixedName(opts: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions {
  return { ...opts, deleteBeforeReplace: true };
}
