// Recovery codes: ten single-use codes per MFA enrolment, shown once, stored hashed.
//
// Format: `xxxx-xxxx-xxxx`, twelve symbols from Crockford's base32 alphabet
// (0-9 a-z without i, l, o, u): 12 x 5 = 60 bits of entropy per code. Typing is forgiving:
// case, spaces and dashes are ignored, and the look-alikes Crockford names are folded
// (o -> 0, i and l -> 1), so a code read off paper works however it is copied.
//
// Storage: SHA-256 over a domain tag, the user id and the normalised code, hex. A fast hash is
// acceptable here because the input is not a human-chosen secret: online, guessing 60 bits
// is hopeless (and login attempts are regulated); offline, with a stolen database, finding
// one of a user's ten codes costs about 2^56 SHA-256 evaluations *per user* (the user id in
// the hash rules out one table or one search for everyone), and a cracked code is only a
// second factor: the attacker still needs the password, whose argon2id hash is far costlier.
// ASVS 6.5.2 asks for a slow hash below 112 bits; if that is wanted later, only hashRecoveryCode
// changes (stored hashes are compared, never re-derived elsewhere).
import { createHash, timingSafeEqual } from "node:crypto";

export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"; // 32 symbols: one random byte & 31 is unbiased
const GROUPS = 3;
const GROUP_LENGTH = 4;
export const RECOVERY_CODE_LENGTH = GROUPS * GROUP_LENGTH;
export const RECOVERY_CODE_ENTROPY_BITS = RECOVERY_CODE_LENGTH * 5;
const HASH_DOMAIN = "mss-login/recovery-code/v1";

/** One new code, formatted for display (`xxxx-xxxx-xxxx`). */
export function generateRecoveryCode(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(RECOVERY_CODE_LENGTH));
  let symbols = "";
  for (const byte of bytes) symbols += ALPHABET[byte & 31];
  const groups: string[] = [];
  for (let i = 0; i < RECOVERY_CODE_LENGTH; i += GROUP_LENGTH) groups.push(symbols.slice(i, i + GROUP_LENGTH));
  return groups.join("-");
}

/** `count` distinct new codes. */
export function generateRecoveryCodes(count: number = RECOVERY_CODE_COUNT): string[] {
  const codes = new Set<string>();
  while (codes.size < count) codes.add(generateRecoveryCode());
  return [...codes];
}

/**
 * The canonical form of what a user typed (lower case, no separators, look-alikes folded), or
 * null when it cannot be a recovery code.
 */
export function normaliseRecoveryCode(input: string): string | null {
  if (input.length > 64) return null;
  const folded = input
    .toLowerCase()
    .replace(/[\s\-_.]/g, "")
    .replace(/o/g, "0")
    .replace(/[il]/g, "1");
  if (folded.length !== RECOVERY_CODE_LENGTH) return null;
  for (const symbol of folded) if (!ALPHABET.includes(symbol)) return null;
  return folded;
}

/** Whether the input has the shape of a recovery code (to tell it from a 6-digit TOTP code). */
export function looksLikeRecoveryCode(input: string): boolean {
  return normaliseRecoveryCode(input) !== null;
}

/** The stored form: hex SHA-256 of domain tag, user id and normalised code. Null for junk input. */
export function hashRecoveryCode(userId: string, input: string): string | null {
  const code = normaliseRecoveryCode(input);
  if (code === null) return null;
  return createHash("sha256").update(`${HASH_DOMAIN}\u0000${userId}\u0000${code}`, "utf8").digest("hex");
}

/**
 * Which of `storedHashes` the typed code is, comparing against every one in constant time
 * (no early exit, equal-length buffers). Returns the matching stored hash or null.
 */
export function findRecoveryCode(userId: string, input: string, storedHashes: readonly string[]): string | null {
  const hash = hashRecoveryCode(userId, input);
  // Junk input still costs the same comparisons.
  const typed = Buffer.from(hash ?? "0".repeat(64), "utf8");
  let found: string | null = null;
  for (const stored of storedHashes) {
    const candidate = Buffer.from(stored, "utf8");
    if (candidate.length !== typed.length) continue;
    if (timingSafeEqual(candidate, typed) && hash !== null) found = stored;
  }
  return found;
}
