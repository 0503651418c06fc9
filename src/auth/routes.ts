/**
 * The gateway's sign-in surface: `/login`, `/logout`, first-run `/setup`, `/mss-login/api/me`
 * and tickets. Kept on the original MSS-Login's paths and answer shapes where its clients
 * depend on them (JSON `{message, jwt_token, redirect_url}` after a login), with its weaknesses
 * fixed: no account oracle in answers or timing, stored regulation, no open redirect.
 */
import { and, eq, gt, isNull } from "drizzle-orm";
import { Elysia } from "elysia";
import type { Db } from "../db/index.ts";
import { jsonError, wantsHtml } from "../gateway/error-response.ts";
import type { Logger } from "../log.ts";
import { beginEnrolment, confirmEnrolment, MfaError, mfaStatus, resetMfa, useRecoveryCode, verifyLoginCode } from "./mfa.ts";
import { looksLikeRecoveryCode } from "./recovery-codes.ts";
import type { PasswordSettings } from "./passwords.ts";
import { verifyDummyPassword } from "./passwords.ts";
import type { Regulator } from "./regulation.ts";
import type { SessionStore } from "./sessions.ts";
import { setupTokens } from "./tables.ts";
import type { TicketStore } from "./tickets.ts";
import { AccountError, checkUserPassword, countUsers, createUser, getUserById, getUserByUsername, GUEST_USERNAME, ownerExists, recordLogin } from "./users.ts";
import { SECURE_SESSION_COOKIE, SESSION_COOKIE, type Identity } from "./identity.ts";
import { formatIp, parseIp } from "../config/ip.ts";
import { hashToken } from "./api-tokens.ts";
import loginPage from "../../static/login.html" with { type: "text" };
import setupPage from "../../static/setup.html" with { type: "text" };
// @ts-expect-error -- browser script embedded as text; it has no TypeScript declarations
import loginScript from "../../static/login.js" with { type: "text" };
// @ts-expect-error -- browser script embedded as text; it has no TypeScript declarations
import setupScript from "../../static/setup.js" with { type: "text" };
import pagesCss from "../../static/pages.css" with { type: "text" };

/** Every login answer takes at least this long, whatever happened, so time tells nothing. */
export const LOGIN_FLOOR_MS = 250;
const SETUP_LIFETIME_MS = 30 * 60_000;
const MAX_BODY_FIELD = 1100;

export interface AuthRouteDeps {
  db: Db;
  sessions: SessionStore;
  tickets: TicketStore;
  regulator: Regulator;
  passwordSettings: PasswordSettings;
  mfaKey: Uint8Array;
  log: Logger;
  resolveIdentity(request: Request): Promise<Identity>;
  clientIp(request: Request): string;
  /** The request reached us over HTTPS (directly or per a trusted proxy): the cookie is Secure. */
  isSecure(request: Request): boolean;
  /** A credential was revoked here: open WebSockets that rode on it are closed now. */
  credentialsRevoked(): void;
  /** `auth.allow_guest` now: a password-less sign-in as the shared guest account. */
  allowGuest(): boolean;
  /** The owner exists: the first-run link is spent (its file can go). */
  setupDone(): void;
  /** The role's effective permissions (for `/me`), and whether it must sign in with a second factor. */
  permissionsOf(role: string): Record<string, boolean>;
  /** How long a step-up lasts now (sessions.step_up_minutes). */
  stepUpSeconds(): number;
  /** A sign-in failed (wrong name, password or code): the IP filter counts it, the audit log records it. */
  signInFailed?(request: Request, username: string): void;
  /** Name, password and any second factor were right (the audit log records it). */
  signInSucceeded?(request: Request, userId: string, username: string): void;
  now?: () => number;
}

const STATIC_FILES: Record<string, { body: string; type: string }> = {
  "login.js": { body: loginScript as unknown as string, type: "text/javascript; charset=utf-8" },
  "setup.js": { body: setupScript as unknown as string, type: "text/javascript; charset=utf-8" },
  "pages.css": { body: pagesCss as unknown as string, type: "text/css; charset=utf-8" },
};

/** `GET /logout` without proof that the user asked: one button, a same-origin POST. */
const LOGOUT_CONFIRMATION = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign out · MSS-Login</title>
<link rel="stylesheet" href="/mss-login/static/pages.css"></head>
<body><main class="card"><h1>Sign out?</h1><form method="post" action="/logout"><button type="submit">Sign out</button></form><p><a href="/">Back to ComfyUI</a></p></main></body></html>
`;

/** Shown on the sign-in page only when guest access is enabled. */
const GUEST_BUTTON = '<form method="post" action="/login"><input type="hidden" name="guest_login" value="true"><button type="submit" class="secondary">Continue as guest</button></form>';

export const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "referrer-policy": "same-origin",
};

export function page(html: unknown): Response {
  return new Response(html as string, { headers: PAGE_HEADERS });
}

/**
 * A page from one of the embedded templates, its `{{name}}` placeholders filled (every copy: a
 * title stands in <title> and <h1>). Values are inserted as given: escape them first.
 */
export function renderPage(template: unknown, values: Record<string, string>, status = 200): Response {
  let html = template as string;
  for (const [name, value] of Object.entries(values)) html = html.replaceAll(`{{${name}}}`, () => value);
  return new Response(html, { status, headers: PAGE_HEADERS });
}

/** IPv6 clients get a /64 each from their provider: regulate the /64, not each address in it. */
export function regulationAddress(ip: string): string {
  if (!ip.includes(":")) return ip;
  const parsed = parseIp(ip);
  if (parsed === null) return ip;
  const network = new Uint8Array(16);
  network.set(parsed.bytes.subarray(0, 8));
  return `${formatIp({ version: 6, bytes: network })}/64`;
}

/** Only a same-site path may be a redirect target: `/x`, never `//host`, `/\host` or a scheme. */
export function safeNext(next: unknown): string {
  if (typeof next !== "string" || next.length === 0 || next.length > 2048) return "/";
  if (!next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  // Visible ASCII only (what a Location header can carry); no backslash anywhere.
  if (!/^[\x21-\x7e]+$/.test(next) || next.includes("\\")) return "/";
  return next;
}

function truthy(value: unknown): boolean {
  return value === true || (typeof value === "string" && ["1", "true", "yes", "on"].includes(value.toLowerCase()));
}

/** Sign-in and account forms are small; anything bigger is refused before it is read. */
export const MAX_FORM_BYTES = 64 * 1024;

/** Form or JSON body as string fields; anything else, oversized or of unknown length is empty. */
export async function readFields(request: Request): Promise<Record<string, string>> {
  const type = request.headers.get("content-type") ?? "";
  const fields: Record<string, string> = {};
  const length = Number(request.headers.get("content-length") ?? NaN);
  if (!(length <= MAX_FORM_BYTES)) return fields;
  try {
    if (type.includes("application/json")) {
      const body = (await request.json()) as unknown;
      if (body !== null && typeof body === "object" && !Array.isArray(body)) {
        for (const [key, value] of Object.entries(body)) {
          if (typeof value === "string" && value.length <= MAX_BODY_FIELD) fields[key] = value;
          else if (typeof value === "boolean") fields[key] = String(value);
        }
      }
    } else if (type.includes("application/x-www-form-urlencoded") || type.includes("multipart/form-data")) {
      const form = await request.formData();
      for (const [key, value] of form) if (typeof value === "string" && value.length <= MAX_BODY_FIELD) fields[key] = value;
    }
  } catch {
    // A malformed body reads as no fields: the answer is then "invalid credentials".
  }
  return fields;
}

export function sessionCookie(token: string, maxAgeSeconds: number | null, secure: boolean): string {
  const name = secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE;
  return `${name}=${token}; Path=/; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}${maxAgeSeconds === null ? "" : `; Max-Age=${maxAgeSeconds}`}`;
}

function clearedCookie(secure: boolean): string {
  return `${secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}; Max-Age=0`;
}

/**
 * The slowest recent credential checks. Answers are padded to at least the slowest of them, so
 * that an account whose check is slower than the floor (an imported bcrypt hash of high cost, a
 * loaded machine) cannot be told apart from an unknown one by its time.
 */
const recentCheckDurations: number[] = [];
const RECENT_CHECKS = 64;
/** A slow client (or a stalled disk) must not make every answer wait long: padding stops here. */
const PADDING_CEILING_MS = 1500;

function noteCheckDuration(ms: number): void {
  recentCheckDurations.push(ms);
  if (recentCheckDurations.length > RECENT_CHECKS) recentCheckDurations.shift();
}

async function padTo(started: number, floorMs: number): Promise<void> {
  const spent = performance.now() - started;
  noteCheckDuration(spent);
  const slowest = Math.min(PADDING_CEILING_MS, Math.max(floorMs, ...recentCheckDurations));
  // A little jitter on top, so that an unusually slow success cannot stand out.
  const target = slowest + Math.random() * 50;
  if (spent < target) await Bun.sleep(target - spent);
}

export function authRoutes(deps: AuthRouteDeps) {
  const now = deps.now ?? Date.now;

  function roleRequiresMfa(userId: string): boolean {
    const user = getUserById(deps.db, userId);
    return user !== null && deps.permissionsOf(user.role).mfa_required === true;
  }

  /** First run: with no accounts, a one-time setup link goes to the console (not the log). */
  function announceSetupLink(origin: string): string | null {
    if (ownerExists(deps.db)) return null;
    const token = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
    const at = now();
    deps.db.insert(setupTokens).values({ tokenHash: hashToken(token), createdAt: at, expiresAt: at + SETUP_LIFETIME_MS }).run();
    return `${origin}/setup?token=${token}`;
  }

  function consumeSetupToken(token: string): boolean {
    const at = now();
    // One conditional update: of two concurrent uses, only one can mark it.
    const used = deps.db
      .update(setupTokens)
      .set({ usedAt: at })
      .where(and(eq(setupTokens.tokenHash, hashToken(token)), isNull(setupTokens.usedAt), gt(setupTokens.expiresAt, at)))
      .returning({ tokenHash: setupTokens.tokenHash })
      .all();
    return used.length === 1;
  }

  async function startSession(request: Request, userId: string, rememberMe: boolean, next: string, message: string, extra: Record<string, unknown> = {}): Promise<Response> {
    const at = now();
    const issued = await deps.sessions.issue({ userId, rememberMe, clientIp: deps.clientIp(request), userAgent: request.headers.get("user-agent"), now: at });
    recordLogin(deps.db, userId, at);
    const cookie = sessionCookie(issued.token, issued.cookieMaxAgeSeconds, deps.isSecure(request));
    if (Object.keys(extra).length === 0 && (wantsHtml(request) || (request.headers.get("accept") ?? "").includes("text/html"))) {
      return new Response(null, { status: 302, headers: { location: next, "set-cookie": cookie, "cache-control": "no-store" } });
    }
    return new Response(JSON.stringify({ message, jwt_token: issued.token, redirect_url: next, remember_me: rememberMe, ...extra }), {
      headers: { "content-type": "application/json; charset=utf-8", "set-cookie": cookie, "cache-control": "no-store" },
    });
  }

  function loginRefused(request: Request, next: string): Response {
    if (wantsHtml(request)) return new Response(null, { status: 302, headers: { location: `/login?error=1&next=${encodeURIComponent(next)}` } });
    return jsonError(401, "INVALID_CREDENTIALS", "Invalid credentials");
  }

  /**
   * Username, password and (when enrolled) a second factor, with regulation and a fixed time
   * floor: the one check behind `/login` and password-based token creation. Returns the user id,
   * or the answer to send.
   */
  async function checkCredentials(request: Request, fields: Record<string, string>, refused: () => Response): Promise<{ userId: string } | Response> {
    const started = performance.now();
    const username = (fields.username ?? "").trim();
    const password = fields.password ?? "";

    const attempt = deps.regulator.takeAttempt(regulationAddress(deps.clientIp(request)), now());
    if (!attempt.allowed) {
      return jsonError(429, "TOO_MANY_ATTEMPTS", `Too many sign-in attempts. Try again in ${attempt.retryAfterSeconds} s.`, { "retry-after": String(attempt.retryAfterSeconds) });
    }

    let userId: string | null = null;
    if (deps.regulator.accountBanned(username, now())) {
      // Same work and same answer as a wrong password: a ban must not be observable.
      await verifyDummyPassword(password, deps.passwordSettings);
    } else {
      // Counted before the slow check, so that guesses sent at the same time all count
      // (a success clears it again).
      deps.regulator.recordFailure(username, now());
      const checked = await checkUserPassword(deps.db, username, password, deps.passwordSettings);
      if (checked.ok) userId = checked.user.id;
    }
    if (userId === null) {
      deps.signInFailed?.(request, username);
      await padTo(started, LOGIN_FLOOR_MS);
      return refused();
    }

    // Second factor: in the same request (`code`), or in a second step with a single-use
    // `mfa_temp_token`, the shape of the original's API.
    const enrolled = mfaStatus(deps.db, userId).state === "enabled";
    if (!enrolled && roleRequiresMfa(userId)) {
      // The role requires a second factor and this user has none yet: no session until they
      // enrol, with a temporary token standing in for the password just checked.
      deps.regulator.recordSuccess(username, now());
      const temp = deps.tickets.issue({ userId, purpose: "mfa-setup", sessionJti: null, apiTokenId: null, now: now() });
      await padTo(started, LOGIN_FLOOR_MS);
      return new Response(
        JSON.stringify({ message: "Your role requires two-factor authentication: set it up to continue.", mfa_setup_required: true, mfa_temp_token: temp.ticket, remember_me: truthy(fields.remember_me ?? fields.remember) }),
        { headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" } },
      );
    }
    if (enrolled) {
      const code = (fields.code || fields.backup_code || "").trim();
      if (code === "") {
        const temp = deps.tickets.issue({ userId, purpose: "mfa", sessionJti: null, apiTokenId: null, now: now() });
        await padTo(started, LOGIN_FLOOR_MS);
        return new Response(JSON.stringify({ message: "Enter the code from your authenticator app.", mfa_required: true, mfa_temp_token: temp.ticket, remember_me: truthy(fields.remember_me ?? fields.remember) }), {
          headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
        });
      }
      const second = looksLikeRecoveryCode(code) ? useRecoveryCode(deps.db, userId, code, now()) : await verifyLoginCode(deps.db, deps.mfaKey, userId, code, now());
      if (second.status !== "ok") {
        // The failure counted before the password check stands (no success clears it); the
        // answer is the same as for a wrong password.
        deps.signInFailed?.(request, username);
        await padTo(started, LOGIN_FLOOR_MS);
        return refused();
      }
    }

    deps.regulator.recordSuccess(username, now());
    deps.signInSucceeded?.(request, userId, username);
    await padTo(started, LOGIN_FLOOR_MS);
    return { userId };
  }

  /** The shared `guest` account, created on first use with a random password nobody knows. */
  async function guestAccount(): Promise<string> {
    const existing = getUserByUsername(deps.db, GUEST_USERNAME);
    if (existing !== null) return existing.id;
    const password = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
    try {
      return (await createUser(deps.db, { username: GUEST_USERNAME, password, role: "guest", systemAccount: true }, deps.passwordSettings, now())).id;
    } catch (error) {
      // Two first guest sign-ins at once: the other one created it.
      const created = getUserByUsername(deps.db, GUEST_USERNAME);
      if (created !== null) return created.id;
      throw error;
    }
  }

  async function login(request: Request): Promise<Response> {
    const fields = await readFields(request);
    const next = safeNext(fields.next);
    if (truthy(fields.guest_login)) {
      if (!deps.allowGuest()) return jsonError(403, "GUEST_DISABLED", "Guest access is not enabled on this server.");
      const guestId = await guestAccount();
      const guest = getUserById(deps.db, guestId);
      if (guest === null || guest.disabled || guest.role !== "guest") return jsonError(403, "GUEST_DISABLED", "Guest access is not available.");
      // A guest session is always a browser-session cookie (never remembered).
      return startSession(request, guestId, false, next, "Login successful");
    }
    const checked = await checkCredentials(request, fields, () => loginRefused(request, next));
    if (checked instanceof Response) return checked;
    return startSession(request, checked.userId, truthy(fields.remember_me ?? fields.remember), next, "Login successful");
  }

  /** Second sign-in step: the temporary token from `/login` plus a TOTP or recovery code. */
  async function verifySecondFactor(request: Request): Promise<Response> {
    const started = performance.now();
    const fields = await readFields(request);
    const code = (fields.code || fields.backup_code || "").trim();
    // Single use: a wrong code means signing in again (and the password attempt stays counted).
    const redeemed = fields.mfa_temp_token ? deps.tickets.redeem(fields.mfa_temp_token, "mfa", now()) : { ok: false as const };
    if (!redeemed.ok || code === "") {
      await padTo(started, LOGIN_FLOOR_MS);
      return jsonError(401, "INVALID_CREDENTIALS", "Invalid credentials");
    }
    const userId = redeemed.userId;
    const second = looksLikeRecoveryCode(code) ? useRecoveryCode(deps.db, userId, code, now()) : await verifyLoginCode(deps.db, deps.mfaKey, userId, code, now());
    await padTo(started, LOGIN_FLOOR_MS);
    const user = getUserById(deps.db, userId);
    if (second.status !== "ok") {
      deps.signInFailed?.(request, user?.username ?? "");
      return jsonError(401, "INVALID_CREDENTIALS", "Invalid credentials");
    }
    if (user === null || user.disabled) return jsonError(401, "INVALID_CREDENTIALS", "Invalid credentials");
    deps.regulator.recordSuccess(user.username, now());
    deps.signInSucceeded?.(request, userId, user.username);
    return startSession(request, userId, truthy(fields.remember_me ?? fields.remember), safeNext(fields.next), "Login successful");
  }

  /**
   * Re-entry of the signed-in user's password before a security change: regulated and timed
   * like a sign-in, so a stolen session cannot be used to guess the password.
   */
  async function passwordConfirmed(request: Request, username: string, password: string): Promise<boolean> {
    const started = performance.now();
    const attempt = deps.regulator.takeAttempt(regulationAddress(deps.clientIp(request)), now());
    let ok = false;
    if (attempt.allowed && !deps.regulator.accountBanned(username, now())) {
      deps.regulator.recordFailure(username, now());
      ok = (await checkUserPassword(deps.db, username, password, deps.passwordSettings)).ok;
      if (ok) deps.regulator.recordSuccess(username, now());
    }
    await padTo(started, LOGIN_FLOOR_MS);
    return ok;
  }

  /** Enrolment: a signed-in user (with their password again) gets a new secret and its QR code. */
  async function mfaSetup(request: Request): Promise<Response> {
    const fields = await readFields(request);
    let enrolling: { userId: string; username: string };
    if (fields.mfa_temp_token) {
      // Forced enrolment: the temporary token from the sign-in stands for the password.
      const userId = deps.tickets.peek(fields.mfa_temp_token, "mfa-setup", now());
      const user = userId === null ? null : getUserById(deps.db, userId);
      if (user === null || user.disabled) return jsonError(401, "MFA_TOKEN_INVALID", "This sign-in has expired; sign in again.");
      enrolling = { userId: user.id, username: user.username };
    } else {
      const identity = await deps.resolveIdentity(request);
      if (identity.kind !== "user" || identity.credential.kind !== "session") return jsonError(401, "AUTH_REQUIRED", "Sign in in a browser session to set up two-factor authentication.");
      if (!(await passwordConfirmed(request, identity.username, fields.password ?? ""))) {
        return jsonError(403, "PASSWORD_REQUIRED", "Enter your current password to change two-factor authentication.");
      }
      enrolling = { userId: identity.userId, username: identity.username };
    }
    try {
      const begun = await beginEnrolment(deps.db, deps.mfaKey, enrolling.userId, enrolling.username, now());
      return new Response(
        JSON.stringify({ message: "Scan the QR code, then confirm with a code.", provisioning_uri: begun.otpauthUri, secret: begun.secret, qr_svg: begun.qrSvg }),
        { headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" } },
      );
    } catch (error) {
      if (error instanceof MfaError) return jsonError(409, error.code.toUpperCase(), error.message);
      throw error;
    }
  }

  async function mfaConfirm(request: Request): Promise<Response> {
    const fields = await readFields(request);
    let userId: string;
    let keepJti: string | undefined;
    if (fields.mfa_temp_token) {
      const peeked = deps.tickets.peek(fields.mfa_temp_token, "mfa-setup", now());
      if (peeked === null) return jsonError(401, "MFA_TOKEN_INVALID", "This sign-in has expired; sign in again.");
      userId = peeked;
    } else {
      const identity = await deps.resolveIdentity(request);
      if (identity.kind !== "user" || identity.credential.kind !== "session") return jsonError(401, "AUTH_REQUIRED", "Sign in first.");
      userId = identity.userId;
      keepJti = identity.credential.jti;
    }
    // Guesses at a pending enrolment's code are regulated like passwords (a stolen session must
    // not be able to try codes until one fits and then read the recovery codes).
    const guessKey = `mfa-enrolment:${userId}`;
    if (deps.regulator.accountBanned(guessKey, now())) return jsonError(429, "TOO_MANY_ATTEMPTS", "Too many wrong codes; wait a few minutes and try again.");
    try {
      const confirmed = await confirmEnrolment(deps.db, deps.mfaKey, userId, fields.code ?? "", now());
      if (!confirmed.ok) {
        deps.regulator.recordFailure(guessKey, now());
        return jsonError(400, "BAD_CODE", "That code is not right; check the time on your device and try again.");
      }
      deps.regulator.recordSuccess(guessKey, now());
      // A new second factor ends the account's other sessions.
      deps.sessions.revokeAllForUser(userId, now(), keepJti);
      deps.credentialsRevoked();
      if (fields.mfa_temp_token) {
        // Forced enrolment done: the temporary token is used up and the session starts now.
        const redeemed = deps.tickets.redeem(fields.mfa_temp_token, "mfa-setup", now());
        if (!redeemed.ok) return jsonError(401, "MFA_TOKEN_INVALID", "This sign-in has expired; sign in again.");
        // The sign-in that the enrolment completes.
        deps.signInSucceeded?.(request, userId, getUserById(deps.db, userId)?.username ?? "");
        const started = await startSession(request, userId, truthy(fields.remember_me ?? fields.remember), safeNext(fields.next), "MFA enabled successfully", { recovery_codes: confirmed.recoveryCodes });
        return started;
      }
      return new Response(JSON.stringify({ message: "MFA enabled successfully", recovery_codes: confirmed.recoveryCodes }), {
        headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
      });
    } catch (error) {
      if (error instanceof MfaError) return jsonError(409, error.code.toUpperCase(), error.message);
      throw error;
    }
  }

  /** Removing one's own second factor takes the password and a current code. */
  async function mfaDisable(request: Request): Promise<Response> {
    const started = performance.now();
    const identity = await deps.resolveIdentity(request);
    if (identity.kind !== "user" || identity.credential.kind !== "session") return jsonError(401, "AUTH_REQUIRED", "Sign in first.");
    // A role that requires the second factor cannot drop it (an admin can reset a lost one).
    if (deps.permissionsOf(identity.role).mfa_required === true) {
      return jsonError(403, "MFA_REQUIRED_BY_ROLE", "Your role requires two-factor authentication, so it cannot be removed. If you lost your app, use a recovery code or ask an administrator to reset it.");
    }
    const fields = await readFields(request);
    // Code guesses are limited on their own: the right password must not make them free.
    const guessKey = `mfa-disable:${identity.userId}`;
    if (deps.regulator.accountBanned(guessKey, now())) {
      await padTo(started, LOGIN_FLOOR_MS);
      return jsonError(429, "TOO_MANY_ATTEMPTS", "Too many wrong codes; wait a few minutes and try again.");
    }
    const passwordOk = await passwordConfirmed(request, identity.username, fields.password ?? "");
    const code = (fields.code ?? "").trim();
    const second = passwordOk && code !== "" ? (looksLikeRecoveryCode(code) ? useRecoveryCode(deps.db, identity.userId, code, now()) : await verifyLoginCode(deps.db, deps.mfaKey, identity.userId, code, now())) : null;
    if (passwordOk && second !== null && second.status !== "ok") deps.regulator.recordFailure(guessKey, now());
    await padTo(started, LOGIN_FLOOR_MS);
    if (second === null || second.status !== "ok") return jsonError(403, "CONFIRMATION_REQUIRED", "Enter your password and a current code to remove two-factor authentication.");
    deps.regulator.recordSuccess(guessKey, now());
    resetMfa(deps.db, identity.userId);
    deps.sessions.revokeAllForUser(identity.userId, now(), identity.credential.jti);
    deps.credentialsRevoked();
    return new Response(JSON.stringify({ message: "Two-factor authentication removed." }), { headers: { "content-type": "application/json; charset=utf-8" } });
  }

  async function logout(request: Request): Promise<Response> {
    // Another site may link here (a top-level navigation passes the origin check), but must not
    // be able to sign the user out: a cross-site GET only shows the sign-in page.
    // A GET signs out only when the browser says the user asked for it (a typed address, or a
    // link on our own pages); anything else (another site, no fetch metadata) gets a button.
    if (request.method === "GET") {
      const site = request.headers.get("sec-fetch-site");
      if (site === "cross-site") return new Response(null, { status: 302, headers: { location: "/login" } });
      if (site !== "same-origin" && site !== "none") return page(LOGOUT_CONFIRMATION);
    }
    const identity = await deps.resolveIdentity(request);
    if (identity.kind === "user" && identity.credential.kind === "session") {
      deps.sessions.revoke(identity.credential.jti, now());
      deps.credentialsRevoked();
    }
    const cookie = clearedCookie(deps.isSecure(request));
    if (wantsHtml(request) || request.method === "GET") return new Response(null, { status: 302, headers: { location: "/login", "set-cookie": cookie } });
    return new Response(JSON.stringify({ message: "Logged out" }), { headers: { "content-type": "application/json; charset=utf-8", "set-cookie": cookie } });
  }

  async function setup(request: Request): Promise<Response> {
    const started = performance.now();
    const fields = await readFields(request);
    if (ownerExists(deps.db)) return jsonError(409, "ALREADY_SET_UP", "The owner account exists already; sign in instead.");
    if (!fields.token || !consumeSetupToken(fields.token)) {
      await padTo(started, LOGIN_FLOOR_MS);
      return jsonError(403, "BAD_SETUP_TOKEN", "This setup link is not valid (used, expired or mistyped). Restart the gateway for a new one, or use `mss-login user add`.");
    }
    try {
      const user = await createUser(deps.db, { username: (fields.username ?? "").trim(), password: fields.password ?? "", role: "owner" }, deps.passwordSettings, now());
      deps.log.info("owner account created", { username: user.username, via: "setup link" });
      deps.setupDone();
      // A role that requires a second factor signs in through the enrolment instead of getting
      // a session straight from the setup form (it would be the one session without it).
      if (deps.permissionsOf("owner").mfa_required === true) {
        if (wantsHtml(request)) return new Response(null, { status: 303, headers: { location: "/login?created=owner" } });
        return new Response(JSON.stringify({ message: "Owner created. Sign in to set up two-factor authentication.", redirect_url: "/login?created=owner" }), {
          headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
        });
      }
      return startSession(request, user.id, false, "/", "Owner created");
    } catch (error) {
      // The link stays usable after a refused password: undo the consumption.
      deps.db.update(setupTokens).set({ usedAt: null }).where(eq(setupTokens.tokenHash, hashToken(fields.token))).run();
      if (error instanceof AccountError) return jsonError(400, error.code, error.message);
      throw error;
    }
  }

  async function me(request: Request): Promise<Response> {
    const identity = await deps.resolveIdentity(request);
    const body =
      identity.kind === "user"
        ? {
            username: identity.username,
            role: identity.role,
            groups: [identity.role],
            is_admin: identity.role === "owner" || identity.role === "admin",
            mfa_enabled: mfaStatus(deps.db, identity.userId).state === "enabled",
            permissions: deps.permissionsOf(identity.role),
          }
        : { username: null, role: "guest", groups: ["guest"], is_admin: false, mfa_enabled: false, permissions: {} };
    return new Response(JSON.stringify(body), { headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" } });
  }

  /** Step-up: the signed-in owner or admin re-enters their password before admin writes. */
  async function stepUp(request: Request): Promise<Response> {
    const identity = await deps.resolveIdentity(request);
    if (identity.kind !== "user" || identity.credential.kind !== "session") return jsonError(401, "AUTH_REQUIRED", "Sign in in a browser session first (API tokens with the admin scope need no step-up).");
    const fields = await readFields(request);
    if (!(await passwordConfirmed(request, identity.username, fields.password ?? ""))) return jsonError(403, "PASSWORD_REQUIRED", "That is not your current password.");
    const rotated = await deps.sessions.stepUp(identity.credential.jti, now());
    if (rotated === null) return jsonError(401, "AUTH_REQUIRED", "Sign in first.");
    deps.credentialsRevoked();
    return new Response(JSON.stringify({ status: "ok", valid_for_seconds: deps.stepUpSeconds(), jwt_token: rotated.token }), {
      headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "set-cookie": sessionCookie(rotated.token, rotated.cookieMaxAgeSeconds, deps.isSecure(request)) },
    });
  }

  async function ticket(request: Request): Promise<Response> {
    const identity = await deps.resolveIdentity(request);
    if (identity.kind !== "user" || identity.credential.kind === "ticket") return jsonError(401, "AUTH_REQUIRED", "Sign in (or send an API token) to get a ticket.");
    if (identity.credential.kind === "api-token" && !identity.credential.scopes.includes("read")) return jsonError(403, "TOKEN_SCOPE", 'This API token has no "read" scope.');
    const fields = await readFields(request);
    const purpose = fields.purpose === "view" ? "view" : fields.purpose === "ws" || fields.purpose === undefined ? "ws" : null;
    if (purpose === null) return jsonError(400, "BAD_PURPOSE", 'A ticket is for "ws" or "view".');
    const credential = identity.credential;
    const issued = deps.tickets.issue({
      userId: identity.userId,
      purpose,
      sessionJti: credential.kind === "session" ? credential.jti : null,
      apiTokenId: credential.kind === "api-token" ? credential.tokenId : null,
      now: now(),
    });
    return new Response(JSON.stringify({ ticket: issued.ticket, purpose, expires_in: 60 }), { headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" } });
  }

  const routes = new Elysia({ name: "auth" })
    .get("/login", async ({ request }) => {
      // Nobody can sign in yet (the owner may still come through /setup while others exist).
      if (countUsers(deps.db) === 0) return page(`<!doctype html><meta charset="utf-8"><link rel="stylesheet" href="/mss-login/static/pages.css"><main class="card"><h1>Not set up yet</h1><p>Open the one-time setup link printed on the gateway's console, or create the owner with <code>mss-login user add</code>.</p></main>`);
      const identity = await deps.resolveIdentity(request);
      if (identity.kind === "user") return new Response(null, { status: 302, headers: { location: safeNext(new URL(request.url).searchParams.get("next")) } });
      return page(deps.allowGuest() ? (loginPage as unknown as string).replace("<!--guest-->", GUEST_BUTTON) : loginPage);
    })
    .post("/login", ({ request }) => login(request))
    .get("/logout", ({ request }) => logout(request))
    .post("/logout", ({ request }) => logout(request))
    .get("/setup", () => (ownerExists(deps.db) ? new Response(null, { status: 302, headers: { location: "/login" } }) : renderPage(setupPage, { min_password_length: String(deps.passwordSettings.minLength) })))
    .post("/setup", ({ request }) => setup(request))
    .get("/mss-login/api/me", ({ request }) => me(request))
    .get("/api/mss-login/api/me", ({ request }) => me(request))
    .post("/mss-login/api/mfa/verify", ({ request }) => verifySecondFactor(request))
    .post("/api/mss-login/api/mfa/verify", ({ request }) => verifySecondFactor(request))
    .post("/mss-login/api/mfa/setup", ({ request }) => mfaSetup(request))
    .post("/api/mss-login/api/mfa/setup", ({ request }) => mfaSetup(request))
    .post("/mss-login/api/mfa/verify-setup", ({ request }) => mfaConfirm(request))
    .post("/api/mss-login/api/mfa/verify-setup", ({ request }) => mfaConfirm(request))
    .post("/mss-login/api/mfa/disable", ({ request }) => mfaDisable(request))
    .post("/api/mss-login/api/mfa/disable", ({ request }) => mfaDisable(request))
    .post("/mss-login/api/step-up", ({ request }) => stepUp(request))
    .post("/api/mss-login/api/step-up", ({ request }) => stepUp(request))
    .post("/mss-login/api/ticket", ({ request }) => ticket(request))
    .post("/api/mss-login/api/ticket", ({ request }) => ticket(request))
    .get("/mss-login/static/:file", ({ params }) => {
      const file = Object.hasOwn(STATIC_FILES, params.file) ? STATIC_FILES[params.file] : undefined;
      if (!file) return jsonError(404, "NOT_FOUND", "No such file.");
      return new Response(file.body, { headers: { "content-type": file.type, "cache-control": "no-cache", "x-content-type-options": "nosniff" } });
    });

  return { routes, announceSetupLink, checkCredentials, readFields, confirmPassword: passwordConfirmed };
}

