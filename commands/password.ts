/**
 * Command builders for host/railyard-dbpass.sh (Kamal style: pure functions returning one shell line; every
 * value is one quoted word). The password never appears in a line: it reaches the script on stdin
 * (passwordStdin), which Pulumi keeps as a secret.
 *   --check   after a database settles: the password railyard holds opens it as the app user over the network
 *   --rotate  before a database update that mounts a new password: the running database is set to it
 */
import type { Engine } from "../databases/plugin";
import { shellJoin } from "../lib/shell";

export interface PasswordArgs {
  /** The stack file's database name (messages name railyard:databases.<name>). */
  name: string;
  /** Its Swarm service name (also its DNS name). */
  service: string;
  engine: Engine;
  user: string;
  database: string;
}

/** How long the check retries a database that does not answer yet (a DNS record of a new task can lag). */
export const CHECK_RETRY_SECONDS = 60;
/** A margin over the script's own limits for `timeout`: a one-off container's start, a hung client. */
const MARGIN_SECONDS = 60;

function common(a: PasswordArgs): string[] {
  return ["--service", a.service, "--engine", a.engine, "--user", a.user, "--database", a.database, "--name", a.name];
}

/** Signs in over `network` (the apps' network) with the password on stdin; fails (50) naming the ways out. */
export function passwordCheckCommand(scriptPath: string, a: PasswordArgs & { network: string }): string {
  return shellJoin([
    "timeout", String(CHECK_RETRY_SECONDS + MARGIN_SECONDS),
    "bash", scriptPath, "--check", ...common(a), "--network", a.network, "--timeout", String(CHECK_RETRY_SECONDS),
  ]);
}

/** Sets the running database's password to the one on stdin; a database not deployed yet is skipped. */
export function passwordRotateCommand(scriptPath: string, a: PasswordArgs): string {
  return shellJoin(["timeout", String(MARGIN_SECONDS), "bash", scriptPath, "--rotate", ...common(a), "--skip-missing"]);
}

/** The script's stdin: the password on one line. */
export function passwordStdin(password: string): string {
  return `${password}\n`;
}
