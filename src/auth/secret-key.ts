// The installation's SECRET_KEY, from which signing and encryption keys are derived.
//
// Taken from the `secret_key` setting (env MSS_LOGIN_SECRET_KEY) when set; otherwise read
// from `<data_dir>/secret.key`, which is generated on first use (32 random bytes, base64url)
// with mode 0600, so sessions and encrypted MFA secrets survive a restart. Never random per
// boot by accident: a file that cannot be read stops start-up.
//
// A key file that other users may read is refused (start-up stops, the message says what to
// do) rather than silently re-moded: whoever could read it may have copied it, and only the
// operator can decide between keeping it (chmod 600) and rotating it (delete the file, which
// ends every session and makes stored MFA secrets unreadable).
import { hkdfSync } from "node:crypto";
import {
  chmodSync,
  closeSync,
  fstatSync,
  linkSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import type { Config } from "../config/index.ts";

export const SECRET_KEY_FILE_NAME = "secret.key";
/** Random bytes in a generated key (256 bits). */
const GENERATED_KEY_BYTES = 32;
/** Same floor as the `secret_key` setting. */
const MIN_KEY_CHARACTERS = 32;
const DERIVED_KEY_BYTES = 32;

export class SecretKeyError extends Error {
  override readonly name = "SecretKeyError";
}

export type SecretKeySource = "config" | "file" | "generated";

export interface ResolvedSecretKey {
  readonly key: string;
  /** config: the setting; file: an existing key file; generated: written just now. */
  readonly source: SecretKeySource;
  /** The key file, when the key came from one. */
  readonly path: string | null;
}

type SecretKeyConfig = Pick<Config, "secret_key" | "data_dir">;

/** The SECRET_KEY; see resolveSecretKey. Throws SecretKeyError with a one-line message. */
export function loadSecretKey(config: SecretKeyConfig): string {
  return resolveSecretKey(config).key;
}

/** The SECRET_KEY and where it came from (worth a log line when it was just generated). */
export function resolveSecretKey(config: SecretKeyConfig): ResolvedSecretKey {
  if (config.secret_key !== null) return { key: config.secret_key, source: "config", path: null };
  const path = join(config.data_dir, SECRET_KEY_FILE_NAME);
  const existing = readKeyFile(path);
  if (existing !== null) return { key: existing, source: "file", path };
  const generated = Buffer.from(crypto.getRandomValues(new Uint8Array(GENERATED_KEY_BYTES))).toString("base64url");
  if (writeKeyFileOnce(path, generated)) return { key: generated, source: "generated", path };
  // Another process created the file between our read and our write: use its key.
  const winner = readKeyFile(path);
  if (winner === null) throw new SecretKeyError(`${path}: the key file vanished while it was being created`);
  return { key: winner, source: "file", path };
}

function codeOf(error: unknown): unknown {
  return typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
}

function reasonOf(error: unknown): string {
  const code = codeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === "string" ? `${code === "EACCES" ? "permission denied" : message} (${code})` : message;
}

/** The key in an existing file, null when there is no file; throws when it is unusable. */
function readKeyFile(path: string): string | null {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (stat === undefined) return null;
  if (!stat.isFile()) throw new SecretKeyError(`${path}: the secret key path is not a regular file`);
  const mode = stat.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    const octal = mode.toString(8).padStart(4, "0");
    throw new SecretKeyError(
      `${path}: other users may read the secret key (mode ${octal}); run "chmod 600 ${path}" to keep it, ` +
        "or delete the file to generate a new one (this ends every session and makes enrolled MFA unreadable)",
    );
  }
  let content: string;
  try {
    content = readFileSync(path, "utf8").trim();
  } catch (error) {
    throw new SecretKeyError(`${path}: cannot read the secret key: ${reasonOf(error)}`, { cause: error });
  }
  if (content.length < MIN_KEY_CHARACTERS) {
    throw new SecretKeyError(
      `${path}: the secret key file holds ${content.length} characters, at least ${MIN_KEY_CHARACTERS} are needed ` +
        "(delete the file to generate a new key)",
    );
  }
  return content;
}

/**
 * Writes the key so that the file appears complete or not at all: a private temporary file,
 * then a hard link to the final name, which fails if that name exists. False when another
 * process won the race.
 */
function writeKeyFileOnce(path: string, key: string): boolean {
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
  let descriptor: number;
  try {
    descriptor = openSync(temporary, "wx", 0o600);
  } catch (error) {
    throw new SecretKeyError(`${temporary}: cannot create the secret key file: ${reasonOf(error)}`, { cause: error });
  }
  try {
    try {
      // Created 0600 already (the umask only removes bits); checked anyway, it is the key.
      if ((fstatSync(descriptor).mode & 0o077) !== 0) chmodSync(temporary, 0o600);
      writeSync(descriptor, `${key}\n`);
    } finally {
      closeSync(descriptor);
    }
    try {
      linkSync(temporary, path);
      return true;
    } catch (error) {
      if (codeOf(error) === "EEXIST") return false;
      throw new SecretKeyError(`${path}: cannot create the secret key file: ${reasonOf(error)}`, { cause: error });
    }
  } finally {
    try {
      unlinkSync(temporary);
    } catch {
      // Already gone; nothing to clean.
    }
  }
}

/**
 * A 32-byte key for one purpose (e.g. "session-jwt", "mfa-secret-encryption"), derived from the
 * SECRET_KEY with HKDF-SHA256, so that no two uses share key material and the SECRET_KEY itself
 * is never used directly.
 */
export function deriveKey(secret: string, purpose: string): Uint8Array {
  if (secret.length === 0) throw new RangeError("deriveKey needs a secret");
  if (purpose.length === 0) throw new RangeError("deriveKey needs a purpose");
  const derived = hkdfSync("sha256", secret, "mss-login", `mss-login/${purpose}`, DERIVED_KEY_BYTES);
  return new Uint8Array(derived);
}
