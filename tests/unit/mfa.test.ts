import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import {
  beginEnrolment,
  confirmEnrolment,
  MFA_MAX_WRONG_CODES_PER_LOGIN,
  MfaError,
  type MfaErrorCode,
  mfaStatus,
  regenerateRecoveryCodes,
  resetMfa,
  useRecoveryCode,
  verifyLoginCode,
} from "../../src/auth/mfa.ts";
import {
  generateRecoveryCode,
  hashRecoveryCode,
  normaliseRecoveryCode,
  RECOVERY_CODE_COUNT,
  RECOVERY_CODE_ENTROPY_BITS,
} from "../../src/auth/recovery-codes.ts";
import { mfaEnrolments, recoveryCodes, users } from "../../src/auth/tables.ts";
import { totpCodeForStep, totpSecretFromBase32, totpStep } from "../../src/auth/totp.ts";
import { applyMigrations, openDatabase, type OpenDatabase } from "../../src/db/index.ts";

const KEY = crypto.getRandomValues(new Uint8Array(32));
const NOW = 1_700_000_010_000;
const STEP = totpStep(NOW);
const ALICE = "00000000-0000-4000-8000-00000000a11c";
const BOB = "00000000-0000-4000-8000-000000000b0b";

let dataDir: string;
let database: OpenDatabase;
const extra: OpenDatabase[] = [];

function addUser(db: OpenDatabase, id: string, username: string): void {
  db.db
    .insert(users)
    .values({
      id,
      username,
      usernameKey: username.toLowerCase(),
      passwordHash: "$argon2id$placeholder",
      role: "user",
      createdAt: NOW,
      passwordChangedAt: NOW,
    })
    .run();
}

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "mss-mfa-"));
  database = openDatabase(dataDir);
  applyMigrations(database.sqlite);
  addUser(database, ALICE, "alice");
  addUser(database, BOB, "bob");
});
afterEach(() => {
  for (const d of extra.splice(0)) d.close();
  database.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A second connection to the same database file, as another gateway process would have. */
function secondConnection(): OpenDatabase {
  const other = openDatabase(dataDir);
  extra.push(other);
  return other;
}

function enrolmentRow(userId: string) {
  return database.db.select().from(mfaEnrolments).where(eq(mfaEnrolments.userId, userId)).get();
}
function codeRows(userId: string) {
  return database.db.select().from(recoveryCodes).where(eq(recoveryCodes.userId, userId)).all();
}

async function expectMfaError(promise: Promise<unknown> | (() => unknown), code: MfaErrorCode): Promise<void> {
  let caught: unknown;
  try {
    await (typeof promise === "function" ? promise() : promise);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(MfaError);
  expect((caught as MfaError).code).toBe(code);
}

/** A 6-digit code that matches none of the steps around `step` (random secrets could collide). */
function wrongCode(secret: Uint8Array, step: number): string {
  const near = new Set([-2, -1, 0, 1, 2].map((d) => totpCodeForStep(secret, step + d)));
  for (let n = 0; ; n += 1) {
    const candidate = String(n).padStart(6, "0");
    if (!near.has(candidate)) return candidate;
  }
}

/** Begins and confirms enrolment for `userId` at NOW; returns the secret and the recovery codes. */
async function enrol(userId = ALICE, username = "alice") {
  const start = await beginEnrolment(database.db, KEY, userId, username, NOW);
  const secret = totpSecretFromBase32(start.secret);
  const confirmed = await confirmEnrolment(database.db, KEY, userId, totpCodeForStep(secret, STEP), NOW);
  if (!confirmed.ok) throw new Error("enrolment failed");
  return { secret, recoveryCodes: confirmed.recoveryCodes };
}

describe("enrolment", () => {
  test("begin: secret, otpauth URI and QR; stored sealed and not yet enabled", async () => {
    const start = await beginEnrolment(database.db, KEY, ALICE, "alice", NOW);
    expect(start.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(start.otpauthUri).toStartWith("otpauth://totp/MSS-Login:alice?");
    expect(start.otpauthUri).toContain(`secret=${start.secret}`);
    expect(start.qrSvg).toStartWith("<svg");

    const row = enrolmentRow(ALICE);
    expect(row?.enabled).toBe(false);
    expect(row?.secretCiphertext).toMatch(/^v1\./);
    expect(row?.secretCiphertext).not.toContain(start.secret);
    expect(row?.lastUsedStep).toBeNull();
    expect(mfaStatus(database.db, ALICE)).toEqual({ state: "pending", enabledAt: null, recoveryCodesRemaining: 0 });
    expect(codeRows(ALICE)).toHaveLength(0);
  });

  test("begin twice: the second secret replaces the first, whose codes stop working", async () => {
    const first = await beginEnrolment(database.db, KEY, ALICE, "alice", NOW);
    const second = await beginEnrolment(database.db, KEY, ALICE, "alice", NOW + 1000);
    expect(second.secret).not.toBe(first.secret);
    const firstSecret = totpSecretFromBase32(first.secret);
    const secondSecret = totpSecretFromBase32(second.secret);
    const stale = totpCodeForStep(firstSecret, STEP);
    if (stale !== totpCodeForStep(secondSecret, STEP)) {
      expect(await confirmEnrolment(database.db, KEY, ALICE, stale, NOW)).toEqual({ ok: false, reason: "bad_code" });
    }
    const done = await confirmEnrolment(database.db, KEY, ALICE, totpCodeForStep(secondSecret, STEP), NOW);
    expect(done.ok).toBe(true);
  });

  test("confirm with a wrong code changes nothing", async () => {
    const start = await beginEnrolment(database.db, KEY, ALICE, "alice", NOW);
    const before = enrolmentRow(ALICE);
    const secret = totpSecretFromBase32(start.secret);
    for (const code of [wrongCode(secret, STEP), totpCodeForStep(secret, STEP + 2), "", "abcdef"]) {
      expect(await confirmEnrolment(database.db, KEY, ALICE, code, NOW)).toEqual({ ok: false, reason: "bad_code" });
    }
    expect(enrolmentRow(ALICE)).toEqual(before);
    expect(codeRows(ALICE)).toHaveLength(0);
    expect(mfaStatus(database.db, ALICE).state).toBe("pending");
  });

  test("confirm with a valid code: enabled, ten hashed recovery codes, the step recorded", async () => {
    const start = await beginEnrolment(database.db, KEY, ALICE, "alice", NOW);
    const secret = totpSecretFromBase32(start.secret);
    // One step of skew is fine here too.
    const result = await confirmEnrolment(database.db, KEY, ALICE, totpCodeForStep(secret, STEP - 1), NOW);
    if (!result.ok) throw new Error("expected ok");
    expect(result.recoveryCodes).toHaveLength(RECOVERY_CODE_COUNT);
    expect(new Set(result.recoveryCodes).size).toBe(RECOVERY_CODE_COUNT);
    for (const code of result.recoveryCodes) expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/);

    const row = enrolmentRow(ALICE);
    expect(row?.enabled).toBe(true);
    expect(row?.enabledAt).toBe(NOW);
    expect(row?.lastUsedStep).toBe(STEP - 1);
    const stored = codeRows(ALICE);
    expect(stored).toHaveLength(RECOVERY_CODE_COUNT);
    const storedHashes = new Set(stored.map((r) => r.codeHash));
    for (const code of result.recoveryCodes) {
      expect(storedHashes.has(hashRecoveryCode(ALICE, code) ?? "")).toBe(true);
      expect(JSON.stringify(stored)).not.toContain(code);
      expect(JSON.stringify(stored)).not.toContain(normaliseRecoveryCode(code) ?? "");
    }
    expect(mfaStatus(database.db, ALICE)).toEqual({ state: "enabled", enabledAt: NOW, recoveryCodesRemaining: 10 });
  });

  test("state errors: confirm without begin, begin or confirm when enabled, unknown user", async () => {
    await expectMfaError(confirmEnrolment(database.db, KEY, ALICE, "123456", NOW), "not_enrolling");
    await enrol();
    const before = enrolmentRow(ALICE);
    await expectMfaError(beginEnrolment(database.db, KEY, ALICE, "alice", NOW), "already_enabled");
    await expectMfaError(confirmEnrolment(database.db, KEY, ALICE, "123456", NOW), "already_enabled");
    expect(enrolmentRow(ALICE)).toEqual(before);
    await expectMfaError(beginEnrolment(database.db, KEY, "no-such-user", "ghost", NOW), "unknown_user");
  });

  test("the confirming code cannot be replayed as a login code", async () => {
    const { secret } = await enrol();
    expect(await verifyLoginCode(database.db, KEY, ALICE, totpCodeForStep(secret, STEP), NOW)).toEqual({ status: "replayed" });
  });

  test("reset (admin): enrolment and codes gone, enrolment possible again", async () => {
    const { recoveryCodes: codes } = await enrol();
    expect(resetMfa(database.db, ALICE)).toBe(true);
    expect(enrolmentRow(ALICE)).toBeUndefined();
    expect(codeRows(ALICE)).toHaveLength(0);
    expect(mfaStatus(database.db, ALICE)).toEqual({ state: "none", enabledAt: null, recoveryCodesRemaining: 0 });
    expect(await verifyLoginCode(database.db, KEY, ALICE, "123456", NOW)).toEqual({ status: "not_enrolled" });
    expect(useRecoveryCode(database.db, ALICE, codes[0] ?? "", NOW)).toEqual({ status: "not_enrolled" });
    expect(resetMfa(database.db, ALICE)).toBe(false);
    // Resetting a pending enrolment works too.
    await beginEnrolment(database.db, KEY, ALICE, "alice", NOW);
    expect(resetMfa(database.db, ALICE)).toBe(true);
    await enrol();
    expect(mfaStatus(database.db, ALICE).state).toBe("enabled");
  });

  test("a confirm racing a reset or a new begin fails instead of enabling a stale secret", async () => {
    // confirmEnrolment reads the row synchronously, then awaits decryption; the other
    // connection's write lands in between.
    const start = await beginEnrolment(database.db, KEY, ALICE, "alice", NOW);
    const code = totpCodeForStep(totpSecretFromBase32(start.secret), STEP);
    const other = secondConnection();

    const racingReset = confirmEnrolment(database.db, KEY, ALICE, code, NOW);
    resetMfa(other.db, ALICE);
    await expectMfaError(racingReset, "enrolment_changed");
    expect(mfaStatus(database.db, ALICE).state).toBe("none");
    expect(codeRows(ALICE)).toHaveLength(0);

    const again = await beginEnrolment(database.db, KEY, ALICE, "alice", NOW);
    const replacement = enrolmentRow(ALICE)?.secretCiphertext;
    await beginEnrolment(database.db, KEY, ALICE, "alice", NOW); // a newer secret...
    const newer = enrolmentRow(ALICE)?.secretCiphertext ?? "";
    other.db.update(mfaEnrolments).set({ secretCiphertext: replacement ?? "" }).where(eq(mfaEnrolments.userId, ALICE)).run();
    const racingBegin = confirmEnrolment(
      database.db,
      KEY,
      ALICE,
      totpCodeForStep(totpSecretFromBase32(again.secret), STEP),
      NOW,
    );
    // ...replaces it while the confirm is in flight.
    other.db.update(mfaEnrolments).set({ secretCiphertext: newer }).where(eq(mfaEnrolments.userId, ALICE)).run();
    await expectMfaError(racingBegin, "enrolment_changed");
    expect(mfaStatus(database.db, ALICE).state).toBe("pending");
    expect(codeRows(ALICE)).toHaveLength(0);
  });

  test("deleting the user removes the enrolment and codes (foreign key cascade)", async () => {
    await enrol();
    database.db.delete(users).where(eq(users.id, ALICE)).run();
    expect(enrolmentRow(ALICE)).toBeUndefined();
    expect(codeRows(ALICE)).toHaveLength(0);
  });
});

describe("login codes", () => {
  test("valid codes within one step of skew; two steps off and wrong codes are 'bad'", async () => {
    const { secret } = await enrol();
    const later = NOW + 5 * 30_000; // step STEP + 5
    expect(await verifyLoginCode(database.db, KEY, ALICE, wrongCode(secret, STEP + 5), later)).toEqual({ status: "bad" });
    expect(await verifyLoginCode(database.db, KEY, ALICE, totpCodeForStep(secret, STEP + 3), later)).toEqual({ status: "bad" });
    expect(await verifyLoginCode(database.db, KEY, ALICE, totpCodeForStep(secret, STEP + 7), later)).toEqual({ status: "bad" });
    expect(await verifyLoginCode(database.db, KEY, ALICE, "not a code", later)).toEqual({ status: "bad" });
    expect(await verifyLoginCode(database.db, KEY, ALICE, totpCodeForStep(secret, STEP + 4), later)).toEqual({
      status: "ok",
      step: STEP + 4,
    });
    expect(enrolmentRow(ALICE)?.lastUsedStep).toBe(STEP + 4);
    expect(await verifyLoginCode(database.db, KEY, ALICE, totpCodeForStep(secret, STEP + 6), later)).toEqual({
      status: "ok",
      step: STEP + 6,
    });
  });

  test("replay: the same code twice, or an older step after a newer one, is refused", async () => {
    const { secret } = await enrol();
    const later = NOW + 10 * 30_000;
    const code = totpCodeForStep(secret, STEP + 10);
    expect((await verifyLoginCode(database.db, KEY, ALICE, code, later)).status).toBe("ok");
    expect(await verifyLoginCode(database.db, KEY, ALICE, code, later)).toEqual({ status: "replayed" });
    expect(await verifyLoginCode(database.db, KEY, ALICE, code, later + 20_000)).toEqual({ status: "replayed" });
    expect(await verifyLoginCode(database.db, KEY, ALICE, totpCodeForStep(secret, STEP + 9), later)).toEqual({ status: "replayed" });
    expect(enrolmentRow(ALICE)?.lastUsedStep).toBe(STEP + 10);
  });

  test("concurrent double use of one code: exactly one succeeds (same and separate connections)", async () => {
    const { secret } = await enrol();
    const later = NOW + 3 * 30_000;
    const code = totpCodeForStep(secret, STEP + 3);
    const sameConnection = await Promise.all([
      verifyLoginCode(database.db, KEY, ALICE, code, later),
      verifyLoginCode(database.db, KEY, ALICE, code, later),
      verifyLoginCode(database.db, KEY, ALICE, code, later),
    ]);
    expect(sameConnection.filter((r) => r.status === "ok")).toHaveLength(1);
    expect(sameConnection.filter((r) => r.status === "replayed")).toHaveLength(2);

    const next = totpCodeForStep(secret, STEP + 4);
    const connections = [database, secondConnection(), secondConnection()];
    const acrossConnections = await Promise.all(
      connections.map((c) => verifyLoginCode(c.db, KEY, ALICE, next, later + 30_000)),
    );
    expect(acrossConnections.filter((r) => r.status === "ok")).toHaveLength(1);
    expect(acrossConnections.filter((r) => r.status === "replayed")).toHaveLength(2);
  });

  test("not enrolled, pending, or another user's code", async () => {
    expect(await verifyLoginCode(database.db, KEY, ALICE, "123456", NOW)).toEqual({ status: "not_enrolled" });
    const start = await beginEnrolment(database.db, KEY, ALICE, "alice", NOW);
    const pendingCode = totpCodeForStep(totpSecretFromBase32(start.secret), STEP);
    expect(await verifyLoginCode(database.db, KEY, ALICE, pendingCode, NOW)).toEqual({ status: "not_enrolled" });
    resetMfa(database.db, ALICE);
    const alice = await enrol(ALICE, "alice");
    await enrol(BOB, "bob");
    const aliceCode = totpCodeForStep(alice.secret, STEP + 1);
    const bobNow = NOW + 30_000;
    const bobResult = await verifyLoginCode(database.db, KEY, BOB, aliceCode, bobNow);
    // Bob's secret is different; a collision of 6 digits is a one-in-a-million chance.
    expect(bobResult.status).toBe("bad");
  });

  test("the sealed secret is bound to its user and key", async () => {
    await enrol(ALICE, "alice");
    await enrol(BOB, "bob");
    // Copy Alice's ciphertext into Bob's row: associated data (Bob's id) no longer matches.
    const aliceRow = enrolmentRow(ALICE);
    database.db
      .update(mfaEnrolments)
      .set({ secretCiphertext: aliceRow?.secretCiphertext ?? "" })
      .where(eq(mfaEnrolments.userId, BOB))
      .run();
    await expectMfaError(verifyLoginCode(database.db, KEY, BOB, "123456", NOW + 30_000), "secret_unreadable");
    // Another key (SECRET_KEY changed): unreadable, not silently wrong.
    const otherKey = crypto.getRandomValues(new Uint8Array(32));
    await expectMfaError(verifyLoginCode(database.db, otherKey, ALICE, "123456", NOW + 30_000), "secret_unreadable");
  });

  test("the login flow's limit is exposed", () => {
    expect(MFA_MAX_WRONG_CODES_PER_LOGIN).toBe(5);
  });
});

describe("recovery codes", () => {
  test("format and entropy", () => {
    expect(RECOVERY_CODE_ENTROPY_BITS).toBeGreaterThanOrEqual(50);
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i += 1) seen.add(generateRecoveryCode());
    expect(seen.size).toBe(1000);
    // Every symbol of the alphabet shows up, and no ambiguous letter ever does.
    const symbols = new Set([...seen].join("").replace(/-/g, ""));
    expect(symbols.size).toBe(32);
    for (const ambiguous of ["i", "l", "o", "u"]) expect(symbols.has(ambiguous)).toBe(false);
  });

  test("normalisation forgives case, spaces, dashes and look-alikes", () => {
    expect(normaliseRecoveryCode("ab12-cd34-ef56")).toBe("ab12cd34ef56");
    expect(normaliseRecoveryCode(" AB12 CD34 EF56 ")).toBe("ab12cd34ef56");
    expect(normaliseRecoveryCode("ab12cd34ef56")).toBe("ab12cd34ef56");
    expect(normaliseRecoveryCode("AB12--CD34\tEF56")).toBe("ab12cd34ef56");
    expect(normaliseRecoveryCode("0o1i-lL00-0000")).toBe("001111000000");
    expect(normaliseRecoveryCode("ab12-cd34-ef5")).toBeNull();
    expect(normaliseRecoveryCode("ab12-cd34-ef567")).toBeNull();
    expect(normaliseRecoveryCode("ab12-cd34-ef5u")).toBeNull();
    expect(normaliseRecoveryCode("ab12-cd34-ef5!")).toBeNull();
    expect(normaliseRecoveryCode("x".repeat(100_000))).toBeNull();
  });

  test("single use, in any typed form; remaining count goes down", async () => {
    const { recoveryCodes: codes } = await enrol();
    const first = codes[0] ?? "";
    const typed = ` ${first.toUpperCase().replace(/-/g, " ")} `;
    expect(useRecoveryCode(database.db, ALICE, typed, NOW + 1)).toEqual({ status: "ok", remaining: 9 });
    expect(useRecoveryCode(database.db, ALICE, first, NOW + 2)).toEqual({ status: "used" });
    expect(useRecoveryCode(secondConnection().db, ALICE, first, NOW + 3)).toEqual({ status: "used" });
    const usedRow = codeRows(ALICE).find((r) => r.codeHash === hashRecoveryCode(ALICE, first));
    expect(usedRow?.usedAt).toBe(NOW + 1);
    expect(useRecoveryCode(database.db, ALICE, codes[1] ?? "", NOW + 4)).toEqual({ status: "ok", remaining: 8 });
    expect(mfaStatus(database.db, ALICE).recoveryCodesRemaining).toBe(8);
    // Using a recovery code leaves TOTP untouched.
    expect(enrolmentRow(ALICE)?.enabled).toBe(true);
  });

  test("wrong, junk or another user's codes are 'bad' and change nothing", async () => {
    await enrol(ALICE, "alice");
    const bob = await enrol(BOB, "bob");
    const before = codeRows(ALICE);
    for (const code of [generateRecoveryCode(), "", "123456", "ab12-cd34", bob.recoveryCodes[0] ?? "x"]) {
      expect(useRecoveryCode(database.db, ALICE, code, NOW)).toEqual({ status: "bad" });
    }
    expect(codeRows(ALICE)).toEqual(before);
    expect(useRecoveryCode(database.db, "no-such-user", "ab12-cd34-ef56", NOW)).toEqual({ status: "not_enrolled" });
  });

  test("the same code hashes differently per user", () => {
    const code = generateRecoveryCode();
    expect(hashRecoveryCode(ALICE, code)).not.toBe(hashRecoveryCode(BOB, code));
    expect(hashRecoveryCode(ALICE, code)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashRecoveryCode(ALICE, "junk")).toBeNull();
  });

  test("regeneration replaces every code; refused without enabled MFA", async () => {
    const { recoveryCodes: old } = await enrol();
    useRecoveryCode(database.db, ALICE, old[0] ?? "", NOW);
    const fresh = regenerateRecoveryCodes(database.db, ALICE);
    expect(fresh).toHaveLength(10);
    expect(mfaStatus(database.db, ALICE).recoveryCodesRemaining).toBe(10);
    expect(useRecoveryCode(database.db, ALICE, old[1] ?? "", NOW)).toEqual({ status: "bad" });
    expect(useRecoveryCode(database.db, ALICE, fresh[0] ?? "", NOW).status).toBe("ok");
    await expectMfaError(() => regenerateRecoveryCodes(database.db, BOB), "not_enabled");
  });
});
