/** Secret files on the host: exact command lines, then run for real (mode, atomic replace, empty input refused). */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { asRootCommand } from "../commands/asRoot";
import { removeSecretFileCommand, writeSecretFileCommand } from "../commands/secretFile";

describe("secret file commands", () => {
  it("builds the exact lines", () => {
    expect(writeSecretFileCommand("/srv/railyard/staging/secrets/backup-uploader.ini")).toBe(
      asRootCommand("writing /srv/railyard/staging/secrets/backup-uploader.ini", "umask 077 && mkdir -p -- /srv/railyard/staging/secrets && chmod 700 -- /srv/railyard/staging/secrets && " +
        "cat > /srv/railyard/staging/secrets/backup-uploader.ini.new && test -s /srv/railyard/staging/secrets/backup-uploader.ini.new && " +
        "mv -f -- /srv/railyard/staging/secrets/backup-uploader.ini.new /srv/railyard/staging/secrets/backup-uploader.ini"),
    );
    expect(removeSecretFileCommand("/srv/railyard/staging/secrets/backup-uploader.ini")).toBe(
      asRootCommand(
        "removing /srv/railyard/staging/secrets/backup-uploader.ini",
        "rm -f -- /srv/railyard/staging/secrets/backup-uploader.ini /srv/railyard/staging/secrets/backup-uploader.ini.new",
      ),
    );
  });

  it("builds the SSH user's own file without sudo", () => {
    const file = "/srv/railyard/staging/hooks/deploy-webhook.url";
    expect(writeSecretFileCommand(file, { owner: "ssh-user" })).toBe(
      "umask 077 && mkdir -p -- /srv/railyard/staging/hooks && chmod 700 -- /srv/railyard/staging/hooks && " +
        "cat > /srv/railyard/staging/hooks/deploy-webhook.url.new && test -s /srv/railyard/staging/hooks/deploy-webhook.url.new && " +
        "mv -f -- /srv/railyard/staging/hooks/deploy-webhook.url.new /srv/railyard/staging/hooks/deploy-webhook.url",
    );
    expect(removeSecretFileCommand(file, { owner: "ssh-user" })).toBe(
      "rm -f -- /srv/railyard/staging/hooks/deploy-webhook.url /srv/railyard/staging/hooks/deploy-webhook.url.new",
    );
  });

  it("writes the SSH user's own file owner-only as that user, and removes it", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "railyard-secretfile-")), "hooks", "deploy-webhook.url");
    const run = (line: string, input: string) => spawnSync("bash", ["-c", line], { input, encoding: "utf8" });
    expect(run(writeSecretFileCommand(file, { owner: "ssh-user" }), "https://hooks.example.com/x\n").status).toBe(0);
    expect(fs.readFileSync(file, "utf8")).toBe("https://hooks.example.com/x\n");
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(file).uid).toBe(process.getuid?.());
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(run(removeSecretFileCommand(file, { owner: "ssh-user" }), "").status).toBe(0);
    expect(fs.existsSync(file)).toBe(false);
  });

  it.each(["relative/file", "/srv/../etc/passwd", "/srv/a b", "/srv/$(x)", "/srv/a\nb", "/", "/srv/./x"])("refuses the path %j", (p) => {
    expect(() => writeSecretFileCommand(p)).toThrow(/railyard: a secret file needs a plain absolute path/);
    expect(() => removeSecretFileCommand(p)).toThrow(/railyard: a secret file needs a plain absolute path/);
  });

  it("writes the content from stdin owner-only, replaces it whole, refuses empty input and removes it", () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-secretfile-"));
    const file = path.join(base, "secrets", "key.ini");
    const run = (line: string, input: string) => spawnSync("bash", ["-c", line], { input, encoding: "utf8" });
    const secret = "[default]\naws_access_key_id = AKIA'$(touch /tmp/railyard-pwned)\naws_secret_access_key = s e c r e t\n";
    expect(run(writeSecretFileCommand(file), secret).status).toBe(0);
    expect(fs.readFileSync(file, "utf8")).toBe(secret);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(file).uid).toBe(0);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(run(writeSecretFileCommand(file), "new").status).toBe(0);
    expect(fs.readFileSync(file, "utf8")).toBe("new");
    expect(run(writeSecretFileCommand(file), "").status).not.toBe(0);
    expect(fs.readFileSync(file, "utf8")).toBe("new");
    expect(run(removeSecretFileCommand(file), "").status).toBe(0);
    expect(fs.existsSync(file) || fs.existsSync(`${file}.new`)).toBe(false);
    expect(run(removeSecretFileCommand(file), "").status).toBe(0);
    expect(fs.existsSync("/tmp/railyard-pwned")).toBe(false);
    fs.rmSync(base, { recursive: true, force: true });
  });
});
