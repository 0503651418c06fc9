import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  deriveKey,
  loadSecretKey,
  resolveSecretKey,
  SECRET_KEY_FILE_NAME,
  SecretKeyError,
} from "../../src/auth/secret-key.ts";

const CONFIGURED = "configured-secret-0123456789-abcdefghij";

let dataDir: string;
let keyFile: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "mss-secret-"));
  keyFile = join(dataDir, SECRET_KEY_FILE_NAME);
});
afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

const config = (secret: string | null = null) => ({ secret_key: secret, data_dir: dataDir });

function errorOf(run: () => unknown): SecretKeyError {
  try {
    run();
  } catch (error) {
    if (error instanceof SecretKeyError) return error;
    throw error;
  }
  throw new Error("expected a SecretKeyError");
}

describe("loadSecretKey", () => {
  test("the configured key wins and no file is written", () => {
    expect(resolveSecretKey(config(CONFIGURED))).toEqual({ key: CONFIGURED, source: "config", path: null });
    expect(existsSync(keyFile)).toBe(false);
  });

  test("without configuration: generated once, 256 bits base64url, mode 0600, reused", () => {
    const first = resolveSecretKey(config());
    expect(first.source).toBe("generated");
    expect(first.path).toBe(keyFile);
    expect(first.key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(first.key, "base64url")).toHaveLength(32);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, "utf8")).toBe(`${first.key}\n`);

    const second = resolveSecretKey(config());
    expect(second).toEqual({ key: first.key, source: "file", path: keyFile });
    expect(loadSecretKey(config())).toBe(first.key);
    // No temporary files left behind.
    expect(readdirSync(dataDir)).toEqual([SECRET_KEY_FILE_NAME]);
  });

  test("processes starting together all end up with the same key", async () => {
    const module = join(import.meta.dir, "../../src/auth/secret-key.ts");
    const script = `const { loadSecretKey } = await import(${JSON.stringify(module)});
      console.log(loadSecretKey({ secret_key: null, data_dir: ${JSON.stringify(dataDir)} }));`;
    const children = Array.from({ length: 6 }, () =>
      Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "inherit" }),
    );
    const keys = await Promise.all(children.map((child) => new Response(child.stdout).text()));
    expect(new Set(keys.map((key) => key.trim())).size).toBe(1);
    expect(keys[0]?.trim()).toBe(readFileSync(keyFile, "utf8").trim());
    expect(readdirSync(dataDir)).toEqual([SECRET_KEY_FILE_NAME]);
  });

  test("two data directories get different keys", () => {
    const other = mkdtempSync(join(tmpdir(), "mss-secret-"));
    try {
      expect(loadSecretKey(config())).not.toBe(loadSecretKey({ secret_key: null, data_dir: other }));
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  test("a key file others may read stops start-up with what to do", () => {
    const key = loadSecretKey(config());
    for (const mode of [0o640, 0o604, 0o644]) {
      chmodSync(keyFile, mode);
      const message = errorOf(() => loadSecretKey(config())).message;
      expect(message).toContain(`other users may read the secret key (mode 0${mode.toString(8)})`);
      expect(message).toContain(`chmod 600 ${keyFile}`);
    }
    chmodSync(keyFile, 0o600);
    expect(loadSecretKey(config())).toBe(key);
    // The configured key does not look at the file at all.
    chmodSync(keyFile, 0o644);
    expect(loadSecretKey(config(CONFIGURED))).toBe(CONFIGURED);
  });

  test("an operator-provided file is used as written (trimmed)", () => {
    writeFileSync(keyFile, `  ${CONFIGURED}\n\n`, { mode: 0o600 });
    expect(resolveSecretKey(config())).toEqual({ key: CONFIGURED, source: "file", path: keyFile });
  });

  test("a short or empty key file is refused, never replaced", () => {
    writeFileSync(keyFile, "too short\n", { mode: 0o600 });
    expect(errorOf(() => loadSecretKey(config())).message).toContain("holds 9 characters, at least 32 are needed");
    writeFileSync(keyFile, "", { mode: 0o600 });
    expect(errorOf(() => loadSecretKey(config())).message).toContain("holds 0 characters");
    expect(readFileSync(keyFile, "utf8")).toBe("");
  });

  test("a directory in the key file's place is refused", () => {
    mkdirSync(keyFile, { mode: 0o700 });
    expect(errorOf(() => loadSecretKey(config())).message).toContain("is not a regular file");
  });

  test("an unwritable data directory gives a clear error", () => {
    if (process.getuid?.() === 0) return; // root writes anywhere
    chmodSync(dataDir, 0o500);
    try {
      expect(errorOf(() => loadSecretKey(config())).message).toContain("cannot create the secret key file");
    } finally {
      chmodSync(dataDir, 0o700);
    }
  });
});

describe("deriveKey", () => {
  test("32 bytes, deterministic, different per purpose and per secret", () => {
    const session = deriveKey(CONFIGURED, "session-jwt");
    expect(session).toBeInstanceOf(Uint8Array);
    expect(session).toHaveLength(32);
    expect(deriveKey(CONFIGURED, "session-jwt")).toEqual(session);
    expect(deriveKey(CONFIGURED, "mfa-secret-encryption")).not.toEqual(session);
    expect(deriveKey(`${CONFIGURED}x`, "session-jwt")).not.toEqual(session);
    expect(Buffer.from(session).toString()).not.toContain(CONFIGURED);
  });

  test("HKDF-SHA256 (RFC 5869) with salt 'mss-login' and info 'mss-login/<purpose>'", async () => {
    const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(CONFIGURED), "HKDF", false, ["deriveBits"]);
    const expected = await crypto.subtle.deriveBits(
      {
        name: "HKDF",
        hash: "SHA-256",
        salt: new TextEncoder().encode("mss-login"),
        info: new TextEncoder().encode("mss-login/session-jwt"),
      },
      material,
      256,
    );
    expect(deriveKey(CONFIGURED, "session-jwt")).toEqual(new Uint8Array(expected));
  });

  test("empty secret or purpose is a programming error", () => {
    expect(() => deriveKey("", "x")).toThrow(RangeError);
    expect(() => deriveKey(CONFIGURED, "")).toThrow(RangeError);
  });
});
