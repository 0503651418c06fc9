/**
 * A user's own credentials: API tokens (create, list, revoke) and sessions (list, revoke), on
 * the original MSS-Login's paths (`/mss-login/generate_token`, `/mss-login/api/tokens`,
 * `/mss-login/me/sessions`), each also under `/api/mss-login/...`.
 */
import { Elysia } from "elysia";
import { bothSpellings, json, type AdminGuard } from "./admin-guard.ts";
import { jsonError } from "../gateway/error-response.ts";
import { ApiTokenError, SCOPES, type ApiTokenStore } from "./api-tokens.ts";
import type { Identity } from "./identity.ts";
import { getUserById } from "./users.ts";
import type { Db } from "../db/index.ts";
import { describeSession, type SessionStore } from "./sessions.ts";

/** The original's default token lifetime. */
const DEFAULT_TOKEN_HOURS = 720;

export interface AccountRouteDeps {
  db: Db;
  sessions: SessionStore;
  apiTokens: ApiTokenStore;
  resolveIdentity(request: Request): Promise<Identity>;
  /** Signed-in callers and token scopes, as for every gateway route (admin-guard.ts). */
  guard: AdminGuard;
  clientIp(request: Request): string;
  readFields(request: Request): Promise<Record<string, string>>;
  /** The password (and second factor) path of token creation, with regulation: user id or the answer to send. */
  checkCredentials(request: Request, fields: Record<string, string>, refused: () => Response): Promise<{ userId: string } | Response>;
  /** A credential was revoked here: open WebSockets that rode on it are closed now. */
  credentialsRevoked(): void;
  /** Whether a role holds a permission key (can_have_api_tokens, can_have_non_expiring_jwt). */
  allows(role: string, key: string): boolean;
  now?: () => number;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function accountRoutes(deps: AccountRouteDeps) {
  const now = deps.now ?? Date.now;


  async function generateToken(request: Request): Promise<Response> {
    const fields = await deps.readFields(request);
    // A signed-in caller creates a token for themselves; otherwise username and password
    // (and the second factor) are checked like a sign-in, as the original's mobile clients do.
    let userId: string;
    /** A token may only make tokens with (at most) its own scopes, and only with "run". */
    let scopeCeiling: readonly string[] = SCOPES;
    const identity = await deps.resolveIdentity(request);
    if (identity.kind === "user" && identity.credential.kind !== "ticket" && fields.require_password_reauth !== "true") {
      if (identity.credential.kind === "api-token") {
        if (!identity.credential.scopes.includes("run")) return jsonError(403, "TOKEN_SCOPE", 'This API token has no "run" scope.');
        scopeCeiling = identity.credential.scopes;
      }
      userId = identity.userId;
    } else {
      const checked = await deps.checkCredentials(request, fields, () => jsonError(401, "INVALID_CREDENTIALS", "Invalid credentials"));
      if (checked instanceof Response) return checked;
      userId = checked.userId;
    }
    const user = getUserById(deps.db, userId);
    if (user === null || user.disabled) return jsonError(401, "INVALID_CREDENTIALS", "Invalid credentials");
    if (user.role === "guest" || !deps.allows(user.role, "can_have_api_tokens")) return jsonError(403, "TOKENS_NOT_ALLOWED", "Your role may not create API tokens.");

    // Whole hours only ("", "1e3" or "0x10" are not hours).
    const hours = fields.expire_hours === undefined ? DEFAULT_TOKEN_HOURS : /^\d{1,5}$/.test(fields.expire_hours) ? Number(fields.expire_hours) : Number.NaN;
    const scopes = fields.scopes === undefined ? [...scopeCeiling] : fields.scopes.split(/[\s,]+/).filter((s) => s !== "");
    if (scopes.some((scope) => !scopeCeiling.includes(scope))) return jsonError(403, "TOKEN_SCOPE", "A token cannot grant more than its own scopes.");
    try {
      const created = deps.apiTokens.create({
        userId,
        label: fields.label ?? "API token",
        hours,
        scopes,
        // The original lets only holders of can_have_non_expiring_jwt (the owner) skip expiry,
        // and only from a signed-in session, not from another token.
        allowNonExpiring: deps.allows(user.role, "can_have_non_expiring_jwt") && identity.kind === "user" && identity.credential.kind === "session",
        now: now(),
      });
      return json({ message: "API token created.", jwt_token: created.token, id: created.id, scopes: created.scopes, expires_in_hours: created.expiresAt === null ? null : hours });
    } catch (error) {
      if (error instanceof ApiTokenError) return jsonError(400, error.code, error.message);
      throw error;
    }
  }

  async function listTokens(request: Request): Promise<Response> {
    const identity = await deps.guard.signedIn(request, "read");
    if (identity instanceof Response) return identity;
    const tokens = deps.apiTokens.listForUser(identity.userId).map((t) => ({
      id: t.id,
      label: t.label,
      scopes: t.scopes,
      created_at_iso: iso(t.createdAt),
      expires_iso: iso(t.expiresAt),
      last_used_at_iso: iso(t.lastUsedAt),
      last_used_ip: t.lastUsedIp,
    }));
    return json({ tokens });
  }

  async function revokeToken(request: Request): Promise<Response> {
    const identity = await deps.guard.signedIn(request, "run");
    if (identity instanceof Response) return identity;
    const fields = await deps.readFields(request);
    if (!fields.id || !deps.apiTokens.revoke(identity.userId, fields.id, now())) return jsonError(404, "TOKEN_NOT_FOUND", "No such token of yours.");
    deps.credentialsRevoked();
    return json({ message: "Token revoked." });
  }

  async function listSessions(request: Request): Promise<Response> {
    const identity = await deps.guard.signedIn(request, "read");
    if (identity instanceof Response) return identity;
    const current = identity.credential.kind === "session" ? identity.credential.jti : null;
    const sessions = deps.sessions.listForUser(identity.userId, now()).map((s) => ({ ...describeSession(s), is_current: s.jti === current }));
    return json({ sessions });
  }

  async function revokeSession(request: Request): Promise<Response> {
    const identity = await deps.guard.signedIn(request, "run");
    if (identity instanceof Response) return identity;
    const fields = await deps.readFields(request);
    const own = deps.sessions.listForUser(identity.userId, now()).some((s) => s.jti === fields.jti);
    if (!fields.jti || !own || !deps.sessions.revoke(fields.jti, now())) return jsonError(404, "SESSION_NOT_FOUND", "No such session of yours.");
    deps.credentialsRevoked();
    return json({ status: "ok" });
  }

  const app = new Elysia({ name: "account" });
  for (const path of ["/generate_token", ...bothSpellings("/mss-login/generate_token")]) app.post(path, ({ request }) => generateToken(request));
  for (const path of bothSpellings("/mss-login/api/tokens")) {
    app.get(path, ({ request }) => listTokens(request));
    app.delete(path, ({ request }) => revokeToken(request));
  }
  for (const path of bothSpellings("/mss-login/me/sessions")) app.get(path, ({ request }) => listSessions(request));
  for (const path of bothSpellings("/mss-login/me/sessions/revoke")) app.post(path, ({ request }) => revokeSession(request));
  return app;
}
