/**
 * Where Swarm may run a stack's tasks when the stack has more than one node: by the node labels railyard sets
 * (railyard.node=<name>, railyard.<label>=true for data, edge and app), the only placement vocabulary. Declared only
 * when the stack declares nodes: a single-node stack's specs stay as they were, so its next `pulumi up` is empty.
 */
import type * as docker from "@pulumi/docker";
import type * as pulumi from "@pulumi/pulumi";

export type Placement = docker.types.input.ServiceTaskSpecPlacement;

/** The label a node's name is set in ("host" for the main host). */
export const NODE_NAME_LABEL = "railyard.node";

/** A database stays on the node that holds its volume (Swarm does not move volumes). */
export function databasePlacement(node: string): Placement {
  if (!/^[a-z][a-z0-9-]{0,29}$/.test(node)) throw new Error(`railyard: databasePlacement: a node name (lower-case, digits, -; at most 30), got ${JSON.stringify(node)}`);
  return { constraints: [`node.labels.${NODE_NAME_LABEL}==${node}`] };
}

/** The edge (Caddy and the front holding the host-mode ports) runs on the nodes that hold the public address. */
export function edgePlacement(): Placement {
  return { constraints: ["node.labels.railyard.edge==true"] };
}

/**
 * Migration jobs run on the main host, whatever its labels: railyard-migrate.sh stops and removes a timed-out or
 * finished job's container with the main host's engine (Swarm stops neither), which reaches only its own node. A
 * job needs the network, its secrets and the image, not an app node.
 */
export function jobPlacement(): Placement {
  return databasePlacement("host");
}

/** Services spread over the app nodes. */
export function appPlacement(): Placement {
  return { constraints: ["node.labels.railyard.app==true"] };
}

/**
 * ignoreChanges for a service that declares a placement. The provider's create asks the registry for the image's
 * platforms and adds them to the placement (kreuzwerker resource_docker_service_funcs.go: QueryRegistry = true on
 * create only); the next read gives them back, and a declaration without them would remove them (an update that
 * restarts every task, test/provider-model.test.ts). pulumi-terraform-bridge drops the ignored attribute's diffs
 * (pkg/tfbridge/diff.go computeIgnoreChanges, pkg/tfshim/sdk-v2/instance_diff.go processIgnoreChanges: the key and
 * every key under it, so the set's count and elements alike).
 */
export const PLACEMENT_IGNORE = ["taskSpec.placement.platforms"];

/**
 * Options of a placed service: with a placement, its platforms ignored (PLACEMENT_IGNORE, after any the caller
 * set); without one, the options as given (a single-node stack's resources stay as they were).
 */
export function placedOptions(opts: pulumi.CustomResourceOptions, placement: Placement | undefined): pulumi.CustomResourceOptions {
  if (placement === undefined) return opts;
  return { ...opts, ignoreChanges: [...(opts.ignoreChanges ?? []), ...PLACEMENT_IGNORE] };
}


/** The task template's placement field: absent without a placement (not even as undefined). */
export function placed(placement: Placement | undefined): { placement?: Placement } {
  return placement === undefined ? {} : { placement };
}
