/**
 * Every user's sessions and API tokens in one place, for administrators:
 * `GET /mss-login/api/admin/sessions`, `POST .../admin/sessions/revoke` `{id}`,
 * `GET /mss-login/api/admin/tokens`, `POST .../admin/tokens/revoke` `{id}` (each also under
 * `/api/mss-login/...`). Who may see and end whose credentials follows the account rules of
 * users.ts (mayManage): the owner all of them, an admin those of power users, users and guests,
 * and everyone their own. Tokens are listed without the token or its hash.
 */
import { Elysia } from "elysia";
import { jsonError } from "../gateway/error-response.ts";
import type { Logger } from "../log.ts";
import { bothSpellings, json, readBody, type AdminCaller, type AdminGuard } from "./admin-guard.ts";
import type { ApiTokenStore } from "./api-tokens.ts";
import type { Role, SessionStore } from "./sessions.ts";
import { mayManage } from "./users.ts";

export interface AdminCredentialRouteDeps {
  guard: AdminGuard;
  sessions: SessionStore;
  apiTokens: ApiTokenStore;
  log: Logger;
  /** Sessions or tokens were revoked: drop cached identities, close the WebSockets that rode on them. */
  credentialsRevoked(): void;
  now?: () => number;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** One live session in `GET /mss-login/api/admin/sessions` (also the admin app's type). */
export interface AdminSessionItem {
  id: string;
  username: string;
  role: string;
  created_at: string | null;
  last_seen_at: string | null;
  expires_at: string | null;
  ip: string | null;
  user_agent: string | null;
  remember: boolean;
  current: boolean;
}

/** One live API token in `GET /mss-login/api/admin/tokens`: never the token or its hash. */
export interface AdminTokenItem {
  id: string;
  username: string;
  label: string;
  scopes: string[];
  created_at: string | null;
  expires_at: string | null;
  last_used_at: string | null;
  last_used_ip: string | null;
}

/** Whether the caller may see and end credentials of this user. */
function mayHandle(caller: AdminCaller, owner: { userId: string; role: Role }): boolean {
  return owner.userId === caller.actor.userId || mayManage(caller.actor, owner);
}

function notPermitted(username: string, role: Role): Response {
  return jsonError(403, "OWNER_ONLY", `Only the owner may end credentials of the ${role} account "${username}".`);
}

/** `{id}` of a revoke request, or the answer to send. */
async function idOf(request: Request): Promise<string | Response> {
  const body = await readBody(request);
  const id = body?.id;
  if (typeof id !== "string" || id === "") return jsonError(400, "BAD_BODY", 'Send a JSON object: {"id": "..."}.');
  return id;
}

export function adminCredentialRoutes(deps: AdminCredentialRouteDeps) {
  const now = deps.now ?? Date.now;

  async function listSessions(request: Request): Promise<Response> {
    const caller = await deps.guard.admin(request, { write: false });
    if (caller instanceof Response) return caller;
    const credential = caller.identity.credential;
    const current = credential.kind === "session" ? credential.jti : null;
    const sessions = deps.sessions
      .listLive(now())
      .filter((s) => mayHandle(caller, s))
      .map((s): AdminSessionItem => ({
        id: s.jti,
        username: s.username,
        role: s.role,
        created_at: iso(s.createdAt),
        last_seen_at: iso(s.lastSeenAt),
        expires_at: iso(s.expiresAt),
        ip: s.clientIp,
        user_agent: s.userAgent,
        remember: s.rememberMe,
        current: s.jti === current,
      }));
    return json({ sessions });
  }

  async function revokeSession(request: Request): Promise<Response> {
    const caller = await deps.guard.admin(request, { write: true });
    if (caller instanceof Response) return caller;
    const id = await idOf(request);
    if (id instanceof Response) return id;
    const at = now();
    const session = deps.sessions.listLive(at).find((s) => s.jti === id);
    if (session === undefined) return jsonError(404, "SESSION_NOT_FOUND", "No such live session.");
    if (!mayHandle(caller, session)) return notPermitted(session.username, session.role);
    if (!deps.sessions.revoke(id, at)) return jsonError(404, "SESSION_NOT_FOUND", "No such live session.");
    deps.credentialsRevoked();
    deps.log.info("session ended by an administrator", { username: session.username, by: caller.identity.username });
    return json({ ok: true });
  }

  async function listTokens(request: Request): Promise<Response> {
    const caller = await deps.guard.admin(request, { write: false });
    if (caller instanceof Response) return caller;
    const tokens = deps.apiTokens
      .listLive(now())
      .filter((t) => mayHandle(caller, t))
      .map((t): AdminTokenItem => ({
        id: t.id,
        username: t.username,
        label: t.label,
        scopes: t.scopes,
        created_at: iso(t.createdAt),
        expires_at: iso(t.expiresAt),
        last_used_at: iso(t.lastUsedAt),
        last_used_ip: t.lastUsedIp,
      }));
    return json({ tokens });
  }

  async function revokeToken(request: Request): Promise<Response> {
    const caller = await deps.guard.admin(request, { write: true });
    if (caller instanceof Response) return caller;
    const id = await idOf(request);
    if (id instanceof Response) return id;
    const at = now();
    const token = deps.apiTokens.listLive(at).find((t) => t.id === id);
    if (token === undefined) return jsonError(404, "TOKEN_NOT_FOUND", "No such live API token.");
    if (!mayHandle(caller, token)) return notPermitted(token.username, token.role);
    if (!deps.apiTokens.revoke(token.userId, id, at)) return jsonError(404, "TOKEN_NOT_FOUND", "No such live API token.");
    deps.credentialsRevoked();
    deps.log.info("API token revoked by an administrator", { username: token.username, label: token.label, by: caller.identity.username });
    return json({ ok: true });
  }

  const app = new Elysia({ name: "admin-credentials" });
  for (const path of bothSpellings("/mss-login/api/admin/sessions")) {
    app.get(path, ({ request }) => listSessions(request));
    app.post(`${path}/revoke`, ({ request }) => revokeSession(request));
  }
  for (const path of bothSpellings("/mss-login/api/admin/tokens")) {
    app.get(path, ({ request }) => listTokens(request));
    app.post(`${path}/revoke`, ({ request }) => revokeToken(request));
  }
  return app;
}
