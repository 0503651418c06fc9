/**
 * `image_generated`: new output files, grouped per user so that a batch is one notification and
 * not a hundred, and the picture attached only when the NSFW guard judged it safe.
 *
 * Grouping: a user's first new image opens a group that closes after `settleMs` (3 s: the rest
 * of a batch, which ComfyUI reports together, joins it), and at most one notification per user
 * goes out every `minIntervalMs` (60 s): images arriving in between join the next group, which
 * closes when the minute is over. One notification says how many images there were and names
 * the first few; with attachments on, it carries the group's latest picture.
 *
 * Attachment: read from ComfyUI when the notification is sent (not while it waits), at most
 * `maxBytes` (15 MiB). Only still PNG and JPEG pictures go: the NSFW guard judges an animation
 * (animated GIF or WebP, APNG) by its first frame only, so GIF, WebP and PNG with an animation
 * control chunk (`acTL`) are not attached. The NSFW guard's verdict on exactly that version of
 * the file is looked up, or the guard classifies it now with a bounded wait; only a verdict that
 * the picture is not blocked (scores under the thresholds, or a person's "safe" tag) lets it go
 * out. No verdict in time, the classifier stopped, a blocked picture, or a file that is not a
 * still picture: the notification goes out as text and says why the picture was not attached.
 * This holds whoever made the image: the notification reaches whoever reads the topic. A retry
 * judges the picture read at first again (`judgePicture`): a tag or threshold changed meanwhile
 * applies.
 */
import type { FileRef } from "../isolation/ownership.ts";
import { judge, type Thresholds } from "../nsfw/judge.ts";
import { isUnavailable, readBounded, sha256Version, versionOf, type VerdictOutcome } from "../nsfw/scanner.ts";
import type { FileVersion } from "../nsfw/verdicts.ts";
import { sniffFormat } from "../nsfw/classifier/decode.ts";

export const DEFAULT_SETTLE_MS = 3_000;
export const DEFAULT_MIN_INTERVAL_MS = 60_000;
export const MAX_ATTACHMENT_BYTES = 15 * 1024 * 1024;
const VERDICT_WAIT_MS = 20_000;
const FETCH_TIMEOUT_MS = 30_000;
const MAX_GROUPS = 1_000;
const NAMED_FILES = 3;
const PICTURE_TYPES = /^image\/(png|jpeg|webp|gif)$/;
const STILL_TYPES = /^image\/(png|jpeg)$/;
const ONLY_STILL = "only still PNG and JPEG pictures are attached";
const ANIMATED = "it is animated, and the NSFW guard checks only the first frame";
const GIF = "it is a GIF, which may be animated, and the NSFW guard checks only the first frame";

/** The parts of the NSFW guard used here (src/nsfw/index.ts). */
export interface NsfwJudge {
  scanner: {
    verdictFor(file: FileVersion, timeoutMs: number): Promise<VerdictOutcome>;
    verdictForBytes(file: FileVersion, bytes: Uint8Array, contentType: string | null, timeoutMs: number): Promise<VerdictOutcome>;
  };
  thresholds(): Thresholds;
}

export interface ImageSources {
  /** The file as ComfyUI serves it to users (`/view`). */
  fetchFile(file: FileRef, signal: AbortSignal): Promise<Response>;
  /** The NSFW guard (read when needed: it is built after the notifier). */
  guard(): NsfwJudge;
  /** The gateway user who owns an output file, by name; null when unknown. */
  ownerOf(file: FileRef): string | null;
}

export type Attachment = { attached: true; bytes: Uint8Array; filename: string } | { attached: false; reason: string };

/** A picture read from ComfyUI, not judged yet. */
export interface FetchedPicture {
  ok: true;
  bytes: Uint8Array;
  version: FileVersion;
  /** Whether the version is ComfyUI's ETag (the guard can read that version itself). */
  etag: boolean;
  contentType: string;
  filename: string;
}

/** Whether a PNG carries an animation control chunk (`acTL`, APNG) before its image data; null when its chunks do not read. */
export function isAnimatedPng(bytes: Uint8Array): boolean | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 8; at + 8 <= bytes.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(bytes[at + 4]!, bytes[at + 5]!, bytes[at + 6]!, bytes[at + 7]!);
    if (type === "acTL") return true;
    if (type === "IDAT" || type === "IEND") return false;
    at += 12 + length;
  }
  return null;
}

/** Why these bytes are not attached (an animation, or not a still PNG or JPEG), or null. */
export function stillPictureProblem(bytes: Uint8Array): string | null {
  const format = sniffFormat(bytes);
  if (format === "jpeg") return null;
  if (format === "png") {
    const animated = isAnimatedPng(bytes);
    return animated === false ? null : animated === true ? ANIMATED : "the picture is damaged";
  }
  if (format === "gif") return GIF;
  // An extended WebP announces an animation in its flags (VP8X, bit 1).
  if (format === "webp" && bytes.length > 20 && String.fromCharCode(...bytes.subarray(12, 16)) === "VP8X" && (bytes[20]! & 0x02) !== 0) return ANIMATED;
  return ONLY_STILL;
}

/** The picture read from ComfyUI (a still PNG or JPEG, at most `maxBytes`), or why not. */
export async function fetchPicture(file: FileRef, sources: ImageSources, options: { maxBytes?: number } = {}): Promise<FetchedPicture | { ok: false; reason: string }> {
  const maxBytes = options.maxBytes ?? MAX_ATTACHMENT_BYTES;
  let response: Response;
  try {
    response = await sources.fetchFile(file, AbortSignal.timeout(FETCH_TIMEOUT_MS));
  } catch {
    return { ok: false, reason: "ComfyUI did not serve the picture" };
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => {});
    return { ok: false, reason: response.status === 404 ? "the picture is gone" : "ComfyUI did not serve the picture" };
  }
  const contentType = (response.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (!PICTURE_TYPES.test(contentType)) {
    await response.body?.cancel().catch(() => {});
    return { ok: false, reason: "the file is not a picture" };
  }
  if (!STILL_TYPES.test(contentType)) {
    // GIF and WebP are not read at all: only still PNG and JPEG go.
    await response.body?.cancel().catch(() => {});
    return { ok: false, reason: contentType === "image/gif" ? GIF : ONLY_STILL };
  }
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  const bytes = declared > maxBytes ? null : await readBounded(response.body, maxBytes).catch(() => undefined);
  if (bytes === undefined) return { ok: false, reason: "the picture's transfer broke off" };
  if (bytes === null) {
    await response.body?.cancel().catch(() => {});
    return { ok: false, reason: "the picture is too large to attach" };
  }
  // The bytes decide, not the name or the type ComfyUI gave them.
  const problem = stillPictureProblem(bytes);
  if (problem !== null) return { ok: false, reason: problem };
  const etag = versionOf(response);
  return { ok: true, bytes, version: { ...file, version: etag ?? sha256Version(bytes) }, etag: etag !== null, contentType, filename: file.filename };
}

/** The NSFW guard's say on a picture read: attached only when it is judged not blocked. */
export async function judgePicture(picture: FetchedPicture, sources: ImageSources, options: { verdictWaitMs?: number } = {}): Promise<Attachment> {
  const guard = sources.guard();
  const wait = options.verdictWaitMs ?? VERDICT_WAIT_MS;
  let outcome: VerdictOutcome;
  try {
    // With an ETag, the guard reads that very version itself (and shares a scan already running).
    outcome = picture.etag ? await guard.scanner.verdictFor(picture.version, wait) : await guard.scanner.verdictForBytes(picture.version, picture.bytes, picture.contentType, wait);
  } catch {
    return { attached: false, reason: "withheld: the NSFW guard gave no verdict" };
  }
  if (isUnavailable(outcome)) return { attached: false, reason: "withheld: the NSFW guard has no verdict on it yet" };
  const judgement = judge(outcome, guard.thresholds());
  if (judgement.blocked) return { attached: false, reason: "withheld by the NSFW guard" };
  if (judgement.reason === "not_visual") return { attached: false, reason: "the file is not a picture" };
  return { attached: true, bytes: picture.bytes, filename: picture.filename };
}

/** The picture to attach, or why not (in words for the message). */
export async function resolveAttachment(file: FileRef, sources: ImageSources, options: { maxBytes?: number; verdictWaitMs?: number } = {}): Promise<Attachment> {
  const picture = await fetchPicture(file, sources, options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes });
  if (!picture.ok) return { attached: false, reason: picture.reason };
  return judgePicture(picture, sources, options.verdictWaitMs === undefined ? {} : { verdictWaitMs: options.verdictWaitMs });
}

export interface ImageGroup {
  username: string;
  count: number;
  filenames: string[];
  latest: FileRef;
}

export interface ImageGrouperOptions {
  /** A group is complete: notify. */
  flush(group: ImageGroup): void;
  settleMs?: number;
  minIntervalMs?: number;
  now?: () => number;
}

export function createImageGrouper(options: ImageGrouperOptions) {
  const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  const minIntervalMs = options.minIntervalMs ?? DEFAULT_MIN_INTERVAL_MS;
  const now = options.now ?? Date.now;
  const groups = new Map<string, { group: ImageGroup; timer: ReturnType<typeof setTimeout> }>();
  /** When each user's last notification went out. */
  const lastSent = new Map<string, number>();
  let stopped = false;

  function close(username: string): void {
    const open = groups.get(username);
    if (open === undefined) return;
    groups.delete(username);
    lastSent.set(username, now());
    if (lastSent.size > MAX_GROUPS) lastSent.delete(lastSent.keys().next().value as string);
    options.flush(open.group);
  }

  return {
    /** A new output file of `username`. */
    add(username: string, file: FileRef): void {
      if (stopped) return;
      const open = groups.get(username);
      if (open !== undefined) {
        open.group.count++;
        open.group.latest = file;
        if (open.group.filenames.length < NAMED_FILES) open.group.filenames.push(file.filename);
        return;
      }
      if (groups.size >= MAX_GROUPS) return; // a flood of users: the rest are not announced
      const last = lastSent.get(username);
      const delay = Math.max(settleMs, last === undefined ? 0 : last + minIntervalMs - now());
      const timer = setTimeout(() => close(username), delay);
      (timer as { unref?: () => void }).unref?.();
      groups.set(username, { group: { username, count: 1, filenames: [file.filename], latest: file }, timer });
    },

    /** Groups still open (for the status). */
    pending(): number {
      return groups.size;
    },

    /** Drops open groups (the gateway stops). */
    stop(): void {
      stopped = true;
      for (const { timer } of groups.values()) clearTimeout(timer);
      groups.clear();
    },
  };
}
