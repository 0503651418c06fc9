/**
 * Account administration through the real gateway and the fake ComfyUI, as scenarios (request,
 * expected status, body fragments, what is stored afterwards): the users API and `/register`,
 * the permission matrix API, step-up before admin writes, an admin ending another user's
 * sessions or second factor, ownership transfer, and the roles that must enrol a second factor.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as OTPAuth from "otpauth";
import { openDatabase } from "../../src/db/index.ts";
import { listUsers } from "../../src/auth/users.ts";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { startTestGateway, TEST_PASSWORD, type TestGateway } from "../support/gateway.ts";

let fake: FakeComfyUI;
/** `tester` is the owner here; its API token has every scope (admin writes need no step-up). */
let gateway: TestGateway;

const ALICE_PASSWORD = "rainy orchard lantern 41";
const ADAM_PASSWORD = "quiet harbour compass 72";

beforeAll(async () => {
  fake = await startFakeComfyUI({ multiUser: true });
  gateway = await startTestGateway(fake.url, [], { MSS_LOGIN_REGULATION__IP_ATTEMPTS_PER_MINUTE: "200" }, "owner");
});
afterAll(async () => {
  await gateway.stop();
  await fake.stop();
});

/** As a browser page of the gateway would send it (fetch metadata says same-origin). */
function post(path: string, body: unknown, headers: Record<string, string> = {}, method = "POST") {
  return fetch(gateway.url + path, { method, headers: { "content-type": "application/json", "sec-fetch-site": "same-origin", ...headers }, body: JSON.stringify(body), redirect: "manual" });
}
/** As the owner's all-scope API token. */
function asOwner(path: string, body?: unknown, method = body === undefined ? "GET" : "POST") {
  return gateway.fetch(path, body === undefined ? { method } : { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}
function cookieOf(response: Response): string {
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith("mss_session="));
  if (!cookie) throw new Error(`no session cookie (status ${response.status})`);
  return cookie.split(";")[0]!;
}
async function signIn(username: string, password: string): Promise<string> {
  return cookieOf(await post("/login", { username, password }));
}
/** Reads the stored accounts straight from the database (the side effects the scenarios expect). */
function stored() {
  const database = openDatabase(gateway.dataDir);
  try {
    return listUsers(database.db);
  } finally {
    database.close();
  }
}

describe("users API (owner by API token)", () => {
  test("create, list, refuse duplicates, weak passwords, a second owner and bad bodies", async () => {
    const created = await asOwner("/mss-login/api/users", { username: "alice", password: ALICE_PASSWORD, role: "user" });
    expect(created.status).toBe(201);
    expect(await created.json()).toEqual({ status: "ok", username: "alice", role: "user" });
    // The original's field names work too.
    expect((await asOwner("/api/mss-login/api/users", { new_user_username: "adam", new_user_password: ADAM_PASSWORD, group: "admin" })).status).toBe(201);

    const list = (await (await asOwner("/mss-login/api/users")).json()) as { users: Array<Record<string, unknown>> };
    expect(list.users.find((u) => u.username === "alice")).toMatchObject({ role: "user", groups: ["user"], is_admin: false, sfw_check: true, disabled: false, mfa_enabled: false });
    expect(list.users.find((u) => u.username === "adam")).toMatchObject({ role: "admin", is_admin: true });
    expect(JSON.stringify(list)).not.toContain("argon2");

    const before = stored().length;
    const duplicate = await asOwner("/mss-login/api/users", { username: "ALICE", password: ALICE_PASSWORD });
    expect(duplicate.status).toBe(409);
    expect(await duplicate.json()).toMatchObject({ code: "USERNAME_TAKEN" });
    expect(await (await asOwner("/mss-login/api/users", { username: "carol", password: "short" })).json()).toMatchObject({ code: "PASSWORD_TOO_SHORT" });
    expect((await asOwner("/mss-login/api/users", { username: "carol", password: ALICE_PASSWORD, role: "owner" })).status).toBe(403);
    expect(await (await asOwner("/mss-login/api/users", { username: "carol", password: ALICE_PASSWORD, role: "wizard" })).json()).toMatchObject({ code: "ROLE_INVALID" });
    const notJson = await gateway.fetch("/mss-login/api/users", { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ code: "BAD_BODY" });
    expect(stored().length).toBe(before);
  });

  test("non-admins and anonymous callers cannot use it", async () => {
    expect((await fetch(`${gateway.url}/mss-login/api/users`)).status).toBe(401);
    const alice = await signIn("alice", ALICE_PASSWORD);
    const refused = await fetch(`${gateway.url}/mss-login/api/users`, { headers: { cookie: alice } });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: "ADMIN_ONLY" });
    expect((await post("/mss-login/api/users", { username: "mallory", password: ALICE_PASSWORD }, { cookie: alice })).status).toBe(403);
    expect(stored().some((u) => u.username === "mallory")).toBe(false);
  });

  test("a plain user may not hold API tokens (can_have_api_tokens)", async () => {
    const alice = await signIn("alice", ALICE_PASSWORD);
    const refused = await post("/mss-login/generate_token", { label: "x" }, { cookie: alice });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: "TOKENS_NOT_ALLOWED" });
  });
});

describe("an admin's browser session", () => {
  let adam: string;
  beforeAll(async () => {
    // Admins must enrol a second factor by default; this scenario is about step-up, so the
    // owner turns that off for admins first (the owner alone may change the admin row).
    const changed = await asOwner("/mss-login/api/groups", { groups: { admin: { mfa_required: false } } }, "PUT");
    expect(changed.status).toBe(200);
    adam = await signIn("adam", ADAM_PASSWORD);
  });

  test("admin writes need a fresh password re-entry (step-up); reads do not", async () => {
    expect((await fetch(`${gateway.url}/mss-login/api/users`, { headers: { cookie: adam } })).status).toBe(200);
    const noStepUp = await post("/mss-login/api/users", { username: "bob", password: ALICE_PASSWORD, role: "power" }, { cookie: adam });
    expect(noStepUp.status).toBe(403);
    expect(await noStepUp.json()).toMatchObject({ code: "STEP_UP_REQUIRED" });
    const wrong = await post("/mss-login/api/step-up", { password: "not adam's password" }, { cookie: adam });
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toMatchObject({ code: "PASSWORD_REQUIRED" });
    const before = adam;
    const stepped = await post("/mss-login/api/step-up", { password: ADAM_PASSWORD }, { cookie: adam });
    expect(stepped.status).toBe(200);
    expect(await stepped.json()).toMatchObject({ status: "ok", valid_for_seconds: 300 });
    // The session goes on under a new id; the one known before the step-up is dead.
    adam = cookieOf(stepped);
    expect(adam).not.toBe(before);
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { cookie: before } })).status).toBe(401);
    expect((await post("/mss-login/api/users", { username: "bob", password: ALICE_PASSWORD, role: "power" }, { cookie: adam })).status).toBe(201);
    expect(stored().find((u) => u.username === "bob")?.role).toBe("power");
  });

  test("an admin manages power users, users and guests, not admins or the owner", async () => {
    const makeAdmin = await post("/mss-login/api/users", { username: "eve", password: ALICE_PASSWORD, role: "admin" }, { cookie: adam });
    expect(makeAdmin.status).toBe(403);
    expect(await makeAdmin.json()).toMatchObject({ code: "OWNER_ONLY" });
    const promote = await post("/mss-login/api/users/bob", { role: "admin" }, { cookie: adam }, "PUT");
    expect(await promote.json()).toMatchObject({ code: "OWNER_ONLY" });
    expect(await (await post("/mss-login/api/users/adam", { role: "user" }, { cookie: adam }, "PUT")).json()).toMatchObject({ code: "SELF_CHANGE" });
    const owner = await post("/mss-login/api/users/tester", { role: "user" }, { cookie: adam }, "PUT");
    expect(owner.status).toBe(403);
    expect((await post("/mss-login/api/users/tester", {}, { cookie: adam }, "DELETE")).status).toBe(403);
    expect((await post("/mss-login/api/users/nobody_here", { role: "user" }, { cookie: adam }, "PUT")).status).toBe(404);
    expect(await (await post("/mss-login/api/users/bob", { sfw_check: "perhaps" }, { cookie: adam }, "PUT")).json()).toMatchObject({ code: "BAD_BODY" });

    // The original's body shape: groups[0] is the role.
    const changed = await post("/mss-login/api/users/bob", { groups: ["user"], sfw_check: false }, { cookie: adam }, "PUT");
    expect(changed.status).toBe(200);
    expect(await changed.json()).toMatchObject({ status: "ok", user: { username: "bob", role: "user", sfw_check: false } });
    const bob = stored().find((u) => u.username === "bob")!;
    expect([bob.role, bob.sfwCheck, stored().find((u) => u.username === "tester")?.role]).toEqual(["user", false, "owner"]);
  });

  test("a change that is refused part-way changes nothing", async () => {
    // sfw_check would be allowed, the role change is not: neither happens.
    const refused = await post("/mss-login/api/users/bob", { sfw_check: true, role: "admin" }, { cookie: adam }, "PUT");
    expect(refused.status).toBe(403);
    expect(stored().find((u) => u.username === "bob")).toMatchObject({ role: "user", sfwCheck: false });
  });

  test("ending another user's sessions works at once; disabling does too", async () => {
    const alice = await signIn("alice", ALICE_PASSWORD);
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { cookie: alice } })).status).toBe(200);
    const sessions = (await (await fetch(`${gateway.url}/mss-login/api/users/alice/sessions`, { headers: { cookie: adam } })).json()) as { sessions: Array<{ jti: string }> };
    expect(sessions.sessions.length).toBeGreaterThan(0);
    const revoked = await post("/mss-login/api/users/alice/sessions/revoke", {}, { cookie: adam });
    expect(await revoked.json()).toMatchObject({ status: "ok" });
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { cookie: alice } })).status).toBe(401);

    const again = await signIn("alice", ALICE_PASSWORD);
    expect(await (await post("/mss-login/api/users/alice", { disabled: true }, { cookie: adam }, "PUT")).json()).toMatchObject({ user: { disabled: true } });
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { cookie: again } })).status).toBe(401);
    expect((await post("/login", { username: "alice", password: ALICE_PASSWORD })).status).toBe(401);
    expect((await post("/mss-login/api/users/alice", { disabled: false }, { cookie: adam }, "PUT")).status).toBe(200);
    expect((await post("/login", { username: "alice", password: ALICE_PASSWORD })).status).toBe(200);
  });

  test("resetting a user's second factor ends their sessions and lets them in with the password", async () => {
    const alice = await signIn("alice", ALICE_PASSWORD);
    const setup = (await (await post("/mss-login/api/mfa/setup", { password: ALICE_PASSWORD }, { cookie: alice })).json()) as { secret: string };
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(setup.secret), digits: 6, period: 30, algorithm: "SHA1" });
    expect((await post("/mss-login/api/mfa/verify-setup", { code: totp.generate() }, { cookie: alice })).status).toBe(200);
    expect(await (await post("/login", { username: "alice", password: ALICE_PASSWORD })).json()).toMatchObject({ mfa_required: true });

    const reset = await post("/mss-login/api/users/alice/mfa/reset", {}, { cookie: adam });
    expect(await reset.json()).toEqual({ status: "ok", mfa_was_enabled: true });
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { cookie: alice } })).status).toBe(401);
    expect(await (await post("/login", { username: "alice", password: ALICE_PASSWORD })).json()).toMatchObject({ jwt_token: expect.any(String) });
    // An admin cannot reset the owner's.
    expect((await post("/mss-login/api/users/tester/mfa/reset", {}, { cookie: adam })).status).toBe(403);
  });

  test("an admin never chooses a user's password: a single-use reset link does, and ends the user's sessions", async () => {
    const alice = await signIn("alice", ALICE_PASSWORD);
    const made = await post("/mss-login/api/users/alice/password-reset", {}, { cookie: adam });
    expect(made.status).toBe(200);
    const { reset_path: resetPath, valid_hours: hours } = (await made.json()) as { reset_path: string; valid_hours: number };
    expect(resetPath).toMatch(/^\/reset\?token=mst_/);
    expect(hours).toBe(24);
    // The old route that let an admin type the password is gone.
    expect((await post("/mss-login/api/users/alice/password", { password: "chosen by the admin 1" }, { cookie: adam })).status).toBe(404);

    const page = await fetch(gateway.url + resetPath);
    expect(await page.text()).toContain("For alice.");
    const token = new URLSearchParams(resetPath.split("?")[1]).get("token")!;
    const submit = (password: string) =>
      fetch(`${gateway.url}/reset`, { method: "POST", headers: { origin: gateway.url, "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token, password }) });
    const weak = await submit("password");
    expect(weak.status).toBe(400);
    expect(await weak.text()).toContain("at least 12 characters");
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { cookie: alice } })).status).toBe(200);
    const done = await submit("a brand new passphrase 3");
    const donePage = await done.text();
    expect(donePage).toContain("<h1>Password changed</h1>");
    expect(donePage).not.toContain("{{");
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { cookie: alice } })).status).toBe(401);
    expect((await post("/login", { username: "alice", password: "a brand new passphrase 3" })).status).toBe(200);
    // Single use.
    expect((await submit("another passphrase here 4")).status).toBe(400);
    // Back to the password the other scenarios use, by the user's own change.
    const again = await signIn("alice", "a brand new passphrase 3");
    const changed = await post("/mss-login/api/me/password", { current_password: "a brand new passphrase 3", new_password: ALICE_PASSWORD }, { cookie: again });
    expect(await changed.json()).toMatchObject({ status: "ok" });
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { cookie: again } })).status).toBe(200);
  });

  test("/register: the original's form for administrators", async () => {
    const anonymous = await fetch(`${gateway.url}/register`, { headers: { accept: "text/html", "sec-fetch-mode": "navigate" }, redirect: "manual" });
    expect([anonymous.status, anonymous.headers.get("location")]).toEqual([302, "/login?next=%2Fregister"]);
    const alice = await signIn("alice", ALICE_PASSWORD);
    expect((await fetch(`${gateway.url}/register`, { headers: { cookie: alice } })).status).toBe(403);

    const page = await fetch(`${gateway.url}/register`, { headers: { cookie: adam } });
    const html = await page.text();
    expect(html).toContain("Signed in as adam");
    expect(html).toContain('<option value="power">');
    expect(html).not.toContain('<option value="admin">');

    const form = (fields: Record<string, string>) =>
      fetch(`${gateway.url}/register`, { method: "POST", headers: { cookie: adam, origin: gateway.url, "sec-fetch-mode": "navigate", accept: "text/html" }, body: new URLSearchParams(fields), redirect: "manual" });
    const badConfirm = await form({ new_user_username: "frank", new_user_password: ALICE_PASSWORD, role: "user", current_password: "wrong" });
    expect(await badConfirm.text()).toContain("That is not your current password.");
    const made = await form({ new_user_username: "frank", new_user_password: ALICE_PASSWORD, role: "user", current_password: ADAM_PASSWORD });
    adam = cookieOf(made); // stepped up under a new session id
    expect(made.status).toBe(200);
    expect(await made.text()).toContain("Account frank created.");
    const json = await asOwner("/register", { new_user_username: "grace", new_user_password: ALICE_PASSWORD });
    expect(json.status).toBe(201);
    expect(await json.json()).toMatchObject({ message: "User registered", username: "grace", role: "user" });
    expect(stored().filter((u) => u.username === "frank" || u.username === "grace").map((u) => u.role)).toEqual(["user", "user"]);
  });

  test("deleting an account ends its credentials; the owner, the guest account and oneself stay", async () => {
    const grace = await signIn("grace", ALICE_PASSWORD);
    expect((await post("/mss-login/api/users/grace", {}, { cookie: adam }, "DELETE")).status).toBe(200);
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { cookie: grace } })).status).toBe(401);
    expect(stored().some((u) => u.username === "grace")).toBe(false);
    expect(await (await post("/mss-login/api/users/adam", {}, { cookie: adam }, "DELETE")).json()).toMatchObject({ code: "SELF_CHANGE" });
    expect((await post("/mss-login/api/users/grace", {}, { cookie: adam }, "DELETE")).status).toBe(404);
  });
});

describe("the permission matrix API", () => {
  test("GET: every signed-in user reads it; the owner's row is everything anyone has", async () => {
    const alice = await signIn("alice", ALICE_PASSWORD);
    const answer = (await (await fetch(`${gateway.url}/api/mss-login/api/groups`, { headers: { cookie: alice } })).json()) as { groups: Record<string, Record<string, boolean>> };
    expect(Object.keys(answer.groups).sort()).toEqual(["admin", "guest", "owner", "power", "user"]);
    expect(answer.groups.user).toMatchObject({ can_run: true, can_upload: true, can_access_manager: false, can_have_api_tokens: false });
    expect(answer.groups.guest).toMatchObject({ can_upload: false, ui_menu_save: false });
    expect(Object.values(answer.groups.owner!).every((value) => value)).toBe(true);
    expect((await fetch(`${gateway.url}/mss-login/api/groups`)).status).toBe(401);
  });

  test("PUT: admins only, the admin row only by the owner, all or nothing, and it takes effect at once", async () => {
    const alice = await signIn("alice", ALICE_PASSWORD);
    expect(await (await post("/mss-login/api/groups", { groups: { user: { can_run: false } } }, { cookie: alice }, "PUT")).json()).toMatchObject({ code: "ADMIN_ONLY" });
    const adam = cookieOf(await post("/mss-login/api/step-up", { password: ADAM_PASSWORD }, { cookie: await signIn("adam", ADAM_PASSWORD) }));
    const adminRow = await post("/mss-login/api/groups", { groups: { admin: { can_view_console: true } } }, { cookie: adam }, "PUT");
    expect(adminRow.status).toBe(403);
    expect(await adminRow.json()).toMatchObject({ code: "OWNER_ONLY" });
    // A bad value anywhere: nothing is written.
    const bad = await post("/mss-login/api/groups", { groups: { user: { can_run: false, can_upload: "maybe" } } }, { cookie: adam }, "PUT");
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: "GROUPS_INVALID" });
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { cookie: alice } })).status).toBe(200);

    // Owner entries are ignored (the owner's row is computed); custom keys are kept.
    expect((await post("/mss-login/api/groups", { groups: { owner: { can_run: false }, user: { can_run: false, my_extension_key: true } } }, { cookie: adam }, "PUT")).status).toBe(200);
    const view = (await (await fetch(`${gateway.url}/mss-login/api/groups`, { headers: { cookie: adam } })).json()) as { groups: Record<string, Record<string, boolean>> };
    expect(view.groups.user).toMatchObject({ can_run: false, my_extension_key: true });
    expect(view.groups.owner).toMatchObject({ can_run: true, my_extension_key: true });
    const refused = await post("/api/prompt", { prompt: {} }, { cookie: alice });
    expect(refused.status).toBe(403);
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { cookie: alice } })).status).toBe(403);
    expect((await post("/mss-login/api/groups", { groups: { user: { can_run: true } } }, { cookie: adam }, "PUT")).status).toBe(200);
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { cookie: alice } })).status).toBe(200);
  });
});

describe("roles that must use a second factor (mfa_required)", () => {
  test("the owner (default matrix) enrols before the session starts; the temporary token works once", async () => {
    const first = await post("/login", { username: "tester", password: TEST_PASSWORD });
    expect(first.status).toBe(200);
    expect(first.headers.getSetCookie()).toEqual([]);
    const answer = (await first.json()) as { mfa_setup_required: boolean; mfa_temp_token: string };
    expect(answer.mfa_setup_required).toBe(true);

    const setup = await post("/mss-login/api/mfa/setup", { mfa_temp_token: answer.mfa_temp_token });
    const { secret, qr_svg } = (await setup.json()) as { secret: string; qr_svg: string };
    expect(qr_svg).toContain("<svg");
    expect((await post("/mss-login/api/mfa/verify-setup", { mfa_temp_token: answer.mfa_temp_token, code: "000000" })).status).toBe(400);
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30, algorithm: "SHA1" });
    const done = await post("/mss-login/api/mfa/verify-setup", { mfa_temp_token: answer.mfa_temp_token, code: totp.generate() });
    expect(done.status).toBe(200);
    const body = (await done.json()) as { recovery_codes: string[]; jwt_token: string };
    expect(body.recovery_codes.length).toBeGreaterThanOrEqual(8);
    const cookie = cookieOf(done);
    expect((await fetch(`${gateway.url}/mss-login/api/me`, { headers: { cookie } }).then((r) => r.json()))).toMatchObject({ username: "tester", role: "owner", mfa_enabled: true });
    // Spent: the same temporary token cannot enrol again or start another session.
    expect((await post("/mss-login/api/mfa/verify-setup", { mfa_temp_token: answer.mfa_temp_token, code: totp.generate() })).status).toBe(401);
    expect((await post("/mss-login/api/mfa/setup", { mfa_temp_token: answer.mfa_temp_token })).status).toBe(401);
    // From now on the owner signs in with a code.
    expect(await (await post("/login", { username: "tester", password: TEST_PASSWORD })).json()).toMatchObject({ mfa_required: true });
  });

  test("a forged or wrong-purpose temporary token is refused", async () => {
    expect((await post("/mss-login/api/mfa/setup", { mfa_temp_token: "mst_" + "A".repeat(43) })).status).toBe(401);
    const mfaStep = (await (await post("/login", { username: "tester", password: TEST_PASSWORD })).json()) as { mfa_temp_token: string };
    expect((await post("/mss-login/api/mfa/setup", { mfa_temp_token: mfaStep.mfa_temp_token })).status).toBe(401);
  });
});

describe("ownership", () => {
  test("the owner hands ownership over; the previous owner becomes an admin", async () => {
    const handed = await asOwner("/mss-login/api/users/adam", { role: "owner" }, "PUT");
    expect(handed.status).toBe(200);
    const roles = Object.fromEntries(stored().map((u) => [u.username, u.role]));
    expect([roles.adam, roles.tester]).toEqual(["owner", "admin"]);
    expect(stored().filter((u) => u.role === "owner").length).toBe(1);
  });
});
