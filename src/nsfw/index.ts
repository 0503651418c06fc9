/**
 * The NSFW guard (issue 6), assembled: the classifier pool, the verdict store, the scanner that
 * classifies outputs as ComfyUI reports them, the `/view` guard, the preview gate for the
 * WebSocket, and who is checked. The composition root (src/app.ts) wires it in.
 */
import { availableParallelism } from "node:os";
import type { Config } from "../config/index.ts";
import type { Db } from "../db/index.ts";
import type { PreviewGate } from "../isolation/sockets.ts";
import type { FileRef } from "../isolation/ownership.ts";
import type { Logger } from "../log.ts";
import { RequestBodyRefused } from "../gateway/forward-http.ts";
import { createClassifierPool } from "./classifier/pool.ts";
import { readImageHeader } from "./classifier/decode.ts";
import type { ClassifyResult } from "./classifier/types.ts";
import { judge, type Thresholds } from "./judge.ts";
import { createScanner, type FetchFile } from "./scanner.ts";
import { createVerdictStore } from "./verdicts.ts";
import { createViewGuard } from "./view-guard.ts";

export interface NsfwViewer {
  readonly userId: string;
  readonly username: string;
  /** The account's own role (not a token's reduced one). */
  readonly role: string;
}

export interface NsfwGuardOptions {
  db: Db;
  /** The live configuration (run-time settings applied). */
  config: () => Config;
  fetchFile: FetchFile;
  /** The account's `sfw_check` flag; null when there is no such account (then it is checked). */
  sfwCheckOf: (userId: string) => boolean | null;
  log: Logger;
  /** A checked viewer was refused an image. */
  blocked?: (event: { username: string; file: FileRef; detail: string }) => void;
  /** Requests per second the gateway is serving now: background scans pause above BUSY_REQUESTS_PER_SECOND. */
  trafficRate?: () => number;
}

/**
 * Above this many requests per second the gateway is busy, and background scans wait: a scan
 * takes a core for ~60 ms, which on a two-core machine is felt in forwarding latency. Views that
 * need a verdict never wait for this (they classify at once, ahead of the background).
 */
export const BUSY_REQUESTS_PER_SECOND = 200;

/** Workers when the configuration says 0: one per core, at most 4 (each holds its own model). */
export function defaultWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

export function thresholdsOf(config: Config): Thresholds {
  const nsfw = config.nsfw;
  return { porn: nsfw.porn_percent / 100, hentai: nsfw.hentai_percent / 100, sexy: nsfw.sexy_percent === 0 ? null : nsfw.sexy_percent / 100 };
}

/** Whether one classification result passes for a checked viewer under the current thresholds. */
export function resultPasses(result: ClassifyResult, thresholds: Thresholds): boolean {
  if (!result.ok) return false;
  return !judge({ scores: result.scores, failure: null, format: result.format, width: result.width, height: result.height, classifiedAt: 0, manualTag: null }, thresholds).blocked;
}

export function createNsfwGuard(options: NsfwGuardOptions) {
  const { log } = options;
  const atStart = options.config().nsfw;
  const workers = atStart.workers === 0 ? defaultWorkers() : atStart.workers;
  const pool = createClassifierPool({ workers, maxPixels: atStart.max_megapixels * 1_000_000, maxBytes: atStart.max_image_bytes, log });
  const store = createVerdictStore(options.db);
  /** An administrator stopped the classifier: it stays off (checked viewers are refused) until started again. */
  let stoppedByAdmin = false;
  let starting: Promise<boolean> | null = null;

  function start(): Promise<boolean> {
    if (pool.status().state === "ready") return Promise.resolve(true);
    if (starting !== null) return starting;
    const loading = pool
      .start()
      .then(
        () => {
          scanner.resume();
          return true;
        },
        (error: unknown) => {
          log.error("nsfw: the classifier could not load; checked users see no images until it does", { error: error instanceof Error ? error.message : String(error) });
          return false;
        },
      )
      .finally(() => {
        starting = null;
      });
    starting = loading;
    return loading;
  }

  const ensureStarted = async (): Promise<boolean> => {
    if (stoppedByAdmin) return false;
    const state = pool.status().state;
    if (state === "ready" || state === "loading") return state === "ready" || (await start());
    return start();
  };

  const scanner = createScanner({
    store,
    pool,
    fetchFile: options.fetchFile,
    log,
    limits: () => ({ maxImageBytes: options.config().nsfw.max_image_bytes }),
    ensureStarted,
    backgroundAllowed: () => !stoppedByAdmin && pool.status().state === "ready" && (options.trafficRate?.() ?? 0) <= BUSY_REQUESTS_PER_SECOND,
  });
  const views = createViewGuard({
    scanner,
    log,
    limits: () => {
      const config = options.config();
      return { thresholds: thresholdsOf(config), viewWaitMs: config.nsfw.view_wait_ms, maxImageBytes: config.nsfw.max_image_bytes };
    },
    ...(options.blocked === undefined ? {} : { blocked: options.blocked }),
  });

  const previewGate: PreviewGate = {
    mode: () => options.config().nsfw.previews,
    ratePerSecond: () => options.config().nsfw.preview_rate_per_second,
    isSafe: async (image) => {
      if (!(await ensureStarted())) return false;
      const result = await pool.classify(image, { priority: "now", timeoutMs: 2_000 });
      return resultPasses(result, thresholdsOf(options.config()));
    },
  };

  /** Owners and admins see everything; guests are always checked; everyone else by their flag. */
  function isChecked(viewer: NsfwViewer): boolean {
    if (viewer.role === "owner" || viewer.role === "admin") return false;
    if (viewer.role === "guest") return true;
    return options.sfwCheckOf(viewer.userId) ?? true;
  }

  return {
    pool,
    store,
    scanner,
    isChecked,
    ensureStarted,
    thresholds: () => thresholdsOf(options.config()),
    previewMode: () => options.config().nsfw.previews,
    /** The `/view` interceptor for a checked viewer (see view-guard.ts). */
    guardView: views.guard,
    /** The preview policy for a checked viewer's sockets; null (previews pass) for everyone else. */
    previewGateFor: (viewer: NsfwViewer): PreviewGate | null => (isChecked(viewer) ? previewGate : null),
    /**
     * The first bytes of an uploaded file: an image whose header declares more pixels than the
     * classifier decodes is refused before ComfyUI stores (and later decodes) it. For everyone:
     * a decompression bomb hurts the server whoever sends it.
     */
    inspectUploadHead(head: Uint8Array): RequestBodyRefused | null {
      const header = readImageHeader(head, options.config().nsfw.max_megapixels * 1_000_000);
      return !header.ok && header.code === "TOO_MANY_PIXELS" ? new RequestBodyRefused("TOO_MANY_PIXELS", `${header.message} Uploads are refused above ${options.config().nsfw.max_megapixels} megapixels.`) : null;
    },
    /** ComfyUI reported a new file: classify it in the background. */
    fileReported: (file: FileRef): void => scanner.enqueue(file),
    /** At gateway start: load now, or wait for the first need. */
    startup(): void {
      if (options.config().nsfw.load === "startup") void start();
    },
    async startByAdmin(): Promise<boolean> {
      stoppedByAdmin = false;
      return start();
    },
    async stopByAdmin(): Promise<void> {
      stoppedByAdmin = true;
      await pool.stop();
    },
    status() {
      return { ...pool.status(), stoppedByAdmin, load: options.config().nsfw.load, scanner: scanner.stats(), verdicts: store.count() };
    },
    close: () => pool.stop(),
  };
}

export type NsfwGuard = ReturnType<typeof createNsfwGuard>;
