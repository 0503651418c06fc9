import { afterEach, beforeEach, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApiTokenStore } from "../../src/auth/api-tokens.ts";
import { cookieValue, createIdentityResolver, SESSION_COOKIE } from "../../src/auth/identity.ts";
import { createSessionStore } from "../../src/auth/sessions.ts";
import { users } from "../../src/auth/tables.ts";
import { createTicketStore } from "../../src/auth/tickets.ts";
import { applyMigrations, openDatabase, type OpenDatabase } from "../../src/db/index.ts";

const T0 = 1_796_044_000_000;
const HOUR = 3600_000;
let dir: string;
let database: OpenDatabase;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "mss-identity-"));
  database = openDatabase(dir);
  applyMigrations(database.sqlite);
  database.db.insert(users).values({ id: "u1", username: "alice", usernameKey: "alice", passwordHash: "x", role: "power", createdAt: T0, passwordChangedAt: T0 }).run();
});
afterEach(() => {
  database.close();
  rmSync(dir, { recursive: true, force: true });
});

function stores() {
  const sessions = createSessionStore(database.db, "s".repeat(43), { idleMs: 12 * HOUR, absoluteMs: 7 * 24 * HOUR, rememberMs: 30 * 24 * HOUR, adminIdleMs: HOUR / 2, stepUpMs: 300_000 });
  return { sessions, apiTokens: createApiTokenStore(database.db), tickets: createTicketStore(database.db) };
}

const request = (headers: Record<string, string>) => new Request("http://gw/api/prompt", { headers });
const opts = (search = "", ticketPurpose: "ws" | "view" | null = null) => ({ ticketPurpose, search, clientIp: "127.0.0.1", now: T0 + 1 });

test("cookie values are read by name, exactly", () => {
  expect(cookieValue("a=1; mss_session=abc; b=2", SESSION_COOKIE)).toBe("abc");
  expect(cookieValue("xmss_session=evil", SESSION_COOKIE)).toBeNull();
  expect(cookieValue(null, SESSION_COOKIE)).toBeNull();
});

test("no credential is anonymous; a session cookie, a bearer token and a ticket each identify the user", async () => {
  const s = stores();
  const resolve = createIdentityResolver(s);
  expect(await resolve(request({}), opts())).toEqual({ kind: "anonymous", problem: null });

  const session = await s.sessions.issue({ userId: "u1", rememberMe: false, clientIp: null, userAgent: null, now: T0 });
  expect(await resolve(request({ cookie: `${SESSION_COOKIE}=${session.token}` }), opts())).toEqual({ kind: "user", userId: "u1", username: "alice", role: "power", credential: { kind: "session", jti: session.jti } });

  const token = s.apiTokens.create({ userId: "u1", label: "cli", hours: 1, scopes: ["run"], allowNonExpiring: false, now: T0 });
  expect(await resolve(request({ authorization: `Bearer ${token.token}` }), opts())).toMatchObject({ kind: "user", userId: "u1", credential: { kind: "api-token", tokenId: token.id, scopes: ["run"] } });

  const { ticket } = s.tickets.issue({ userId: "u1", purpose: "ws", sessionJti: session.jti, apiTokenId: null, now: T0 });
  expect(await resolve(request({}), opts(`?clientId=x&ticket=${ticket}`, "ws"))).toMatchObject({ kind: "user", userId: "u1", credential: { kind: "ticket", sessionJti: session.jti } });
  // Used once: the second time it is nothing.
  expect(await resolve(request({}), opts(`?ticket=${ticket}`, "ws"))).toEqual({ kind: "anonymous", problem: "invalid" });
});

test("a bad bearer token is an error, never a fallback to the cookie", async () => {
  const s = stores();
  const resolve = createIdentityResolver(s);
  const session = await s.sessions.issue({ userId: "u1", rememberMe: false, clientIp: null, userAgent: null, now: T0 });
  const result = await resolve(request({ authorization: "Bearer mss_wrong", cookie: `${SESSION_COOKIE}=${session.token}` }), opts());
  expect(result).toEqual({ kind: "anonymous", problem: "invalid" });
  expect(await resolve(request({ authorization: "Basic abc" }), opts())).toEqual({ kind: "anonymous", problem: "invalid" });
});

test("a ticket dies with the session it came from, and tickets are ignored where none is expected", async () => {
  const s = stores();
  const resolve = createIdentityResolver(s);
  const session = await s.sessions.issue({ userId: "u1", rememberMe: false, clientIp: null, userAgent: null, now: T0 });
  const first = s.tickets.issue({ userId: "u1", purpose: "view", sessionJti: session.jti, apiTokenId: null, now: T0 });
  expect(await resolve(request({}), opts(`?ticket=${first.ticket}`, null))).toEqual({ kind: "anonymous", problem: null });
  s.sessions.revoke(session.jti, T0);
  expect(await resolve(request({}), opts(`?ticket=${first.ticket}`, "view"))).toEqual({ kind: "anonymous", problem: "revoked" });
  database.db.update(users).set({ disabled: true }).where(eq(users.id, "u1")).run();
  const tokenTicket = s.tickets.issue({ userId: "u1", purpose: "view", sessionJti: null, apiTokenId: null, now: T0 });
  expect(await resolve(request({}), opts(`?ticket=${tokenTicket.ticket}`, "view"))).toEqual({ kind: "anonymous", problem: "disabled" });
});
