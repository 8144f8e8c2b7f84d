/**
 * The settle gate of a service whose updates Swarm alone judges (the edge, its front, a database): a host
 * command created as a child of that service's component (host/railyard-gate.sh --settle).
 */
import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { settleCommand } from "../commands/gate";
import type { Host } from "./host";

/** How long a settle gate waits for Swarm: the monitor windows (edge 10 s, front 5 s, databases 30 s), a rollback, a start period. */
export const SETTLE_TIMEOUT_SECONDS = 300;

/**
 * The gate of a service whose updates Swarm alone judges (the edge, its front, a database): convergeConfig returns
 * as soon as every replica runs, inside Swarm's monitor window, so after the service's create or update this waits
 * for Swarm's own update to complete (railyard-gate.sh --settle) and fails `pulumi up` when Swarm rolled it back
 * or paused it. Re-run whenever the service's declared spec changes, and only then.
 */
export function settleGate(name: string, host: Host, service: docker.Service, swarmName: string, parent: pulumi.Resource): pulumi.CustomResource {
  const spec = pulumi.output({
    name: service.name,
    labels: service.labels,
    mode: service.mode,
    taskSpec: service.taskSpec,
    endpointSpec: service.endpointSpec,
    updateConfig: service.updateConfig,
    rollbackConfig: service.rollbackConfig,
  });
  return host.run(
    `${name}-settle`,
    { create: settleCommand(host.scriptPath("railyard-gate.sh"), { service: swarmName, timeoutSeconds: SETTLE_TIMEOUT_SECONDS }), triggers: [pulumi.jsonStringify(spec)] },
    { parent, dependsOn: [...host.scriptsReady, service] },
  );
}
