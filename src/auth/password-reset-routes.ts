/**
 * Password changes that do not let anyone choose another person's password (checklist 5.6
 * item 51): an administrator makes a single-use reset link (24 hours) and hands it over; the
 * user opens `/reset`, proves their second factor if they have one, and chooses the password.
 * Signed-in users change their own at `POST /mss-login/api/me/password`.
 */
import { Elysia } from "elysia";
import type { Db } from "../db/index.ts";
import { escapeHtml, jsonError } from "../gateway/error-response.ts";
import type { Logger } from "../log.ts";
import resetPage from "../../static/reset.html" with { type: "text" };
import messagePage from "../../static/message.html" with { type: "text" };
import { bothSpellings, json, readBody, usernameParam, type AdminGuard } from "./admin-guard.ts";
import type { ApiTokenStore } from "./api-tokens.ts";
import { mfaStatus, useRecoveryCode, verifyLoginCode } from "./mfa.ts";
import type { PasswordSettings } from "./passwords.ts";
import { looksLikeRecoveryCode } from "./recovery-codes.ts";
import type { Regulator } from "./regulation.ts";
import { readFields, regulationAddress, renderPage } from "./routes.ts";
import type { SessionStore } from "./sessions.ts";
import { PASSWORD_RESET_LIFETIME_MS, type TicketStore } from "./tickets.ts";
import { AccountError, getUserById, getUserByUsername, requireMayManage, setPassword } from "./users.ts";

export interface PasswordResetDeps {
  db: Db;
  guard: AdminGuard;
  sessions: SessionStore;
  apiTokens: ApiTokenStore;
  tickets: TicketStore;
  regulator: Regulator;
  passwordSettings: PasswordSettings;
  mfaKey: Uint8Array;
  log: Logger;
  clientIp(request: Request): string;
  /** Checks the signed-in user's current password (regulated, timed like a sign-in). */
  confirmPassword(request: Request, username: string, password: string): Promise<boolean>;
  credentialsRevoked(): void;
  now?: () => number;
}

function message(title: string, text: string, status: number, action = ""): Response {
  return renderPage(messagePage, { title: escapeHtml(title), message: escapeHtml(text), action }, status);
}

const SIGN_IN_LINK = '<p><a href="/login">Go to the sign-in page</a></p>';
const CODE_FIELD = '<label for="code">Code from your authenticator app (or a recovery code)</label><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required maxlength="20">';

export function passwordResetRoutes(deps: PasswordResetDeps) {
  const now = deps.now ?? Date.now;
  const invalidLink = () => message("This link does not work", "The reset link is used, expired or mistyped. Ask an administrator for a new one.", 400, SIGN_IN_LINK);

  /** `POST /mss-login/api/users/{username}/password-reset`: a new single-use link for that user. */
  async function issue(request: Request, username: string): Promise<Response> {
    const caller = await deps.guard.admin(request, { write: true });
    if (caller instanceof Response) return caller;
    const user = getUserByUsername(deps.db, username);
    if (user === null) return jsonError(404, "USER_NOT_FOUND", "No such user.");
    try {
      requireMayManage(caller.actor, user);
    } catch (error) {
      if (error instanceof AccountError) return jsonError(403, error.code, error.message);
      throw error;
    }
    if (caller.actor.userId === user.id) return jsonError(400, "SELF_CHANGE", "Change your own password at /mss-login/api/me/password.");
    // One link at a time: a new one ends any earlier.
    deps.tickets.spendAll(user.id, "password-reset", now());
    const issued = deps.tickets.issue({ userId: user.id, purpose: "password-reset", sessionJti: null, apiTokenId: null, now: now() });
    deps.log.info("password reset link made", { username: user.username, by: caller.identity.username });
    return json({ status: "ok", username: user.username, reset_path: `/reset?token=${issued.ticket}`, expires_at_iso: new Date(issued.expiresAt).toISOString(), valid_hours: PASSWORD_RESET_LIFETIME_MS / 3600_000 });
  }

  function form(token: string, userId: string, error = ""): Response {
    const user = getUserById(deps.db, userId);
    if (user === null || user.disabled) return invalidLink();
    const mfa = mfaStatus(deps.db, user.id).state === "enabled" ? CODE_FIELD : "";
    return renderPage(resetPage, { username: escapeHtml(user.username), token: escapeHtml(token), mfa, error: escapeHtml(error), min_password_length: String(deps.passwordSettings.minLength) }, error === "" ? 200 : 400);
  }

  function showForm(request: Request): Response {
    const token = new URL(request.url).searchParams.get("token") ?? "";
    const userId = deps.tickets.peek(token, "password-reset", now());
    return userId === null ? invalidLink() : form(token, userId);
  }

  /** `POST /reset`: the second factor first (no path around it), then the new password. */
  async function complete(request: Request): Promise<Response> {
    const attempt = deps.regulator.takeAttempt(regulationAddress(deps.clientIp(request)), now());
    if (!attempt.allowed) return message("Too many attempts", `Try again in ${attempt.retryAfterSeconds} seconds.`, 429);
    const fields = await readFields(request);
    const token = fields.token ?? "";
    const userId = deps.tickets.peek(token, "password-reset", now());
    if (userId === null) return invalidLink();
    const guessKey = `password-reset:${userId}`;
    if (deps.regulator.accountBanned(guessKey, now())) return form(token, userId, "Too many wrong codes; wait a few minutes and try again.");
    if (mfaStatus(deps.db, userId).state === "enabled") {
      const code = (fields.code ?? "").trim();
      const second = code === "" ? null : looksLikeRecoveryCode(code) ? useRecoveryCode(deps.db, userId, code, now()) : await verifyLoginCode(deps.db, deps.mfaKey, userId, code, now());
      if (second === null || second.status !== "ok") {
        deps.regulator.recordFailure(guessKey, now());
        return form(token, userId, "That code is not right.");
      }
    }
    try {
      // Checked against the policy before the link is spent: a refused password leaves it usable.
      await setPassword(deps.db, userId, fields.password ?? "", deps.passwordSettings, { now: now() });
    } catch (error) {
      if (error instanceof AccountError) return form(token, userId, error.message);
      throw error;
    }
    if (!deps.tickets.redeem(token, "password-reset", now()).ok) return invalidLink();
    deps.regulator.recordSuccess(guessKey, now());
    const tokens = deps.apiTokens.revokeAllForUser(userId, now());
    deps.credentialsRevoked();
    deps.log.info("password reset completed", { user_id: userId, tokens_revoked: tokens });
    return message("Password changed", "Your new password is set. Every device was signed out, and your API tokens were revoked.", 200, SIGN_IN_LINK);
  }

  /** A signed-in user changes their own password: the current one first. Other sessions end. */
  async function changeOwn(request: Request): Promise<Response> {
    const identity = await deps.guard.signedIn(request, "run");
    if (identity instanceof Response) return identity;
    if (identity.credential.kind !== "session") return jsonError(403, "SESSION_REQUIRED", "Change your password from a signed-in browser session.");
    const body = await readBody(request);
    const current = body?.current_password;
    const next = body?.new_password;
    if (typeof current !== "string" || typeof next !== "string") return jsonError(400, "BAD_BODY", "Send {current_password, new_password}.");
    if (!(await deps.confirmPassword(request, identity.username, current))) return jsonError(403, "PASSWORD_REQUIRED", "That is not your current password.");
    try {
      await setPassword(deps.db, identity.userId, next, deps.passwordSettings, { keepSessionJti: identity.credential.jti, now: now() });
    } catch (error) {
      if (error instanceof AccountError) return jsonError(400, error.code, error.message);
      throw error;
    }
    deps.credentialsRevoked();
    deps.log.info("password changed by its user", { username: identity.username });
    return json({ status: "ok", message: "Password changed; your other sessions were signed out." });
  }

  const app = new Elysia({ name: "password-reset" });
  app.get("/reset", ({ request }) => showForm(request));
  app.post("/reset", ({ request }) => complete(request));
  for (const path of bothSpellings("/mss-login/api/users/:username/password-reset")) app.post(path, ({ request, params }) => issue(request, usernameParam(params)));
  for (const path of bothSpellings("/mss-login/api/me/password")) app.post(path, ({ request }) => changeOwn(request));
  return app;
}
