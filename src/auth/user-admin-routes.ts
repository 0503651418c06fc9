/**
 * Account administration on the original MSS-Login's paths (`/mss-login/api/users...`, each
 * also under `/api/mss-login/...`), plus what it lacked: an admin ends another user's
 * sessions or resets their second factor (a new password goes through a reset link:
 * password-reset-routes.ts). Who may do what to whom is
 * decided in users.ts (mayManage, changeRole, deleteUser), the same rules as the CLI.
 */
import { Elysia } from "elysia";
import type { Db } from "../db/index.ts";
import { escapeHtml, jsonError, wantsHtml } from "../gateway/error-response.ts";
import registerPage from "../../static/register.html" with { type: "text" };
import type { Logger } from "../log.ts";
import { bothSpellings, json, readBody, usernameParam, type AdminCaller, type AdminGuard } from "./admin-guard.ts";
import type { ApiTokenStore } from "./api-tokens.ts";
import { mfaStatus, resetMfa } from "./mfa.ts";
import type { PasswordSettings } from "./passwords.ts";
import { describeSession, type SessionStore } from "./sessions.ts";
import { renderPage } from "./routes.ts";
import {
  AccountError,
  changeRole,
  createUser,
  deleteUser,
  getUserByUsername,
  listUsers,
  ownerExists,
  mayAssignRole,
  requireMayManage,
  ROLES,
  setDisabled,
  setSfwCheck,
  type Role,
  type User,
} from "./users.ts";

export interface UserAdminRouteDeps {
  db: Db;
  guard: AdminGuard;
  sessions: SessionStore;
  apiTokens: ApiTokenStore;
  passwordSettings: PasswordSettings;
  log: Logger;
  /** The Set-Cookie value for a session token (Secure when the request came over HTTPS). */
  sessionCookie(request: Request, token: string, maxAgeSeconds: number | null): string;
  /** Checks the signed-in admin's password (regulated, timed like a sign-in) for an inline step-up. */
  confirmPassword(request: Request, username: string, password: string): Promise<boolean>;
  /** Sessions or tokens were revoked, or a role changed: drop cached identities, re-check sockets. */
  credentialsRevoked(): void;
  /** After an account is deleted: other modules let go of what was the account's (download keys, jobs). */
  accountDeleted?(userId: string): void;
  now?: () => number;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** HTTP status for a refused account change. */
function accountErrorResponse(error: AccountError): Response {
  const status = error.code === "USER_NOT_FOUND" ? 404 : error.code === "OWNER_ONLY" || error.code === "NOT_PERMITTED" || error.code === "OWNER_LOCKED" ? 403 : error.code === "USERNAME_TAKEN" || error.code === "OWNER_EXISTS" ? 409 : 400;
  return jsonError(status, error.code, error.message);
}

/** Run an account change; AccountErrors become their JSON answer. */
async function attempt(change: () => Response | Promise<Response>): Promise<Response> {
  try {
    return await change();
  } catch (error) {
    if (error instanceof AccountError) return accountErrorResponse(error);
    throw error;
  }
}

function optionalBoolean(body: Record<string, unknown>, key: string): boolean | undefined | "invalid" {
  const value = body[key];
  if (value === undefined) return undefined;
  if (value === true || value === "true" || value === "1" || value === "on") return true;
  if (value === false || value === "false" || value === "0" || value === "off") return false;
  return "invalid";
}

export function userAdminRoutes(deps: UserAdminRouteDeps) {
  const now = deps.now ?? Date.now;

  function describe(user: User) {
    return {
      username: user.username,
      role: user.role,
      groups: [user.role, ...user.groups.filter((g) => g !== user.role)],
      is_admin: user.role === "owner" || user.role === "admin",
      sfw_check: user.sfwCheck,
      disabled: user.disabled,
      mfa_enabled: mfaStatus(deps.db, user.id).state === "enabled",
      created_at_iso: iso(user.createdAt),
      last_login_at_iso: iso(user.lastLoginAt),
    };
  }

  /** The target of a `/users/{username}` route, which the caller may manage. */
  function target(caller: AdminCaller, username: string): User | Response {
    const user = getUserByUsername(deps.db, username);
    if (user === null) return jsonError(404, "USER_NOT_FOUND", "No such user.");
    try {
      requireMayManage(caller.actor, user);
    } catch (error) {
      if (error instanceof AccountError) return accountErrorResponse(error);
      throw error;
    }
    return user;
  }

  async function list(request: Request): Promise<Response> {
    const caller = await deps.guard.admin(request, { write: false });
    if (caller instanceof Response) return caller;
    return json({ users: listUsers(deps.db).map(describe) });
  }

  async function create(request: Request): Promise<Response> {
    const caller = await deps.guard.admin(request, { write: true });
    if (caller instanceof Response) return caller;
    const body = await readBody(request);
    if (body === null) return jsonError(400, "BAD_BODY", "Send a JSON object: {username, password, role}.");
    const username = body.username ?? body.new_user_username;
    const password = body.password ?? body.new_user_password;
    const role = body.role ?? body.group ?? "user";
    const sfw = optionalBoolean(body, "sfw_check");
    if (typeof username !== "string" || typeof password !== "string" || typeof role !== "string" || sfw === "invalid") {
      return jsonError(400, "BAD_BODY", "username, password and role are strings; sfw_check is true or false.");
    }
    if (!(ROLES as readonly string[]).includes(role)) return jsonError(400, "ROLE_INVALID", `The role must be one of ${ROLES.join(", ")}.`);
    if (!mayAssignRole(caller.actor, role as Role)) {
      return jsonError(403, role === "owner" ? "OWNER_EXISTS" : "OWNER_ONLY", role === "owner" ? "There is one owner; ownership is handed over by changing a user's role." : "Only the owner may create administrators.");
    }
    return attempt(async () => {
      const user = await createUser(deps.db, { username: username.trim(), password, role: role as Role, ...(sfw === undefined ? {} : { sfwCheck: sfw }) }, deps.passwordSettings, now());
      deps.log.info("account created", { username: user.username, role: user.role, by: caller.identity.username });
      return json({ status: "ok", username: user.username, role: user.role }, 201);
    });
  }

  async function update(request: Request, username: string): Promise<Response> {
    const caller = await deps.guard.admin(request, { write: true });
    if (caller instanceof Response) return caller;
    const user = getUserByUsername(deps.db, username);
    if (user === null) return jsonError(404, "USER_NOT_FOUND", "No such user.");
    const body = await readBody(request);
    if (body === null) return jsonError(400, "BAD_BODY", "Send a JSON object: {groups: [role]} or {role}, sfw_check, disabled.");
    // The original sends `groups: [role]`; its first entry is the role.
    const groups = body.groups;
    const role = body.role ?? (Array.isArray(groups) ? groups[0] : undefined);
    const sfw = optionalBoolean(body, "sfw_check");
    const disabled = optionalBoolean(body, "disabled");
    if ((role !== undefined && typeof role !== "string") || (groups !== undefined && !Array.isArray(groups)) || sfw === "invalid" || disabled === "invalid") {
      return jsonError(400, "BAD_BODY", "role is a string (or groups a list whose first entry is the role); sfw_check and disabled are true or false.");
    }
    if (role === undefined && sfw === undefined && disabled === undefined) return jsonError(400, "BAD_BODY", "Nothing to change: send role, sfw_check or disabled.");
    return attempt(() => {
      // All or nothing: one transaction around the changes (each checks who may do it).
      let updated: User = user;
      deps.db.transaction((tx) => {
        const db = tx as unknown as Db;
        if (role !== undefined) updated = changeRole(db, caller.actor, user.id, role.toLowerCase(), now());
        if (sfw !== undefined) updated = setSfwCheck(db, caller.actor, user.id, sfw);
        if (disabled !== undefined) {
          if (caller.actor.userId === user.id) throw new AccountError("SELF_CHANGE", "You cannot disable your own account.");
          requireMayManage(caller.actor, user);
          updated = setDisabled(db, user.id, disabled, now());
        }
      });
      deps.credentialsRevoked();
      deps.log.info("account changed", { username: user.username, role: updated.role, sfw_check: updated.sfwCheck, disabled: updated.disabled, by: caller.identity.username });
      return json({ status: "ok", user: describe(updated) });
    });
  }

  async function remove(request: Request, username: string): Promise<Response> {
    const caller = await deps.guard.admin(request, { write: true });
    if (caller instanceof Response) return caller;
    const user = getUserByUsername(deps.db, username);
    if (user === null) return jsonError(404, "USER_NOT_FOUND", "No such user.");
    return attempt(() => {
      deleteUser(deps.db, caller.actor, user.id);
      deps.credentialsRevoked();
      deps.accountDeleted?.(user.id);
      deps.log.info("account deleted", { username: user.username, by: caller.identity.username });
      return json({ status: "ok" });
    });
  }

  async function sessionsOf(request: Request, username: string): Promise<Response> {
    const caller = await deps.guard.admin(request, { write: false });
    if (caller instanceof Response) return caller;
    const user = target(caller, username);
    if (user instanceof Response) return user;
    const sessions = deps.sessions.listForUser(user.id, now()).map(describeSession);
    return json({ username: user.username, sessions });
  }

  /** `{jti}` ends one session; no jti ends all of them (and, with `tokens: true`, the API tokens). */
  async function revokeSessionsOf(request: Request, username: string): Promise<Response> {
    const caller = await deps.guard.admin(request, { write: true });
    if (caller instanceof Response) return caller;
    const user = target(caller, username);
    if (user instanceof Response) return user;
    const body = (await readBody(request)) ?? {};
    const jti = body.jti;
    const tokens = optionalBoolean(body, "tokens");
    if ((jti !== undefined && typeof jti !== "string") || tokens === "invalid") return jsonError(400, "BAD_BODY", "jti is a string; tokens is true or false.");
    let sessions = 0;
    if (jti !== undefined) {
      const own = deps.sessions.listForUser(user.id, now()).some((s) => s.jti === jti);
      if (!own || !deps.sessions.revoke(jti, now())) return jsonError(404, "SESSION_NOT_FOUND", "No such session of this user.");
      sessions = 1;
    } else {
      sessions = deps.sessions.revokeAllForUser(user.id, now());
    }
    const revokedTokens = tokens === true ? deps.apiTokens.revokeAllForUser(user.id, now()) : 0;
    deps.credentialsRevoked();
    deps.log.info("sessions ended by an administrator", { username: user.username, sessions, tokens: revokedTokens, by: caller.identity.username });
    return json({ status: "ok", sessions_revoked: sessions, tokens_revoked: revokedTokens });
  }

  /** A user who lost their authenticator: the second factor goes, and so do their sessions. */
  async function resetSecondFactor(request: Request, username: string): Promise<Response> {
    const caller = await deps.guard.admin(request, { write: true });
    if (caller instanceof Response) return caller;
    const user = target(caller, username);
    if (user instanceof Response) return user;
    if (caller.actor.userId === user.id) return jsonError(400, "SELF_CHANGE", "Remove your own second factor from your account settings (it asks for a code).");
    const removed = resetMfa(deps.db, user.id);
    deps.sessions.revokeAllForUser(user.id, now());
    deps.credentialsRevoked();
    deps.log.info("second factor reset by an administrator", { username: user.username, had_mfa: removed, by: caller.identity.username });
    return json({ status: "ok", mfa_was_enabled: removed });
  }

  /** The account form for administrators, rendered with what happened last. */
  function registerForm(caller: AdminCaller, outcome: { created?: string; error?: string; username?: string }): Response {
    const roles = (["user", "power", "guest", "admin"] as const)
      .filter((role) => mayAssignRole(caller.actor, role))
      .map((role) => `<option value="${role}">${role}</option>`)
      .join("");
    return renderPage(
      registerPage,
      {
        admin: escapeHtml(caller.identity.username),
        min_password_length: String(deps.passwordSettings.minLength),
        created: outcome.created === undefined ? "" : `Account ${escapeHtml(outcome.created)} created.`,
        username: escapeHtml(outcome.error === undefined ? "" : (outcome.username ?? "")),
        roles,
        error: escapeHtml(outcome.error ?? ""),
      },
      outcome.error === undefined ? 200 : 400,
    );
  }

  /** `GET /register`: the form for administrators; before the owner exists, first-run setup. */
  async function registerPageFor(request: Request): Promise<Response> {
    if (!ownerExists(deps.db)) return new Response(null, { status: 302, headers: { location: "/setup" } });
    const caller = await deps.guard.admin(request, { write: false });
    if (caller instanceof Response) {
      if (caller.status === 401) return new Response(null, { status: 302, headers: { location: "/login?next=%2Fregister" } });
      return caller;
    }
    return registerForm(caller, {});
  }

  /**
   * `POST /register` (the original's form fields `new_user_username`, `new_user_password`): an
   * administrator creates an account. `current_password` gives the step-up in the same form.
   */
  async function register(request: Request): Promise<Response> {
    const answer = await registerAnswer(request);
    if (answer.steppedUpCookie !== null) answer.response.headers.append("set-cookie", answer.steppedUpCookie);
    return answer.response;
  }

  /** The answer to `POST /register`, and the new session cookie when the form's password stepped the session up. */
  async function registerAnswer(request: Request): Promise<{ response: Response; steppedUpCookie: string | null }> {
    const browser = wantsHtml(request);
    const identity = await deps.guard.admin(request, { write: false });
    if (identity instanceof Response) return { response: identity, steppedUpCookie: null };
    const body = (await readBody(request)) ?? {};
    const current = body.current_password;
    let steppedUpCookie: string | null = null;
    if (typeof current === "string" && current !== "" && identity.identity.credential.kind === "session") {
      if (!(await deps.confirmPassword(request, identity.identity.username, current))) {
        return { response: browser ? registerForm(identity, { error: "That is not your current password." }) : jsonError(403, "PASSWORD_REQUIRED", "That is not your current password."), steppedUpCookie };
      }
      // The session goes on under a new id (step-up); the form's answer carries its cookie.
      const rotated = await deps.sessions.stepUp(identity.identity.credential.jti, now());
      if (rotated === null) return { response: jsonError(401, "AUTH_REQUIRED", "Sign in first."), steppedUpCookie };
      deps.credentialsRevoked();
      steppedUpCookie = deps.sessionCookie(request, rotated.token, rotated.cookieMaxAgeSeconds);
    }
    const caller = steppedUpCookie !== null ? identity : await deps.guard.admin(request, { write: true });
    if (caller instanceof Response) return { response: browser ? registerForm(identity, { error: "Enter your own password to confirm." }) : caller, steppedUpCookie };
    return { response: await createFromRegister(caller, body, browser), steppedUpCookie };
  }

  async function createFromRegister(caller: AdminCaller, body: Record<string, unknown>, browser: boolean): Promise<Response> {
    const username = body.new_user_username ?? body.username;
    const password = body.new_user_password ?? body.password;
    const role = body.role ?? "user";
    if (typeof username !== "string" || typeof password !== "string" || typeof role !== "string") {
      return browser ? registerForm(caller, { error: "Fill in a username and a password." }) : jsonError(400, "BAD_BODY", "Send new_user_username and new_user_password.");
    }
    if (!(ROLES as readonly string[]).includes(role) || !mayAssignRole(caller.actor, role as Role)) {
      return browser ? registerForm(caller, { error: "You may not create an account of that role." }) : jsonError(403, "OWNER_ONLY", "You may not create an account of that role.");
    }
    try {
      const user = await createUser(deps.db, { username: username.trim(), password, role: role as Role }, deps.passwordSettings, now());
      deps.log.info("account created", { username: user.username, role: user.role, by: caller.identity.username });
      return browser ? registerForm(caller, { created: user.username }) : json({ message: "User registered", username: user.username, role: user.role }, 201);
    } catch (error) {
      if (!(error instanceof AccountError)) throw error;
      return browser ? registerForm(caller, { error: error.message, username }) : accountErrorResponse(error);
    }
  }

  const app = new Elysia({ name: "user-admin" });
  app.get("/register", ({ request }) => registerPageFor(request));
  app.post("/register", ({ request }) => register(request));
  for (const path of bothSpellings("/mss-login/api/users")) {
    app.get(path, ({ request }) => list(request));
    app.post(path, ({ request }) => create(request));
  }
  for (const base of bothSpellings("/mss-login/api/users/:username")) {
    app.put(base, ({ request, params }) => update(request, usernameParam(params)));
    app.delete(base, ({ request, params }) => remove(request, usernameParam(params)));
    app.get(`${base}/sessions`, ({ request, params }) => sessionsOf(request, usernameParam(params)));
    app.post(`${base}/sessions/revoke`, ({ request, params }) => revokeSessionsOf(request, usernameParam(params)));
    app.post(`${base}/mfa/reset`, ({ request, params }) => resetSecondFactor(request, usernameParam(params)));
  }
  return app;
}
