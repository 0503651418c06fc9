import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { jwt } from "@elysiajs/jwt";
import { eq } from "drizzle-orm";
import { Elysia } from "elysia";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSessionStore, type SessionSettings, type SessionStore } from "../../src/auth/sessions.ts";
import { sessions, users } from "../../src/auth/tables.ts";
import { applyMigrations, openDatabase, type OpenDatabase } from "../../src/db/index.ts";

const KEY = "k".repeat(43);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const SETTINGS: SessionSettings = { idleMs: 12 * HOUR, absoluteMs: 7 * 24 * HOUR, rememberMs: 30 * 24 * HOUR, adminIdleMs: 30 * MINUTE, stepUpMs: 5 * MINUTE };
const T0 = 1_796_044_000_000;

let dir: string;
let database: OpenDatabase;
let store: SessionStore;

function addUser(id: string, role: "owner" | "admin" | "user" = "user") {
  database.db.insert(users).values({ id, username: id, usernameKey: id, passwordHash: "x", role, createdAt: T0, passwordChangedAt: T0 }).run();
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "mss-sessions-"));
  database = openDatabase(dir);
  applyMigrations(database.sqlite);
  store = createSessionStore(database.db, KEY, SETTINGS);
  addUser("alice");
  addUser("boss", "admin");
});
afterEach(() => {
  database.close();
  rmSync(dir, { recursive: true, force: true });
});

const issue = (userId = "alice", rememberMe = false, now = T0) => store.issue({ userId, rememberMe, clientIp: "127.0.0.1", userAgent: "test", now });

describe("issuing and checking", () => {
  test("a fresh session checks out with the user's identity; remember-me lengthens it and sets a cookie lifetime", async () => {
    const plain = await issue();
    expect(plain.cookieMaxAgeSeconds).toBeNull();
    expect(plain.expiresAt).toBe(T0 + SETTINGS.absoluteMs);
    const result = await store.check(plain.token, T0 + 1000);
    expect(result).toMatchObject({ ok: true, session: { userId: "alice", username: "alice", role: "user", jti: plain.jti } });
    const remembered = await issue("alice", true);
    expect(remembered.expiresAt).toBe(T0 + SETTINGS.rememberMs);
    expect(remembered.cookieMaxAgeSeconds).toBe(SETTINGS.rememberMs / 1000);
  });

  test("forged, tampered, alg:none and garbage tokens are invalid", async () => {
    const real = await issue();
    const other = new Elysia().use(jwt({ name: "j", secret: "z".repeat(43), alg: "HS256" })).decorator.j;
    const forged = await other.sign({ sub: "alice", jti: real.jti, exp: Math.floor((T0 + HOUR) / 1000) });
    const [head, , signature] = real.token.split(".");
    const tampered = `${head}.${Buffer.from(JSON.stringify({ sub: "boss", jti: real.jti, exp: 9_999_999_999 })).toString("base64url")}.${signature}`;
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString("base64url")}.${real.token.split(".")[1]}.`;
    for (const token of [forged, tampered, none, "not-a-jwt", ""]) expect(await store.check(token, T0)).toEqual({ ok: false, reason: "invalid" });
  });

  test("exactly one algorithm: HS512, RS256 and key hints in the header (kid, jku, jwk) get nowhere (checklist 5.4.29)", async () => {
    const real = await issue();
    const payload = real.token.split(".")[1]!;
    const sign = (header: object) => {
      const head = Buffer.from(JSON.stringify(header)).toString("base64url");
      const mac = new Bun.CryptoHasher("sha256", KEY).update(`${head}.${payload}`).digest("base64url");
      return `${head}.${payload}.${mac}`;
    };
    // A correct HS256 signature is accepted whatever hints ride along; they choose no key.
    expect((await store.check(sign({ alg: "HS256", typ: "JWT", kid: "../../etc/passwd", jku: "http://evil.example/keys" }), T0)).ok).toBe(true);
    for (const header of [{ alg: "HS512", typ: "JWT" }, { alg: "RS256", typ: "JWT" }, { alg: "none" }]) {
      expect(await store.check(sign(header), T0)).toEqual({ ok: false, reason: "invalid" });
    }
  });

  test("a token naming another user's session is invalid", async () => {
    const bossSession = await issue("boss");
    const signer = new Elysia().use(jwt({ name: "j", secret: KEY, alg: "HS256" })).decorator.j;
    const crossed = await signer.sign({ sub: "alice", jti: bossSession.jti, exp: Math.floor((T0 + HOUR) / 1000) });
    expect(await store.check(crossed, T0)).toEqual({ ok: false, reason: "invalid" });
  });
});

describe("ending sessions", () => {
  test("revocation takes effect at once, even for a token whose signature was already verified", async () => {
    const { token, jti } = await issue();
    expect((await store.check(token, T0)).ok).toBe(true);
    expect(store.revoke(jti, T0 + 1)).toBe(true);
    expect(await store.check(token, T0 + 2)).toEqual({ ok: false, reason: "revoked" });
    expect(store.revoke(jti, T0 + 3)).toBe(false);
  });

  test("revoking all of a user's sessions can spare the current one", async () => {
    const current = await issue();
    const other = await issue();
    const bosses = await issue("boss");
    expect(store.revokeAllForUser("alice", T0 + 1, current.jti)).toBe(1);
    expect((await store.check(current.token, T0 + 2)).ok).toBe(true);
    expect(await store.check(other.token, T0 + 2)).toEqual({ ok: false, reason: "revoked" });
    expect((await store.check(bosses.token, T0 + 2)).ok).toBe(true);
  });

  test("the absolute lifetime ends a session", async () => {
    const { token } = await issue();
    expect(await store.check(token, T0 + SETTINGS.absoluteMs + 1)).toEqual({ ok: false, reason: "expired" });
  });

  test("idle sessions end; owner/admin sessions idle out sooner; activity keeps a session alive", async () => {
    const user = await issue();
    const admin = await issue("boss");
    expect((await store.check(user.token, T0 + 31 * MINUTE)).ok).toBe(true);
    expect(await store.check(admin.token, T0 + 31 * MINUTE)).toEqual({ ok: false, reason: "idle" });
    // Touched at +31 min (more than a minute after the last write), the user's session lives on.
    expect((await store.check(user.token, T0 + 31 * MINUTE + 12 * HOUR)).ok).toBe(true);
    expect(await store.check(user.token, T0 + 31 * MINUTE + 24 * HOUR + 2 * MINUTE)).toEqual({ ok: false, reason: "idle" });
  });

  test("last-seen is written at most once a minute", async () => {
    const { token, jti } = await issue();
    await store.check(token, T0 + 30_000);
    const lastSeen = () => database.db.select().from(sessions).where(eq(sessions.jti, jti)).get()!.lastSeenAt;
    expect(lastSeen()).toBe(T0);
    await store.check(token, T0 + 61_000);
    expect(lastSeen()).toBe(T0 + 61_000);
  });

  test("a disabled user's sessions stop working", async () => {
    const { token } = await issue();
    database.db.update(users).set({ disabled: true }).where(eq(users.id, "alice")).run();
    expect(await store.check(token, T0 + 1)).toEqual({ ok: false, reason: "disabled" });
  });
});

test("listing shows only live sessions of the user; step-up is fresh for its window; prune removes long-ended rows", async () => {
  const a = await issue();
  const b = await issue();
  await issue("boss");
  store.revoke(b.jti, T0 + 1);
  expect(store.listForUser("alice", T0 + 2).map((s) => s.jti)).toEqual([a.jti]);

  const checked = await store.check(a.token, T0 + 2);
  if (!checked.ok) throw new Error("expected a live session");
  expect(store.stepUpFresh(a.jti, T0 + 2)).toBe(false);
  store.recordStepUp(a.jti, T0 + 10);
  const stepped = await store.check(a.token, T0 + 20);
  if (!stepped.ok) throw new Error("expected a live session");
  expect(store.stepUpFresh(a.jti, T0 + 20)).toBe(true);
  expect(store.stepUpFresh(a.jti, T0 + 10 + SETTINGS.stepUpMs + 1)).toBe(false);

  expect(store.prune(T0 + 2 * 24 * HOUR)).toBe(1); // the revoked one
});
