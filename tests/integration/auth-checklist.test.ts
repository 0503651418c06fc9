/**
 * Checklist sections 5.4, 5.5, 5.6 and 5.13 of /work/shared/spec/peers-and-security.md, as
 * scenarios through the real gateway against the fake ComfyUI: the request, the status, body
 * fragments, and what is stored afterwards (read from the database or seen through the API).
 * Cases the code does not meet yet are `test.todo` with the test that should pass (run them with
 * `bun test --todo tests/integration/auth-checklist.test.ts`: each must still fail).
 *
 * Coverage map (item → where it is proven; "this file" = tests/integration/auth-checklist.test.ts;
 * sign-in = tests/integration/sign-in.test.ts; admin-accounts = tests/integration/admin-accounts.test.ts;
 * forwarding = tests/integration/forwarding.test.ts; cli-user = tests/integration/cli-user.test.ts;
 * unit/X = tests/unit/X.test.ts). TODO = a gap in the code, written as test.todo here.
 *
 * 5.4 Tokens, JWT, sessions
 *  29 JWT algorithm attacks    → this file :: "29: alg none, another algorithm, another key and key hints in the header get nowhere; only HS256 with the configured key does"
 *                                   (includes a token signed with secret.key itself: sessions are signed with a key derived from it)
 *                                 + this file :: "29: a token signed with the configured key but another HMAC algorithm (HS384, HS512) or another header is refused"
 *                                 + unit/sessions :: "exactly one algorithm: HS512, RS256 and key hints in the header (kid, jku, jwk) get nowhere (checklist 5.4.29)"
 *                                 + sign-in :: "forged and expired-looking credentials are refused the same way"
 *  30 claim checks, kinds apart → this file :: "30: exp in the past, nbf in the future or another sub are refused even with the real key"
 *                                 + this file :: "30: ws and view tickets, MFA tokens and session JWTs are not interchangeable; a ticket needs a known purpose"
 *                                   (nobody mints an mfa, mfa-setup or password-reset ticket; a reset link is no view ticket or bearer: "31: a password reset through ...")
 *                                 + sign-in :: "credentials are not interchangeable: a ticket, an MFA token or an API token is no session, and the reverse (5.4.30)"
 *                                 (aud/iss: not checked, the gateway signs one JWT kind only; typ: only JWT or none, in the 29 header test)
 *  31 revocation               → logout: sign-in :: "a browser session runs a prompt end to end; logout kills the cookie at once"
 *                                 password reset by link: this file :: "31: a password reset through an administrator's link ends the user's sessions and API tokens"
 *                                 own password change: this file :: "31/36: a user changes their own password: the current one first; their other sessions end, this one stays"
 *                                 CLI passwd: this file :: "31: `mss-login user passwd` also revokes the user's API tokens" + cli-user :: "passwd also revokes the account's API tokens"
 *                                 MFA reset: admin-accounts :: "resetting a user's second factor ends their sessions and lets them in with the password"
 *                                   + CLI: this file :: "51: the command line resets a lost second factor: ..."
 *                                 role change (HTTP and CLI): this file :: "31/33: a role change ends the user's sessions; a promotion to admin also revokes their API tokens"
 *                                   + this file :: "31/33: a user promoted to admin must sign in again, and enrol the second factor the admin role requires, before acting as admin"
 *                                 deletion: this file :: "31: deleting a user ends their session, API token and unused ticket (rows cascade away)"
 *  32 API token storage        → this file :: "32: an API token is mss_ + 256 bits, stored only as its SHA-256, scoped, expiring, revocable, and shows its last use"
 *                                 + unit/api-tokens-tickets :: "a token is mss_ + 256 bits, stored only as its SHA-256, and checks out with its scopes"
 *  33 session fixation         → login: sign-in :: "a planted session cookie is replaced at sign-in (5.4.33)"
 *                                 MFA completion: this file :: "33: a planted cookie is replaced when the second step completes"
 *                                 forced enrolment: this file :: "33: a planted cookie is replaced when a forced enrolment completes"
 *                                 privilege change: this file :: "33: a step-up (password re-entry for admin writes) continues the session under a new id; the old id is dead"
 *                                   + this file :: "33: the /register form's inline step-up (current_password) also answers with a new session id"
 *                                   + the two role-change tests under 31
 *  34 cookie attributes        → sign-in :: "cookie attributes: HttpOnly, SameSite=Lax, Path=/, no Domain; over HTTPS (per a trusted proxy) Secure and __Host- (5.4.34)"
 *                                 + this file :: "34: remember-me sets Max-Age from remember_days (stored as such); logout clears with the same attributes"
 *                                 plain HTTP warned: this file :: "34: plain HTTP is a warned configuration: an http:// public origin, or listening beyond loopback without public_origins"
 *                                   (warned, not opted into: no setting is needed to serve plain HTTP beyond loopback, the default listen host being 0.0.0.0; see the report)
 *  35 timeouts                 → this file :: "35: idle and absolute limits are enforced from the stored session, not the cookie; admin sessions idle out sooner; use counts as activity"
 *                                 + unit/sessions :: "idle sessions end; owner/admin sessions idle out sooner; activity keeps a session alive", "the absolute lifetime ends a session"
 *                                 (WS activity: documented in the sessions.idle_hours setting; app.ts stillAllowedFor touches the session; no wire test)
 *  36 session management       → own list/kill: sign-in :: "list sessions, see the current one, revoke another"
 *                                 admin kills any: admin-accounts :: "ending another user's sessions works at once; disabling does too"
 *                                   + this file :: "36: an administrator ends all of a user's sessions and, on request, their API tokens"
 *                                 on credential change: this file :: "36: enrolling and removing a second factor end the account's other sessions, not the current one"
 *                                   + this file :: "31/36: a user changes their own password: ..." (other sessions end; API tokens stay)
 *                                   + this file :: "31: a password reset through an administrator's link ends the user's sessions and API tokens"
 *  37 token leakage            → Referrer-Policy on own pages: sign-in :: "pages the gateway serves refuse framing and leak no referrer (5.4.37, 5.5.42)"
 *                                   + this file :: "37: the setup and password-reset pages, whose URLs carry a token, send no referrer off-site"
 *                                 forwarded answers to ?token=/?access_token=/?ticket=: this file :: "37: an answer to a request with a credential in its address (?token=, ?access_token=, ?ticket=) carries Referrer-Policy: no-referrer"
 *                                 sign-in redirect: this file :: "37: a signed-out browser sent to sign in does not carry the address's ?token= or ?ticket= into the sign-in URL"
 *                                 logs: this file :: "37: passwords, cookies, bearer tokens, ?token=, tickets and api_key_comfy_org never reach the log"
 *                                   + unit/log :: "credentials inside ordinary values and messages are masked, whatever the field is called"
 *
 * 5.5 CSRF, CORS, clickjacking, redirects
 *  38 cross-site form POST     → sign-in :: "with a cookie, JSON routes refuse the content types a cross-site form could send"
 *                                 + this file :: "38: with a cookie, every JSON-only ComfyUI route refuses form content types and nothing is forwarded; bearer tokens are exempt"
 *                                 + this file :: "38: text/plain userdata and multipart uploads pass from the same origin only"
 *                                 admin APIs: this file :: "38: the gateway's JSON APIs refuse form content types from a cookie session; bearer tokens and the root pages' forms are not affected"
 *                                 Origin required on cookie writes: this file :: "38: a cookie-authenticated write without Origin or Sec-Fetch-Site is refused; either one, or a bearer token, passes"
 *  39 Origin: null             → forwarding :: "a foreign or null Origin is refused before anything is forwarded"
 *                                 + this file :: "39: Origin null is cross-site on the gateway's own routes too (login, logout, admin API)"
 *                                 (Origin null with Sec-Fetch-Site same-origin passes: the 38 Origin-required test)
 *  40 state change via GET     → this file :: "40: free memory, interrupt and admin writes do not answer GET; nothing is forwarded or changed"
 *                                 + sign-in :: "another site cannot sign the user out with a link"
 *                                 GET /logout: this file :: "40: GET /logout signs out only when the browser says the user asked (Sec-Fetch-Site same-origin or none); otherwise a button or the sign-in page"
 *  41 CORS                     → forwarding :: "upstream CORS headers never reach the client: the gateway owns cross-origin policy (checklist 5.5.41)"
 *                                 + this file :: "41: no Origin is ever reflected: preflights and requests from other origins get no CORS grant"
 *  42 clickjacking             → sign-in :: "pages the gateway serves refuse framing and leak no referrer (5.4.37, 5.5.42)"
 *                                 + this file :: "42: the setup, register and status pages refuse framing"
 *                                 ComfyUI page and error pages: this file :: "42: the ComfyUI page may be framed by the gateway's own origin only; the gateway's error pages by nobody"
 *                                   + this file :: "42: a ComfyUI that sets its own framing policy keeps it"
 *  43 login CSRF               → sign-in :: "login CSRF: another site cannot sign the victim in as the attacker (5.5.43)"
 *                                 + this file :: "43: cross-site sign-in attempts without an Origin, with Origin null, or at the second step and setup are refused"
 *  44 open redirect            → sign-in :: "a form post from a browser redirects to a same-site `next` only", "a non-ASCII or scheme-relative `next` falls back to /"
 *                                 + this file :: "44: the redirect corpus after a sign-in (form, JSON, already signed in, second step)"
 *
 * 5.6 Brute force, timing, enumeration
 *  45 spraying / stuffing      → per-account: sign-in :: "three failures ban the account; during the ban even the right password gets the wrong-password answer"
 *                                 per-IP: sign-in :: "an address gets a limited number of attempts per minute, then 429 with Retry-After"
 *                                 time-boxed ban, stored, ≤100: this file :: "45: the ban is time-boxed and stored; the owner gets back in when it ends; more than 100 failures cannot be configured"
 *                                 CLI unlock: cli-user :: "user unlock lifts a brute-force ban from the shell"
 *                                 local-console bypass: optional, not implemented (CLI unlock instead)
 *                                 + unit/regulation (all)
 *  46 ban oracle               → sign-in :: "three failures ban the account; during the ban even the right password gets the wrong-password answer"
 *                                 + this file :: "46: during a ban the right password gets byte-for-byte the wrong-password answer, after the same floor"
 *  47 user enumeration         → sign-in :: "wrong password and unknown user give the same answer, after at least 250 ms"
 *                                 + this file :: "47: unknown user, wrong password and disabled account look alike at /login and /generate_token"
 *                                 + this file :: "47: the second step answers a forged token, a missing code and a wrong code alike"
 *                                 reset: this file :: "47: a used, replaced, expired or mistyped reset link all get the same answer"
 *                                 (registration and reset links are made by administrators only: no username is typed by strangers)
 *  48 TOTP attacks             → guessing: this file :: "48: one guess per second-step token, and wrong codes count toward the account's ban"
 *                                   + this file :: "48: wrong codes at /mfa/disable are counted per account: after three, even the right code gets 429"
 *                                   + at /reset: this file :: "51: an administrator cannot choose a user's password: ..." (its last part)
 *                                   + sign-in :: "wrong codes at a pending enrolment are limited like passwords"
 *                                 replay, skew: this file :: "48: replay and skew: the next step works once, two steps ahead and older steps do not; recovery codes are stored hashed"
 *                                   + sign-in :: "enrol with password and QR, confirm, then sign in in two steps ...", unit/totp, unit/mfa
 *                                 recovery codes single use, hashed: sign-in (same test) + this file (same 48 test) + unit/mfa "single use, in any typed form ..."
 *  49 timing-safe compares     → this file :: "49: secrets are found by hash or compared in constant time"
 *                                 + this file 32 test (token_hash is SHA-256), unit/api-tokens-tickets, unit/mfa
 *  50 hash DoS                 → sign-in :: "an oversized or unmeasured body is not read, and is simply invalid credentials"
 *                                 + this file :: "50: a 1 MB password is refused without hashing; 100 characters work; over 1 KiB is refused when set"
 *                                 + unit/passwords :: "at most 1024 bytes of UTF-8, counted before anything else", "over-long input is refused before hashing"
 *  51 recovery                 → this file :: "51: no HTTP path skips an enrolled second factor (token by password, re-enrolment)"
 *                                 admin does not choose the password: this file :: "51: an administrator cannot choose a user's password: no route sets it; the reset link leaves the choice to the user and asks for their second factor"
 *                                   + admin-accounts :: "an admin never chooses a user's password: a single-use reset link does, and ends the user's sessions"
 *                                   (residual: the administrator receives the link; for a user without a second factor, or after
 *                                   the administrator's own POST .../mfa/reset, whoever holds the link chooses; see the report)
 *                                 CLI reset of a lost second factor: this file :: "51: the command line resets a lost second factor: the enrolment and recovery codes go, sessions end, the password alone signs in"
 *                                   + this file :: "51: the command line removes the owner's lost second factor; the owner enrols again at the next sign-in"
 *                                   + cli-user :: "reset-mfa removes a lost second factor and ends the sessions"
 *
 * 5.13 Bootstrap, recovery, secrets
 *  82 first-run takeover       → sign-in :: "first run: the console's one-time link creates the owner, once"
 *                                 + this file :: "82: before the owner exists nobody signs in and the first request does not win; the link lives 30 minutes, is stored hashed and works once"
 *                                 CLI create-owner: cli-user :: "creates the owner from piped input, migrating a fresh data directory"
 *  83 reset by file deletion   → this file :: "83: deleting the database does not reopen setup: the old link and old cookies are dead, a new console link is needed"
 *  84 signing keys             → this file :: "84: the key survives a restart (0600, in the data directory); deleting it rotates the key and ends every session"
 *                                 + unit/secret-key (CSPRNG 256 bits, 0600, refused when readable by others, never regenerated on a bad file)
 *                                 + the 29 test: the session-signing key is derived from secret.key (HKDF, "session-signing"), not secret.key itself
 *
 * Endpoints with no scenario elsewhere, covered here: POST /mss-login/api/mfa/disable (36, 48),
 * GET /setup (82), POST /mss-login/api/ticket with purpose "view" and bad purposes (30),
 * POST /mss-login/api/me/password (31/36), GET and POST /reset with a second factor (51, 47),
 * GET /logout without fetch metadata (40).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as OTPAuth from "otpauth";
import { startGateway } from "../../src/app.ts";
import { hashToken } from "../../src/auth/api-tokens.ts";
import { deriveKey } from "../../src/auth/secret-key.ts";
import { createSessionStore } from "../../src/auth/sessions.ts";
import { getUserByUsername } from "../../src/auth/users.ts";
import { ConfigError, loadConfig } from "../../src/config/index.ts";
import { applyMigrations, openDatabase, type OpenDatabase } from "../../src/db/index.ts";
import { createLogger } from "../../src/log.ts";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { cleanEnv, runCommand } from "../support/cli.ts";
import { createTestAccount, signInEnrolling, startTestGateway, TEST_PASSWORD, TEST_ENV, type TestGateway } from "../support/gateway.ts";

/** Many sign-ins from one address in this file: the per-address bucket has its own test in sign-in. */
const IP_BUCKET = { MSS_LOGIN_REGULATION__IP_ATTEMPTS_PER_MINUTE: "1000" };
const PASSWORD = "amber kettle meadow 58";
const LOGIN_FLOOR_MS = 250;

let fake: FakeComfyUI;
/** `tester` is the owner; its API token has every scope. Admins here sign in without a second factor. */
let gateway: TestGateway;

beforeAll(async () => {
  fake = await startFakeComfyUI({ multiUser: true });
  gateway = await startTestGateway(fake.url, [], IP_BUCKET, "owner");
  const changed = await asOwner("/mss-login/api/groups", { groups: { admin: { mfa_required: false } } }, "PUT");
  expect(changed.status).toBe(200);
});
afterAll(async () => {
  await gateway.stop();
  await fake.stop();
});

// ---------------------------------------------------------------------------------------------
// Helpers

/**
 * A JSON request. With a cookie and no Origin or fetch metadata of the test's own, it carries
 * `Sec-Fetch-Site: same-origin`, as a browser on the gateway's pages sends it (cookie writes
 * without either are refused: 38).
 */
function post(path: string, body: unknown, headers: Record<string, string> = {}, method = "POST", base = gateway.url) {
  const browser: Record<string, string> = "cookie" in headers && !("origin" in headers) && !("sec-fetch-site" in headers) ? { "sec-fetch-site": "same-origin" } : {};
  return fetch(base + path, { method, headers: { "content-type": "application/json", ...browser, ...headers }, body: JSON.stringify(body), redirect: "manual" });
}
/** A form post from the gateway's own page (its root pages take forms: /reset, /register, /logout). */
function postForm(path: string, fields: Record<string, string>, headers: Record<string, string> = {}, base = gateway.url) {
  return fetch(base + path, { method: "POST", headers: { "sec-fetch-site": "same-origin", "sec-fetch-mode": "navigate", accept: "text/html", ...headers }, body: new URLSearchParams(fields), redirect: "manual" });
}
function get(path: string, headers: Record<string, string> = {}, base = gateway.url) {
  return fetch(base + path, { headers, redirect: "manual" });
}
/** As the owner's all-scope API token (admin writes need no step-up). */
function asOwner(path: string, body?: unknown, method = body === undefined ? "GET" : "POST") {
  return gateway.fetch(path, body === undefined ? { method } : { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}
function cookieOf(response: Response): string {
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith("mss_session=") || c.startsWith("__Host-mss_session="));
  if (!cookie) throw new Error(`no session cookie (status ${response.status})`);
  return cookie.split(";")[0]!;
}
function jwtOf(cookie: string): string {
  return cookie.slice(cookie.indexOf("=") + 1);
}
async function signIn(username: string, password = PASSWORD, base = gateway.url): Promise<string> {
  return cookieOf(await post("/login", { username, password }, {}, "POST", base));
}
/** Creates an account through the users API (owner token); returns its username. */
async function makeUser(username: string, role: "admin" | "power" | "user" | "guest" = "user", password = PASSWORD): Promise<string> {
  const created = await asOwner("/mss-login/api/users", { username, password, role });
  expect(created.status).toBe(201);
  return username;
}
function withDb<T>(use: (database: OpenDatabase) => T, dataDir = gateway.dataDir): T {
  const database = openDatabase(dataDir);
  try {
    return use(database);
  } finally {
    database.close();
  }
}
function rows<T>(sql: string, ...params: Array<string | number | null>): T[] {
  return withDb((database) => database.sqlite.query(sql).all(...params) as T[]);
}
function userId(username: string): string {
  return withDb((database) => getUserByUsername(database.db, username)!.id);
}
/** secret.key as the file holds it (never used directly to sign anything). */
function rawSecret(dataDir = gateway.dataDir): string {
  return readFileSync(join(dataDir, "secret.key"), "utf8").trim();
}
/** The session-signing key, derived from secret.key the way the gateway derives it (auth/index.ts). */
function sessionKey(dataDir = gateway.dataDir): string {
  return Buffer.from(deriveKey(rawSecret(dataDir), "session-signing")).toString("base64url");
}
/**
 * A session issued the way /login issues it, without the sign-in's 250 ms floor: for scenarios
 * whose subject is not the sign-in itself.
 */
async function mintSession(username: string, dataDir = gateway.dataDir): Promise<string> {
  const key = sessionKey(dataDir);
  const database = openDatabase(dataDir);
  try {
    const store = createSessionStore(database.db, key, { idleMs: 12 * 3600_000, absoluteMs: 7 * 86_400_000, rememberMs: 30 * 86_400_000, adminIdleMs: 30 * 60_000, stepUpMs: 5 * 60_000 });
    const user = getUserByUsername(database.db, username)!;
    const issued = await store.issue({ userId: user.id, rememberMe: false, clientIp: "127.0.0.1", userAgent: "minted", now: Date.now() });
    return `mss_session=${issued.token}`;
  } finally {
    database.close();
  }
}
async function statusWith(cookie: string, path = "/api/queue", base = gateway.url): Promise<number> {
  return (await get(path, { cookie }, base)).status;
}
function totpFrom(secret: string) {
  return new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30, algorithm: "SHA1" });
}
/** Enrols a second factor from a browser session, through the API. */
async function enrol(cookie: string, password = PASSWORD, base = gateway.url) {
  const setup = await post("/mss-login/api/mfa/setup", { password }, { cookie }, "POST", base);
  expect(setup.status).toBe(200);
  const totp = totpFrom(((await setup.json()) as { secret: string }).secret);
  const confirmed = await post("/mss-login/api/mfa/verify-setup", { code: totp.generate() }, { cookie }, "POST", base);
  expect(confirmed.status).toBe(200);
  return { totp, recoveryCodes: ((await confirmed.json()) as { recovery_codes: string[] }).recovery_codes };
}
/**
 * Waits out the last two seconds of a 30-second step, so that a code made now is judged by the
 * server in the same step (a test about "two steps ahead" must not straddle a boundary).
 */
async function awayFromStepBoundary(): Promise<void> {
  const into = Date.now() % 30_000;
  if (into > 28_000) await Bun.sleep(30_000 - into + 50);
}
/** The code `steps` time steps from now. */
function codeAt(totp: OTPAuth.TOTP, steps: number): string {
  return totp.generate({ timestamp: Date.now() + steps * 30_000 });
}
const b64url = (data: string | Uint8Array) => Buffer.from(data).toString("base64url");
/** A JWT signed with HMAC over `key` (UTF-8), or unsigned for alg none. */
function craftJwt(header: Record<string, unknown>, payload: Record<string, unknown>, key: string | null, hash: "sha256" | "sha384" | "sha512" = "sha256"): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${key === null ? "" : createHmac(hash, key).update(input).digest("base64url")}`;
}
function claimsOf(jwt: string): { sub: string; jti: string; exp: number } {
  return JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString("utf8")) as { sub: string; jti: string; exp: number };
}

interface BareGateway {
  url: string;
  /** The one-time setup link printed on the console at start, if any. */
  link: string | null;
  token: string | null;
  stop(): Promise<void>;
}
/** The gateway on a data directory the test keeps (for restarts), its console captured. */
async function startOn(dataDir: string, env: Record<string, string> = {}): Promise<BareGateway> {
  const { config } = loadConfig({ argv: ["--data-dir", dataDir, "--host", "127.0.0.1", "--port", "0", "--upstream", fake.url], env: { ...TEST_ENV, ...IP_BUCKET, ...env }, cwd: dataDir });
  const database = openDatabase(dataDir);
  applyMigrations(database.sqlite);
  let console = "";
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    console += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  let running: Awaited<ReturnType<typeof startGateway>>;
  try {
    running = await startGateway({ config, database, log: createLogger("error") });
  } finally {
    process.stderr.write = write;
  }
  const link = /(http:\/\/\S+\/setup\?token=\S+)/.exec(console)?.[1] ?? null;
  return {
    url: running.url,
    link,
    token: link === null ? null : new URL(link).searchParams.get("token"),
    async stop() {
      await running.stop();
      database.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// 5.4 Tokens, JWT, sessions

describe("5.4 tokens, JWT, sessions", () => {
  test("29: alg none, another algorithm, another key and key hints in the header get nowhere; only HS256 with the configured key does", async () => {
    await makeUser("jwt_user");
    const cookie = await mintSession("jwt_user");
    const claims = claimsOf(jwtOf(cookie));
    const key = sessionKey();
    const attacker = "attacker-chosen-key-0123456789abcdef";
    const attempts: Record<string, string> = {
      none: craftJwt({ alg: "none", typ: "JWT" }, claims, null),
      noneEmpty: `${b64url(JSON.stringify({ alg: "none" }))}.${b64url(JSON.stringify(claims))}`,
      hs512OtherKey: craftJwt({ alg: "HS512", typ: "JWT" }, claims, attacker, "sha512"),
      hs512HeaderSha256Mac: craftJwt({ alg: "HS512", typ: "JWT" }, claims, key),
      hs256OtherKey: craftJwt({ alg: "HS256", typ: "JWT" }, claims, attacker),
      kidTraversal: craftJwt({ alg: "HS256", kid: "../../../../dev/null" }, claims, ""),
      kidSql: craftJwt({ alg: "HS256", kid: "x' UNION SELECT 'attacker-chosen-key-0123456789abcdef" }, claims, attacker),
      jku: craftJwt({ alg: "HS256", jku: "http://127.0.0.1:1/jwks.json" }, claims, attacker),
      x5u: craftJwt({ alg: "HS256", x5u: "http://127.0.0.1:1/cert.pem" }, claims, attacker),
      jwk: craftJwt({ alg: "HS256", jwk: { kty: "oct", k: b64url(attacker) } }, claims, attacker),
      rs256: craftJwt({ alg: "RS256" }, claims, attacker),
      // secret.key itself is not the signing key: sessions are signed with a key derived from it.
      hs256RawSecret: craftJwt({ alg: "HS256", typ: "JWT" }, claims, rawSecret()),
    };
    for (const [name, token] of Object.entries(attempts)) {
      const viaCookie = await get("/api/queue", { cookie: `mss_session=${token}` });
      const viaBearer = await get("/api/queue", { authorization: `Bearer ${token}` });
      expect({ name, cookie: viaCookie.status, bearer: viaBearer.status }).toEqual({ name, cookie: 401, bearer: 401 });
      expect(await viaCookie.json()).toMatchObject({ code: "AUTH_INVALID" });
    }
    // The control: the same claims signed HS256 with the configured key are the session (and a
    // harmless header hint changes nothing about which key is used).
    expect(await statusWith(`mss_session=${craftJwt({ alg: "HS256", typ: "JWT" }, claims, key)}`)).toBe(200);
    expect(await statusWith(`mss_session=${craftJwt({ alg: "HS256", kid: "other" }, claims, key)}`)).toBe(200);
  });

  test("29: a token signed with the configured key but another HMAC algorithm (HS384, HS512) or another header is refused", async () => {
    // sessions.ts accepts only the header it writes, {"alg":"HS256"} (typ JWT tolerated), before
    // the library (which would take any HMAC algorithm the header names) sees the token.
    await makeUser("jwt_alg_user");
    const cookie = await mintSession("jwt_alg_user");
    const claims = claimsOf(jwtOf(cookie));
    const key = sessionKey();
    const attempts: Record<string, string> = {
      hs384: craftJwt({ alg: "HS384", typ: "JWT" }, claims, key, "sha384"),
      hs512: craftJwt({ alg: "HS512", typ: "JWT" }, claims, key, "sha512"),
      hs512NoTyp: craftJwt({ alg: "HS512" }, claims, key, "sha512"),
      lowerCaseAlg: craftJwt({ alg: "hs256", typ: "JWT" }, claims, key),
      otherTyp: craftJwt({ alg: "HS256", typ: "at+jwt" }, claims, key),
      crit: craftJwt({ alg: "HS256", crit: ["exp"] }, claims, key),
      noHeaderAlg: craftJwt({ typ: "JWT" }, claims, key),
    };
    for (const [name, token] of Object.entries(attempts)) {
      const viaCookie = await get("/api/queue", { cookie: `mss_session=${token}` });
      const viaBearer = await get("/api/queue", { authorization: `Bearer ${token}` });
      expect({ name, cookie: viaCookie.status, bearer: viaBearer.status }).toEqual({ name, cookie: 401, bearer: 401 });
      expect(await viaCookie.json()).toMatchObject({ code: "AUTH_INVALID" });
    }
    // The gateway's own token is HS256 and still works; the session row was not touched.
    expect(JSON.parse(Buffer.from(jwtOf(cookie).split(".")[0]!, "base64url").toString("utf8"))).toMatchObject({ alg: "HS256" });
    expect(await statusWith(cookie)).toBe(200);
    expect(rows<{ revoked_at: number | null }>("SELECT revoked_at FROM sessions WHERE jti = ?", claims.jti)[0]!.revoked_at).toBeNull();
  });

  test("30: exp in the past, nbf in the future or another sub are refused even with the real key", async () => {
    await makeUser("claims_user");
    await makeUser("claims_other");
    const cookie = await mintSession("claims_user");
    const claims = claimsOf(jwtOf(cookie));
    const key = sessionKey();
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: "HS256", typ: "JWT" };
    const cases: Record<string, Record<string, unknown>> = {
      expired: { ...claims, exp: now - 10 },
      notYetValid: { ...claims, nbf: now + 3600 },
      otherSub: { ...claims, sub: userId("claims_other") },
      noJti: { sub: claims.sub, exp: claims.exp },
      noExp: { sub: claims.sub, jti: claims.jti },
      unknownJti: { ...claims, jti: crypto.randomUUID() },
    };
    for (const [name, payload] of Object.entries(cases)) {
      expect({ name, status: await statusWith(`mss_session=${craftJwt(header, payload, key)}`) }).toEqual({ name, status: 401 });
    }
    // The session row itself is untouched by the attempts.
    expect(await statusWith(cookie)).toBe(200);
  });

  test("30: ws and view tickets, MFA tokens and session JWTs are not interchangeable; a ticket needs a known purpose", async () => {
    const ticketFor = async (purpose: string) => {
      const response = await gateway.fetch("/mss-login/api/ticket", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ purpose }) });
      return { status: response.status, body: (await response.json()) as { ticket?: string; purpose?: string; expires_in?: number; code?: string } };
    };
    // Only ws and view: nobody mints their own second-step, enrolment or password-reset ticket.
    for (const purpose of ["admin", "mfa", "mfa-setup", "password-reset"]) {
      expect({ purpose, ...(await ticketFor(purpose)) }).toMatchObject({ purpose, status: 400, body: { code: "BAD_PURPOSE" } });
    }
    const view = await ticketFor("view");
    expect(view).toMatchObject({ status: 200, body: { purpose: "view", expires_in: 60 } });
    const ws = await ticketFor("ws");
    const viewTicket = view.body.ticket!;
    const wsTicket = ws.body.ticket!;
    expect(viewTicket).toMatch(/^mst_[A-Za-z0-9_-]{43}$/);
    const upgrade = { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" };

    // A view ticket does not open the WebSocket; a ws ticket does not fetch an image.
    expect((await get(`/ws?clientId=x1&ticket=${viewTicket}`, upgrade)).status).toBe(401);
    expect((await get(`/api/view?filename=none.png&ticket=${wsTicket}`)).status).toBe(401);
    // Neither was spent by the wrong use: each still works once for its own purpose.
    expect((await get(`/api/view?filename=none.png&type=output&ticket=${viewTicket}`)).status).not.toBe(401);
    expect((await get(`/api/view?filename=none.png&type=output&ticket=${viewTicket}`)).status).toBe(401);
    // A session JWT or an API token is no ticket.
    await makeUser("kinds_user");
    const cookie = await mintSession("kinds_user");
    expect((await get(`/api/view?filename=none.png&ticket=${jwtOf(cookie)}`)).status).toBe(401);
    expect((await get(`/ws?clientId=x2&ticket=${gateway.account.token}`, upgrade)).status).toBe(401);
    // A ticket is not accepted by the gateway's own routes either (tickets are for /ws and /view).
    expect(await (await get("/mss-login/api/me", { authorization: `Bearer ${wsTicket}` })).json()).toMatchObject({ username: null });
    // Stored: both tickets hashed, with their purpose; the view ticket spent, the ws ticket not.
    const stored = rows<{ purpose: string; used_at: number | null }>("SELECT purpose, used_at FROM tickets WHERE ticket_hash IN (?, ?) ORDER BY purpose", hashToken(viewTicket), hashToken(wsTicket));
    expect(stored.map((t) => [t.purpose, t.used_at !== null])).toEqual([
      ["view", true],
      ["ws", false],
    ]);
  });

  test("31: a password reset through an administrator's link ends the user's sessions and API tokens", async () => {
    await makeUser("reset_me", "power");
    const cookie = await mintSession("reset_me");
    const token = ((await (await post("/mss-login/generate_token", { label: "script" }, { cookie })).json()) as { jwt_token: string }).jwt_token;
    expect((await get("/api/queue", { authorization: `Bearer ${token}` })).status).toBe(200);
    const id = userId("reset_me");

    // The link: single use, a day long, stored hashed; a newer link replaces an older one.
    const issue = async () => {
      const response = await asOwner("/mss-login/api/users/reset_me/password-reset", {});
      expect(response.status).toBe(200);
      const body = (await response.json()) as { reset_path: string; valid_hours: number; username: string };
      const path = body.reset_path;
      expect(path).toMatch(/^\/reset\?token=mst_[A-Za-z0-9_-]{43}$/);
      expect(body).toMatchObject({ status: "ok", username: "reset_me", valid_hours: 24 });
      return { path, ticket: new URL(path, gateway.url).searchParams.get("token")! };
    };
    const older = await issue();
    const link = await issue();
    expect((await get(older.path)).status).toBe(400);
    const [stored] = rows<{ created_at: number; expires_at: number; used_at: number | null }>("SELECT created_at, expires_at, used_at FROM tickets WHERE ticket_hash = ? AND purpose = 'password-reset'", hashToken(link.ticket));
    expect(stored!.expires_at - stored!.created_at).toBe(24 * 3600_000);
    expect(stored!.used_at).toBeNull();
    // Making a link changes nothing yet, and the link is no other kind of credential.
    expect(await statusWith(cookie)).toBe(200);
    expect((await get(`/api/view?filename=none.png&type=output&ticket=${link.ticket}`)).status).toBe(401);
    expect(await (await get("/mss-login/api/me", { authorization: `Bearer ${link.ticket}` })).json()).toMatchObject({ username: null });

    // The user opens it and chooses; a password the policy refuses leaves the link usable.
    const page = await get(link.path);
    expect(page.status).toBe(200);
    const form = await page.text();
    expect(form).toContain("reset_me");
    expect(form).not.toContain('name="code"'); // no second factor enrolled
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    const weak = await postForm("/reset", { token: link.ticket, password: "short" });
    expect(weak.status).toBe(400);
    expect(rows<{ used_at: number | null }>("SELECT used_at FROM tickets WHERE ticket_hash = ?", hashToken(link.ticket))[0]!.used_at).toBeNull();
    const done = await postForm("/reset", { token: link.ticket, password: "a brand new passphrase 9" });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain("Password changed");

    const session = await get("/api/queue", { cookie });
    expect(session.status).toBe(401);
    expect(await session.json()).toMatchObject({ code: "AUTH_REVOKED" });
    const bearer = await get("/api/queue", { authorization: `Bearer ${token}` });
    expect(bearer.status).toBe(401);
    expect(await bearer.json()).toMatchObject({ code: "AUTH_REVOKED" });
    // Stored: every session and token of the user revoked, the link spent, the password changed.
    expect(rows<{ n: number }>("SELECT count(*) AS n FROM sessions WHERE user_id = ? AND revoked_at IS NULL", id)[0]!.n).toBe(0);
    expect(rows<{ n: number }>("SELECT count(*) AS n FROM api_tokens WHERE user_id = ? AND revoked_at IS NULL", id)[0]!.n).toBe(0);
    expect(rows<{ used_at: number | null }>("SELECT used_at FROM tickets WHERE ticket_hash = ?", hashToken(link.ticket))[0]!.used_at).not.toBeNull();
    expect((await postForm("/reset", { token: link.ticket, password: "yet another passphrase 3" })).status).toBe(400);
    expect((await post("/login", { username: "reset_me", password: PASSWORD })).status).toBe(401);
    expect((await post("/login", { username: "reset_me", password: "a brand new passphrase 9" })).status).toBe(200);
  });

  test("31/36: a user changes their own password: the current one first; their other sessions end, this one stays", async () => {
    await makeUser("self_change");
    const current = await mintSession("self_change");
    const other = await mintSession("self_change");
    const change = (body: Record<string, string>, headers: Record<string, string> = { cookie: current }) => post("/mss-login/api/me/password", body, headers);
    // Without the current password, or with a weak new one, nothing changes.
    const wrong = await change({ current_password: "not my password at all", new_password: "my own new passphrase 6" });
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toMatchObject({ code: "PASSWORD_REQUIRED" });
    expect((await change({ new_password: "my own new passphrase 6" })).status).toBe(400);
    expect((await change({ current_password: PASSWORD, new_password: "short" })).status).toBe(400);
    expect([await statusWith(current), await statusWith(other)]).toEqual([200, 200]);
    // From a session only: an API token cannot change its owner's password.
    const byToken = await asOwner("/mss-login/api/me/password", { current_password: TEST_PASSWORD, new_password: "my own new passphrase 6" });
    expect(byToken.status).toBe(403);
    expect(await byToken.json()).toMatchObject({ code: "SESSION_REQUIRED" });

    const changed = await change({ current_password: PASSWORD, new_password: "my own new passphrase 6" });
    expect(changed.status).toBe(200);
    expect(await changed.json()).toMatchObject({ status: "ok" });
    expect(await statusWith(current)).toBe(200);
    const ended = await get("/api/queue", { cookie: other });
    expect(ended.status).toBe(401);
    expect(await ended.json()).toMatchObject({ code: "AUTH_REVOKED" });
    const id = userId("self_change");
    expect(rows<{ jti: string }>("SELECT jti FROM sessions WHERE user_id = ? AND revoked_at IS NULL", id).map((r) => r.jti)).toEqual([claimsOf(jwtOf(current)).jti]);
    expect((await post("/login", { username: "self_change", password: PASSWORD })).status).toBe(401);
    expect((await post("/login", { username: "self_change", password: "my own new passphrase 6" })).status).toBe(200);
  });

  test("31: deleting a user ends their session, API token and unused ticket (rows cascade away)", async () => {
    await makeUser("doomed", "power");
    const cookie = await mintSession("doomed");
    const token = ((await (await post("/mss-login/generate_token", { label: "script" }, { cookie })).json()) as { jwt_token: string }).jwt_token;
    const ticket = ((await (await post("/mss-login/api/ticket", { purpose: "view" }, { cookie })).json()) as { ticket: string }).ticket;
    const id = userId("doomed");

    const deleted = await asOwner("/mss-login/api/users/doomed", {}, "DELETE");
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({ status: "ok" });
    expect(await statusWith(cookie)).toBe(401);
    expect((await get("/api/queue", { authorization: `Bearer ${token}` })).status).toBe(401);
    expect((await get(`/api/view?filename=none.png&type=output&ticket=${ticket}`)).status).toBe(401);
    for (const table of ["users", "sessions", "api_tokens", "tickets"]) {
      const column = table === "users" ? "id" : "user_id";
      expect({ table, n: rows<{ n: number }>(`SELECT count(*) AS n FROM ${table} WHERE ${column} = ?`, id)[0]!.n }).toEqual({ table, n: 0 });
    }
  });

  test("31/33: a role change ends the user's sessions; a promotion to admin also revokes their API tokens", async () => {
    await makeUser("promoted_one", "power");
    const id = userId("promoted_one");
    const open = (table: "sessions" | "api_tokens") => rows<{ n: number }>(`SELECT count(*) AS n FROM ${table} WHERE user_id = ? AND revoked_at IS NULL`, id)[0]!.n;

    // power → user: the session ends (a new role starts with a new sign-in); the API token stays,
    // and now acts with the lesser role (read on every request).
    let cookie = await mintSession("promoted_one");
    const token = ((await (await post("/mss-login/generate_token", { label: "script" }, { cookie })).json()) as { jwt_token: string }).jwt_token;
    expect((await asOwner("/mss-login/api/users/promoted_one", { role: "user" }, "PUT")).status).toBe(200);
    const ended = await get("/api/queue", { cookie });
    expect(ended.status).toBe(401);
    expect(await ended.json()).toMatchObject({ code: "AUTH_REVOKED" });
    expect([open("sessions"), open("api_tokens")]).toEqual([0, 1]);
    expect(await (await get("/mss-login/api/me", { authorization: `Bearer ${token}` })).json()).toMatchObject({ username: "promoted_one", role: "user" });

    // user → admin: sessions and API tokens end (a token made under a lesser role is no admin token).
    cookie = await mintSession("promoted_one");
    expect((await asOwner("/mss-login/api/users/promoted_one", { role: "admin" }, "PUT")).status).toBe(200);
    expect(await statusWith(cookie)).toBe(401);
    expect((await get("/mss-login/api/users", { authorization: `Bearer ${token}` })).status).toBe(401);
    const revoked = await get("/api/queue", { authorization: `Bearer ${token}` });
    expect(revoked.status).toBe(401);
    expect(await revoked.json()).toMatchObject({ code: "AUTH_REVOKED" });
    expect([open("sessions"), open("api_tokens")]).toEqual([0, 0]);
    // A new sign-in carries the new role.
    expect(await (await get("/mss-login/api/me", { cookie: await signIn("promoted_one") })).json()).toMatchObject({ username: "promoted_one", role: "admin" });

    // The command line does the same: `mss-login user role` ends the sessions.
    cookie = await mintSession("promoted_one");
    const demoted = await runCommand(["user", "role", "--username", "promoted_one", "--role", "user", "--data-dir", gateway.dataDir], { cwd: gateway.dataDir, env: cleanEnv(TEST_ENV) });
    expect(demoted.code).toBe(0);
    expect(demoted.stdout).toContain("promoted_one is now user");
    await Bun.sleep(1100); // the identity cache (1 s) sees a change made elsewhere
    expect(await statusWith(cookie)).toBe(401);
    expect(open("sessions")).toBe(0);
    expect(rows<{ role: string }>("SELECT role FROM users WHERE id = ?", id)[0]!.role).toBe("user");
  });

  test("31: `mss-login user passwd` also revokes the user's API tokens", async () => {
    await makeUser("cli_passwd", "power");
    const cookie = await mintSession("cli_passwd");
    const token = ((await (await post("/mss-login/generate_token", { label: "script" }, { cookie })).json()) as { jwt_token: string }).jwt_token;
    expect((await get("/api/queue", { authorization: `Bearer ${token}` })).status).toBe(200);
    const changed = await runCommand(["user", "passwd", "--username", "cli_passwd", "--password-stdin", "--data-dir", gateway.dataDir], {
      cwd: gateway.dataDir,
      env: cleanEnv(TEST_ENV),
      stdin: "another long passphrase 4\n",
    });
    expect(changed.code).toBe(0);
    expect(changed.stdout).toContain("1 API token(s) revoked");
    await Bun.sleep(1100); // the identity cache (1 s) sees a change made elsewhere
    expect(await statusWith(cookie)).toBe(401);
    const bearer = await get("/api/queue", { authorization: `Bearer ${token}` });
    expect(bearer.status).toBe(401);
    expect(await bearer.json()).toMatchObject({ code: "AUTH_REVOKED" });
    const id = userId("cli_passwd");
    expect(rows<{ n: number }>("SELECT count(*) AS n FROM sessions WHERE user_id = ? AND revoked_at IS NULL", id)[0]!.n).toBe(0);
    expect(rows<{ n: number }>("SELECT count(*) AS n FROM api_tokens WHERE user_id = ? AND revoked_at IS NULL", id)[0]!.n).toBe(0);
    expect((await post("/login", { username: "cli_passwd", password: "another long passphrase 4" })).status).toBe(200);
  });

  test("32: an API token is mss_ + 256 bits, stored only as its SHA-256, scoped, expiring, revocable, and shows its last use", async () => {
    await makeUser("token_keeper", "power");
    const cookie = await mintSession("token_keeper");
    const created = await post("/mss-login/generate_token", { label: "backup", expire_hours: "24", scopes: "read,run" }, { cookie });
    expect(created.status).toBe(200);
    const body = (await created.json()) as { jwt_token: string; id: string; scopes: string[]; expires_in_hours: number };
    expect(body).toMatchObject({ scopes: ["read", "run"], expires_in_hours: 24 });
    const token = body.jwt_token;
    expect(token).toMatch(/^mss_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token.slice(4), "base64url").length).toBe(32);

    // Stored: the SHA-256 only; the clear token is nowhere in the database files.
    const [row] = rows<{ token_hash: string; scopes: string; expires_at: number; created_at: number; last_used_at: number | null }>(
      "SELECT token_hash, scopes, expires_at, created_at, last_used_at FROM api_tokens WHERE id = ?",
      body.id,
    );
    expect(row!.token_hash).toBe(new Bun.CryptoHasher("sha256").update(token).digest("hex"));
    expect(JSON.parse(row!.scopes)).toEqual(["read", "run"]);
    expect(row!.expires_at - row!.created_at).toBe(24 * 3600_000);
    expect(row!.last_used_at).toBeNull();
    for (const file of ["mss-login.db", "mss-login.db-wal"]) {
      const path = join(gateway.dataDir, file);
      if (existsSync(path)) expect(readFileSync(path).includes(token.slice(4))).toBe(false);
    }

    // Beyond a year, or no expiry for a role that may not have it: refused, nothing stored.
    expect(await (await post("/mss-login/generate_token", { label: "long", expire_hours: "9000" }, { cookie })).json()).toMatchObject({ code: "BAD_EXPIRY" });
    expect(await (await post("/mss-login/generate_token", { label: "never", expire_hours: "0" }, { cookie })).json()).toMatchObject({ code: "NON_EXPIRING_NOT_ALLOWED" });
    expect(rows<{ n: number }>("SELECT count(*) AS n FROM api_tokens WHERE user_id = ?", userId("token_keeper"))[0]!.n).toBe(1);

    // Used: the listing shows when and from where, never the secret.
    expect((await get("/api/queue", { authorization: `Bearer ${token}` })).status).toBe(200);
    const listed = (await (await get("/mss-login/api/tokens", { cookie })).json()) as { tokens: Array<Record<string, unknown>> };
    expect(listed.tokens).toHaveLength(1);
    expect(listed.tokens[0]).toMatchObject({ id: body.id, label: "backup", scopes: ["read", "run"], last_used_ip: "127.0.0.1", last_used_at_iso: expect.any(String), expires_iso: expect.any(String) });
    expect(JSON.stringify(listed)).not.toContain(token.slice(4));
    expect(JSON.stringify(listed)).not.toContain(row!.token_hash);

    // Revoked: refused at once, stored as revoked, gone from the listing.
    expect((await post("/mss-login/api/tokens", { id: body.id }, { cookie }, "DELETE")).status).toBe(200);
    const after = await get("/api/queue", { authorization: `Bearer ${token}` });
    expect(after.status).toBe(401);
    expect(await after.json()).toMatchObject({ code: "AUTH_REVOKED" });
    expect(rows<{ revoked_at: number | null }>("SELECT revoked_at FROM api_tokens WHERE id = ?", body.id)[0]!.revoked_at).not.toBeNull();
    expect(((await (await get("/mss-login/api/tokens", { cookie })).json()) as { tokens: unknown[] }).tokens).toEqual([]);
  });

  test("33: a planted cookie is replaced when the second step completes", async () => {
    await makeUser("fixation_mfa");
    await makeUser("fixation_attacker");
    const { totp } = await enrol(await mintSession("fixation_mfa"));
    const planted = await mintSession("fixation_attacker");

    const first = await post("/login", { username: "fixation_mfa", password: PASSWORD }, { cookie: planted });
    expect(first.headers.getSetCookie()).toEqual([]);
    const { mfa_temp_token } = (await first.json()) as { mfa_temp_token: string };
    const second = await post("/mss-login/api/mfa/verify", { mfa_temp_token, code: codeAt(totp, 1) }, { cookie: planted });
    expect(second.status).toBe(200);
    const fresh = cookieOf(second);
    expect(fresh).not.toBe(planted);
    expect(await (await get("/mss-login/api/me", { cookie: fresh })).json()).toMatchObject({ username: "fixation_mfa", mfa_enabled: true });
    // The planted session is still only the attacker's.
    expect(await (await get("/mss-login/api/me", { cookie: planted })).json()).toMatchObject({ username: "fixation_attacker" });
    // Stored: a new session row for the victim, created by this sign-in.
    const jti = claimsOf(jwtOf(fresh)).jti;
    expect(rows<{ user_id: string }>("SELECT user_id FROM sessions WHERE jti = ?", jti)[0]!.user_id).toBe(userId("fixation_mfa"));
  });

  test("33: a step-up (password re-entry for admin writes) continues the session under a new id; the old id is dead", async () => {
    await makeUser("stepup_admin", "admin");
    const cookie = await mintSession("stepup_admin");
    const oldJti = claimsOf(jwtOf(cookie)).jti;
    const addUser = (session: string, username: string) => post("/mss-login/api/users", { username, password: PASSWORD, role: "user" }, { cookie: session });
    const needsStepUp = await addUser(cookie, "stepup_made_0");
    expect(needsStepUp.status).toBe(403);
    expect(await needsStepUp.json()).toMatchObject({ code: "STEP_UP_REQUIRED" });
    // A wrong password changes nothing.
    const wrong = await post("/mss-login/api/step-up", { password: "not my password at all" }, { cookie });
    expect(wrong.status).toBe(403);
    expect(wrong.headers.getSetCookie()).toEqual([]);
    expect(await statusWith(cookie)).toBe(200);

    const stepped = await post("/mss-login/api/step-up", { password: PASSWORD }, { cookie });
    expect(stepped.status).toBe(200);
    const body = (await stepped.json()) as { status: string; valid_for_seconds: number; jwt_token: string };
    expect(body).toMatchObject({ status: "ok", valid_for_seconds: 300 });
    const renewed = cookieOf(stepped);
    expect(renewed).toBe(`mss_session=${body.jwt_token}`);
    expect(renewed).not.toBe(cookie);
    for (const attribute of ["HttpOnly", "SameSite=Lax", "Path=/"]) expect(stepped.headers.getSetCookie()[0]).toContain(attribute);
    // The id known before the step-up is dead, and cannot step up again; the new one writes.
    const old = await get("/api/queue", { cookie });
    expect(old.status).toBe(401);
    expect(await old.json()).toMatchObject({ code: "AUTH_REVOKED" });
    expect((await post("/mss-login/api/step-up", { password: PASSWORD }, { cookie })).status).toBe(401);
    expect((await addUser(cookie, "stepup_made_1")).status).toBe(401);
    expect((await addUser(renewed, "stepup_made_2")).status).toBe(201);
    // Stored: the old row revoked; the new one marked stepped up, ending when the old would have.
    const newJti = claimsOf(body.jwt_token).jti;
    const [before, after] = [oldJti, newJti].map((jti) => rows<{ user_id: string; revoked_at: number | null; step_up_at: number | null; expires_at: number }>("SELECT user_id, revoked_at, step_up_at, expires_at FROM sessions WHERE jti = ?", jti)[0]!);
    expect(before!.revoked_at).not.toBeNull();
    expect(after).toMatchObject({ user_id: userId("stepup_admin"), revoked_at: null, step_up_at: expect.any(Number), expires_at: before!.expires_at });
    expect(rows("SELECT username FROM users WHERE username IN ('stepup_made_0', 'stepup_made_1')")).toEqual([]);
  });

  test("33: the /register form's inline step-up (current_password) also answers with a new session id", async () => {
    await makeUser("register_admin", "admin");
    const cookie = await mintSession("register_admin");
    const fields = { new_user_username: "registered_0", new_user_password: PASSWORD, role: "user" };
    const wrong = await postForm("/register", { ...fields, current_password: "not my password at all" }, { cookie });
    expect(wrong.status).toBe(400); // the form again, with the error
    expect(await wrong.text()).toContain("That is not your current password.");
    expect(wrong.headers.getSetCookie()).toEqual([]);
    expect(await statusWith(cookie)).toBe(200);
    expect(rows("SELECT id FROM users WHERE username = 'registered_0'")).toEqual([]);

    const created = await postForm("/register", { ...fields, current_password: PASSWORD }, { cookie });
    expect(created.status).toBe(200);
    const renewed = cookieOf(created);
    expect(renewed).not.toBe(cookie);
    expect(rows("SELECT id FROM users WHERE username = 'registered_0'")).toHaveLength(1);
    expect(await statusWith(cookie)).toBe(401);
    expect(await (await get("/mss-login/api/me", { cookie: renewed })).json()).toMatchObject({ username: "register_admin" });
    expect(rows<{ step_up_at: number | null }>("SELECT step_up_at FROM sessions WHERE jti = ?", claimsOf(jwtOf(renewed)).jti)[0]!.step_up_at).not.toBeNull();
    // Within the step-up window the new id writes without the password again.
    const again = await postForm("/register", { new_user_username: "registered_1", new_user_password: PASSWORD, role: "user" }, { cookie: renewed });
    expect(again.status).toBe(200);
    expect(again.headers.getSetCookie()).toEqual([]);
    expect(rows("SELECT id FROM users WHERE username = 'registered_1'")).toHaveLength(1);
  });

  test("34: remember-me sets Max-Age from remember_days (stored as such); logout clears with the same attributes", async () => {
    await makeUser("cookie_user");
    const remembered = await post("/login", { username: "cookie_user", password: PASSWORD, remember_me: "true" });
    expect(remembered.status).toBe(200);
    expect(await remembered.json()).toMatchObject({ remember_me: true });
    const setCookie = remembered.headers.getSetCookie()[0]!;
    expect(setCookie).toContain(`Max-Age=${30 * 86_400}`);
    for (const attribute of ["HttpOnly", "SameSite=Lax", "Path=/"]) expect(setCookie).toContain(attribute);
    expect(setCookie).not.toContain("Domain");
    const cookie = cookieOf(remembered);
    const [stored] = rows<{ remember_me: number; created_at: number; expires_at: number }>("SELECT remember_me, created_at, expires_at FROM sessions WHERE jti = ?", claimsOf(jwtOf(cookie)).jti);
    expect(stored!.remember_me).toBe(1);
    expect(stored!.expires_at - stored!.created_at).toBe(30 * 86_400_000);

    const out = await post("/logout", {}, { cookie });
    expect(out.status).toBe(200);
    expect(await out.json()).toEqual({ message: "Logged out" });
    const cleared = out.headers.getSetCookie()[0]!;
    expect(cleared).toStartWith("mss_session=;");
    for (const attribute of ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=0"]) expect(cleared).toContain(attribute);
    expect(rows<{ revoked_at: number | null }>("SELECT revoked_at FROM sessions WHERE jti = ?", claimsOf(jwtOf(cookie)).jti)[0]!.revoked_at).not.toBeNull();
  });

  test("34: plain HTTP is a warned configuration: an http:// public origin, or listening beyond loopback without public_origins", async () => {
    /** The WARN lines the gateway logs at start with these settings. */
    const warningsAt = async (host: string, env: Record<string, string>) => {
      const dataDir = mkdtempSync(join(tmpdir(), "mss-plain-"));
      const lines: string[] = [];
      const { config } = loadConfig({ argv: ["--data-dir", dataDir, "--host", host, "--port", "0", "--upstream", fake.url], env: { ...TEST_ENV, ...env }, cwd: dataDir });
      const database = openDatabase(dataDir);
      applyMigrations(database.sqlite);
      await createTestAccount(dataDir, "tester", "owner"); // no setup link on the console
      const running = await startGateway({ config, database, log: createLogger("warn", { write: (line) => lines.push(line) }) });
      await running.stop();
      database.close();
      rmSync(dataDir, { recursive: true, force: true });
      return lines.filter((line) => line.includes(" WARN ") && line.includes("serving over plain HTTP"));
    };
    const plain = await warningsAt("127.0.0.1", { MSS_LOGIN_PUBLIC_ORIGINS: "http://comfy.lan,https://comfy.example.com" });
    expect(plain).toHaveLength(1);
    expect(plain[0]).toContain("http://comfy.lan");
    expect(plain[0]).not.toContain("https://comfy.example.com");
    expect(await warningsAt("0.0.0.0", {})).toHaveLength(1);
    // TLS in front (an https:// public origin), or loopback only: nothing to warn about.
    expect(await warningsAt("0.0.0.0", { MSS_LOGIN_PUBLIC_ORIGINS: "https://comfy.example.com" })).toEqual([]);
    expect(await warningsAt("127.0.0.1", {})).toEqual([]);
  });

  test("35: idle and absolute limits are enforced from the stored session, not the cookie; admin sessions idle out sooner; use counts as activity", async () => {
    await makeUser("idle_user");
    await makeUser("idle_admin", "admin");
    const now = Date.now();
    const idle = await mintSession("idle_user");
    const expired = await mintSession("idle_user");
    const quietUser = await mintSession("idle_user");
    const quietAdmin = await mintSession("idle_admin");
    const active = await mintSession("idle_user");
    const set = (cookie: string, column: string, value: number) =>
      withDb((database) => database.sqlite.query(`UPDATE sessions SET ${column} = ? WHERE jti = ?`).run(value, claimsOf(jwtOf(cookie)).jti));
    // The cookies' JWTs stay valid for days; only the stored rows change.
    set(idle, "last_seen_at", now - 13 * 3600_000); // sessions.idle_hours = 12
    set(expired, "expires_at", now - 1000);
    set(quietUser, "last_seen_at", now - 31 * 60_000);
    set(quietAdmin, "last_seen_at", now - 31 * 60_000); // sessions.admin_idle_minutes = 30
    set(active, "last_seen_at", now - 2 * 60_000);

    const answer = async (cookie: string) => {
      const response = await get("/api/queue", { cookie });
      return { status: response.status, code: response.status === 200 ? null : ((await response.json()) as { code: string }).code };
    };
    expect(await answer(idle)).toEqual({ status: 401, code: "AUTH_IDLE" });
    expect(await answer(expired)).toEqual({ status: 401, code: "AUTH_EXPIRED" });
    expect(await answer(quietAdmin)).toEqual({ status: 401, code: "AUTH_IDLE" });
    expect(await answer(quietUser)).toEqual({ status: 200, code: null });
    // A browser is told in words, and sent to sign in again.
    const page = await get("/api/queue", { cookie: idle, accept: "text/html", "sec-fetch-mode": "navigate" });
    expect([page.status, page.headers.get("location")]).toEqual([302, "/login?next=%2Fapi%2Fqueue"]);

    // Use is activity: last_seen_at moves forward (written at most once a minute).
    expect(await answer(active)).toEqual({ status: 200, code: null });
    const lastSeen = rows<{ last_seen_at: number }>("SELECT last_seen_at FROM sessions WHERE jti = ?", claimsOf(jwtOf(active)).jti)[0]!.last_seen_at;
    expect(lastSeen).toBeGreaterThanOrEqual(now);
  });

  test("36: an administrator ends all of a user's sessions and, on request, their API tokens", async () => {
    await makeUser("kill_all", "power");
    const one = await mintSession("kill_all");
    const two = await mintSession("kill_all");
    const token = ((await (await post("/mss-login/generate_token", { label: "t" }, { cookie: one })).json()) as { jwt_token: string }).jwt_token;
    const listed = (await (await asOwner("/mss-login/api/users/kill_all/sessions")).json()) as { username: string; sessions: Array<{ jti: string }> };
    expect(listed.username).toBe("kill_all");
    expect(listed.sessions.map((s) => s.jti).sort()).toEqual([claimsOf(jwtOf(one)).jti, claimsOf(jwtOf(two)).jti].sort());

    const bad = await asOwner("/mss-login/api/users/kill_all/sessions/revoke", { tokens: "perhaps" });
    expect(bad.status).toBe(400);
    const revoked = await asOwner("/mss-login/api/users/kill_all/sessions/revoke", { tokens: true });
    expect(await revoked.json()).toEqual({ status: "ok", sessions_revoked: 2, tokens_revoked: 1 });
    expect([await statusWith(one), await statusWith(two), (await get("/api/queue", { authorization: `Bearer ${token}` })).status]).toEqual([401, 401, 401]);
    const id = userId("kill_all");
    expect(rows<{ n: number }>("SELECT count(*) AS n FROM sessions WHERE user_id = ? AND revoked_at IS NULL", id)[0]!.n).toBe(0);
    expect(rows<{ n: number }>("SELECT count(*) AS n FROM api_tokens WHERE user_id = ? AND revoked_at IS NULL", id)[0]!.n).toBe(0);
    // Only someone the caller may manage: an unknown user is 404.
    expect((await asOwner("/mss-login/api/users/nobody_at_all/sessions/revoke", {})).status).toBe(404);
  });

  test("36: enrolling and removing a second factor end the account's other sessions, not the current one", async () => {
    await makeUser("mfa_sessions");
    const current = await mintSession("mfa_sessions");
    const other = await mintSession("mfa_sessions");
    const { totp } = await enrol(current);
    expect(await statusWith(current)).toBe(200);
    const refused = await get("/api/queue", { cookie: other });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ code: "AUTH_REVOKED" });
    expect(rows<{ enabled: number }>("SELECT enabled FROM mfa_enrolments WHERE user_id = ?", userId("mfa_sessions"))[0]!.enabled).toBe(1);

    // Removing it takes the password and a current code; either missing changes nothing.
    const third = await mintSession("mfa_sessions");
    const noCode = await post("/mss-login/api/mfa/disable", { password: PASSWORD }, { cookie: current });
    expect(noCode.status).toBe(403);
    expect(await noCode.json()).toMatchObject({ code: "CONFIRMATION_REQUIRED" });
    expect((await post("/mss-login/api/mfa/disable", { password: "not the password", code: codeAt(totp, 1) }, { cookie: current })).status).toBe(403);
    expect((await gateway.fetch("/mss-login/api/mfa/disable", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ password: TEST_PASSWORD }) })).status).toBe(401);
    expect(await statusWith(third)).toBe(200);
    const removed = await post("/mss-login/api/mfa/disable", { password: PASSWORD, code: codeAt(totp, 1) }, { cookie: current });
    expect(removed.status).toBe(200);
    expect(await removed.json()).toEqual({ message: "Two-factor authentication removed." });
    expect([await statusWith(current), await statusWith(third)]).toEqual([200, 401]);
    expect(rows("SELECT user_id FROM mfa_enrolments WHERE user_id = ?", userId("mfa_sessions"))).toEqual([]);
    expect(await (await get("/mss-login/api/me", { cookie: current })).json()).toMatchObject({ mfa_enabled: false });
  });

  test("37: the setup and password-reset pages, whose URLs carry a token, send no referrer off-site", async () => {
    const local = await startTestGateway(fake.url, [], IP_BUCKET); // a plain user only: setup is still open
    try {
      const page = await fetch(`${local.url}/setup?token=some-setup-token`);
      expect(page.status).toBe(200);
      expect(["same-origin", "no-referrer"]).toContain(page.headers.get("referrer-policy")!);
      expect(page.headers.get("cache-control")).toBe("no-store");
    } finally {
      await local.stop();
    }
    await makeUser("reset_referrer");
    const { reset_path } = (await (await asOwner("/mss-login/api/users/reset_referrer/password-reset", {})).json()) as { reset_path: string };
    for (const path of [reset_path, "/reset?token=mst_not-a-real-link"]) {
      const page = await get(path);
      expect(["same-origin", "no-referrer"]).toContain(page.headers.get("referrer-policy")!);
      expect(page.headers.get("cache-control")).toBe("no-store");
      expect(await page.text()).toContain('<meta name="referrer" content="no-referrer">');
    }
  });

  test("37: an answer to a request with a credential in its address (?token=, ?access_token=, ?ticket=) carries Referrer-Policy: no-referrer", async () => {
    const local = await startTestGateway(fake.url, [], { ...IP_BUCKET, MSS_LOGIN_AUTH__ALLOW_QUERY_TOKEN: "true" }, "power");
    try {
      for (const name of ["token", "access_token"]) {
        const page = await fetch(`${local.url}/?${name}=${local.account.token}`);
        expect({ name, status: page.status }).toEqual({ name, status: 200 });
        expect(page.headers.get("content-type")).toContain("text/html");
        expect({ name, policy: page.headers.get("referrer-policy") }).toEqual({ name, policy: "no-referrer" });
      }
      // The same page with the token in a header: nothing in the address to protect.
      const plain = await local.fetch("/");
      expect(plain.status).toBe(200);
      expect(plain.headers.get("referrer-policy")).toBeNull();
      // A single-use ticket in the address of an image.
      const ticket = ((await (await local.fetch("/mss-login/api/ticket", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ purpose: "view" }) })).json()) as { ticket: string }).ticket;
      const view = await fetch(`${local.url}/api/view?filename=none.png&type=output&ticket=${ticket}`);
      expect(view.status).not.toBe(401);
      expect(view.headers.get("referrer-policy")).toBe("no-referrer");
    } finally {
      await local.stop();
    }
  });

  test("37: a signed-out browser sent to sign in does not carry the address's ?token= or ?ticket= into the sign-in URL", async () => {
    // Today: pipeline.ts builds the sign-in redirect from target.forwardPath + target.search,
    // credential parameters included. With auth.allow_query_token off (the default) a valid API
    // token in ?token= is not accepted, so a browser opening /?token=mss_… is sent to
    // /login?next=%2F%3Ftoken%3Dmss_…: the long-lived token lands in the sign-in page's address
    // and history, and after signing in the browser is sent back to it. (The sign-in page's
    // Referrer-Policy same-origin keeps it from other sites.) Expected: the same parameters
    // withoutCredentialParams drops from the forwarded request are dropped from `next` too.
    const local = await startTestGateway(fake.url, [], IP_BUCKET, "power");
    try {
      const navigate = { accept: "text/html", "sec-fetch-mode": "navigate", "sec-fetch-site": "none" };
      const withToken = await get(`/?token=${local.account.token}`, navigate, local.url);
      expect([withToken.status, withToken.headers.get("location")]).toEqual([302, "/login?next=%2F"]);
      const withTicket = await get(`/api/view?filename=a.png&type=output&ticket=mst_${"A".repeat(43)}`, navigate, local.url);
      expect(withTicket.headers.get("location")).toBe(`/login?next=${encodeURIComponent("/api/view?filename=a.png&type=output")}`);
    } finally {
      await local.stop();
    }
  });

  test("37: passwords, cookies, bearer tokens, ?token=, tickets and api_key_comfy_org never reach the log", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "mss-logs-"));
    const account = await createTestAccount(dataDir, "tester", "power");
    const lines: string[] = [];
    const { config } = loadConfig({ argv: ["--data-dir", dataDir, "--host", "127.0.0.1", "--port", "0", "--upstream", fake.url], env: { ...TEST_ENV, ...IP_BUCKET }, cwd: dataDir });
    const database = openDatabase(dataDir);
    applyMigrations(database.sqlite);
    const running = await startGateway({ config, database, log: createLogger("debug", { write: (line) => lines.push(line) }) });
    const url = running.url;
    try {
      const wrongPassword = "Wrong-Password-Marker-8811";
      expect((await fetch(`${url}/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "tester", password: wrongPassword }) })).status).toBe(401);
      const login = await fetch(`${url}/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "tester", password: TEST_PASSWORD }) });
      const cookie = cookieOf(login);
      const bearer = { authorization: `Bearer ${account.token}` };
      expect((await fetch(`${url}/api/queue`, { headers: { cookie } })).status).toBe(200);
      expect((await fetch(`${url}/internal/logs?token=${account.token}`, { headers: bearer })).status).toBe(403); // refused: a debug line
      expect((await fetch(`${url}/api/queue?token=${account.token}`)).status).toBe(401);
      const ticket = ((await (await fetch(`${url}/mss-login/api/ticket`, { method: "POST", headers: { ...bearer, "content-type": "application/json" }, body: "{}" })).json()) as { ticket: string }).ticket;
      expect((await fetch(`${url}/api/view?filename=x.png&ticket=${ticket}`)).status).toBe(401); // a ws ticket
      const apiKey = "comfy-org-KEY-marker-5520";
      await fetch(`${url}/api/prompt`, { method: "POST", headers: { ...bearer, "content-type": "application/json" }, body: JSON.stringify({ prompt: {}, extra_data: { api_key_comfy_org: apiKey } }) });
      await fetch(`${url}/mss-login/api/step-up`, { method: "POST", headers: { cookie, "content-type": "application/json" }, body: JSON.stringify({ password: wrongPassword }) });

      expect(lines.length).toBeGreaterThan(0);
      expect(lines.some((line) => line.includes("request denied"))).toBe(true);
      const log = lines.join("\n");
      for (const secret of [wrongPassword, TEST_PASSWORD, jwtOf(cookie), account.token, account.token.slice(4), ticket, apiKey]) {
        expect({ secret, logged: log.includes(secret) }).toEqual({ secret, logged: false });
      }
    } finally {
      await running.stop();
      database.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 5.5 CSRF, CORS, clickjacking, redirects

describe("5.5 CSRF, CORS, clickjacking, redirects", () => {
  let alice: string;
  beforeAll(async () => {
    await makeUser("csrf_alice");
    alice = await mintSession("csrf_alice");
  });

  test("38: with a cookie, every JSON-only ComfyUI route refuses form content types and nothing is forwarded; bearer tokens are exempt", async () => {
    fake.clearRequests();
    const routes = ["/api/prompt", "/prompt", "/api/queue", "/api/history", "/api/interrupt", "/api/free", "/api/jobs/cancel", `/api/jobs/${crypto.randomUUID()}/cancel`];
    for (const path of routes) {
      for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", null]) {
        const headers: Record<string, string> = { cookie: alice, origin: gateway.url };
        if (type !== null) headers["content-type"] = type;
        const response = await fetch(gateway.url + path, { method: "POST", headers, body: '{"clear": true}' });
        expect({ path, type, status: response.status }).toEqual({ path, type, status: 415 });
        expect(await response.json()).toMatchObject({ code: "JSON_REQUIRED" });
      }
    }
    expect(fake.requests().filter((r) => r.method === "POST" && !r.target.startsWith("/api/users") && !r.target.startsWith("/users"))).toEqual([]);
    // A bearer token is never sent by a browser on its own: no content-type rule for it.
    const viaToken = await gateway.fetch("/api/queue", { method: "POST", headers: { "content-type": "text/plain" }, body: '{"clear": false}' });
    expect(viaToken.status).not.toBe(415);
  });

  test("38: text/plain userdata and multipart uploads pass from the same origin only", async () => {
    const userdata = (origin: string) =>
      fetch(`${gateway.url}/api/userdata/workflows%2Fcsrf.json?overwrite=true`, { method: "POST", headers: { cookie: alice, origin, "content-type": "text/plain;charset=UTF-8" }, body: '{"nodes":[]}' });
    fake.clearRequests();
    const foreign = await userdata("http://evil.example");
    expect(foreign.status).toBe(403);
    expect(await foreign.json()).toMatchObject({ code: "CROSS_ORIGIN_REQUEST" });
    expect(fake.requests().some((r) => r.target.includes("csrf.json"))).toBe(false);
    expect((await userdata(gateway.url)).status).toBe(200);
    expect(fake.requests().some((r) => r.target.includes("csrf.json"))).toBe(true);

    const upload = (headers: Record<string, string>) => {
      const form = new FormData();
      form.append("image", new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], { type: "image/png" }), "csrf.png");
      return fetch(`${gateway.url}/api/upload/image`, { method: "POST", headers: { cookie: alice, ...headers }, body: form });
    };
    fake.clearRequests();
    expect((await upload({ origin: "http://evil.example" })).status).toBe(403);
    expect((await upload({ "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors" })).status).toBe(403);
    expect(fake.requests().some((r) => r.target.includes("/upload"))).toBe(false);
    const sameOrigin = await upload({ origin: gateway.url, "sec-fetch-site": "same-origin" });
    expect([403, 415]).not.toContain(sameOrigin.status);
    expect(fake.requests().some((r) => r.target.includes("/upload/image"))).toBe(true);
  });

  test("38: the gateway's JSON APIs refuse form content types from a cookie session; bearer tokens and the root pages' forms are not affected", async () => {
    await makeUser("form_admin", "admin");
    await makeUser("form_target");
    const stepped = await post("/mss-login/api/step-up", { password: PASSWORD }, { cookie: await mintSession("form_admin") });
    expect(stepped.status).toBe(200);
    const admin = cookieOf(stepped); // stepped up: admin writes would be allowed as JSON
    const target = await mintSession("form_target");
    const fields = { username: "via_form", password: PASSWORD, role: "user" };
    const bodies: Array<[string, () => { body?: BodyInit; type?: string }]> = [
      ["urlencoded", () => ({ body: new URLSearchParams(fields) })],
      ["multipart", () => {
        const form = new FormData();
        for (const [name, value] of Object.entries(fields)) form.append(name, value);
        return { body: form };
      }],
      ["text/plain", () => ({ body: JSON.stringify(fields), type: "text/plain" })],
      ["none", () => ({ body: JSON.stringify(fields), type: "" })],
    ];
    const writes: Array<[string, string]> = [
      ["POST", "/mss-login/api/users"],
      ["POST", "/api/mss-login/users"],
      ["PUT", "/mss-login/api/users/form_target"],
      ["DELETE", "/mss-login/api/users/form_target"],
      ["POST", "/mss-login/api/users/form_target/sessions/revoke"],
      ["POST", "/mss-login/api/users/form_target/mfa/reset"],
      ["POST", "/mss-login/api/users/form_target/password-reset"],
      ["POST", "/mss-login/api/step-up"],
      ["POST", "/mss-login/api/me/password"],
      ["POST", "/mss-login/generate_token"],
      ["POST", "/mss-login/api/ticket"],
      ["PUT", "/mss-login/api/groups"],
    ];
    for (const [method, path] of writes) {
      for (const [kind, make] of bodies) {
        const { body, type } = make();
        const headers: Record<string, string> = { cookie: admin, origin: gateway.url, "sec-fetch-site": "same-origin" };
        if (type !== undefined && type !== "") headers["content-type"] = type;
        const init: RequestInit = { method, headers, body };
        if (type === "") init.body = new Blob([JSON.stringify(fields)]); // no content-type at all
        const response = await fetch(gateway.url + path, init);
        expect({ method, path, kind, status: response.status }).toEqual({ method, path, kind, status: 415 });
        expect(await response.json()).toMatchObject({ code: "JSON_REQUIRED" });
      }
    }
    // Nothing happened: no account, the target untouched, no link, no token.
    expect(rows("SELECT id FROM users WHERE username = 'via_form'")).toEqual([]);
    expect(await statusWith(target)).toBe(200);
    expect(rows("SELECT ticket_hash FROM tickets WHERE user_id = ? AND purpose = 'password-reset'", userId("form_target"))).toEqual([]);
    expect(rows("SELECT id FROM api_tokens WHERE user_id = ?", userId("form_admin"))).toEqual([]);
    // The same request as JSON is a write; a bearer token (never sent by a form) may send a form.
    expect((await post("/mss-login/api/users", fields, { cookie: admin })).status).toBe(201);
    const byToken = await gateway.fetch("/mss-login/api/users", { method: "POST", body: new URLSearchParams({ ...fields, username: "via_form_token" }) });
    expect(byToken.status).toBe(201);
    expect(rows("SELECT id FROM users WHERE username IN ('via_form', 'via_form_token')")).toHaveLength(2);
    // The root pages are forms: signing out with one works.
    const out = await postForm("/logout", {}, { cookie: target });
    expect(out.status).not.toBe(415);
    expect(await statusWith(target)).toBe(401);
  });

  test("38: a cookie-authenticated write without Origin or Sec-Fetch-Site is refused; either one, or a bearer token, passes", async () => {
    const userdata = (name: string, headers: Record<string, string>) =>
      fetch(`${gateway.url}/api/userdata/workflows%2F${name}.json?overwrite=true`, { method: "POST", headers: { "content-type": "text/plain", ...headers }, body: "{}" });
    fake.clearRequests();
    const bare = await userdata("no-origin", { cookie: alice });
    expect(bare.status).toBe(403);
    expect(await bare.json()).toMatchObject({ code: "ORIGIN_REQUIRED" });
    const prompt = await fetch(`${gateway.url}/api/prompt`, { method: "POST", headers: { cookie: alice, "content-type": "application/json" }, body: JSON.stringify({ prompt: {} }) });
    expect(prompt.status).toBe(403);
    expect(await prompt.json()).toMatchObject({ code: "ORIGIN_REQUIRED" });
    const ownApi = await fetch(`${gateway.url}/mss-login/api/ticket`, { method: "POST", headers: { cookie: alice, "content-type": "application/json" }, body: JSON.stringify({ purpose: "view" }) });
    expect(ownApi.status).toBe(403);
    expect(await ownApi.json()).toMatchObject({ code: "ORIGIN_REQUIRED" });
    const logout = await fetch(`${gateway.url}/logout`, { method: "POST", headers: { cookie: alice }, redirect: "manual" });
    expect(logout.status).toBe(403);
    expect(await statusWith(alice)).toBe(200);
    expect(fake.requests().some((r) => r.target.includes("no-origin.json") || (r.method === "POST" && r.target.includes("/prompt")))).toBe(false);
    expect(rows("SELECT ticket_hash FROM tickets WHERE user_id = ?", userId("csrf_alice"))).toEqual([]);
    // Reads need nothing; a write with either signal, or with a bearer token, goes through.
    expect(await statusWith(alice)).toBe(200);
    expect((await userdata("with-fetch-metadata", { cookie: alice, "sec-fetch-site": "same-origin" })).status).toBe(200);
    expect((await userdata("with-origin", { cookie: alice, origin: gateway.url })).status).toBe(200);
    expect((await userdata("null-origin-same-site", { cookie: alice, origin: "null", "sec-fetch-site": "same-origin" })).status).toBe(200);
    expect((await gateway.fetch("/api/userdata/workflows%2Fby-token.json?overwrite=true", { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" })).status).toBe(200);
    for (const name of ["with-fetch-metadata", "with-origin", "null-origin-same-site", "by-token"]) {
      expect({ name, forwarded: fake.requests().some((r) => r.target.includes(`${name}.json`)) }).toEqual({ name, forwarded: true });
    }
  });

  test("39: Origin null is cross-site on the gateway's own routes too (login, logout, admin API)", async () => {
    await makeUser("null_origin");
    const login = await post("/login", { username: "null_origin", password: PASSWORD }, { origin: "null" });
    expect(login.status).toBe(403);
    expect(await login.json()).toMatchObject({ code: "CROSS_ORIGIN_REQUEST" });
    expect(login.headers.getSetCookie()).toEqual([]);
    expect(rows("SELECT jti FROM sessions WHERE user_id = ?", userId("null_origin"))).toEqual([]);

    const cookie = await mintSession("null_origin");
    expect((await post("/logout", {}, { cookie, origin: "null" })).status).toBe(403);
    expect(await statusWith(cookie)).toBe(200);
    const created = await gateway.fetch("/mss-login/api/users", { method: "POST", headers: { origin: "null", "content-type": "application/json" }, body: JSON.stringify({ username: "from_null", password: PASSWORD }) });
    expect(created.status).toBe(403);
    expect(rows("SELECT id FROM users WHERE username = 'from_null'")).toEqual([]);
    // A sandboxed frame is reported as cross-site by fetch metadata, Origin null or not.
    expect((await post("/logout", {}, { cookie, origin: "null", "sec-fetch-site": "cross-site" })).status).toBe(403);
    expect(await statusWith(cookie)).toBe(200);
  });

  test("40: free memory, interrupt and admin writes do not answer GET; nothing is forwarded or changed", async () => {
    fake.clearRequests();
    for (const path of ["/api/free", "/free", "/api/interrupt", "/interrupt"]) {
      // The owner may use both, by POST only; a plain user is refused either way.
      const response = await gateway.fetch(path);
      expect({ path, status: response.status }).toEqual({ path, status: 405 });
      expect(response.headers.get("allow")).toBe("POST");
      expect([403, 405]).toContain((await get(path, { cookie: alice })).status);
    }
    expect(fake.requests().filter((r) => r.target.includes("free") || r.target.includes("interrupt"))).toEqual([]);
    await makeUser("get_target");
    const target = await mintSession("get_target");
    for (const path of ["/mss-login/api/users/get_target/sessions/revoke", "/mss-login/api/users/get_target/mfa/reset", "/mss-login/api/users/get_target/password-reset", "/mss-login/api/me/password", "/mss-login/api/step-up", "/mss-login/me/sessions/revoke", "/mss-login/api/mfa/disable"]) {
      const response = await gateway.fetch(path);
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
    }
    expect(await statusWith(target)).toBe(200);
  });

  test("40: GET /logout signs out only when the browser says the user asked (Sec-Fetch-Site same-origin or none); otherwise a button or the sign-in page", async () => {
    await makeUser("get_logout");
    const cookie = await mintSession("get_logout");
    const cleared = (response: Response) => response.headers.getSetCookie().some((c) => c.includes("Max-Age=0"));
    // No fetch metadata (an old browser following any link): a page with a same-origin POST button.
    const bare = await get("/logout", { cookie });
    expect(bare.status).toBe(200);
    const page = await bare.text();
    expect(page).toContain('<form method="post" action="/logout">');
    expect(page).toContain("Sign out");
    expect(bare.headers.get("x-frame-options")).toBe("DENY");
    expect(cleared(bare)).toBe(false);
    // Another site's link: the sign-in page, still signed in.
    const crossSite = await get("/logout", { cookie, "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document" });
    expect([crossSite.status, crossSite.headers.get("location")]).toEqual([302, "/login"]);
    expect(cleared(crossSite)).toBe(false);
    for (const site of ["same-site", "bogus"]) expect(cleared(await get("/logout", { cookie, "sec-fetch-site": site }))).toBe(false);
    expect(await statusWith(cookie)).toBe(200);
    expect(rows<{ revoked_at: number | null }>("SELECT revoked_at FROM sessions WHERE jti = ?", claimsOf(jwtOf(cookie)).jti)[0]!.revoked_at).toBeNull();
    // The button's POST, a link on the gateway's own pages, or a typed address do sign out.
    for (const how of ["button", "same-origin", "none"] as const) {
      const session = await mintSession("get_logout");
      const out = how === "button" ? await postForm("/logout", {}, { cookie: session }) : await get("/logout", { cookie: session, "sec-fetch-site": how, "sec-fetch-mode": "navigate" });
      expect({ how, cleared: cleared(out) }).toEqual({ how, cleared: true });
      expect({ how, status: await statusWith(session) }).toEqual({ how, status: 401 });
      expect(rows<{ revoked_at: number | null }>("SELECT revoked_at FROM sessions WHERE jti = ?", claimsOf(jwtOf(session)).jti)[0]!.revoked_at).not.toBeNull();
    }
  });

  test("41: no Origin is ever reflected: preflights and requests from other origins get no CORS grant", async () => {
    const evil = "http://evil.example";
    const preflight = await fetch(`${gateway.url}/api/prompt`, { method: "OPTIONS", headers: { origin: evil, "access-control-request-method": "POST", "access-control-request-headers": "content-type" } });
    expect(preflight.status).toBe(403);
    // A preflight carries no credentials: even from the gateway's own origin it grants nothing.
    const sameOrigin = await fetch(`${gateway.url}/api/prompt`, { method: "OPTIONS", headers: { origin: gateway.url, "access-control-request-method": "POST" } });
    expect(sameOrigin.status).toBe(401);
    const withToken = await gateway.fetch("/api/prompt", { method: "OPTIONS", headers: { origin: gateway.url, "access-control-request-method": "POST" } });
    expect(withToken.status).toBe(204);
    const own = await fetch(`${gateway.url}/mss-login/api/me`, { headers: { cookie: alice, origin: evil } });
    expect(own.status).toBe(403);
    const forwarded = await gateway.fetch("/api/queue", { headers: { origin: gateway.url } });
    expect(forwarded.status).toBe(200);
    for (const response of [preflight, sameOrigin, withToken, own, forwarded]) {
      for (const name of ["access-control-allow-origin", "access-control-allow-credentials", "access-control-allow-methods", "access-control-allow-headers"]) {
        expect({ name, value: response.headers.get(name) }).toEqual({ name, value: null });
      }
    }
  });

  test("42: the setup, register and status pages refuse framing", async () => {
    await makeUser("frame_admin", "admin");
    const admin = await mintSession("frame_admin");
    const local = await startTestGateway(fake.url, [], IP_BUCKET); // setup still open there
    try {
      const pages = [await fetch(`${local.url}/setup`), await get("/register", { cookie: admin }), await get("/mss-login/"), await get("/login")];
      for (const page of pages) {
        expect(page.status).toBe(200);
        expect(page.headers.get("x-frame-options")).toBe("DENY");
      }
      for (const page of [pages[0]!, pages[1]!, pages[3]!]) expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    } finally {
      await local.stop();
    }
  });

  test("42: the ComfyUI page may be framed by the gateway's own origin only; the gateway's error pages by nobody", async () => {
    for (const path of ["/", "/index.html"]) {
      const comfy = await gateway.fetch(path);
      expect({ path, status: comfy.status }).toEqual({ path, status: 200 });
      expect(comfy.headers.get("content-type")).toContain("text/html");
      expect(comfy.headers.get("x-frame-options")).toBe("SAMEORIGIN");
      expect(comfy.headers.get("content-security-policy")).toBe("frame-ancestors 'self'");
    }
    // Not HTML: nothing added (JSON cannot be framed into a clickable page).
    const json = await gateway.fetch("/api/queue");
    expect(json.headers.get("content-type")).toContain("application/json");
    expect(json.headers.get("x-frame-options")).toBeNull();
    // The gateway's own HTML error pages (unknown route, refused, signed out).
    const browser = { accept: "text/html", "sec-fetch-mode": "navigate" };
    for (const [name, response] of [
      ["not found", await get("/no/such/route/at/all", { cookie: alice, ...browser })],
      ["forbidden", await get("/internal/logs", { cookie: alice, ...browser })],
      ["method not allowed", await gateway.fetch("/api/free", { headers: browser })],
    ] as const) {
      expect({ name, type: response.headers.get("content-type") }).toEqual({ name, type: "text/html; charset=utf-8" });
      expect({ name, xfo: response.headers.get("x-frame-options") }).toEqual({ name, xfo: "DENY" });
      expect(response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    }
  });

  test("42: a ComfyUI that sets its own framing policy keeps it", async () => {
    // A ComfyUI whose page says DENY itself (the rest is the fake's): the gateway adds nothing over it.
    const upstream = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: (request) => {
        const url = new URL(request.url);
        if (url.pathname === "/") return new Response("<!doctype html><title>ComfyUI</title>", { headers: { "content-type": "text/html", "x-frame-options": "DENY", "content-security-policy": "frame-ancestors 'none'" } });
        return fetch(fake.url + url.pathname + url.search, { method: request.method, headers: request.headers, body: request.body });
      },
    });
    const local = await startTestGateway(`http://127.0.0.1:${upstream.port}`, [], IP_BUCKET, "power");
    try {
      const page = await local.fetch("/");
      expect(page.status).toBe(200);
      expect(page.headers.get("x-frame-options")).toBe("DENY");
      expect(page.headers.get("content-security-policy")).toBe("frame-ancestors 'none'");
    } finally {
      await local.stop();
      await upstream.stop(true);
    }
  });

  test("43: cross-site sign-in attempts without an Origin, with Origin null, or at the second step and setup are refused", async () => {
    await makeUser("login_csrf");
    const form = new URLSearchParams({ username: "login_csrf", password: PASSWORD });
    const attempts: Array<[string, Record<string, string>]> = [
      ["/login", { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document" }],
      ["/login", { origin: "null" }],
      ["/login", { origin: "http://127.0.0.1.evil.example" }],
      ["/mss-login/api/mfa/verify", { origin: "http://evil.example" }],
      ["/setup", { origin: "http://evil.example" }],
    ];
    for (const [path, headers] of attempts) {
      const response = await fetch(gateway.url + path, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: form, redirect: "manual" });
      expect({ path, headers, status: response.status }).toEqual({ path, headers, status: 403 });
      expect(response.headers.getSetCookie()).toEqual([]);
    }
    expect(rows("SELECT jti FROM sessions WHERE user_id = ?", userId("login_csrf"))).toEqual([]);
    // The same form from the gateway's own page signs in.
    const own = await fetch(`${gateway.url}/login`, { method: "POST", headers: { origin: gateway.url, "sec-fetch-site": "same-origin", "sec-fetch-mode": "navigate", accept: "text/html" }, body: form, redirect: "manual" });
    expect(own.status).toBe(302);
    expect(rows("SELECT jti FROM sessions WHERE user_id = ?", userId("login_csrf"))).toHaveLength(1);
  });

  test("44: the redirect corpus after a sign-in (form, JSON, already signed in, second step)", async () => {
    await makeUser("redirect_user");
    const origin = new URL(gateway.url).origin;
    /** Where a browser would go: same origin, a path that is not scheme-relative. */
    const isSafe = (location: string) => location.startsWith("/") && !location.startsWith("//") && !location.startsWith("/\\") && new URL(location, gateway.url).origin === origin && !/[\r\n]/.test(location);
    const corpus = [
      "//evil.com",
      "///evil.com",
      "////evil.com",
      "/\\evil.com",
      "/\\/evil.com",
      "\\\\evil.com",
      "\\/evil.com",
      "/\t/evil.com",
      "/%09/evil.com",
      "/\r\nLocation: https://evil.com",
      "/%0d%0aSet-Cookie:%20x=1",
      "%0d%0a/evil",
      "https:evil.com",
      "https:/evil.com",
      "http://evil.com",
      "https://evil.com/",
      "HTTPS://EVIL.COM",
      "javascript:alert(1)",
      "JaVaScRiPt:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      "http://127.0.0.1.evil.com",
      `${origin}.evil.com/`,
      `${origin}@evil.com/`,
      "https://user@evil.com",
      "@evil.com",
      "evil.com",
      " //evil.com",
      "\t//evil.com",
      "/ /evil.com",
      "/\u3002evil.com",
      "//evil%E3%80%82com",
      "/x?y=//evil.com",
    ];
    const signedIn = await mintSession("redirect_user");
    for (const next of corpus) {
      // Already signed in: GET /login?next= redirects straight on.
      const response = await get(`/login?next=${encodeURIComponent(next)}`, { cookie: signedIn });
      expect(response.status).toBe(302);
      const location = response.headers.get("location")!;
      expect({ next, location, safe: isSafe(location) }).toEqual({ next, location, safe: true });
    }
    // Plain same-site paths survive.
    for (const next of ["/api/queue", "/x?y=//evil.com", "/%09/evil.com"]) {
      expect((await get(`/login?next=${encodeURIComponent(next)}`, { cookie: signedIn })).headers.get("location")).toBe(next);
    }
    // A few through the sign-in itself: a browser form (302) and the JSON answer (redirect_url),
    // one account per payload so that they can run side by side.
    const throughLogin = ["//evil.com", "/\\evil.com", "https:evil.com", "/\t/evil.com", "@evil.com"];
    for (let i = 0; i < throughLogin.length; i++) await makeUser(`redirect_${i}`);
    await Promise.all(
      throughLogin.map(async (next, i) => {
        const username = `redirect_${i}`;
        const form = await fetch(`${gateway.url}/login`, { method: "POST", body: new URLSearchParams({ username, password: PASSWORD, next }), headers: { "sec-fetch-mode": "navigate", accept: "text/html" }, redirect: "manual" });
        expect({ next, location: form.headers.get("location") }).toEqual({ next, location: "/" });
        const json = (await (await post("/login", { username, password: PASSWORD, next })).json()) as { redirect_url: string };
        expect({ next, redirect_url: json.redirect_url }).toEqual({ next, redirect_url: "/" });
      }),
    );
    // A refused sign-in sends the browser back to /login, with `next` encoded, never elsewhere.
    const refused = await fetch(`${gateway.url}/login`, { method: "POST", body: new URLSearchParams({ username: "redirect_user", password: "wrong password here", next: "//evil.com" }), headers: { "sec-fetch-mode": "navigate", accept: "text/html" }, redirect: "manual" });
    expect(refused.headers.get("location")).toBe("/login?error=1&next=%2F");
    expect((await post("/login", { username: "redirect_user", password: PASSWORD })).status).toBe(200); // clears the failure

    // The second step: `next` is checked there too.
    await makeUser("redirect_mfa");
    const { totp } = await enrol(await mintSession("redirect_mfa"));
    const { mfa_temp_token } = (await (await post("/login", { username: "redirect_mfa", password: PASSWORD })).json()) as { mfa_temp_token: string };
    const second = (await (await post("/mss-login/api/mfa/verify", { mfa_temp_token, code: codeAt(totp, 1), next: "//evil.com" })).json()) as { redirect_url: string };
    expect(second.redirect_url).toBe("/");
  });
});

// ---------------------------------------------------------------------------------------------
// 5.6 Brute force, timing, enumeration

describe("5.6 brute force, timing, enumeration", () => {
  test("45: the ban is time-boxed and stored; the owner gets back in when it ends; more than 100 failures cannot be configured", async () => {
    const local = await startTestGateway(fake.url, [], { ...IP_BUCKET, MSS_LOGIN_REGULATION__ACCOUNT_BAN_SECONDS: "1" }, "owner");
    try {
      const attempt = (password: string) => post("/login", { username: "tester", password }, {}, "POST", local.url);
      for (let i = 0; i < 3; i++) expect((await attempt("not the password")).status).toBe(401);
      expect((await attempt(TEST_PASSWORD)).status).toBe(401); // banned
      const [ban] = withDb((database) => database.sqlite.query("SELECT key, banned_until FROM auth_regulation WHERE banned_until IS NOT NULL").all() as Array<{ key: string; banned_until: number }>, local.dataDir);
      expect(ban!.key).toContain("tester");
      expect(ban!.banned_until - Date.now()).toBeLessThanOrEqual(1000);
      expect(withDb((database) => (database.sqlite.query("SELECT count(*) AS n FROM auth_failures").get() as { n: number }).n, local.dataDir)).toBeGreaterThanOrEqual(3);
      await Bun.sleep(Math.max(0, ban!.banned_until - Date.now()) + 50);
      // The owner is not locked out for good: the right password works once the ban ends (the
      // owner must still enrol the second factor its role requires).
      const back = await attempt(TEST_PASSWORD);
      expect(back.status).toBe(200);
      expect(await back.json()).toMatchObject({ mfa_setup_required: true });
    } finally {
      await local.stop();
    }
    expect(() => loadConfig({ argv: [], env: { MSS_LOGIN_REGULATION__ACCOUNT_MAX_FAILURES: "101" }, cwd: tmpdir() })).toThrow(ConfigError);
    expect(loadConfig({ argv: [], env: { MSS_LOGIN_REGULATION__ACCOUNT_MAX_FAILURES: "100" }, cwd: tmpdir() }).config.regulation.account_max_failures).toBe(100);
  });

  test("46: during a ban the right password gets byte-for-byte the wrong-password answer, after the same floor", async () => {
    await makeUser("ban_oracle");
    const attempt = async (password: string) => {
      const started = performance.now();
      const response = await post("/login", { username: "ban_oracle", password });
      return { status: response.status, body: await response.text(), retryAfter: response.headers.get("retry-after"), cookies: response.headers.getSetCookie().length, ms: performance.now() - started };
    };
    const wrong = [await attempt("wrong password one"), await attempt("wrong password two"), await attempt("wrong password three")];
    const banned = await attempt(PASSWORD);
    for (const answer of [...wrong, banned]) {
      expect({ status: answer.status, body: answer.body, retryAfter: answer.retryAfter, cookies: answer.cookies }).toEqual({ status: 401, body: wrong[0]!.body, retryAfter: null, cookies: 0 });
      expect(answer.ms).toBeGreaterThanOrEqual(LOGIN_FLOOR_MS - 5);
    }
    // Stored: the ban, and no session for the right password sent during it.
    expect(rows("SELECT jti FROM sessions WHERE user_id = ?", userId("ban_oracle"))).toEqual([]);
    expect(rows<{ banned_until: number }>("SELECT banned_until FROM auth_regulation WHERE key LIKE ?", "%ban_oracle%")[0]!.banned_until).toBeGreaterThan(Date.now());
  });

  test("47: unknown user, wrong password and disabled account look alike at /login and /generate_token", async () => {
    await makeUser("enum_wrong", "power");
    await makeUser("enum_disabled", "power");
    expect((await asOwner("/mss-login/api/users/enum_disabled", { disabled: true }, "PUT")).status).toBe(200);
    const cases: Array<[string, string]> = [
      ["enum_nobody_here", PASSWORD],
      ["enum_wrong", "not the right password"],
      ["enum_disabled", PASSWORD],
      ["x", PASSWORD], // not even a valid username
    ];
    for (const path of ["/login", "/generate_token", "/mss-login/generate_token"]) {
      // Side by side: each answer is timed on its own.
      const answers = await Promise.all(
        cases.map(async ([username, password]) => {
          const started = performance.now();
          const response = await post(path, { username, password, label: "x" });
          return { status: response.status, body: await response.text(), ms: performance.now() - started };
        }),
      );
      for (const answer of answers) {
        expect({ path, status: answer.status, body: answer.body }).toEqual({ path, status: 401, body: answers[0]!.body });
        expect(answer.ms).toBeGreaterThanOrEqual(LOGIN_FLOOR_MS - 5);
      }
    }
    // Stored: nothing was issued to anyone.
    for (const username of ["enum_wrong", "enum_disabled"]) {
      expect(rows("SELECT jti FROM sessions WHERE user_id = ?", userId(username))).toEqual([]);
      expect(rows("SELECT id FROM api_tokens WHERE user_id = ?", userId(username))).toEqual([]);
    }
    // Registration is for administrators: an anonymous caller learns nothing about names.
    for (const username of ["enum_wrong", "enum_nobody_here"]) {
      const response = await post("/register", { new_user_username: username, new_user_password: PASSWORD });
      expect([response.status, await response.text()]).toEqual([401, JSON.stringify({ error: "Sign in first.", code: "AUTH_REQUIRED" })]);
    }
  });

  test("47: the second step answers a forged token, a missing code and a wrong code alike", async () => {
    await makeUser("enum_mfa");
    const { totp } = await enrol(await mintSession("enum_mfa"));
    const tempToken = async () => ((await (await post("/login", { username: "enum_mfa", password: PASSWORD })).json()) as { mfa_temp_token: string }).mfa_temp_token;
    const [first, second] = await Promise.all([tempToken(), tempToken()]);
    const bodies: Array<Record<string, string>> = [{ mfa_temp_token: `mst_${"A".repeat(43)}`, code: "123456" }, { mfa_temp_token: first, code: "" }, { mfa_temp_token: second, code: "000000" }, { code: codeAt(totp, 0) }];
    const answers = await Promise.all(
      bodies.map(async (body) => {
        const response = await post("/mss-login/api/mfa/verify", body);
        return { status: response.status, body: await response.text() };
      }),
    );
    for (const answer of answers) expect(answer).toEqual({ status: 401, body: answers[0]!.body });
    expect(answers[0]!.body).toContain("INVALID_CREDENTIALS");
    expect(rows("SELECT jti FROM sessions WHERE user_id = ? AND user_agent IS NOT 'minted'", userId("enum_mfa"))).toEqual([]);
  });

  test("47: a used, replaced, expired or mistyped reset link all get the same answer", async () => {
    await makeUser("enum_reset");
    const link = async () => new URL(((await (await asOwner("/mss-login/api/users/enum_reset/password-reset", {})).json()) as { reset_path: string }).reset_path, gateway.url).searchParams.get("token")!;
    const used = await link();
    expect((await postForm("/reset", { token: used, password: "enum reset passphrase 1" })).status).toBe(200);
    const replaced = await link();
    const expired = await link(); // replaces `replaced`
    withDb((database) => database.sqlite.query("UPDATE tickets SET expires_at = ? WHERE ticket_hash = ?").run(Date.now() - 1, hashToken(expired)));
    const tokens = { used, replaced, expired, mistyped: `mst_${"B".repeat(43)}`, malformed: "not-a-link", none: "" };
    const answers = await Promise.all(
      Object.entries(tokens).map(async ([name, token]) => {
        const page = await get(`/reset?token=${encodeURIComponent(token)}`);
        const submit = await postForm("/reset", { token, password: "enum reset passphrase 2" });
        return { name, page: [page.status, await page.text()], submit: [submit.status, await submit.text()] };
      }),
    );
    for (const answer of answers) {
      expect({ name: answer.name, page: answer.page, submit: answer.submit }).toEqual({ name: answer.name, page: answers[0]!.page, submit: answers[0]!.submit });
    }
    expect(answers[0]!.submit).toEqual(answers[0]!.page); // opening and submitting say the same
    expect(answers[0]!.page[0]).toBe(400);
    expect(answers[0]!.page[1]).toContain("This link does not work");
    expect(answers[0]!.page[1]).not.toContain("enum_reset");
    // Nothing changed: the password is the one the used link set.
    expect((await post("/login", { username: "enum_reset", password: "enum reset passphrase 1" })).status).toBe(200);
  });

  test("48: one guess per second-step token, and wrong codes count toward the account's ban", async () => {
    await makeUser("totp_guess");
    const { totp } = await enrol(await mintSession("totp_guess"));
    const tempToken = async () => ((await (await post("/login", { username: "totp_guess", password: PASSWORD })).json()) as { mfa_temp_token: string }).mfa_temp_token;
    // A wrong code spends the token: the right code after it is refused; the login starts over.
    const token = await tempToken();
    expect((await post("/mss-login/api/mfa/verify", { mfa_temp_token: token, code: "000000" })).status).toBe(401);
    expect((await post("/mss-login/api/mfa/verify", { mfa_temp_token: token, code: codeAt(totp, 1) })).status).toBe(401);
    expect(rows<{ used_at: number | null }>("SELECT used_at FROM tickets WHERE ticket_hash = ?", hashToken(token))[0]!.used_at).not.toBeNull();
    // Every sign-in that does not end with a right code counts: the two-step attempt above and
    // two wrong one-request codes make three, and now the right password and code are refused.
    expect((await post("/login", { username: "totp_guess", password: PASSWORD, code: "111111" })).status).toBe(401);
    expect((await post("/login", { username: "totp_guess", password: PASSWORD, code: "222222" })).status).toBe(401);
    const banned = await post("/login", { username: "totp_guess", password: PASSWORD, code: codeAt(totp, 1) });
    expect(banned.status).toBe(401);
    expect(await banned.json()).toMatchObject({ code: "INVALID_CREDENTIALS" });
    expect(rows("SELECT jti FROM sessions WHERE user_id = ? AND user_agent IS NOT 'minted'", userId("totp_guess"))).toEqual([]);
    expect(rows<{ banned_until: number }>("SELECT banned_until FROM auth_regulation WHERE key LIKE ?", "%totp_guess%")[0]!.banned_until).toBeGreaterThan(Date.now());
  });

  test("48: wrong codes at /mfa/disable are counted per account: after three, even the right code gets 429", async () => {
    await makeUser("disable_guess");
    const cookie = await mintSession("disable_guess");
    const { totp } = await enrol(cookie);
    const id = userId("disable_guess");
    // The right password does not make code guesses free (account_max_failures = 3).
    for (const code of ["000000", "000001", "000002"]) {
      const response = await post("/mss-login/api/mfa/disable", { password: PASSWORD, code }, { cookie });
      expect({ code, status: response.status }).toEqual({ code, status: 403 });
    }
    const right = await post("/mss-login/api/mfa/disable", { password: PASSWORD, code: codeAt(totp, 1) }, { cookie });
    expect(right.status).toBe(429);
    expect(await right.json()).toMatchObject({ code: "TOO_MANY_ATTEMPTS" });
    // Stored: the ban under the account's own key; the second factor is still there.
    expect(rows<{ banned_until: number }>("SELECT banned_until FROM auth_regulation WHERE key = ?", `account:mfa-disable:${id}`)[0]!.banned_until).toBeGreaterThan(Date.now());
    expect(rows<{ enabled: number }>("SELECT enabled FROM mfa_enrolments WHERE user_id = ?", id)[0]!.enabled).toBe(1);
    expect(await (await get("/mss-login/api/me", { cookie })).json()).toMatchObject({ mfa_enabled: true });
    // A separate count: signing in is not banned by it.
    expect(await (await post("/login", { username: "disable_guess", password: PASSWORD })).json()).toMatchObject({ mfa_required: true });
  });

  test("48: replay and skew: the next step works once, two steps ahead and older steps do not; recovery codes are stored hashed", async () => {
    await makeUser("totp_skew");
    const { totp, recoveryCodes } = await enrol(await mintSession("totp_skew"));
    const signIn = (code: string) => post("/login", { username: "totp_skew", password: PASSWORD, code });
    await awayFromStepBoundary();
    expect((await signIn(codeAt(totp, 2))).status).toBe(401); // two steps ahead
    const nextAt = Date.now() + 30_000;
    const next = totp.generate({ timestamp: nextAt });
    expect((await signIn(next)).status).toBe(200); // one step of skew
    expect((await signIn(next)).status).toBe(401); // the same code again
    expect((await signIn(codeAt(totp, 0))).status).toBe(401); // an older step than the last used
    expect((await signIn(recoveryCodes[0]!)).status).toBe(200); // clears the failures
    // Stored: the last used step, and recovery codes only as hashes (one now spent).
    const id = userId("totp_skew");
    const [enrolment] = rows<{ last_used_step: number; secret_ciphertext: string }>("SELECT last_used_step, secret_ciphertext FROM mfa_enrolments WHERE user_id = ?", id);
    expect(enrolment!.last_used_step).toBe(Math.floor(nextAt / 30_000));
    const stored = rows<{ code_hash: string; used_at: number | null }>("SELECT code_hash, used_at FROM recovery_codes WHERE user_id = ?", id);
    expect(stored).toHaveLength(recoveryCodes.length);
    expect(stored.filter((c) => c.used_at !== null)).toHaveLength(1);
    const dump = JSON.stringify(stored) + enrolment!.secret_ciphertext;
    for (const code of recoveryCodes) expect(dump.includes(code) || dump.includes(code.replace(/-/g, ""))).toBe(false);
    expect((await signIn(recoveryCodes[0]!)).status).toBe(401); // single use
  });

  test("49: secrets are found by hash or compared in constant time", async () => {
    // API tokens, tickets and the setup link are looked up by SHA-256 (the 32 and 30 tests read
    // the hashes back); TOTP and recovery codes are compared with timingSafeEqual.
    for (const file of ["totp.ts", "recovery-codes.ts"]) {
      const source = await Bun.file(join(import.meta.dir, "../../src/auth", file)).text();
      expect({ file, constantTime: source.includes("timingSafeEqual(") }).toEqual({ file, constantTime: true });
    }
    for (const file of ["api-tokens.ts", "tickets.ts"]) {
      const source = await Bun.file(join(import.meta.dir, "../../src/auth", file)).text();
      expect({ file, byHash: source.includes("hashToken(") }).toEqual({ file, byHash: true });
    }
    const hashes = rows<{ h: string }>("SELECT token_hash AS h FROM api_tokens UNION ALL SELECT ticket_hash FROM tickets");
    expect(hashes.length).toBeGreaterThan(0);
    for (const { h } of hashes) expect(h).toMatch(/^[0-9a-f]{64}$/);
  });

  test("50: a 1 MB password is refused without hashing; 100 characters work; over 1 KiB is refused when set", async () => {
    await makeUser("long_pass", "user", "p".repeat(40) + " long passphrase " + "q".repeat(43)); // 100 characters
    expect((await post("/login", { username: "long_pass", password: "p".repeat(40) + " long passphrase " + "q".repeat(43) })).status).toBe(200);

    const started = performance.now();
    const huge = await post("/login", { username: "long_pass", password: "x".repeat(1024 * 1024) });
    expect(huge.status).toBe(401);
    expect(await huge.json()).toMatchObject({ code: "INVALID_CREDENTIALS" });
    expect(performance.now() - started).toBeLessThan(2000);
    // Just over the cap inside a small body: still only "invalid credentials".
    expect((await post("/login", { username: "long_pass", password: "y".repeat(1050) })).status).toBe(401);
    expect((await post("/login", { username: "long_pass", password: "p".repeat(40) + " long passphrase " + "q".repeat(43) })).status).toBe(200); // clears failures

    const tooLong = await asOwner("/mss-login/api/users", { username: "too_long_pass", password: "z".repeat(1025) });
    expect(tooLong.status).toBe(400);
    expect(await tooLong.json()).toMatchObject({ code: "PASSWORD_TOO_LONG" });
    const multiByte = await asOwner("/mss-login/api/users", { username: "too_long_pass", password: "ä".repeat(513) }); // 1026 bytes
    expect(await multiByte.json()).toMatchObject({ code: "PASSWORD_TOO_LONG" });
    expect(rows("SELECT id FROM users WHERE username = 'too_long_pass'")).toEqual([]);
  });

  test("51: no HTTP path skips an enrolled second factor (token by password, re-enrolment)", async () => {
    await makeUser("recover_me", "power");
    const cookie = await mintSession("recover_me");
    const { totp } = await enrol(cookie);
    const id = userId("recover_me");
    // The password alone at /generate_token gets the second step, not a token.
    const byPassword = await post("/generate_token", { username: "recover_me", password: PASSWORD, label: "x" });
    expect(byPassword.status).toBe(200);
    const answer = (await byPassword.json()) as Record<string, unknown>;
    expect(answer).toMatchObject({ mfa_required: true });
    expect(answer.jwt_token).toBeUndefined();
    expect(rows("SELECT id FROM api_tokens WHERE user_id = ?", id)).toEqual([]);
    // With the code it works.
    const withCode = await post("/generate_token", { username: "recover_me", password: PASSWORD, code: codeAt(totp, 1), label: "x" });
    expect(await withCode.json()).toMatchObject({ jwt_token: expect.stringMatching(/^mss_/) });
    expect(rows("SELECT id FROM api_tokens WHERE user_id = ?", id)).toHaveLength(1);
    // A session and the password cannot enrol a new authenticator over the old one.
    const again = await post("/mss-login/api/mfa/setup", { password: PASSWORD }, { cookie });
    expect(again.status).toBe(409);
    expect(rows<{ enabled: number }>("SELECT enabled FROM mfa_enrolments WHERE user_id = ?", id)[0]!.enabled).toBe(1);
    // The second-step token of a sign-in is not an enrolment token.
    const { mfa_temp_token } = (await (await post("/login", { username: "recover_me", password: PASSWORD })).json()) as { mfa_temp_token: string };
    expect((await post("/mss-login/api/mfa/setup", { mfa_temp_token })).status).toBe(401);
    expect((await post("/mss-login/api/mfa/verify", { mfa_temp_token, code: "000000" })).status).toBe(401); // spent by a wrong code
  });

  test("51: an administrator cannot choose a user's password: no route sets it; the reset link leaves the choice to the user and asks for their second factor", async () => {
    await makeUser("chosen_for_me");
    const { totp, recoveryCodes } = await enrol(await mintSession("chosen_for_me"));
    const id = userId("chosen_for_me");
    const hash = () => rows<{ password_hash: string }>("SELECT password_hash FROM users WHERE id = ?", id)[0]!.password_hash;
    const original = hash();
    // The old "set this password" route is gone, in both spellings.
    const chosen = "admin chosen passphrase 1";
    for (const path of ["/mss-login/api/users/chosen_for_me/password", "/api/mss-login/users/chosen_for_me/password"]) {
      expect({ path, status: (await asOwner(path, { password: chosen })).status }).toEqual({ path, status: 404 });
    }
    expect(hash()).toBe(original);
    // Not for oneself, and not the owner's by an administrator.
    const self = await asOwner("/mss-login/api/users/tester/password-reset", {});
    expect(self.status).toBe(400);
    expect(await self.json()).toMatchObject({ code: "SELF_CHANGE" });
    await makeUser("reset_admin", "admin");
    const admin = cookieOf(await post("/mss-login/api/step-up", { password: PASSWORD }, { cookie: await mintSession("reset_admin") }));
    expect((await post("/mss-login/api/users/tester/password-reset", {}, { cookie: admin })).status).toBe(403);
    expect(rows("SELECT ticket_hash FROM tickets WHERE user_id = ? AND purpose = 'password-reset'", gateway.account.userId)).toEqual([]);

    // The link carries no password; the page asks the user for one and for their second factor.
    const issued = await post("/mss-login/api/users/chosen_for_me/password-reset", {}, { cookie: admin });
    expect(issued.status).toBe(200);
    const answer = (await issued.json()) as Record<string, unknown>;
    expect(Object.keys(answer).sort()).toEqual(["expires_at_iso", "reset_path", "status", "username", "valid_hours"]);
    const token = new URL(answer.reset_path as string, gateway.url).searchParams.get("token")!;
    expect(await (await get(answer.reset_path as string)).text()).toContain('name="code"');
    // Whoever holds the link but not the authenticator gets nowhere; the link stays usable.
    for (const code of [undefined, "000000"]) {
      const attempt = await postForm("/reset", { token, password: chosen, ...(code === undefined ? {} : { code }) });
      expect({ code, status: attempt.status }).toEqual({ code, status: 400 });
      expect(await attempt.text()).toContain("That code is not right.");
    }
    expect(hash()).toBe(original);
    expect(rows<{ used_at: number | null }>("SELECT used_at FROM tickets WHERE ticket_hash = ?", hashToken(token))[0]!.used_at).toBeNull();
    // The user, with a code, sets the password; the second factor stays enrolled.
    const done = await postForm("/reset", { token, password: "the user's own passphrase 2", code: codeAt(totp, 1) });
    expect(done.status).toBe(200);
    expect(hash()).not.toBe(original);
    expect(rows<{ enabled: number }>("SELECT enabled FROM mfa_enrolments WHERE user_id = ?", id)[0]!.enabled).toBe(1);
    expect(await (await post("/login", { username: "chosen_for_me", password: "the user's own passphrase 2" })).json()).toMatchObject({ mfa_required: true });

    // Code guesses at /reset are limited per account: after three, even a recovery code is refused.
    const again = (await (await asOwner("/mss-login/api/users/chosen_for_me/password-reset", {})).json()) as { reset_path: string };
    const second = new URL(again.reset_path, gateway.url).searchParams.get("token")!;
    for (const code of ["000001", "000002", "000003"]) expect((await postForm("/reset", { token: second, password: chosen, code })).status).toBe(400);
    const banned = await postForm("/reset", { token: second, password: chosen, code: recoveryCodes[0]! });
    expect(banned.status).toBe(400);
    expect(await banned.text()).toContain("Too many wrong codes");
    expect(rows<{ used_at: number | null }>("SELECT used_at FROM recovery_codes WHERE user_id = ? AND used_at IS NOT NULL", id)).toEqual([]);
    expect(rows<{ banned_until: number }>("SELECT banned_until FROM auth_regulation WHERE key = ?", `account:password-reset:${id}`)[0]!.banned_until).toBeGreaterThan(Date.now());
    expect((await post("/login", { username: "chosen_for_me", password: chosen })).status).toBe(401);
  });

  test("51: the command line resets a lost second factor: the enrolment and recovery codes go, sessions end, the password alone signs in", async () => {
    await makeUser("lost_factor", "power");
    const cookie = await mintSession("lost_factor");
    await enrol(cookie);
    const id = userId("lost_factor");
    const reset = () => runCommand(["user", "reset-mfa", "--username", "lost_factor", "--data-dir", gateway.dataDir], { cwd: gateway.dataDir, env: cleanEnv(TEST_ENV) });
    const result = await reset();
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("removed the second factor of lost_factor");
    expect(rows("SELECT user_id FROM mfa_enrolments WHERE user_id = ?", id)).toEqual([]);
    expect(rows("SELECT user_id FROM recovery_codes WHERE user_id = ?", id)).toEqual([]);
    expect(rows<{ n: number }>("SELECT count(*) AS n FROM sessions WHERE user_id = ? AND revoked_at IS NULL", id)[0]!.n).toBe(0);
    await Bun.sleep(1100); // the identity cache (1 s) sees a change made elsewhere
    expect(await statusWith(cookie)).toBe(401);
    const back = await post("/login", { username: "lost_factor", password: PASSWORD });
    expect(back.status).toBe(200);
    expect(await (await get("/mss-login/api/me", { cookie: cookieOf(back) })).json()).toMatchObject({ username: "lost_factor", mfa_enabled: false });
    const twice = await reset();
    expect([twice.code, twice.stdout.trim()]).toEqual([0, "lost_factor had no second factor"]);
  });
});

// ---------------------------------------------------------------------------------------------
// 5.13 Bootstrap, recovery, secrets

describe("5.13 bootstrap, recovery, secrets", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const freshDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "mss-bootstrap-"));
    dirs.push(dir);
    return dir;
  };
  const setup = (base: string, body: Record<string, string>) => post("/setup", body, {}, "POST", base);

  test("82: before the owner exists nobody signs in and the first request does not win; the link lives 30 minutes, is stored hashed and works once", async () => {
    const dataDir = freshDir();
    const running = await startOn(dataDir);
    try {
      expect(running.token).not.toBeNull();
      const token = running.token!;
      // No form to sign in with, and a setup page that needs the console's link.
      const loginPage = await get("/login", {}, running.url);
      expect(await loginPage.text()).toContain("Not set up yet");
      const setupPage = await get("/setup", {}, running.url);
      expect(setupPage.status).toBe(200);
      // The first visitor without the link gets nothing.
      const grabs: Array<Record<string, string>> = [{ username: "grabber", password: PASSWORD }, { token: "", username: "grabber", password: PASSWORD }, { token: token.slice(0, -1), username: "grabber", password: PASSWORD }];
      for (const response of await Promise.all(grabs.map((body) => setup(running.url, body)))) {
        expect(response.status).toBe(403);
        expect(await response.json()).toMatchObject({ code: "BAD_SETUP_TOKEN" });
      }
      // Stored: only the hash, for 30 minutes.
      const [stored] = withDb((database) => database.sqlite.query("SELECT token_hash, created_at, expires_at, used_at FROM setup_tokens").all() as Array<{ token_hash: string; created_at: number; expires_at: number; used_at: number | null }>, dataDir);
      expect(stored!.token_hash).toBe(hashToken(token));
      expect(stored!.expires_at - stored!.created_at).toBe(30 * 60_000);
      expect(stored!.used_at).toBeNull();
      expect(readFileSync(join(dataDir, "mss-login.db")).includes(token)).toBe(false);
      // Past its 30 minutes the link is dead.
      withDb((database) => database.sqlite.query("UPDATE setup_tokens SET expires_at = ?").run(Date.now() - 1), dataDir);
      expect((await setup(running.url, { token, username: "boss", password: PASSWORD })).status).toBe(403);
      withDb((database) => database.sqlite.query("UPDATE setup_tokens SET expires_at = ?").run(Date.now() + 60_000), dataDir);
      // Two uses at once: exactly one owner.
      const [a, b] = await Promise.all([setup(running.url, { token, username: "boss_a", password: PASSWORD }), setup(running.url, { token, username: "boss_b", password: PASSWORD })]);
      expect([a.status, b.status].sort()).toEqual([200, 403]);
      const owners = withDb((database) => database.sqlite.query("SELECT username FROM users WHERE role = 'owner'").all() as Array<{ username: string }>, dataDir);
      expect(owners).toHaveLength(1);
      expect(existsSync(join(dataDir, "setup-link.txt"))).toBe(false);
      // Done: the page sends people to sign in, and the link is spent.
      expect((await get("/setup", {}, running.url)).headers.get("location")).toBe("/login");
      expect((await setup(running.url, { token, username: "boss_c", password: PASSWORD })).status).toBe(409);
    } finally {
      await running.stop();
    }
  });

  test("83: deleting the database does not reopen setup: the old link and old cookies are dead, a new console link is needed", async () => {
    const dataDir = freshDir();
    const first = await startOn(dataDir);
    let ownerCookie: string;
    try {
      const created = await setup(first.url, { token: first.token!, username: "boss", password: PASSWORD });
      expect(created.status).toBe(200);
      ownerCookie = (await signInEnrolling(first.url, "boss", PASSWORD)).cookie;
    } finally {
      await first.stop();
    }
    for (const file of ["mss-login.db", "mss-login.db-wal", "mss-login.db-shm"]) rmSync(join(dataDir, file), { force: true });

    const second = await startOn(dataDir);
    try {
      expect(second.token).not.toBeNull();
      expect(second.token).not.toBe(first.token);
      expect(readFileSync(join(dataDir, "setup-link.txt"), "utf8").trim()).toBe(second.link!);
      expect(statSync(join(dataDir, "setup-link.txt")).mode & 0o777).toBe(0o600);
      // Nobody gets in without the new console link: not with the old link, not with none.
      const intrusions: Array<Record<string, string>> = [{ token: first.token!, username: "intruder", password: PASSWORD }, { username: "intruder", password: PASSWORD }];
      for (const body of intrusions) {
        const response = await setup(second.url, body);
        expect(response.status).toBe(403);
        expect(await response.json()).toMatchObject({ code: "BAD_SETUP_TOKEN" });
      }
      // The old owner's cookie (signed with the same key) names no stored session.
      expect((await get("/api/queue", { cookie: ownerCookie! }, second.url)).status).toBe(401);
      expect(withDb((database) => (database.sqlite.query("SELECT count(*) AS n FROM users").get() as { n: number }).n, dataDir)).toBe(0);
      expect((await setup(second.url, { token: second.token!, username: "boss", password: PASSWORD })).status).toBe(200);
    } finally {
      await second.stop();
    }
  });

  test("84: the key survives a restart (0600, in the data directory); deleting it rotates the key and ends every session", async () => {
    const dataDir = freshDir();
    const first = await startOn(dataDir);
    let cookie: string;
    const keyFile = join(dataDir, "secret.key");
    const key = readFileSync(keyFile, "utf8").trim();
    try {
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(Buffer.from(key, "base64url").length).toBeGreaterThanOrEqual(32);
      expect((await setup(first.url, { token: first.token!, username: "boss", password: PASSWORD })).status).toBe(200);
      cookie = (await signInEnrolling(first.url, "boss", PASSWORD)).cookie;
      expect((await get("/api/queue", { cookie }, first.url)).status).toBe(200);
    } finally {
      await first.stop();
    }
    // Restarted: the same key from the file, so the session holds.
    const second = await startOn(dataDir);
    try {
      expect(readFileSync(keyFile, "utf8").trim()).toBe(key);
      expect(await (await get("/mss-login/api/me", { cookie: cookie! }, second.url)).json()).toMatchObject({ username: "boss", role: "owner" });
    } finally {
      await second.stop();
    }
    // Rotated: a new key, and every session signed with the old one is refused.
    rmSync(keyFile);
    const third = await startOn(dataDir);
    try {
      const rotated = readFileSync(keyFile, "utf8").trim();
      expect(rotated).not.toBe(key);
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      const refused = await get("/api/queue", { cookie: cookie! }, third.url);
      expect(refused.status).toBe(401);
      expect(await refused.json()).toMatchObject({ code: "AUTH_INVALID" });
      expect(third.link).toBeNull(); // the owner still exists: no setup link
    } finally {
      await third.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Roles that must enrol a second factor (the default matrix), on a gateway of their own.

describe("forced enrolment (default matrix)", () => {
  let local: TestGateway;
  beforeAll(async () => {
    local = await startTestGateway(fake.url, [], IP_BUCKET, "owner");
  });
  afterAll(async () => {
    await local.stop();
  });

  test("33: a planted cookie is replaced when a forced enrolment completes", async () => {
    const created = await local.fetch("/mss-login/api/users", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "planter", password: PASSWORD, role: "user" }) });
    expect(created.status).toBe(201);
    const planted = await mintSession("planter", local.dataDir);
    const first = await post("/login", { username: "tester", password: TEST_PASSWORD }, { cookie: planted }, "POST", local.url);
    const { mfa_setup_required, mfa_temp_token } = (await first.json()) as { mfa_setup_required: boolean; mfa_temp_token: string };
    expect(mfa_setup_required).toBe(true);
    expect(first.headers.getSetCookie()).toEqual([]);
    const { secret } = (await (await post("/mss-login/api/mfa/setup", { mfa_temp_token }, { cookie: planted }, "POST", local.url)).json()) as { secret: string };
    const done = await post("/mss-login/api/mfa/verify-setup", { mfa_temp_token, code: totpFrom(secret).generate() }, { cookie: planted }, "POST", local.url);
    expect(done.status).toBe(200);
    const fresh = cookieOf(done);
    expect(fresh).not.toBe(planted);
    expect(await (await get("/mss-login/api/me", { cookie: fresh }, local.url)).json()).toMatchObject({ username: "tester", role: "owner", mfa_enabled: true });
    expect(await (await get("/mss-login/api/me", { cookie: planted }, local.url)).json()).toMatchObject({ username: "planter" });
  });

  test("31/33: a user promoted to admin must sign in again, and enrol the second factor the admin role requires, before acting as admin", async () => {
    const created = await local.fetch("/mss-login/api/users", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "soon_admin", password: PASSWORD, role: "power" }) });
    expect(created.status).toBe(201);
    const cookie = await signIn("soon_admin", PASSWORD, local.url);
    const token = ((await (await post("/mss-login/generate_token", { label: "script" }, { cookie }, "POST", local.url)).json()) as { jwt_token: string }).jwt_token;
    expect(token).toStartWith("mss_");
    expect((await local.fetch("/mss-login/api/users/soon_admin", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ role: "admin" }) })).status).toBe(200);
    // The session and the token from before the promotion are gone.
    for (const headers of [{ cookie }, { authorization: `Bearer ${token}` }] as Array<Record<string, string>>) {
      expect((await get("/mss-login/api/users", headers, local.url)).status).toBe(401);
      const response = await get("/api/queue", headers, local.url);
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ code: "AUTH_REVOKED" });
    }
    // A new sign-in as admin must enrol first: no session yet.
    const again = await post("/login", { username: "soon_admin", password: PASSWORD }, {}, "POST", local.url);
    expect(await again.json()).toMatchObject({ mfa_setup_required: true });
    expect(again.headers.getSetCookie()).toEqual([]);
    const id = withDb((database) => getUserByUsername(database.db, "soon_admin")!.id, local.dataDir);
    const open = withDb((database) => database.sqlite.query("SELECT (SELECT count(*) FROM sessions WHERE user_id = ?1 AND revoked_at IS NULL) AS sessions, (SELECT count(*) FROM api_tokens WHERE user_id = ?1 AND revoked_at IS NULL) AS tokens").get(id), local.dataDir);
    expect(open).toEqual({ sessions: 0, tokens: 0 });
  });

  test("51: the command line removes the owner's lost second factor; the owner enrols again at the next sign-in", async () => {
    // The owner's role requires a second factor here: make sure one is enrolled.
    const first = (await (await post("/login", { username: "tester", password: TEST_PASSWORD }, {}, "POST", local.url)).json()) as { mfa_required?: boolean; mfa_setup_required?: boolean; mfa_temp_token?: string };
    if (first.mfa_setup_required) {
      const { secret } = (await (await post("/mss-login/api/mfa/setup", { mfa_temp_token: first.mfa_temp_token }, {}, "POST", local.url)).json()) as { secret: string };
      expect((await post("/mss-login/api/mfa/verify-setup", { mfa_temp_token: first.mfa_temp_token, code: totpFrom(secret).generate() }, {}, "POST", local.url)).status).toBe(200);
    }
    const ownerId = local.account.userId;
    expect(withDb((database) => database.sqlite.query("SELECT enabled FROM mfa_enrolments WHERE user_id = ?").get(ownerId), local.dataDir)).toEqual({ enabled: 1 });
    // Admins may not reset the owner's second factor over HTTP; the shell may.
    const result = await runCommand(["user", "reset-mfa", "--username", "tester", "--data-dir", local.dataDir], { cwd: local.dataDir, env: cleanEnv(TEST_ENV) });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("removed the second factor of tester");
    expect(withDb((database) => database.sqlite.query("SELECT user_id FROM mfa_enrolments WHERE user_id = ?").all(ownerId), local.dataDir)).toEqual([]);
    const back = await post("/login", { username: "tester", password: TEST_PASSWORD }, {}, "POST", local.url);
    expect(back.status).toBe(200);
    expect(await back.json()).toMatchObject({ mfa_setup_required: true });
  });
});
