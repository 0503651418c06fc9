// The download queue: jobs are stored, run first in, first out within the caps (all sources,
// per source), stream into a hidden temporary file in the target folder, resume with `Range`
// after a dropped connection or a gateway restart, and are moved into place only when complete
// and, where the source publishes one, when the SHA-256 matches. A job that fails or is
// cancelled leaves no file behind.
import { createHash, randomBytes, type Hash } from "node:crypto";
import { createReadStream, existsSync, linkSync, mkdirSync, rmSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { and, asc, desc, eq, inArray } from "drizzle-orm";
import type { Config } from "../config/index.ts";
import type { Db } from "../db/index.ts";
import type { Logger } from "../log.ts";
import { asDownloadError, DownloadError, fetchOutbound, type OutboundPolicy, type Resolver } from "./safe-fetch.ts";
import { checkFilename, describeTarget, type CivitaiFileQuery, type DownloadTarget, type Source } from "./sources.ts";
import { downloadJobs } from "./tables.ts";

export type JobRow = typeof downloadJobs.$inferSelect;
export type JobStatus = "queued" | "running" | "completed" | "failed" | "cancelled";
type DownloadSettings = Config["downloads"];

/** Failures worth another attempt (dropped connections, timeouts, 5xx, 429) get this many. */
const MAX_ATTEMPTS = 5;
/** Metadata answers (CivitAI's version JSON) are small; more is refused. */
const MAX_METADATA_BYTES = 2 * 1024 * 1024;
/** How often a running job's byte count is written to the database. */
const PERSIST_EVERY_MS = 2_000;

export interface DownloadQueueOptions {
  db: Db;
  settings: () => DownloadSettings;
  log: Logger;
  /** The user's key for a source, opened; null when none is stored. */
  apiKey: (userId: string, source: Source) => Promise<string | null>;
  /** Called once per job that ends (completed, failed or cancelled). */
  ended: (job: JobRow) => void;
  resolve?: Resolver;
  /** Delay before attempt `attempt` (2, 3, ...); default 2, 4, 8, 16 seconds. */
  retryDelayMs?: (attempt: number) => number;
  now?: () => number;
}

interface Running {
  abort: AbortController;
  bytesDone: number;
  totalBytes: number | null;
  startedAt: number;
  /** Recent (time, bytes) samples for the speed. */
  samples: [number, number][];
  persistedAt: number;
}

/** Where the source lives: the real host, or a test fake's loopback origin. */
export function sourceOrigins(settings: DownloadSettings): { civitai: (host: string) => string; huggingface: string; policy: OutboundPolicy } {
  const overrides = new Map(settings.test_sources.map((entry) => entry.split("=", 2) as [string, string]));
  const civitaiTest = overrides.get("civitai");
  return {
    civitai: (host) => civitaiTest ?? `https://${host}`,
    huggingface: overrides.get("huggingface") ?? "https://huggingface.co",
    policy: { allowedHosts: settings.allowed_hosts, testOrigins: new Set(overrides.values()) },
  };
}

export function targetOf(job: JobRow): DownloadTarget {
  return JSON.parse(job.requestJson) as DownloadTarget;
}

/** The destination folder of a job, inside ComfyUI's models directory. */
function folderDir(settings: DownloadSettings, folder: string): string {
  if (settings.models_dir === null) throw new DownloadError("DOWNLOADS_NOT_CONFIGURED", "Model downloads are off: downloads.models_dir is not set.");
  return join(settings.models_dir, folder);
}

export function partPath(dir: string, job: Pick<JobRow, "id" | "filename">): string {
  return join(dir, `.${job.filename}.${job.id}.part`);
}

/** A JSON answer of at most `maxBytes`, parsed; anything else is SOURCE_BAD_ANSWER. */
export async function readJson(response: import("node:http").IncomingMessage, what: string, maxBytes = MAX_METADATA_BYTES): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      response.destroy();
      throw new DownloadError("SOURCE_BAD_ANSWER", `${what} answered with more than ${maxBytes} bytes.`);
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new DownloadError("SOURCE_BAD_ANSWER", `${what} did not answer with JSON.`);
  }
}

/** A source's refusal as a DownloadError: auth and not-found are final, the rest retryable. */
function statusError(status: number, what: string): DownloadError {
  if (status === 401 || status === 403) return new DownloadError("SOURCE_DENIED", `${what} refused the request (${status}); check the API key and your access to the model.`);
  if (status === 404) return new DownloadError("SOURCE_NOT_FOUND", `${what} has no such model or file (404).`);
  if (status === 429 || status >= 500) return new DownloadError("SOURCE_UNAVAILABLE", `${what} answered ${status}.`, true);
  return new DownloadError("SOURCE_BAD_ANSWER", `${what} answered ${status}.`);
}

const SHA256 = /^[0-9a-f]{64}$/;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

function sha256Of(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const bare = value.replace(/^W\//, "").replace(/"/g, "").trim().toLowerCase();
  return SHA256.test(bare) ? bare : null;
}

interface CivitaiFile {
  name?: unknown;
  sizeKB?: unknown;
  type?: unknown;
  primary?: unknown;
  hashes?: unknown;
  metadata?: unknown;
}

/** The file of a CivitAI version that the request's filters (or `primary`) pick. */
function chooseCivitaiFile(files: CivitaiFile[], query: CivitaiFileQuery): CivitaiFile | null {
  const meta = (file: CivitaiFile): Record<string, unknown> => (isObject(file.metadata) ? file.metadata : {});
  const matches = files.filter(
    (file) =>
      (query.type === undefined || file.type === query.type) &&
      (query.format === undefined || meta(file).format === query.format) &&
      (query.size === undefined || meta(file).size === query.size) &&
      (query.fp === undefined || meta(file).fp === query.fp),
  );
  return matches.find((file) => file.primary === true) ?? matches[0] ?? null;
}

export function createDownloadQueue(options: DownloadQueueOptions) {
  const { db, log } = options;
  const now = options.now ?? Date.now;
  const retryDelayMs = options.retryDelayMs ?? ((attempt: number) => 1000 * 2 ** (attempt - 1));
  const running = new Map<string, Running>();
  let stopping = false;

  /** Whether another queued or running job writes the same file. */
  const otherActiveJob = (job: Pick<JobRow, "id" | "folder" | "filename">): boolean =>
    job.filename !== null &&
    db
      .select({ id: downloadJobs.id })
      .from(downloadJobs)
      .where(and(eq(downloadJobs.folder, job.folder), eq(downloadJobs.filename, job.filename), inArray(downloadJobs.status, ["queued", "running"])))
      .all()
      .some((row) => row.id !== job.id);
  const get = (id: string): JobRow | undefined => db.select().from(downloadJobs).where(eq(downloadJobs.id, id)).get();
  const update = (id: string, values: Partial<JobRow>): void => {
    db.update(downloadJobs).set(values).where(eq(downloadJobs.id, id)).run();
  };

  function activeCounts(): { total: number; civitai: number; huggingface: number } {
    const counts = { total: 0, civitai: 0, huggingface: 0 };
    for (const row of db.select({ source: downloadJobs.source }).from(downloadJobs).where(eq(downloadJobs.status, "running")).all()) {
      counts.total++;
      counts[row.source as Source]++;
    }
    return counts;
  }

  /** Starts queued jobs, oldest first, while the caps allow. */
  function pump(): void {
    if (stopping) return;
    const settings = options.settings();
    const counts = activeCounts();
    const queued = db.select().from(downloadJobs).where(eq(downloadJobs.status, "queued")).orderBy(asc(downloadJobs.createdAt)).all();
    for (const job of queued) {
      if (counts.total >= settings.max_active) break;
      const source = job.source as Source;
      const cap = source === "civitai" ? settings.max_civitai : settings.max_huggingface;
      if (counts[source] >= cap) continue;
      counts.total++;
      counts[source]++;
      update(job.id, { status: "running", startedAt: job.startedAt ?? now() });
      run(job.id).catch((error: unknown) => {
        // run() ends every job itself; this is the last line of defence so a slot is never held forever.
        log.error("downloads: a job's runner failed", { job: job.id, error: error instanceof Error ? error.message : String(error) });
        running.delete(job.id);
        if (!stopping) update(job.id, { status: "failed", errorCode: "INTERNAL_ERROR", error: "The download failed inside the gateway.", finishedAt: now() });
      });
    }
  }

  function end(id: string, values: Partial<JobRow> & { status: JobStatus }): void {
    update(id, { ...values, finishedAt: now() });
    running.delete(id);
    const job = get(id);
    if (job !== undefined) {
      try {
        options.ended(job);
      } catch (error) {
        log.error("downloads: after-end hook failed", { job: id, error: error instanceof Error ? error.message : String(error) });
      }
    }
    pump();
  }

  async function run(id: string): Promise<void> {
    const state: Running = { abort: new AbortController(), bytesDone: 0, totalBytes: null, startedAt: now(), samples: [], persistedAt: 0 };
    running.set(id, state);
    let job = get(id)!;
    const settings = options.settings();
    let dir: string | null = null;
    try {
      dir = folderDir(settings, job.folder);
      // The requester's own key: downloading for someone else never spends their key.
      const key = await options.apiKey(job.requestedBy, job.source as Source);
      for (let attempt = 1; ; attempt++) {
        try {
          job = get(id)!;
          await attemptDownload(job, state, dir, key, settings);
          return;
        } catch (error) {
          const failure = asDownloadError(error);
          if (stopping) return; // shutdown: the job stays "running" and resumes at the next start
          if (!failure.retryable || attempt >= MAX_ATTEMPTS || state.abort.signal.aborted) throw failure;
          log.info("downloads: retrying", { job: id, attempt: attempt + 1, code: failure.code });
          await Bun.sleep(retryDelayMs(attempt + 1));
          if (state.abort.signal.aborted) throw new DownloadError("CANCELLED", "The download was cancelled.");
        }
      }
    } catch (error) {
      const failure = state.abort.signal.aborted && !stopping ? new DownloadError("CANCELLED", "The download was cancelled.") : asDownloadError(error);
      if (stopping) return;
      job = get(id)!;
      if (dir !== null && job.filename !== null) removePart(partPath(dir, job));
      if (failure.code === "CANCELLED") end(id, { status: "cancelled", errorCode: "CANCELLED", error: "Cancelled." });
      else end(id, { status: "failed", errorCode: failure.code, error: failure.message.slice(0, 500) });
    } finally {
      running.delete(id);
    }
  }

  /** Deletes a temporary file; a failure to do so is logged, never allowed to keep a job from ending. */
  function removePart(path: string): void {
    try {
      rmSync(path, { force: true });
    } catch (error) {
      log.warn("downloads: a temporary file could not be removed", { path, error: error instanceof Error ? error.message : String(error) });
    }
  }

  /** Learns the file name and published hash (CivitAI's version JSON) and returns the download URL. */
  async function resolveSource(job: JobRow, key: string | null, settings: DownloadSettings, signal: AbortSignal): Promise<{ url: URL; job: JobRow; announcedBytes: number | null }> {
    const target = targetOf(job);
    const origins = sourceOrigins(settings);
    const idleTimeoutMs = settings.read_timeout_ms;
    if (target.source === "huggingface") {
      const path = [target.repoId, "resolve", encodeURIComponent(target.revision), ...(target.subfolder === "" ? [] : target.subfolder.split("/")), target.filename].map((part, index) => (index === 0 ? part : encodeURIComponent(part).replace(/%2F/g, "/")));
      if (job.filename === null) {
        update(job.id, { filename: checkFilename(target.filename) });
        job = get(job.id)!;
      }
      return { url: new URL(`${origins.huggingface}/${path.join("/")}`), job, announcedBytes: null };
    }
    const base = origins.civitai(target.host);
    const apiHost = new URL(base).host;
    const headersFor = (url: URL): Record<string, string> => (key !== null && url.host === apiHost ? { authorization: `Bearer ${key}`, accept: "application/json" } : { accept: "application/json" });
    const getJson = async (path: string, what: string): Promise<unknown> => {
      const { response } = await fetchOutbound({ url: new URL(`${base}${path}`), policy: origins.policy, headersFor, signal, idleTimeoutMs, resolve: options.resolve });
      if (response.statusCode !== 200) {
        response.resume();
        throw statusError(response.statusCode ?? 0, what);
      }
      return readJson(response, what);
    };
    let versionId = target.versionId;
    if (versionId === null) {
      const model = await getJson(`/api/v1/models/${target.modelId}`, "CivitAI");
      const versions = isObject(model) && Array.isArray(model.modelVersions) ? (model.modelVersions as unknown[]) : [];
      const first = isObject(versions[0]) ? versions[0].id : undefined;
      if (typeof first !== "number" || !Number.isSafeInteger(first) || first <= 0) throw new DownloadError("SOURCE_BAD_ANSWER", "CivitAI listed no version of this model.");
      versionId = first;
    }
    const version = await getJson(`/api/v1/model-versions/${versionId}`, "CivitAI");
    const listed = isObject(version) && Array.isArray(version.files) ? (version.files as unknown[]).filter(isObject) : [];
    const file = chooseCivitaiFile(listed as CivitaiFile[], target.query);
    if (file === null) throw new DownloadError("SOURCE_NOT_FOUND", "This CivitAI version has no file matching the request.");
    const request = JSON.parse(job.requestJson) as DownloadTarget;
    const values: Partial<JobRow> = { requestJson: JSON.stringify({ ...request, versionId }) };
    const published = sha256Of(isObject(file.hashes) ? file.hashes.SHA256 : null);
    // A stored hash is never dropped; a different one means the file changed at the source.
    if (published !== null && published !== job.expectedSha256) {
      if (job.expectedSha256 !== null && job.filename !== null) removePart(partPath(folderDir(settings, job.folder), job));
      values.expectedSha256 = published;
    }
    if (job.filename === null) {
      if (typeof file.name !== "string") throw new DownloadError("SOURCE_BAD_ANSWER", "CivitAI gave the file no name.");
      values.filename = checkFilename(file.name, "the file name CivitAI gave");
    }
    update(job.id, values);
    job = get(job.id)!;
    const query = new URLSearchParams();
    const metadata = isObject(file.metadata) ? file.metadata : {};
    const wanted = { type: target.query.type ?? file.type, format: target.query.format ?? metadata.format, size: target.query.size ?? metadata.size, fp: target.query.fp ?? metadata.fp };
    for (const [name, value] of Object.entries(wanted)) if (typeof value === "string" && value !== "") query.set(name, value);
    // CivitAI gives the size in KB with decimals: a kilobyte of slack for the rounding.
    const announcedBytes = typeof file.sizeKB === "number" && file.sizeKB > 0 ? Math.ceil(file.sizeKB * 1024) + 1024 : null;
    return { url: new URL(`${base}/api/download/models/${versionId}${query.size > 0 ? `?${query}` : ""}`), job, announcedBytes };
  }

  async function attemptDownload(initial: JobRow, state: Running, dir: string, key: string | null, settings: DownloadSettings): Promise<void> {
    const signal = state.abort.signal;
    const resolved = await resolveSource(initial, key, settings, signal);
    const { url, job } = resolved;
    const filename = job.filename!;
    mkdirSync(dir, { recursive: true });
    const finalPath = join(dir, filename);
    if (existsSync(finalPath)) throw new DownloadError("DESTINATION_EXISTS", `${job.folder}/${filename} exists already; it is not overwritten.`);
    if (otherActiveJob(job)) throw new DownloadError("DESTINATION_BUSY", `Another download is writing ${job.folder}/${filename}.`);
    const part = partPath(dir, job);
    // Resuming splices what the source sends now onto what it sent before: only done when a
    // published hash will prove the result; otherwise the download starts over.
    let already = existsSync(part) ? statSync(part).size : 0;
    if (already > 0 && job.expectedSha256 === null) {
      removePart(part);
      already = 0;
    }
    const apiHost = url.host;
    const { response, redirects } = await fetchOutbound({
      url,
      policy: sourceOrigins(settings).policy,
      // The source's key goes to its own host only, never to a CDN it redirects to.
      headersFor: (hop) => ({ ...(key !== null && hop.host === apiHost ? { authorization: `Bearer ${key}` } : {}), ...(already > 0 ? { range: `bytes=${already}-` } : {}) }),
      signal,
      idleTimeoutMs: settings.read_timeout_ms,
      resolve: options.resolve,
    });
    const status = response.statusCode ?? 0;
    const what = job.source === "civitai" ? "CivitAI" : "Hugging Face";
    if (status !== 200 && status !== 206) {
      response.resume();
      if (status === 416 && already > 0) rmSync(part, { force: true }); // our part is no prefix of theirs: start over
      throw status === 416 ? new DownloadError("RANGE_REFUSED", "The source refused to resume; starting over.", true) : statusError(status, what);
    }
    // Hugging Face publishes an LFS file's SHA-256 and size as X-Linked-Etag and X-Linked-Size on its first answer.
    let announced = resolved.announcedBytes;
    if (job.source === "huggingface") {
      const first = redirects[0]?.headers ?? response.headers;
      const published = sha256Of(first["x-linked-etag"]);
      if (published !== null && published !== job.expectedSha256) {
        update(job.id, { expectedSha256: published });
        if (already > 0) {
          // The file changed at the source since the part was written: start over.
          response.destroy();
          removePart(part);
          throw new DownloadError("SOURCE_CHANGED", "The file changed at the source; starting over.", true);
        }
      }
      const size = Number(first["x-linked-size"]);
      if (Number.isSafeInteger(size) && size >= 0) announced = size;
    }
    let start = 0;
    let total: number | null = null;
    const length = Number(response.headers["content-length"]);
    if (status === 206) {
      // Exactly the rest of the same file: from our end to its end, of the size it had before.
      const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(response.headers["content-range"] ?? ""));
      const rangeTotal = range === null ? Number.NaN : Number(range[3]);
      const fits =
        range !== null &&
        Number(range[1]) === already &&
        Number(range[2]) === rangeTotal - 1 &&
        (job.totalBytes === null || job.totalBytes === rangeTotal) &&
        (!Number.isSafeInteger(length) || length === rangeTotal - already);
      if (!fits) {
        response.destroy();
        removePart(part);
        throw new DownloadError("RANGE_REFUSED", "The source answered a different range; starting over.", true);
      }
      start = already;
      total = rangeTotal;
    } else if (Number.isSafeInteger(length) && length >= 0) {
      total = length;
    }
    if (total !== null && total > settings.max_bytes) {
      response.destroy();
      throw new DownloadError("FILE_TOO_LARGE", `The file is ${total} bytes; the limit is ${settings.max_bytes}.`);
    }
    if (total !== null && announced !== null && total > announced) {
      response.destroy();
      throw new DownloadError("SIZE_MISMATCH", `The file is ${total} bytes, more than the ${announced} ${what} announced.`);
    }
    const ceiling = Math.min(total ?? Infinity, announced ?? Infinity);
    // For progress only: Hugging Face's announced size is exact when no length came.
    state.totalBytes = total ?? (job.source === "huggingface" ? announced : null);
    state.bytesDone = start;
    update(job.id, { totalBytes: total, bytesDone: start });
    // The hash is taken as the bytes arrive (a resumed part is read once first), not by reading
    // the whole file again at the end.
    const hash = createHash("sha256");
    if (start > 0) await hashInto(hash, part);
    const handle = await open(part, start > 0 ? "a" : "w", 0o644);
    try {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        const received = state.bytesDone + chunk.length;
        if (received > ceiling) throw new DownloadError("SIZE_MISMATCH", `The source sent more than the ${ceiling} bytes announced.`);
        if (received > settings.max_bytes) throw new DownloadError("FILE_TOO_LARGE", `The file passed the limit of ${settings.max_bytes} bytes.`);
        await handle.write(chunk);
        hash.update(chunk);
        state.bytesDone = received;
        const at = now();
        state.samples.push([at, received]);
        while (state.samples.length > 2 && state.samples[0]![0] < at - 5_000) state.samples.shift();
        if (at - state.persistedAt >= PERSIST_EVERY_MS) {
          state.persistedAt = at;
          update(job.id, { bytesDone: received });
        }
      }
    } catch (error) {
      response.destroy();
      const failure = asDownloadError(error, url);
      if (!failure.retryable && !stopping) removePart(part);
      throw failure;
    } finally {
      await handle.close();
    }
    update(job.id, { bytesDone: state.bytesDone });
    // A body without a length ends "cleanly" when the connection is cut, or when we abort it.
    if (signal.aborted) throw new DownloadError("CANCELLED", "The download was cancelled.");
    if (total !== null && state.bytesDone < total) throw new DownloadError("CONNECTION_DROPPED", `The connection ended after ${state.bytesDone} of ${total} bytes.`, true);
    if (total === null && get(job.id)!.expectedSha256 === null) {
      removePart(part);
      throw new DownloadError("UNVERIFIABLE", `${what} sent neither the file's length nor its hash, so a complete download cannot be told from a cut one.`);
    }
    const sha256 = hash.digest("hex");
    const expected = get(job.id)!.expectedSha256;
    if (expected !== null && expected !== sha256) {
      rmSync(part, { force: true });
      throw new DownloadError("HASH_MISMATCH", `The file's SHA-256 is ${sha256}, but ${what} published ${expected}; it was deleted.`);
    }
    try {
      linkSync(part, finalPath); // never replaces a file that appeared meanwhile
    } catch (error) {
      rmSync(part, { force: true });
      if ((error as NodeJS.ErrnoException).code === "EEXIST") throw new DownloadError("DESTINATION_EXISTS", `${job.folder}/${filename} appeared meanwhile; it is not overwritten.`);
      throw new DownloadError("WRITE_FAILED", `The file could not be moved into place: ${(error as Error).message}`);
    }
    rmSync(part, { force: true });
    end(job.id, { status: "completed", sha256, bytesDone: state.bytesDone, totalBytes: state.bytesDone, errorCode: null, error: null });
  }

  /** Cancels a queued or running job; false when it has ended already. */
  function cancel(id: string): boolean {
    const job = get(id);
    if (job === undefined || (job.status !== "queued" && job.status !== "running")) return false;
    const active = running.get(id);
    if (active !== undefined) {
      active.abort.abort();
      return true;
    }
    // Queued, or "running" with no runner here (it died, or runs in another gateway process
    // that is gone): ended at once.
    end(id, { status: "cancelled", errorCode: "CANCELLED", error: "Cancelled." });
    return true;
  }

  return {
    /** Stores a queued job and starts it if the caps allow; the caller has checked permissions. */
    /** `existing`: the folder's models as ComfyUI lists them (its other model paths included). */
    enqueue(input: { userId: string; requestedBy: string; target: DownloadTarget; folder: string; filename: string | null; existing: readonly string[] }): JobRow {
      const settings = options.settings();
      folderDir(settings, input.folder); // refuses when downloads are off
      const open = db
        .select({ id: downloadJobs.id })
        .from(downloadJobs)
        .where(and(eq(downloadJobs.userId, input.userId), inArray(downloadJobs.status, ["queued", "running"])))
        .all().length;
      if (open >= settings.max_per_user) throw new DownloadError("TOO_MANY_DOWNLOADS", `You have ${open} downloads queued or running; the limit is ${settings.max_per_user}.`);
      if (input.filename !== null && (existsSync(join(folderDir(settings, input.folder), input.filename)) || input.existing.includes(input.filename))) {
        throw new DownloadError("DESTINATION_EXISTS", `${input.folder}/${input.filename} exists already; it is not overwritten.`);
      }
      if (otherActiveJob({ id: "", folder: input.folder, filename: input.filename })) throw new DownloadError("DESTINATION_BUSY", `Another download is writing ${input.folder}/${input.filename}.`);
      const id = randomBytes(16).toString("hex");
      db.insert(downloadJobs)
        .values({
          id,
          userId: input.userId,
          requestedBy: input.requestedBy,
          source: input.target.source,
          status: "queued",
          folder: input.folder,
          requestJson: JSON.stringify(input.target),
          filename: input.filename,
          bytesDone: 0,
          createdAt: now(),
        })
        .run();
      pump();
      return get(id)!;
    },
    get,
    /** A user's jobs (or everyone's), newest first. */
    list(userId: string | null, limit = 200): JobRow[] {
      const query = db.select().from(downloadJobs);
      return (userId === null ? query : query.where(eq(downloadJobs.userId, userId))).orderBy(desc(downloadJobs.createdAt)).limit(limit).all();
    },
    cancel,
    /** Cancels every queued or running job for or by a user (their account is gone). */
    cancelAllOf(userId: string): void {
      const open = db.select({ id: downloadJobs.id, userId: downloadJobs.userId, requestedBy: downloadJobs.requestedBy }).from(downloadJobs).where(inArray(downloadJobs.status, ["queued", "running"])).all();
      for (const job of open) if (job.userId === userId || job.requestedBy === userId) cancel(job.id);
    },
    /** Progress figures of a running job (null otherwise). */
    progress(id: string): { bytesDone: number; totalBytes: number | null; speedBps: number; startedAt: number } | null {
      const state = running.get(id);
      if (state === undefined) return null;
      const first = state.samples[0];
      const last = state.samples[state.samples.length - 1];
      const speedBps = first !== undefined && last !== undefined && last[0] > first[0] ? ((last[1] - first[1]) * 1000) / (last[0] - first[0]) : 0;
      return { bytesDone: state.bytesDone, totalBytes: state.totalBytes, speedBps, startedAt: state.startedAt };
    },
    stats(): Record<string, number> {
      const settings = options.settings();
      const counts = activeCounts();
      const pending = db.select({ id: downloadJobs.id }).from(downloadJobs).where(eq(downloadJobs.status, "queued")).all().length;
      return {
        active_total: counts.total,
        active_civitai: counts.civitai,
        active_huggingface: counts.huggingface,
        pending_total: pending,
        limit_total: settings.max_active,
        limit_civitai: settings.max_civitai,
        limit_huggingface: settings.max_huggingface,
      };
    },
    /** Resumes what a previous run left running, then starts what the caps allow. */
    start(): void {
      stopping = false;
      db.update(downloadJobs).set({ status: "queued" }).where(eq(downloadJobs.status, "running")).run();
      pump();
    },
    /** Stops running downloads without ending them: they resume from their part files at the next start. */
    async stop(): Promise<void> {
      stopping = true;
      for (const state of running.values()) state.abort.abort();
      const deadline = now() + 5_000;
      while (running.size > 0 && now() < deadline) await Bun.sleep(20);
    },
  };
}

export type DownloadQueue = ReturnType<typeof createDownloadQueue>;

async function hashInto(hash: Hash, path: string): Promise<void> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
}

/** The original's public job record, plus the gateway's hash and error code. */
export function publicJob(job: JobRow, progress: ReturnType<DownloadQueue["progress"]>, at: number, username?: string): Record<string, unknown> {
  const bytesDone = progress?.bytesDone ?? job.bytesDone;
  const total = progress?.totalBytes ?? job.totalBytes;
  const speed = progress?.speedBps ?? 0;
  const seconds = (ms: number | null) => (ms === null ? null : ms / 1000);
  const elapsedEnd = job.finishedAt ?? at;
  return {
    ...describeTarget(targetOf(job)),
    job_id: job.id,
    source: job.source,
    destination_type: "local",
    folder_type: job.folder,
    status: job.status,
    created_at: seconds(job.createdAt),
    started_at: seconds(job.startedAt),
    finished_at: seconds(job.finishedAt),
    bytes_done: bytesDone,
    total_bytes: total,
    elapsed: job.startedAt === null ? 0 : Math.max(0, (elapsedEnd - job.startedAt) / 1000),
    progress_pct: total !== null && total > 0 ? Math.min(100, Math.round((bytesDone / total) * 1000) / 10) : job.status === "completed" ? 100 : null,
    speed_bps: Math.round(speed),
    eta_seconds: job.status === "running" && total !== null && speed > 0 ? Math.round((total - bytesDone) / speed) : null,
    destination: job.filename === null ? null : `${job.folder}/${job.filename}`,
    filename: job.filename,
    sha256: job.sha256,
    expected_sha256: job.expectedSha256,
    error: job.error,
    error_code: job.errorCode,
    can_cancel: job.status === "queued" || job.status === "running",
    ...(username === undefined ? {} : { username }),
  };
}
