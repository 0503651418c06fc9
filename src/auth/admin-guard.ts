/**
 * Who may use the gateway's admin routes, in one place: a signed-in owner or admin (an API
 * token only with its `admin` scope), and for writes a fresh password re-entry ("step-up",
 * 5 minutes by default) when the caller is a browser session. A stolen session cookie alone
 * then cannot change accounts or permissions.
 */
import { jsonError } from "../gateway/error-response.ts";
import type { Identity } from "./identity.ts";
import type { SessionStore } from "./sessions.ts";
import type { AccountActor } from "./users.ts";

export type SignedIn = Extract<Identity, { kind: "user" }>;

export interface AdminGuardDeps {
  sessions: SessionStore;
  resolveIdentity(request: Request): Promise<Identity>;
  now?: () => number;
}

export interface AdminCaller {
  identity: SignedIn;
  actor: AccountActor & { kind: "user" };
}

export const STEP_UP_MESSAGE = "Confirm your password first (POST /mss-login/api/step-up with {\"password\"}); it stays confirmed for a few minutes (sessions.step_up_minutes).";

export function createAdminGuard(deps: AdminGuardDeps) {
  const now = deps.now ?? Date.now;

  /** The caller, if signed in; an API token must carry `scope`. Tickets are for /ws and /view only. */
  async function signedIn(request: Request, scope: "read" | "run"): Promise<SignedIn | Response> {
    const identity = await deps.resolveIdentity(request);
    if (identity.kind !== "user" || identity.credential.kind === "ticket") return jsonError(401, "AUTH_REQUIRED", "Sign in first.");
    if (identity.credential.kind === "api-token" && !identity.credential.scopes.includes(scope)) {
      return jsonError(403, "TOKEN_SCOPE", `This API token has no "${scope}" scope.`);
    }
    return identity;
  }

  /** An owner or admin; `write` also needs the step-up (sessions) or the `admin` scope (tokens). */
  async function admin(request: Request, options: { write: boolean }): Promise<AdminCaller | Response> {
    const identity = await signedIn(request, options.write ? "run" : "read");
    if (identity instanceof Response) return identity;
    if (identity.role !== "owner" && identity.role !== "admin") return jsonError(403, "ADMIN_ONLY", "Administrators only.");
    const credential = identity.credential;
    if (credential.kind === "api-token" && !credential.scopes.includes("admin")) {
      return jsonError(403, "TOKEN_SCOPE", 'This API token has no "admin" scope.');
    }
    if (options.write && credential.kind === "session" && !deps.sessions.stepUpFresh(credential.jti, now())) {
      return jsonError(403, "STEP_UP_REQUIRED", STEP_UP_MESSAGE);
    }
    return { identity, actor: { kind: "user", userId: identity.userId, role: identity.role } };
  }

  return { signedIn, admin };
}

export type AdminGuard = ReturnType<typeof createAdminGuard>;

/** Small JSON (or form) bodies of the admin routes, with their real types; null when unreadable. */
export const MAX_ADMIN_BODY_BYTES = 256 * 1024;

export async function readBody(request: Request): Promise<Record<string, unknown> | null> {
  const length = Number(request.headers.get("content-length") ?? Number.NaN);
  if (!(length <= MAX_ADMIN_BODY_BYTES)) return null;
  const type = request.headers.get("content-type") ?? "";
  try {
    if (type.includes("application/json")) {
      const body: unknown = await request.json();
      return body !== null && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
    }
    if (type.includes("application/x-www-form-urlencoded") || type.includes("multipart/form-data")) {
      const fields: Record<string, unknown> = {};
      for (const [key, value] of await request.formData()) if (typeof value === "string") fields[key] = value;
      return fields;
    }
  } catch {
    return null;
  }
  return null;
}

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" } });
}

/** Both spellings of a gateway path: `/mss-login/x` and `/api/mss-login/x`. */
export function bothSpellings(path: string): [string, string] {
  return [path, `/api${path}`];
}

/** The `:username` of a route whose path is built at run time (Elysia cannot type its parameters then). */
export function usernameParam(params: unknown): string {
  return (params as { username: string }).username;
}
