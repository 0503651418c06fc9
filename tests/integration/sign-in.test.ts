/**
 * Sign-in through the real gateway against the fake ComfyUI: anonymous callers are refused
 * (API 401, browser to the sign-in page, WebSocket 401 before any upgrade), a browser session
 * and an API token both run ComfyUI, logout ends the cookie at once, a ticket opens the
 * WebSocket exactly once, wrong passwords give no oracle, and the first-run link makes the owner.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway } from "../../src/app.ts";
import { loadConfig } from "../../src/config/index.ts";
import { applyMigrations, openDatabase } from "../../src/db/index.ts";
import { createLogger } from "../../src/log.ts";
import * as OTPAuth from "otpauth";
import { IDENTITY_CACHE_MS } from "../../src/auth/identity.ts";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { signInEnrolling, startTestGateway, TEST_PASSWORD, TEST_ENV, type TestGateway } from "../support/gateway.ts";

let fake: FakeComfyUI;
let gateway: TestGateway;

beforeAll(async () => {
  fake = await startFakeComfyUI({ multiUser: true });
  // Many sign-ins from one address in this file: the per-address bucket is tested on its own below.
  // A power user: the default matrix lets power users (not plain users) hold API tokens.
  gateway = await startTestGateway(fake.url, [], { MSS_LOGIN_REGULATION__IP_ATTEMPTS_PER_MINUTE: "100" }, "power");
});
afterAll(async () => {
  await gateway.stop();
  await fake.stop();
});

const GRAPH = {
  "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
  "9": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "signin" } },
};

async function login(body: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(`${gateway.url}/login`, { method: "POST", headers: { "content-type": "application/json", "sec-fetch-site": "same-origin", ...headers }, body: JSON.stringify(body), redirect: "manual" });
}

function cookieOf(response: Response): string {
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith("mss_session=") || c.startsWith("__Host-mss_session="));
  if (!cookie) throw new Error("no session cookie");
  return cookie.split(";")[0]!;
}

describe("anonymous callers", () => {
  test("API calls get 401 JSON, and nothing reaches ComfyUI", async () => {
    fake.clearRequests();
    for (const [method, path] of [["POST", "/api/prompt"], ["GET", "/api/queue"], ["GET", "/view?filename=x.png"], ["GET", "/api/view?filename=x.png"], ["GET", "/api/object_info"]] as const) {
      const response = await fetch(gateway.url + path, { method, body: method === "POST" ? "{}" : null });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ code: "AUTH_REQUIRED" });
    }
    expect(fake.requests().filter((r) => !r.target.startsWith("/api/users"))).toEqual([]);
  });

  test("a browser is sent to the sign-in page and comes back where it was going", async () => {
    const response = await fetch(`${gateway.url}/api/queue?x=1`, { headers: { "sec-fetch-mode": "navigate", accept: "text/html" }, redirect: "manual" });
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe(`/login?next=${encodeURIComponent("/api/queue?x=1")}`);
    const page = await fetch(`${gateway.url}/login`);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(await page.text()).toContain('autocomplete="current-password"');
  });

  test("the WebSocket upgrade is refused with 401 before anything is opened upstream", async () => {
    const before = fake.summary().open_connections;
    const response = await fetch(`${gateway.url}/ws`, { headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } });
    expect(response.status).toBe(401);
    expect(fake.summary().open_connections).toBe(before);
  });

  test("forged and expired-looking credentials are refused the same way", async () => {
    const attempts: Array<Record<string, string>> = [{ authorization: "Bearer mss_notatoken" }, { cookie: "mss_session=eyJhbGciOiJub25lIn0.e30." }, { authorization: "Basic dGVzdGVyOnB3" }];
    for (const headers of attempts) {
      const response = await fetch(`${gateway.url}/api/queue`, { headers });
      expect(response.status).toBe(401);
    }
  });
});

describe("signing in", () => {
  test("wrong password and unknown user give the same answer, after at least 250 ms", async () => {
    const answers: Array<{ status: number; body: string; ms: number }> = [];
    for (const body of [{ username: "tester", password: "wrong password here" }, { username: "nobody_here", password: "wrong password here" }]) {
      const started = performance.now();
      const response = await login(body);
      answers.push({ status: response.status, body: await response.text(), ms: performance.now() - started });
    }
    expect(answers[0]!.status).toBe(401);
    expect(answers[0]!.body).toBe(answers[1]!.body);
    for (const answer of answers) expect(answer.ms).toBeGreaterThanOrEqual(250);
  });

  test("a browser session runs a prompt end to end; logout kills the cookie at once", async () => {
    const response = await login({ username: "tester", password: TEST_PASSWORD });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ message: "Login successful", redirect_url: "/" });
    const setCookie = response.headers.getSetCookie()[0]!;
    expect(setCookie).toContain("HttpOnly");
    expect(setCookie).toContain("SameSite=Lax");
    const cookie = cookieOf(response);

    const submitted = await fetch(`${gateway.url}/api/prompt`, { method: "POST", headers: { "sec-fetch-site": "same-origin", cookie, "content-type": "application/json" }, body: JSON.stringify({ prompt: GRAPH }) });
    expect(submitted.status).toBe(200);
    const { prompt_id } = (await submitted.json()) as { prompt_id: string };
    await fake.waitForIdle(5000);
    const history = (await (await fetch(`${gateway.url}/api/history/${prompt_id}`, { headers: { cookie } })).json()) as Record<string, { outputs: Record<string, { images: Array<{ filename: string; subfolder: string }> }> }>;
    const image = history[prompt_id]!.outputs["9"]!.images[0]!;
    // Outputs land in the user's own folder.
    expect(image.subfolder).toBe(`u-${gateway.account.userId}`);
    const view = await fetch(`${gateway.url}/api/view?filename=${image.filename}&subfolder=${image.subfolder}&type=output`, { headers: { cookie } });
    expect(view.status).toBe(200);
    expect(view.headers.get("content-type")).toBe("image/png");

    const me = await (await fetch(`${gateway.url}/mss-login/api/me`, { headers: { cookie } })).json();
    expect(me).toMatchObject({ username: "tester", role: "power", is_admin: false, permissions: { can_run: true, can_have_api_tokens: true, can_view_console: false } });

    const logout = await fetch(`${gateway.url}/logout`, { method: "POST", headers: { "sec-fetch-site": "same-origin", cookie } });
    expect(logout.headers.getSetCookie()[0]).toContain("Max-Age=0");
    const after = await fetch(`${gateway.url}/api/queue`, { headers: { cookie } });
    expect(after.status).toBe(401);
    expect(await after.json()).toMatchObject({ code: "AUTH_REVOKED" });
  });

  test("with a cookie, JSON routes refuse the content types a cross-site form could send", async () => {
    const cookie = cookieOf(await login({ username: "tester", password: TEST_PASSWORD }));
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      const response = await fetch(`${gateway.url}/api/prompt`, { method: "POST", headers: { "sec-fetch-site": "same-origin", cookie, "content-type": type }, body: JSON.stringify({ prompt: GRAPH }) });
      expect(response.status).toBe(415);
      expect(await response.json()).toMatchObject({ code: "JSON_REQUIRED" });
    }
    // The real front end saves settings as text/plain: that keeps working.
    const setting = await fetch(`${gateway.url}/api/settings/Comfy.UseNewMenu`, { method: "POST", headers: { "sec-fetch-site": "same-origin", cookie, "content-type": "text/plain;charset=UTF-8" }, body: '"Top"' });
    expect(setting.status).toBe(200);
  });

  test("a revocation made outside this gateway (another instance, the command line) is seen within a second", async () => {
    const cookie = cookieOf(await login({ username: "tester", password: TEST_PASSWORD }));
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { cookie } })).status).toBe(200);
    const database = openDatabase(gateway.dataDir);
    try {
      database.sqlite.run("UPDATE sessions SET revoked_at = ? WHERE revoked_at IS NULL", [Date.now()]);
    } finally {
      database.close();
    }
    await Bun.sleep(IDENTITY_CACHE_MS + 100);
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { cookie } })).status).toBe(401);
  });

  test("an API token runs a prompt end to end", async () => {
    const submitted = await gateway.fetch("/api/prompt", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: GRAPH }) });
    expect(submitted.status).toBe(200);
    await fake.waitForIdle(5000);
  });

  test("a form post from a browser redirects to a same-site `next` only", async () => {
    const form = new URLSearchParams({ username: "tester", password: TEST_PASSWORD, next: "/api/queue" });
    const ok = await fetch(`${gateway.url}/login`, { method: "POST", body: form, headers: { "sec-fetch-mode": "navigate", accept: "text/html" }, redirect: "manual" });
    expect(ok.status).toBe(302);
    expect(ok.headers.get("location")).toBe("/api/queue");
    for (const next of ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"]) {
      const response = await fetch(`${gateway.url}/login`, {
        method: "POST",
        body: new URLSearchParams({ username: "tester", password: TEST_PASSWORD, next }),
        headers: { "sec-fetch-mode": "navigate", accept: "text/html" },
        redirect: "manual",
      });
      expect(response.headers.get("location")).toBe("/");
    }
  });

  test("a ticket opens the WebSocket exactly once", async () => {
    const response = await gateway.fetch("/mss-login/api/ticket", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ purpose: "ws" }) });
    const { ticket } = (await response.json()) as { ticket: string };
    const open = (url: string) =>
      new Promise<{ opened: boolean; firstType?: string }>((resolve) => {
        const socket = new WebSocket(url);
        socket.onmessage = (event) => {
          resolve({ opened: true, firstType: (JSON.parse(String(event.data)) as { type: string }).type });
          socket.close();
        };
        socket.onerror = () => resolve({ opened: false });
      });
    fake.clearRequests();
    expect(await open(`${gateway.wsUrl}/ws?clientId=t1&ticket=${ticket}`)).toEqual({ opened: true, firstType: "status" });
    // The ticket is the gateway's: ComfyUI sees the upgrade without it.
    // The ticket never reaches ComfyUI; the client id is replaced by one the gateway minted.
    expect(fake.requests().find((r) => r.target.startsWith("/ws"))!.target).toMatch(/^\/ws\?clientId=[0-9a-f]{32}$/);
    expect(await open(`${gateway.wsUrl}/ws?clientId=t1&ticket=${ticket}`)).toEqual({ opened: false });
  });
});

describe("checklist 5.4 and 5.5 on the wire", () => {
  test("credentials are not interchangeable: a ticket, an MFA token or an API token is no session, and the reverse (5.4.30)", async () => {
    const ticket = ((await (await gateway.fetch("/mss-login/api/ticket", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).json()) as { ticket: string }).ticket;
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { authorization: `Bearer ${ticket}` } })).status).toBe(401);
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { cookie: `mss_session=${ticket}` } })).status).toBe(401);
    expect((await fetch(`${gateway.url}/api/queue?ticket=${ticket}`)).status).toBe(401); // a ws ticket, not for /api/queue
  });

  test("a planted session cookie is replaced at sign-in (5.4.33)", async () => {
    const planted = cookieOf(await login({ username: "tester", password: TEST_PASSWORD }));
    const fresh = cookieOf(await login({ username: "tester", password: TEST_PASSWORD }, { cookie: planted }));
    expect(fresh).not.toBe(planted);
  });

  test("cookie attributes: HttpOnly, SameSite=Lax, Path=/, no Domain; over HTTPS (per a trusted proxy) Secure and __Host- (5.4.34)", async () => {
    const plain = (await login({ username: "tester", password: TEST_PASSWORD })).headers.getSetCookie()[0]!;
    expect(plain).toContain("HttpOnly");
    expect(plain).toContain("SameSite=Lax");
    expect(plain).toContain("Path=/");
    expect(plain).not.toContain("Domain");
    expect(plain).not.toContain("Secure");
    const proxied = await startTestGateway(fake.url, [], { MSS_LOGIN_TRUSTED_PROXIES: "127.0.0.1", MSS_LOGIN_REGULATION__IP_ATTEMPTS_PER_MINUTE: "100" });
    try {
      const viaTls = await fetch(`${proxied.url}/login`, { method: "POST", headers: { "content-type": "application/json", "x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.7" }, body: JSON.stringify({ username: "tester", password: TEST_PASSWORD }) });
      const secureCookie = viaTls.headers.getSetCookie()[0]!;
      expect(secureCookie).toStartWith("__Host-mss_session=");
      expect(secureCookie).toContain("; Secure");
      const cookie = secureCookie.split(";")[0]!;
      expect((await fetch(`${proxied.url}/api/queue`, { headers: { cookie, "x-forwarded-proto": "https" } })).status).toBe(200);
    } finally {
      await proxied.stop();
    }
    // Without a trusted proxy, the header is a claim anyone can make: no Secure from it.
    const claimed = await login({ username: "tester", password: TEST_PASSWORD }, { "x-forwarded-proto": "https" });
    expect(claimed.headers.getSetCookie()[0]).not.toContain("Secure");
  });

  test("pages the gateway serves refuse framing and leak no referrer (5.4.37, 5.5.42)", async () => {
    const page = await fetch(`${gateway.url}/login`);
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(page.headers.get("referrer-policy")).toBe("same-origin");
  });

  test("login CSRF: another site cannot sign the victim in as the attacker (5.5.43)", async () => {
    const response = await fetch(`${gateway.url}/login`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://evil.example" }, body: new URLSearchParams({ username: "tester", password: TEST_PASSWORD }) });
    expect(response.status).toBe(403);
    expect(response.headers.getSetCookie()).toEqual([]);
  });
});

describe("guest access", () => {
  test("off by default; when enabled, a guest gets a browser-session cookie of the guest role, and no admin routes", async () => {
    expect((await login({ guest_login: "true" })).status).toBe(403);
    expect(await (await fetch(`${gateway.url}/login`)).text()).not.toContain("Continue as guest");
    const local = await startTestGateway(fake.url, [], { MSS_LOGIN_AUTH__ALLOW_GUEST: "true" });
    try {
      expect(await (await fetch(`${local.url}/login`)).text()).toContain("Continue as guest");
      const response = await fetch(`${local.url}/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ guest_login: "true", remember_me: "1" }) });
      expect(response.status).toBe(200);
      const setCookie = response.headers.getSetCookie()[0]!;
      expect(setCookie).not.toContain("Max-Age");
      const cookie = setCookie.split(";")[0]!;
      expect(await (await fetch(`${local.url}/mss-login/api/me`, { headers: { cookie } })).json()).toMatchObject({ username: "guest", role: "guest", is_admin: false });
      expect((await fetch(`${local.url}/api/queue`, { headers: { cookie } })).status).toBe(200);
      expect((await fetch(`${local.url}/internal/logs`, { headers: { cookie } })).status).toBe(403);
      expect((await fetch(`${local.url}/mss-login/generate_token`, { method: "POST", headers: { "sec-fetch-site": "same-origin", cookie, "content-type": "application/json" }, body: JSON.stringify({ label: "g" }) })).status).toBe(403);
    } finally {
      await local.stop();
    }
  });
});

describe("bad input to the sign-in routes", () => {
  test("an oversized or unmeasured body is not read, and is simply invalid credentials", async () => {
    const huge = JSON.stringify({ username: "tester", password: "x".repeat(70 * 1024) });
    expect((await fetch(`${gateway.url}/login`, { method: "POST", headers: { "content-type": "application/json" }, body: huge })).status).toBe(401);
    const chunked = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(JSON.stringify({ username: "tester", password: TEST_PASSWORD }))); c.close(); } });
    expect((await fetch(`${gateway.url}/login`, { method: "POST", headers: { "content-type": "application/json" }, body: chunked, duplex: "half" } as RequestInit)).status).toBe(401);
  });

  test("a non-ASCII or scheme-relative `next` falls back to /", async () => {
    for (const next of ["/€", "/ok path", "//x"]) {
      const response = await fetch(`${gateway.url}/login`, { method: "POST", body: new URLSearchParams({ username: "tester", password: TEST_PASSWORD, next }), headers: { "sec-fetch-mode": "navigate", accept: "text/html" }, redirect: "manual" });
      expect(response.status).toBe(302);
      expect(response.headers.get("location")).toBe("/");
    }
  });

  test("static lookups do not reach object internals", async () => {
    for (const name of ["__proto__", "constructor", "toString"]) expect((await fetch(`${gateway.url}/mss-login/static/${name}`)).status).toBe(404);
  });

  test("another site cannot sign the user out with a link", async () => {
    const cookie = cookieOf(await login({ username: "tester", password: TEST_PASSWORD }));
    await fetch(`${gateway.url}/logout`, { headers: { cookie, "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document" }, redirect: "manual" });
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { cookie } })).status).toBe(200);
  });
});

describe("brute force", () => {
  test("three failures ban the account; during the ban even the right password gets the wrong-password answer", async () => {
    const local = await startTestGateway(fake.url, [], { MSS_LOGIN_REGULATION__IP_ATTEMPTS_PER_MINUTE: "100" });
    try {
      const attempt = (password: string) => fetch(`${local.url}/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "tester", password }) });
      for (let i = 0; i < 3; i++) expect((await attempt("not the password")).status).toBe(401);
      const banned = await attempt(TEST_PASSWORD);
      expect(banned.status).toBe(401);
      expect(await banned.json()).toMatchObject({ code: "INVALID_CREDENTIALS" });
    } finally {
      await local.stop();
    }
  });

  test("wrong codes at a pending enrolment are limited like passwords", async () => {
    const local = await startTestGateway(fake.url, [], { MSS_LOGIN_REGULATION__IP_ATTEMPTS_PER_MINUTE: "100" });
    try {
      const post = (path: string, body: Record<string, string>, headers: Record<string, string>) =>
        fetch(local.url + path, { method: "POST", headers: { "content-type": "application/json", "sec-fetch-site": "same-origin", ...headers }, body: JSON.stringify(body) });
      const cookie = cookieOf(await post("/login", { username: "tester", password: TEST_PASSWORD }, {}));
      expect((await post("/mss-login/api/mfa/setup", { password: TEST_PASSWORD }, { cookie })).status).toBe(200);
      for (let i = 0; i < 3; i++) expect((await post("/mss-login/api/mfa/verify-setup", { code: `00000${i}` }, { cookie })).status).toBe(400);
      expect((await post("/mss-login/api/mfa/verify-setup", { code: "000009" }, { cookie })).status).toBe(429);
    } finally {
      await local.stop();
    }
  });

  test("an address gets a limited number of attempts per minute, then 429 with Retry-After", async () => {
    const local = await startTestGateway(fake.url, [], { MSS_LOGIN_REGULATION__IP_ATTEMPTS_PER_MINUTE: "2" });
    try {
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 3; i++) {
        const response = await fetch(`${local.url}/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: `someone${i}`, password: "whatever it is" }) });
        statuses.push(response.status);
        retryAfter = response.headers.get("retry-after");
      }
      expect(statuses).toEqual([401, 401, 429]);
      expect(Number(retryAfter)).toBeGreaterThan(0);
    } finally {
      await local.stop();
    }
  });
});

test("first run: the console's one-time link creates the owner, once", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "mss-setup-"));
  const { config } = loadConfig({ argv: ["--data-dir", dataDir, "--host", "127.0.0.1", "--port", "0", "--upstream", fake.url], env: TEST_ENV, cwd: dataDir });
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
  try {
    const link = /(http:\/\/\S+\/setup\?token=\S+)/.exec(console)?.[1];
    expect(link).toBeDefined();
    // The same link in an owner-only file, for operators without a console.
    const linkFile = join(dataDir, "setup-link.txt");
    expect(readFileSync(linkFile, "utf8").trim()).toBe(link!);
    expect(statSync(linkFile).mode & 0o777).toBe(0o600);
    const token = new URL(link!).searchParams.get("token")!;
    const url = running.url;
    const bad = await fetch(`${url}/setup`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: "nope", username: "boss", password: "a long enough passphrase" }) });
    expect(bad.status).toBe(403);
    const weak = await fetch(`${url}/setup`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token, username: "boss", password: "short" }) });
    expect(weak.status).toBe(400);
    const ok = await fetch(`${url}/setup`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token, username: "boss", password: "a long enough passphrase" }) });
    expect(ok.status).toBe(200);
    // The owner's role requires a second factor: no session from the form, the sign-in enrols it.
    expect(ok.headers.getSetCookie()).toEqual([]);
    expect(await ok.json()).toMatchObject({ redirect_url: "/login?created=owner" });
    const { cookie } = await signInEnrolling(url, "boss", "a long enough passphrase");
    expect(await (await fetch(`${url}/mss-login/api/me`, { headers: { cookie } })).json()).toMatchObject({ username: "boss", role: "owner", is_admin: true, mfa_enabled: true });
    expect(existsSync(linkFile)).toBe(false);
    const again = await fetch(`${url}/setup`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token, username: "boss2", password: "a long enough passphrase" }) });
    expect(again.status).toBe(409);
  } finally {
    await running.stop();
    database.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

describe("open WebSockets end with their credential", () => {
  function openSocket(path: string, headers: Record<string, string>) {
    const socket = new WebSocket(gateway.wsUrl + path, { headers } as unknown as string[]);
    const closed = new Promise<CloseEvent>((resolve) => (socket.onclose = resolve));
    const opened = new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error("websocket failed"));
    });
    return { socket, closed, opened };
  }

  test("signing out closes the session's open socket at once (1008)", async () => {
    const cookie = cookieOf(await login({ username: "tester", password: TEST_PASSWORD }));
    const { opened, closed } = openSocket("/ws?clientId=logout-1", { cookie });
    await opened;
    await fetch(`${gateway.url}/logout`, { method: "POST", headers: { "sec-fetch-site": "same-origin", cookie } });
    const event = await Promise.race([closed, Bun.sleep(3000).then(() => null)]);
    expect(event?.code).toBe(1008);
  });

  test("revoking an API token closes the sockets it opened", async () => {
    const created = (await (await gateway.fetch("/mss-login/generate_token", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ label: "ws" }) })).json()) as { jwt_token: string; id: string };
    const { opened, closed } = openSocket("/ws?clientId=token-1", { authorization: `Bearer ${created.jwt_token}` });
    await opened;
    await gateway.fetch("/mss-login/api/tokens", { method: "DELETE", headers: { "content-type": "application/json" }, body: JSON.stringify({ id: created.id }) });
    const event = await Promise.race([closed, Bun.sleep(3000).then(() => null)]);
    expect(event?.code).toBe(1008);
  });
});

describe("a user's own tokens and sessions", () => {
  test("create a token by session, list it (never its secret), use it, revoke it", async () => {
    const cookie = cookieOf(await login({ username: "tester", password: TEST_PASSWORD }));
    const created = await fetch(`${gateway.url}/mss-login/generate_token`, { method: "POST", headers: { "sec-fetch-site": "same-origin", cookie, "content-type": "application/json" }, body: JSON.stringify({ label: "phone", expire_hours: "24", scopes: "read" }) });
    expect(created.status).toBe(200);
    const { jwt_token: token, id } = (await created.json()) as { jwt_token: string; id: string };
    expect(token).toMatch(/^mss_/);

    const list = (await (await fetch(`${gateway.url}/api/mss-login/api/tokens`, { headers: { cookie } })).json()) as { tokens: Array<Record<string, unknown>> };
    expect(list.tokens.find((t) => t.id === id)).toMatchObject({ label: "phone", scopes: ["read"] });
    expect(JSON.stringify(list)).not.toContain(token.slice(4));

    // A read-only token reads but cannot run anything.
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const run = await fetch(`${gateway.url}/api/prompt`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ prompt: GRAPH }) });
    expect(run.status).toBe(403);
    expect(await run.json()).toMatchObject({ code: "TOKEN_SCOPE" });

    const revoked = await fetch(`${gateway.url}/mss-login/api/tokens`, { method: "DELETE", headers: { "sec-fetch-site": "same-origin", cookie, "content-type": "application/json" }, body: JSON.stringify({ id }) });
    expect(revoked.status).toBe(200);
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
  });

  test("create a token with username and password (the original's mobile flow); bad input changes nothing", async () => {
    const byPassword = await fetch(`${gateway.url}/generate_token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "tester", password: TEST_PASSWORD, label: "script" }) });
    expect(byPassword.status).toBe(200);
    expect(await byPassword.json()).toMatchObject({ message: "API token created.", expires_in_hours: 720 });
    const wrong = await fetch(`${gateway.url}/generate_token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "tester", password: "not it at all", label: "x" }) });
    expect(wrong.status).toBe(401);
    const never = await gateway.fetch("/mss-login/generate_token", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ label: "forever", expire_hours: "0" }) });
    expect(never.status).toBe(400);
    expect(await never.json()).toMatchObject({ code: "NON_EXPIRING_NOT_ALLOWED" });
  });

  test("a token cannot make a broader token, and scopes hold on the gateway's own routes too", async () => {
    const make = async (scopes: string, auth: Record<string, string>) =>
      fetch(`${gateway.url}/mss-login/generate_token`, { method: "POST", headers: { "content-type": "application/json", ...auth }, body: JSON.stringify({ label: "t", scopes }) });
    const readRun = ((await (await gateway.fetch("/mss-login/generate_token", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ label: "rr", scopes: "read,run" }) })).json()) as { jwt_token: string }).jwt_token;
    expect((await make("read,run,admin", { authorization: `Bearer ${readRun}` })).status).toBe(403);
    const narrower = await make("read", { authorization: `Bearer ${readRun}` });
    expect(narrower.status).toBe(200);
    const readOnly = ((await narrower.json()) as { jwt_token: string; id: string }).jwt_token;
    // Read-only: may list, may not create, revoke, or open sockets needing more than read.
    expect((await make("read", { authorization: `Bearer ${readOnly}` })).status).toBe(403);
    expect((await fetch(`${gateway.url}/mss-login/api/tokens`, { headers: { authorization: `Bearer ${readOnly}` } })).status).toBe(200);
    expect((await fetch(`${gateway.url}/mss-login/api/tokens`, { method: "DELETE", headers: { authorization: `Bearer ${readOnly}`, "content-type": "application/json" }, body: JSON.stringify({ id: "x" }) })).status).toBe(403);
    const runOnly = ((await (await make("run", { authorization: `Bearer ${readRun}` })).json()) as { jwt_token: string }).jwt_token;
    expect((await fetch(`${gateway.url}/mss-login/api/ticket`, { method: "POST", headers: { authorization: `Bearer ${runOnly}`, "content-type": "application/json" }, body: "{}" })).status).toBe(403);
  });

  test("the session JWT works as a bearer token (the original's clients use jwt_token so); an API token in the cookie does not", async () => {
    const response = await login({ username: "tester", password: TEST_PASSWORD });
    const { jwt_token } = (await response.json()) as { jwt_token: string };
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { authorization: `Bearer ${jwt_token}` } })).status).toBe(200);
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { cookie: `mss_session=${gateway.account.token}` } })).status).toBe(401);
    // Warm or cold, the answer for each kind stays its own.
    expect((await gateway.fetch("/api/queue")).status).toBe(200);
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { cookie: `mss_session=${gateway.account.token}` } })).status).toBe(401);
  });

  test("tokens in the URL are refused unless the operator enables the original's ?token= compatibility; credentials never reach ComfyUI", async () => {
    expect((await fetch(`${gateway.url}/api/queue?token=${gateway.account.token}`)).status).toBe(401);
    const local = await startTestGateway(fake.url, [], { MSS_LOGIN_AUTH__ALLOW_QUERY_TOKEN: "true" });
    try {
      fake.clearRequests();
      expect((await fetch(`${local.url}/api/prompt?max_items=1&token=${local.account.token}`)).status).toBe(200);
      const seen = fake.requests().filter((r) => r.target.startsWith("/api/prompt")).at(-1)!;
      expect(seen.target).toBe("/api/prompt?max_items=1");
    } finally {
      await local.stop();
    }
  });

  test("list sessions, see the current one, revoke another", async () => {
    const first = cookieOf(await login({ username: "tester", password: TEST_PASSWORD }));
    const second = cookieOf(await login({ username: "tester", password: TEST_PASSWORD }));
    type Listing = { sessions: Array<{ jti: string; is_current: boolean }> };
    const listFor = async (cookie: string) => ((await (await fetch(`${gateway.url}/mss-login/me/sessions`, { headers: { cookie } })).json()) as Listing).sessions;
    const secondJti = (await listFor(second)).find((s) => s.is_current)!.jti;
    const seenByFirst = await listFor(first);
    expect(seenByFirst.filter((s) => s.is_current).length).toBe(1);
    expect(seenByFirst.some((s) => s.jti === secondJti && !s.is_current)).toBe(true);
    const revoke = await fetch(`${gateway.url}/mss-login/me/sessions/revoke`, { method: "POST", headers: { "sec-fetch-site": "same-origin", cookie: first, "content-type": "application/json" }, body: JSON.stringify({ jti: secondJti }) });
    expect(revoke.status).toBe(200);
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { cookie: first } })).status).toBe(200);
    expect((await fetch(`${gateway.url}/api/queue`, { headers: { cookie: second } })).status).toBe(401);
    const foreign = await fetch(`${gateway.url}/mss-login/me/sessions/revoke`, { method: "POST", headers: { "sec-fetch-site": "same-origin", cookie: first, "content-type": "application/json" }, body: JSON.stringify({ jti: "not-mine" }) });
    expect(foreign.status).toBe(404);
  });
});

describe("two-factor authentication", () => {
  test("enrol with password and QR, confirm, then sign in in two steps (the original's mfa_temp_token flow); a code works once", async () => {
    const local = await startTestGateway(fake.url, [], { MSS_LOGIN_REGULATION__IP_ATTEMPTS_PER_MINUTE: "100" });
    try {
      const post = (path: string, body: Record<string, string>, headers: Record<string, string> = {}) =>
        fetch(local.url + path, { method: "POST", headers: { "content-type": "application/json", "sec-fetch-site": "same-origin", ...headers }, body: JSON.stringify(body) });
      const cookie = cookieOf(await post("/login", { username: "tester", password: TEST_PASSWORD }));

      expect((await post("/mss-login/api/mfa/setup", { password: "wrong password" }, { cookie })).status).toBe(403);
      const setup = (await (await post("/mss-login/api/mfa/setup", { password: TEST_PASSWORD }, { cookie })).json()) as { provisioning_uri: string; secret: string; qr_svg: string };
      expect(setup.provisioning_uri).toStartWith("otpauth://totp/");
      expect(setup.qr_svg).toContain("<svg");
      const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(setup.secret), digits: 6, period: 30, algorithm: "SHA1" });

      expect((await post("/mss-login/api/mfa/verify-setup", { code: "000000" }, { cookie })).status).toBe(400);
      expect((await post("/mss-login/api/mfa/verify-setup", { code: "000001" }, { cookie })).status).toBe(400);
      const confirmed = (await (await post("/mss-login/api/mfa/verify-setup", { code: totp.generate() }, { cookie })).json()) as { recovery_codes: string[] };
      expect(confirmed.recovery_codes.length).toBe(10);

      // Step one: the password alone gives a one-time token, no session.
      const first = await post("/login", { username: "tester", password: TEST_PASSWORD });
      expect(first.headers.getSetCookie()).toEqual([]);
      const { mfa_required, mfa_temp_token } = (await first.json()) as { mfa_required: boolean; mfa_temp_token: string };
      expect(mfa_required).toBe(true);
      // The code used to confirm the enrolment cannot be replayed; a recovery code works once.
      expect((await post("/mss-login/api/mfa/verify", { mfa_temp_token, code: confirmed.recovery_codes[0]! })).status).toBe(200);
      expect((await post("/mss-login/api/mfa/verify", { mfa_temp_token, code: confirmed.recovery_codes[1]! })).status).toBe(401); // token spent
      const again = (await (await post("/login", { username: "tester", password: TEST_PASSWORD })).json()) as { mfa_temp_token: string };
      expect((await post("/mss-login/api/mfa/verify", { mfa_temp_token: again.mfa_temp_token, code: confirmed.recovery_codes[0]! })).status).toBe(401); // code spent

      // Password and code in one request also works, with the next code (one step of skew is
      // allowed, and it is newer than the one used to confirm); sent again, it is refused.
      const later = totp.generate({ timestamp: Date.now() + 30_000 });
      expect((await post("/login", { username: "tester", password: TEST_PASSWORD, code: later })).status).toBe(200);
      expect((await post("/login", { username: "tester", password: TEST_PASSWORD, code: later })).status).toBe(401);

      // An API token is not enough to change two-factor settings.
      expect((await local.fetch("/mss-login/api/mfa/setup", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ password: TEST_PASSWORD }) })).status).toBe(401);
    } finally {
      await local.stop();
    }
  });
});
