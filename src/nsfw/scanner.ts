/**
 * Reads files from ComfyUI and has them classified: in the background as soon as ComfyUI
 * reports an output (so that a verdict usually exists before anyone asks), and at once when a
 * checked viewer asks for a file nobody has classified yet. The classifier runs in workers
 * (./classifier/pool.ts); here only bytes are fetched and verdicts stored.
 */
import type { Logger } from "../log.ts";
import type { FileRef } from "../isolation/ownership.ts";
import type { ClassifierPool, ClassifyResult } from "./classifier/types.ts";
import { NOT_VISUAL } from "./judge.ts";
import { TAG_ONLY, type FileVersion, type VerdictRow, type VerdictStore } from "./verdicts.ts";

/** Asks ComfyUI for a file as it serves it to users (`/view`, no preview or channel). */
export type FetchFile = (file: FileRef, method: "GET" | "HEAD", signal: AbortSignal) => Promise<Response>;

/** A verdict could not be had now (classifier down, busy past the wait, ComfyUI unreachable): checked viewers are refused. */
export interface Unavailable {
  readonly unavailable: true;
  readonly code: "CLASSIFIER_UNAVAILABLE" | "CLASSIFIER_FAILED" | "TIMEOUT" | "UPSTREAM_UNAVAILABLE" | "FILE_CHANGED" | "NOT_FOUND";
  readonly message: string;
}

export type VerdictOutcome = VerdictRow | Unavailable;

export function isUnavailable(outcome: VerdictOutcome): outcome is Unavailable {
  return "unavailable" in outcome;
}

export interface ScannerOptions {
  store: VerdictStore;
  pool: ClassifierPool;
  fetchFile: FetchFile;
  log: Logger;
  /** Read live: a settings change applies to the next file. */
  limits: () => { maxImageBytes: number };
  /** Starts the classifier when it is needed and not running (on-demand loading); false when it must stay off. */
  ensureStarted: () => Promise<boolean>;
  /**
   * Whether background scans may run now. With on-demand loading they wait (queued) until a
   * viewer's need has loaded the classifier; then `resume()` works the backlog off.
   */
  backgroundAllowed: () => boolean;
  now?: () => number;
  /** Background files waiting at most (older ones are dropped: a view still classifies them). */
  maxQueued?: number;
  /** Background files fetched and classified at once. */
  backgroundConcurrency?: number;
}

/** Extensions and content types of pictures and videos: such a file the classifier cannot read is blocked, not waved through. */
const VISUAL_EXTENSION = /\.(png|apng|jpe?g|jfif|pjpeg|webp|gif|bmp|ico|svg|svgz|avif|heic|heif|jxl|tiff?|psd|mp4|m4v|webm|mkv|mov|avi|wmv|flv|mpe?g)$/i;
const MAX_BACKGROUND_RETRIES = 3;
const RECHECK_MS = 250;
const TRANSIENT = new Set(["CLASSIFIER_UNAVAILABLE", "CLASSIFIER_FAILED", "TIMEOUT"]);

const fileKey = (file: FileRef): string => `${file.type}\u0000${file.subfolder}\u0000${file.filename}`;

/** Whether a file that does not start like any image still claims to be a picture or a video. */
export function claimsVisual(filename: string, contentType: string | null): boolean {
  const type = (contentType ?? "").toLowerCase();
  return VISUAL_EXTENSION.test(filename) || type.startsWith("image/") || type.startsWith("video/");
}

/** Text that is an SVG document (an image the classifier cannot read, and one that can embed any picture). */
function looksLikeSvg(bytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(bytes.subarray(0, 512)).toLowerCase();
  return head.includes("<svg");
}

export function versionOf(response: Response): string | null {
  const etag = response.headers.get("etag");
  return etag === null || etag === "" ? null : etag.replace(/^W\//, "");
}

export function sha256Version(bytes: Uint8Array): string {
  const hasher = new Bun.CryptoHasher("sha256");
  hasher.update(bytes);
  return `sha256:${hasher.digest("hex")}`;
}

/** Reads a body up to `limit` bytes; null when it is longer (the rest is not read). */
export async function readBounded(body: ReadableStream<Uint8Array> | null, limit: number): Promise<Uint8Array | null> {
  if (body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      length += value.byteLength;
      if (length > limit) {
        await reader.cancel().catch(() => {});
        return null;
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

export function createScanner(options: ScannerOptions) {
  const { store, pool, log } = options;
  const now = options.now ?? Date.now;
  const maxQueued = options.maxQueued ?? 10_000;
  const concurrency = options.backgroundConcurrency ?? 3;
  /** Files waiting for a background scan, oldest first (a Map keeps order and dedupes). */
  const queue = new Map<string, FileRef>();
  /** Scans running now, by file: a view waits on the background scan of the same file instead of starting another. */
  const running = new Map<string, Promise<VerdictOutcome>>();
  /** Background scans that failed for the classifier's sake, by file: how often. */
  const retries = new Map<string, number>();
  let active = 0;
  let dropped = 0;
  let scanned = 0;

  /** Classifies bytes and stores the verdict; transient failures are not stored. */
  async function classifyAndStore(file: FileVersion, bytes: Uint8Array, contentType: string | null, priority: "now" | "background", timeoutMs?: number): Promise<VerdictOutcome> {
    let result: ClassifyResult;
    if (!(await options.ensureStarted())) return { unavailable: true, code: "CLASSIFIER_UNAVAILABLE", message: "The NSFW classifier is stopped." };
    if (bytes.byteLength > 0 && bytes[0] === 0x3c && looksLikeSvg(bytes)) {
      result = { ok: false, code: "UNSUPPORTED_FORMAT", message: "SVG images are not classified.", format: null };
    } else {
      result = await pool.classify(bytes, { priority, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
    }
    if (!result.ok && TRANSIENT.has(result.code)) {
      return { unavailable: true, code: result.code as Unavailable["code"], message: result.message };
    }
    scanned++;
    if (!result.ok && result.code === NOT_VISUAL && claimsVisual(file.filename, contentType)) {
      // Named or served as a picture but not one the classifier knows: blocked, never waved through.
      return store.save(file, { ok: false, code: "UNSUPPORTED_FORMAT", format: null }, now());
    }
    return store.save(file, result.ok ? result : { ok: false, code: result.code, format: result.format ?? null }, now());
  }

  /** Fetches the file and classifies the version ComfyUI serves now; `expected` (if given) must be that version. */
  async function scan(file: FileRef, priority: "now" | "background", expected: string | null, timeoutMs?: number, force = false): Promise<VerdictOutcome> {
    const limit = options.limits().maxImageBytes;
    const signal = AbortSignal.timeout(timeoutMs ?? 120_000);
    let response: Response;
    try {
      response = await options.fetchFile(file, "GET", signal);
    } catch (error) {
      return { unavailable: true, code: "UPSTREAM_UNAVAILABLE", message: `ComfyUI did not serve the file: ${error instanceof Error ? error.message : String(error)}` };
    }
    if (response.status === 404) {
      await response.body?.cancel().catch(() => {});
      return { unavailable: true, code: "NOT_FOUND", message: "ComfyUI has no such file." };
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => {});
      return { unavailable: true, code: "UPSTREAM_UNAVAILABLE", message: `ComfyUI answered ${response.status} for the file.` };
    }
    const etag = versionOf(response);
    if (etag !== null) {
      if (expected !== null && etag !== expected) {
        await response.body?.cancel().catch(() => {});
        return { unavailable: true, code: "FILE_CHANGED", message: "The file changed while it was being checked." };
      }
      const known = force ? null : store.get({ ...file, version: etag });
      if (known !== null && (known.scores !== null || known.failure !== TAG_ONLY)) {
        await response.body?.cancel().catch(() => {});
        return known;
      }
    }
    const declared = Number(response.headers.get("content-length") ?? "NaN");
    const bytes = declared > limit ? null : await readBounded(response.body, limit).catch(() => undefined);
    if (bytes === undefined) return { unavailable: true, code: "UPSTREAM_UNAVAILABLE", message: "The file's transfer from ComfyUI broke off." };
    if (bytes === null) {
      if (declared > limit) await response.body?.cancel().catch(() => {});
      // Too big to read: its version is still known (ETag) or it cannot be pinned down (then nothing is stored).
      if (etag === null) return { unavailable: true, code: "CLASSIFIER_FAILED", message: "The file is larger than the classifier reads." };
      return store.save({ ...file, version: etag }, { ok: false, code: "TOO_LARGE", format: null }, now());
    }
    const version = etag ?? sha256Version(bytes);
    if (expected !== null && version !== expected) return { unavailable: true, code: "FILE_CHANGED", message: "The file changed while it was being checked." };
    return classifyAndStore({ ...file, version }, bytes, response.headers.get("content-type"), priority, timeoutMs);
  }

  function track(file: FileRef, work: Promise<VerdictOutcome>): Promise<VerdictOutcome> {
    const k = fileKey(file);
    running.set(k, work);
    void work.finally(() => {
      if (running.get(k) === work) running.delete(k);
    });
    return work;
  }

  /** Background scans wait (classifier off, or the gateway busy): look again shortly. */
  let recheck: ReturnType<typeof setTimeout> | null = null;

  function pump(): void {
    if (!options.backgroundAllowed()) {
      if (queue.size > 0 && recheck === null) {
        recheck = setTimeout(() => {
          recheck = null;
          pump();
        }, RECHECK_MS);
        recheck.unref?.();
      }
      return;
    }
    while (active < concurrency && queue.size > 0) {
      const [k, file] = queue.entries().next().value as [string, FileRef];
      queue.delete(k);
      if (running.has(k)) continue;
      active++;
      void track(file, scan(file, "background", null))
        .then((outcome) => {
          if (!isUnavailable(outcome)) {
            retries.delete(k);
            return;
          }
          if (outcome.code === "NOT_FOUND") return;
          log.debug("nsfw: background scan not done", { file: file.filename, code: outcome.code });
          // Stopped or crashed under it: the file waits for the classifier again (a few times at most).
          const tries = (retries.get(k) ?? 0) + 1;
          if (tries <= MAX_BACKGROUND_RETRIES && (outcome.code === "CLASSIFIER_UNAVAILABLE" || outcome.code === "CLASSIFIER_FAILED")) {
            retries.set(k, tries);
            if (!queue.has(k)) queue.set(k, file);
          } else retries.delete(k);
        })
        .catch((error: unknown) => log.warn("nsfw: background scan failed", { file: file.filename, error: error instanceof Error ? error.message : String(error) }))
        .finally(() => {
          active--;
          pump();
        });
    }
  }

  return {
    /** Queues a file ComfyUI reported for classification in the background. */
    enqueue(file: FileRef): void {
      const k = fileKey(file);
      if (queue.has(k) || running.has(k)) return;
      if (queue.size >= maxQueued) {
        queue.delete(queue.keys().next().value as string);
        dropped++;
      }
      queue.set(k, file);
      pump();
    },

    /**
     * The verdict on one version of a file, classifying it now (ahead of the background) when
     * there is none; bounded by `timeoutMs`.
     */
    async verdictFor(file: FileVersion, timeoutMs: number, options: { force?: boolean } = {}): Promise<VerdictOutcome> {
      const known = options.force === true ? null : store.get(file);
      if (known !== null && (known.scores !== null || known.failure !== TAG_ONLY || known.manualTag !== null)) return known;
      const k = fileKey(file);
      queue.delete(k);
      const pending = running.get(k);
      if (pending !== undefined) {
        const outcome = await withTimeout(pending, timeoutMs);
        if (!isUnavailable(outcome) && outcome.version === file.version) return outcome;
        if (isUnavailable(outcome) && outcome.code === "TIMEOUT") return outcome;
      }
      return track(file, scan(file, "now", file.version, timeoutMs, options.force === true));
    },

    /** The verdict for bytes the gateway already holds (a response without an ETag). */
    async verdictForBytes(file: FileVersion, bytes: Uint8Array, contentType: string | null, timeoutMs: number): Promise<VerdictOutcome> {
      const known = store.get(file);
      if (known !== null) return known;
      return classifyAndStore(file, bytes, contentType, "now", timeoutMs);
    },

    /** The version ComfyUI serves now (its ETag), null when it has no such file. */
    async currentVersion(file: FileRef, timeoutMs: number): Promise<string | null | Unavailable> {
      try {
        const response = await options.fetchFile(file, "HEAD", AbortSignal.timeout(timeoutMs));
        await response.body?.cancel().catch(() => {});
        if (response.status === 404) return null;
        const etag = versionOf(response);
        if (response.status !== 200 || etag === null) return { unavailable: true, code: "UPSTREAM_UNAVAILABLE", message: "ComfyUI gave no version (ETag) for the file." };
        return etag;
      } catch (error) {
        return { unavailable: true, code: "UPSTREAM_UNAVAILABLE", message: error instanceof Error ? error.message : String(error) };
      }
    },

    stats() {
      return { queued: queue.size, scanning: running.size, dropped, scanned };
    },

    /** Background scans may run again (the classifier became ready). */
    resume(): void {
      pump();
    },
  };
}

function withTimeout(work: Promise<VerdictOutcome>, ms: number): Promise<VerdictOutcome> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ unavailable: true, code: "TIMEOUT", message: "No verdict within the wait." }), ms);
    void work.then((outcome) => {
      clearTimeout(timer);
      resolve(outcome);
    });
  });
}

export type Scanner = ReturnType<typeof createScanner>;
