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
 * `maxBytes` (15 MiB). The NSFW guard's verdict on exactly that version of the file is looked
 * up, or the guard classifies it now with a bounded wait; only a verdict that the picture is
 * not blocked (scores under the thresholds, or a person's "safe" tag) lets it go out. No
 * verdict in time, the classifier stopped, a blocked picture, or a file that is not a picture:
 * the notification goes out as text and says the picture was withheld. This holds whoever made
 * the image: the notification reaches whoever reads the topic.
 */
import type { FileRef } from "../isolation/ownership.ts";
import { judge, type Thresholds } from "../nsfw/judge.ts";
import { isUnavailable, readBounded, sha256Version, versionOf, type VerdictOutcome } from "../nsfw/scanner.ts";
import type { FileVersion } from "../nsfw/verdicts.ts";

export const DEFAULT_SETTLE_MS = 3_000;
export const DEFAULT_MIN_INTERVAL_MS = 60_000;
export const MAX_ATTACHMENT_BYTES = 15 * 1024 * 1024;
const VERDICT_WAIT_MS = 20_000;
const FETCH_TIMEOUT_MS = 30_000;
const MAX_GROUPS = 1_000;
const NAMED_FILES = 3;
const PICTURE_TYPES = /^image\/(png|jpeg|webp|gif)$/;

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

/** The picture to attach, or why not (in words for the message). */
export async function resolveAttachment(file: FileRef, sources: ImageSources, options: { maxBytes?: number; verdictWaitMs?: number } = {}): Promise<Attachment> {
  const maxBytes = options.maxBytes ?? MAX_ATTACHMENT_BYTES;
  let response: Response;
  try {
    response = await sources.fetchFile(file, AbortSignal.timeout(FETCH_TIMEOUT_MS));
  } catch {
    return { attached: false, reason: "ComfyUI did not serve the picture" };
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => {});
    return { attached: false, reason: response.status === 404 ? "the picture is gone" : "ComfyUI did not serve the picture" };
  }
  const contentType = (response.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (!PICTURE_TYPES.test(contentType)) {
    await response.body?.cancel().catch(() => {});
    return { attached: false, reason: "the file is not a picture" };
  }
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  const bytes = declared > maxBytes ? null : await readBounded(response.body, maxBytes).catch(() => undefined);
  if (bytes === undefined) return { attached: false, reason: "the picture's transfer broke off" };
  if (bytes === null) {
    await response.body?.cancel().catch(() => {});
    return { attached: false, reason: "the picture is too large to attach" };
  }
  const etag = versionOf(response);
  const version: FileVersion = { ...file, version: etag ?? sha256Version(bytes) };
  const guard = sources.guard();
  const wait = options.verdictWaitMs ?? VERDICT_WAIT_MS;
  let outcome: VerdictOutcome;
  try {
    // With an ETag, the guard reads that very version itself (and shares a scan already running).
    outcome = etag !== null ? await guard.scanner.verdictFor(version, wait) : await guard.scanner.verdictForBytes(version, bytes, contentType, wait);
  } catch {
    return { attached: false, reason: "withheld: the NSFW guard gave no verdict" };
  }
  if (isUnavailable(outcome)) return { attached: false, reason: "withheld: the NSFW guard has no verdict on it yet" };
  const judgement = judge(outcome, guard.thresholds());
  if (judgement.blocked) return { attached: false, reason: "withheld by the NSFW guard" };
  if (judgement.reason === "not_visual") return { attached: false, reason: "the file is not a picture" };
  return { attached: true, bytes, filename: file.filename };
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
