/**
 * The audit log through the gateway and the command line: sign-ins (both outcomes), settings and
 * IP rule changes and IP refusals are recorded with actor and address; `mss-login audit verify`
 * proves the chain, and names the entry a hand edit broke. No password reaches the log.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { cleanEnv, runCommand } from "../support/cli.ts";
import { createTestAccount, startTestGateway, TEST_ENV, TEST_PASSWORD, type TestAccount, type TestGateway } from "../support/gateway.ts";

let fake: FakeComfyUI;
let gateway: TestGateway;
let owner: TestAccount;

beforeAll(async () => {
  fake = await startFakeComfyUI({ multiUser: true });
  // This file edits an audit row by hand to show the check catches it.
  gateway = await startTestGateway(fake.url, [], { MSS_LOGIN_TRUSTED_PROXIES: "127.0.0.1" }, undefined, { auditTamperedOnPurpose: true });
  owner = await createTestAccount(gateway.dataDir, "olga", "owner");
});
afterAll(async () => {
  await gateway?.stop();
  await fake?.stop();
});

const verify = () => runCommand(["audit", "verify", "--data-dir", gateway.dataDir], { cwd: gateway.dataDir, env: cleanEnv(TEST_ENV) });

test("security events are recorded with who, from where and how it ended; the chain verifies; a hand edit is named", async () => {
  const signIn = (password: string) => fetch(`${gateway.url}/login`, { method: "POST", headers: { "content-type": "application/json", "x-forwarded-for": "198.51.100.23", "user-agent": "audit-test" }, body: JSON.stringify({ username: "tester", password }) });
  expect((await signIn("not the password at all")).status).toBe(401);
  expect((await signIn(TEST_PASSWORD)).status).toBe(200);
  const admin = { authorization: `Bearer ${owner.token}`, "content-type": "application/json", "x-forwarded-for": "198.51.100.1" };
  expect((await fetch(`${gateway.url}/mss-login/api/settings`, { method: "PUT", headers: admin, body: JSON.stringify({ values: { "queue.max_pending.user": 7 } }) })).status).toBe(200);
  expect((await fetch(`${gateway.url}/mss-login/api/ip-lists`, { method: "PUT", headers: admin, body: JSON.stringify({ whitelist: [], blacklist: ["203.0.113.0/24"] }) })).status).toBe(200);
  expect((await fetch(`${gateway.url}/api/queue`, { headers: { "x-forwarded-for": "203.0.113.9" } })).status).toBe(403);

  const db = new Database(join(gateway.dataDir, "mss-login.db"), { readonly: true });
  const rows = db.query("select id, action, outcome, actor_name, client_ip, user_agent, target, details from audit_events order by id").all() as Array<Record<string, string>>;
  db.close();
  const find = (action: string) => rows.find((row) => row.action === action);
  expect(find("login.failure")).toMatchObject({ outcome: "failure", target: "tester", client_ip: "198.51.100.23", user_agent: "audit-test" });
  expect(find("login.success")).toMatchObject({ outcome: "success", actor_name: "tester", client_ip: "198.51.100.23" });
  expect(find("settings.changed")).toMatchObject({ actor_name: "olga", client_ip: "198.51.100.1" });
  expect(JSON.parse(find("settings.changed")!.details!)).toEqual({ keys: "queue.max_pending.user" });
  expect(find("ip.rules.replaced")).toMatchObject({ actor_name: "olga" });
  expect(find("ip.denied")).toMatchObject({ outcome: "denied", client_ip: "203.0.113.9", target: "/api/queue" });
  expect(JSON.stringify(rows)).not.toContain("not the password at all");
  expect(JSON.stringify(rows)).not.toContain(TEST_PASSWORD);

  const intact = await verify();
  expect([intact.code, intact.stdout]).toEqual([0, expect.stringContaining(`audit log intact: ${rows.length} entries verified`)]);

  const writable = new Database(join(gateway.dataDir, "mss-login.db"));
  const target = rows.find((row) => row.action === "login.failure")!;
  writable.run("update audit_events set outcome = 'success' where id = ?", [target.id as unknown as number]);
  writable.close();
  const broken = await verify();
  expect(broken.code).toBe(1);
  expect(broken.stderr).toContain(`audit log BROKEN at entry ${target.id}`);
});

test("every write to the gateway's own API is recorded with its actor and outcome, never its body", async () => {
  const admin = { authorization: `Bearer ${owner.token}`, "content-type": "application/json" };
  const created = await fetch(`${gateway.url}/mss-login/api/users`, { method: "POST", headers: admin, body: JSON.stringify({ username: "newbie", password: "a secret long password 42", role: "user" }) });
  expect(created.status).toBeLessThan(300);
  const refused = await fetch(`${gateway.url}/mss-login/api/users`, { method: "POST", headers: { authorization: `Bearer ${gateway.account.token}`, "content-type": "application/json" }, body: JSON.stringify({ username: "x", password: "another secret password 1", role: "admin" }) });
  expect(refused.status).toBe(403);
  const db = new Database(join(gateway.dataDir, "mss-login.db"), { readonly: true });
  const rows = db.query("select action, outcome, actor_name, details from audit_events where action = 'POST /mss-login/users' or action like 'POST /mss-login/api/users%' order by id").all() as Array<Record<string, string>>;
  const text = JSON.stringify(db.query("select * from audit_events").all());
  db.close();
  expect(rows.map((row) => [row.action, row.outcome, row.actor_name])).toEqual([
    ["POST /mss-login/api/users", "success", "olga"],
    ["POST /mss-login/api/users", "denied", "tester"],
  ]);
  expect(text).not.toContain("a secret long password 42");
  expect(text).not.toContain("another secret password 1");
  expect((await verify()).code).toBe(1); // still broken by the earlier hand edit: appending does not heal it
});

test("refused requests to ComfyUI are recorded, once a minute per user, address and refusal, so a flood stays small", async () => {
  for (let i = 0; i < 5; i++) expect((await fetch(`${gateway.url}/internal/files/input`, { headers: { authorization: `Bearer ${gateway.account.token}`, "x-forwarded-for": "198.51.100.66" } })).status).toBe(403);
  const db = new Database(join(gateway.dataDir, "mss-login.db"), { readonly: true });
  const rows = db.query("select actor_name, client_ip, target, details from audit_events where action = 'request.denied'").all() as Array<Record<string, string>>;
  db.close();
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ actor_name: "tester", client_ip: "198.51.100.66", target: "GET /internal/files/input" });
  expect(JSON.parse(rows[0]!.details!)).toMatchObject({ refusal: "ADMIN_ONLY" });
});

test("administrators read the log in filtered pages, export it as NDJSON or CSV, and see the chain check; others may not", async () => {
  const admin = { authorization: `Bearer ${owner.token}` };
  const get = async (path: string) => (await fetch(gateway.url + path, { headers: admin })).json() as Promise<Record<string, any>>;
  const failures = await get("/mss-login/api/audit?action=login.failure");
  expect(failures.items.length).toBeGreaterThan(0);
  expect(failures.items.every((item: { action: string }) => item.action === "login.failure")).toBe(true);
  const first = await get("/mss-login/api/audit?limit=2");
  expect(first.items).toHaveLength(2);
  const second = await get(`/mss-login/api/audit?limit=2&before_id=${first.next_before_id}`);
  expect(second.items[0].id).toBeLessThan(first.items[1].id);
  expect((await get("/mss-login/api/audit?actor=olga&outcome=success")).items.every((item: { actor: string; outcome: string }) => item.actor === "olga" && item.outcome === "success")).toBe(true);
  expect((await fetch(`${gateway.url}/mss-login/api/audit?since=yesterday-ish`, { headers: admin })).status).toBe(400);

  const ndjson = await fetch(`${gateway.url}/mss-login/api/audit/export?format=ndjson`, { headers: admin });
  expect(ndjson.headers.get("content-disposition")).toContain(".ndjson");
  const lines = (await ndjson.text()).trim().split("\n").map((line) => JSON.parse(line) as { id: number; hash: string });
  expect(lines.length).toBeGreaterThan(5);
  expect(lines[0]!.hash).toMatch(/^[0-9a-f]{64}$/);
  const csv = await (await fetch(`${gateway.url}/mss-login/api/audit/export?format=csv&action=login.`, { headers: admin })).text();
  expect(csv.split("\r\n")[0]).toBe("id,at,actor,ip,action,target,outcome,details,user_agent,hash");
  expect(csv).toContain("login.failure");

  // The earlier test edited a row by hand: the check says where.
  expect(await get("/mss-login/api/audit/verify")).toMatchObject({ intact: false, problem: expect.stringContaining("edited") });
  for (const path of ["/mss-login/api/audit", "/mss-login/api/audit/export", "/mss-login/api/audit/verify"]) {
    expect((await fetch(gateway.url + path, { headers: { authorization: `Bearer ${gateway.account.token}` } })).status).toBe(403);
  }
});
