/** SSH material for the Docker provider: exact strings, and files written with private modes. */
import * as fs from "node:fs";
import { describe, expect, it } from "vitest";
import { dockerSshHost, knownHostsLine, sshOptions, writeSshFiles } from "../lib/sshFiles";

describe("ssh files and options", () => {
  it("formats hosts and known_hosts lines", () => {
    expect(dockerSshHost("deploy", "203.0.113.10", 22)).toBe("ssh://deploy@203.0.113.10:22");
    expect(dockerSshHost("deploy", "2001:db8::1", 2222)).toBe("ssh://deploy@[2001:db8::1]:2222");
    expect(knownHostsLine("203.0.113.10", 22, "ssh-ed25519 AAAA")).toBe("203.0.113.10 ssh-ed25519 AAAA");
    expect(knownHostsLine("203.0.113.10", 2222, "ssh-ed25519 AAAA")).toBe("[203.0.113.10]:2222 ssh-ed25519 AAAA");
  });

  it("pins the host key when there is one, and always checks host keys", () => {
    expect(sshOptions({ keyPath: "/k", knownHostsPath: "/kh" })).toEqual([
      "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=/kh", "-o", "IdentitiesOnly=yes", "-i", "/k",
    ]);
    expect(sshOptions({ keyPath: "/k" })).toEqual(["-o", "StrictHostKeyChecking=accept-new", "-o", "IdentitiesOnly=yes", "-i", "/k"]);
  });

  it("writes the key and known_hosts readable by the owner only", () => {
    const files = writeSshFiles("unit-test", "KEY", "host ssh-ed25519 AAAA");
    expect(fs.readFileSync(files.keyPath, "utf8")).toBe("KEY\n");
    expect(fs.statSync(files.keyPath).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(files.knownHostsPath ?? "", "utf8")).toBe("host ssh-ed25519 AAAA\n");
    expect(fs.statSync(files.knownHostsPath ?? "").mode & 0o777).toBe(0o600);
  });
});
