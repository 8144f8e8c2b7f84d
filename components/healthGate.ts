/**
 * HealthGate: after a service's update, the release takes traffic only when every running task is of the declared
 * release (RAILYARD_RELEASE in its env: a hash of the whole task template) and is healthy: probed from inside each
 * new task (web services with an HTTP health check) and through the edge as users reach it. A task that fails or
 * exits, or a health JSON with a bad component, rolls the service back at once (host/railyard-gate.sh); whoever
 * rolled it back (the gate or Swarm), `pulumi up` fails with each failed task's reason and last log lines, recorded
 * in <stackDir>/state. Re-run whenever the release changes; a later run fails again (saying what failed) while the
 * rolled-back release serves, and passes for the release that serves when it is healthy.
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
  /** The declared release (Service.release: RAILYARD_RELEASE in the env of every task of it). */
  release: pulumi.Input<string>;
  /** Anything whose change rolls the tasks (env, command, secrets): a change re-runs the gate. */
  spec: pulumi.Input<unknown>;
  /** Probe each new task on 127.0.0.1:port/path from inside. */
  probe?: GateArgs["probe"];
  /** Probe through the edge (URL on the host, Host header, accept the origin certificate). */
  edge?: GateArgs["edge"];
  /** Attempts and seconds between them (railyard:deploy.healthCheckAttempts / healthCheckInterval). */
  attempts: number;
  intervalSeconds: number;
  /**
   * Seconds each task of the release must have run before it counts as up: a release that crashes seconds after
   * it starts (an import error) fails instead of passing. @default 5 for a service probed over HTTP, else 10
   */
  stableSeconds?: number;
  /** The service (and the edge) the gate waits for. */
  dependsOn: pulumi.Resource[];
}

export class HealthGate extends pulumi.ComponentResource {
  readonly command: pulumi.CustomResource;
  /** The gate's arguments for this release (a release record keeps them, so a rollback on the host gates alike). */
  readonly gate: pulumi.Output<GateArgs>;

  constructor(name: string, args: HealthGateArgs, opts?: pulumi.ComponentResourceOptions) {
    super("railyard:index:HealthGate", name, {}, opts);
    this.gate = pulumi.all([args.image, args.release]).apply(([image, release]): GateArgs => ({
      service: args.serviceName,
      image,
      release,
      stateDir: `${args.host.stackDir}/state`,
      probe: args.probe,
      edge: args.edge,
      attempts: args.attempts,
      intervalSeconds: args.intervalSeconds,
      stableSeconds: args.stableSeconds ?? (args.probe ? 5 : 10),
    }));
    const create = this.gate.apply((g) => gateCommand(args.host.scriptPath("railyard-gate.sh"), g));
    this.command = args.host.run(
      `${name}-gate`,
      { create, triggers: [args.image, args.release, pulumi.jsonStringify(pulumi.output(args.spec))] },
      { parent: this, dependsOn: [...args.host.scriptsReady, ...args.dependsOn] },
    );
    this.registerOutputs({});
  }
}
