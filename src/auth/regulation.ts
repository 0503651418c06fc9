// Brute-force regulation: per-account bans and a per-address token bucket.
//
// All state lives in the database (`auth_failures`, `auth_regulation`), so a restart forgets
// nothing and several gateway processes sharing one database see the same failures, bans and
// buckets. Every decision reads the stored state inside one `BEGIN IMMEDIATE` transaction
// (bun:sqlite transactions are synchronous), which takes SQLite's write lock before reading:
// two simultaneous failures both count, and two simultaneous attempts never share the last
// token, whether they come from one process or several. The only in-memory state is a counter
// deciding when to prune opportunistically; losing it changes nothing but table size.
//
// Times are Unix milliseconds, like every table of the auth module.
import { and, asc, count, desc, eq, gt, gte, isNotNull, lte, or, sql } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import { authFailures, authRegulation } from "./tables.ts";

export type RegulationProfile = "default" | "original";

/** What the caller maps its configuration to. */
export interface RegulationSettings {
  /**
   * "default" (Authelia): `accountMaxFailures` failures within `accountWindowSeconds` ban the
   * account for `accountBanSeconds`. "original" (MSS-Login): escalating cool-downs, see
   * ORIGINAL_COOLDOWNS; the three account numbers below are then not used.
   */
  readonly profile: RegulationProfile;
  /** 0 turns per-account regulation off. */
  readonly accountMaxFailures: number;
  readonly accountWindowSeconds: number;
  readonly accountBanSeconds: number;
  /** Capacity of the per-address bucket, refilled continuously over one minute. 0 turns it off. */
  readonly ipAttemptsPerMinute: number;
}

export const DEFAULT_REGULATION: RegulationSettings = Object.freeze({
  profile: "default",
  accountMaxFailures: 3,
  accountWindowSeconds: 120,
  accountBanSeconds: 300,
  ipAttemptsPerMinute: 5,
});

/**
 * The original's cool-downs: from this many failures on, each further failure starts a
 * cool-down of this length. Highest threshold first.
 */
export const ORIGINAL_COOLDOWNS: readonly { readonly failures: number; readonly seconds: number }[] =
  Object.freeze([
    { failures: 9, seconds: 300 },
    { failures: 6, seconds: 90 },
    { failures: 3, seconds: 60 },
  ]);

/**
 * Window of the "original" profile. The original counted failures since the last success
 * and forgot them only on restart; we count failures since the last success but at most
 * 24 hours back, so that a handful of typos spread over weeks never escalates to 300 s.
 */
export const ORIGINAL_WINDOW_SECONDS = 24 * 60 * 60;

/** Opportunistic prune after this many writing calls (recordFailure, takeAttempt) by default. */
export const DEFAULT_PRUNE_EVERY = 256;

const ACCOUNT_PREFIX = "account:";
const IP_PREFIX = "ip:";
const MINUTE_MS = 60_000;
/** Float tolerance for the bucket (capacities that do not divide a minute evenly). */
const EPSILON = 1e-9;

/** Regulation key of an account: case does not matter, as for usernames. */
export function accountKey(username: string): string {
  return ACCOUNT_PREFIX + username.toLowerCase();
}

/** Regulation key of a client address; the caller passes it already canonical. */
export function ipKey(address: string): string {
  return IP_PREFIX + address;
}

export type AttemptDecision =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      /** Whole seconds until the next token, at least 1: the `Retry-After` value. */
      readonly retryAfterSeconds: number;
    };

export interface FailureOutcome {
  /** Failures counting toward the next ban (default) or cool-down (original), this one included. */
  readonly failures: number;
  /** End of the ban in force after this failure, or null. */
  readonly bannedUntil: number | null;
  /** True when this failure started the ban (for the audit log). */
  readonly banStarted: boolean;
}

export interface RegulationStatus {
  readonly key: string;
  /**
   * Failures within the profile's window at `now`, including those that caused the ban in
   * force (FailureOutcome.failures, by contrast, counts only those toward the next ban).
   */
  readonly failures: number;
  /** End of the ban in force at `now`, or null. */
  readonly bannedUntil: number | null;
  /** Address keys: attempts available at `now` (fractional). Null for other keys. */
  readonly tokens: number | null;
}

export interface PruneResult {
  readonly failures: number;
  readonly entries: number;
}

export class RegulationSettingsError extends Error {
  override readonly name = "RegulationSettingsError";
}

/** Throws RegulationSettingsError when a number is out of range. */
export function validateRegulationSettings(settings: RegulationSettings): void {
  if (settings.profile !== "default" && settings.profile !== "original") {
    throw new RegulationSettingsError(`unknown regulation profile ${String(settings.profile)}`);
  }
  const check = (name: keyof RegulationSettings, min: number): void => {
    const value = settings[name];
    if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
      throw new RegulationSettingsError(`${name} must be a finite number >= ${min}, got ${String(value)}`);
    }
  };
  check("accountMaxFailures", 0);
  check("accountWindowSeconds", 1);
  check("accountBanSeconds", 1);
  check("ipAttemptsPerMinute", 0);
  if (!Number.isInteger(settings.accountMaxFailures)) {
    throw new RegulationSettingsError("accountMaxFailures must be a whole number");
  }
}

export interface RegulatorOptions {
  /** Prune after this many writing calls; 0 never prunes by itself (call prune from a timer). */
  readonly pruneEvery?: number;
}

/**
 * The regulator. The login flow (and MFA and token creation) uses it like this:
 *
 * 1. `takeAttempt(address)` on every attempt, successful or not; when refused, answer 429
 *    with `Retry-After: retryAfterSeconds` and stop.
 * 2. `accountBanned(username)`: when true, do NOT verify the password, and answer exactly as
 *    for a wrong password (status, body, and the same padded delay: the floor must exceed the
 *    time a verification takes). Do not call recordFailure for it: a ban is neither extended
 *    nor counted by attempts made during it.
 * 3. Otherwise verify, then `recordFailure(username)` or `recordSuccess(username)`. Unknown
 *    usernames are regulated exactly like existing ones (no enumeration).
 */
export class Regulator {
  readonly #settings: () => RegulationSettings;
  readonly #db: Db;
  readonly #pruneEvery: number;
  #writesSincePrune = 0;

  /**
   * `settings` may be a function: it is then asked on every decision, so that a change made at
   * run time (the admin's settings) applies to the next attempt. Its values must be valid (the
   * configuration schema checks them); the first one is checked here.
   */
  constructor(db: Db, settings: RegulationSettings | (() => RegulationSettings) = DEFAULT_REGULATION, options: RegulatorOptions = {}) {
    if (typeof settings === "function") {
      validateRegulationSettings(settings());
      this.#settings = settings;
    } else {
      validateRegulationSettings(settings);
      const fixed = Object.freeze({ ...settings });
      this.#settings = () => fixed;
    }
    this.#db = db;
    this.#pruneEvery = options.pruneEvery ?? DEFAULT_PRUNE_EVERY;
  }

  /** The settings in force now. */
  get settings(): RegulationSettings {
    return this.#settings();
  }

  /** The longest span over which a stored failure can still matter, in milliseconds. */
  get longestWindowMs(): number {
    const seconds =
      this.settings.profile === "original"
        ? Math.max(ORIGINAL_WINDOW_SECONDS, this.settings.accountWindowSeconds)
        : this.settings.accountWindowSeconds;
    return seconds * 1000;
  }

  /**
   * True while the account is banned (or cooling down, original profile). The caller then
   * answers "invalid credentials" WITHOUT verifying the password and pads the answer to the
   * same delay as a verified failure, so a ban is not an oracle for the right password.
   */
  accountBanned(username: string, now: number = Date.now()): boolean {
    if (this.#accountRegulationOff()) return false;
    const bannedUntil = this.#bannedUntil(accountKey(username));
    return bannedUntil !== null && bannedUntil > now;
  }

  /**
   * Records a failed password (or MFA code, at the caller's choice) for the account and starts
   * a ban when the profile says so. A failure recorded while a ban is in force is stored but
   * neither extends the ban nor (default profile) counts toward the next one.
   */
  recordFailure(username: string, now: number = Date.now()): FailureOutcome {
    if (this.#accountRegulationOff()) return { failures: 0, bannedUntil: null, banStarted: false };
    const key = accountKey(username);
    const outcome = this.#db.transaction(
      (tx) => {
        tx.insert(authFailures).values({ key, at: now }).run();
        const stored = readBannedUntil(tx, key);
        const failures = this.#countFailures(tx, key, stored, now);
        if (stored !== null && stored > now) {
          return { failures, bannedUntil: stored, banStarted: false };
        }
        const banSeconds = this.#banSecondsFor(failures);
        if (banSeconds === null) return { failures, bannedUntil: null, banStarted: false };
        const bannedUntil = now + banSeconds * 1000;
        tx.insert(authRegulation)
          .values({ key, bannedUntil })
          .onConflictDoUpdate({ target: authRegulation.key, set: { bannedUntil } })
          .run();
        return { failures, bannedUntil, banStarted: true };
      },
      { behavior: "immediate" },
    );
    this.#maybePrune(now);
    return outcome;
  }

  /**
   * A successful login: forgets the account's failures up to `now` and lifts its ban (a ban
   * can only be met here through a race, since banned accounts are not verified).
   */
  recordSuccess(username: string, now: number = Date.now()): void {
    const key = accountKey(username);
    this.#db.transaction(
      (tx) => {
        tx.delete(authFailures)
          .where(and(eq(authFailures.key, key), lte(authFailures.at, now)))
          .run();
        tx.delete(authRegulation).where(eq(authRegulation.key, key)).run();
      },
      { behavior: "immediate" },
    );
  }

  /**
   * Takes one token from the address's bucket (capacity `ipAttemptsPerMinute`, refilled
   * continuously). Call on every login, MFA and token-creation attempt, whatever its outcome.
   * A refused attempt takes nothing.
   */
  takeAttempt(address: string, now: number = Date.now()): AttemptDecision {
    const capacity = this.settings.ipAttemptsPerMinute;
    if (capacity <= 0) return { allowed: true };
    const key = ipKey(address);
    const decision = this.#db.transaction(
      (tx): AttemptDecision => {
        const row = tx
          .select({ tokens: authRegulation.tokens, updatedAt: authRegulation.tokensUpdatedAt })
          .from(authRegulation)
          .where(eq(authRegulation.key, key))
          .get();
        const available = refill(row?.tokens ?? null, row?.updatedAt ?? null, capacity, now);
        if (available < 1 - EPSILON) {
          const waitMs = ((1 - available) * MINUTE_MS) / capacity;
          return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
        }
        const tokens = Math.max(0, available - 1);
        // Another instance's clock may be ahead: never move the refill time backwards.
        const tokensUpdatedAt = Math.max(now, row?.updatedAt ?? now);
        tx.insert(authRegulation)
          .values({ key, tokens, tokensUpdatedAt })
          .onConflictDoUpdate({ target: authRegulation.key, set: { tokens, tokensUpdatedAt } })
          .run();
        return { allowed: true };
      },
      { behavior: "immediate" },
    );
    this.#maybePrune(now);
    return decision;
  }

  /** For the admin view: failures in the window, the ban in force, and (addresses) the bucket. */
  status(key: string, now: number = Date.now()): RegulationStatus {
    return this.#db.transaction((tx) => {
      const row = tx.select().from(authRegulation).where(eq(authRegulation.key, key)).get();
      const stored = row?.bannedUntil ?? null;
      const failures = countSince(tx, key, now - this.longestWindowMs);
      const capacity = this.settings.ipAttemptsPerMinute;
      const tokens =
        key.startsWith(IP_PREFIX) && capacity > 0
          ? refill(row?.tokens ?? null, row?.tokensUpdatedAt ?? null, capacity, now)
          : null;
      return { key, failures, bannedUntil: stored !== null && stored > now ? stored : null, tokens };
    });
  }

  /** For the admin view: every ban in force at `now`, the longest first. */
  bans(now: number = Date.now()): { key: string; bannedUntil: number }[] {
    const rows = this.#db
      .select({ key: authRegulation.key, bannedUntil: authRegulation.bannedUntil })
      .from(authRegulation)
      .where(gt(authRegulation.bannedUntil, now))
      .orderBy(desc(authRegulation.bannedUntil), asc(authRegulation.key))
      .all();
    return rows.flatMap((r) =>
      r.bannedUntil === null ? [] : [{ key: r.key, bannedUntil: r.bannedUntil }],
    );
  }

  /**
   * Admin: lifts the ban and forgets the failures of `key` (an address key refills its
   * bucket). Returns whether anything was stored for it.
   */
  unban(key: string): boolean {
    return this.#db.transaction(
      (tx) => {
        const failures = tx
          .delete(authFailures)
          .where(eq(authFailures.key, key))
          .returning({ id: authFailures.id })
          .all();
        const entries = tx
          .delete(authRegulation)
          .where(eq(authRegulation.key, key))
          .returning({ key: authRegulation.key })
          .all();
        return failures.length + entries.length > 0;
      },
      { behavior: "immediate" },
    );
  }

  /**
   * Removes failures that have left the longest window, bans ended longer ago than that (a ban's
   * end bounds which failures count, so it stays until no failure before it can matter), and
   * buckets that have refilled completely (a missing bucket is a full one).
   */
  prune(now: number = Date.now()): PruneResult {
    this.#writesSincePrune = 0;
    const horizon = now - this.longestWindowMs;
    const capacity = this.settings.ipAttemptsPerMinute;
    return this.#db.transaction(
      (tx) => {
        const failures = tx
          .delete(authFailures)
          .where(lte(authFailures.at, horizon))
          .returning({ id: authFailures.id })
          .all();
        const elapsed = sql`max(0, ${now} - coalesce(${authRegulation.tokensUpdatedAt}, ${now}))`;
        const bucketFull =
          capacity > 0
            ? sql`${authRegulation.tokens} + ${elapsed} * ${capacity / MINUTE_MS} >= ${capacity - EPSILON}`
            : sql`1`;
        const entries = tx
          .delete(authRegulation)
          .where(
            and(
              or(sql`${authRegulation.bannedUntil} IS NULL`, lte(authRegulation.bannedUntil, horizon)),
              or(sql`${authRegulation.tokens} IS NULL`, bucketFull),
            ),
          )
          .returning({ key: authRegulation.key })
          .all();
        return { failures: failures.length, entries: entries.length };
      },
      { behavior: "immediate" },
    );
  }

  #accountRegulationOff(): boolean {
    return this.settings.profile === "default" && this.settings.accountMaxFailures <= 0;
  }

  #bannedUntil(key: string): number | null {
    return readBannedUntil(this.#db, key);
  }

  /**
   * Failures counting at `now`. Default profile: those within the window and not before the
   * end of the last ban (a ban uses up the failures that caused it). Original profile: those
   * since the last success (which deletes them), at most ORIGINAL_WINDOW_SECONDS back.
   */
  #countFailures(tx: Queryable, key: string, storedBannedUntil: number | null, now: number): number {
    if (this.settings.profile === "original") {
      return countSince(tx, key, now - this.longestWindowMs);
    }
    const windowStart = now - this.settings.accountWindowSeconds * 1000;
    const conditions = [
      eq(authFailures.key, key),
      gt(authFailures.at, windowStart),
      lte(authFailures.at, now),
    ];
    if (storedBannedUntil !== null) conditions.push(gte(authFailures.at, storedBannedUntil));
    const row = tx.select({ n: count() }).from(authFailures).where(and(...conditions)).get();
    return row?.n ?? 0;
  }

  /** Ban length for this many counted failures, or null for no ban. */
  #banSecondsFor(failures: number): number | null {
    if (this.settings.profile === "original") {
      return ORIGINAL_COOLDOWNS.find((c) => failures >= c.failures)?.seconds ?? null;
    }
    return failures >= this.settings.accountMaxFailures ? this.settings.accountBanSeconds : null;
  }

  #maybePrune(now: number): void {
    if (this.#pruneEvery <= 0) return;
    this.#writesSincePrune += 1;
    if (this.#writesSincePrune >= this.#pruneEvery) this.prune(now);
  }
}

/** The database or a transaction on it. */
type Queryable = Pick<Db, "select">;

function readBannedUntil(db: Queryable, key: string): number | null {
  const row = db
    .select({ bannedUntil: authRegulation.bannedUntil })
    .from(authRegulation)
    .where(and(eq(authRegulation.key, key), isNotNull(authRegulation.bannedUntil)))
    .get();
  return row?.bannedUntil ?? null;
}

/** Failures of `key` after `since` (exclusive). */
function countSince(db: Queryable, key: string, since: number): number {
  const row = db
    .select({ n: count() })
    .from(authFailures)
    .where(and(eq(authFailures.key, key), gt(authFailures.at, since)))
    .get();
  return row?.n ?? 0;
}

/** Tokens in a bucket at `now`; a missing bucket is full. */
function refill(tokens: number | null, updatedAt: number | null, capacity: number, now: number): number {
  if (tokens === null || updatedAt === null) return capacity;
  const elapsed = Math.max(0, now - updatedAt);
  return Math.min(capacity, tokens + (elapsed * capacity) / MINUTE_MS);
}
