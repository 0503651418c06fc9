// Passwords: the policy a new password must meet, hashing (argon2id through Bun.password),
// verification (argon2id, and bcrypt hashes imported from the original MSS-Login), and the
// decision to re-hash after a successful login.
//
// Policy in the spirit of NIST SP 800-63B: a minimum length, a generous maximum, no
// composition rules, and a refusal of common passwords and of the username.
//
// Passwords are normalised to Unicode NFKC before hashing and checking, so the same password
// typed on two keyboards (precomposed "é" or "e" + combining accent) is the same password.
// Nothing here logs; callers must never log a password either.
import type { Config } from "../config/index.ts";
import { isCommonPassword } from "./common-passwords.ts";

/** Hash DoS guard: longer input is refused before any hashing (NIST asks for >= 64 characters). */
export const MAX_PASSWORD_BYTES = 1024;
/** Never configurable below this (config validation enforces it too). */
export const MIN_PASSWORD_LENGTH_FLOOR = 8;
/** argon2 parallelism: Bun.password always uses 1 lane. */
const ARGON2_PARALLELISM = 1;
/** argon2 version 1.3, the only one Bun writes. */
const ARGON2_VERSION = 19;
/** bcrypt reads at most 72 bytes; the original's Python bcrypt silently ignored the rest. */
const BCRYPT_MAX_BYTES = 72;

export interface PasswordSettings {
  /** Minimum length in characters (Unicode code points). */
  readonly minLength: number;
  readonly argon2MemoryKib: number;
  readonly argon2TimeCost: number;
}

export const DEFAULT_PASSWORD_SETTINGS: PasswordSettings = Object.freeze({
  minLength: 12,
  argon2MemoryKib: 19456,
  argon2TimeCost: 2,
});

export function passwordSettingsFrom(config: Pick<Config, "password">): PasswordSettings {
  return {
    minLength: config.password.min_length,
    argon2MemoryKib: config.password.argon2_memory_kib,
    argon2TimeCost: config.password.argon2_time_cost,
  };
}

// ---- Policy ----------------------------------------------------------------------------------

export type PasswordProblemCode =
  | "PASSWORD_TOO_SHORT"
  | "PASSWORD_TOO_LONG"
  | "PASSWORD_TOO_COMMON"
  | "PASSWORD_CONTAINS_USERNAME";

/** A reason to refuse a new password, worded for the person choosing it. */
export interface PasswordProblem {
  readonly code: PasswordProblemCode;
  readonly message: string;
}

const utf8 = new TextEncoder();

function byteLength(text: string): number {
  return utf8.encode(text).length;
}

/** Length in Unicode code points (a string's .length counts UTF-16 units: an emoji is 2). */
function codePointLength(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

function normalise(password: string): string {
  return password.normalize("NFKC");
}

/**
 * The first reason `password` may not be chosen, or null when it is acceptable.
 * `username` is the account's (the password must neither equal nor contain it).
 */
export function checkPasswordPolicy(
  password: string,
  context: { readonly username: string; readonly minLength: number },
): PasswordProblem | null {
  // Measured on the input as received: this is the limit that protects the hasher.
  if (byteLength(password) > MAX_PASSWORD_BYTES) {
    return {
      code: "PASSWORD_TOO_LONG",
      message: `Use at most ${MAX_PASSWORD_BYTES} bytes (fewer characters when they are not plain ASCII).`,
    };
  }
  const normalised = normalise(password);
  const minLength = Math.max(context.minLength, MIN_PASSWORD_LENGTH_FLOOR);
  // Both as typed and normalised: NFKC can expand one character into many (U+FDFA into 18).
  if (Math.min(codePointLength(password), codePointLength(normalised)) < minLength) {
    return { code: "PASSWORD_TOO_SHORT", message: `Use at least ${minLength} characters.` };
  }
  const username = context.username.toLowerCase();
  if (username.length > 0 && normalised.toLowerCase().includes(username)) {
    return { code: "PASSWORD_CONTAINS_USERNAME", message: "The password must not contain the username." };
  }
  if (isCommonPassword(normalised)) {
    return {
      code: "PASSWORD_TOO_COMMON",
      message: "This password is on a list of commonly used passwords; choose another.",
    };
  }
  return null;
}

// ---- Hashing and verification ------------------------------------------------------------------

export type PasswordHashKind = "argon2id" | "bcrypt" | "unknown";

const BCRYPT_PREFIX = /^\$2[aby]\$\d\d\$/;

export function passwordHashKind(hash: string): PasswordHashKind {
  if (hash.startsWith("$argon2id$")) return "argon2id";
  if (BCRYPT_PREFIX.test(hash)) return "bcrypt";
  return "unknown";
}

/** argon2id PHC string of the NFKC-normalised password. Check the policy first. */
export async function hashPassword(password: string, settings: PasswordSettings): Promise<string> {
  if (byteLength(password) > MAX_PASSWORD_BYTES) throw new RangeError("password longer than the hashing limit");
  return Bun.password.hash(normalise(password), {
    algorithm: "argon2id",
    memoryCost: settings.argon2MemoryKib,
    timeCost: settings.argon2TimeCost,
  });
}

/**
 * True when `password` matches `hash` (argon2id, or an imported bcrypt hash). Unknown hash
 * formats, empty or over-long passwords give false, never an exception.
 */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  if (password.length === 0 || byteLength(password) > MAX_PASSWORD_BYTES) return false;
  try {
    switch (passwordHashKind(hash)) {
      case "argon2id":
        return await Bun.password.verify(normalise(password), hash, "argon2id");
      case "bcrypt":
        return await Bun.password.verify(bcryptInput(password), hash, "bcrypt");
      case "unknown":
        return false;
    }
  } catch {
    // A malformed stored hash: a failed verification, not a crash of the login.
    return false;
  }
}

/**
 * What the original's Python bcrypt actually hashed: the raw (not normalised) password,
 * truncated to 72 bytes. Bun would otherwise pre-hash longer input with SHA-512 and never
 * match an imported hash.
 */
function bcryptInput(password: string): string | Uint8Array {
  const bytes = utf8.encode(password);
  return bytes.length > BCRYPT_MAX_BYTES ? bytes.subarray(0, BCRYPT_MAX_BYTES) : password;
}

const ARGON2_PARAMETERS = /^\$argon2id\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$/;

/**
 * True when a hash that just verified should be replaced by a fresh one: bcrypt (imported),
 * or argon2id with other parameters than the configured ones.
 */
export function needsRehash(hash: string, settings: PasswordSettings): boolean {
  const match = ARGON2_PARAMETERS.exec(hash);
  if (match === null) return true;
  const [, version, memory, time, parallelism] = match.map(Number);
  return (
    version !== ARGON2_VERSION ||
    memory !== settings.argon2MemoryKib ||
    time !== settings.argon2TimeCost ||
    parallelism !== ARGON2_PARALLELISM
  );
}

// ---- Unknown users ---------------------------------------------------------------------------

/** One dummy hash per parameter set, so that its verification costs what a real one costs. */
const dummyHashes = new Map<string, Promise<string>>();

function dummyHash(settings: PasswordSettings): Promise<string> {
  const key = `${settings.argon2MemoryKib}:${settings.argon2TimeCost}`;
  let hash = dummyHashes.get(key);
  if (hash === undefined) {
    // A random password nobody knows; the hash is only ever verified against, never matched.
    const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
    hash = hashPassword(secret, settings);
    dummyHashes.set(key, hash);
  }
  return hash;
}

/**
 * Computes the dummy hash ahead of the first login, so that the first unknown-user login is
 * not slower than the others (call at start-up).
 */
export async function prepareDummyHash(settings: PasswordSettings): Promise<void> {
  await dummyHash(settings);
}

/**
 * Spends the time of a real verification and answers false: used when the user does not
 * exist (or cannot log in), so that timing does not tell whether an account exists.
 */
export async function verifyDummyPassword(password: string, settings: PasswordSettings): Promise<false> {
  // Same early exits as a real verification (empty, over-long), same cost otherwise.
  await verifyPassword(password, await dummyHash(settings));
  return false;
}
