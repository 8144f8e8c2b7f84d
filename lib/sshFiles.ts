/**
 * The Docker CLI's ssh transport reads the private key and known_hosts from files, written with mode 0600 on
 * the machine running Pulumi.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface SshFiles {
  keyPath: string;
  knownHostsPath?: string;
}

/** The known_hosts line for a host key: `[address]:port key` unless the port is 22. */
export function knownHostsLine(address: string, port: number, hostKey: string): string {
  const name = port === 22 ? address : `[${address}]:${port}`;
  return `${name} ${hostKey}`;
}

/**
 * Writes the files into a fresh private folder (mkdtemp: unpredictable name, mode 0700, never an existing
 * folder or file), removed when the Pulumi process exits.
 */
export function writeSshFiles(stack: string, privateKey: string, knownHosts?: string): SshFiles {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `railyard-${stack}-ssh-`));
  process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  const keyPath = path.join(dir, "id");
  fs.writeFileSync(keyPath, privateKey.endsWith("\n") ? privateKey : `${privateKey}\n`, { mode: 0o600, flag: "wx" });
  if (knownHosts === undefined) return { keyPath };
  const knownHostsPath = path.join(dir, "known_hosts");
  fs.writeFileSync(knownHostsPath, `${knownHosts}\n`, { mode: 0o600, flag: "wx" });
  return { keyPath, knownHostsPath };
}

/** The Docker provider's host URL for an SSH target; IPv6 addresses go in brackets. */
export function dockerSshHost(user: string, address: string, port: number): string {
  return `ssh://${user}@${address.includes(":") ? `[${address}]` : address}:${port}`;
}

/** ssh options for the Docker provider: host-key checking always on (pinned, or trust-on-first-use in dev). */
export function sshOptions(files: SshFiles): string[] {
  const checking = files.knownHostsPath
    ? ["-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${files.knownHostsPath}`]
    : ["-o", "StrictHostKeyChecking=accept-new"];
  return [...checking, "-o", "IdentitiesOnly=yes", "-i", files.keyPath];
}
