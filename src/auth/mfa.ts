// TOTP multi-factor authentication over the `mfa_enrolments` and `recovery_codes` tables.
//
// States per user: none (no row) -> pending (row, enabled = false: secret issued, not yet
// confirmed) -> enabled (confirmed with a valid code; ten recovery codes issued).
// beginEnrolment replaces a pending enrolment and refuses an enabled one; resetMfa (admin)
// returns to none.
//
// Secrets are sealed with ./secret-box.ts (AES-256-GCM) with associated data
// `totp-secret:<user id>`, so a ciphertext moved to another user's row does not open.
//
// Replay: the last accepted time step is stored and only a newer step is accepted. The write
// is a conditional UPDATE (`... WHERE last_used_step < step`), so when two requests race with
// the same code exactly one wins, also across processes sharing the database.
//
// Not here: the per-login-attempt limit (MFA_MAX_WRONG_CODES_PER_LOGIN wrong codes, then the
// login restarts), re-authentication before enrolment changes, revoking sessions after an MFA
// reset, audit logging: those belong to the login flow and the routes that call this module.
import { and, count, eq, isNull, lt, or } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import { openSecret, SecretBoxError, sealSecret } from "./secret-box.ts";
import { findRecoveryCode, generateRecoveryCodes, hashRecoveryCode } from "./recovery-codes.ts";
import { mfaEnrolments, recoveryCodes, users } from "./tables.ts";
import { generateTotpSecret, qrSvg, totpSecretToBase32, totpUri, verifyTotp } from "./totp.ts";

/** Wrong TOTP or recovery codes allowed per login attempt before the login must restart. */
export const MFA_MAX_WRONG_CODES_PER_LOGIN = 5;

export type MfaErrorCode =
  /** No such user (the enrolment row needs the user row). */
  | "unknown_user"
  /** MFA is already enabled: reset it first (admin) to enrol again. */
  | "already_enabled"
  /** No pending enrolment to confirm (none begun, or it was reset). */
  | "not_enrolling"
  /** MFA is not enabled for this user. */
  | "not_enabled"
  /** The enrolment changed between reading and writing (a concurrent begin, confirm or reset). */
  | "enrolment_changed"
  /** The stored secret does not decrypt: SECRET_KEY changed or the row was tampered with. */
  | "secret_unreadable";

export class MfaError extends Error {
  override readonly name = "MfaError";
  readonly code: MfaErrorCode;

  constructor(code: MfaErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

export interface EnrolmentStart {
  /** Base32 secret for manual entry in an authenticator app. */
  readonly secret: string;
  /** `otpauth://totp/MSS-Login:<username>?…` */
  readonly otpauthUri: string;
  /** The URI as a self-contained SVG QR code. */
  readonly qrSvg: string;
}

export type ConfirmResult =
  | { readonly ok: true; readonly recoveryCodes: readonly string[] }
  | { readonly ok: false; readonly reason: "bad_code" };

export type LoginCodeResult =
  | { readonly status: "ok"; readonly step: number }
  /** Wrong code (or not a 6-digit code at all): counts towards the per-login limit. */
  | { readonly status: "bad" }
  /** A valid code whose time step was already used (or a newer one was). */
  | { readonly status: "replayed" }
  /** No enabled enrolment: the caller should not have asked for a code. */
  | { readonly status: "not_enrolled" };

export type RecoveryCodeResult =
  | { readonly status: "ok"; readonly remaining: number }
  | { readonly status: "bad" }
  /** One of the user's codes, already used. */
  | { readonly status: "used" }
  | { readonly status: "not_enrolled" };

export interface MfaStatus {
  readonly state: "none" | "pending" | "enabled";
  readonly enabledAt: number | null;
  /** Unused recovery codes (0 unless enabled). */
  readonly recoveryCodesRemaining: number;
}

function associatedData(userId: string): string {
  return `totp-secret:${userId}`;
}

async function unsealSecret(key: Uint8Array, userId: string, sealed: string): Promise<Uint8Array> {
  try {
    return await openSecret(key, sealed, associatedData(userId));
  } catch (error) {
    if (error instanceof SecretBoxError) {
      throw new MfaError("secret_unreadable", `the TOTP secret of this user cannot be decrypted (${error.reason})`, {
        cause: error,
      });
    }
    throw error;
  }
}

function readEnrolment(db: Db, userId: string) {
  return db
    .select({
      secretCiphertext: mfaEnrolments.secretCiphertext,
      enabled: mfaEnrolments.enabled,
      enabledAt: mfaEnrolments.enabledAt,
      lastUsedStep: mfaEnrolments.lastUsedStep,
    })
    .from(mfaEnrolments)
    .where(eq(mfaEnrolments.userId, userId))
    .get();
}

/**
 * Starts (or restarts) enrolment: a new secret, stored sealed with enabled = false. A pending
 * enrolment is replaced (its secret stops working); an enabled one is refused
 * (MfaError "already_enabled"). Nothing is enabled until confirmEnrolment.
 */
export async function beginEnrolment(
  db: Db,
  key: Uint8Array,
  userId: string,
  username: string,
  now: number,
): Promise<EnrolmentStart> {
  const user = db.select({ id: users.id }).from(users).where(eq(users.id, userId)).get();
  if (user === undefined) throw new MfaError("unknown_user", "no such user");
  if (readEnrolment(db, userId)?.enabled === true) {
    throw new MfaError("already_enabled", "MFA is already enabled for this user");
  }
  const secret = generateTotpSecret();
  const sealed = await sealSecret(key, secret, associatedData(userId));
  const otpauthUri = totpUri(secret, username);
  const svg = await qrSvg(otpauthUri);
  const base32 = totpSecretToBase32(secret);
  secret.fill(0);

  const written = db.transaction(
    (tx) => {
      // Insert, or replace a pending row; the setWhere keeps an enabled row (enabled meanwhile
      // by a concurrent confirm) untouched, which shows as zero changes.
      const result = tx
        .insert(mfaEnrolments)
        .values({ userId, secretCiphertext: sealed, enabled: false, createdAt: now, enabledAt: null, lastUsedStep: null })
        .onConflictDoUpdate({
          target: mfaEnrolments.userId,
          set: { secretCiphertext: sealed, createdAt: now, enabledAt: null, lastUsedStep: null },
          setWhere: eq(mfaEnrolments.enabled, false),
        })
        .returning({ userId: mfaEnrolments.userId })
        .all();
      if (result.length !== 1) return false;
      // Codes belong to an enabled enrolment; none should exist now, but never leave strays.
      tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId)).run();
      return true;
    },
    { behavior: "immediate" },
  );
  if (!written) throw new MfaError("already_enabled", "MFA is already enabled for this user");
  return { secret: base32, otpauthUri, qrSvg: svg };
}

/**
 * Completes a pending enrolment with a code from the authenticator app: enables MFA, records
 * the code's time step (so it cannot be replayed at login) and issues ten recovery codes,
 * returned in clear text this once. A wrong code changes nothing.
 * Throws MfaError "not_enrolling", "already_enabled", "enrolment_changed" or "secret_unreadable".
 */
/** The user's recovery codes become exactly `codes` (hashed), inside the caller's transaction. */
function replaceRecoveryCodes(tx: Pick<Db, "delete" | "insert">, userId: string, codes: readonly string[]): void {
  tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId)).run();
  tx.insert(recoveryCodes)
    .values(codes.map((c) => ({ userId, codeHash: hashOrThrow(userId, c), usedAt: null })))
    .run();
}

export async function confirmEnrolment(
  db: Db,
  key: Uint8Array,
  userId: string,
  code: string,
  now: number,
): Promise<ConfirmResult> {
  const row = readEnrolment(db, userId);
  if (row === undefined) throw new MfaError("not_enrolling", "no MFA enrolment was begun for this user");
  if (row.enabled) throw new MfaError("already_enabled", "MFA is already enabled for this user");
  const secret = await unsealSecret(key, userId, row.secretCiphertext);
  const verdict = verifyTotp(secret, code, now, null);
  secret.fill(0);
  if (verdict.status !== "ok") return { ok: false, reason: "bad_code" };

  const codes = generateRecoveryCodes();
  const enabled = db.transaction(
    (tx) => {
      // Only the very enrolment whose secret was checked: a concurrent begin replaced it, a
      // concurrent confirm enabled it, a reset removed it -> zero changes.
      const result = tx
        .update(mfaEnrolments)
        .set({ enabled: true, enabledAt: now, lastUsedStep: verdict.step })
        .where(
          and(
            eq(mfaEnrolments.userId, userId),
            eq(mfaEnrolments.enabled, false),
            eq(mfaEnrolments.secretCiphertext, row.secretCiphertext),
          ),
        )
        .returning({ userId: mfaEnrolments.userId })
        .all();
      if (result.length !== 1) return false;
      replaceRecoveryCodes(tx, userId, codes);
      return true;
    },
    { behavior: "immediate" },
  );
  if (!enabled) throw new MfaError("enrolment_changed", "the MFA enrolment changed while it was being confirmed");
  return { ok: true, recoveryCodes: codes };
}

function hashOrThrow(userId: string, code: string): string {
  const hash = hashRecoveryCode(userId, code);
  if (hash === null) throw new Error("generated recovery code does not normalise");
  return hash;
}

/**
 * The second login step with a TOTP code. "ok" only when the code is valid within one step of
 * skew AND its step is newer than the last accepted one; the step is recorded atomically, so
 * the same code is accepted at most once even when requests race.
 * Throws MfaError "secret_unreadable" when the stored secret does not decrypt (treat as a failed
 * login; an admin must reset the user's MFA).
 */
export async function verifyLoginCode(
  db: Db,
  key: Uint8Array,
  userId: string,
  code: string,
  now: number,
): Promise<LoginCodeResult> {
  const row = readEnrolment(db, userId);
  if (row === undefined || !row.enabled) return { status: "not_enrolled" };
  const secret = await unsealSecret(key, userId, row.secretCiphertext);
  const verdict = verifyTotp(secret, code, now, row.lastUsedStep);
  secret.fill(0);
  if (verdict.status === "bad") return { status: "bad" };
  if (verdict.status === "replayed") return { status: "replayed" };

  const result = db
    .update(mfaEnrolments)
    .set({ lastUsedStep: verdict.step })
    .where(
      and(
        eq(mfaEnrolments.userId, userId),
        eq(mfaEnrolments.enabled, true),
        eq(mfaEnrolments.secretCiphertext, row.secretCiphertext),
        or(isNull(mfaEnrolments.lastUsedStep), lt(mfaEnrolments.lastUsedStep, verdict.step)),
      ),
    )
    .returning({ userId: mfaEnrolments.userId })
    .all();
  if (result.length === 1) return { status: "ok", step: verdict.step };
  // Lost the race: another request took this step (or a newer one), or MFA was reset meanwhile.
  const current = readEnrolment(db, userId);
  if (current === undefined || !current.enabled || current.secretCiphertext !== row.secretCiphertext) {
    return { status: "not_enrolled" };
  }
  return { status: "replayed" };
}

/**
 * The second login step with a recovery code instead of a TOTP code: single use (marked used
 * by a conditional UPDATE, so a racing second use fails), compared in constant time against all
 * of the user's codes. Typing is forgiving (case, spaces, dashes).
 */
export function useRecoveryCode(db: Db, userId: string, code: string, now: number): RecoveryCodeResult {
  const enrolment = readEnrolment(db, userId);
  if (enrolment === undefined || !enrolment.enabled) return { status: "not_enrolled" };
  const rows = db
    .select({ codeHash: recoveryCodes.codeHash, usedAt: recoveryCodes.usedAt })
    .from(recoveryCodes)
    .where(eq(recoveryCodes.userId, userId))
    .all();
  const match = findRecoveryCode(
    userId,
    code,
    rows.map((r) => r.codeHash),
  );
  if (match === null) return { status: "bad" };
  const result = db
    .update(recoveryCodes)
    .set({ usedAt: now })
    .where(and(eq(recoveryCodes.userId, userId), eq(recoveryCodes.codeHash, match), isNull(recoveryCodes.usedAt)))
    .returning({ codeHash: recoveryCodes.codeHash })
    .all();
  if (result.length !== 1) return { status: "used" };
  return { status: "ok", remaining: remainingRecoveryCodes(db, userId) };
}

function remainingRecoveryCodes(db: Db, userId: string): number {
  const row = db
    .select({ n: count() })
    .from(recoveryCodes)
    .where(and(eq(recoveryCodes.userId, userId), isNull(recoveryCodes.usedAt)))
    .get();
  return row?.n ?? 0;
}

/**
 * Replaces all recovery codes of an enabled enrolment with ten new ones (returned once).
 * The caller must have re-authenticated the user (ASVS 7.5.1). Throws MfaError "not_enabled".
 */
export function regenerateRecoveryCodes(db: Db, userId: string): string[] {
  const codes = generateRecoveryCodes();
  const done = db.transaction(
    (tx) => {
      const enrolment = tx
        .select({ enabled: mfaEnrolments.enabled })
        .from(mfaEnrolments)
        .where(eq(mfaEnrolments.userId, userId))
        .get();
      if (enrolment?.enabled !== true) return false;
      replaceRecoveryCodes(tx, userId, codes);
      return true;
    },
    { behavior: "immediate" },
  );
  if (!done) throw new MfaError("not_enabled", "MFA is not enabled for this user");
  return codes;
}

/**
 * Removes the user's enrolment (pending or enabled) and recovery codes: the admin action for a
 * lost authenticator. Returns whether there was anything to remove. The caller should revoke
 * the user's sessions and audit-log the reset.
 */
export function resetMfa(db: Db, userId: string): boolean {
  return db.transaction(
    (tx) => {
      const removed = tx
        .delete(mfaEnrolments)
        .where(eq(mfaEnrolments.userId, userId))
        .returning({ userId: mfaEnrolments.userId })
        .all();
      const codes = tx
        .delete(recoveryCodes)
        .where(eq(recoveryCodes.userId, userId))
        .returning({ userId: recoveryCodes.userId })
        .all();
      return removed.length + codes.length > 0;
    },
    { behavior: "immediate" },
  );
}

/** The user's MFA state, for the login flow (demand a code? force enrolment?) and the UI. */
export function mfaStatus(db: Db, userId: string): MfaStatus {
  const row = readEnrolment(db, userId);
  if (row === undefined) return { state: "none", enabledAt: null, recoveryCodesRemaining: 0 };
  if (!row.enabled) return { state: "pending", enabledAt: null, recoveryCodesRemaining: 0 };
  return { state: "enabled", enabledAt: row.enabledAt, recoveryCodesRemaining: remainingRecoveryCodes(db, userId) };
}
