import { describe, expect, test } from "bun:test";
import { accountKey, DEFAULT_REGULATION, ipKey, ORIGINAL_WINDOW_SECONDS, RegulationSettingsError, Regulator, type RegulationSettings } from "../../src/auth/regulation.ts";
import type { OpenDatabase } from "../../src/db/index.ts";
import { useTempDataDir } from "../support/temp-database.ts";

const T0 = 1_700_000_000_000;
const S = 1000;

const temp = useTempDataDir("mss-regulation-");
const open = (): OpenDatabase => temp.open();

function regulator(settings: Partial<RegulationSettings> = {}, database: OpenDatabase = open()): Regulator {
  return new Regulator(database.db, { ...DEFAULT_REGULATION, ...settings }, { pruneEvery: 0 });
}

function rowCount(database: OpenDatabase, table: string): number {
  return (database.sqlite.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
}

describe("settings", () => {
  test("defaults are Authelia's numbers and the Swarm bucket", () => {
    expect(DEFAULT_REGULATION).toEqual({
      profile: "default",
      accountMaxFailures: 3,
      accountWindowSeconds: 120,
      accountBanSeconds: 300,
      ipAttemptsPerMinute: 5,
    });
  });

  test("out-of-range numbers are refused", () => {
    const database = open();
    expect(() => regulator({ accountWindowSeconds: 0 }, database)).toThrow(RegulationSettingsError);
    expect(() => regulator({ accountBanSeconds: Number.NaN }, database)).toThrow(RegulationSettingsError);
    expect(() => regulator({ accountMaxFailures: 2.5 }, database)).toThrow(RegulationSettingsError);
    expect(() => regulator({ ipAttemptsPerMinute: -1 }, database)).toThrow(RegulationSettingsError);
    expect(() => regulator({ profile: "strict" as "default" }, database)).toThrow(RegulationSettingsError);
  });

  test("keys: accounts ignore case, addresses are taken as given", () => {
    expect(accountKey("Alice_1")).toBe("account:alice_1");
    expect(ipKey("2001:db8::1")).toBe("ip:2001:db8::1");
  });
});

describe("per-account ban, default profile", () => {
  test("the third failure within two minutes bans for exactly five minutes", () => {
    const r = regulator();
    expect(r.recordFailure("alice", T0)).toEqual({ failures: 1, bannedUntil: null, banStarted: false });
    expect(r.recordFailure("alice", T0 + 30 * S)).toEqual({ failures: 2, bannedUntil: null, banStarted: false });
    expect(r.accountBanned("alice", T0 + 30 * S)).toBe(false);
    const third = r.recordFailure("alice", T0 + 60 * S);
    expect(third).toEqual({ failures: 3, bannedUntil: T0 + 360 * S, banStarted: true });
    expect(r.accountBanned("alice", T0 + 60 * S)).toBe(true);
    expect(r.accountBanned("ALICE", T0 + 360 * S - 1)).toBe(true);
    expect(r.accountBanned("alice", T0 + 360 * S)).toBe(false);
    // Other accounts are untouched.
    expect(r.accountBanned("bob", T0 + 60 * S)).toBe(false);
  });

  test("the window slides: failures older than the window do not count", () => {
    const r = regulator();
    r.recordFailure("alice", T0);
    r.recordFailure("alice", T0 + 60 * S);
    // Exactly 120 s after the first one: the first has left the window.
    expect(r.recordFailure("alice", T0 + 120 * S)).toEqual({ failures: 2, bannedUntil: null, banStarted: false });
    expect(r.accountBanned("alice", T0 + 120 * S)).toBe(false);
    expect(r.status(accountKey("alice"), T0 + 121 * S).failures).toBe(2);
    // Just inside the window of the second and third failures.
    expect(r.recordFailure("alice", T0 + 179 * S).banStarted).toBe(true);
  });

  test("usernames differing in case are one account", () => {
    const r = regulator();
    r.recordFailure("Alice", T0);
    r.recordFailure("ALICE", T0 + 1);
    expect(r.recordFailure("alice", T0 + 2).banStarted).toBe(true);
    expect(r.accountBanned("aLiCe", T0 + 3)).toBe(true);
  });

  test("a success clears the failures and the ban", () => {
    const r = regulator();
    r.recordFailure("alice", T0);
    r.recordFailure("alice", T0 + S);
    r.recordSuccess("alice", T0 + 2 * S);
    expect(r.status(accountKey("alice"), T0 + 2 * S)).toEqual({
      key: "account:alice",
      failures: 0,
      bannedUntil: null,
      tokens: null,
    });
    expect(r.recordFailure("alice", T0 + 3 * S).failures).toBe(1);

    r.recordFailure("alice", T0 + 4 * S);
    expect(r.recordFailure("alice", T0 + 5 * S).banStarted).toBe(true);
    // A success can only meet a ban through a race; it still lifts it.
    r.recordSuccess("alice", T0 + 6 * S);
    expect(r.accountBanned("alice", T0 + 6 * S)).toBe(false);
  });

  test("failures during a ban neither extend it nor count toward the next one", () => {
    const database = open();
    const r = regulator({}, database);
    for (let i = 0; i < 3; i++) r.recordFailure("alice", T0 + i * S);
    const bannedUntil = T0 + 2 * S + 300 * S;
    expect(r.recordFailure("alice", T0 + 100 * S)).toEqual({ failures: 0, bannedUntil, banStarted: false });
    expect(r.recordFailure("alice", T0 + 200 * S).bannedUntil).toBe(bannedUntil);
    expect(r.accountBanned("alice", bannedUntil)).toBe(false);
    // After the ban the count starts again, even with a window longer than the ban.
    const long = regulator({ accountWindowSeconds: 3600 }, database);
    expect(long.recordFailure("alice", bannedUntil).failures).toBe(1);
    expect(long.accountBanned("alice", bannedUntil + 1)).toBe(false);
  });

  test("two simultaneous failures both count (same instant, two instances on one database)", () => {
    const database = open();
    const a = regulator({}, database);
    // A second connection to the same file stands for a second gateway process.
    const other = temp.open({ migrate: false });
    const b = regulator({}, other);
    a.recordFailure("alice", T0);
    const first = a.recordFailure("alice", T0 + S);
    const second = b.recordFailure("alice", T0 + S);
    expect(first).toEqual({ failures: 2, bannedUntil: null, banStarted: false });
    expect(second).toEqual({ failures: 3, bannedUntil: T0 + 301 * S, banStarted: true });
    expect(a.accountBanned("alice", T0 + 2 * S)).toBe(true);
  });

  test("interleaved accounts and a failure stamped later by a clock that runs ahead", () => {
    const r = regulator();
    r.recordFailure("alice", T0);
    r.recordFailure("bob", T0);
    // Another instance's clock is 10 s ahead.
    r.recordFailure("alice", T0 + 10 * S);
    // At T0 + 1 s, the failure "from the future" does not count yet.
    expect(r.recordFailure("alice", T0 + S)).toEqual({ failures: 2, bannedUntil: null, banStarted: false });
    expect(r.recordFailure("alice", T0 + 11 * S).banStarted).toBe(true);
    expect(r.accountBanned("bob", T0 + 11 * S)).toBe(false);
  });

  test("a custom policy: 5 failures in 10 minutes, 1 hour ban", () => {
    const r = regulator({ accountMaxFailures: 5, accountWindowSeconds: 600, accountBanSeconds: 3600 });
    for (let i = 0; i < 4; i++) expect(r.recordFailure("alice", T0 + i * 100 * S).banStarted).toBe(false);
    expect(r.recordFailure("alice", T0 + 500 * S)).toEqual({
      failures: 5,
      bannedUntil: T0 + 4100 * S,
      banStarted: true,
    });
  });
});

describe("per-account cool-downs, original profile", () => {
  test("3 -> 60 s, 6 -> 90 s, 9 -> 300 s, and each failure past a threshold cools down again", () => {
    const r = regulator({ profile: "original" });
    let t = T0;
    const fail = () => r.recordFailure("alice", t);
    expect(fail().bannedUntil).toBeNull();
    t += S;
    expect(fail().bannedUntil).toBeNull();
    t += S;
    expect(fail()).toEqual({ failures: 3, bannedUntil: t + 60 * S, banStarted: true });
    expect(r.accountBanned("alice", t + 60 * S - 1)).toBe(true);
    t += 60 * S;
    expect(r.accountBanned("alice", t)).toBe(false);
    expect(fail()).toEqual({ failures: 4, bannedUntil: t + 60 * S, banStarted: true });
    t += 60 * S;
    expect(fail().bannedUntil).toBe(t + 60 * S); // 5
    t += 60 * S;
    expect(fail()).toEqual({ failures: 6, bannedUntil: t + 90 * S, banStarted: true });
    t += 90 * S;
    expect(fail().bannedUntil).toBe(t + 90 * S); // 7
    t += 90 * S;
    expect(fail().bannedUntil).toBe(t + 90 * S); // 8
    t += 90 * S;
    expect(fail()).toEqual({ failures: 9, bannedUntil: t + 300 * S, banStarted: true });
    t += 300 * S;
    expect(fail()).toEqual({ failures: 10, bannedUntil: t + 300 * S, banStarted: true });
  });

  test("a success starts the count again", () => {
    const r = regulator({ profile: "original" });
    for (let i = 0; i < 3; i++) r.recordFailure("alice", T0 + i);
    r.recordSuccess("alice", T0 + 61 * S);
    expect(r.recordFailure("alice", T0 + 62 * S)).toEqual({ failures: 1, bannedUntil: null, banStarted: false });
  });

  test("failures are counted over 24 hours at most", () => {
    const r = regulator({ profile: "original" });
    r.recordFailure("alice", T0);
    r.recordFailure("alice", T0 + S);
    const day = ORIGINAL_WINDOW_SECONDS * S;
    expect(r.recordFailure("alice", T0 + day).failures).toBe(2);
    expect(r.accountBanned("alice", T0 + day)).toBe(false);
  });

  test("a failure during a cool-down is stored and counts, but does not move the cool-down", () => {
    const r = regulator({ profile: "original" });
    for (let i = 0; i < 3; i++) r.recordFailure("alice", T0 + i * S);
    const until = T0 + 2 * S + 60 * S;
    expect(r.recordFailure("alice", T0 + 10 * S)).toEqual({ failures: 4, bannedUntil: until, banStarted: false });
    expect(r.recordFailure("alice", until).failures).toBe(5);
  });
});

describe("per-address token bucket", () => {
  test("five attempts, then 429 with the seconds until the next token; refill is continuous", () => {
    const r = regulator();
    for (let i = 0; i < 5; i++) expect(r.takeAttempt("203.0.113.7", T0)).toEqual({ allowed: true });
    expect(r.takeAttempt("203.0.113.7", T0)).toEqual({ allowed: false, retryAfterSeconds: 12 });
    expect(r.takeAttempt("203.0.113.7", T0 + 5 * S)).toEqual({ allowed: false, retryAfterSeconds: 7 });
    expect(r.takeAttempt("203.0.113.7", T0 + 11_500)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    // One token every 12 s.
    expect(r.takeAttempt("203.0.113.7", T0 + 12 * S)).toEqual({ allowed: true });
    expect(r.takeAttempt("203.0.113.7", T0 + 12 * S)).toEqual({ allowed: false, retryAfterSeconds: 12 });
    // Other addresses have their own bucket.
    expect(r.takeAttempt("203.0.113.8", T0)).toEqual({ allowed: true });
  });

  test("refused attempts take nothing and the bucket never exceeds its capacity", () => {
    const r = regulator();
    for (let i = 0; i < 5; i++) r.takeAttempt("::1", T0);
    for (let i = 0; i < 10; i++) expect(r.takeAttempt("::1", T0 + 6 * S).allowed).toBe(false);
    expect(r.takeAttempt("::1", T0 + 12 * S).allowed).toBe(true);
    // An hour later the bucket holds 5, not 300.
    const later = T0 + 3600 * S;
    expect(r.status(ipKey("::1"), later).tokens).toBe(5);
    for (let i = 0; i < 5; i++) expect(r.takeAttempt("::1", later).allowed).toBe(true);
    expect(r.takeAttempt("::1", later).allowed).toBe(false);
  });

  test("partial refill is reported by status", () => {
    const r = regulator();
    for (let i = 0; i < 5; i++) r.takeAttempt("::1", T0);
    expect(r.status(ipKey("::1"), T0 + 30 * S)).toEqual({
      key: "ip:::1",
      failures: 0,
      bannedUntil: null,
      tokens: 2.5,
    });
  });

  test("a capacity that does not divide a minute", () => {
    const r = regulator({ ipAttemptsPerMinute: 7 });
    for (let i = 0; i < 7; i++) expect(r.takeAttempt("::1", T0).allowed).toBe(true);
    expect(r.takeAttempt("::1", T0)).toEqual({ allowed: false, retryAfterSeconds: 9 });
    expect(r.takeAttempt("::1", T0 + Math.ceil(60_000 / 7)).allowed).toBe(true);
  });

  test("two instances racing for the last token: only one gets it", () => {
    const a = regulator();
    const other = temp.open({ migrate: false });
    const b = regulator({}, other);
    for (let i = 0; i < 4; i++) a.takeAttempt("::1", T0);
    const results = [a.takeAttempt("::1", T0 + 1), b.takeAttempt("::1", T0 + 1)];
    expect(results.filter((d) => d.allowed)).toHaveLength(1);
  });

  test("a clock running behind does not hand out tokens twice", () => {
    const r = regulator();
    for (let i = 0; i < 5; i++) r.takeAttempt("::1", T0 + 60 * S);
    // An instance whose clock is a minute behind sees an empty bucket, not a negative elapsed time.
    expect(r.takeAttempt("::1", T0).allowed).toBe(false);
    expect(r.takeAttempt("::1", T0 + 72 * S).allowed).toBe(true);
  });
});

describe("persistence", () => {
  test("bans, failures and buckets survive closing and reopening the database", () => {
    const first = open();
    const before = regulator({}, first);
    before.recordFailure("alice", T0);
    before.recordFailure("alice", T0 + S);
    before.recordFailure("bob", T0);
    before.recordFailure("bob", T0 + S);
    before.recordFailure("bob", T0 + 2 * S);
    for (let i = 0; i < 5; i++) before.takeAttempt("198.51.100.1", T0);
    first.close();

    const after = regulator({}, open());
    expect(after.accountBanned("bob", T0 + 3 * S)).toBe(true);
    expect(after.status(accountKey("bob"), T0 + 3 * S).bannedUntil).toBe(T0 + 302 * S);
    expect(after.recordFailure("alice", T0 + 2 * S).banStarted).toBe(true);
    expect(after.takeAttempt("198.51.100.1", T0 + S)).toEqual({ allowed: false, retryAfterSeconds: 11 });
  });
});

describe("admin", () => {
  test("status, bans and unban", () => {
    const database = open();
    const r = regulator({}, database);
    for (let i = 0; i < 3; i++) r.recordFailure("alice", T0 + i * S);
    for (let i = 0; i < 3; i++) r.recordFailure("carol", T0 + 10 * S + i * S);
    r.recordFailure("bob", T0);
    expect(r.status(accountKey("alice"), T0 + 3 * S)).toEqual({
      key: "account:alice",
      failures: 3,
      bannedUntil: T0 + 302 * S,
      tokens: null,
    });
    expect(r.bans(T0 + 20 * S)).toEqual([
      { key: "account:carol", bannedUntil: T0 + 312 * S },
      { key: "account:alice", bannedUntil: T0 + 302 * S },
    ]);
    expect(r.unban(accountKey("alice"))).toBe(true);
    expect(r.accountBanned("alice", T0 + 20 * S)).toBe(false);
    expect(r.status(accountKey("alice"), T0 + 20 * S).failures).toBe(0);
    expect(r.unban(accountKey("nobody"))).toBe(false);
    expect(r.bans(T0 + 20 * S).map((b) => b.key)).toEqual(["account:carol"]);
    expect(r.bans(T0 + 312 * S)).toEqual([]);

    for (let i = 0; i < 5; i++) r.takeAttempt("::1", T0);
    expect(r.unban(ipKey("::1"))).toBe(true);
    expect(r.takeAttempt("::1", T0).allowed).toBe(true);
  });
});

describe("pruning", () => {
  test("removes old failures, long-ended bans and full buckets, keeps what still matters", () => {
    const database = open();
    const r = regulator({}, database);
    r.recordFailure("old", T0);
    for (let i = 0; i < 3; i++) r.recordFailure("banned", T0 + 100 * S + i);
    r.takeAttempt("10.0.0.1", T0 + 100 * S);
    r.takeAttempt("10.0.0.2", T0 + 150 * S);
    r.recordFailure("recent", T0 + 150 * S);

    // At T0 + 160 s: "old" (160 s ago) has left the 120 s window; everything else stays.
    expect(r.prune(T0 + 160 * S)).toEqual({ failures: 1, entries: 1 });
    // 10.0.0.1 took one token 60 s ago: its bucket is full again and needs no row.
    expect(r.status(ipKey("10.0.0.1"), T0 + 160 * S).tokens).toBe(5);
    expect(r.status(ipKey("10.0.0.2"), T0 + 160 * S).tokens).toBeCloseTo(4 + 10 / 12, 9);
    expect(r.accountBanned("banned", T0 + 160 * S)).toBe(true);
    expect(rowCount(database, "auth_failures")).toBe(4);

    // The ban ends at T0 + 400 s; its row stays one window longer, so no failure from before
    // it can ever count again.
    const banEnd = T0 + 100 * S + 2 + 300 * S;
    r.prune(banEnd + 119 * S);
    expect(rowCount(database, "auth_regulation")).toBe(1);
    expect(r.prune(banEnd + 120 * S)).toEqual({ failures: 0, entries: 1 });
    expect(rowCount(database, "auth_regulation")).toBe(0);
    expect(rowCount(database, "auth_failures")).toBe(0);
  });

  test("the original profile keeps failures for 24 hours", () => {
    const database = open();
    const r = regulator({ profile: "original" }, database);
    r.recordFailure("alice", T0);
    r.prune(T0 + 23 * 3600 * S);
    expect(rowCount(database, "auth_failures")).toBe(1);
    r.prune(T0 + 24 * 3600 * S);
    expect(rowCount(database, "auth_failures")).toBe(0);
  });

  test("runs by itself every N writing calls", () => {
    const database = open();
    const r = new Regulator(database.db, DEFAULT_REGULATION, { pruneEvery: 3 });
    r.recordFailure("a", T0);
    r.recordFailure("b", T0);
    expect(rowCount(database, "auth_failures")).toBe(2);
    // Third writing call, an hour later: the two old failures go.
    r.takeAttempt("::1", T0 + 3600 * S);
    expect(rowCount(database, "auth_failures")).toBe(0);
    expect(rowCount(database, "auth_regulation")).toBe(1);
  });
});
