// The main-thread side of the NSFW classifier: a pool of worker threads, each with its own copy
// of the model, fed from a two-level queue ("now" for someone waiting on a page, "background"
// for scans). Here only the cheap checks run (size, magic bytes, header dimensions); decoding
// and inference happen in the workers. Every failure answers { ok: false } (fail closed): a
// caller never waits forever and never gets an exception.
import { existsSync, readdirSync, type Dirent } from "node:fs";
import { join, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Logger } from "../../log.ts";
import { readImageHeader, sniffFormat } from "./decode.ts";
import type { ClassifyRequest, FromWorker, WorkerMemory } from "./protocol.ts";
import {
  INPUT_FAILURES,
  type ClassifierPool,
  type ClassifierPoolOptions,
  type ClassifierState,
  type ClassifierStatus,
  type ClassifyFailure,
  type ClassifyResult,
} from "./types.ts";

/**
 * Where the worker's code is. Under `bun run` / `bun test`, next to this file. In a compiled
 * binary this module is inlined into the main entry, and the worker is only there if it was
 * given to `bun build --compile` as an extra entrypoint (build.sh does); Bun then embeds it as
 * `<root>/nsfw/classifier/worker.js`, root being the entrypoints' common folder (src/), beside
 * the main entry's `<root>/<binary name>`. It is looked for there, then anywhere in the
 * embedded tree (another build layout), and a missing worker is a clear load failure.
 */
export function resolveWorkerEntry(moduleUrl: string = import.meta.url): URL {
  const beside = new URL("./worker.ts", moduleUrl);
  if (!moduleUrl.includes("/$bunfs/") && !moduleUrl.includes("/~BUN/")) return beside;
  const root = fileURLToPath(new URL(".", moduleUrl));
  const expected = join(root, "nsfw", "classifier", "worker.js");
  if (existsSync(expected)) return pathToFileURL(expected);
  const found = findEmbedded(root, join("nsfw", "classifier", "worker.js"), 8);
  if (found !== null) return pathToFileURL(found);
  throw new Error("the classifier worker is not in this binary: build it with src/nsfw/classifier/worker.ts as an extra entrypoint of `bun build --compile`");
}

/** Breadth-first search of the (small) embedded file tree for a path ending in `suffix`. */
function findEmbedded(root: string, suffix: string, maxDepth: number): string | null {
  let folders = [root];
  for (let depth = 0; depth < maxDepth && folders.length > 0; depth++) {
    const next: string[] = [];
    for (const folder of folders) {
      let entries: Dirent[];
      try {
        entries = readdirSync(folder, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const entry of entries) {
        const path = join(folder, entry.name);
        if (entry.isDirectory()) next.push(path);
        else if (path.endsWith(sep + suffix)) return path;
      }
    }
    folders = next;
  }
  return null;
}

/** Consecutive failed loads after which a worker slot gives up (the pool is "failed" when all have). */
const MAX_LOAD_FAILURES = 3;
/** Restart delays after consecutive crashes: 0.1 s, 0.2 s, 0.4 s ... up to 30 s. */
const FIRST_RESTART_DELAY_MS = 100;
const MAX_RESTART_DELAY_MS = 30_000;

type Priority = "now" | "background";

interface Job {
  id: number;
  bytes: Uint8Array;
  priority: Priority;
  resolve: (result: ClassifyResult) => void;
  timer: ReturnType<typeof setTimeout> | null;
  queued: boolean;
  settled: boolean;
}

/** "waiting": not spawned yet (the first worker loads alone, see start()). */
type SlotState = "waiting" | "loading" | "idle" | "busy" | "restarting" | "dead";

interface Slot {
  index: number;
  state: SlotState;
  worker: Bun.Worker | null;
  job: Job | null;
  /** Failed loads in a row (reset when the worker becomes ready). */
  loadFailures: number;
  /** Crashes since the last answered request (drives the restart backoff). */
  crashes: number;
  memory: WorkerMemory | null;
  /** Tensors alive after the worker's last classification. */
  tensors: number | null;
  timer: ReturnType<typeof setTimeout> | null;
}

/** First-in first-out with O(1) removal of settled jobs (they are skipped when reached). */
class JobQueue {
  private items: Job[] = [];
  private head = 0;
  size = 0;
  bytes = 0;

  push(job: Job): void {
    this.items.push(job);
    this.size++;
    this.bytes += job.bytes.byteLength;
  }

  /** Called when a queued job settles without being taken (timeout, stop). */
  forget(job: Job): void {
    this.size--;
    this.bytes -= job.bytes.byteLength;
  }

  shift(): Job | undefined {
    while (this.head < this.items.length) {
      const job = this.items[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      if (job.settled) continue;
      this.size--;
      this.bytes -= job.bytes.byteLength;
      return job;
    }
    return undefined;
  }

  drain(): Job[] {
    const waiting = this.items.slice(this.head).filter((job) => !job.settled);
    this.items = [];
    this.head = 0;
    this.size = 0;
    this.bytes = 0;
    return waiting;
  }
}

function failed(code: ClassifyFailure, message: string): ClassifyResult {
  return { ok: false, code, message };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function createClassifierPool(options: ClassifierPoolOptions): ClassifierPool {
  const workerCount = Math.max(1, Math.floor(options.workers));
  const backgroundWorkers = Math.min(workerCount, Math.max(1, Math.floor(options.backgroundWorkers ?? workerCount - 1)));
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 60_000;
  const maxQueued: Record<Priority, number> = { now: options.maxQueuedNow ?? 500, background: options.maxQueuedBackground ?? 2000 };
  const maxQueuedBytes = options.maxQueuedBytes ?? 256 * 1024 * 1024;
  const stuckWorkerMs = options.stuckWorkerMs ?? 30_000;
  const loadTimeoutMs = options.loadTimeoutMs ?? 60_000;
  const log: Logger = options.log.child({ component: "nsfw-classifier" });

  let state: ClassifierState = "stopped";
  let slots: Slot[] = [];
  const queues: Record<Priority, JobQueue> = { now: new JobQueue(), background: new JobQueue() };
  let nextJobId = 1;
  let starting: { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } | null = null;
  const counters = { classified: 0, failures: 0, rejectedInputs: 0, restarts: 0 };
  let lastError: string | null = null;
  let loadMs: number | null = null;
  let rssBeforeStart = 0;
  let memoryBytes: number | null = null;
  let workerEntry: string | URL | null = null;

  function finish(job: Job, result: ClassifyResult): void {
    if (job.settled) return;
    job.settled = true;
    if (job.timer !== null) clearTimeout(job.timer);
    if (job.queued) queues[job.priority].forget(job);
    job.queued = false;
    if (result.ok) counters.classified++;
    else if (INPUT_FAILURES.has(result.code)) counters.rejectedInputs++;
    else counters.failures++;
    job.resolve(result);
  }

  // ---------- workers ----------

  function spawn(slot: Slot): void {
    slot.state = "loading";
    slot.job = null;
    let worker: Bun.Worker;
    try {
      workerEntry ??= options.workerUrl ?? resolveWorkerEntry();
      worker = new Worker(workerEntry) as unknown as Bun.Worker;
    } catch (error) {
      loadFailed(slot, `the worker could not be started: ${errorText(error)}`);
      return;
    }
    slot.worker = worker;
    worker.addEventListener("message", (event: Event) => {
      if (slot.worker === worker) onMessage(slot, (event as MessageEvent<FromWorker>).data);
    });
    worker.addEventListener("error", (event: ErrorEvent) => {
      event.preventDefault();
      if (slot.worker === worker) crashed(slot, `worker error: ${event.message}`);
    });
    worker.addEventListener("close", (event: Event) => {
      const code = (event as Event & { code?: number }).code;
      if (slot.worker === worker) crashed(slot, `worker exited${code === undefined ? "" : ` with code ${code}`}`);
    });
    slot.timer = setTimeout(() => loadFailed(slot, `the model did not load within ${loadTimeoutMs} ms`), loadTimeoutMs);
  }

  function discardWorker(slot: Slot): void {
    if (slot.timer !== null) clearTimeout(slot.timer);
    slot.timer = null;
    const worker = slot.worker;
    slot.worker = null; // from here on its events are ignored
    slot.memory = null;
    slot.tensors = null;
    worker?.terminate();
  }

  function onMessage(slot: Slot, message: FromWorker): void {
    switch (message.type) {
      case "ready": {
        if (slot.state !== "loading") return;
        if (slot.timer !== null) clearTimeout(slot.timer);
        slot.timer = null;
        slot.state = "idle";
        slot.loadFailures = 0;
        slot.memory = message.memory;
        slot.worker?.unref(); // an idle pool does not keep the process alive
        loadMs = Math.max(loadMs ?? 0, message.loadMs);
        log.debug("nsfw classifier worker ready", { worker: slot.index, loadMs: message.loadMs, backend: message.backend });
        spawnWaiting();
        if (state === "loading") {
          state = "ready";
          log.info("nsfw classifier ready", { workers: workerCount, loadMs: message.loadMs });
          starting?.resolve();
        }
        noteLoadSettled();
        dispatch();
        return;
      }
      case "load-failed":
        loadFailed(slot, message.message);
        return;
      case "result": {
        const job = slot.job;
        if (slot.state !== "busy" || job === null || job.id !== message.id) return;
        if (slot.timer !== null) clearTimeout(slot.timer);
        slot.timer = null;
        slot.job = null;
        slot.state = "idle";
        slot.crashes = 0;
        slot.memory = message.memory;
        slot.tensors = message.tensors;
        slot.worker?.unref();
        finish(job, message.result);
        dispatch();
        return;
      }
    }
  }

  function loadFailed(slot: Slot, reason: string): void {
    if (slot.state !== "loading") return;
    discardWorker(slot);
    spawnWaiting(); // the others may have better luck
    slot.loadFailures++;
    lastError = `model load failed: ${reason}`;
    log.warn("nsfw classifier worker could not load the model", { worker: slot.index, attempt: slot.loadFailures, reason });
    if (slot.loadFailures >= MAX_LOAD_FAILURES) {
      slot.state = "dead";
      noteLoadSettled();
      if (slots.every((other) => other.state === "dead")) giveUp();
      return;
    }
    restartLater(slot);
  }

  function crashed(slot: Slot, reason: string): void {
    if (slot.state === "loading") {
      loadFailed(slot, reason);
      return;
    }
    if (slot.state !== "idle" && slot.state !== "busy") return;
    const job = slot.job;
    slot.job = null;
    discardWorker(slot);
    slot.crashes++;
    lastError = `worker crashed: ${reason}`;
    log.warn("nsfw classifier worker crashed; replacing it", { worker: slot.index, reason, inFlight: job !== null });
    if (job !== null) finish(job, failed("CLASSIFIER_FAILED", `The classifier stopped while reading the image (${reason}).`));
    restartLater(slot);
    dispatch();
  }

  function restartLater(slot: Slot): void {
    slot.state = "restarting";
    const failures = Math.max(slot.crashes, slot.loadFailures);
    const delay = Math.min(MAX_RESTART_DELAY_MS, FIRST_RESTART_DELAY_MS * 2 ** Math.max(0, failures - 1));
    slot.timer = setTimeout(() => {
      slot.timer = null;
      if (slot.state !== "restarting") return;
      counters.restarts++;
      spawn(slot);
    }, delay);
  }

  /** Every worker failed to load MAX_LOAD_FAILURES times: nothing can classify. */
  function giveUp(): void {
    state = "failed";
    log.error("nsfw classifier failed: no worker could load the model", { lastError });
    starting?.reject(new Error(`The NSFW classifier could not load: ${lastError ?? "unknown error"}`));
    starting = null;
    failWaiting(`The NSFW classifier could not load (${lastError ?? "unknown error"}).`);
  }

  function spawnWaiting(): void {
    for (const slot of slots) if (slot.state === "waiting") spawn(slot);
  }

  /** Memory cost of the model: process RSS growth from before start() until every worker loaded (or gave up). */
  function noteLoadSettled(): void {
    if (memoryBytes === null && slots.every((slot) => slot.state !== "waiting" && slot.state !== "loading" && slot.state !== "restarting")) {
      memoryBytes = Math.max(0, process.memoryUsage.rss() - rssBeforeStart);
    }
  }

  // ---------- queue ----------

  function busyWith(priority: Priority): number {
    return slots.filter((slot) => slot.state === "busy" && slot.job?.priority === priority).length;
  }

  function dispatch(): void {
    for (const slot of slots) {
      if (slot.state !== "idle") continue;
      let job = queues.now.shift();
      if (job === undefined && busyWith("background") < backgroundWorkers) job = queues.background.shift();
      if (job === undefined) return;
      run(slot, job);
    }
  }

  function run(slot: Slot, job: Job): void {
    job.queued = false;
    slot.state = "busy";
    slot.job = job;
    const worker = slot.worker!;
    worker.ref();
    // Transfer, not copy: only when the view covers its whole buffer, or the caller's other data would go with it.
    const whole = job.bytes.byteOffset === 0 && job.bytes.byteLength === job.bytes.buffer.byteLength && job.bytes.buffer instanceof ArrayBuffer;
    const bytes = whole ? job.bytes : job.bytes.slice();
    const request: ClassifyRequest = { type: "classify", id: job.id, bytes, maxPixels: options.maxPixels };
    try {
      worker.postMessage(request, [bytes.buffer as ArrayBuffer]);
    } catch (error) {
      crashed(slot, `the image could not be sent to the worker: ${errorText(error)}`);
      return;
    }
    slot.timer = setTimeout(() => {
      slot.timer = null;
      if (slot.job === job) crashed(slot, `no answer within ${stuckWorkerMs} ms`);
    }, stuckWorkerMs);
  }

  function failWaiting(message: string): void {
    for (const priority of ["now", "background"] as const) {
      for (const job of queues[priority].drain()) {
        job.queued = false;
        finish(job, failed("CLASSIFIER_UNAVAILABLE", message));
      }
    }
  }

  // ---------- public ----------

  function start(): Promise<void> {
    if (state === "ready") return Promise.resolve();
    if (state === "loading" && starting !== null) return starting.promise;
    state = "loading";
    loadMs = null;
    memoryBytes = null;
    rssBeforeStart = process.memoryUsage.rss();
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const current = {
      promise,
      resolve: () => {
        if (starting === current) starting = null;
        resolve();
      },
      reject: (error: Error) => {
        if (starting === current) starting = null;
        reject(error);
      },
    };
    starting = current;
    // A caller that does not await start() must not get an unhandled rejection (it would end the process).
    promise.catch(() => {});
    slots = Array.from({ length: workerCount }, (_, index): Slot => ({ index, state: "waiting", worker: null, job: null, loadFailures: 0, crashes: 0, memory: null, tensors: null, timer: null }));
    log.info("nsfw classifier loading", { workers: workerCount, backgroundWorkers });
    // The first worker loads alone: loads running side by side slow each other down (about
    // 0.3 s alone, 1 s for two at once on two cores), and the first one ready is what a waiting
    // viewer needs. The others start when it is ready (or has failed).
    spawn(slots[0]!);
    return promise;
  }

  async function stop(): Promise<void> {
    if (state === "stopped") return;
    state = "stopped";
    const message = "The NSFW classifier was stopped.";
    starting?.reject(new Error(message));
    starting = null;
    for (const slot of slots) {
      const job = slot.job;
      slot.job = null;
      discardWorker(slot);
      slot.state = "dead";
      if (job !== null) finish(job, failed("CLASSIFIER_UNAVAILABLE", message));
    }
    failWaiting(message);
    slots = [];
    log.info("nsfw classifier stopped");
  }

  function classify(bytes: Uint8Array, request: { priority?: Priority; timeoutMs?: number } = {}): Promise<ClassifyResult> {
    try {
      return Promise.resolve(enqueue(bytes, request));
    } catch (error) {
      lastError = errorText(error);
      counters.failures++;
      return Promise.resolve(failed("CLASSIFIER_FAILED", `The classifier could not take the image: ${errorText(error)}`));
    }
  }

  function enqueue(bytes: Uint8Array, request: { priority?: Priority; timeoutMs?: number }): ClassifyResult | Promise<ClassifyResult> {
    const answerNow = (result: ClassifyResult): ClassifyResult => {
      if (result.ok) counters.classified++;
      else if (INPUT_FAILURES.has(result.code)) counters.rejectedInputs++;
      else counters.failures++;
      return result;
    };
    if (state === "stopped") return answerNow(failed("CLASSIFIER_UNAVAILABLE", "The NSFW classifier is not running."));
    if (state === "failed") return answerNow(failed("CLASSIFIER_UNAVAILABLE", `The NSFW classifier could not load (${lastError ?? "unknown error"}).`));
    if (bytes.byteLength > options.maxBytes) {
      return answerNow({ ok: false, code: "TOO_LARGE", message: `The file is ${bytes.byteLength} bytes, more than the ${options.maxBytes} classified.`, format: sniffFormat(bytes) });
    }
    const header = readImageHeader(bytes, options.maxPixels);
    if (!header.ok) return answerNow(header);

    const priority: Priority = request.priority === "background" ? "background" : "now";
    const queue = queues[priority];
    // Overload answers TIMEOUT (the caller could not have had an answer in time), not
    // CLASSIFIER_UNAVAILABLE, which tells a caller to start the classifier.
    if (queue.size >= maxQueued[priority]) {
      return answerNow(failed("TIMEOUT", `The classifier is overloaded: ${queue.size} ${priority} requests are already waiting.`));
    }
    if (queues.now.bytes + queues.background.bytes + bytes.byteLength > maxQueuedBytes) {
      return answerNow(failed("TIMEOUT", "The classifier is overloaded: too many image bytes are already waiting."));
    }
    const timeoutMs = request.timeoutMs ?? defaultTimeoutMs;
    if (!(timeoutMs > 0)) return answerNow(failed("TIMEOUT", "No time was left to classify the image."));

    return new Promise<ClassifyResult>((resolve) => {
      const job: Job = { id: nextJobId++, bytes, priority, resolve, timer: null, queued: true, settled: false };
      job.timer = setTimeout(() => finish(job, failed("TIMEOUT", `No classification within ${timeoutMs} ms.`)), timeoutMs);
      queue.push(job);
      dispatch();
    });
  }

  function status(): ClassifierStatus {
    const live = slots.filter((slot) => slot.state === "idle" || slot.state === "busy");
    const reported = live.filter((slot) => slot.memory !== null);
    return {
      state,
      workers: workerCount,
      ready: live.length,
      busy: live.filter((slot) => slot.state === "busy").length,
      queued: { now: queues.now.size, background: queues.background.size },
      classified: counters.classified,
      failures: counters.failures,
      rejectedInputs: counters.rejectedInputs,
      restarts: counters.restarts,
      lastError,
      loadMs,
      memoryBytes,
      wasmBytes: reported.length === 0 ? null : reported.reduce((sum, slot) => sum + slot.memory!.wasmBytes, 0),
      tensors: live.reduce<number | null>((most, slot) => (slot.tensors === null ? most : Math.max(most ?? 0, slot.tensors)), null),
    };
  }

  function crashWorkerForTest(index?: number): void {
    // By default a worker whose request still waits for its answer, else any live one.
    const slot =
      index === undefined
        ? (slots.find((candidate) => candidate.job !== null && !candidate.job.settled) ?? slots.find((candidate) => candidate.worker !== null))
        : slots[index];
    if (slot === undefined || slot.worker === null) return;
    crashed(slot, "terminated (crashWorkerForTest)");
  }

  return { start, stop, classify, status, crashWorkerForTest };
}
