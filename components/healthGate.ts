/**
 * HealthGate: after a service's update, the release takes traffic only when every running task runs the declared
 * image and is healthy: probed from inside each new task (web services with an HTTP health check) and through
 * the edge as users reach it. A task that fails or exits, or a health JSON with a bad component, rolls the
 * service back at once (host/railyard-gate.sh) and fails `pulumi up` with the failed tasks' last log lines.
 * Re-run whenever the image or the task spec changes; a later run fails again while the rolled-back image runs.
 * The edge's and databases' counterpart, which waits for Swarm's own verdict, is components/settleGate.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import { GateArgs, gateCommand } from "../commands/gate";
import type { Host } from "./host";

export interface HealthGateArgs {
  host: Host;
  /** Swarm service name. */
  serviceName: string;
  /** The image the update declared. */
  image: pulumi.Input<string>;
  /** Anything whose change rolls the tasks (env, command, secrets): a change re-runs the gate. */
  spec: pulumi.Input<unknown>;
  /** Probe each new task on 127.0.0.1:port/path from inside. */
  probe?: GateArgs["probe"];
  /** Probe through the edge (URL on the host, Host header, accept the origin certificate). */
  edge?: GateArgs["edge"];
  /** Attempts and seconds between them (railyard:deploy.healthCheckAttempts / healthCheckInterval). */
  attempts: number;
  intervalSeconds: number;
  /** The service (and the edge) the gate waits for. */
  dependsOn: pulumi.Resource[];
}

export class HealthGate extends pulumi.ComponentResource {
  readonly command: pulumi.CustomResource;

  constructor(name: string, args: HealthGateArgs, opts?: pulumi.ComponentResourceOptions) {
    super("railyard:index:HealthGate", name, {}, opts);
    const create = pulumi.output(args.image).apply((image) =>
      gateCommand(args.host.scriptPath("railyard-gate.sh"), {
        service: args.serviceName,
        image,
        probe: args.probe,
        edge: args.edge,
        attempts: args.attempts,
        intervalSeconds: args.intervalSeconds,
      }),
    );
    this.command = args.host.run(
      `${name}-gate`,
      { create, triggers: [args.image, pulumi.jsonStringify(pulumi.output(args.spec))] },
      { parent: this, dependsOn: [...args.host.scriptsReady, ...args.dependsOn] },
    );
    this.registerOutputs({});
  }
}
