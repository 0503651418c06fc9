// Types shared by the classifier pool (main thread), its workers and their callers.
import type { Logger } from "../../log.ts";

/** nsfwjs's output classes, in the model's output order. */
export const NSFW_CLASSES = ["Drawing", "Hentai", "Neutral", "Porn", "Sexy"] as const;
export type NsfwClass = (typeof NSFW_CLASSES)[number];
export type NsfwScores = Record<NsfwClass, number>;

/** Formats the classifier can read. */
export type ImageFormat = "png" | "jpeg" | "webp" | "gif" | "bmp";
/** Visual media recognised by their magic bytes that the classifier cannot read (answered UNSUPPORTED_FORMAT). */
export type UnsupportedFormat = "avif" | "heic" | "tiff" | "video";

export type ClassifyFailure =
  | "EMPTY"
  | "NOT_AN_IMAGE"
  | "UNSUPPORTED_FORMAT"
  | "CORRUPT_IMAGE"
  | "TOO_MANY_PIXELS"
  | "TOO_LARGE"
  | "CLASSIFIER_UNAVAILABLE"
  | "CLASSIFIER_FAILED"
  | "TIMEOUT";

/** Failures that say something about the input itself (the same bytes always fail the same way). */
export const INPUT_FAILURES: ReadonlySet<ClassifyFailure> = new Set<ClassifyFailure>([
  "EMPTY",
  "NOT_AN_IMAGE",
  "UNSUPPORTED_FORMAT",
  "CORRUPT_IMAGE",
  "TOO_MANY_PIXELS",
  "TOO_LARGE",
]);

export type ClassifyResult =
  | { ok: true; scores: NsfwScores; format: ImageFormat; width: number; height: number; ms: number }
  | { ok: false; code: ClassifyFailure; message: string; format?: ImageFormat | UnsupportedFormat | null };

export type ClassifyFailureResult = Extract<ClassifyResult, { ok: false }>;

export interface ClassifierPoolOptions {
  /** Worker threads, each with its own copy of the model (about 100 MB of RSS each). >= 1. */
  workers: number;
  /** Decompression-bomb guard: the most width*height of a source image that is decoded. */
  maxPixels: number;
  /** Larger inputs answer TOO_LARGE without being sent to a worker. */
  maxBytes: number;
  log: Logger;
  /** Worker threads that background work may occupy at once (default: max(1, workers - 1)), so that view-time requests and the proxy keep a core. */
  backgroundWorkers?: number;
  /** Wait bound for a classify() call without its own `timeoutMs` (default 60 000 ms). */
  defaultTimeoutMs?: number;
  /** Background requests that may wait; beyond that they answer TIMEOUT at once (default 2000). */
  maxQueuedBackground?: number;
  /** "now" requests that may wait; beyond that they answer TIMEOUT at once (default 500). */
  maxQueuedNow?: number;
  /** Total bytes of images waiting in the queue; beyond that new requests answer TIMEOUT at once (default 256 MiB). */
  maxQueuedBytes?: number;
  /** A worker that takes longer than this on one image is presumed stuck, terminated and replaced (default 30 000 ms). */
  stuckWorkerMs?: number;
  /** A worker that has not loaded the model within this time counts as a failed load (default 60 000 ms). */
  loadTimeoutMs?: number;
  /** Another worker script (tests: a worker that fails to load, or crashes). Default: ./worker.ts, or its embedded copy. */
  workerUrl?: string | URL;
}

/**
 * "loading": start() was called and no worker has loaded yet; "ready": a worker has loaded since
 * start() (`ready` in the status counts those alive now: crashed ones are being replaced);
 * "failed": every worker failed to load three times in a row (start() again to retry).
 */
export type ClassifierState = "stopped" | "loading" | "ready" | "failed";

export interface ClassifierStatus {
  state: ClassifierState;
  /** Configured worker threads. */
  workers: number;
  /** Workers with the model loaded (idle or busy). */
  ready: number;
  /** Workers classifying an image now. */
  busy: number;
  queued: { now: number; background: number };
  /** Requests answered with scores. */
  classified: number;
  /** Requests the classifier could not answer (CLASSIFIER_UNAVAILABLE, CLASSIFIER_FAILED, TIMEOUT). */
  failures: number;
  /** Requests refused because of the input (EMPTY, NOT_AN_IMAGE, UNSUPPORTED_FORMAT, CORRUPT_IMAGE, TOO_MANY_PIXELS, TOO_LARGE). */
  rejectedInputs: number;
  /** Workers replaced after a crash, a stuck classification or a failed load. */
  restarts: number;
  lastError: string | null;
  /** Milliseconds the slowest worker took to load the model at the last start(), or null before any. */
  loadMs: number | null;
  /**
   * Approximate memory cost of the classifier: the process RSS growth from just before start()
   * spawned the workers until every worker had loaded its model (a snapshot, null until then).
   * Workers share the process, so RSS cannot be split per worker, and a worker's own heap figure
   * counts its WebAssembly memory in a way that does not add up; this is the honest number. It
   * can be off by whatever else the process allocated during those few hundred milliseconds.
   */
  memoryBytes: number | null;
  /** Sum of the live workers' WebAssembly memory (model weights, activations; it grows and never shrinks), as last reported by each. */
  wasmBytes?: number | null;
  /** Most TensorFlow.js tensors alive in one worker after its last classification: flat when nothing leaks (the model's weights). */
  tensors?: number | null;
}

export interface ClassifierPool {
  /** Loads the model in every worker; resolves when at least one is ready; rejects/marks failed if none can load. Idempotent. */
  start(): Promise<void>;
  /** Terminates the workers; waiting and queued requests resolve { ok:false, code:"CLASSIFIER_UNAVAILABLE" } at once (fail closed). */
  stop(): Promise<void>;
  /** Never throws. If stopped, it does NOT start the pool by itself (the caller decides on-demand loading by calling start()); it resolves CLASSIFIER_UNAVAILABLE. `priority: "now"` jumps ahead of "background" work. `timeoutMs` bounds the wait (TIMEOUT). The bytes may be transferred to the worker (caller must not reuse them). */
  classify(bytes: Uint8Array, options?: { priority?: "now" | "background"; timeoutMs?: number }): Promise<ClassifyResult>;
  status(): ClassifierStatus;
  /** For tests and the "killed classifier" path: terminates one worker abruptly as if it crashed. Its in-flight request fails closed (CLASSIFIER_FAILED), and the pool starts a replacement. */
  crashWorkerForTest(index?: number): void;
}
