/**
 * Settings the admin app changes at run time (`GET|PUT /mss-login/api/settings`), through the
 * real gateway and the fake ComfyUI, as scenarios: the shape of the list, refusals that change
 * nothing, step-up and owner-only keys, a change that the very next request follows (guest
 * sign-in, password minimum, queue cap, regulation, step-up length), and the stored value that
 * survives a restart while the environment still wins.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway, type RunningGateway } from "../../src/app.ts";
import { loadConfig } from "../../src/config/index.ts";
import { applyMigrations, openDatabase } from "../../src/db/index.ts";
import { createLogger } from "../../src/log.ts";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { createTestAccount, startTestGateway, TEST_PASSWORD, TEST_ENV, type TestAccount, type TestGateway } from "../support/gateway.ts";

interface SettingItem {
  key: string;
  group: string;
  label: string;
  description: string;
  type: string;
  value: unknown;
  default: unknown;
  min?: number;
  max?: number;
  unit?: string;
  source: string;
  locked: boolean;
  applies: string;
  owner_only: boolean;
}

let fake: FakeComfyUI;
/** `tester` is the owner (all-scope token); the environment pins sessions.admin_idle_minutes. */
let gateway: TestGateway;
let adam: TestAccount;
let alice: TestAccount;

beforeAll(async () => {
  fake = await startFakeComfyUI({ multiUser: true, profile: "v0.38", execution: "manual" });
  gateway = await startTestGateway(fake.url, [], { MSS_LOGIN_SESSIONS__ADMIN_IDLE_MINUTES: "45" }, "owner");
  adam = await createTestAccount(gateway.dataDir, "adam", "admin");
  alice = await createTestAccount(gateway.dataDir, "alice", "user");
  expect((await put(gateway.account, { groups: { admin: { mfa_required: false } } }, "/mss-login/api/groups")).status).toBe(200);
  // Many sign-ins from one address in this file; the bucket has its own scenario below.
  expect((await put(gateway.account, { values: { "regulation.ip_attempts_per_minute": 1000 } })).status).toBe(200);
});
afterAll(async () => {
  await gateway.stop();
  await fake.stop();
});

function as(account: TestAccount | null, path: string, init: RequestInit = {}, base = gateway.url): Promise<Response> {
  const headers = new Headers(init.headers);
  if (account !== null) headers.set("authorization", `Bearer ${account.token}`);
  if (typeof init.body === "string") headers.set("content-type", "application/json");
  return fetch(base + path, { ...init, headers, redirect: "manual" });
}
function put(account: TestAccount | null, body: unknown, path = "/mss-login/api/settings", base = gateway.url): Promise<Response> {
  return as(account, path, { method: "PUT", body: JSON.stringify(body) }, base);
}
async function list(account: TestAccount = gateway.account, base = gateway.url): Promise<SettingItem[]> {
  const response = await as(account, "/mss-login/api/settings", {}, base);
  expect(response.status).toBe(200);
  return ((await response.json()) as { settings: SettingItem[] }).settings;
}
async function item(key: string, base = gateway.url, account: TestAccount = gateway.account): Promise<SettingItem> {
  return (await list(account, base)).find((s) => s.key === key)!;
}
/** A browser form post to the gateway's own pages. */
function login(fields: Record<string, unknown>) {
  return fetch(`${gateway.url}/login`, { method: "POST", headers: { "content-type": "application/json", "sec-fetch-site": "same-origin" }, body: JSON.stringify(fields), redirect: "manual" });
}
function cookieOf(response: Response): string {
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith("mss_session="));
  if (!cookie) throw new Error(`no session cookie (status ${response.status})`);
  return cookie.split(";")[0]!;
}
function storedRows(dataDir = gateway.dataDir): unknown[] {
  const database = openDatabase(dataDir);
  try {
    return database.sqlite.query("select key, value_json, updated_by from gateway_settings order by key").all();
  } finally {
    database.close();
  }
}

describe("GET /mss-login/api/settings", () => {
  test("lists each setting with value, default, bounds, unit, source, lock, when it applies and who may change it", async () => {
    const settings = await list();
    for (const setting of settings) {
      const keys = Object.keys(setting);
      for (const field of ["key", "group", "label", "description", "type", "value", "default", "source", "locked", "applies", "owner_only"]) expect(keys, setting.key).toContain(field);
      expect(["boolean", "integer", "string"]).toContain(setting.type);
      expect(["default", "config", "admin", "env", "flag"]).toContain(setting.source);
      expect(["now", "restart"]).toContain(setting.applies);
      if (setting.type === "integer") expect([typeof setting.min, typeof setting.max, typeof setting.unit]).toEqual(["number", "number", "string"]);
    }
    expect(settings.find((s) => s.key === "auth.allow_guest")).toEqual({
      key: "auth.allow_guest",
      group: "Sign-in",
      label: "Guest sign-in",
      description: expect.stringContaining("guest"),
      type: "boolean",
      value: false,
      default: false,
      source: "default",
      locked: false,
      applies: "now",
      owner_only: true,
    });
    expect(settings.find((s) => s.key === "sessions.admin_idle_minutes")).toMatchObject({ value: 45, default: 30, min: 1, max: 1440, unit: "minutes", source: "env", locked: true });
    // A choice lists its values, so the app offers a select rather than a text box.
    expect(settings.find((s) => s.key === "regulation.profile")).toMatchObject({ type: "string", options: ["default", "original"] });
    expect(settings.find((s) => s.key === "regulation.ip_attempts_per_minute")).toMatchObject({ value: 1000, default: 5, source: "admin", locked: false });
    expect(settings.find((s) => s.key === "queue.max_pending.guest")).toMatchObject({ value: 2, unit: "prompts", min: 0 });
    // The test gateway is given --upstream: locked, and only ever the owner's.
    expect(settings.find((s) => s.key === "upstream.url")).toMatchObject({ type: "string", value: fake.url, source: "flag", locked: true, applies: "restart", owner_only: true });
    // The other spelling; admins may read; nobody else.
    expect(((await (await as(gateway.account, "/api/mss-login/api/settings")).json()) as { settings: unknown[] }).settings.length).toBe(settings.length);
    expect((await list(adam)).length).toBe(settings.length);
    const user = await as(alice, "/mss-login/api/settings");
    expect(user.status).toBe(403);
    expect(await user.json()).toMatchObject({ code: "ADMIN_ONLY" });
    expect((await as(null, "/mss-login/api/settings")).status).toBe(401);
    expect((await put(alice, { values: { "auth.allow_guest": true } })).status).toBe(403);
    expect((await put(null, { values: { "auth.allow_guest": true } })).status).toBe(401);
  });
});

describe("PUT /mss-login/api/settings refusals", () => {
  test("a bad body, an unknown key, a bad value or a locked key changes nothing; the first failure names its field", async () => {
    const before = await list();
    const rowsBefore = storedRows();
    const refusals: [unknown, number, string, string | undefined][] = [
      [{}, 400, "BAD_BODY", undefined],
      [{ values: [1] }, 400, "BAD_BODY", undefined],
      [{ reset: "auth.allow_guest" }, 400, "BAD_BODY", undefined],
      [{ values: { "password.min_length": 16, "listen.port": 80 } }, 400, "UNKNOWN_SETTING", "listen.port"],
      [{ values: { "password.min_length": 16, "sessions.idle_hours": 0 } }, 400, "INVALID_SETTING", "sessions.idle_hours"],
      [{ values: { "password.min_length": 7 } }, 400, "INVALID_SETTING", "password.min_length"],
      [{ values: { "auth.allow_guest": "yes" } }, 400, "INVALID_SETTING", "auth.allow_guest"],
      [{ values: { "queue.max_pending.user": 2.5 } }, 400, "INVALID_SETTING", "queue.max_pending.user"],
      [{ values: { "regulation.profile": "lenient" } }, 400, "INVALID_SETTING", "regulation.profile"],
      [{ values: { "password.min_length": 16, "sessions.admin_idle_minutes": 10 } }, 400, "SETTING_LOCKED", "sessions.admin_idle_minutes"],
      [{ reset: ["sessions.admin_idle_minutes"] }, 400, "SETTING_LOCKED", "sessions.admin_idle_minutes"],
      [{ values: { "upstream.url": "http://127.0.0.1:1" } }, 400, "SETTING_LOCKED", "upstream.url"],
      [{ reset: ["no.such.key"] }, 400, "UNKNOWN_SETTING", "no.such.key"],
    ];
    for (const [body, status, code, field] of refusals) {
      const response = await put(gateway.account, body);
      const answer = (await response.json()) as { error: string; code: string; field?: string };
      expect({ body, status: response.status, code: answer.code, field: answer.field }).toEqual({ body, status, code, field });
      expect(answer.error.length).toBeGreaterThan(0);
    }
    const notJson = await as(gateway.account, "/mss-login/api/settings", { method: "PUT", body: "{not json" });
    expect(notJson.status).toBe(400);
    expect(await list()).toEqual(before);
    expect(storedRows()).toEqual(rowsBefore);
  });

  test("writes need a fresh password re-entry; upstream.url is the owner's alone", async () => {
    const cookie = cookieOf(await login({ username: "adam", password: TEST_PASSWORD }));
    const browserPut = (headers: Record<string, string>, body: unknown) =>
      fetch(`${gateway.url}/mss-login/api/settings`, { method: "PUT", headers: { "content-type": "application/json", "sec-fetch-site": "same-origin", ...headers }, body: JSON.stringify(body) });
    const noStepUp = await browserPut({ cookie }, { values: { "queue.max_pending.guest": 3 } });
    expect(noStepUp.status).toBe(403);
    expect(await noStepUp.json()).toMatchObject({ code: "STEP_UP_REQUIRED" });
    const stepped = await fetch(`${gateway.url}/mss-login/api/step-up`, { method: "POST", headers: { "content-type": "application/json", "sec-fetch-site": "same-origin", cookie }, body: JSON.stringify({ password: TEST_PASSWORD }) });
    const fresh = cookieOf(stepped);
    const ownerOnly = await browserPut({ cookie: fresh }, { values: { "queue.max_pending.guest": 3, "upstream.url": "http://127.0.0.1:1" } });
    expect(ownerOnly.status).toBe(403);
    expect(await ownerOnly.json()).toMatchObject({ code: "OWNER_ONLY", field: "upstream.url" });
    expect((await item("queue.max_pending.guest")).value).toBe(2);
    // Everything else is the admin's: the answer is the list, as GET gives it.
    const done = await browserPut({ cookie: fresh }, { values: { "queue.max_pending.guest": 3 } });
    expect(done.status).toBe(200);
    const body = (await done.json()) as { settings: SettingItem[] };
    expect(body).toEqual({ settings: await list() });
    expect(body.settings.find((s) => s.key === "queue.max_pending.guest")).toMatchObject({ value: 3, source: "admin" });
    expect(storedRows()).toContainEqual({ key: "queue.max_pending.guest", value_json: "3", updated_by: "adam" });
    // Back to the default: the override goes.
    expect((await put(gateway.account, { reset: ["queue.max_pending.guest"] })).status).toBe(200);
    expect(await item("queue.max_pending.guest")).toMatchObject({ value: 2, source: "default" });
  });
});

describe("a change applies to the next request", () => {
  test("guest sign-in", async () => {
    const refused = await login({ guest_login: "true" });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: "GUEST_DISABLED" });
    expect(await (await fetch(`${gateway.url}/login`)).text()).not.toContain("Continue as guest");

    expect((await put(gateway.account, { values: { "auth.allow_guest": true } })).status).toBe(200);
    expect(await (await fetch(`${gateway.url}/login`)).text()).toContain("Continue as guest");
    const guest = await login({ guest_login: "true" });
    expect(guest.status).toBe(200);
    expect(await (await fetch(`${gateway.url}/mss-login/api/me`, { headers: { cookie: cookieOf(guest) } })).json()).toMatchObject({ username: "guest", role: "guest" });

    // An administrator may not open guest sign-in or weaken other protections: that is the owner's.
    expect(await (await put(adam, { values: { "auth.allow_guest": false } })).json()).toMatchObject({ code: "OWNER_ONLY", field: "auth.allow_guest" });
    expect(await (await put(adam, { values: { "regulation.account_max_failures": 100 } })).json()).toMatchObject({ code: "OWNER_ONLY", field: "regulation.account_max_failures" });
    expect((await put(gateway.account, { values: { "auth.allow_guest": false } })).status).toBe(200);
    expect((await login({ guest_login: "true" })).status).toBe(403);
  });

  test("the password minimum", async () => {
    const create = (username: string) => as(gateway.account, "/mss-login/api/users", { method: "POST", body: JSON.stringify({ username, password: "tidal quartz 95", role: "user" }) });
    expect((await create("pia")).status).toBe(201);
    expect((await put(gateway.account, { values: { "password.min_length": 20 } })).status).toBe(200);
    const refused = await create("pete");
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ code: "PASSWORD_TOO_SHORT", error: "Use at least 20 characters." });
    // The forms that set a password say the current minimum.
    expect(await (await as(gateway.account, "/register", { headers: { accept: "text/html" } })).text()).toContain("At least 20 characters");
    expect((await put(gateway.account, { reset: ["password.min_length"] })).status).toBe(200);
    expect((await create("pete")).status).toBe(201);
  });

  test("the queue cap of a role", async () => {
    let seed = 0;
    const queue = () => as(alice, "/api/prompt", { method: "POST", body: JSON.stringify({ prompt: { "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: ++seed } }, "9": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "cap" } } } }) });
    expect((await put(adam, { values: { "queue.max_pending.user": 1 } })).status).toBe(200);
    // One runs (manual execution holds it), one waits: the next is refused.
    expect((await queue()).status).toBe(200);
    expect((await queue()).status).toBe(200);
    const refused = await queue();
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ code: "QUEUE_LIMIT" });
    expect((await put(adam, { values: { "queue.max_pending.user": 0 } })).status).toBe(200);
    expect((await queue()).status).toBe(200);
    for (let i = 0; i < 100 && fake.summary().queue_remaining > 0; i++) await fake.step();
    await fake.waitForIdle(5000);
    expect((await put(adam, { reset: ["queue.max_pending.user"] })).status).toBe(200);
  });

  test("brute-force regulation: failures before a ban, and attempts per address", async () => {
    expect((await as(gateway.account, "/mss-login/api/users", { method: "POST", body: JSON.stringify({ username: "vera", password: "violet anchor 303", role: "user" }) })).status).toBe(201);
    // The default allows three failures: one wrong password bans nothing.
    expect((await login({ username: "vera", password: "wrong password 1" })).status).toBe(401);
    expect((await login({ username: "vera", password: "violet anchor 303" })).status).toBe(200);
    expect((await put(gateway.account, { values: { "regulation.account_max_failures": 1 } })).status).toBe(200);
    expect((await login({ username: "vera", password: "wrong password 2" })).status).toBe(401);
    // Banned now: even the right password is refused, exactly as a wrong one.
    expect((await login({ username: "vera", password: "violet anchor 303" })).status).toBe(401);

    expect((await put(gateway.account, { values: { "regulation.ip_attempts_per_minute": 2 } })).status).toBe(200);
    expect((await login({ username: "nobody", password: "x" })).status).toBe(401);
    expect((await login({ username: "nobody", password: "x" })).status).toBe(401);
    const limited = await login({ username: "nobody", password: "x" });
    expect(limited.status).toBe(429);
    expect((await put(gateway.account, { values: { "regulation.ip_attempts_per_minute": 1000 } })).status).toBe(200);
    await Bun.sleep(150); // 1000 a minute: a fresh attempt every 60 ms
    expect((await login({ username: "nobody", password: "x" })).status).toBe(401);
    expect((await put(gateway.account, { reset: ["regulation.account_max_failures"] })).status).toBe(200);
  });

  test("how long a password re-entry lasts", async () => {
    expect((await put(gateway.account, { values: { "sessions.step_up_minutes": 7 } })).status).toBe(200);
    const cookie = cookieOf(await login({ username: "adam", password: TEST_PASSWORD }));
    const stepped = await fetch(`${gateway.url}/mss-login/api/step-up`, { method: "POST", headers: { "content-type": "application/json", "sec-fetch-site": "same-origin", cookie }, body: JSON.stringify({ password: TEST_PASSWORD }) });
    expect(await stepped.json()).toMatchObject({ status: "ok", valid_for_seconds: 420 });
  });
});

describe("stored settings across restarts", () => {
  let other: FakeComfyUI;
  const dataDir = mkdtempSync(join(tmpdir(), "mss-settings-restart-"));
  let owner: TestAccount;
  let admin: TestAccount;

  /** The gateway on `dataDir`, ComfyUI's address from config.json (not a flag), with extra env. */
  async function start(env: Record<string, string> = {}): Promise<RunningGateway & { close(): Promise<void> }> {
    const { config } = loadConfig({ argv: ["--data-dir", dataDir, "--host", "127.0.0.1", "--port", "0"], env: { ...TEST_ENV, ...env }, cwd: dataDir });
    const database = openDatabase(config.data_dir);
    applyMigrations(database.sqlite);
    const running = await startGateway({ config, database, log: createLogger("error") });
    return {
      ...running,
      async close() {
        await running.stop();
        database.close();
      },
    };
  }

  beforeAll(async () => {
    other = await startFakeComfyUI({ multiUser: true });
    writeFileSync(join(dataDir, "config.json"), JSON.stringify({ upstream: { url: fake.url }, password: { min_length: 13 } }));
    owner = await createTestAccount(dataDir, "tester", "owner");
    admin = await createTestAccount(dataDir, "adam", "admin");
  });
  afterAll(async () => {
    await other.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("the upstream address changes at the next start; the override survives; env still wins", async () => {
    const first = await start();
    try {
      expect(await item("upstream.url", first.url, owner)).toMatchObject({ value: fake.url, source: "config", locked: false, applies: "restart" });
      const byAdmin = await put(admin, { values: { "upstream.url": other.url } }, undefined, first.url);
      expect(byAdmin.status).toBe(403);
      expect(await byAdmin.json()).toMatchObject({ code: "OWNER_ONLY", field: "upstream.url" });
      const changed = await put(owner, { values: { "upstream.url": `${other.url}/`, "password.min_length": 16 } }, undefined, first.url);
      expect(changed.status).toBe(200);
      const settings = ((await changed.json()) as { settings: SettingItem[] }).settings;
      expect(settings.find((s) => s.key === "upstream.url")).toMatchObject({ value: other.url, source: "admin" });
      expect(settings.find((s) => s.key === "password.min_length")).toMatchObject({ value: 16, source: "admin" });
      // Until the restart, ComfyUI is still the first one.
      fake.clearRequests();
      other.clearRequests();
      expect((await as(owner, "/api/system_stats", {}, first.url)).status).toBe(200);
      expect(fake.requests().length).toBeGreaterThan(0);
      expect(other.requests().length).toBe(0);
    } finally {
      await first.close();
    }

    const second = await start();
    try {
      expect(await item("upstream.url", second.url, owner)).toMatchObject({ value: other.url, source: "admin" });
      expect(await item("password.min_length", second.url, owner)).toMatchObject({ value: 16, source: "admin" });
      fake.clearRequests();
      other.clearRequests();
      expect((await as(owner, "/api/system_stats", {}, second.url)).status).toBe(200);
      expect(other.requests().length).toBeGreaterThan(0);
      expect(fake.requests().length).toBe(0);
    } finally {
      await second.close();
    }

    const pinned = await start({ MSS_LOGIN_PASSWORD__MIN_LENGTH: "14" });
    try {
      expect(await item("password.min_length", pinned.url, owner)).toMatchObject({ value: 14, source: "env", locked: true });
      const locked = await put(owner, { values: { "password.min_length": 18 } }, undefined, pinned.url);
      expect(locked.status).toBe(400);
      expect(await locked.json()).toMatchObject({ code: "SETTING_LOCKED", field: "password.min_length" });
      // 15 characters: too short for the stored 16, long enough for the environment's 14.
      const accepted = await as(owner, "/mss-login/api/users", { method: "POST", body: JSON.stringify({ username: "quinn", password: "quiet lanes 915", role: "user" }) }, pinned.url);
      expect(accepted.status).toBe(201);
    } finally {
      await pinned.close();
    }

    // Without the environment variable, the stored value is back.
    const third = await start();
    try {
      expect(await item("password.min_length", third.url, owner)).toMatchObject({ value: 16, source: "admin" });
    } finally {
      await third.close();
    }
    expect(storedRows(dataDir)).toEqual([
      { key: "password.min_length", value_json: "16", updated_by: "tester" },
      { key: "upstream.url", value_json: JSON.stringify(other.url), updated_by: "tester" },
    ]);
  });
});
