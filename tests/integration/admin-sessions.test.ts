/**
 * Every user's sessions and API tokens for administrators, through the real gateway and the
 * fake ComfyUI: `GET /mss-login/api/admin/sessions|tokens` and their `/revoke`. A revoked
 * credential is refused on the very next request and its WebSocket closes; an admin sees and
 * ends only what users.ts lets them manage (not the owner's or another admin's).
 */
import type { AdminSessionItem, AdminTokenItem } from "../../src/auth/admin-credential-routes.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as OTPAuth from "otpauth";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { createTestAccount, startTestGateway, TEST_PASSWORD, type TestAccount, type TestGateway } from "../support/gateway.ts";

let fake: FakeComfyUI;
/** `tester` is the owner; its API token has every scope (admin writes need no step-up). */
let gateway: TestGateway;
let adamAccount: TestAccount;
let bobAccount: TestAccount;
/** Cookies: the owner (signed in with a second factor), an admin (stepped up), a user. */
let owner: string;
let adam: string;
let alice: string;

const ALICE_PASSWORD = "rainy orchard lantern 41";

type SessionItem = AdminSessionItem;
type TokenItem = AdminTokenItem;

function post(path: string, body: unknown, headers: Record<string, string> = {}, method = "POST") {
  return fetch(gateway.url + path, { method, headers: { "content-type": "application/json", "sec-fetch-site": "same-origin", ...headers }, body: JSON.stringify(body), redirect: "manual" });
}
function asOwnerToken(path: string, body?: unknown) {
  return gateway.fetch(path, body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}
function get(path: string, cookie: string) {
  return fetch(gateway.url + path, { headers: { cookie } });
}
function cookieOf(response: Response): string {
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith("mss_session="));
  if (!cookie) throw new Error(`no session cookie (status ${response.status})`);
  return cookie.split(";")[0]!;
}
async function signIn(username: string, password: string, extra: Record<string, unknown> = {}): Promise<string> {
  return cookieOf(await post("/login", { username, password, ...extra }));
}
/** The owner must enrol a second factor at first sign-in: done here with a real TOTP. */
async function ownerSignIn(): Promise<string> {
  const first = (await (await post("/login", { username: "tester", password: TEST_PASSWORD })).json()) as { mfa_temp_token: string };
  const { secret } = (await (await post("/mss-login/api/mfa/setup", { mfa_temp_token: first.mfa_temp_token })).json()) as { secret: string };
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30, algorithm: "SHA1" });
  return cookieOf(await post("/mss-login/api/mfa/verify-setup", { mfa_temp_token: first.mfa_temp_token, code: totp.generate() }));
}
async function sessionsAs(auth: string | null): Promise<SessionItem[]> {
  const response = auth === null ? await asOwnerToken("/mss-login/api/admin/sessions") : await get("/mss-login/api/admin/sessions", auth);
  expect(response.status).toBe(200);
  return ((await response.json()) as { sessions: SessionItem[] }).sessions;
}
async function tokensAs(auth: string | null): Promise<TokenItem[]> {
  const response = auth === null ? await asOwnerToken("/mss-login/api/admin/tokens") : await get("/mss-login/api/admin/tokens", auth);
  expect(response.status).toBe(200);
  return ((await response.json()) as { tokens: TokenItem[] }).tokens;
}
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

beforeAll(async () => {
  fake = await startFakeComfyUI({ multiUser: true });
  gateway = await startTestGateway(fake.url, [], { MSS_LOGIN_REGULATION__IP_ATTEMPTS_PER_MINUTE: "500" }, "owner");
  adamAccount = await createTestAccount(gateway.dataDir, "adam", "admin");
  bobAccount = await createTestAccount(gateway.dataDir, "bob", "power");
  expect((await asOwnerToken("/mss-login/api/users", { username: "alice", password: ALICE_PASSWORD, role: "user" })).status).toBe(201);
  // This file is about credentials, not second factors: admins sign in with a password only.
  expect((await gateway.fetch("/mss-login/api/groups", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ groups: { admin: { mfa_required: false } } }) })).status).toBe(200);
  owner = await ownerSignIn();
  adam = await signIn("adam", TEST_PASSWORD);
  alice = await signIn("alice", ALICE_PASSWORD, { remember_me: true });
});
afterAll(async () => {
  await gateway.stop();
  await fake.stop();
});

describe("the owner", () => {
  test("lists every live session, most recently used first, with the caller's own marked", async () => {
    // Alice uses hers last: it comes first.
    expect((await get("/api/queue", alice)).status).toBe(200);
    const sessions = await sessionsAs(owner);
    expect(sessions.map((s) => s.username).sort()).toEqual(["adam", "alice", "tester"]);
    const mine = sessions.find((s) => s.username === "tester")!;
    expect(mine.current).toBe(true);
    const hers = sessions.find((s) => s.username === "alice")!;
    expect(hers).toMatchObject({ role: "user", remember: true, current: false, ip: "127.0.0.1" });
    expect(Object.keys(hers).sort()).toEqual(["created_at", "current", "expires_at", "id", "ip", "last_seen_at", "remember", "role", "user_agent", "username"]);
    for (const field of ["created_at", "last_seen_at", "expires_at"] as const) expect(hers[field]).toMatch(ISO);
    expect(sessions.find((s) => s.username === "adam")).toMatchObject({ role: "admin", remember: false, current: false });
    const seen = sessions.map((s) => Date.parse(s.last_seen_at ?? ""));
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
    // By API token, no session is the caller's; the other spelling answers the same.
    expect((await sessionsAs(null)).every((s) => !s.current)).toBe(true);
    const other = await gateway.fetch("/api/mss-login/api/admin/sessions");
    expect(((await other.json()) as { sessions: SessionItem[] }).sessions.length).toBe(3);
  });

  test("lists every live API token without the token or its hash", async () => {
    const tokens = await tokensAs(null);
    expect(tokens.map((t) => t.username).sort()).toEqual(["adam", "bob", "tester"]);
    const bobs = tokens.find((t) => t.username === "bob")!;
    expect(Object.keys(bobs).sort()).toEqual(["created_at", "expires_at", "id", "label", "last_used_at", "last_used_ip", "scopes", "username"]);
    expect(bobs).toMatchObject({ label: "tests", scopes: ["read", "run", "admin"], last_used_at: null, last_used_ip: null });
    expect(bobs.created_at).toMatch(ISO);
    expect(bobs.expires_at).toMatch(ISO);
    const text = JSON.stringify(tokens);
    expect(text).not.toContain(bobAccount.token);
    expect(text).not.toContain("token_hash");
    expect(text).not.toMatch(/[0-9a-f]{64}/);
    // Use shows up: the owner's own token was just used from the loopback address.
    expect(tokens.find((t) => t.username === "tester")).toMatchObject({ last_used_ip: "127.0.0.1" });
  });

  test("ends a user's session: refused on the very next request", async () => {
    const victim = await signIn("alice", ALICE_PASSWORD);
    expect((await get("/api/queue", victim)).status).toBe(200);
    const id = (await sessionsAs(null)).find((s) => s.username === "alice" && !s.remember)!.id;
    const revoked = await asOwnerToken("/mss-login/api/admin/sessions/revoke", { id });
    expect(revoked.status).toBe(200);
    expect(await revoked.json()).toEqual({ ok: true });
    expect((await get("/api/queue", victim)).status).toBe(401);
    // Her other session goes on.
    expect((await get("/api/queue", alice)).status).toBe(200);
    // Gone from the list; a second revocation finds nothing.
    expect((await sessionsAs(null)).some((s) => s.id === id)).toBe(false);
    const again = await asOwnerToken("/mss-login/api/admin/sessions/revoke", { id });
    expect(again.status).toBe(404);
    expect(await again.json()).toMatchObject({ code: "SESSION_NOT_FOUND" });
    expect(await (await asOwnerToken("/mss-login/api/admin/sessions/revoke", { id: "no-such-session" })).json()).toMatchObject({ code: "SESSION_NOT_FOUND" });
    const bad = await asOwnerToken("/mss-login/api/admin/sessions/revoke", { jti: id });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: "BAD_BODY" });
  });

  test("revokes a user's API token: refused at once, and its open WebSocket closes", async () => {
    const extra = await createTestAccount(gateway.dataDir, "carl", "power");
    const call = () => fetch(`${gateway.url}/api/queue`, { headers: { authorization: `Bearer ${extra.token}` } });
    expect((await call()).status).toBe(200);
    const socket = new WebSocket(`${gateway.wsUrl}/ws`, { headers: { authorization: `Bearer ${extra.token}` } } as unknown as string[]);
    const closed = new Promise<number>((resolve) => socket.addEventListener("close", (event) => resolve(event.code)));
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve());
      socket.addEventListener("error", () => reject(new Error("socket failed")));
    });

    const id = (await tokensAs(null)).find((t) => t.username === "carl")!.id;
    const started = Date.now();
    const revoked = await gateway.fetch("/api/mss-login/api/admin/tokens/revoke", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ id }) });
    expect(await revoked.json()).toEqual({ ok: true });
    expect((await call()).status).toBe(401);
    await closed;
    // Not the 15-second sweep: the revocation closed it.
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await tokensAs(null)).some((t) => t.id === id)).toBe(false);
    const again = await asOwnerToken("/mss-login/api/admin/tokens/revoke", { id });
    expect(again.status).toBe(404);
    expect(await again.json()).toMatchObject({ code: "TOKEN_NOT_FOUND" });
  });
});

describe("a role that requires the second factor", () => {
  test("cannot remove it: the owner's enrolment stays, whatever the password and code", async () => {
    const refused = await post("/mss-login/api/mfa/disable", { password: TEST_PASSWORD, code: "123456" }, { cookie: owner });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: "MFA_REQUIRED_BY_ROLE" });
    expect(await (await get("/mss-login/api/me", owner)).json()).toMatchObject({ role: "owner", mfa_enabled: true });
  });
});

describe("an admin", () => {
  test("sees their own and the users' credentials, not the owner's or another admin's", async () => {
    await createTestAccount(gateway.dataDir, "ada", "admin");
    const sessions = await sessionsAs(adam);
    expect(sessions.some((s) => s.username === "tester")).toBe(false);
    expect(sessions.find((s) => s.username === "adam")).toMatchObject({ current: true });
    expect(sessions.some((s) => s.username === "alice")).toBe(true);
    const tokens = await tokensAs(adam);
    expect(tokens.map((t) => t.username).sort()).toEqual(["adam", "bob"]);
  });

  test("needs a fresh password re-entry to revoke, and cannot end the owner's or another admin's", async () => {
    const ownerSession = (await sessionsAs(null)).find((s) => s.username === "tester")!.id;
    const aliceSession = (await sessionsAs(null)).find((s) => s.username === "alice")!.id;
    const noStepUp = await post("/mss-login/api/admin/sessions/revoke", { id: aliceSession }, { cookie: adam });
    expect(noStepUp.status).toBe(403);
    expect(await noStepUp.json()).toMatchObject({ code: "STEP_UP_REQUIRED" });

    const stepped = await post("/mss-login/api/step-up", { password: TEST_PASSWORD }, { cookie: adam });
    expect(stepped.status).toBe(200);
    adam = cookieOf(stepped);

    const ownersSession = await post("/mss-login/api/admin/sessions/revoke", { id: ownerSession }, { cookie: adam });
    expect(ownersSession.status).toBe(403);
    expect(await ownersSession.json()).toMatchObject({ code: "OWNER_ONLY" });
    expect((await get("/api/queue", owner)).status).toBe(200);

    const ownerToken = (await tokensAs(null)).find((t) => t.username === "tester")!.id;
    const adaToken = (await tokensAs(null)).find((t) => t.username === "ada")!.id;
    for (const id of [ownerToken, adaToken]) {
      const refused = await post("/mss-login/api/admin/tokens/revoke", { id }, { cookie: adam });
      expect(refused.status).toBe(403);
      expect(await refused.json()).toMatchObject({ code: "OWNER_ONLY" });
    }
    expect((await gateway.fetch("/api/queue")).status).toBe(200);

    // A user's credentials are the admin's to end.
    const bobToken = (await tokensAs(adam)).find((t) => t.username === "bob")!.id;
    expect(await (await post("/mss-login/api/admin/tokens/revoke", { id: bobToken }, { cookie: adam })).json()).toEqual({ ok: true });
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { authorization: `Bearer ${bobAccount.token}` } })).status).toBe(401);
    expect(await (await post("/mss-login/api/admin/sessions/revoke", { id: aliceSession }, { cookie: adam })).json()).toEqual({ ok: true });
    expect((await get("/api/queue", alice)).status).toBe(401);
  });

  test("an admin's API token with the admin scope needs no step-up, within the same rules", async () => {
    const ownerSession = (await sessionsAs(null)).find((s) => s.username === "tester")!.id;
    const refused = await fetch(`${gateway.url}/mss-login/api/admin/sessions/revoke`, { method: "POST", headers: { authorization: `Bearer ${adamAccount.token}`, "content-type": "application/json" }, body: JSON.stringify({ id: ownerSession }) });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: "OWNER_ONLY" });
  });
});

describe("everyone else", () => {
  test("users and anonymous callers are refused", async () => {
    const dora = await (async () => {
      expect((await asOwnerToken("/mss-login/api/users", { username: "dora", password: ALICE_PASSWORD, role: "user" })).status).toBe(201);
      return signIn("dora", ALICE_PASSWORD);
    })();
    for (const path of ["/mss-login/api/admin/sessions", "/mss-login/api/admin/tokens"]) {
      const refused = await get(path, dora);
      expect(refused.status).toBe(403);
      expect(await refused.json()).toMatchObject({ code: "ADMIN_ONLY" });
      expect((await fetch(gateway.url + path)).status).toBe(401);
      expect((await post(`${path}/revoke`, { id: "x" }, { cookie: dora })).status).toBe(403);
      expect((await post(`${path}/revoke`, { id: "x" })).status).toBe(401);
    }
  });
});
