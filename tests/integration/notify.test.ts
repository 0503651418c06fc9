/**
 * ntfy notifications through the gateway, against a local fake ntfy server and the fake
 * ComfyUI: the owner configures them (admins may read and test, not change), bad input is
 * refused whole, sign-ins become pushes with their title, priority, tags and token, the test
 * button reports the server's answer, a failing server is retried in the background while the
 * request that caused the event returns at once, new images are announced with the picture only
 * when the NSFW guard allows it, and the access token never shows in an answer, the audit log,
 * the database in clear or the process log.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { startFakeNtfy, type FakeNtfy } from "../support/fake-ntfy.ts";
import { createTestAccount, fetchAs, startTestGateway, TEST_PASSWORD, type TestAccount, type TestGateway } from "../support/gateway.ts";
import { until } from "../support/until.ts";

const NTFY_TOKEN = "tk_integration_secret_0123456789abcdef";
const PATH = "/mss-login/api/notifications";

let fake: FakeComfyUI;
let ntfy: FakeNtfy;
let gateway: TestGateway;
let owner: TestAccount;
let admin: TestAccount;
let carol: TestAccount;
const logLines: string[] = [];

beforeAll(async () => {
  fake = await startFakeComfyUI({ multiUser: true, stepDelayMs: 5 });
  ntfy = await startFakeNtfy();
  gateway = await startTestGateway(fake.url, [], { MSS_LOGIN_TRUSTED_PROXIES: "127.0.0.1" }, "user", { logLines });
  owner = await createTestAccount(gateway.dataDir, "olga", "owner");
  admin = await createTestAccount(gateway.dataDir, "adam", "admin");
  carol = await createTestAccount(gateway.dataDir, "carol", "user");
}, 60_000);
let stopped = false;
afterAll(async () => {
  if (!stopped) await gateway?.stop();
  await ntfy?.stop();
  await fake?.stop();
});

const call = (who: TestAccount | null, path: string, init: RequestInit = {}) => fetchAs(gateway.url, who, path, init);
const put = (who: TestAccount, body: unknown, path = PATH) => call(who, path, { method: "PUT", body: JSON.stringify(body) });
const json = async (response: Response) => (await response.json()) as Record<string, any>;

describe("configuring", () => {
  test("the owner sets server, topic and token; GET shows token_set, never the token; admins read but may not change", async () => {
    const initial = await json(await call(admin, PATH));
    expect(initial).toMatchObject({ enabled: false, server_url: "https://ntfy.sh", topic: "", token_set: false, attach_images: false, can_edit: false });
    expect(initial.catalogue.map((event: { key: string }) => event.key)).toContain("download_completed");
    expect(initial.events.login_failure).toEqual({ enabled: true, priority: "high", tags: ["warning", "key"] });

    const saved = await put(owner, { enabled: true, server_url: ntfy.url, topic: "mss-test", token: NTFY_TOKEN, events: { user_login: { enabled: true } } });
    const savedText = await saved.text();
    expect(saved.status).toBe(200);
    expect(savedText).not.toContain(NTFY_TOKEN);
    expect(JSON.parse(savedText)).toMatchObject({ status: "ok", enabled: true, server_url: ntfy.url, topic: "mss-test", token_set: true, can_edit: true, updated_by: "olga" });

    for (const path of [PATH, `/api${PATH}`]) {
      const read = await call(admin, path);
      const text = await read.text();
      expect(read.status, path).toBe(200);
      expect(text).not.toContain(NTFY_TOKEN);
      expect(JSON.parse(text)).toMatchObject({ token_set: true, topic: "mss-test", events: { user_login: { enabled: true } } });
    }

    const byAdmin = await put(admin, { topic: "hijacked" });
    expect([byAdmin.status, (await json(byAdmin)).code]).toEqual([403, "OWNER_ONLY"]);
    expect((await put(gateway.account, { topic: "hijacked" })).status).toBe(403);
    expect((await call(gateway.account, PATH)).status).toBe(403);
    expect((await call(null, PATH)).status).toBe(401);
    expect((await json(await call(owner, PATH))).topic).toBe("mss-test");
  });

  test("bad input is refused with {error, code} and changes nothing", async () => {
    const before = await json(await call(owner, PATH));
    const cases: Array<[unknown, string]> = [
      [{ server_url: "http://ntfy.example.com" }, "BAD_SERVER_URL"],
      [{ server_url: "https://user:secret@ntfy.sh" }, "BAD_SERVER_URL"],
      [{ server_url: "https://ntfy.sh/?auth=x" }, "BAD_SERVER_URL"],
      [{ server_url: "https://ntfy.sh/#x" }, "BAD_SERVER_URL"],
      [{ topic: "no/slashes" }, "BAD_TOPIC"],
      [{ topic: "", enabled: true }, "TOPIC_REQUIRED"],
      [{ events: { made_up_event: { enabled: true } } }, "UNKNOWN_EVENT"],
      [{ events: { user_login: { priority: "critical" } } }, "BAD_EVENT"],
      [{ events: { user_login: { tags: ["ok", "not ok"] } } }, "BAD_EVENT"],
      [{ events: { user_login: { tags: ["a", "b", "c", "d", "e", "f"] } } }, "BAD_EVENT"],
      [{ token: "two words" }, "BAD_TOKEN"],
      [{ topic: "fine", extra: true }, "UNKNOWN_FIELD"],
    ];
    for (const [body, code] of cases) {
      const response = await put(owner, body);
      const answer = await json(response);
      expect([response.status, answer.code], JSON.stringify(body)).toEqual([400, code]);
      expect(typeof answer.error).toBe("string");
    }
    expect((await call(owner, PATH, { method: "PUT", body: "not json" })).status).toBe(400);
    const after = await json(await call(owner, PATH));
    expect({ ...after, delivery: null, updated_at: null }).toEqual({ ...before, delivery: null, updated_at: null });
  });
});

describe("events", () => {
  test("a failed sign-in and a sign-in are pushed with their title, priority, tags and the token", async () => {
    ntfy.clear();
    ntfy.requireToken(NTFY_TOKEN);
    const signIn = (password: string) =>
      fetch(`${gateway.url}/login`, { method: "POST", headers: { "content-type": "application/json", "x-forwarded-for": "198.51.100.23" }, body: JSON.stringify({ username: gateway.account.username, password }) });
    expect((await signIn("not the password at all")).status).toBe(401);
    expect((await signIn(TEST_PASSWORD)).status).toBe(200);
    await until("both pushes", async () => ntfy.withTitle("Failed sign-in").length === 1 && ntfy.withTitle("Sign-in").length === 1);
    const failure = ntfy.withTitle("Failed sign-in")[0]!;
    expect(failure).toMatchObject({ method: "POST", path: "/mss-test" });
    expect(failure.headers).toMatchObject({ priority: "4", tags: "warning,key", authorization: `Bearer ${NTFY_TOKEN}` });
    expect(failure.text).toBe(`A sign-in as "${gateway.account.username}" failed from 198.51.100.23.`);
    expect(failure.text).not.toContain("not the password");
    const success = ntfy.withTitle("Sign-in")[0]!;
    expect(success.headers.priority).toBeUndefined(); // default priority: left out
    expect(success.headers.tags).toBe("bust_in_silhouette");
    expect(success.text).toBe(`${gateway.account.username} signed in from 198.51.100.23.`);
    // The owner's PUT earlier was announced too (settings_changed, priority low).
    const status = (await json(await call(admin, PATH))).delivery;
    expect(status.sent).toBeGreaterThanOrEqual(2);
    expect(status.last_success_at).not.toBeNull();
  });

  test("the test button answers with the server's result, and a clear error when the server refuses the token", async () => {
    ntfy.clear();
    const ok = await call(admin, `${PATH}/test`, { method: "POST", body: "{}" });
    expect(ok.status).toBe(200);
    expect(await json(ok)).toMatchObject({ ok: true, status: 200, topic: "mss-test" });
    const sent = ntfy.withTitle("MSS-Login test");
    expect(sent).toHaveLength(1);
    expect(sent[0]!.text).toContain("sent by adam");

    ntfy.requireToken("tk_some_other_token");
    const refused = await call(admin, `/api${PATH}/test`, { method: "POST", body: "{}" });
    const answer = await json(refused);
    expect(refused.status).toBe(502);
    expect(answer).toMatchObject({ ok: false, code: "NTFY_FAILED", ntfy_status: 401 });
    expect(answer.error).toContain("access token was refused (401 Unauthorized): unauthorized");
    expect((await json(await call(admin, PATH))).delivery.last_error).toContain("401");
    expect((await call(gateway.account, `${PATH}/test`, { method: "POST", body: "{}" })).status).toBe(403);
    ntfy.requireToken(NTFY_TOKEN);
  });

  test("the test button sends one test at a time and at most 5 a minute; more get 429 TOO_MANY_TESTS", async () => {
    ntfy.clear();
    ntfy.delay(400);
    const send = () => call(admin, `${PATH}/test`, { method: "POST", body: "{}" });
    try {
      // Two at once: the second is refused while the first waits for the server.
      const [a, b] = await Promise.all([send(), send()]);
      const statuses = [a.status, b.status].sort();
      expect(statuses).toEqual([200, 429]);
      const refused = a.status === 429 ? a : b;
      expect(await json(refused)).toMatchObject({ code: "TOO_MANY_TESTS", error: expect.stringContaining("being sent") });
      expect(refused.headers.get("retry-after")).toBe("1");
      // One after the other: the earlier test above and this one count; the sixth in a minute is refused.
      let limited: Response | null = null;
      let accepted = 0;
      for (let i = 0; i < 6 && limited === null; i++) {
        const response = await send();
        if (response.status === 429) limited = response;
        else {
          expect(response.status).toBe(200);
          accepted++;
        }
      }
      expect(limited).not.toBeNull();
      expect(accepted).toBeLessThanOrEqual(3);
      const answer = await json(limited!);
      expect(answer).toMatchObject({ code: "TOO_MANY_TESTS", error: expect.stringContaining("At most 5 tests a minute") });
      expect(Number(limited!.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(ntfy.withTitle("MSS-Login test").length).toBe(1 + accepted);
    } finally {
      ntfy.delay(0);
    }
  });

  test("a failing server is retried in the background; the request that caused the event returns at once", async () => {
    ntfy.clear();
    ntfy.script({ status: 503, delayMs: 1_500 });
    const started = performance.now();
    const signIn = await fetch(`${gateway.url}/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "nobody_here", password: "wrong password" }) });
    expect(signIn.status).toBe(401);
    expect(performance.now() - started).toBeLessThan(1_000);
    await until("the retry", async () => ntfy.withTitle("Failed sign-in").length === 2, 10_000);
    const [first, second] = ntfy.withTitle("Failed sign-in");
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1_500 + 900);
    // The name typed is no account's (it could be a password in the wrong field): not echoed.
    expect(second!.text).toBe("A sign-in with a name that is no account failed from 127.0.0.1.");
    await until("the success to be counted", async () => (await json(await call(admin, PATH))).delivery.queued === 0);
  });

  test("account events: created, role changed and deleted, named", async () => {
    ntfy.clear();
    const created = await put(owner, { events: { user_created: { enabled: true } } });
    expect(created.status).toBe(200);
    expect((await call(owner, "/mss-login/api/users", { method: "POST", body: JSON.stringify({ username: "newbie", password: "a secret long password 42", role: "user" }) })).status).toBe(201);
    expect((await put(owner, { role: "power" }, "/mss-login/api/users/newbie")).status).toBe(200);
    expect((await call(owner, "/mss-login/api/users/newbie", { method: "DELETE" })).status).toBeLessThan(300);
    await until("three account pushes", async () => ntfy.withTitle("Account created").length + ntfy.withTitle("Role changed").length + ntfy.withTitle("Account deleted").length === 3);
    expect(ntfy.withTitle("Account created")[0]!.text).toStartWith('Account "newbie" was created by olga');
    expect(ntfy.withTitle("Role changed")[0]!.text).toStartWith('The role of "newbie" changed from user to power by olga');
    expect(ntfy.withTitle("Account deleted")[0]!.text).toStartWith('Account "newbie" was deleted by olga');
    expect(JSON.stringify(ntfy.requests.map((request) => request.text))).not.toContain("a secret long password 42");
  });
});

/** Runs one SaveImage prompt as `who` over their socket; the output file once ComfyUI reported it. */
async function generate(who: TestAccount, clientId: string, seed: number, prefix = "notify"): Promise<{ filename: string; subfolder: string; type: string }> {
  const ws = new WebSocket(`${gateway.wsUrl}/ws?clientId=${clientId}`, { headers: { authorization: `Bearer ${who.token}` } } as unknown as string[]);
  const texts: Array<{ type: string; data: Record<string, any> }> = [];
  ws.onmessage = (event) => {
    if (typeof event.data === "string") texts.push(JSON.parse(event.data) as (typeof texts)[number]);
  };
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("socket failed"));
  });
  try {
    const prompt = { "1": { class_type: "FakeSampler", inputs: { steps: 2, seed, width: 64, height: 64 } }, "9": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: prefix } } };
    const answer = await json(await call(who, "/api/prompt", { method: "POST", body: JSON.stringify({ client_id: clientId, prompt }) }));
    const executed = await until("the executed event", async () => texts.find((m) => m.type === "executed" && m.data.prompt_id === answer.prompt_id));
    return executed.data.output.images[0] as { filename: string; subfolder: string; type: string };
  } finally {
    ws.close();
  }
}

describe("new images", () => {
  test("announced per user; the picture is attached only when the NSFW guard judged it safe, otherwise withheld and said so; file names shaped like encoded words arrive literally", async () => {
    ntfy.clear();
    expect((await put(owner, { attach_images: true, events: { image_generated: { enabled: true } } })).status).toBe(200);
    // Two users at once: tester's image is tagged safe, carol's NSFW, before their groups close (3 s).
    // Their file names are shaped like RFC 2047 encoded words that would decode into a line
    // break, an ESC and a direction override: they must reach the phone as typed.
    const hostileQ = "=?UTF-8?Q?=1B[31m=0AFAKE=E2=80=AE?=";
    const hostileB = `=?UTF-8?B?${Buffer.from("\nSign-in as olga OK\u202e").toString("base64")}?=`;
    const [mine, hers] = await Promise.all([generate(gateway.account, "notify-tester", 1, hostileQ), generate(carol, "notify-carol", 2, hostileB)]);
    expect(mine.filename.startsWith(hostileQ)).toBe(true);
    expect(hers.filename.startsWith(hostileB)).toBe(true);
    const tag = (file: typeof mine, nsfw: boolean) => call(owner, "/mss-login/api/nsfw/tag", { method: "PUT", body: JSON.stringify({ ...file, is_nsfw: nsfw }) });
    expect((await tag(mine, false)).status).toBe(200);
    expect((await tag(hers, true)).status).toBe(200);

    await until("two image pushes", async () => ntfy.withTitle("New image").length === 2, 15_000);
    const pushes = ntfy.withTitle("New image");
    const attached = pushes.find((request) => request.method === "PUT")!;
    const withheld = pushes.find((request) => request.method === "POST")!;
    expect(attached).toBeDefined();
    expect(withheld).toBeDefined();
    expect(attached.headers.filename).toMatch(/^[A-Za-z0-9._-]+$/);
    expect(attached.headers.filename).toEndWith(".png");
    // The fake reads them as ntfy does (encoded words decoded once; "\n" in Message a line break).
    expect(attached.message).toBe(`${gateway.account.username} generated an image: ${mine.filename}.`);
    // eslint-disable-next-line no-control-regex
    for (const request of pushes) expect(`${request.title}${request.message.replace("\nPicture not attached", "")}`).not.toMatch(/[\n\r\u001b\u202e]/);
    expect(Array.from(attached.body.subarray(0, 4))).toEqual([0x89, 0x50, 0x4e, 0x47]);
    expect(attached.headers).toMatchObject({ priority: "2", tags: "frame_with_picture", authorization: `Bearer ${NTFY_TOKEN}` });
    expect(withheld.message).toBe(`carol generated an image: ${hers.filename}.\nPicture not attached: withheld by the NSFW guard.`);
    expect(withheld.headers.filename).toBeUndefined();
  }, 30_000);
});

describe("secrets", () => {
  test("the ntfy token is in no answer, audit entry, database column in clear or log line", async () => {
    const db = new Database(join(gateway.dataDir, "mss-login.db"), { readonly: true });
    const audit = JSON.stringify(db.query("select * from audit_events").all());
    const settings = JSON.stringify(db.query("select * from notify_settings").all());
    const puts = db.query("select action, details from audit_events where action = 'PUT /mss-login/api/notifications'").all() as Array<{ details: string }>;
    db.close();
    expect(puts.length).toBeGreaterThan(0);
    expect(JSON.parse(puts[0]!.details)).toEqual({ status: 200 });
    expect(audit).not.toContain(NTFY_TOKEN);
    expect(settings).not.toContain(NTFY_TOKEN);
    expect(settings).toContain('"token_sealed":"v1.');
    expect(logLines.length).toBeGreaterThan(0); // the refused test send was logged (without the token)
    expect(logLines.join("\n")).not.toContain(NTFY_TOKEN);
    expect(await (await call(owner, PATH)).text()).not.toContain(NTFY_TOKEN);
    // Only the configured server ever saw it.
    expect(ntfy.requests.every((request) => request.headers.authorization === undefined || request.headers.authorization === `Bearer ${NTFY_TOKEN}`)).toBe(true);
  });

  test("moving to another server forgets the token (it belongs to the old one); removing it works too", async () => {
    const moved = await json(await put(owner, { server_url: "http://127.0.0.2:9" }));
    expect(moved).toMatchObject({ token_set: false, token_cleared: true, server_url: "http://127.0.0.2:9" });
    const back = await json(await put(owner, { server_url: ntfy.url, token: NTFY_TOKEN }));
    expect(back.token_set).toBe(true);
    expect((await json(await put(owner, { token: null }))).token_set).toBe(false);
  });
});

describe("stopping", () => {
  test("an orderly stop announces itself before stop() returns", async () => {
    expect((await put(owner, { token: NTFY_TOKEN })).status).toBe(200);
    ntfy.clear();
    stopped = true;
    await gateway.stop();
    const stopping = ntfy.withTitle("Gateway stopping");
    expect(stopping).toHaveLength(1);
    expect(stopping[0]!.headers).toMatchObject({ priority: "4", tags: "stop_sign", authorization: `Bearer ${NTFY_TOKEN}` });
    expect(stopping[0]!.text).toMatch(/^MSS-Login .+ is stopping\.$/);
  });
});
