/**
 * ntfy notifications (src/notify): what an owner may store, how events become messages and
 * requests (header injection impossible), the mapping from audit events, background delivery
 * (retries with back-off, final errors, the queue bound, the last flush at stop), the sealed
 * token, flood control, the grouping of new images and the NSFW guard's say on attachments.
 */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { createUser } from "../../src/auth/users.ts";
import { deriveKey } from "../../src/auth/secret-key.ts";
import { createLogger } from "../../src/log.ts";
import { createAccountDirectory, fromAuditEvent, type AccountDirectory } from "../../src/notify/audit-map.ts";
import { createDelivery, MAX_ANSWER_BYTES, publishOnce, type QueuedMessage } from "../../src/notify/delivery.ts";
import { defaultEventSettings, EVENT_CATALOGUE, EVENT_KEYS, type EventFacts, type NotifyEventKey } from "../../src/notify/events.ts";
import { createImageGrouper, resolveAttachment, type ImageGroup, type NsfwJudge } from "../../src/notify/images.ts";
import { createNotifier } from "../../src/notify/index.ts";
import { createTestGate } from "../../src/notify/routes.ts";
import { buildRequest, cleanText, describe as describeEvent, headerValue, safeFilename, type Publication } from "../../src/notify/message.ts";
import { createSettingsStore, defaultSettings, eventsFromJson } from "../../src/notify/store.ts";
import { checkServerUrl, isLoopbackHost, parseSettingsUpdate, type NotifySettingsValues } from "../../src/notify/validate.ts";
import type { VerdictRow } from "../../src/nsfw/verdicts.ts";
import { decodeHeader, readMessageHeader, startFakeNtfy } from "../support/fake-ntfy.ts";
import { animatedWebp, concatBytes, encodePng, paintRgba, pngChunk, safeImage } from "../support/nsfw-images.ts";
import { useTempDataDir } from "../support/temp-database.ts";

const quiet = createLogger("error");
const KEY = deriveKey("a test secret key that is long enough for sure", "ntfy-token-encryption");
const HOSTILE = "eve\r\nX-Injected: yes\u001b[31m\u2028\u202e\u0000 end";

function values(overrides: Partial<NotifySettingsValues> = {}): NotifySettingsValues {
  const base = defaultSettings();
  return { enabled: base.enabled, serverUrl: base.serverUrl, topic: base.topic, attachImages: base.attachImages, events: base.events, ...overrides };
}

describe("what an owner may store", () => {
  test("https anywhere; plain http only on loopback; no credentials, query or fragment", () => {
    expect(checkServerUrl("https://ntfy.sh/")).toEqual({ ok: true, value: "https://ntfy.sh" });
    expect(checkServerUrl(" https://push.example.com/ntfy/ ")).toEqual({ ok: true, value: "https://push.example.com/ntfy" });
    for (const loopback of ["http://127.0.0.1:8080", "http://127.3.2.1", "http://[::1]:2586", "http://localhost:80", "http://LOCALHOST"]) {
      expect(checkServerUrl(loopback).ok, loopback).toBe(true);
    }
    for (const bad of ["http://ntfy.sh", "http://192.168.1.2", "http://127.0.0.1.evil.com", "http://localhost.evil.com", "ftp://127.0.0.1", "https://user:pw@ntfy.sh", "https://ntfy.sh/?x=1", "https://ntfy.sh/?", "https://ntfy.sh/#frag", "ntfy.sh", "", "https://ntfy .sh", "https://ntfy.sh/\r\nX: y", 42]) {
      const checked = checkServerUrl(bad);
      expect(checked.ok, String(bad)).toBe(false);
      if (!checked.ok) expect(checked.code).toBe("BAD_SERVER_URL");
    }
    expect(isLoopbackHost("[::ffff:7f00:1]")).toBe(true);
    expect(isLoopbackHost("10.0.0.1")).toBe(false);
  });

  test("topic, events, priorities and tags are checked; an invalid value refuses the whole update", () => {
    const current = values();
    const ok = parseSettingsUpdate({ enabled: true, topic: "mss-alerts_1", events: { login_failure: { priority: "urgent", tags: ["warning", "rotating_light", "+1"] }, user_login: { enabled: true } } }, current);
    expect(ok.ok).toBe(true);
    if (!ok.ok) return;
    expect(ok.value.values.events.login_failure).toEqual({ enabled: true, priority: "urgent", tags: ["warning", "rotating_light", "+1"] });
    expect(ok.value.values.events.user_login.enabled).toBe(true);
    expect(ok.value.values.events.nsfw_block).toEqual(current.events.nsfw_block);
    expect(ok.value.token).toEqual({ kind: "keep" });
    // The current settings are not touched by parsing.
    expect(current.events.login_failure.priority).toBe("high");

    const refused = (body: Record<string, unknown>) => {
      const result = parseSettingsUpdate(body, current);
      return result.ok ? "accepted" : result.code;
    };
    expect(refused({ topic: "has space" })).toBe("BAD_TOPIC");
    expect(refused({ topic: "x".repeat(65) })).toBe("BAD_TOPIC");
    expect(refused({ topic: "a/b" })).toBe("BAD_TOPIC");
    expect(refused({ enabled: true, topic: "" })).toBe("TOPIC_REQUIRED");
    expect(refused({ enabled: "yes" })).toBe("BAD_ENABLED");
    expect(refused({ events: { no_such_event: { enabled: true } } })).toBe("UNKNOWN_EVENT");
    expect(refused({ events: { user_login: { priority: "max" } } })).toBe("BAD_EVENT");
    expect(refused({ events: { user_login: { priority: 5 } } })).toBe("BAD_EVENT");
    expect(refused({ events: { user_login: { tags: ["a", "b", "c", "d", "e", "f"] } } })).toBe("BAD_EVENT");
    expect(refused({ events: { user_login: { tags: ["bad tag"] } } })).toBe("BAD_EVENT");
    expect(refused({ events: { user_login: { tags: ["x\r\nInjected: 1"] } } })).toBe("BAD_EVENT");
    expect(refused({ events: { user_login: { colour: "red" } } })).toBe("BAD_EVENT");
    expect(refused({ events: [] })).toBe("BAD_EVENT");
    expect(refused({ token: "has space" })).toBe("BAD_TOKEN");
    expect(refused({ token: "tk_\r\nX: 1" })).toBe("BAD_TOKEN");
    expect(refused({ token: 12 })).toBe("BAD_TOKEN");
    expect(refused({ server_url: "http://example.com" })).toBe("BAD_SERVER_URL");
    expect(refused({ surprise: 1 })).toBe("UNKNOWN_FIELD");
  });

  test("a token is set, cleared or kept; changing the server's origin forgets it unless a new one comes along", () => {
    const current = values({ serverUrl: "https://ntfy.sh", topic: "t" });
    const token = (body: Record<string, unknown>) => {
      const result = parseSettingsUpdate(body, current);
      if (!result.ok) throw new Error(result.error);
      return result.value.token;
    };
    expect(token({ token: "tk_abc123" })).toEqual({ kind: "set", token: "tk_abc123" });
    expect(token({ token: null })).toEqual({ kind: "clear" });
    expect(token({ token: "" })).toEqual({ kind: "clear" });
    expect(token({ topic: "other" })).toEqual({ kind: "keep" });
    expect(token({ server_url: "https://ntfy.sh/" })).toEqual({ kind: "keep" });
    expect(token({ server_url: "https://elsewhere.example" })).toEqual({ kind: "clear" });
    expect(token({ server_url: "https://elsewhere.example", token: "tk_new" })).toEqual({ kind: "set", token: "tk_new" });
  });
});

describe("messages and requests", () => {
  test("user-supplied text loses control characters, line breaks and direction overrides, and is bounded", () => {
    expect(cleanText(HOSTILE)).toBe("eve X-Injected: yes [31m end");
    expect(cleanText("x".repeat(500), 10)).toBe(`${"x".repeat(9)}…`);
    expect(safeFilename("../../etc/pa ss\r\nwd.png")).toBe("pa_ss__wd.png");
    expect(safeFilename("")).toBe("image");
  });

  test("every event's title and message are clean, whatever the facts hold", () => {
    const h = HOSTILE;
    const facts: { [K in NotifyEventKey]: EventFacts[K] } = {
      login_failure: { username: h, ip: h },
      user_login: { username: h, ip: "192.0.2.1" },
      user_logout: { username: h, ip: null },
      ip_banned: { ip: h, failures: 10, hours: 24 },
      user_created: { username: h, by: h, ip: null },
      user_deleted: { username: h, by: h, ip: h },
      user_role_changed: { username: h, from: "user", to: "admin", by: h, ip: null },
      api_token_created: { username: h, ip: null },
      mfa_enabled: { username: null, ip: null },
      mfa_disabled: { username: h, by: "olga", ip: null },
      settings_changed: { what: h, by: h, ip: null },
      nsfw_block: { username: h, file: h, detail: h },
      image_generated: { username: h, count: 5, filenames: [h, "b.png"] },
      download_completed: { name: h, folder: h, source: "civitai", by: h, bytes: 5 * 1024 * 1024 },
      download_failed: { name: h, error: h },
      server_started: { version: "1.0.0", address: h },
      server_stopped: { version: "1.0.0" },
    };
    for (const key of EVENT_KEYS) {
      const text = describeEvent(key, facts[key] as never);
      expect(text.title.length, key).toBeGreaterThan(0);
      // eslint-disable-next-line no-control-regex
      expect(`${text.title}${text.message}`, key).not.toMatch(/[\u0000-\u001f\u007f\u2028\u202e]/);
    }
    expect(describeEvent("login_failure", { username: "mallory", ip: "203.0.113.9" })).toEqual({ title: "Failed sign-in", message: 'A sign-in as "mallory" failed from 203.0.113.9.' });
    expect(describeEvent("image_generated", { username: "ann", count: 7, filenames: ["a.png", "b.png", "c.png"] }).message).toBe("ann generated 7 images: a.png, b.png, c.png, … (4 more).");
    expect(describeEvent("download_completed", { name: "model.safetensors", bytes: 2 * 1024 ** 3, source: "huggingface", folder: "checkpoints" }).message).toBe("model.safetensors (2.0 GB) was downloaded from huggingface into checkpoints.");
  });

  test("the request: title, priority (left out for default), tags and token as headers; no header carries a line break", () => {
    const publication: Publication = { title: `Sign-in ${HOSTILE}`, message: "line one\r\nline two\u001b[0m", priority: "high", tags: ["warning", "key"] };
    const { url, init } = buildRequest({ serverUrl: "https://ntfy.example", topic: "alerts", token: "tk_secret" }, publication);
    expect(url).toBe("https://ntfy.example/alerts");
    expect(init.method).toBe("POST");
    expect(init.redirect).toBe("manual");
    expect(init.headers).toMatchObject({ Priority: "4", Tags: "warning,key", Authorization: "Bearer tk_secret" });
    expect(init.body).toBe("line one\nline two [0m");
    for (const value of Object.values(init.headers)) expect(value).not.toMatch(/[\r\n\u0000]/);
    expect(decodeHeader(init.headers.Title)).toBe("Sign-in eve X-Injected: yes [31m end");

    const plain = buildRequest({ serverUrl: "http://127.0.0.1:1", topic: "t", token: null }, { ...publication, priority: "default", tags: [] });
    expect(plain.init.headers.Priority).toBeUndefined();
    expect(plain.init.headers.Tags).toBeUndefined();
    expect(plain.init.headers.Authorization).toBeUndefined();
  });

  test("titles and messages in headers travel as RFC 2047 encoded words; a picture goes by PUT with its name and the message in headers", () => {
    const title = "Ünïcødé title — 画像が生成されました 🎨";
    const encoded = headerValue(title);
    expect(encoded).toMatch(/^[\x20-\x7e]+$/);
    expect(decodeHeader(encoded)).toBe(title);
    // Plain ASCII too: only encoded words are sent, so ntfy's one decoding pass is the only one.
    expect(headerValue("plain ascii")).toBe("=?UTF-8?B?cGxhaW4gYXNjaWk=?=");

    const bytes = new Uint8Array([1, 2, 3]);
    const { init } = buildRequest({ serverUrl: "https://n.example", topic: "t", token: null }, { title: "New image", message: "ann generated an image:\nx.png", priority: "low", tags: [], attachment: { bytes, filename: "out/x y.png" } });
    expect(init.method).toBe("PUT");
    expect(init.headers.Filename).toBe("x_y.png");
    expect(readMessageHeader(init.headers.Message)).toBe("ann generated an image: - x.png");
    expect(init.headers.Priority).toBe("2");
    expect(new Uint8Array(init.body as Uint8Array)).toEqual(bytes);
  });
});

describe("audit events to notifications", () => {
  const none: AccountDirectory = { created: () => null, roleChange: () => null, exists: (name) => name === "root" };
  const map = (event: Parameters<typeof fromAuditEvent>[0], accounts = none) => fromAuditEvent(event, accounts).map((e): unknown[] => [e.key, e.facts]);

  test("named events and successful writes map to their event; refused or failed writes to nothing", () => {
    expect(map({ action: "login.success", outcome: "success", actorName: "ann", clientIp: "192.0.2.1" })).toEqual([["user_login", { username: "ann", ip: "192.0.2.1" }]]);
    expect(map({ action: "login.failure", outcome: "failure", target: "root", clientIp: "203.0.113.5" })).toEqual([["login_failure", { username: "root", ip: "203.0.113.5" }]]);
    // A name that is no account's may be a password typed into the wrong field: never echoed.
    expect(map({ action: "login.failure", outcome: "failure", target: "Hunter2!secret", clientIp: "203.0.113.5" })).toEqual([["login_failure", { username: null, ip: "203.0.113.5" }]]);
    expect(map({ action: "nsfw.blocked", outcome: "denied", actorName: "kid", target: "output/u/x.png", details: { detail: "Porn 97%" } })).toEqual([["nsfw_block", { username: "kid", file: "output/u/x.png", detail: "Porn 97%" }]]);
    expect(map({ action: "settings.changed", outcome: "success", actorName: "olga", details: { keys: "queue.max_pending.user" } })[0]).toEqual(["settings_changed", { what: "Settings (queue.max_pending.user)", by: "olga", ip: null }]);
    expect(map({ action: "ip.banned", outcome: "success", target: "203.0.113.7", details: { failures: 10, hours: 24 } })).toEqual([["ip_banned", { ip: "203.0.113.7", failures: 10, hours: 24 }]]);
    expect(map({ action: "POST /logout", outcome: "success", actorName: "ann" })).toEqual([["user_logout", { username: "ann", ip: null }]]);
    expect(map({ action: "POST /mss-login/generate_token", outcome: "success", actorName: "ann" })).toEqual([["api_token_created", { username: "ann", ip: null }]]);
    expect(map({ action: "POST /mss-login/api/mfa/verify-setup", outcome: "success", actorName: "ann" })[0]![0]).toBe("mfa_enabled");
    expect(map({ action: "POST /mss-login/api/mfa/disable", outcome: "success", actorName: "ann" })[0]![0]).toBe("mfa_disabled");
    expect(map({ action: "POST /mss-login/api/users/b%C3%B8b/mfa/reset", outcome: "success", actorName: "olga" })).toEqual([["mfa_disabled", { username: "bøb", by: "olga", ip: null }]]);
    expect(map({ action: "DELETE /mss-login/api/users/bob", outcome: "success", actorName: "olga" })).toEqual([["user_deleted", { username: "bob", by: "olga", ip: null }]]);
    expect(map({ action: "PUT /mss-login/api/notifications", outcome: "success", actorName: "olga" })[0]![0]).toBe("settings_changed");
    for (const outcome of ["denied", "failure"] as const) {
      expect(map({ action: "DELETE /mss-login/api/users/bob", outcome, actorName: "eve" })).toEqual([]);
      expect(map({ action: "POST /mss-login/api/mfa/disable", outcome })).toEqual([]);
    }
    expect(map({ action: "request.denied", outcome: "denied" })).toEqual([]);
    expect(map({ action: "GET /mss-login/api/users", outcome: "success" })).toEqual([]);
  });

  const temp = useTempDataDir("mss-notify-");
  test("created accounts and role changes are named from a snapshot of the accounts", async () => {
    const database = temp.open();
    const settings = { minLength: 12, argon2MemoryKib: 7168, argon2TimeCost: 1 };
    await createUser(database.db, { username: "olga", password: "a long enough password 1", role: "owner" }, settings);
    const accounts = createAccountDirectory(database.db);
    // One made meanwhile elsewhere (the command line), then the one the request made: that one is named.
    await createUser(database.db, { username: "cli_made", password: "a long enough password 3", role: "user" }, settings, Date.now() - 5_000);
    await createUser(database.db, { username: "bob", password: "a long enough password 2", role: "user" }, settings);
    expect(map({ action: "POST /mss-login/api/users", outcome: "success", actorName: "olga" }, accounts)).toEqual([["user_created", { username: "bob", by: "olga", ip: null }]]);
    // Nothing new since: nothing to say (a form that answered 200 with an error, say).
    expect(map({ action: "POST /register", outcome: "success", actorName: "olga" }, accounts)).toEqual([]);
    // Same role (another field changed): nothing; a new role: from and to.
    expect(map({ action: "PUT /mss-login/api/users/bob", outcome: "success", actorName: "olga" }, accounts)).toEqual([]);
    database.sqlite.run("update users set role = 'admin' where username = 'bob'");
    expect(map({ action: "PUT /mss-login/api/users/BOB", outcome: "success", actorName: "olga" }, accounts)).toEqual([["user_role_changed", { username: "BOB", from: "user", to: "admin", by: "olga", ip: null }]]);
  });
});

/** A fetch that answers from a list (Response or thrown error), recording what it was asked. */
function scriptedFetch(answers: Array<Response | Error | (() => Promise<Response>)>) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetcher = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const answer = answers.shift() ?? new Response("{}", { status: 200 });
    if (answer instanceof Error) throw answer;
    if (typeof answer === "function") return answer();
    return answer;
  }) as unknown as typeof fetch;
  return { fetcher, calls };
}

const titleOf = (call: { init: RequestInit }): string => decodeHeader((call.init.headers as Record<string, string>).Title);

const message = (event = "user_login", onPrepare?: () => void): QueuedMessage => ({
  event,
  prepare: async () => {
    onPrepare?.();
    return { title: event, message: "m", priority: "default", tags: [] };
  },
});
const DESTINATION = { serverUrl: "https://ntfy.example", topic: "t", token: "tk_secret_value" };

async function settle(check: () => boolean, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("not settled");
    await Bun.sleep(2);
  }
}

describe("background delivery", () => {
  test("5xx and unreachable servers are retried with back-off until it goes through; enqueue never waits", async () => {
    const { fetcher, calls } = scriptedFetch([new Response("busy", { status: 503 }), new TypeError("connection refused"), new Response("{}", { status: 200 })]);
    const delivery = createDelivery({ destination: async () => DESTINATION, log: quiet, fetch: fetcher, retryDelaysMs: [20, 40, 80] });
    const started = performance.now();
    delivery.enqueue(message());
    expect(performance.now() - started).toBeLessThan(5);
    await settle(() => delivery.state().sent === 1);
    expect(calls).toHaveLength(3);
    expect(delivery.state()).toMatchObject({ queued: 0, sent: 1, failed: 0, dropped: 0 });
    expect(delivery.state().last_success_at).not.toBeNull();
  });

  test("the back-off grows, and gives up after the last delay", async () => {
    const times: number[] = [];
    const fetcher = (async () => {
      times.push(performance.now());
      return new Response("down", { status: 500 });
    }) as unknown as typeof fetch;
    const delivery = createDelivery({ destination: async () => DESTINATION, log: quiet, fetch: fetcher, retryDelaysMs: [10, 40, 90] });
    delivery.enqueue(message());
    await settle(() => delivery.state().failed === 1);
    expect(times).toHaveLength(4);
    const gaps = times.slice(1).map((at, index) => at - times[index]!);
    expect(gaps[0]!).toBeGreaterThanOrEqual(9);
    expect(gaps[1]!).toBeGreaterThanOrEqual(39);
    expect(gaps[2]!).toBeGreaterThanOrEqual(89);
    expect(delivery.state().last_error).toContain("500");
  });

  test("401, 403 and redirects are final; 429 is retried after Retry-After", async () => {
    const { fetcher, calls } = scriptedFetch([
      new Response(JSON.stringify({ code: 40101, http: 401, error: "unauthorized" }), { status: 401 }),
      new Response(null, { status: 302, headers: { location: "https://evil.example/steal" } }),
      new Response("slow down", { status: 429, headers: { "retry-after": "0.05" } }),
      new Response("{}", { status: 200 }),
    ]);
    const delivery = createDelivery({ destination: async () => DESTINATION, log: quiet, fetch: fetcher, retryDelaysMs: [1, 1, 1] });
    delivery.enqueue(message("a"));
    delivery.enqueue(message("b"));
    delivery.enqueue(message("c"));
    await settle(() => delivery.state().sent === 1);
    expect(calls).toHaveLength(4);
    expect(calls.map((call) => call.init.redirect)).toEqual(["manual", "manual", "manual", "manual"]);
    expect(titleOf(calls[3]!)).toBe("c");
    expect(delivery.state()).toMatchObject({ sent: 1, failed: 2 });
    expect(delivery.state().last_error).toContain("redirect");
  });

  test("the token never appears in an error kept for the admin app", async () => {
    const { fetcher } = scriptedFetch([new Response(`bad token ${DESTINATION.token}`, { status: 400 })]);
    const result = await publishOnce(DESTINATION, { title: "x", message: "y", priority: "default", tags: [] }, { fetch: fetcher, timeoutMs: 1000 });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).not.toContain(DESTINATION.token);
      expect(result.retry).toBe(false);
    }
  });

  test("an attempt that gets no answer times out and is retried", async () => {
    const ntfy = await startFakeNtfy();
    try {
      ntfy.script({ status: 200, delayMs: 300 });
      const delivery = createDelivery({ destination: async () => ({ serverUrl: ntfy.url, topic: "t", token: null }), log: quiet, attemptTimeoutMs: 60, retryDelaysMs: [10] });
      delivery.enqueue(message());
      await settle(() => delivery.state().sent === 1, 3_000);
      expect(ntfy.requests).toHaveLength(2);
    } finally {
      await ntfy.stop();
    }
  });

  test("the queue is bounded: the oldest waiting message is dropped and counted", async () => {
    let release!: () => void;
    const gate = new Promise<Response>((resolve) => (release = () => resolve(new Response("{}", { status: 200 }))));
    const { fetcher, calls } = scriptedFetch([() => gate]);
    const delivery = createDelivery({ destination: async () => DESTINATION, log: quiet, fetch: fetcher, maxQueued: 3 });
    for (const event of ["first", "second", "third", "fourth", "fifth"]) delivery.enqueue(message(event));
    await settle(() => calls.length === 1);
    expect(delivery.state()).toMatchObject({ queued: 3, dropped: 2 });
    release();
    await settle(() => delivery.state().sent === 3);
    // The one in flight stayed; the oldest waiting ones went.
    expect(calls.map(titleOf)).toEqual(["first", "fourth", "fifth"]);
  });

  test("switched off meanwhile: waiting messages are dropped before anything is prepared", async () => {
    let prepared = 0;
    const { fetcher, calls } = scriptedFetch([]);
    const delivery = createDelivery({ destination: async () => null, log: quiet, fetch: fetcher });
    delivery.enqueue(message("x", () => prepared++));
    await settle(() => delivery.state().dropped === 1);
    expect([prepared, calls.length]).toEqual([0, 0]);
  });

  test("stop gives waiting messages one last attempt within the deadline, without retries", async () => {
    const { fetcher, calls } = scriptedFetch([new Response("x", { status: 503 }), new Response("{}", { status: 200 }), new Response("{}", { status: 200 })]);
    const delivery = createDelivery({ destination: async () => DESTINATION, log: quiet, fetch: fetcher, retryDelaysMs: [60_000] });
    delivery.enqueue(message("waiting"));
    await settle(() => calls.length === 1);
    delivery.enqueue(message("server_stopped"));
    const started = performance.now();
    await delivery.stop(1_000);
    expect(performance.now() - started).toBeLessThan(900);
    expect(calls.map(titleOf)).toEqual(["waiting", "waiting", "server_stopped"]);
    expect(delivery.state()).toMatchObject({ sent: 2, queued: 0 });
  });
});

describe("stored settings", () => {
  const temp = useTempDataDir("mss-notify-store-");

  test("the token is sealed at rest, opens only with the same key, and is never in the row in clear", async () => {
    const database = temp.open();
    const store = createSettingsStore(database.db, KEY);
    expect(store.current()).toMatchObject({ enabled: false, serverUrl: "https://ntfy.sh", topic: "", tokenSealed: null });
    const saved = await store.save(values({ enabled: true, topic: "alerts" }), { kind: "set", token: "tk_very_secret_token" }, "user-1");
    expect(saved.tokenSealed).toMatch(/^v1\./);
    expect(await store.token(saved)).toBe("tk_very_secret_token");
    const raw = new Database(join(temp.dir(), "mss-login.db"), { readonly: true });
    const dump = JSON.stringify(raw.query("select * from notify_settings").all());
    raw.close();
    expect(dump).not.toContain("tk_very_secret_token");
    // Another secret key: the token does not open (as if unset), nothing throws.
    const other = createSettingsStore(database.db, deriveKey("another secret key, also long enough......", "ntfy-token-encryption"));
    expect(await other.token(other.current())).toBeNull();
    const kept = await store.save(values({ enabled: true, topic: "renamed" }), { kind: "keep" }, "user-1");
    expect(kept.tokenSealed).toBe(saved.tokenSealed);
    expect((await store.save(values({ enabled: false, topic: "renamed" }), { kind: "clear" }, "user-1")).tokenSealed).toBeNull();
  });

  test("stored events over the defaults: junk and unknown keys fall back, never wider", () => {
    const events = eventsFromJson(JSON.stringify({ login_failure: { enabled: false, priority: "urgent", tags: ["x"] }, user_login: { priority: "ultra", tags: ["bad tag"] }, made_up: { enabled: true } }));
    expect(events.login_failure).toEqual({ enabled: false, priority: "urgent", tags: ["x"] });
    expect(events.user_login).toEqual(defaultEventSettings().user_login);
    expect(Object.keys(events)).toEqual(EVENT_CATALOGUE.map((event) => event.key));
    expect(eventsFromJson("not json")).toEqual(defaultEventSettings());
  });

  test("the notifier: nothing when off; when on, only switched-on events, with their priority and tags; floods are held back", async () => {
    const database = temp.open();
    const ntfy = await startFakeNtfy();
    const notifier = createNotifier({ db: database.db, key: KEY, log: quiet, ratePerMinute: 3, retryDelaysMs: [5] });
    try {
      notifier.emit("login_failure", { username: "x", ip: null });
      await Bun.sleep(30);
      expect(ntfy.requests).toHaveLength(0);
      const events = { ...defaultEventSettings(), user_login: { enabled: false, priority: "default" as const, tags: [] }, login_failure: { enabled: true, priority: "urgent" as const, tags: ["rotating_light"] } };
      await notifier.update(values({ enabled: true, serverUrl: ntfy.url, topic: "alerts", events }), { kind: "set", token: "tk_unit" }, null);
      notifier.emit("user_login", { username: "ann", ip: null });
      for (let i = 0; i < 5; i++) notifier.emit("login_failure", { username: `guess${i}`, ip: "203.0.113.1" });
      const requests = await ntfy.waitFor(3);
      await Bun.sleep(50);
      expect(ntfy.requests).toHaveLength(3);
      expect(requests.map((r) => [r.method, r.path, r.headers.priority, r.headers.tags, r.headers.authorization])).toEqual(Array(3).fill(["POST", "/alerts", "5", "rotating_light", "Bearer tk_unit"]));
      expect(requests[0]!.text).toBe('A sign-in as "guess0" failed from 203.0.113.1.');
      expect(notifier.status()).toMatchObject({ sent: 3, suppressed: 2 });
    } finally {
      await notifier.stop(100);
      await ntfy.stop();
    }
  });
});

describe("new images", () => {
  test("a batch is one notification; later images wait for the user's next minute", async () => {
    const flushed: ImageGroup[] = [];
    const grouper = createImageGrouper({ flush: (group) => flushed.push(group), settleMs: 30, minIntervalMs: 150 });
    const file = (n: number) => ({ type: "output" as const, subfolder: "u", filename: `img_${n}.png` });
    for (let n = 1; n <= 100; n++) grouper.add("ann", file(n));
    grouper.add("bob", file(0));
    await settle(() => flushed.length === 2);
    expect(flushed.find((group) => group.username === "ann")).toMatchObject({ count: 100, filenames: ["img_1.png", "img_2.png", "img_3.png"], latest: file(100) });
    const firstAt = performance.now();
    grouper.add("ann", file(101));
    grouper.add("ann", file(102));
    await settle(() => flushed.length === 3);
    expect(performance.now() - firstAt).toBeGreaterThanOrEqual(100);
    expect(flushed[2]).toMatchObject({ username: "ann", count: 2 });
    grouper.stop();
  });

  const PNG = encodePng(2, 2, paintRgba(2, "flat").rgba);
  const verdict = (over: Partial<VerdictRow>): VerdictRow => ({ type: "output", subfolder: "u", filename: "a.png", version: "v1", scores: { Drawing: 0.1, Hentai: 0.01, Neutral: 0.85, Porn: 0.02, Sexy: 0.02 }, failure: null, format: "png", width: 1, height: 1, classifiedAt: 1, manualTag: null, taggedBy: null, taggedAt: null, ...over });
  function sources(outcome: VerdictRow | { unavailable: true; code: "TIMEOUT"; message: string }, contentType = "image/png") {
    const asked: string[] = [];
    const guard: NsfwJudge = {
      scanner: {
        verdictFor: async (file) => {
          asked.push(`version ${file.version}`);
          return outcome;
        },
        verdictForBytes: async (file) => {
          asked.push(`bytes ${file.version.slice(0, 7)}`);
          return outcome;
        },
      },
      thresholds: () => ({ porn: 0.5, hentai: 0.5, sexy: null }),
    };
    return {
      asked,
      sources: { fetchFile: async () => new Response(new Uint8Array(PNG), { headers: { "content-type": contentType, etag: '"v1"' } }), guard: () => guard, ownerOf: () => "ann" },
    };
  }
  const file = { type: "output" as const, subfolder: "u", filename: "a.png" };

  test("the picture is attached only when the NSFW guard judged that very version safe", async () => {
    const safe = sources(verdict({}));
    expect(await resolveAttachment(file, safe.sources)).toEqual({ attached: true, bytes: PNG, filename: "a.png" });
    expect(safe.asked).toEqual(['version "v1"']);
    expect(await resolveAttachment(file, sources(verdict({ manualTag: "safe", scores: { Drawing: 0, Hentai: 0, Neutral: 0, Porn: 0.99, Sexy: 0 } })).sources)).toMatchObject({ attached: true });
    expect(await resolveAttachment(file, sources(verdict({ manualTag: "nsfw" })).sources)).toEqual({ attached: false, reason: "withheld by the NSFW guard" });
    expect(await resolveAttachment(file, sources(verdict({ scores: { Drawing: 0, Hentai: 0, Neutral: 0.1, Porn: 0.9, Sexy: 0 } })).sources)).toEqual({ attached: false, reason: "withheld by the NSFW guard" });
    expect(await resolveAttachment(file, sources({ unavailable: true, code: "TIMEOUT", message: "late" }).sources)).toMatchObject({ attached: false, reason: expect.stringContaining("no verdict") });
    expect(await resolveAttachment(file, sources(verdict({}), "application/octet-stream").sources)).toEqual({ attached: false, reason: "the file is not a picture" });
    expect(await resolveAttachment(file, safe.sources, { maxBytes: 4 })).toEqual({ attached: false, reason: "the picture is too large to attach" });
  });
});

describe("hardening (security review)", () => {
  const temp = useTempDataDir("mss-notify-review-");
  const SAFE_SCORES = { Drawing: 0.1, Hentai: 0.01, Neutral: 0.85, Porn: 0.02, Sexy: 0.02 };
  const row = (over: Partial<VerdictRow> = {}): VerdictRow => ({ type: "output", subfolder: "u", filename: "a.png", version: "v1", scores: SAFE_SCORES, failure: null, format: "png", width: 1, height: 1, classifiedAt: 1, manualTag: null, taggedBy: null, taggedAt: null, ...over });
  const STILL_PNG = encodePng(4, 4, paintRgba(4, "flat").rgba);
  const output = (filename: string) => ({ type: "output" as const, subfolder: "u", filename });

  /** Image sources serving `bytes` for every file, with a guard whose verdict a test may change meanwhile. */
  function pictureSources(bytes: Uint8Array, contentType = "image/png", ownerOf: (file: { filename: string }) => string | null = () => "ann") {
    const state = { verdict: row(), asked: 0 };
    const answer = async () => {
      state.asked++;
      return state.verdict;
    };
    const guard: NsfwJudge = { scanner: { verdictFor: answer, verdictForBytes: answer }, thresholds: () => ({ porn: 0.5, hentai: 0.5, sexy: null }) };
    return { state, sources: { fetchFile: async () => new Response(new Uint8Array(bytes), { headers: { "content-type": contentType, etag: '"v1"' } }), guard: () => guard, ownerOf } };
  }
  const enabled = (over: Partial<NotifySettingsValues["events"]> = {}) => {
    const events = defaultEventSettings();
    for (const key of ["user_login", "image_generated", "login_failure", "api_token_created"] as const) events[key] = { ...events[key], enabled: true };
    return { ...events, ...over };
  };

  // Item 1: text shaped like an encoded word, or like ntfy's escaped line break.
  const NEWLINE_FILE = "x\\nSign-in as owner from 10.0.0.9 OK_00001_.png"; // a backslash and an "n"
  const WORD_FILE = "=?UTF-8?Q?=1B[31m=0AFAKE=E2=80=AE?=_2_.png";
  const WORD_USER = `=?UTF-8?B?${Buffer.from("\nowner\u001b[31m\u202e").toString("base64")}?=`;
  const NEWLINE_USER = "mallory\\nSign-in as owner";
  // eslint-disable-next-line no-control-regex
  const FORGED = /[\n\r\u001b\u202e]/;

  test("the fake ntfy reads headers as ntfy does: Q and B encoded words decoded once, then \\n in a Message made a line break", () => {
    expect(decodeHeader(WORD_FILE)).toBe("\u001b[31m\nFAKE\u202e_2_.png");
    expect(decodeHeader(WORD_USER)).toBe("\nowner\u001b[31m\u202e");
    expect(decodeHeader("=?utf-8?q?a_b?= \t =?UTF-8?b?Yw==?= d")).toBe("a bc d");
    expect(decodeHeader(`=?UTF-8?B?${Buffer.from("=?UTF-8?Q?=0A?=").toString("base64")}?=`)).toBe("=?UTF-8?Q?=0A?=");
    expect(decodeHeader("=?UTF-8?Q?bad=ZZ?=")).toBe("=?UTF-8?Q?bad=ZZ?=");
    expect(readMessageHeader("a\\nb")).toBe("a\nb");
    // ntfy decodes first and makes line breaks after: an encoded word does not hide a "\n".
    expect(readMessageHeader(`=?UTF-8?B?${Buffer.from("a\\nb").toString("base64")}?=`)).toBe("a\nb");
  });

  test("header text is only encoded words of at most 75 characters, and decodes to the text itself", () => {
    for (const text of [WORD_FILE, NEWLINE_FILE, WORD_USER, "ä".repeat(200), "x".repeat(1000), "🎨".repeat(50), "a ".repeat(40)]) {
      const value = headerValue(text);
      for (const word of value.split(" ")) {
        expect(word).toMatch(/^=\?UTF-8\?B\?[A-Za-z0-9+/]+={0,2}\?=$/);
        expect(word.length).toBeLessThanOrEqual(75);
      }
      expect(readMessageHeader(value)).not.toMatch(FORGED);
    }
    expect(decodeHeader(headerValue(WORD_FILE))).toBe(WORD_FILE);
    expect(decodeHeader(headerValue("a ".repeat(40)))).toBe("a ".repeat(40));
    expect(readMessageHeader(headerValue(NEWLINE_FILE))).toBe("x\u29f5nSign-in as owner from 10.0.0.9 OK_00001_.png");
    // The Filename header is sent as it is: it can form neither an encoded word nor an escaped line break.
    for (const name of [WORD_FILE, NEWLINE_FILE]) expect(safeFilename(name)).toMatch(/^[A-Za-z0-9._-]+$/);
  });

  test("hostile file and user names arrive literally, in a POST body and in a PUT's Message header", async () => {
    const database = temp.open();
    const ntfy = await startFakeNtfy();
    const owners = new Map([
      [NEWLINE_FILE, NEWLINE_USER],
      [WORD_FILE, WORD_USER],
    ]);
    const picture = pictureSources(STILL_PNG, "image/png", (file) => owners.get(file.filename) ?? null);
    const notifier = createNotifier({ db: database.db, key: KEY, log: quiet, settleMs: 5, minIntervalMs: 5, images: picture.sources });
    try {
      const settings = values({ enabled: true, serverUrl: ntfy.url, topic: "t", events: enabled() });
      await notifier.update(settings, { kind: "keep" }, null);
      for (const username of [WORD_USER, NEWLINE_USER]) notifier.emit("user_login", { username, ip: "192.0.2.1" });
      for (const name of owners.keys()) notifier.fileReported(output(name));
      await ntfy.waitFor(4);
      await notifier.update({ ...settings, attachImages: true }, { kind: "keep" }, null);
      for (const name of owners.keys()) notifier.fileReported(output(name));
      const requests = await ntfy.waitFor(6);
      const posts = requests.filter((request) => request.method === "POST");
      const puts = requests.filter((request) => request.method === "PUT");
      expect([posts.length, puts.length]).toEqual([4, 2]);
      for (const request of requests) {
        expect(request.title).not.toMatch(FORGED);
        expect(request.message, request.message).not.toMatch(FORGED);
      }
      const messages = requests.map((request) => request.message);
      expect(messages).toContain(`${WORD_USER} signed in from 192.0.2.1.`);
      expect(messages).toContain(`${NEWLINE_USER} signed in from 192.0.2.1.`);
      expect(messages).toContain(`${WORD_USER} generated an image: ${WORD_FILE}.`);
      expect(messages).toContain(`${NEWLINE_USER} generated an image: ${NEWLINE_FILE}.`);
      // In a header, ntfy would make a line break of "\n": the backslash is sent as its look-alike.
      const stand = (text: string) => text.replace("\\n", "\u29f5n");
      expect(puts.map((request) => request.message).sort()).toEqual([`${WORD_USER} generated an image: ${WORD_FILE}.`, `${stand(NEWLINE_USER)} generated an image: ${stand(NEWLINE_FILE)}.`].sort());
      for (const request of puts) expect(request.headers.filename).toMatch(/^[A-Za-z0-9._-]+$/);
    } finally {
      await notifier.stop(100);
      await ntfy.stop();
    }
  });

  // Item 2: two gateway instances on one database.
  test("two instances on one database: a server changed by one never gets the token kept by the other's stale copy", async () => {
    const first = temp.open();
    const second = temp.open(); // a second connection, as a second gateway has
    const frozen = () => 1_000; // caches never expire: the stale copy an instance may hold for 5 s
    const a = createSettingsStore(first.db, KEY, frozen);
    const b = createSettingsStore(second.db, KEY, frozen);
    await a.save(values({ enabled: true, serverUrl: "https://old.example", topic: "t" }), { kind: "set", token: "tk_for_old" }, null);
    expect(b.current().serverUrl).toBe("https://old.example");
    // Instance A moves to a new server with its own token...
    await a.save(values({ enabled: true, serverUrl: "https://new.example", topic: "t" }), { kind: "set", token: "tk_for_new" }, null);
    // ...while B, with the old server cached, saves a change of the topic only (the token kept).
    const stale = b.current();
    expect(stale.serverUrl).toBe("https://old.example");
    const parsed = parseSettingsUpdate({ topic: "renamed" }, stale);
    if (!parsed.ok) throw new Error(parsed.error);
    expect(parsed.value.token).toEqual({ kind: "keep" });
    const saved = await b.save(parsed.value.values, parsed.value.token, null);
    expect(saved).toMatchObject({ serverUrl: "https://old.example", tokenSealed: null, tokenCleared: true });
    expect(await a.token(a.reload())).toBeNull();
    // Same origin: the token is kept.
    await a.save(values({ enabled: true, serverUrl: "https://old.example/ntfy", topic: "t" }), { kind: "set", token: "tk_again" }, null);
    const kept = await b.save(values({ enabled: true, serverUrl: "https://old.example", topic: "x" }), { kind: "keep" }, null);
    expect(kept.tokenCleared).toBe(false);
    expect(await b.token(kept)).toBe("tk_again");
  });

  // Item 3: an answer without end.
  test("a large error answer, streamed: at most 4 KiB are read, the rest cancelled, and the attempt ends at once", async () => {
    // 16 MiB in 64 KiB chunks (finite, so that reading it all fails the test rather than hanging it).
    let pulled = 0;
    let cancelled = false;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (++pulled > 256) return controller.close();
        controller.enqueue(new Uint8Array(64 * 1024).fill(0x41));
      },
      cancel() {
        cancelled = true;
      },
    });
    const { fetcher } = scriptedFetch([new Response(endless, { status: 500 })]);
    const result = await publishOnce(DESTINATION, { title: "x", message: "y", priority: "default", tags: [] }, { fetch: fetcher, timeoutMs: 60_000 });
    expect(result).toMatchObject({ ok: false, status: 500, retry: true });
    expect(MAX_ANSWER_BYTES).toBe(4096);
    expect(pulled).toBeLessThanOrEqual(2);
    expect(cancelled).toBe(true);

    const ntfy = await startFakeNtfy();
    try {
      ntfy.script({ status: 500, streamBytes: 256 * 1024 * 1024 });
      const started = performance.now();
      const overHttp = await publishOnce({ serverUrl: ntfy.url, topic: "t", token: null }, { title: "x", message: "y", priority: "default", tags: [] }, { timeoutMs: 30_000 });
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(overHttp).toMatchObject({ ok: false, status: 500, retry: true });
      if (!overHttp.ok) expect(overHttp.error.length).toBeLessThan(400);
      await Bun.sleep(100);
      const streamed = ntfy.streamed();
      await Bun.sleep(200);
      // The server stopped producing (the body was cancelled), after little.
      expect(ntfy.streamed()).toBe(streamed);
      expect(streamed).toBeLessThan(8 * 1024 * 1024);
    } finally {
      await ntfy.stop();
    }
  });

  // Item 4: animations are judged on their first frame only.
  test("only still PNG and JPEG pictures are attached: APNG, animated WebP and GIF are not, whatever type they are served as", async () => {
    const apng = concatBytes([STILL_PNG.subarray(0, 33), pngChunk("acTL", new Uint8Array([0, 0, 0, 2, 0, 0, 0, 0])), STILL_PNG.subarray(33)]);
    const jpeg = await safeImage("jpeg", 8);
    const gif = await safeImage("gif", 8, "flat", { frames: 2 });
    const webpAnimated = await animatedWebp(8, 8, [
      [255, 0, 0],
      [0, 0, 255],
    ]);
    const webpStill = await safeImage("webp", 8);
    const attach = async (bytes: Uint8Array, type: string) => {
      const picture = pictureSources(bytes, type);
      const result = await resolveAttachment(output("a.png"), picture.sources);
      return { ...result, asked: picture.state.asked };
    };
    expect(await attach(STILL_PNG, "image/png")).toMatchObject({ attached: true, asked: 1 });
    expect(await attach(jpeg, "image/jpeg")).toMatchObject({ attached: true, asked: 1 });
    const animated = { attached: false as const, reason: "it is animated, and the NSFW guard checks only the first frame", asked: 0 };
    expect(await attach(apng, "image/png")).toEqual(animated);
    expect(await attach(webpAnimated, "image/png")).toEqual(animated);
    expect(await attach(gif, "image/png")).toMatchObject({ attached: false, reason: expect.stringContaining("GIF"), asked: 0 });
    expect(await attach(gif, "image/gif")).toMatchObject({ attached: false, reason: expect.stringContaining("GIF"), asked: 0 });
    expect(await attach(webpAnimated, "image/webp")).toMatchObject({ attached: false, asked: 0 });
    expect(await attach(webpStill, "image/webp")).toEqual({ attached: false, reason: "only still PNG and JPEG pictures are attached", asked: 0 });
    expect(await attach(webpStill, "image/jpeg")).toEqual({ attached: false, reason: "only still PNG and JPEG pictures are attached", asked: 0 });

    // Through the notifier: the message says why.
    const database = temp.open();
    const ntfy = await startFakeNtfy();
    const notifier = createNotifier({ db: database.db, key: KEY, log: quiet, settleMs: 5, images: pictureSources(apng).sources });
    try {
      await notifier.update(values({ enabled: true, serverUrl: ntfy.url, topic: "t", attachImages: true, events: enabled() }), { kind: "keep" }, null);
      notifier.fileReported(output("anim.png"));
      const [request] = await ntfy.waitFor(1);
      expect(request!.method).toBe("POST");
      expect(request!.message).toBe("ann generated an image: anim.png.\nPicture not attached: it is animated, and the NSFW guard checks only the first frame.");
    } finally {
      await notifier.stop(100);
      await ntfy.stop();
    }
  });

  // Item 5: the test button.
  test("the test button's gate: one test at a time, at most 5 a minute", () => {
    let at = 0;
    const gate = createTestGate(5, () => at);
    const first = gate.enter();
    if (!first.ok) throw new Error("refused");
    expect(gate.enter()).toMatchObject({ ok: false, why: "running" });
    first.release();
    first.release(); // twice is harmless
    for (let i = 0; i < 4; i++) {
      const next = gate.enter();
      if (!next.ok) throw new Error(`refused at ${i}`);
      next.release();
      at += 1_000;
    }
    expect(gate.enter()).toEqual({ ok: false, why: "rate", retryAfterS: 56 });
    at = 60_000;
    expect(gate.enter().ok).toBe(true);
  });

  // Item 6: retries check again.
  test("a retry checks again: a picture tagged NSFW meanwhile, or attachments switched off, goes as text", async () => {
    const database = temp.open();
    const ntfy = await startFakeNtfy();
    const picture = pictureSources(STILL_PNG);
    const notifier = createNotifier({ db: database.db, key: KEY, log: quiet, settleMs: 5, minIntervalMs: 5, retryDelaysMs: [300, 300], images: picture.sources });
    try {
      const settings = values({ enabled: true, serverUrl: ntfy.url, topic: "t", attachImages: true, events: enabled() });
      await notifier.update(settings, { kind: "keep" }, null);
      ntfy.script({ status: 503 });
      notifier.fileReported(output("a.png"));
      await ntfy.waitFor(1);
      expect(ntfy.requests[0]!.method).toBe("PUT");
      picture.state.verdict = row({ manualTag: "nsfw" }); // a person tags it before the retry
      await ntfy.waitFor(2);
      expect(ntfy.requests[1]).toMatchObject({ method: "POST", message: "ann generated an image: a.png.\nPicture not attached: withheld by the NSFW guard." });
      expect(ntfy.requests[1]!.body.byteLength).toBeLessThan(200);

      picture.state.verdict = row();
      ntfy.script({ status: 503, delayMs: 500 }); // switched off while this attempt waits for its answer
      notifier.fileReported(output("b.png"));
      await ntfy.waitFor(3);
      expect(ntfy.requests[2]!.method).toBe("PUT");
      await notifier.update({ ...settings, attachImages: false }, { kind: "keep" }, null);
      await ntfy.waitFor(4);
      expect(ntfy.requests[3]).toMatchObject({ method: "POST", message: "ann generated an image: b.png." });
      await settle(() => notifier.status().sent === 2);
      expect(notifier.status()).toMatchObject({ sent: 2, failed: 0 });
    } finally {
      await notifier.stop(100);
      await ntfy.stop();
    }
  });

  // Item 7: what a full queue drops, and slow pictures.
  test("a full queue drops the lowest priority first (the oldest of it, or the newcomer): alerts outlast a flood of images", async () => {
    let release!: () => void;
    const gate = new Promise<Response>((resolve) => (release = () => resolve(new Response("{}", { status: 200 }))));
    const { fetcher, calls } = scriptedFetch([() => gate]);
    const delivery = createDelivery({ destination: async () => DESTINATION, log: quiet, fetch: fetcher, maxQueued: 4 });
    const at = (event: string, priority: number): QueuedMessage => ({ ...message(event), priority });
    delivery.enqueue(at("first", 3));
    for (const n of [1, 2, 3]) delivery.enqueue(at(`image_${n}`, 2));
    delivery.enqueue(at("login_failure", 4)); // image_1 goes
    delivery.enqueue(at("user_role_changed", 3)); // image_2 goes
    delivery.enqueue(at("image_4", 2)); // image_3 goes (the oldest of the lowest)
    delivery.enqueue(at("ip_banned", 4)); // image_4 goes
    delivery.enqueue(at("image_5", 2)); // the newcomer is the lowest: it goes
    await settle(() => calls.length === 1);
    expect(delivery.state()).toMatchObject({ queued: 4, dropped: 5 });
    release();
    await settle(() => delivery.state().sent === 4);
    expect(calls.map(titleOf)).toEqual(["first", "login_failure", "user_role_changed", "ip_banned"]);
  });

  test("a picture being prepared does not hold back the messages behind it", async () => {
    let release!: () => void;
    const slowGate = new Promise<void>((resolve) => (release = resolve));
    const { fetcher, calls } = scriptedFetch([]);
    const delivery = createDelivery({ destination: async () => DESTINATION, log: quiet, fetch: fetcher });
    delivery.enqueue({
      event: "image_generated",
      slow: true,
      priority: 2,
      prepare: async () => {
        await slowGate;
        return { title: "image_generated", message: "m", priority: "low", tags: [] };
      },
    });
    delivery.enqueue(message("login_failure"));
    await settle(() => calls.length === 1);
    expect(titleOf(calls[0]!)).toBe("login_failure");
    release();
    await settle(() => calls.length === 2);
    expect(titleOf(calls[1]!)).toBe("image_generated");
    expect(delivery.state()).toMatchObject({ sent: 2, queued: 0 });
  });

  // Item 8: a hand-edited row.
  test("a stored address edited into something invalid: the token counts as unset, and saving from there does not bring it back", async () => {
    const database = temp.open();
    const { fetcher, calls } = scriptedFetch([]);
    const notifier = createNotifier({ db: database.db, key: KEY, log: quiet, fetch: fetcher });
    await notifier.update(values({ enabled: true, serverUrl: "https://ntfy.example", topic: "t" }), { kind: "set", token: "tk_hand_edited" }, null);
    database.sqlite.run("update notify_settings set server_url = 'http://evil.example:8080'");
    const settings = notifier.settings({ fresh: true });
    expect(settings).toMatchObject({ enabled: false, serverUrl: "https://ntfy.sh", tokenSealed: null });
    await notifier.sendTest("olga");
    expect(calls).toHaveLength(1);
    expect((calls[0]!.init.headers as Record<string, string>).Authorization).toBeUndefined();
    const saved = await notifier.update({ ...settings, enabled: true }, { kind: "keep" }, null);
    expect(saved.tokenSealed).toBeNull();
    await notifier.stop(100);
  });

  // Item 9: what the limit held back.
  test("what the per-kind limit held back is listed, by event and count, in the next notification that goes out", async () => {
    const database = temp.open();
    const ntfy = await startFakeNtfy();
    const notifier = createNotifier({ db: database.db, key: KEY, log: quiet, ratePerMinute: 2 });
    try {
      await notifier.update(values({ enabled: true, serverUrl: ntfy.url, topic: "t", events: enabled() }), { kind: "keep" }, null);
      for (let i = 0; i < 5; i++) notifier.emit("login_failure", { username: null, ip: "203.0.113.1" });
      for (let i = 0; i < 3; i++) notifier.emit("api_token_created", { username: "ann", ip: null });
      notifier.emit("user_login", { username: "ann", ip: null });
      const requests = await ntfy.waitFor(5);
      expect(requests.map((request) => request.message)).toEqual([
        "A sign-in with a name that is no account failed from 203.0.113.1.",
        "A sign-in with a name that is no account failed from 203.0.113.1.",
        "ann created an API token.\nNot sent in the last minutes, to keep the flood down: Failed sign-in ×3.",
        "ann created an API token.",
        "ann signed in.\nNot sent in the last minutes, to keep the flood down: API token created ×1.",
      ]);
      expect(notifier.status().suppressed).toBe(4);
    } finally {
      await notifier.stop(100);
      await ntfy.stop();
    }
  });
});
