/**
 * A command builder that runs a shell script as root on the host: as it is when the SSH user is root (or locally as
 * root), else through `sudo -n`; when sudo would ask for a password it exits 73 naming what to grant. The stack
 * files connect as a deploy user in the docker group (root's equal on the host anyway); what must be root's alone
 * (the backup bucket's keys, the systemd units) is written and read through this. The script's own exit codes and
 * its stdin pass through.
 */
import { shellQuote } from "../lib/shell";

/** The SSH user is not root and cannot run `sudo` without a password. */
export const NOT_ROOT_EXIT = 73;

/** `script` run as root; `label` names what needed root in the failure message. */
export function asRootCommand(label: string, script: string): string {
  const message = `railyard: ${label} needs root: connect as root, or let this user run sudo without a password (sudoers: <user> ALL=(root) NOPASSWD: ALL)`;
  return [
    `script=${shellQuote(script)}`,
    `if [ "$(id -u)" = 0 ]; then sh -c "$script"; exit $?; fi`,
    `if ! sudo -n true 2>/dev/null; then echo ${shellQuote(message)} >&2; exit ${NOT_ROOT_EXIT}; fi`,
    `exec sudo -n sh -c "$script"`,
  ].join("\n");
}
