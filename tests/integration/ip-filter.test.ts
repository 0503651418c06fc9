/**
 * The IP filter through the gateway (issue 7, part 1): the admin API's lists take effect on the
 * next request, for pages, ComfyUI routes and the sign-in alike; the client address comes from
 * X-Forwarded-For only when a trusted proxy sends it; an admin cannot save lists that refuse
 * their own address; loopback always gets in.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { createTestAccount, startTestGateway, type TestAccount, type TestGateway } from "../support/gateway.ts";

let fake: FakeComfyUI;
let gateway: TestGateway;
let admin: TestAccount;

beforeAll(async () => {
  fake = await startFakeComfyUI({ multiUser: true });
  // The test client is the proxy on loopback: it says who the client is in X-Forwarded-For.
  gateway = await startTestGateway(fake.url, [], { MSS_LOGIN_TRUSTED_PROXIES: "127.0.0.1" });
  admin = await createTestAccount(gateway.dataDir, "adam", "admin");
});
afterAll(async () => {
  await gateway?.stop();
  await fake?.stop();
});

function from(ip: string | null, path: string, who: TestAccount | null, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (ip !== null) headers.set("x-forwarded-for", ip);
  if (who !== null) headers.set("authorization", `Bearer ${who.token}`);
  if (typeof init.body === "string") headers.set("content-type", "application/json");
  return fetch(gateway.url + path, { ...init, headers });
}
const put = (ip: string | null, lists: unknown) => from(ip, "/mss-login/api/ip-lists", admin, { method: "PUT", body: JSON.stringify(lists) });

test("a deny entry refuses that client at once (JSON for programs, a page for browsers); others and the admin API go on", async () => {
  expect((await from("203.0.113.5", "/api/queue", gateway.account)).status).toBe(200);
  expect((await put("198.51.100.1", { whitelist: [], blacklist: ["203.0.113.0/24"] })).status).toBe(200);
  const refused = await from("203.0.113.5", "/api/queue", gateway.account);
  expect(refused.status).toBe(403);
  expect(await refused.json()).toMatchObject({ code: "IP_DENIED" });
  const page = await from("203.0.113.77", "/login", null, { headers: { accept: "text/html", "sec-fetch-mode": "navigate" } });
  expect(page.status).toBe(403);
  expect(await page.text()).toContain("Access denied");
  expect((await from("198.51.100.1", "/api/queue", gateway.account)).status).toBe(200);
  const lists = (await (await from("198.51.100.1", "/mss-login/api/ip-lists", admin)).json()) as { blacklist: Array<{ ip: string; permanent: boolean; reason: string }>; your_ip: string };
  expect(lists.blacklist).toEqual([{ ip: "203.0.113.0/24", permanent: true, reason: "manual" }]);
  expect(lists.your_ip).toBe("198.51.100.1");
});

test("X-Forwarded-For is believed only from a trusted proxy: the socket's loopback is the client otherwise, and loopback is never refused", async () => {
  await put("198.51.100.1", { whitelist: [], blacklist: ["203.0.113.5"] });
  // No header: the client is the loopback socket peer.
  expect((await from(null, "/api/queue", gateway.account)).status).toBe(200);
  // A chain: read right to left past trusted hops (127.0.0.1), so the spoofed left-most entry is ignored.
  expect((await from("203.0.113.5, 198.51.100.1", "/api/queue", gateway.account)).status).toBe(200);
  expect((await from("198.51.100.1, 203.0.113.5", "/api/queue", gateway.account)).status).toBe(403);
});

test("allow-list mode: only listed clients get in; the admin cannot save lists that shut out their own address; bad entries change nothing", async () => {
  const lockout = await put("198.51.100.1", { whitelist: ["192.0.2.0/24"], blacklist: [] });
  expect(lockout.status).toBe(409);
  expect(await lockout.json()).toMatchObject({ code: "WOULD_LOCK_YOU_OUT" });
  expect((await from("203.0.113.9", "/api/queue", gateway.account)).status).toBe(200); // nothing changed

  const bad = await put("198.51.100.1", { whitelist: ["10.0.0.1/8", "198.51.100.0/24"], blacklist: ["3232235777"] });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { problems: string[] }).problems).toHaveLength(2);

  expect((await put("198.51.100.1", { whitelist: ["198.51.100.0/24", "2001:db8::/32"], blacklist: [] })).status).toBe(200);
  expect((await from("198.51.100.200", "/api/queue", gateway.account)).status).toBe(200);
  expect((await from("2001:db8::7", "/api/queue", gateway.account)).status).toBe(200);
  expect((await from("203.0.113.9", "/api/queue", gateway.account)).status).toBe(403);
  expect((await from("203.0.113.9", "/mss-login/health", null)).status).toBe(403);
  // From the machine itself the owner can always get in and undo it.
  expect((await put(null, { whitelist: [], blacklist: [] })).status).toBe(200);
  expect((await from("203.0.113.9", "/api/queue", gateway.account)).status).toBe(200);
});

test("only administrators read or change the lists", async () => {
  expect((await from(null, "/mss-login/api/ip-lists", gateway.account)).status).toBe(403);
  expect((await from(null, "/mss-login/api/ip-lists", gateway.account, { method: "PUT", body: "{}" })).status).toBe(403);
  expect((await from(null, "/mss-login/api/ip-lists", null)).status).toBe(401);
});

test("failed sign-ins ban the address (and lock the device id it sent) for a while; allow-listed addresses are never banned", async () => {
  const local = await startTestGateway(fake.url, [], { MSS_LOGIN_TRUSTED_PROXIES: "127.0.0.1", MSS_LOGIN_IP_FILTER__BAN_AFTER_FAILURES: "3", MSS_LOGIN_REGULATION__IP_ATTEMPTS_PER_MINUTE: "50" });
  try {
    const localAdmin = await createTestAccount(local.dataDir, "adam", "admin");
    const signIn = (ip: string, device: string | null) =>
      fetch(`${local.url}/login`, { method: "POST", headers: { "content-type": "application/json", "x-forwarded-for": ip, ...(device === null ? {} : { "x-device-id": device }) }, body: JSON.stringify({ username: "tester", password: "wrong password here" }) });
    const lists = (ip: string, init: RequestInit = {}) => fetch(`${local.url}/mss-login/api/ip-lists`, { ...init, headers: { authorization: `Bearer ${localAdmin.token}`, "x-forwarded-for": ip, "content-type": "application/json" } });
    expect((await lists("198.51.100.1", { method: "PUT", body: JSON.stringify({ whitelist: ["198.51.100.0/24", "192.0.2.10"], blacklist: [] }) })).status).toBe(200);
    // An allow-listed address fails as often as it likes: never banned.
    for (let i = 0; i < 4; i++) expect((await signIn("192.0.2.10", null)).status).toBe(401);
    expect((await fetch(`${local.url}/login`, { headers: { "x-forwarded-for": "192.0.2.10" } })).status).toBe(200);
    // Back to deny-list mode; a stranger fails three times.
    expect((await lists("198.51.100.1", { method: "PUT", body: JSON.stringify({ whitelist: [], blacklist: [] }) })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await signIn("203.0.113.50", "laptop-1")).status).toBe(401);
    const banned = await signIn("203.0.113.50", null);
    expect([banned.status, ((await banned.json()) as { code: string }).code]).toEqual([403, "IP_DENIED"]);
    // The device id it sent is locked too, from any address.
    const device = await fetch(`${local.url}/login`, { headers: { "x-forwarded-for": "198.51.100.77", "x-device-id": "laptop-1", accept: "application/json" } });
    expect([device.status, ((await device.json()) as { code: string }).code]).toEqual([403, "DEVICE_LOCKED"]);
    const shown = (await (await lists("198.51.100.1")).json()) as { blacklist: Array<{ ip: string; permanent: boolean; expires_at: number; reason: string }>; locked_devices: Array<{ device_id: string }> };
    expect(shown.blacklist).toMatchObject([{ ip: "203.0.113.50", permanent: false, reason: "failed sign-ins" }]);
    expect(shown.blacklist[0]!.expires_at * 1000).toBeGreaterThan(Date.now() + 23 * 3600_000);
    expect(shown.locked_devices).toMatchObject([{ device_id: "laptop-1" }]);
    // The admin lifts both.
    expect((await lists("198.51.100.1", { method: "PUT", body: JSON.stringify({ whitelist: [], blacklist: [], locked_devices: [] }) })).status).toBe(200);
    expect((await fetch(`${local.url}/login`, { headers: { "x-forwarded-for": "203.0.113.50", "x-device-id": "laptop-1" } })).status).toBe(200);
  } finally {
    await local.stop();
  }
});
