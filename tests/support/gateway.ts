/** Starts the gateway in-process for integration tests, on a random loopback port. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway, type RunningGateway } from "../../src/app.ts";
import { loadConfig } from "../../src/config/index.ts";
import { applyMigrations, openDatabase } from "../../src/db/index.ts";
import { createLogger } from "../../src/log.ts";
import { createApiTokenStore } from "../../src/auth/api-tokens.ts";
import { createUser } from "../../src/auth/users.ts";
import type { Role } from "../../src/rbac/policy.ts";
import { createAuditLog } from "../../src/audit/log.ts";
import type { Db } from "../../src/db/index.ts";

/**
 * Every test gateway's audit chain must still verify when it stops, so a run of the whole
 * suite proves that nothing the gateway does (hundreds of gateways, every kind of event)
 * breaks the chain. A test that edits rows on purpose says so with `auditTamperedOnPurpose`.
 */
export function assertAuditChainIntact(db: Db, where: string): void {
  const result = createAuditLog(db).verify();
  if (!result.ok) throw new Error(`the audit chain of the test gateway in ${where} is broken at entry ${result.brokenId}: ${result.problem}`);
}

/**
 * Cheap argon2 for tests (the gateway's own defaults cost tens of milliseconds per hash), and
 * one NSFW classifier worker loaded on first need rather than at every test gateway's start.
 */
export const TEST_ENV = {
  MSS_LOGIN_PASSWORD__ARGON2_MEMORY_KIB: "7168",
  MSS_LOGIN_PASSWORD__ARGON2_TIME_COST: "1",
  MSS_LOGIN_NSFW__WORKERS: "1",
  MSS_LOGIN_NSFW__LOAD: "on_demand",
};
const TEST_PASSWORD_SETTINGS = { minLength: 12, argon2MemoryKib: 7168, argon2TimeCost: 1 };
export const TEST_PASSWORD = "correct horse battery staple";

export interface TestAccount {
  userId: string;
  username: string;
  password: string;
  /** An API token with every scope. */
  token: string;
}

/** Creates an account (and an API token for it) in the gateway's data directory. */
export async function createTestAccount(dataDir: string, username = "tester", role: Role = "user", options: { sfwCheck?: boolean } = {}): Promise<TestAccount> {
  const database = openDatabase(dataDir);
  try {
    applyMigrations(database.sqlite);
    const user = await createUser(database.db, { username, password: TEST_PASSWORD, role, ...(options.sfwCheck === undefined ? {} : { sfwCheck: options.sfwCheck }) }, TEST_PASSWORD_SETTINGS);
    const { token } = createApiTokenStore(database.db).create({ userId: user.id, label: "tests", hours: 24, scopes: ["read", "run", "admin"], allowNonExpiring: false, now: Date.now() });
    return { userId: user.id, username, password: TEST_PASSWORD, token };
  } finally {
    database.close();
  }
}

/** What authenticated test clients need: fetch and raw requests that carry the account's token. */
export interface AuthedClient {
  account: TestAccount;
  /** fetch(url + path) with `Authorization: Bearer <token>` added. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Raw HTTP: the Authorization line goes in right after the request line. */
  raw(request: string): Promise<string>;
  /** WebSocket to ws://…path with the token on the upgrade. */
  websocket(path: string, headers?: Record<string, string>): WebSocket;
}

/**
 * fetch(base + path) as an account (its token as Bearer; null: anonymous), a string body sent as
 * JSON: the one request helper of tests that act as several people.
 */
export function fetchAs(base: string, who: TestAccount | null, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (who !== null && !headers.has("authorization")) headers.set("authorization", `Bearer ${who.token}`);
  if (typeof init.body === "string" && !headers.has("content-type")) headers.set("content-type", "application/json");
  return fetch(base + path, { ...init, headers });
}

function authedClient(url: string, port: number, account: TestAccount): AuthedClient {
  return {
    account,
    fetch(path, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has("authorization")) headers.set("authorization", `Bearer ${account.token}`);
      return fetch(url + path, { ...init, headers });
    },
    raw(request) {
      const lineEnd = request.indexOf("\r\n");
      return rawHttp(port, `${request.slice(0, lineEnd)}\r\nAuthorization: Bearer ${account.token}${request.slice(lineEnd)}`);
    },
    websocket(path, headers = {}) {
      return new WebSocket(url.replace("http://", "ws://") + path, { headers: { authorization: `Bearer ${account.token}`, ...headers } } as unknown as string[]);
    },
  };
}

export interface TestGateway extends RunningGateway, AuthedClient {
  dataDir: string;
  /** ws://127.0.0.1:PORT */
  wsUrl: string;
}

/** The gateway in-process, with one account (role `user` unless told) whose token the helpers use. */
export async function startTestGateway(
  upstreamUrl: string,
  flags: string[] = [],
  env: Record<string, string> = {},
  role: Role = "user",
  options: { logLines?: string[]; sfwCheck?: boolean; auditTamperedOnPurpose?: boolean } = {},
): Promise<TestGateway> {
  const dataDir = mkdtempSync(join(tmpdir(), "mss-test-"));
  const account = await createTestAccount(dataDir, "tester", role, options.sfwCheck === undefined ? {} : { sfwCheck: options.sfwCheck });
  const { config } = loadConfig({
    argv: ["--data-dir", dataDir, "--host", "127.0.0.1", "--port", "0", "--upstream", upstreamUrl, ...flags],
    env: { ...TEST_ENV, ...env },
    cwd: dataDir,
  });
  const database = openDatabase(config.data_dir);
  applyMigrations(database.sqlite);
  // With `logLines`, warnings and errors are kept there (for tests that check what is recorded).
  const lines = options.logLines;
  const log = lines === undefined ? createLogger("error") : createLogger("warn", { write: (line) => void lines.push(line) });
  const gateway = await startGateway({ config, database, log });
  return {
    ...gateway,
    ...authedClient(gateway.url, gateway.port, account),
    dataDir,
    wsUrl: gateway.url.replace("http://", "ws://"),
    async stop() {
      await gateway.stop();
      try {
        if (options.auditTamperedOnPurpose !== true) assertAuditChainIntact(database.db, dataDir);
      } finally {
        database.close();
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** Sends raw bytes over TCP and returns everything the server answered (for request targets fetch would normalise). */
export async function rawHttp(port: number, request: string): Promise<string> {
  const net = await import("node:net");
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(request));
    let data = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk) => (data += chunk));
    socket.on("end", () => resolve(data));
    socket.on("error", reject);
  });
}

export function statusOf(rawResponse: string): number {
  return Number(rawResponse.slice(9, 12));
}

export interface SpawnedGateway extends AuthedClient {
  url: string;
  port: number;
  pid: number;
  dataDir: string;
  /** Everything the process wrote to standard error so far. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Runs the gateway as its own process (from source, or a compiled binary when `command` says so)
 * and waits for its "gateway listening" line, which carries the port it got.
 */
export async function spawnGateway(
  upstreamUrl: string,
  options: {
    command?: string[];
    cwd?: string;
    env?: Record<string, string>;
    flags?: string[];
    sfwCheck?: boolean;
    /** Start on an earlier gateway's data (a restart): its directory and account; stop() keeps it. */
    reuse?: { dataDir: string; account: TestAccount };
  } = {},
): Promise<SpawnedGateway> {
  const dataDir = options.reuse?.dataDir ?? mkdtempSync(join(tmpdir(), "mss-test-"));
  const account = options.reuse?.account ?? (await createTestAccount(dataDir, "tester", "user", options.sfwCheck === undefined ? {} : { sfwCheck: options.sfwCheck }));
  const command = options.command ?? [process.execPath, join(import.meta.dir, "../../src/main.ts")];
  const child = Bun.spawn(
    [...command, "serve", "--host", "127.0.0.1", "--port", "0", "--upstream", upstreamUrl, "--data-dir", dataDir, ...(options.flags ?? [])],
    { cwd: options.cwd ?? dataDir, env: { PATH: process.env.PATH ?? "", ...TEST_ENV, ...options.env }, stdout: "ignore", stderr: "pipe" },
  );
  let stderr = "";
  const decoder = new TextDecoder();
  const reader = child.stderr.getReader();
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${stderr}`)), 15_000);
    void (async () => {
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        stderr += decoder.decode(chunk.value, { stream: true });
        const match = /gateway listening url=http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      }
      clearTimeout(timer);
      reject(new Error(`gateway exited before listening:\n${stderr}`));
    })();
  });
  return {
    ...authedClient(`http://127.0.0.1:${port}`, port, account),
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    dataDir,
    log: () => stderr,
    async stop() {
      child.kill("SIGTERM");
      await child.exited;
      const database = openDatabase(dataDir);
      try {
        assertAuditChainIntact(database.db, dataDir);
      } finally {
        database.close();
        if (options.reuse === undefined) rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** Resident memory of a process, now and at its peak (VmHWM), in bytes. */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

/**
 * A password sign-in for an account whose role requires a second factor and who has none yet
 * (the owner after first-run setup): the forced enrolment, done with a real TOTP code. Returns
 * the session cookie (`name=value`) and the enrolled secret.
 */
export async function signInEnrolling(baseUrl: string, username: string, password: string): Promise<{ cookie: string; secret: string }> {
  const { TOTP, Secret } = await import("otpauth");
  const post = (path: string, body: unknown) =>
    fetch(baseUrl + path, { method: "POST", headers: { "content-type": "application/json", accept: "application/json", origin: baseUrl }, body: JSON.stringify(body) });
  const first = (await (await post("/login", { username, password })).json()) as { mfa_setup_required?: boolean; mfa_temp_token?: string };
  if (!first.mfa_setup_required || !first.mfa_temp_token) throw new Error(`expected a forced enrolment for ${username}, got ${JSON.stringify(first)}`);
  const { secret } = (await (await post("/mss-login/api/mfa/setup", { mfa_temp_token: first.mfa_temp_token })).json()) as { secret: string };
  const code = new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: "SHA1" }).generate();
  const done = await post("/mss-login/api/mfa/verify-setup", { mfa_temp_token: first.mfa_temp_token, code });
  const cookie = done.headers.getSetCookie().find((value) => value.startsWith("mss_session="));
  if (!cookie) throw new Error(`enrolment of ${username} gave no session (status ${done.status}: ${await done.text()})`);
  return { cookie: cookie.split(";")[0]!, secret };
}
