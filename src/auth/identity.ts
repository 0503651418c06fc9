/**
 * Step 3 of the request flow: who is calling? A bearer API token, the session cookie, or (for
 * the WebSocket upgrade and `/view`, where browsers cannot send headers) a single-use ticket in
 * the query. Nothing found, or anything invalid, is anonymous; the policy decides what that may
 * do. Credentials are never logged.
 */
import type { ApiTokenStore, Scope } from "./api-tokens.ts";
import type { Role, SessionStore } from "./sessions.ts";
import type { TicketPurpose, TicketStore } from "./tickets.ts";

export const SESSION_COOKIE = "mss_session";
/**
 * The name over HTTPS: browsers only accept a `__Host-` cookie that is Secure, for Path=/ and
 * without Domain, so no sibling subdomain can plant or overwrite it. Plain-HTTP installations
 * (a LAN) cannot use it and keep the plain name.
 */
export const SECURE_SESSION_COOKIE = `__Host-${SESSION_COOKIE}`;

export type Credential =
  | { kind: "session"; jti: string }
  | { kind: "api-token"; tokenId: string; scopes: Scope[] }
  | { kind: "ticket"; sessionJti: string | null; apiTokenId: string | null; /** The token's scopes when it came from an API token. */ scopes: Scope[] | null };

export type Identity =
  | { kind: "anonymous"; problem: null | "invalid" | "expired" | "revoked" | "idle" | "disabled" }
  | { kind: "user"; userId: string; username: string; role: Role; credential: Credential };

const ANONYMOUS: Identity = { kind: "anonymous", problem: null };

/**
 * Whether the session cookie is what authenticates this request: it carries one and no bearer
 * token (which would take precedence). Such requests get the cross-site defences.
 */
export function authenticatedByCookie(request: Request): boolean {
  const cookie = request.headers.get("cookie");
  return cookie !== null && (cookie.includes(`${SESSION_COOKIE}=`) || cookie.includes(`${SECURE_SESSION_COOKIE}=`)) && !request.headers.has("authorization");
}

/** The value of one cookie, without parsing the whole header into an object. */
export function cookieValue(header: string | null, name: string): string | null {
  if (header === null) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

export interface IdentityStores {
  sessions: SessionStore;
  apiTokens: ApiTokenStore;
  tickets: TicketStore;
}

/**
 * How long a checked session or API token is taken as still valid without asking the database
 * again. Revocations made through this gateway clear the cache at once (`forget`); a revocation
 * made elsewhere (another instance sharing the database, the command line) is seen within this
 * time. It saves a database read on almost every request of a busy client.
 */
export const IDENTITY_CACHE_MS = 1000;
const IDENTITY_CACHE_SIZE = 10_000;

export interface IdentityResolver {
  /** Answers at once when nothing needs a signature check (cached or no credential), else later. */
  /** `clientIp` may be a function: the address is then worked out only when a check needs it (not for a cached credential). */
  (request: Request, options: { ticketPurpose: TicketPurpose | null; search: string; clientIp: string | (() => string); now: number }): Identity | Promise<Identity>;
  /** Drops every cached check: call after any revocation, disable or password change. */
  forget(): void;
}

export function createIdentityResolver(stores: IdentityStores, cacheMs = IDENTITY_CACHE_MS, allowQueryToken = false): IdentityResolver {
  const checked = new Map<string, { identity: Identity; until: number }>();

  /** Successful checks of long-lived credentials only; tickets are single-use and never cached. */
  function remember(credential: string, identity: Identity, now: number): Identity {
    if (cacheMs > 0 && identity.kind === "user") {
      if (checked.size >= IDENTITY_CACHE_SIZE) checked.delete(checked.keys().next().value as string);
      checked.set(credential, { identity, until: now + cacheMs });
    }
    return identity;
  }

  function cached(credential: string, now: number): Identity | null {
    const entry = checked.get(credential);
    if (entry === undefined) return null;
    if (entry.until > now) return entry.identity;
    checked.delete(credential);
    return null;
  }

  /** A fresh session check (its JWT signature is verified asynchronously), remembered under `key`. */
  function checkSession(token: string, key: string, now: number): Promise<Identity> {
    return stores.sessions.check(token, now).then((result): Identity => {
      if (!result.ok) return { kind: "anonymous", problem: result.reason };
      const { session } = result;
      return remember(key, { kind: "user", userId: session.userId, username: session.username, role: session.role, credential: { kind: "session", jti: session.jti } }, now);
    });
  }

  const resolveIdentity = function resolveIdentity(request: Request, options: { ticketPurpose: TicketPurpose | null; search: string; clientIp: string | (() => string); now: number }): Identity | Promise<Identity> {
    let authorization = request.headers.get("authorization");
    if (authorization === null && (options.search.includes("token") || options.search.includes("%"))) {
      // Long-lived credentials in URLs end up in logs and histories: only with the original's
      // `?token=` compatibility switched on, and otherwise refused outright (not ignored).
      const params = new URLSearchParams(options.search);
      const fromQuery = params.get("token") ?? params.get("access_token");
      if (fromQuery !== null) {
        if (!allowQueryToken) return { kind: "anonymous", problem: "invalid" };
        authorization = `Bearer ${fromQuery}`;
      }
    }
    if (authorization !== null) {
      // A bearer credential that fails is an error for the caller to see, never a fallback to
      // the cookie: scripts must learn that their token is wrong.
      const match = /^Bearer\s+(\S+)$/i.exec(authorization);
      if (!match) return { kind: "anonymous", problem: "invalid" };
      const token = match[1]!;
      // Cache keys say where the credential came from: a cookie value sent as a bearer token (or
      // the reverse) must be judged afresh, never by the other kind's cached answer.
      const hit = cached(`b:${token}`, options.now);
      if (hit !== null) return hit;
      // The session JWT itself, as the original's clients send it (`jwt_token` from /login).
      if (!token.startsWith("mss_")) return checkSession(token, `b:${token}`, options.now);
      const result = stores.apiTokens.check(token, options.now, typeof options.clientIp === "function" ? options.clientIp() : options.clientIp);
      if (!result.ok) return { kind: "anonymous", problem: result.reason };
      return remember(`b:${token}`, { kind: "user", userId: result.userId, username: result.username, role: result.role as Role, credential: { kind: "api-token", tokenId: result.tokenId, scopes: result.scopes } }, options.now);
    }

    if (options.ticketPurpose !== null && options.search.includes("ticket=")) {
      const ticket = new URLSearchParams(options.search).get("ticket");
      if (ticket !== null) {
        const redeemed = stores.tickets.redeem(ticket, options.ticketPurpose, options.now);
        if (!redeemed.ok) return { kind: "anonymous", problem: "invalid" };
        // The ticket is only as good as what it was exchanged for, now.
        return identityBehindTicket(redeemed, options.now);
      }
    }

    const cookieHeader = request.headers.get("cookie");
    const cookie = cookieValue(cookieHeader, SECURE_SESSION_COOKIE) ?? cookieValue(cookieHeader, SESSION_COOKIE);
    if (cookie === null) return ANONYMOUS;
    const hit = cached(`c:${cookie}`, options.now);
    if (hit !== null) return hit;
    return checkSession(cookie, `c:${cookie}`, options.now);
  } as IdentityResolver;
  resolveIdentity.forget = () => checked.clear();
  return resolveIdentity;

  function identityBehindTicket(redeemed: { userId: string; sessionJti: string | null; apiTokenId: string | null }, now: number): Identity {
    // One row each: the session (or token) the ticket came from must still be live.
    if (redeemed.sessionJti !== null && !stores.sessions.isLive(redeemed.sessionJti, now)) return { kind: "anonymous", problem: "revoked" };
    const token = redeemed.apiTokenId === null ? null : (stores.apiTokens.listForUser(redeemed.userId).find((t) => t.id === redeemed.apiTokenId) ?? null);
    if (redeemed.apiTokenId !== null && (token === null || !stores.apiTokens.isLive(redeemed.apiTokenId, now))) {
      return { kind: "anonymous", problem: "revoked" };
    }
    const user = stores.sessions.userSummary(redeemed.userId);
    if (user === null || user.disabled) return { kind: "anonymous", problem: "disabled" };
    return { kind: "user", userId: redeemed.userId, username: user.username, role: user.role, credential: { kind: "ticket", sessionJti: redeemed.sessionJti, apiTokenId: redeemed.apiTokenId, scopes: token?.scopes ?? null } };
  }
}
