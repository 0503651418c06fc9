import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiTokenError, createApiTokenStore, hashToken, type ApiTokenStore } from "../../src/auth/api-tokens.ts";
import { apiTokens, users } from "../../src/auth/tables.ts";
import { createTicketStore, MFA_TICKET_LIFETIME_MS, TICKET_LIFETIME_MS, type TicketStore } from "../../src/auth/tickets.ts";
import { applyMigrations, openDatabase, type OpenDatabase } from "../../src/db/index.ts";

const T0 = 1_796_044_000_000;
let dir: string;
let database: OpenDatabase;
let tokens: ApiTokenStore;
let tickets: TicketStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "mss-tokens-"));
  database = openDatabase(dir);
  applyMigrations(database.sqlite);
  for (const id of ["alice", "bob"]) {
    database.db.insert(users).values({ id, username: id, usernameKey: id, passwordHash: "x", role: "user", createdAt: T0, passwordChangedAt: T0 }).run();
  }
  tokens = createApiTokenStore(database.db);
  tickets = createTicketStore(database.db);
});
afterEach(() => {
  database.close();
  rmSync(dir, { recursive: true, force: true });
});

const create = (overrides: Partial<Parameters<ApiTokenStore["create"]>[0]> = {}) =>
  tokens.create({ userId: "alice", label: "phone", hours: 24, scopes: ["read", "run"], allowNonExpiring: false, now: T0, ...overrides });

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof ApiTokenError) return error.code;
    throw error;
  }
  throw new Error("expected an ApiTokenError");
}

describe("API tokens", () => {
  test("a token is mss_ + 256 bits, stored only as its SHA-256, and checks out with its scopes", () => {
    const { token, id } = create();
    expect(token).toMatch(/^mss_[A-Za-z0-9_-]{43}$/);
    const row = database.db.select().from(apiTokens).where(eq(apiTokens.id, id)).get()!;
    expect(row.tokenHash).toBe(hashToken(token));
    expect(JSON.stringify(row)).not.toContain(token.slice(4));
    expect(tokens.check(token, T0 + 1, "10.0.0.1")).toEqual({ ok: true, tokenId: id, userId: "alice", username: "alice", role: "user", scopes: ["read", "run"] });
    expect(database.db.select().from(apiTokens).where(eq(apiTokens.id, id)).get()!.lastUsedIp).toBe("10.0.0.1");
  });

  test("bad input is refused and stores nothing", () => {
    expect(codeOf(() => create({ label: "  " }))).toBe("BAD_LABEL");
    expect(codeOf(() => create({ hours: 8761 }))).toBe("BAD_EXPIRY");
    expect(codeOf(() => create({ hours: 1.5 }))).toBe("BAD_EXPIRY");
    expect(codeOf(() => create({ hours: 0 }))).toBe("NON_EXPIRING_NOT_ALLOWED");
    expect(codeOf(() => create({ scopes: ["root"] }))).toBe("BAD_SCOPE");
    expect(codeOf(() => create({ scopes: [] }))).toBe("BAD_SCOPE");
    expect(database.db.select().from(apiTokens).all()).toEqual([]);
    expect(create({ hours: 0, allowNonExpiring: true }).expiresAt).toBeNull();
  });

  test("expired, revoked, unknown, malformed tokens and disabled users are refused", () => {
    const { token, id } = create({ hours: 1 });
    expect(tokens.check(token, T0 + 3600_000, null)).toEqual({ ok: false, reason: "expired" });
    const second = create();
    database.db.update(users).set({ disabled: true }).where(eq(users.id, "alice")).run();
    expect(tokens.check(second.token, T0, null)).toEqual({ ok: false, reason: "disabled" });
    database.db.update(users).set({ disabled: false }).where(eq(users.id, "alice")).run();
    expect(tokens.revoke("bob", second.id, T0)).toBe(false); // not Bob's to revoke
    expect(tokens.revoke("alice", second.id, T0)).toBe(true);
    expect(tokens.check(second.token, T0, null)).toEqual({ ok: false, reason: "revoked" });
    expect(tokens.check(`mss_${"A".repeat(43)}`, T0, null)).toEqual({ ok: false, reason: "invalid" });
    expect(tokens.check("eyJhbGciOiJIUzI1NiJ9.e30.x", T0, null)).toEqual({ ok: false, reason: "invalid" });
    expect(tokens.listForUser("alice").map((t) => t.id)).toEqual([id]);
  });
});

describe("tickets", () => {
  test("a ticket works once, for its purpose, within 60 seconds", () => {
    const { ticket } = tickets.issue({ userId: "alice", purpose: "ws", sessionJti: "j1", apiTokenId: null, now: T0 });
    expect(tickets.redeem(ticket, "view", T0 + 1)).toEqual({ ok: false, reason: "invalid" });
    expect(tickets.redeem(ticket, "ws", T0 + 1)).toEqual({ ok: true, userId: "alice", sessionJti: "j1", apiTokenId: null });
    expect(tickets.redeem(ticket, "ws", T0 + 2)).toEqual({ ok: false, reason: "invalid" });
    const late = tickets.issue({ userId: "alice", purpose: "view", sessionJti: null, apiTokenId: "t1", now: T0 });
    expect(tickets.redeem(late.ticket, "view", T0 + TICKET_LIFETIME_MS)).toEqual({ ok: false, reason: "invalid" });
    expect(tickets.redeem("mst_garbage", "ws", T0)).toEqual({ ok: false, reason: "invalid" });
  });

  test("pruning removes long-expired tickets", () => {
    tickets.issue({ userId: "alice", purpose: "ws", sessionJti: null, apiTokenId: null, now: T0 });
    expect(tickets.prune(T0 + TICKET_LIFETIME_MS)).toBe(0);
    expect(tickets.prune(T0 + TICKET_LIFETIME_MS + MFA_TICKET_LIFETIME_MS + 1)).toBe(1);
  });

  test("a second-step (mfa) ticket lives five minutes", () => {
    const { ticket } = tickets.issue({ userId: "alice", purpose: "mfa", sessionJti: null, apiTokenId: null, now: T0 });
    expect(tickets.redeem(ticket, "mfa", T0 + MFA_TICKET_LIFETIME_MS - 1).ok).toBe(true);
  });
});
