/**
 * The security checklist (shared/spec/peers-and-security.md) cases of 5.2, 5.10 and 5.14 that
 * concern the IP filter, the audit log and the downloads, through the compiled binary behind a
 * trusted proxy on loopback. (5.9, SSRF through downloads, is in downloads-binary.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { cleanEnv, runCommand } from "../support/cli.ts";
import { compiledGateway } from "../support/compiled-binary.ts";
import { createTestAccount, fetchAs, spawnGateway, TEST_ENV, type SpawnedGateway, type TestAccount } from "../support/gateway.ts";

let binary: string;
let fake: FakeComfyUI;
let gateway: SpawnedGateway;
let owner: TestAccount;

beforeAll(async () => {
  ({ binary } = await compiledGateway());
  fake = await startFakeComfyUI({ multiUser: true });
  // The test client plays a reverse proxy on loopback that forwards remote users.
  gateway = await spawnGateway(fake.url, { command: [binary], env: { MSS_LOGIN_TRUSTED_PROXIES: "127.0.0.1" } });
  owner = await createTestAccount(gateway.dataDir, "olga", "owner");
}, 120_000);
afterAll(async () => {
  await gateway?.stop();
  await fake?.stop();
});

/** The owner, behind the proxy, at an allowed address. */
const asOwner = (path: string, init: RequestInit = {}) => fetchAs(gateway.url, owner, path, { ...init, headers: { "x-forwarded-for": "198.51.100.1", ...(init.headers as Record<string, string> | undefined) } });
const rules = async () => (await (await asOwner("/mss-login/api/ip-lists")).json()) as Record<string, unknown>;
/** A user's request to ComfyUI as forwarded by the proxy, with the headers given. */
const forwarded = (headers: Record<string, string>) => fetch(`${gateway.url}/api/queue`, { headers: { authorization: `Bearer ${gateway.account.token}`, ...headers } });

describe("5.2 identity and trust headers", () => {
  test("#16/#17: the allow-list decides on the right-most untrusted X-Forwarded-For entry; a spoofed left-most entry, X-Real-IP or CF-Connecting-IP changes nothing, and forwarded users get no loopback exemption", async () => {
    const saved = await asOwner("/mss-login/api/ip-lists", { method: "PUT", body: JSON.stringify({ whitelist: ["198.51.100.0/24"], blacklist: [] }) });
    expect(saved.status).toBe(200);
    try {
      expect((await forwarded({ "x-forwarded-for": "203.0.113.5, 198.51.100.7" })).status).toBe(200);
      const spoofed = await forwarded({ "x-forwarded-for": "198.51.100.7, 203.0.113.5" });
      expect(spoofed.status).toBe(403);
      expect(((await spoofed.json()) as { code: string }).code).toBe("IP_DENIED");
      expect((await forwarded({ "x-forwarded-for": "203.0.113.5", "x-real-ip": "198.51.100.7", "cf-connecting-ip": "198.51.100.7" })).status).toBe(403);
      // The proxy on loopback forwards a remote user: not the owner at the machine.
      expect((await forwarded({ "x-forwarded-for": "203.0.113.5" })).status).toBe(403);
      // Without forwarding headers the request is the machine's own: loopback is never refused.
      expect((await forwarded({})).status).toBe(200);
    } finally {
      expect((await asOwner("/mss-login/api/ip-lists", { method: "PUT", body: JSON.stringify({ whitelist: [], blacklist: [] }) })).status).toBe(200);
    }
  });

  test("#16 with client_ip_header = cf-connecting-ip: that header, from the trusted proxy only", async () => {
    const behindCloudflare = await spawnGateway(fake.url, { command: [binary], env: { MSS_LOGIN_TRUSTED_PROXIES: "127.0.0.1", MSS_LOGIN_CLIENT_IP_HEADER: "cf-connecting-ip" } });
    try {
      const admin = await createTestAccount(behindCloudflare.dataDir, "olga", "owner");
      const put = await fetch(`${behindCloudflare.url}/mss-login/api/ip-lists`, {
        method: "PUT",
        headers: { authorization: `Bearer ${admin.token}`, "content-type": "application/json", "cf-connecting-ip": "198.51.100.1" },
        body: JSON.stringify({ whitelist: [], blacklist: ["203.0.113.0/24"] }),
      });
      expect(put.status).toBe(200);
      const asUser = (headers: Record<string, string>) => behindCloudflare.fetch("/api/queue", { headers });
      expect((await asUser({ "cf-connecting-ip": "203.0.113.9" })).status).toBe(403);
      expect((await asUser({ "cf-connecting-ip": "198.51.100.9", "x-forwarded-for": "203.0.113.9" })).status).toBe(200);
      // A list is not what the proxy sets: the client is unknown, and with rules in force an
      // unknown client is refused (fail closed), never taken for the proxy itself.
      expect((await asUser({ "cf-connecting-ip": "198.51.100.9, 198.51.100.10" })).status).toBe(403);
    } finally {
      await behindCloudflare.stop();
    }
  });

  test("#19: odd spellings in a live-edited list are refused as a whole, and the rules stay as they were", async () => {
    const before = await rules();
    for (const entry of ["010.000.000.001", "fe80::1%eth0", "10.0.0.1/8", "2130706433", "0x7f.0.0.1", "10.0.0.0/33", "example.com"]) {
      const response = await asOwner("/mss-login/api/ip-lists", { method: "PUT", body: JSON.stringify({ whitelist: [], blacklist: ["192.0.2.1", entry] }) });
      expect(response.status).toBe(400);
      const body = (await response.json()) as { code: string; error: string };
      expect(body.code).toBe("BAD_IP_RULE");
      expect(body.error).toContain(entry);
    }
    expect(await rules()).toEqual(before);
    // Canonical forms are stored: an IPv4-mapped address and upper-case IPv6.
    const ok = await asOwner("/mss-login/api/ip-lists", { method: "PUT", body: JSON.stringify({ whitelist: [], blacklist: ["2001:DB8::/32"] }) });
    expect(ok.status).toBe(200);
    expect(JSON.stringify(await rules())).toContain("2001:db8::/32");
    expect((await asOwner("/mss-login/api/ip-lists", { method: "PUT", body: JSON.stringify({ whitelist: [], blacklist: [] }) })).status).toBe(200);
  });

  test("a misspelt or missing list is refused rather than read as \"no rules\"", async () => {
    const before = await rules();
    for (const body of [{ allowlist: ["198.51.100.0/24"] }, {}, { whitelist: [], denylist: ["192.0.2.1"] }]) {
      const response = await asOwner("/mss-login/api/ip-lists", { method: "PUT", body: JSON.stringify(body) });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { code: string }).code).toBe("BAD_IP_RULE");
    }
    expect(await rules()).toEqual(before);
  });

  test("a rule set that would lock out the admin saving it is refused and changes nothing", async () => {
    const before = await rules();
    const response = await asOwner("/mss-login/api/ip-lists", { method: "PUT", body: JSON.stringify({ whitelist: ["192.0.2.0/24"], blacklist: [] }) });
    expect(response.status).toBe(409);
    expect(((await response.json()) as { code: string }).code).toBe("WOULD_LOCK_YOU_OUT");
    expect(await rules()).toEqual(before);
  });
});

describe("5.10 size limits of these modules' inputs", () => {
  test("#69: oversized bodies for IP rules and downloads are refused before parsing, and nothing changes", async () => {
    const before = await rules();
    const huge = JSON.stringify({ whitelist: [], blacklist: Array.from({ length: 40_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`) });
    expect(huge.length).toBeGreaterThan(256 * 1024);
    const refused = await asOwner("/mss-login/api/ip-lists", { method: "PUT", body: huge });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.status).toBeLessThan(500);
    expect(await rules()).toEqual(before);
    const download = await asOwner("/mss-login/api/model-download/download", { method: "POST", body: JSON.stringify({ source: "civitai", model_version_id: 1, pad: "x".repeat(300 * 1024) }) });
    expect(download.status).toBeGreaterThanOrEqual(400);
    expect(download.status).toBeLessThan(500);
  });
});

describe("5.14 logging and audit hygiene", () => {
  const password = "a-wrong-password-that-must-never-be-logged";
  const apiKey = "civitai-key-that-must-never-be-logged";
  const evilName = "mallory\r\n2026-12-01T00:00:00.000Z INFO fake entry\u001b[31mred";

  test("#85/#87: passwords and API keys never reach the process log or the audit log; CR/LF and ANSI in a user name are escaped", async () => {
    const signIn = await fetch(`${gateway.url}/login`, { method: "POST", headers: { "content-type": "application/json", "x-forwarded-for": "198.51.100.50" }, body: JSON.stringify({ username: evilName, password }) });
    expect(signIn.status).toBe(401);
    expect((await asOwner("/mss-login/api/model-download/api-keys", { method: "PUT", body: JSON.stringify({ source: "civitai", api_key: apiKey }) })).status).toBe(200);
    const log = gateway.log();
    expect(log).not.toContain(password);
    expect(log).not.toContain(apiKey);
    expect(log).not.toContain("\u001b[31m");
    expect(log.split("\n").some((line) => line.startsWith("2026-12-01T00:00:00.000Z INFO fake entry"))).toBe(false);

    const ndjson = await (await asOwner("/mss-login/api/audit/export?format=ndjson")).text();
    const csv = await (await asOwner("/mss-login/api/audit/export?format=csv")).text();
    for (const text of [ndjson, csv]) {
      expect(text).not.toContain(password);
      expect(text).not.toContain(apiKey);
    }
    // One JSON object per line: the name's CR/LF cannot start a line of its own.
    const entries = ndjson.trim().split("\n").map((line) => JSON.parse(line) as { action: string; target: string | null });
    const failure = entries.find((entry) => entry.action === "login.failure");
    expect(failure?.target).toBe(evilName.slice(0, 100));
    expect(ndjson).not.toContain("\r\n2026-12-01");
  });

  test("#86: the audit log is for admins only and holds the events of these modules", async () => {
    expect((await gateway.fetch("/mss-login/api/audit")).status).toBe(403);
    // Other spellings of a path are recorded under the one spelling (the notifier reads these).
    for (const path of ["/mss-login/api/users/", "/api/mss-login/api/users/"]) {
      const response = await asOwner(path, { method: "POST", body: JSON.stringify({ username: "x" }) });
      expect([path, response.status]).toEqual([path, 400]);
    }
    const spelled = ((await (await asOwner("/mss-login/api/audit?action=POST%20/mss-login/api/users")).json()) as { items: { action: string }[] }).items.map((item) => item.action);
    expect(spelled).toEqual(["POST /mss-login/api/users", "POST /mss-login/api/users"]);
    const actions = ((await (await asOwner("/mss-login/api/audit?limit=500")).json()) as { items: { action: string }[] }).items.map((item) => item.action);
    for (const action of ["login.failure", "ip.rules.replaced", "ip.denied", "PUT /mss-login/api/model-download/api-keys"]) expect(actions).toContain(action);
  });

  test("the chain verifies through the binary's own command, and a row edited by hand is named", async () => {
    const env = cleanEnv(TEST_ENV);
    const intact = await runCommand(["audit", "verify", "--data-dir", gateway.dataDir], { cwd: gateway.dataDir, env, command: [binary] });
    expect(intact.code).toBe(0);
    expect(intact.stdout + intact.stderr).toMatch(/intact/i);
    const db = new Database(join(gateway.dataDir, "mss-login.db"));
    const row = db.query("select id, target from audit_events where action = 'login.failure' limit 1").get() as { id: number; target: string };
    db.run("update audit_events set target = 'someone else' where id = ?", [row.id]);
    const broken = await runCommand(["audit", "verify", "--data-dir", gateway.dataDir], { cwd: gateway.dataDir, env, command: [binary] });
    db.run("update audit_events set target = ? where id = ?", [row.target, row.id]); // put it back, so the suite's own check at stop passes
    db.close();
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain(`entry ${row.id}`);
  });
});
