/**
 * A local certificate authority standing in for Cloudflare's Origin CA under mocks: real EC keys, real CSRs and
 * certificates signed by a CA made once per test process (openssl), so the engine tests serve real TLS.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

let dir: string | undefined;

function caDir(): string {
  if (dir) return dir;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-test-ca-"));
  execFileSync("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path.join(dir, "ca.key")]);
  execFileSync("openssl", ["req", "-x509", "-new", "-key", path.join(dir, "ca.key"), "-subj", "/CN=railyard test origin CA", "-days", "2", "-out", path.join(dir, "ca.pem")]);
  return dir;
}

/** The CA certificate clients must trust to verify what the edge serves. */
export function caCertFile(): string {
  return path.join(caDir(), "ca.pem");
}

export function newKey(): string {
  return execFileSync("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout"], { encoding: "utf8" });
}

export function request(keyPem: string, dnsNames: string[]): string {
  const key = path.join(caDir(), `key-${process.pid}-${Date.now()}.pem`);
  fs.writeFileSync(key, keyPem, { mode: 0o600 });
  const san = dnsNames.map((d) => `DNS:${d}`).join(",");
  const out = execFileSync("openssl", ["req", "-new", "-key", key, "-subj", `/CN=${dnsNames[0]}`, "-addext", `subjectAltName=${san}`], { encoding: "utf8" });
  fs.rmSync(key);
  return out;
}

export function sign(csrPem: string): string {
  const d = caDir();
  return execFileSync(
    "openssl",
    ["x509", "-req", "-CA", path.join(d, "ca.pem"), "-CAkey", path.join(d, "ca.key"), "-CAcreateserial", "-days", "1", "-copy_extensions", "copy"],
    { input: csrPem, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] },
  );
}
