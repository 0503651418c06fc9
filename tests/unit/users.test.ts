import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { hashPassword, type PasswordSettings } from "../../src/auth/passwords.ts";
import { sessions, users } from "../../src/auth/tables.ts";
import {
  AccountError,
  checkUserPassword,
  countUsers,
  createUser,
  createUserWithPasswordHash,
  getUserById,
  getUserByUsername,
  getUserCredentials,
  GUEST_USERNAME,
  listUsers,
  ownerExists,
  recordLogin,
  RESERVED_USERNAMES,
  setDisabled,
  setPassword,
  type AccountErrorCode,
} from "../../src/auth/users.ts";
import { applyMigrations, openDatabase, type Db, type OpenDatabase } from "../../src/db/index.ts";

const FAST: PasswordSettings = { minLength: 12, argon2MemoryKib: 64, argon2TimeCost: 1 };
const PASSWORD = "correct horse battery";
const T0 = 1_700_000_000_000;

let dataDir: string;
let database: OpenDatabase;
let db: Db;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "mss-users-"));
  database = openDatabase(dataDir);
  applyMigrations(database.sqlite);
  db = database.db;
});
afterEach(() => {
  database.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The AccountError code a failed call produced. */
async function refusal(run: () => unknown): Promise<AccountErrorCode> {
  try {
    await run();
  } catch (error) {
    if (error instanceof AccountError) return error.code;
    throw error;
  }
  throw new Error("expected an AccountError");
}

const add = (username: string, role: "owner" | "admin" | "power" | "user" | "guest" = "user", password = PASSWORD) =>
  createUser(db, { username, password, role }, FAST, T0);

function addSession(userId: string, jti: string): void {
  db.insert(sessions).values({ jti, userId, createdAt: T0, lastSeenAt: T0, expiresAt: T0 + 86_400_000 }).run();
}

function revokedJtis(userId: string): string[] {
  return db
    .select({ jti: sessions.jti, revokedAt: sessions.revokedAt })
    .from(sessions)
    .where(eq(sessions.userId, userId))
    .all()
    .filter((row) => row.revokedAt !== null)
    .map((row) => row.jti)
    .sort();
}

describe("createUser", () => {
  test("stores the account with defaults and an argon2id hash", async () => {
    const user = await add("Alice_1", "power");
    expect(user).toMatchObject({
      username: "Alice_1",
      role: "power",
      groups: [],
      disabled: false,
      sfwCheck: true,
      createdAt: T0,
      lastLoginAt: null,
      passwordChangedAt: T0,
    });
    expect(user.id).toMatch(/^[0-9a-f-]{36}$/);
    expect("passwordHash" in user).toBe(false);
    const row = db.select().from(users).where(eq(users.id, user.id)).get();
    expect(row?.usernameKey).toBe("alice_1");
    expect(row?.passwordHash).toStartWith("$argon2id$v=19$m=64,t=1,p=1$");
    expect(row?.passwordHash).not.toContain(PASSWORD);
  });

  test("groups and the sfw flag", async () => {
    const user = await createUser(
      db,
      { username: "bob", password: PASSWORD, role: "user", groups: ["artists", "artists", "night-shift"], sfwCheck: false },
      FAST,
    );
    expect(user.groups).toEqual(["artists", "night-shift"]);
    expect(user.sfwCheck).toBe(false);
    expect(getUserById(db, user.id)?.groups).toEqual(["artists", "night-shift"]);
    expect(await refusal(() => createUser(db, { username: "carl", password: PASSWORD, role: "user", groups: ["a b"] }, FAST))).toBe(
      "GROUPS_INVALID",
    );
  });

  test("usernames: 3-64 of [A-Za-z0-9_]", async () => {
    for (const bad of ["ab", "a".repeat(65), "has space", "dash-name", "dot.name", "ünï", "", "a\nb"]) {
      expect(await refusal(() => add(bad))).toBe("USERNAME_INVALID");
    }
    await add("abc");
    await add("A".repeat(64));
    expect(countUsers(db)).toBe(2);
  });

  test("reserved names are refused in any letter case", async () => {
    for (const name of ["guest", "Admin", "ROOT", "default", "defaults", "owner", "system", "api", "administrator", "anonymous", "mss_login"]) {
      expect(RESERVED_USERNAMES.has(name.toLowerCase())).toBe(true);
      expect(await refusal(() => add(name))).toBe("USERNAME_RESERVED");
    }
    expect(countUsers(db)).toBe(0);
  });

  test("the system may create its own guest account", async () => {
    const guest = await createUser(
      db,
      { username: GUEST_USERNAME, password: crypto.randomUUID(), role: "guest", systemAccount: true },
      FAST,
    );
    expect(guest.username).toBe("guest");
    expect(await refusal(() => add("Guest", "guest"))).toBe("USERNAME_RESERVED");
  });

  test("usernames are unique ignoring case", async () => {
    await add("alice");
    expect(await refusal(() => add("ALICE"))).toBe("USERNAME_TAKEN");
    expect(await refusal(() => add("alice"))).toBe("USERNAME_TAKEN");
    expect(countUsers(db)).toBe(1);
  });

  test("exactly one owner", async () => {
    expect(ownerExists(db)).toBe(false);
    await add("first_owner", "owner");
    expect(ownerExists(db)).toBe(true);
    expect(await refusal(() => add("second_owner", "owner"))).toBe("OWNER_EXISTS");
    expect(await refusal(() => createUserWithPasswordHash(db, { username: "third", role: "owner", passwordHash: "$2b$04$x" }))).toBe(
      "OWNER_EXISTS",
    );
    expect(listUsers(db).filter((u) => u.role === "owner")).toHaveLength(1);
  });

  test("two owners created at once: only one wins", async () => {
    const results = await Promise.allSettled([add("owner_a", "owner"), add("owner_b", "owner")]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const rejected = results.find((r) => r.status === "rejected");
    expect((rejected as PromiseRejectedResult).reason).toBeInstanceOf(AccountError);
    expect(listUsers(db).filter((u) => u.role === "owner")).toHaveLength(1);
  });

  test("bad role", async () => {
    expect(await refusal(() => createUser(db, { username: "bob", password: PASSWORD, role: "god" as "user" }, FAST))).toBe(
      "ROLE_INVALID",
    );
  });

  test("the password policy applies, with the policy's codes", async () => {
    expect(await refusal(() => add("bob", "user", "short"))).toBe("PASSWORD_TOO_SHORT");
    expect(await refusal(() => add("bob", "user", "x".repeat(1025)))).toBe("PASSWORD_TOO_LONG");
    expect(await refusal(() => add("bob", "user", "qwertyuiop123"))).toBe("PASSWORD_TOO_COMMON");
    expect(await refusal(() => add("bobby", "user", "i am BOBBY the great"))).toBe("PASSWORD_CONTAINS_USERNAME");
    try {
      await add("bob", "user", "short");
    } catch (error) {
      expect((error as AccountError).message).toBe("Use at least 12 characters.");
    }
    expect(countUsers(db)).toBe(0);
  });

  test("imported hashes: bcrypt or argon2id only", async () => {
    const bcrypt = await Bun.password.hash("Imported-Pa55!", { algorithm: "bcrypt", cost: 4 });
    const user = createUserWithPasswordHash(db, { username: "imported", role: "user", passwordHash: bcrypt }, T0);
    expect(getUserCredentials(db, "imported")?.passwordHash).toBe(bcrypt);
    expect(user.role).toBe("user");
    expect(await refusal(() => createUserWithPasswordHash(db, { username: "plain", role: "user", passwordHash: "secret" }))).toBe(
      "PASSWORD_HASH_INVALID",
    );
  });
});

describe("look-ups", () => {
  test("by id, by username ignoring case, list sorted, count", async () => {
    const bob = await add("bob");
    await add("Alice");
    await add("carol");
    expect(getUserById(db, bob.id)?.username).toBe("bob");
    expect(getUserById(db, "no-such-id")).toBeNull();
    expect(getUserByUsername(db, "BOB")?.id).toBe(bob.id);
    expect(getUserByUsername(db, "nobody_here")).toBeNull();
    expect(listUsers(db).map((u) => u.username)).toEqual(["Alice", "bob", "carol"]);
    expect(countUsers(db)).toBe(3);
  });

  test("recordLogin sets the last login time", async () => {
    const bob = await add("bob");
    recordLogin(db, bob.id, T0 + 5000);
    expect(getUserById(db, bob.id)?.lastLoginAt).toBe(T0 + 5000);
  });
});

describe("setPassword", () => {
  test("re-checks the policy, stores a new hash, updates the change time and ends sessions", async () => {
    const bob = await add("bob");
    addSession(bob.id, "s1");
    addSession(bob.id, "s2");
    expect(await refusal(() => setPassword(db, bob.id, "too short", FAST))).toBe("PASSWORD_TOO_SHORT");
    expect(await refusal(() => setPassword(db, bob.id, "still bob inside", FAST))).toBe("PASSWORD_CONTAINS_USERNAME");
    expect(revokedJtis(bob.id)).toEqual([]);

    await setPassword(db, bob.id, "a brand new passphrase", FAST, { now: T0 + 1000, keepSessionJti: "s2" });
    expect(getUserById(db, bob.id)?.passwordChangedAt).toBe(T0 + 1000);
    expect(revokedJtis(bob.id)).toEqual(["s1"]);
    expect((await checkUserPassword(db, "bob", "a brand new passphrase", FAST)).ok).toBe(true);
    expect((await checkUserPassword(db, "bob", PASSWORD, FAST)).ok).toBe(false);
  });

  test("unknown user", async () => {
    expect(await refusal(() => setPassword(db, "missing", "a brand new passphrase", FAST))).toBe("USER_NOT_FOUND");
  });
});

describe("setDisabled", () => {
  test("disabling ends sessions; enabling restores login", async () => {
    const bob = await add("bob");
    addSession(bob.id, "s1");
    expect(setDisabled(db, bob.id, true, T0).disabled).toBe(true);
    expect(revokedJtis(bob.id)).toEqual(["s1"]);
    expect(await checkUserPassword(db, "bob", PASSWORD, FAST)).toEqual({ ok: false, reason: "disabled" });
    expect(setDisabled(db, bob.id, false).disabled).toBe(false);
    expect((await checkUserPassword(db, "bob", PASSWORD, FAST)).ok).toBe(true);
  });

  test("the owner cannot be disabled; unknown ids are refused", async () => {
    const owner = await add("the_owner", "owner");
    expect(await refusal(() => setDisabled(db, owner.id, true))).toBe("OWNER_CANNOT_BE_DISABLED");
    expect(getUserById(db, owner.id)?.disabled).toBe(false);
    expect(await refusal(() => setDisabled(db, "missing", true))).toBe("USER_NOT_FOUND");
  });
});

describe("checkUserPassword", () => {
  test("right password, wrong password, unknown user, invalid username", async () => {
    const bob = await add("bob");
    expect(await checkUserPassword(db, "BOB", PASSWORD, FAST)).toEqual({ ok: true, user: bob });
    expect(await checkUserPassword(db, "bob", "wrong passphrase!", FAST)).toEqual({ ok: false, reason: "wrong_password" });
    expect(await checkUserPassword(db, "nobody_here", PASSWORD, FAST)).toEqual({ ok: false, reason: "unknown_user" });
    expect(await checkUserPassword(db, "x".repeat(500), PASSWORD, FAST)).toEqual({ ok: false, reason: "unknown_user" });
  });

  test("a bcrypt hash is replaced by argon2id at the next successful login", async () => {
    const bcrypt = await Bun.password.hash("Imported-Pa55!", { algorithm: "bcrypt", cost: 4 });
    createUserWithPasswordHash(db, { username: "imported", role: "user", passwordHash: bcrypt }, T0);
    expect((await checkUserPassword(db, "imported", "wrong", FAST)).ok).toBe(false);
    expect(getUserCredentials(db, "imported")?.passwordHash).toBe(bcrypt);
    expect((await checkUserPassword(db, "imported", "Imported-Pa55!", FAST)).ok).toBe(true);
    const rehashed = getUserCredentials(db, "imported");
    expect(rehashed?.passwordHash).toStartWith("$argon2id$v=19$m=64,t=1,p=1$");
    expect(rehashed?.user.passwordChangedAt).toBe(T0);
    expect((await checkUserPassword(db, "imported", "Imported-Pa55!", FAST)).ok).toBe(true);
  });

  test("a hash with old argon2 parameters is replaced", async () => {
    const old = await hashPassword(PASSWORD, { ...FAST, argon2MemoryKib: 32 });
    createUserWithPasswordHash(db, { username: "olduser", role: "user", passwordHash: old });
    expect((await checkUserPassword(db, "olduser", PASSWORD, FAST)).ok).toBe(true);
    expect(getUserCredentials(db, "olduser")?.passwordHash).toStartWith("$argon2id$v=19$m=64,t=1,p=1$");
  });
});
