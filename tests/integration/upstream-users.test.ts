/**
 * The gateway owns `comfy-user`: it creates its ComfyUI user once, remembers it across restarts,
 * adopts an existing one after its own database was lost, and creates nothing on a single-user
 * ComfyUI (where a POST /users would switch ComfyUI's storage mode).
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway } from "../../src/app.ts";
import { loadConfig } from "../../src/config/index.ts";
import { applyMigrations, openDatabase } from "../../src/db/index.ts";
import { createLogger } from "../../src/log.ts";
import { startFakeComfyUI } from "../fake-comfyui/server.ts";
import { createTestAccount, TEST_ENV, type TestAccount } from "../support/gateway.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const accounts = new Map<string, TestAccount>();

/** A gateway on a given data directory (with one account), so that a restart keeps its database. */
async function gatewayOn(dataDir: string, upstreamUrl: string) {
  let account = accounts.get(dataDir);
  if (!account) {
    account = await createTestAccount(dataDir);
    accounts.set(dataDir, account);
  }
  const token = account.token;
  const { config } = loadConfig({ argv: ["--data-dir", dataDir, "--host", "127.0.0.1", "--port", "0", "--upstream", upstreamUrl], env: TEST_ENV, cwd: dataDir });
  const database = openDatabase(config.data_dir);
  applyMigrations(database.sqlite);
  const gateway = await startGateway({ config, database, log: createLogger("error") });
  return {
    url: gateway.url,
    fetch: (path: string, init: RequestInit = {}) => fetch(gateway.url + path, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${token}` } }),
    async stop() {
      await gateway.stop();
      database.close();
    },
  };
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "mss-users-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("one ComfyUI user is created on first use, even for concurrent first requests, and reused after a restart", async () => {
  const fake = await startFakeComfyUI({ multiUser: true });
  cleanups.push(() => fake.stop());
  const dataDir = tempDir();

  const first = await gatewayOn(dataDir, fake.url);
  const answers = await Promise.all(Array.from({ length: 8 }, () => first.fetch("/api/settings")));
  expect(answers.map((r) => r.status)).toEqual(Array(8).fill(200));
  await first.stop();

  const second = await gatewayOn(dataDir, fake.url);
  cleanups.push(() => second.stop());
  expect((await second.fetch("/api/settings")).status).toBe(200);

  const created = fake.requests().filter((r) => r.method === "POST" && r.target === "/api/users");
  expect(created.length).toBe(1);
  const users = Object.values(((await (await fetch(`${fake.url}/api/users`)).json()) as { users: Record<string, string> }).users);
  expect(users).toEqual(["mss_tester"]);
});

test("a ComfyUI user left from an earlier installation is adopted instead of failing on 'Duplicate username.'", async () => {
  const fake = await startFakeComfyUI({ multiUser: true, users: { "mss_tester_0f0f0f0f-0000-4000-8000-000000000000": "mss_tester" } });
  cleanups.push(() => fake.stop());
  const gateway = await gatewayOn(tempDir(), fake.url);
  cleanups.push(() => gateway.stop());
  expect((await gateway.fetch("/api/userdata?dir=workflows")).status).toBe(404); // the user exists, no workflows yet
  const seen = fake.requests().filter((r) => r.target.startsWith("/api/userdata"));
  expect(seen.at(-1)!.headers["comfy-user"]).toBe("mss_tester_0f0f0f0f-0000-4000-8000-000000000000");
});

test("a single-user ComfyUI gets no comfy-user header and no user is created", async () => {
  const fake = await startFakeComfyUI({ multiUser: false });
  cleanups.push(() => fake.stop());
  const gateway = await gatewayOn(tempDir(), fake.url);
  cleanups.push(() => gateway.stop());
  const response = await gateway.fetch("/api/users", { headers: { "comfy-user": "mallory" } });
  expect(await response.json()).toEqual({ storage: "server", migrated: false });
  expect(fake.requests().some((r) => r.method === "POST" && r.target === "/api/users")).toBe(false);
  expect(fake.requests().every((r) => r.headers["comfy-user"] === undefined)).toBe(true);
});

test("an upstream whose /api/users is not ComfyUI's answer is not taken for single-user: nothing is forwarded (fail closed)", async () => {
  const seen: string[] = [];
  const impostor = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      seen.push(new URL(request.url).pathname);
      return new Response("<html>not here</html>", { status: 404, headers: { "content-type": "text/html" } });
    },
  });
  cleanups.push(() => impostor.stop(true));
  const gateway = await gatewayOn(tempDir(), `http://127.0.0.1:${impostor.port}`);
  cleanups.push(() => gateway.stop());
  const response = await gateway.fetch("/api/settings");
  expect(response.status).toBe(502);
  expect(seen).toEqual(["/api/users"]);
});

test("a ComfyUI user created outside the gateway with the account's plain name is never handed to the account", async () => {
  const fake = await startFakeComfyUI({ multiUser: true, users: { "tester_11111111-1111-4111-8111-111111111111": "tester" } });
  cleanups.push(() => fake.stop());
  const gateway = await gatewayOn(tempDir(), fake.url);
  cleanups.push(() => gateway.stop());
  await gateway.fetch("/api/settings");
  const used = fake.requests().filter((r) => r.target === "/api/settings").at(-1)!.headers["comfy-user"];
  expect(used).toStartWith("mss_tester_");
  expect(used).not.toBe("tester_11111111-1111-4111-8111-111111111111");
});

test("GET /users shows each account only its own ComfyUI user", async () => {
  const fake = await startFakeComfyUI({ multiUser: true, users: { "someone_else_22222222-2222-4222-8222-222222222222": "someone" } });
  cleanups.push(() => fake.stop());
  const dataDir = tempDir();
  const gateway = await gatewayOn(dataDir, fake.url);
  cleanups.push(() => gateway.stop());
  const answer = (await (await gateway.fetch("/api/users")).json()) as { storage: string; users: Record<string, string> };
  expect(answer.storage).toBe("server");
  expect(Object.values(answer.users)).toEqual(["mss_tester"]);
  // ComfyUI itself knows both.
  const all = (await (await fetch(`${fake.url}/api/users`)).json()) as { users: Record<string, string> };
  expect(Object.keys(all.users).length).toBe(2);
});
