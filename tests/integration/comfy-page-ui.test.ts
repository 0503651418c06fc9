/**
 * The gateway's UI inside ComfyUI's page, on the wire (comfyui-api.md §6.3 and §10.8.11):
 * ComfyUI's page gets the caller's state, a hiding stylesheet and the early script injected
 * once, first in <head>, with an ETag of the gateway's own; `/api/extensions` lists the
 * gateway's extension once; the bundled scripts and the admin and account pages are served
 * with the right gates. What the scripts do in a browser is tests/e2e.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { createTestAccount, startTestGateway, type TestAccount, type TestGateway } from "../support/gateway.ts";

let fake: FakeComfyUI;
let gateway: TestGateway;
let admin: TestAccount;
let guest: TestAccount;
let owner: TestAccount;

const as = (account: TestAccount, path: string, init: RequestInit = {}) => {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${account.token}`);
  return fetch(gateway.url + path, { ...init, headers, redirect: "manual" });
};

function stateOf(html: string): Record<string, unknown> {
  const match = /<script type="application\/json" id="mss-login-state">(.*?)<\/script>/s.exec(html);
  expect(match).not.toBeNull();
  return JSON.parse(match![1]!) as Record<string, unknown>;
}

beforeAll(async () => {
  fake = await startFakeComfyUI({ multiUser: true });
  gateway = await startTestGateway(fake.url, [], {}, "user");
  admin = await createTestAccount(gateway.dataDir, "boss", "admin");
  guest = await createTestAccount(gateway.dataDir, "visitor", "guest");
  owner = await createTestAccount(gateway.dataDir, "chief", "owner");
});
afterAll(async () => {
  await gateway.stop();
  await fake.stop();
});

describe("ComfyUI's page", () => {
  test("§10.8.11: the state, the hiding styles and the early script go in once, first in <head>; the page is otherwise ComfyUI's", async () => {
    const direct = await (await fetch(`${fake.url}/`)).text();
    for (const path of ["/", "/index.html"]) {
      const response = await gateway.fetch(path);
      expect(response.status).toBe(200);
      const html = await response.text();
      expect(html.split('id="mss-login-state"').length - 1).toBe(1);
      expect(html.split('src="/mss-login/ui/comfy-early.js"').length - 1).toBe(1);
      // First in <head>: before anything of ComfyUI's own.
      const head = html.indexOf("<head>") + "<head>".length;
      expect(html.slice(head, head + 60)).toStartWith('<script type="application/json" id="mss-login-state">');
      // Remove what was injected and ComfyUI's page is left byte for byte.
      const injected = html.slice(head, html.indexOf("</script>", html.indexOf("comfy-early.js")) + "</script>".length);
      expect(html.replace(injected, "")).toBe(direct);
      const state = stateOf(html);
      expect(state.username).toBe("tester");
      expect(state.role).toBe("user");
      expect(state.isAdmin).toBe(false);
      expect(typeof state.comfyUser).toBe("string");
      expect((state.permissions as Record<string, boolean>).can_run).toBe(true);
    }
  });

  test("§10.8.11: Content-Length is never stale (chunked, or exact) and the ETag is the gateway's own, answered with 304 when it matches", async () => {
    const upstream = await fetch(`${fake.url}/`);
    const upstreamTag = upstream.headers.get("etag");
    await upstream.arrayBuffer();
    const response = await gateway.fetch("/");
    const bytes = new Uint8Array(await response.arrayBuffer());
    const length = response.headers.get("content-length");
    if (length !== null) expect(Number(length)).toBe(bytes.byteLength);
    const etag = response.headers.get("etag");
    expect(etag).toStartWith('W/"mss-');
    expect(etag).not.toBe(upstreamTag);
    expect(response.headers.get("last-modified")).toBeNull();
    expect(response.headers.get("cache-control")).toContain("private");
    const again = await gateway.fetch("/", { headers: { "if-none-match": etag! } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    // ComfyUI's own validators cannot make the gateway skip its additions.
    const stale = await gateway.fetch("/", { headers: { "if-none-match": upstreamTag ?? '"x"', "if-modified-since": new Date().toUTCString() } });
    expect(stale.status).toBe(200);
    expect(await stale.text()).toContain("mss-login-state");
    const head = await gateway.fetch("/", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("etag")).toBe(etag);
    expect(await head.text()).toBe("");
  });

  test("a range or precondition from the client cannot get ComfyUI's page without the gateway's additions", async () => {
    const upstreamTag = (await fetch(`${fake.url}/`)).headers.get("etag")!;
    const attempts: Record<string, string>[] = [{ range: "bytes=0-200" }, { range: "bytes=0-", "if-range": upstreamTag }, { "if-match": '"nope"' }, { "if-unmodified-since": "Thu, 01 Jan 1970 00:00:00 GMT" }];
    for (const headers of attempts) {
      const response = await gateway.fetch("/", { headers });
      expect(response.status, JSON.stringify(headers)).toBe(200);
      expect(await response.text()).toContain('id="mss-login-state"');
    }
  });

  test("what is hidden follows the role: a guest's page hides the Run button and saving, an admin's hides nothing but ComfyUI's own user switch", async () => {
    const guestHtml = await (await as(guest, "/")).text();
    const guestStyle = /<style id="mss-login-hide">(.*?)<\/style>/s.exec(guestHtml)?.[1] ?? "";
    expect(guestStyle).toContain('[data-testid="queue-button"]');
    expect(guestStyle).toContain('.p-tieredmenu li.p-tieredmenu-item[aria-label="Save"]');
    expect(guestStyle).toContain("button.templates-tab-button");
    const adminHtml = await (await as(admin, "/")).text();
    const adminStyle = /<style id="mss-login-hide">(.*?)<\/style>/s.exec(adminHtml)?.[1] ?? "";
    expect(adminStyle).not.toContain("queue-button");
    expect(adminStyle).toContain('aria-label^="Logout ("');
    expect(stateOf(adminHtml).isAdmin).toBe(true);
    // Different pages, different validators: one user's cached page is never another's.
    expect((await as(guest, "/")).headers.get("etag")).not.toBe((await as(admin, "/")).headers.get("etag"));
  });

  test("a change of the role's permissions changes the page's ETag (no stale hiding from a browser cache)", async () => {
    const before = (await gateway.fetch("/")).headers.get("etag");
    const put = await as(owner, "/mss-login/api/groups", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ groups: { user: { ui_menu_save: false } } }) });
    expect(put.status, await put.clone().text()).toBe(200);
    const after = await gateway.fetch("/");
    expect(after.headers.get("etag")).not.toBe(before);
    expect(await after.text()).toContain('aria-label="Save"');
  });

  test("an anonymous browser is sent to sign in, not shown ComfyUI's page", async () => {
    const response = await fetch(`${gateway.url}/`, { headers: { accept: "text/html" }, redirect: "manual" });
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toStartWith("/login");
  });
});

describe("/api/extensions", () => {
  test("§10.8.11: the gateway's extension URL is appended once, after ComfyUI's own, on both spellings", async () => {
    const direct = (await (await fetch(`${fake.url}/api/extensions`)).json()) as string[];
    for (const path of ["/api/extensions", "/extensions"]) {
      const response = await gateway.fetch(path);
      expect(response.status).toBe(200);
      const text = await response.text();
      const length = response.headers.get("content-length");
      if (length !== null) expect(Number(length)).toBe(new TextEncoder().encode(text).byteLength);
      expect(JSON.parse(text)).toEqual([...direct, "/mss-login/ui/comfy-extension.js"]);
    }
  });

  test("HEAD answers with the same headers as GET, including the length of the longer list", async () => {
    const get = await gateway.fetch("/api/extensions");
    const body = await get.text();
    const head = await gateway.fetch("/api/extensions", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(new TextEncoder().encode(body).byteLength));
    expect(await head.text()).toBe("");
  });

  test("a settings write cannot switch the gateway's extension off", async () => {
    const response = await as(admin, "/api/settings/Comfy.Extension.Disabled", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(["mss-login.enforcement", "Other.Extension"]) });
    expect(response.status).toBe(200);
    const stored = await (await as(admin, "/api/settings/Comfy.Extension.Disabled")).json();
    expect(stored).toEqual(["Other.Extension"]);
  });
});

describe("the gateway's scripts and pages", () => {
  test("bundled scripts and the theme are served with their types, validators and nosniff; unknown files are 404", async () => {
    for (const [file, type] of [["comfy-extension.js", "text/javascript"], ["comfy-early.js", "text/javascript"], ["admin-page.js", "text/javascript"], ["me-page.js", "text/javascript"], ["theme.css", "text/css"]] as const) {
      const response = await fetch(`${gateway.url}/mss-login/ui/${file}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toStartWith(type);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      const etag = response.headers.get("etag")!;
      expect((await response.text()).length).toBeGreaterThan(100);
      expect((await fetch(`${gateway.url}/mss-login/ui/${file}`, { headers: { "if-none-match": etag } })).status).toBe(304);
    }
    expect((await fetch(`${gateway.url}/mss-login/ui/nope.js`)).status).toBe(404);
    expect([400, 404]).toContain((await fetch(`${gateway.url}/mss-login/ui/..%2Fsecret.key`)).status);
  });

  test("the early script is a classic script (no import or export) and the extension is a module that loads its chunks from the same folder", async () => {
    const early = await (await fetch(`${gateway.url}/mss-login/ui/comfy-early.js`)).text();
    expect(early).not.toMatch(/^\s*(import|export)\b/m);
    const extension = await (await fetch(`${gateway.url}/mss-login/ui/comfy-extension.js`)).text();
    for (const match of extension.matchAll(/from"\.\/(chunk-[a-z0-9]+\.js)"/g)) {
      expect((await fetch(`${gateway.url}/mss-login/ui/${match[1]}`)).status).toBe(200);
    }
  });

  test("/mss-login/admin: anonymous browsers sign in first, non-admins get a readable refusal, admins the app with a strict CSP", async () => {
    const anonymous = await fetch(`${gateway.url}/mss-login/admin`, { headers: { accept: "text/html" }, redirect: "manual" });
    expect(anonymous.status).toBe(302);
    expect(anonymous.headers.get("location")).toBe("/login?next=%2Fmss-login%2Fadmin");
    const user = await gateway.fetch("/mss-login/admin", { headers: { accept: "text/html" } });
    expect(user.status).toBe(403);
    expect(await user.text()).toContain("Administrators only");
    const page = await as(admin, "/mss-login/admin", { headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('src="/mss-login/ui/admin-page.js"');
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("http");
  });

  test("/mss-login/me: any signed-in user, anonymous browsers sign in first", async () => {
    const anonymous = await fetch(`${gateway.url}/mss-login/me`, { headers: { accept: "text/html" }, redirect: "manual" });
    expect(anonymous.status).toBe(302);
    expect((await as(guest, "/mss-login/me", { headers: { accept: "text/html" } })).status).toBe(200);
    const mine = await gateway.fetch("/mss-login/me", { headers: { accept: "text/html" } });
    expect(mine.status).toBe(200);
    expect(await mine.text()).toContain('src="/mss-login/ui/me-page.js"');
  });
});
