/**
 * Long-lived API tokens for scripts and apps: `mss_` + 256 random bits, shown once, stored only
 * as SHA-256 (a token has full entropy, so a fast hash is enough and keeps the per-request check
 * cheap), with a label, an expiry, scopes and last use. Accepted as `Authorization: Bearer`.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import { apiTokens, users } from "./tables.ts";

export const TOKEN_PREFIX = "mss_";
export const SCOPES = ["read", "run", "admin"] as const;
export type Scope = (typeof SCOPES)[number];
export const MAX_TOKEN_HOURS = 8760;

export class ApiTokenError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiTokenError";
  }
}

export type TokenCheck =
  | { ok: true; tokenId: string; userId: string; username: string; role: string; scopes: Scope[] }
  | { ok: false; reason: "invalid" | "expired" | "revoked" | "disabled" };

const TOKEN_SHAPE = /^mss_[A-Za-z0-9_-]{43}$/;
const LAST_USED_INTERVAL_MS = 60_000;

export function hashToken(token: string): string {
  return new Bun.CryptoHasher("sha256").update(token).digest("hex");
}

function randomToken(prefix: string): string {
  return prefix + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

function parseScopes(text: string): Scope[] {
  const value = JSON.parse(text) as unknown;
  return Array.isArray(value) ? value.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s as string)) : [];
}

export function createApiTokenStore(db: Db) {
  const findToken = db
    .select({
      id: apiTokens.id,
      userId: apiTokens.userId,
      scopes: apiTokens.scopes,
      expiresAt: apiTokens.expiresAt,
      revokedAt: apiTokens.revokedAt,
      lastUsedAt: apiTokens.lastUsedAt,
      username: users.username,
      role: users.role,
      disabled: users.disabled,
    })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(eq(apiTokens.tokenHash, sql.placeholder("hash")))
    .prepare();

  return {
    /**
     * Creates a token and returns it in clear, the only time it exists so. `hours` 0 means
     * "never expires", allowed only when `allowNonExpiring` (the role's can_have_non_expiring_jwt).
     */
    create(input: { userId: string; label: string; hours: number; scopes: readonly string[]; allowNonExpiring: boolean; now: number }) {
      const label = input.label.trim();
      if (label.length === 0 || label.length > 100) throw new ApiTokenError("BAD_LABEL", "Give the token a label of 1 to 100 characters.");
      if (!Number.isInteger(input.hours) || input.hours < 0 || input.hours > MAX_TOKEN_HOURS) {
        throw new ApiTokenError("BAD_EXPIRY", `The lifetime must be 1 to ${MAX_TOKEN_HOURS} hours (0 = never expires).`);
      }
      if (input.hours === 0 && !input.allowNonExpiring) throw new ApiTokenError("NON_EXPIRING_NOT_ALLOWED", "Your role may not create tokens that never expire.");
      const scopes = [...new Set(input.scopes)];
      if (scopes.length === 0 || scopes.some((s) => !(SCOPES as readonly string[]).includes(s))) {
        throw new ApiTokenError("BAD_SCOPE", `Scopes are one or more of: ${SCOPES.join(", ")}.`);
      }
      const token = randomToken(TOKEN_PREFIX);
      const id = crypto.randomUUID();
      const expiresAt = input.hours === 0 ? null : input.now + input.hours * 3600_000;
      db.insert(apiTokens)
        .values({ id, userId: input.userId, tokenHash: hashToken(token), label, scopes: JSON.stringify(scopes), createdAt: input.now, expiresAt })
        .run();
      return { token, id, expiresAt, scopes: scopes as Scope[] };
    },

    /** Checks a presented token; records its use (at most once a minute). */
    check(token: string, now: number, clientIp: string | null): TokenCheck {
      if (!TOKEN_SHAPE.test(token)) return { ok: false, reason: "invalid" };
      const row = findToken.get({ hash: hashToken(token) });
      if (!row) return { ok: false, reason: "invalid" };
      if (row.revokedAt !== null) return { ok: false, reason: "revoked" };
      if (row.expiresAt !== null && row.expiresAt <= now) return { ok: false, reason: "expired" };
      if (row.disabled) return { ok: false, reason: "disabled" };
      if (row.lastUsedAt === null || now - row.lastUsedAt >= LAST_USED_INTERVAL_MS) {
        db.update(apiTokens).set({ lastUsedAt: now, lastUsedIp: clientIp }).where(eq(apiTokens.id, row.id)).run();
      }
      return { ok: true, tokenId: row.id, userId: row.userId, username: row.username, role: row.role, scopes: parseScopes(row.scopes) };
    },

    /** For open WebSockets: is the token still unrevoked, unexpired, and its user enabled? */
    isLive(tokenId: string, now: number): boolean {
      const row = db
        .select({ expiresAt: apiTokens.expiresAt, revokedAt: apiTokens.revokedAt, disabled: users.disabled })
        .from(apiTokens)
        .innerJoin(users, eq(users.id, apiTokens.userId))
        .where(eq(apiTokens.id, tokenId))
        .get();
      return row !== undefined && row.revokedAt === null && (row.expiresAt === null || row.expiresAt > now) && !row.disabled;
    },

    listForUser(userId: string) {
      return db
        .select({ id: apiTokens.id, label: apiTokens.label, scopes: apiTokens.scopes, createdAt: apiTokens.createdAt, expiresAt: apiTokens.expiresAt, lastUsedAt: apiTokens.lastUsedAt, lastUsedIp: apiTokens.lastUsedIp })
        .from(apiTokens)
        .where(and(eq(apiTokens.userId, userId), isNull(apiTokens.revokedAt)))
        .all()
        .map((row) => ({ ...row, scopes: parseScopes(row.scopes) }));
    },

    /** Every unrevoked, unexpired token of every user (the administrators' overview), newest first; never the hash. */
    listLive(now: number) {
      return db
        .select({
          id: apiTokens.id,
          userId: apiTokens.userId,
          username: users.username,
          role: users.role,
          label: apiTokens.label,
          scopes: apiTokens.scopes,
          createdAt: apiTokens.createdAt,
          expiresAt: apiTokens.expiresAt,
          lastUsedAt: apiTokens.lastUsedAt,
          lastUsedIp: apiTokens.lastUsedIp,
        })
        .from(apiTokens)
        .innerJoin(users, eq(users.id, apiTokens.userId))
        .where(and(isNull(apiTokens.revokedAt), sql`(${apiTokens.expiresAt} IS NULL OR ${apiTokens.expiresAt} > ${now})`))
        .orderBy(sql`${apiTokens.createdAt} DESC`, apiTokens.id)
        .all()
        .map((row) => ({ ...row, scopes: parseScopes(row.scopes) }));
    },

    /** Revokes one of the user's own tokens; false when there is no such live token. */
    revoke(userId: string, tokenId: string, now: number): boolean {
      return (
        db
          .update(apiTokens)
          .set({ revokedAt: now })
          .where(and(eq(apiTokens.id, tokenId), eq(apiTokens.userId, userId), isNull(apiTokens.revokedAt)))
          .returning({ id: apiTokens.id })
          .all().length > 0
      );
    },

    revokeAllForUser(userId: string, now: number): number {
      return db.update(apiTokens).set({ revokedAt: now }).where(and(eq(apiTokens.userId, userId), isNull(apiTokens.revokedAt))).returning({ id: apiTokens.id }).all().length;
    },
  };
}

export type ApiTokenStore = ReturnType<typeof createApiTokenStore>;
