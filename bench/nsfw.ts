/**
 * The NSFW guard's figures for `npm run bench` (issue 6): decode + classify time per 1024x1024
 * PNG with one worker, images/s with two workers (both cores), verdict look-up time, the
 * gateway's p99 forwarding latency while a backlog of 500 images is classified (against idle,
 * same run), and the gateway's RSS with the model loaded. Loopback only; bounded.
 */
import { spawn } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyMigrations, openDatabase } from "../src/db/index.ts";
import { createLogger } from "../src/log.ts";
import { createClassifierPool } from "../src/nsfw/classifier/pool.ts";
import type { ClassifierPool } from "../src/nsfw/classifier/types.ts";
import { createVerdictStore } from "../src/nsfw/verdicts.ts";
import { createTestAccount, TEST_ENV } from "../tests/support/gateway.ts";
import { safeImage } from "../tests/support/nsfw-images.ts";
import { freePort, rssBytes, runWrk, waitFor } from "./tools.ts";

const log = createLogger("error");
const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))]!;

async function poolOf(workers: number): Promise<ClassifierPool> {
  const pool = createClassifierPool({ workers, maxPixels: 64_000_000, maxBytes: 64 * 1024 * 1024, log, backgroundWorkers: workers });
  await pool.start();
  return pool;
}

/** p50 and p90 of one worker classifying a noisy 1024x1024 PNG (decode, resize, model), one at a time. */
async function singleWorker(png: Uint8Array): Promise<{ p50: number; p90: number }> {
  const pool = await poolOf(1);
  for (let i = 0; i < 5; i++) await pool.classify(png.slice());
  const times: number[] = [];
  for (let i = 0; i < 40; i++) {
    const started = performance.now();
    const result = await pool.classify(png.slice());
    if (!result.ok) throw new Error(`classification failed: ${result.code}`);
    times.push(performance.now() - started);
  }
  await pool.stop();
  return { p50: percentile(times, 0.5), p90: percentile(times, 0.9) };
}

/** Images per second with two workers kept busy (the machine's two cores). */
async function twoWorkers(png: Uint8Array): Promise<number> {
  const pool = await poolOf(2);
  await Promise.all([pool.classify(png.slice()), pool.classify(png.slice())]);
  const count = 120;
  let submitted = 0;
  let failed = 0;
  // Four in flight keep both workers busy without filling the pool's bounded queue.
  const feeder = async () => {
    while (submitted < count) {
      submitted++;
      const result = await pool.classify(png.slice(), { priority: "now", timeoutMs: 120_000 });
      if (!result.ok) failed++;
    }
  };
  const started = performance.now();
  await Promise.all([feeder(), feeder(), feeder(), feeder()]);
  const seconds = (performance.now() - started) / 1000;
  await pool.stop();
  if (failed > 0) throw new Error(`${failed} classifications failed`);
  return count / seconds;
}

/** Mean time of one verdict look-up among 10 000 stored ones: first reads (SQLite) and repeats (cache). */
function lookups(): { coldUs: number; warmUs: number } {
  const dir = mkdtempSync(join(tmpdir(), "mss-bench-verdicts-"));
  try {
    const database = openDatabase(dir);
    applyMigrations(database.sqlite);
    const store = createVerdictStore(database.db);
    const scores = { Drawing: 0.1, Hentai: 0.01, Neutral: 0.85, Porn: 0.02, Sexy: 0.02 };
    const files = Array.from({ length: 10_000 }, (_, i) => ({ type: "output" as const, subfolder: `u-${i % 50}`, filename: `img_${i}.png`, version: `"${i.toString(16)}-1f2e"` }));
    database.sqlite.run("begin");
    for (const file of files) store.save(file, { ok: true, scores, format: "png", width: 1024, height: 1024, ms: 50 }, Date.now());
    database.sqlite.run("commit");
    const fresh = createVerdictStore(database.db); // an empty cache
    let started = performance.now();
    for (const file of files) if (fresh.get(file) === null) throw new Error("missing verdict");
    const coldUs = ((performance.now() - started) * 1000) / files.length;
    started = performance.now();
    for (let round = 0; round < 10; round++) for (const file of files) fresh.get(file);
    const warmUs = ((performance.now() - started) * 1000) / (files.length * 10);
    database.close();
    return { coldUs, warmUs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A gateway from source with the model loaded at start (the default), its admin and a user token. */
async function startGuardedGateway(bun: string, root: string, upstreamUrl: string) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "mss-bench-nsfw-"));
  const user = await createTestAccount(dataDir, "bench", "user");
  const admin = await createTestAccount(dataDir, "bench_admin", "admin");
  const env = { ...process.env, MSS_LOGIN_PASSWORD__ARGON2_MEMORY_KIB: TEST_ENV.MSS_LOGIN_PASSWORD__ARGON2_MEMORY_KIB, MSS_LOGIN_PASSWORD__ARGON2_TIME_COST: TEST_ENV.MSS_LOGIN_PASSWORD__ARGON2_TIME_COST };
  const child = spawn([bun, join(root, "src/main.ts"), "serve", "--port", String(port), "--host", "127.0.0.1", "--upstream", upstreamUrl, "--data-dir", dataDir, "--log-level", "warn"], { stdout: "ignore", stderr: "inherit", env });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/mss-login/health`, 15_000);
  const status = async () => (await (await fetch(`${url}/mss-login/api/nsfw/status`, { headers: { authorization: `Bearer ${admin.token}` } })).json()) as { state: string; workers: number; queued: { now: number; background: number }; scanner: { queued: number; scanning: number } };
  const deadline = Date.now() + 60_000;
  while ((await status()).state !== "ready") {
    if (Date.now() > deadline) throw new Error("the classifier did not load within a minute");
    await Bun.sleep(100);
  }
  return { child, url, user, status, stop: () => child.kill(), dataDir };
}

export async function runNsfwBench(options: { bun: string; root: string; upstreamUrl: string; seconds: number; connections: number; path: string }): Promise<void> {
  console.log("\nNSFW guard");
  const png = await safeImage("png", 1024, "noise");
  const one = await singleWorker(png);
  const rate = await twoWorkers(png);
  const lookup = lookups();

  const gateway = await startGuardedGateway(options.bun, options.root, options.upstreamUrl);
  await Bun.sleep(500);
  const loadedRss = rssBytes(gateway.child.pid);
  const auth = { authorization: `Bearer ${gateway.user.token}` };
  runWrk(gateway.url + options.path, options.connections, 1, auth); // warm-up
  const idle = runWrk(gateway.url + options.path, options.connections, options.seconds, auth);

  // A backlog: 500 uploads of the user's (each queued for classification as it is stored).
  const images = await Promise.all(Array.from({ length: 8 }, (_, seed) => safeImage("png", 512, seed % 2 === 0 ? "landscape" : "drawing", { seed })));
  for (let i = 0; i < 500; i++) {
    const form = new FormData();
    form.append("image", new Blob([new Uint8Array(images[i % images.length]!)], { type: "image/png" }), `backlog_${i}.png`);
    const response = await fetch(`${gateway.url}/api/upload/image`, { method: "POST", headers: auth, body: form });
    if (!response.ok) throw new Error(`upload ${i} failed: ${response.status}`);
  }
  const before = await gateway.status();
  const busy = runWrk(gateway.url + options.path, options.connections, options.seconds, auth);
  const after = await gateway.status();
  const busyRss = rssBytes(gateway.child.pid);
  // Without traffic the backlog is worked off (background scans give way above 200 requests/s).
  await Bun.sleep(1000);
  const drainStart = await gateway.status();
  await Bun.sleep(8000);
  const drainEnd = await gateway.status();
  gateway.stop();
  rmSync(gateway.dataDir, { recursive: true, force: true });

  const waiting = (s: typeof before) => s.scanner.queued + s.scanner.scanning + s.queued.background;
  console.log("| figure | value | target |");
  console.log("|---|---:|---|");
  console.log(`| decode + classify, 1024x1024 noisy PNG, one worker, p50 (p90) | ${fmt(one.p50, 1)} ms (${fmt(one.p90, 1)} ms) | <= 70 ms |`);
  console.log(`| images/s, two workers (both cores) | ${fmt(rate, 1)} | >= 28 |`);
  console.log(`| verdict look-up, first read / cached | ${fmt(lookup.coldUs / 1000, 4)} ms / ${fmt(lookup.warmUs / 1000, 4)} ms | < 0.2 ms |`);
  console.log(`| gateway p99, idle / with a 500-image scan backlog | ${fmt(idle.p99Ms, 2)} ms / ${fmt(busy.p99Ms, 2)} ms (x${fmt(busy.p99Ms / idle.p99Ms, 2)}) | <= 1.2x idle |`);
  console.log(`| gateway requests/s, idle / with the backlog | ${fmt(idle.requestsPerSecond)} / ${fmt(busy.requestsPerSecond)} | |`);
  console.log(`| backlog waiting when the loaded run began / ended | ${waiting(before)} / ${waiting(after)} images (${gateway.user.username}'s uploads, ${before.workers} workers) | > 0 at the end |`);
  console.log(`| backlog worked off once traffic stopped | ${fmt((waiting(drainStart) - waiting(drainEnd)) / 8, 1)} images/s (${waiting(drainEnd)} left after 8 s) | |`);
  console.log(`| gateway RSS with the model loaded, idle / during the backlog | ${fmt(loadedRss / 1024 / 1024, 1)} MB / ${fmt(busyRss / 1024 / 1024, 1)} MB | < 300 MB |`);
}
