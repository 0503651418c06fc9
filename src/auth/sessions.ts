/**
 * Browser sessions. The cookie holds a JWT (HS256, signed with @elysiajs/jwt) whose `jti` must
 * name a stored, unrevoked, unexpired session on every request: logout, a password change or an
 * admin action revoke at once, on every gateway instance sharing the database.
 *
 * Verifying a signature costs tens of microseconds, so tokens whose signature was checked are
 * remembered in a bounded cache (the signature of a given string never changes); the stored
 * session row is still read on every request, because revocation must take effect at once.
 */
import { jwt } from "@elysiajs/jwt";
import { and, eq, isNull, sql } from "drizzle-orm";
import { Elysia } from "elysia";
import type { Db } from "../db/index.ts";
import { sessions, users } from "./tables.ts";

export type Role = "owner" | "admin" | "power" | "user" | "guest";

export interface SessionSettings {
  /** A session unused this long ends (WebSocket activity counts). */
  idleMs: number;
  /** Absolute lifetime without and with remember-me. */
  absoluteMs: number;
  rememberMs: number;
  /** Owner/admin sessions idle out sooner. */
  adminIdleMs: number;
  /** How long a password re-entry allows admin writes. */
  stepUpMs: number;
}

export interface SessionIdentity {
  jti: string;
  userId: string;
  username: string;
  role: Role;
  createdAt: number;
  expiresAt: number;
  stepUpAt: number | null;
}

export type SessionCheck =
  | { ok: true; session: SessionIdentity }
  | { ok: false; reason: "invalid" | "expired" | "revoked" | "idle" | "disabled" };

export interface IssuedSession {
  token: string;
  jti: string;
  expiresAt: number;
  /** Cookie Max-Age in seconds for a remembered session; null for a browser-session cookie. */
  cookieMaxAgeSeconds: number | null;
}

/** Last-seen updates are written at most this often per session (one write a minute, not one per request). */
const TOUCH_INTERVAL_MS = 60_000;
/** Verified tokens remembered; beyond it the oldest are forgotten (and simply verified again). */
const VERIFIED_CACHE_SIZE = 10_000;

interface VerifiedClaims {
  sub: string;
  jti: string;
  exp: number; // seconds
}

/** The JOSE header the gateway writes: `{"alg":"HS256"}` (a `typ` of JWT is tolerated). */
function hasExpectedHeader(token: string): boolean {
  const dot = token.indexOf(".");
  if (dot <= 0) return false;
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, dot), "base64url").toString("utf8")) as Record<string, unknown>;
    return header.alg === "HS256" && (header.typ === undefined || header.typ === "JWT") && header.crit === undefined;
  } catch {
    return false;
  }
}

function isAdminRole(role: Role): boolean {
  return role === "owner" || role === "admin";
}

export function createSessionStore(db: Db, signingKey: string, settings: SessionSettings) {
  const signer = new Elysia().use(jwt({ name: "sessionJwt", secret: signingKey, alg: "HS256" })).decorator.sessionJwt;
  const verified = new Map<string, VerifiedClaims>();

  const findSession = db
    .select({
      jti: sessions.jti,
      userId: sessions.userId,
      createdAt: sessions.createdAt,
      lastSeenAt: sessions.lastSeenAt,
      expiresAt: sessions.expiresAt,
      stepUpAt: sessions.stepUpAt,
      revokedAt: sessions.revokedAt,
      username: users.username,
      role: users.role,
      disabled: users.disabled,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.jti, sql.placeholder("jti")))
    .prepare();

  async function claimsOf(token: string): Promise<VerifiedClaims | null> {
    const cached = verified.get(token);
    if (cached) return cached;
    // Only what the gateway issues: HS256, nothing else the library would also accept (HS384/512).
    if (!hasExpectedHeader(token)) return null;
    const payload = await signer.verify(token);
    if (!payload || typeof payload.sub !== "string" || typeof payload.jti !== "string" || typeof payload.exp !== "number") return null;
    const claims = { sub: payload.sub, jti: payload.jti, exp: payload.exp };
    if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value as string);
    verified.set(token, claims);
    return claims;
  }

  return {
    async issue(input: { userId: string; rememberMe: boolean; clientIp: string | null; userAgent: string | null; now: number }): Promise<IssuedSession> {
      const jti = crypto.randomUUID();
      const lifetime = input.rememberMe ? settings.rememberMs : settings.absoluteMs;
      const expiresAt = input.now + lifetime;
      db.insert(sessions)
        .values({
          jti,
          userId: input.userId,
          createdAt: input.now,
          lastSeenAt: input.now,
          expiresAt,
          rememberMe: input.rememberMe,
          clientIp: input.clientIp,
          userAgent: input.userAgent?.slice(0, 512) ?? null,
        })
        .run();
      const token = await signer.sign({ sub: input.userId, jti, exp: Math.floor(expiresAt / 1000) });
      return { token, jti, expiresAt, cookieMaxAgeSeconds: input.rememberMe ? Math.floor(lifetime / 1000) : null };
    },

    /** Checks a cookie's token; on success also records activity (throttled). */
    async check(token: string, now: number): Promise<SessionCheck> {
      const claims = await claimsOf(token);
      if (claims === null) return { ok: false, reason: "invalid" };
      if (claims.exp * 1000 <= now) return { ok: false, reason: "expired" };
      const row = findSession.get({ jti: claims.jti });
      if (!row || row.userId !== claims.sub) return { ok: false, reason: "invalid" };
      if (row.revokedAt !== null) return { ok: false, reason: "revoked" };
      if (row.expiresAt <= now) return { ok: false, reason: "expired" };
      if (row.disabled) return { ok: false, reason: "disabled" };
      const idleLimit = isAdminRole(row.role) ? settings.adminIdleMs : settings.idleMs;
      if (now - row.lastSeenAt > idleLimit) return { ok: false, reason: "idle" };
      if (now - row.lastSeenAt >= TOUCH_INTERVAL_MS) this.touch(row.jti, now);
      return {
        ok: true,
        session: { jti: row.jti, userId: row.userId, username: row.username, role: row.role, createdAt: row.createdAt, expiresAt: row.expiresAt, stepUpAt: row.stepUpAt },
      };
    },

    /**
     * For connections that outlive the request that opened them (WebSockets): is the session
     * still unrevoked, unexpired, and its user enabled? An open socket is activity, so the idle
     * limit does not apply here; the caller records the activity with `touch`.
     */
    isLive(jti: string, now: number): boolean {
      const row = findSession.get({ jti });
      return row !== undefined && row.revokedAt === null && row.expiresAt > now && !row.disabled;
    },

    /** Activity that does not come as an HTTP request (a WebSocket message) keeps the session alive too. */
    touch(jti: string, now: number): void {
      db.update(sessions).set({ lastSeenAt: now }).where(and(eq(sessions.jti, jti), isNull(sessions.revokedAt))).run();
    },

    revoke(jti: string, now: number): boolean {
      const revoked = db.update(sessions).set({ revokedAt: now }).where(and(eq(sessions.jti, jti), isNull(sessions.revokedAt))).returning({ jti: sessions.jti }).all();
      return revoked.length > 0;
    },

    /** Ends every session of a user (password change, disable, admin action); returns how many. */
    revokeAllForUser(userId: string, now: number, exceptJti?: string): number {
      const own = and(eq(sessions.userId, userId), isNull(sessions.revokedAt));
      const where = exceptJti === undefined ? own : and(own, sql`${sessions.jti} <> ${exceptJti}`);
      return db.update(sessions).set({ revokedAt: now }).where(where).returning({ jti: sessions.jti }).all().length;
    },

    listForUser(userId: string, now: number) {
      return db
        .select({ jti: sessions.jti, createdAt: sessions.createdAt, lastSeenAt: sessions.lastSeenAt, expiresAt: sessions.expiresAt, clientIp: sessions.clientIp, userAgent: sessions.userAgent })
        .from(sessions)
        .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), sql`${sessions.expiresAt} > ${now}`))
        .all();
    },

    /**
     * Every session that would be accepted now, of every user (the administrators' overview):
     * unrevoked, unexpired, within its idle limit, its user enabled. Most recently used first.
     */
    listLive(now: number) {
      const rows = db
        .select({
          jti: sessions.jti,
          userId: sessions.userId,
          username: users.username,
          role: users.role,
          createdAt: sessions.createdAt,
          lastSeenAt: sessions.lastSeenAt,
          expiresAt: sessions.expiresAt,
          rememberMe: sessions.rememberMe,
          clientIp: sessions.clientIp,
          userAgent: sessions.userAgent,
        })
        .from(sessions)
        .innerJoin(users, eq(users.id, sessions.userId))
        .where(and(isNull(sessions.revokedAt), sql`${sessions.expiresAt} > ${now}`, eq(users.disabled, false)))
        .orderBy(sql`${sessions.lastSeenAt} DESC`, sessions.jti)
        .all();
      return rows.filter((row) => now - row.lastSeenAt <= (isAdminRole(row.role) ? settings.adminIdleMs : settings.idleMs));
    },

    /** Name, role and state of a user, for identities that do not come through a session row. */
    userSummary(userId: string): { username: string; role: Role; disabled: boolean } | null {
      return db.select({ username: users.username, role: users.role, disabled: users.disabled }).from(users).where(eq(users.id, userId)).get() ?? null;
    },

    /**
     * The user re-entered their password: the session continues under a new id (the old one is
     * revoked), marked for admin writes for `stepUpMs`. An id someone learnt before the step-up
     * gains nothing. Same absolute end as before. Null when the session is gone.
     */
    async stepUp(jti: string, now: number): Promise<IssuedSession | null> {
      const old = db.select().from(sessions).where(and(eq(sessions.jti, jti), isNull(sessions.revokedAt))).get();
      if (old === undefined) return null;
      const fresh = crypto.randomUUID();
      const rotated = db.transaction((tx) => {
        const revoked = tx.update(sessions).set({ revokedAt: now }).where(and(eq(sessions.jti, jti), isNull(sessions.revokedAt))).returning({ jti: sessions.jti }).all();
        if (revoked.length === 0) return false;
        tx.insert(sessions).values({ ...old, jti: fresh, lastSeenAt: now, stepUpAt: now, revokedAt: null }).run();
        return true;
      });
      if (!rotated) return null;
      verified.clear();
      const token = await signer.sign({ sub: old.userId, jti: fresh, exp: Math.floor(old.expiresAt / 1000) });
      return { token, jti: fresh, expiresAt: old.expiresAt, cookieMaxAgeSeconds: old.rememberMe ? Math.max(0, Math.floor((old.expiresAt - now) / 1000)) : null };
    },

    /** Marks a session for admin writes without a new id (the stores' own tests). */
    recordStepUp(jti: string, now: number): void {
      db.update(sessions).set({ stepUpAt: now }).where(eq(sessions.jti, jti)).run();
    },

    /** Whether the session's password re-entry is recent enough for an admin write. */
    stepUpFresh(jti: string, now: number): boolean {
      const row = db.select({ stepUpAt: sessions.stepUpAt }).from(sessions).where(and(eq(sessions.jti, jti), isNull(sessions.revokedAt))).get();
      return row !== undefined && row.stepUpAt !== null && now - row.stepUpAt <= settings.stepUpMs;
    },


    /** Deletes sessions that ended long ago (revoked or expired for over a day). */
    prune(now: number): number {
      const cutoff = now - 24 * 3600_000;
      return db
        .delete(sessions)
        .where(sql`(${sessions.revokedAt} IS NOT NULL AND ${sessions.revokedAt} < ${cutoff}) OR ${sessions.expiresAt} < ${cutoff}`)
        .returning({ jti: sessions.jti })
        .all().length;
    },
  };
}

export type SessionStore = ReturnType<typeof createSessionStore>;

const isoTime = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A session as the account and admin APIs show it (the original's `/me/sessions` fields, and where from). */
export function describeSession(session: { jti: string; createdAt: number; lastSeenAt: number; expiresAt: number; clientIp: string | null; userAgent: string | null }) {
  return {
    jti: session.jti,
    created_at_iso: isoTime(session.createdAt),
    last_used_at_iso: isoTime(session.lastSeenAt),
    exp_at_iso: isoTime(session.expiresAt),
    client_ip: session.clientIp,
    user_agent: session.userAgent,
  };
}
