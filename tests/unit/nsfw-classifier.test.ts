// The NSFW classifier pool with the real nsfwjs MobileNetV2 model (loading takes well under a
// second per worker), and with stand-in worker scripts for the failure paths a real model
// cannot be made to take on demand (a load that fails, a worker that dies or hangs).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createLogger } from "../../src/log.ts";
import { createClassifierPool, resolveWorkerEntry } from "../../src/nsfw/classifier/pool.ts";
import { NSFW_CLASSES, type ClassifierPool, type ClassifierPoolOptions, type ClassifyResult } from "../../src/nsfw/classifier/types.ts";
import { concatBytes, PNG_SIGNATURE, pngChunk, pngIhdr, safeImage } from "../support/nsfw-images.ts";

const FIXTURES = join(import.meta.dir, "../fixtures/images");
const FIXTURE_FORMATS = [
  ["landscape-320x240.png", "png"],
  ["landscape-320x240.jpg", "jpeg"],
  ["drawing-256.webp", "webp"],
  ["drawing-64x48-2frames.gif", "gif"],
  ["landscape-160x120.bmp", "bmp"],
  ["red-then-blue-64x48.webp", "webp"],
] as const;
const MAX_BYTES = 8 * 1024 * 1024;
const SLOW = 30_000;

const logLines: string[] = [];
const log = createLogger("warn", { write: (line) => logLines.push(line) });

function newPool(overrides: Partial<ClassifierPoolOptions> = {}): ClassifierPool {
  return createClassifierPool({ workers: 2, maxPixels: 50_000_000, maxBytes: MAX_BYTES, log, ...overrides });
}

const fixture = (name: string) => Bun.file(join(FIXTURES, name)).bytes();

function scoresOf(result: ClassifyResult) {
  if (!result.ok) throw new Error(`expected scores, got ${result.code}: ${result.message}`);
  return result.scores;
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

/** A stand-in worker (a blob URL): `onClassify` is the body of its message handler. */
function standInWorker(options: { load?: "ready" | "throw"; onClassify?: string }): string {
  const ready = `self.postMessage({ type: "ready", loadMs: 1, backend: "stand-in", memory: { wasmBytes: 1, heapBytes: 1 } });`;
  const source = `${options.load === "throw" ? `throw new Error("stand-in model load failed");` : ready}
self.onmessage = (event) => { const request = event.data; ${options.onClassify ?? ""} };`;
  return URL.createObjectURL(new Blob([source], { type: "application/javascript" }));
}

let landscape: Uint8Array;
let drawing: Uint8Array;
let noisy: Uint8Array;

beforeAll(async () => {
  landscape = await safeImage("jpeg", 512, "landscape");
  drawing = await safeImage("png", 512, "drawing");
  noisy = await safeImage("png", 1024, "noise"); // about 65 ms to classify: long enough to act while in flight
});

describe("classifying with the real model (2 workers)", () => {
  let pool: ClassifierPool;

  beforeAll(async () => {
    pool = newPool();
    await pool.start(); // resolves with the first worker ready
    await until(() => pool.status().ready === 2, "the second worker", SLOW);
  }, SLOW);
  afterAll(() => pool.stop());

  test("every format gets five probabilities that sum to 1", async () => {
    for (const [name, format] of FIXTURE_FORMATS) {
      const result = await pool.classify(await fixture(name));
      expect(result).toMatchObject({ ok: true, format });
      const scores = scoresOf(result);
      expect(Object.keys(scores).sort()).toEqual([...NSFW_CLASSES].sort());
      for (const value of Object.values(scores)) expect(value).toBeGreaterThanOrEqual(0);
      expect(Object.values(scores).reduce((sum, value) => sum + value, 0)).toBeCloseTo(1, 3);
    }
  }, SLOW);

  test("safe generated pictures are judged neither porn nor hentai", async () => {
    for (const bytes of [landscape, drawing, await fixture("landscape-320x240.png"), await fixture("drawing-256.webp")]) {
      const scores = scoresOf(await pool.classify(bytes.slice()));
      expect(scores.Porn + scores.Hentai).toBeLessThan(0.5);
    }
  }, SLOW);

  test("the same bytes always get the same scores, whichever worker reads them", async () => {
    const [first, second] = await Promise.all([pool.classify(landscape.slice()), pool.classify(landscape.slice())]);
    const third = await pool.classify(landscape.slice());
    expect(scoresOf(first)).toEqual(scoresOf(second));
    expect(scoresOf(third)).toEqual(scoresOf(first));
    expect(first).toMatchObject({ ok: true, format: "jpeg", width: 512, height: 512 });
  }, SLOW);

  test("bad inputs are answered with their failure, without the model", async () => {
    const bomb = concatBytes([PNG_SIGNATURE, pngIhdr(100_000, 100_000), pngChunk("IEND", new Uint8Array(0))]);
    const before = pool.status().rejectedInputs;
    expect(await pool.classify(new Uint8Array(0))).toMatchObject({ ok: false, code: "EMPTY" });
    expect(await pool.classify(new TextEncoder().encode("not an image, just text\n"))).toMatchObject({ ok: false, code: "NOT_AN_IMAGE" });
    expect(await pool.classify(bomb)).toMatchObject({ ok: false, code: "TOO_MANY_PIXELS", format: "png" });
    expect(await pool.classify(concatBytes([PNG_SIGNATURE, new Uint8Array(MAX_BYTES)]))).toMatchObject({ ok: false, code: "TOO_LARGE", format: "png" });
    // A damaged body only shows when decoding, in the worker.
    expect(await pool.classify(drawing.slice(0, drawing.length >> 1))).toMatchObject({ ok: false, code: "CORRUPT_IMAGE", format: "png" });
    expect(pool.status().rejectedInputs).toBe(before + 5);
  }, SLOW);

  test("the image's buffer is handed to the worker, not copied", async () => {
    const bytes = drawing.slice();
    const result = pool.classify(bytes);
    expect(bytes.byteLength).toBe(0); // detached: transferred to the worker
    expect(await result).toMatchObject({ ok: true });
    // A view into a larger buffer is copied instead: the caller's other bytes stay put.
    const larger = concatBytes([drawing, new Uint8Array(16)]);
    expect(await pool.classify(larger.subarray(0, drawing.length))).toMatchObject({ ok: true });
    expect(larger.byteLength).toBe(drawing.length + 16);
  }, SLOW);

  test("two workers classify concurrently; the status counts the work", async () => {
    const before = pool.status().classified;
    const inputs = Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? landscape : drawing).slice());
    const results = inputs.map((bytes) => pool.classify(bytes, { priority: "now" }));
    const busy = pool.status();
    expect(busy.busy).toBe(2);
    expect(busy.queued.now).toBe(10);
    expect((await Promise.all(results)).every((result) => result.ok)).toBe(true);
    const after = pool.status();
    expect(after).toMatchObject({ state: "ready", workers: 2, ready: 2, busy: 0, queued: { now: 0, background: 0 } });
    expect(after.classified).toBe(before + 12);
    expect(after.memoryBytes).toBeGreaterThan(0);
    expect(after.loadMs).toBeGreaterThan(0);
  }, SLOW);

  test("background work leaves a worker free for requests made now", async () => {
    const background = Array.from({ length: 4 }, () => pool.classify(drawing.slice(), { priority: "background" }));
    expect(pool.status()).toMatchObject({ busy: 1, queued: { background: 3 } }); // backgroundWorkers defaults to workers - 1
    const now = pool.classify(landscape.slice(), { priority: "now" });
    expect(pool.status()).toMatchObject({ busy: 2, queued: { now: 0, background: 3 } });
    expect(await now).toMatchObject({ ok: true });
    expect((await Promise.all(background)).every((result) => result.ok)).toBe(true);
  }, SLOW);

  test("tensors do not leak from one classification to the next", async () => {
    await pool.classify(drawing.slice());
    const baseline = pool.status().tensors;
    expect(baseline).toBeGreaterThan(0); // the model's weights
    for (let i = 0; i < 20; i++) await pool.classify((i % 2 ? landscape : drawing).slice(), { priority: "now" });
    expect(pool.status().tensors).toBe(baseline);
  }, SLOW);

  test("a request that takes longer than its timeout answers TIMEOUT, and the pool carries on", async () => {
    expect(await pool.classify(noisy.slice(), { timeoutMs: 1 })).toMatchObject({ ok: false, code: "TIMEOUT" });
    expect(await pool.classify(drawing.slice(), { timeoutMs: 20_000 })).toMatchObject({ ok: true });
  }, SLOW);

  test("a crashed worker fails its request closed, and a replacement takes over", async () => {
    await until(() => pool.status().busy === 0, "earlier work to finish");
    const restarts = pool.status().restarts;
    const inFlight = pool.classify(noisy.slice());
    pool.crashWorkerForTest();
    expect(await inFlight).toMatchObject({ ok: false, code: "CLASSIFIER_FAILED" });
    expect(pool.status().ready).toBe(1);
    expect(await pool.classify(drawing.slice())).toMatchObject({ ok: true }); // the other worker meanwhile
    await until(() => pool.status().ready === 2, "the replacement worker");
    expect(pool.status().restarts).toBe(restarts + 1);
    expect(pool.status().lastError).toContain("crashWorkerForTest");
    expect(logLines.some((line) => line.includes("worker crashed"))).toBe(true);
    const both = await Promise.all([pool.classify(landscape.slice()), pool.classify(landscape.slice())]);
    expect(both.every((result) => result.ok)).toBe(true);
  }, SLOW);
});

describe("queueing on one worker", () => {
  let pool: ClassifierPool;

  beforeAll(async () => {
    pool = newPool({ workers: 1, maxQueuedBackground: 6 });
    await pool.start();
  }, SLOW);
  afterAll(() => pool.stop());

  test('a "now" request overtakes a background backlog', async () => {
    const finished: string[] = [];
    const track = (name: string, promise: Promise<ClassifyResult>) => promise.then((result) => finished.push(result.ok ? name : `${name}:${result.code}`));
    const backlog = Array.from({ length: 5 }, (_, i) => track(`background-${i}`, pool.classify(drawing.slice(), { priority: "background" })));
    const now = track("now", pool.classify(landscape.slice(), { priority: "now" }));
    await Promise.all([...backlog, now]);
    // background-0 was already on the worker; "now" came right after it.
    expect(finished).toEqual(["background-0", "now", "background-1", "background-2", "background-3", "background-4"]);
  }, SLOW);

  test("a full background queue refuses more at once (TIMEOUT), without touching 'now'", async () => {
    const accepted = Array.from({ length: 7 }, () => pool.classify(drawing.slice(), { priority: "background" })); // 1 running + 6 waiting
    expect(await pool.classify(drawing.slice(), { priority: "background" })).toMatchObject({ ok: false, code: "TIMEOUT", message: expect.stringContaining("overloaded") });
    const now = await pool.classify(landscape.slice(), { priority: "now" });
    expect(now).toMatchObject({ ok: true });
    expect((await Promise.all(accepted)).every((result) => result.ok)).toBe(true);
  }, SLOW);

  test("a request that times out while queued leaves the queue", async () => {
    const running = pool.classify(noisy.slice());
    const waiting = pool.classify(drawing.slice(), { timeoutMs: 5 });
    expect(pool.status().queued.now).toBe(1);
    expect(await waiting).toMatchObject({ ok: false, code: "TIMEOUT" });
    expect(pool.status().queued.now).toBe(0);
    expect(await running).toMatchObject({ ok: true });
  }, SLOW);

  test("stop() fails running and queued work at once; a stopped pool answers CLASSIFIER_UNAVAILABLE until started again", async () => {
    const pending = Array.from({ length: 5 }, (_, i) => pool.classify(drawing.slice(), { priority: i % 2 ? "now" : "background" }));
    await pool.stop();
    const results = await Promise.all(pending);
    expect(results.every((result) => !result.ok && result.code === "CLASSIFIER_UNAVAILABLE")).toBe(true);
    expect(pool.status()).toMatchObject({ state: "stopped", ready: 0, busy: 0, queued: { now: 0, background: 0 } });
    expect(await pool.classify(drawing.slice())).toMatchObject({ ok: false, code: "CLASSIFIER_UNAVAILABLE" });
    expect(pool.status().state).toBe("stopped"); // classify() did not start it
    await pool.start();
    expect(await pool.classify(drawing.slice())).toMatchObject({ ok: true });
  }, SLOW);
});

describe("failure paths with stand-in workers", () => {
  test("a pool that was never started answers CLASSIFIER_UNAVAILABLE and starts nothing", async () => {
    const pool = newPool();
    expect(await pool.classify(drawing.slice())).toMatchObject({ ok: false, code: "CLASSIFIER_UNAVAILABLE" });
    expect(pool.status()).toMatchObject({ state: "stopped", ready: 0, memoryBytes: null });
  });

  test("start() is idempotent", async () => {
    const pool = newPool({ workerUrl: standInWorker({ load: "ready" }) });
    const first = pool.start();
    const second = pool.start();
    await Promise.all([first, second, pool.start()]);
    await until(() => pool.status().ready === 2, "both stand-in workers");
    await pool.start();
    expect(pool.status()).toMatchObject({ state: "ready", workers: 2, ready: 2, restarts: 0 });
    await pool.stop();
  });

  test("workers that cannot load are retried, then the pool is failed and answers CLASSIFIER_UNAVAILABLE", async () => {
    const pool = newPool({ workerUrl: standInWorker({ load: "throw" }) });
    const waiting = pool.start().then(
      () => "started",
      (error: Error) => error.message,
    );
    const queued = pool.classify(drawing.slice());
    expect(await waiting).toContain("stand-in model load failed");
    expect(await queued).toMatchObject({ ok: false, code: "CLASSIFIER_UNAVAILABLE" });
    expect(pool.status()).toMatchObject({ state: "failed", ready: 0, restarts: 4 }); // 3 attempts per worker
    expect(await pool.classify(drawing.slice())).toMatchObject({ ok: false, code: "CLASSIFIER_UNAVAILABLE" });
    await pool.stop();
  }, SLOW);

  test("a worker that dies on an image fails that request closed and is replaced", async () => {
    const pool = newPool({ workers: 1, workerUrl: standInWorker({ onClassify: `setTimeout(() => { throw new Error("stand-in crash"); }, 1);` }) });
    await pool.start();
    expect(await pool.classify(drawing.slice())).toMatchObject({ ok: false, code: "CLASSIFIER_FAILED" });
    await until(() => pool.status().ready === 1, "the replacement worker");
    expect(await pool.classify(drawing.slice())).toMatchObject({ ok: false, code: "CLASSIFIER_FAILED" });
    expect(pool.status()).toMatchObject({ state: "ready", failures: 2 });
    expect(pool.status().lastError).toContain("stand-in crash");
    await pool.stop();
  }, SLOW);

  test("a worker that never answers is presumed stuck and replaced", async () => {
    const pool = newPool({ workers: 1, stuckWorkerMs: 100, workerUrl: standInWorker({ onClassify: "" }) });
    await pool.start();
    expect(await pool.classify(drawing.slice(), { timeoutMs: 10_000 })).toMatchObject({ ok: false, code: "CLASSIFIER_FAILED", message: expect.stringContaining("no answer") });
    await until(() => pool.status().restarts === 1 && pool.status().ready === 1, "the replacement worker");
    await pool.stop();
  }, SLOW);

  test("a compiled binary without the embedded worker says how to build it", () => {
    expect(() => resolveWorkerEntry("file:///$bunfs/root/mss-login")).toThrow(/extra entrypoint/);
    expect(resolveWorkerEntry(import.meta.url).pathname).toEndWith("/tests/unit/worker.ts");
  });
});
