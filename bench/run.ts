/**
 * npm run bench: the gateway against a direct connection to the (fake) upstream, against
 * nginx as a plain reverse proxy, and against the gateway as issue 2 left it (no accounts, a
 * transparent relay; from git, see baseline.ts), all in one run on this machine, loopback
 * only. Prints requests/s and latency for small JSON at 32 connections (with an API token and
 * with a session cookie), WebSocket messages/s relayed (one socket; two users with per-user
 * filtering), MB/s streaming a 200 MB /view, the gateway's idle RSS and start-up time, and the
 * ratios against each target.
 * Every load is bounded in count and time and stops by itself.
 */
import { spawn } from "bun";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestAccount, TEST_PASSWORD } from "../tests/support/gateway.ts";
import { openDatabase } from "../src/db/index.ts";
import { createOwnershipStore } from "../src/isolation/ownership.ts";
import { baselineGatewayCommand, BASELINE_REF } from "./baseline.ts";
import { ensureDebianTools, freePort, rssBytes, runWrk, startNginx, waitFor, type WrkResult } from "./tools.ts";
import { runNsfwBench } from "./nsfw.ts";

const CONNECTIONS = 32;
const WRK_SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const STREAM_BYTES = 200 * 1024 * 1024;
const WS_MESSAGES = 50_000;
const bun = process.execPath;
const root = join(import.meta.dir, "..");

ensureDebianTools();

const upstreamPort = await freePort();
const fake = spawn([bun, join(root, "tests/fake-comfyui/main.ts"), "--port", String(upstreamPort), "--multi-user"], { stdout: "ignore", stderr: "inherit" });
const upstreamUrl = `http://127.0.0.1:${upstreamPort}`;
await waitFor(`${upstreamUrl}/api/features`);

const nginxPort = await freePort();
const nginx = startNginx(nginxPort, upstreamPort);
const nginxUrl = `http://127.0.0.1:${nginxPort}`;
await waitFor(`${nginxUrl}/api/features`);

/** A prompt of the bench account's: the two-user WebSocket run floods events carrying its id. */
const BENCH_PROMPT_ID = crypto.randomUUID();

/** Starts the gateway and returns the time from spawn to its first answered request. */
async function startGateway(command: string[], options: { accounts?: boolean; env?: Record<string, string> } = {}) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "mss-bench-data-"));
  const withAccounts = options.accounts ?? true;
  // Without the NSFW check: these figures are the proxy's (bench/nsfw.ts measures the guard).
  const account = withAccounts ? await createTestAccount(dataDir, "bench", "user", { sfwCheck: false }) : { token: "", userId: "" };
  const other = withAccounts ? await createTestAccount(dataDir, "bench_b", "user", { sfwCheck: false }) : { token: "" };
  if (withAccounts) {
    const database = openDatabase(dataDir);
    createOwnershipStore(database.db).recordPrompt({ promptId: BENCH_PROMPT_ID, owner: { userId: account.userId, username: "bench" }, clientId: null, now: Date.now() });
    database.close();
  }
  const started = performance.now();
  const child = spawn([...command, "serve", "--port", String(port), "--host", "127.0.0.1", "--upstream", upstreamUrl, "--data-dir", dataDir, "--log-level", "warn"], {
    stdout: "ignore",
    stderr: "inherit",
    env: { ...process.env, ...options.env },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/mss-login/health`, 15_000);
  return { child, url, startupMs: performance.now() - started, token: account.token, userId: account.userId, otherToken: other.token };
}

const binary = join(root, "dist/mss-login-linux-x64");
// The proxy figures are taken without the NSFW model in memory (it loads on first need); the
// NSFW section at the end measures the gateway with it loaded.
const WITHOUT_MODEL = { MSS_LOGIN_NSFW__LOAD: "on_demand" };
const fromSource = await startGateway([bun, join(root, "src/main.ts")], { env: WITHOUT_MODEL });
let binaryStartupMs: number | null = null;
if (existsSync(binary)) {
  const compiled = await startGateway([binary], { env: WITHOUT_MODEL });
  binaryStartupMs = compiled.startupMs;
  compiled.child.kill();
}
const gateway = fromSource;
// The gateway as issue 2 left it (transparent forward, no accounts), from git, run the same way.
const baselineCommand = baselineGatewayCommand(root);
const baseline = baselineCommand === null ? null : await startGateway(baselineCommand, { accounts: false });
const gatewayUrl = gateway.url;
await Bun.sleep(500);
const idleRss = rssBytes(gateway.child.pid);

// The gateway is measured as its users reach it: with an API token, and with a browser session.
const signedIn = await fetch(`${gatewayUrl}/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "bench", password: TEST_PASSWORD }) });
const cookie = signedIn.headers.getSetCookie()[0]?.split(";")[0];
if (!cookie) throw new Error(`the bench account could not sign in (HTTP ${signedIn.status})`);
const tokenHeader = { authorization: `Bearer ${gateway.token}` };

const targets = {
  direct: { url: upstreamUrl, headers: {} as Record<string, string> },
  nginx: { url: nginxUrl, headers: {} as Record<string, string> },
  gateway: { url: gatewayUrl, headers: tokenHeader as Record<string, string> },
  "gateway (cookie)": { url: gatewayUrl, headers: { cookie } as Record<string, string> },
  ...(baseline === null ? {} : { baseline: { url: baseline.url, headers: {} as Record<string, string> } }),
} as Record<string, { url: string; headers: Record<string, string> }>;
type Target = string;
/** WebSocket and streaming are measured once for the gateway (with the token). */
const transferTargets = ["direct", "nginx", "gateway", ...(baseline === null ? [] : ["baseline"])];
const SMALL_JSON = "/api/prompt"; // {"exec_info": {"queue_remaining": 0}}

console.log(`\nsmall JSON (GET ${SMALL_JSON}), wrk ${CONNECTIONS} connections, best of 2 runs of ${WRK_SECONDS} s; WS ${WS_MESSAGES} messages, best of 2; /view ${STREAM_BYTES / 1024 / 1024} MB, best of 2`);
const http: Record<Target, WrkResult> = {} as Record<Target, WrkResult>;
for (const name of Object.keys(targets) as Target[]) {
  const { url, headers } = targets[name]!;
  runWrk(url + SMALL_JSON, CONNECTIONS, 1, headers); // warm-up
}
// Best of two, in rounds (every path once, then again) so that a slow stretch of the machine
// does not fall on one path only; the machine is shared, and a slow run says more about the
// neighbours than the path.
for (let round = 0; round < 2; round++) {
  for (const name of Object.keys(targets) as Target[]) {
    const { url, headers } = targets[name]!;
    const run = runWrk(url + SMALL_JSON, CONNECTIONS, WRK_SECONDS, headers);
    const best = http[name];
    if (best === undefined || run.requestsPerSecond > best.requestsPerSecond) http[name] = run;
  }
}

async function streamView(base: string, headers: Record<string, string>): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${base}/api/view?filename=bench-200mb.bin&type=output&subfolder=u-${gateway.userId}`, { headers });
  let bytes = 0;
  const reader = response.body!.getReader();
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) bytes += chunk.value.byteLength;
  if (bytes !== STREAM_BYTES) throw new Error(`streamed ${bytes} bytes from ${base}, expected ${STREAM_BYTES}`);
  return bytes / 1e6 / ((performance.now() - started) / 1000);
}

await fetch(`${upstreamUrl}/__fake/file`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  // In the bench user's own folder: the gateway serves a user only their own outputs.
  body: JSON.stringify({ type: "output", subfolder: `u-${gateway.userId}`, filename: "bench-200mb.bin", size: STREAM_BYTES }),
});
const stream: Record<string, number> = {};
for (const name of transferTargets) {
  const { url, headers } = targets[name]!;
  await streamView(url, headers); // warm-up
  stream[name] = Math.max(await streamView(url, headers), await streamView(url, headers));
}

/** Upstream floods WS_MESSAGES small text frames; the client counts them through each path. */
async function websocketRate(base: string, headers: Record<string, string>): Promise<number> {
  const socket = new WebSocket(`${base.replace("http", "ws")}/ws?clientId=bench-${Math.random().toString(16).slice(2)}`, { headers } as unknown as string[]);
  let received = 0;
  let resolveFirst!: () => void;
  let resolveAll!: () => void;
  const first = new Promise<void>((r) => (resolveFirst = r));
  const all = new Promise<void>((r) => (resolveAll = r));
  socket.onmessage = (event) => {
    if (typeof event.data !== "string") return;
    if (event.data.includes('"bench.flood"')) {
      received++;
      if (received === WS_MESSAGES) resolveAll();
    } else resolveFirst();
  };
  await first;
  const started = performance.now();
  await fetch(`${upstreamUrl}/__fake/flood`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ type: "bench.flood", count: WS_MESSAGES, bytes: 64 }),
  });
  await Promise.race([all, Bun.sleep(60_000)]);
  const seconds = (performance.now() - started) / 1000;
  socket.close();
  await Bun.sleep(100);
  if (received !== WS_MESSAGES) throw new Error(`${base}: received ${received} of ${WS_MESSAGES} messages`);
  return WS_MESSAGES / seconds;
}
const ws: Record<string, number> = {};
for (const name of transferTargets) {
  const { url, headers } = targets[name]!;
  await websocketRate(url, headers); // warm-up
  ws[name] = Math.max(await websocketRate(url, headers), await websocketRate(url, headers));
}

/**
 * Two users on the gateway at once, event filtering on: the flood carries the prompt id of
 * user A's prompt, so A's socket must get every message and B's none. Rate = A's messages/s.
 */
async function twoUserWebsocketRate(base: string, headersA: Record<string, string>, headersB: Record<string, string>): Promise<{ rate: number; leakedToB: number }> {
  const open = (headers: Record<string, string>) => new WebSocket(`${base.replace("http", "ws")}/ws?clientId=bench2-${Math.random().toString(16).slice(2)}`, { headers } as unknown as string[]);
  const a = open(headersA);
  const bSocket = open(headersB);
  let receivedA = 0;
  let receivedB = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const ready = (socket: WebSocket) => new Promise<void>((r) => socket.addEventListener("message", () => r(), { once: true }));
  const bothReady = Promise.all([ready(a), ready(bSocket)]);
  a.addEventListener("message", (event) => {
    if (typeof event.data === "string" && event.data.includes('"bench.progress"') && ++receivedA === WS_MESSAGES) resolveAll();
  });
  bSocket.addEventListener("message", (event) => {
    if (typeof event.data === "string" && event.data.includes('"bench.progress"')) receivedB++;
  });
  await bothReady;
  const started = performance.now();
  await fetch(`${upstreamUrl}/__fake/flood`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ type: "bench.progress", count: WS_MESSAGES, bytes: 64, prompt_id: BENCH_PROMPT_ID }),
  });
  await Promise.race([all, Bun.sleep(60_000)]);
  const seconds = (performance.now() - started) / 1000;
  await Bun.sleep(200);
  a.close();
  bSocket.close();
  await Bun.sleep(100);
  if (receivedA !== WS_MESSAGES) throw new Error(`${base}: user A received ${receivedA} of ${WS_MESSAGES} messages`);
  return { rate: WS_MESSAGES / seconds, leakedToB: receivedB };
}
const gatewayB = { authorization: `Bearer ${gateway.otherToken}` };
await twoUserWebsocketRate(gatewayUrl, tokenHeader, gatewayB); // warm-up
// Best of three for both two-socket runs: on a small machine the client, ComfyUI and the
// gateway share the cores, and single runs swing by a fifth.
const twoUser = [await twoUserWebsocketRate(gatewayUrl, tokenHeader, gatewayB), await twoUserWebsocketRate(gatewayUrl, tokenHeader, gatewayB), await twoUserWebsocketRate(gatewayUrl, tokenHeader, gatewayB)];
const twoUserRate = Math.max(...twoUser.map((run) => run.rate));
const leakedToB = twoUser.reduce((sum, run) => sum + run.leakedToB, 0);
// The same two sockets on the issue-2 gateway (transparent: both get everything), so that the
// ratio compares the same fan-out (ComfyUI sends every message to both sockets either way).
let baselineTwoSocketRate: number | null = null;
if (baseline !== null) {
  await twoUserWebsocketRate(baseline.url, {}, {}); // warm-up
  baselineTwoSocketRate = Math.max((await twoUserWebsocketRate(baseline.url, {}, {})).rate, (await twoUserWebsocketRate(baseline.url, {}, {})).rate, (await twoUserWebsocketRate(baseline.url, {}, {})).rate);
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
console.log("\n| path | requests/s | p50 ms | p99 ms | errors | WS msgs/s | /view MB/s |");
console.log("|---|---:|---:|---:|---:|---:|---:|");
const label: Record<string, string> = { gateway: "gateway (API token)", baseline: `issue-2 gateway (${BASELINE_REF}, no auth)` };
for (const name of Object.keys(targets) as Target[]) {
  const h = http[name]!;
  const transfer = (value: number | undefined) => (value === undefined ? "–" : fmt(value));
  console.log(`| ${label[name] ?? name} | ${fmt(h.requestsPerSecond)} | ${fmt(h.p50Ms, 2)} | ${fmt(h.p99Ms, 2)} | ${h.errors} | ${transfer(ws[name])} | ${transfer(stream[name])} |`);
}
console.log(`| gateway, two users, filtered WS | | | | | ${fmt(twoUserRate)} (B got ${leakedToB}) | |`);
if (baselineTwoSocketRate !== null) console.log(`| issue-2 gateway, two sockets, transparent | | | | | ${fmt(baselineTwoSocketRate)} | |`);
const ratio = (a: number, b: number) => fmt(a / b, 2);
console.log(`\nratios gateway/nginx: requests/s ${ratio(http.gateway!.requestsPerSecond, http.nginx!.requestsPerSecond)} (token), ${ratio(http["gateway (cookie)"]!.requestsPerSecond, http.nginx!.requestsPerSecond)} (cookie), WS ${ratio(ws.gateway!, ws.nginx!)}, streaming ${ratio(stream.gateway!, stream.nginx!)}`);
console.log(`ratios gateway/direct: requests/s ${ratio(http.gateway!.requestsPerSecond, http.direct!.requestsPerSecond)}, WS ${ratio(ws.gateway!, ws.direct!)}, streaming ${ratio(stream.gateway!, stream.direct!)}`);
console.log(`p99 added latency vs direct: ${fmt(http.gateway!.p99Ms - http.direct!.p99Ms, 2)} ms with a token, ${fmt(http["gateway (cookie)"]!.p99Ms - http.direct!.p99Ms, 2)} ms with a cookie (nginx: ${fmt(http.nginx!.p99Ms - http.direct!.p99Ms, 2)} ms)`);
if (baseline !== null) {
  const base = http.baseline!.requestsPerSecond;
  console.log(`ratios vs the issue-2 gateway (no auth, same run): requests/s ${ratio(http.gateway!.requestsPerSecond, base)} (token), ${ratio(http["gateway (cookie)"]!.requestsPerSecond, base)} (cookie) [target >= 0.9]; two-user filtered WS ${ratio(twoUserRate, baselineTwoSocketRate!)} of its transparent relay with the same two sockets [target >= 0.8]`);
} else {
  console.log("no issue-2 baseline (git or its source not available): ratios against it skipped");
}
console.log(`gateway idle RSS (NSFW model not loaded): ${fmt(idleRss / 1024 / 1024, 1)} MB`);
console.log(`gateway start-up to first answered request: ${fmt(gateway.startupMs)} ms from source${binaryStartupMs === null ? " (no dist/ binary: run ./build.sh to measure it too)" : `, ${fmt(binaryStartupMs)} ms compiled binary`}`);

gateway.child.kill();
baseline?.child.kill();
await runNsfwBench({ bun, root, upstreamUrl, seconds: WRK_SECONDS, connections: CONNECTIONS, path: SMALL_JSON });
nginx.stop();
fake.kill();
process.exit(0);
