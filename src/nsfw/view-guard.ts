/**
 * `/view` for a checked viewer (both spellings, every `type`). The verdict is for the version
 * of the file that is actually served:
 * - the file itself (200, 206 or 304): ComfyUI's ETag in the answer names the version;
 * - a re-encoded variant (`preview=`, `channel=`): the file's version is asked before and after
 *   the forward (HEAD), and the variant is served only when it did not change in between;
 * - an answer without an ETag: the bytes are read (bounded) and classified themselves.
 * Blocked: 403 `NSFW_BLOCKED` (JSON) or a neutral placeholder for `<img>`; no verdict to be
 * had (classifier stopped, failing, too slow): 503 `NSFW_CHECK_UNAVAILABLE`, never the image.
 */
import { errorResponse } from "../gateway/error-response.ts";
import type { Logger } from "../log.ts";
import type { FileRef } from "../isolation/ownership.ts";
import { judge, type Judgement, type Thresholds } from "./judge.ts";
import { isUnavailable, readBounded, sha256Version, versionOf, type Scanner, type Unavailable, type VerdictOutcome } from "./scanner.ts";
import type { VerdictRow } from "./verdicts.ts";

type Forward = () => Promise<Response>;

export interface ViewGuardOptions {
  scanner: Scanner;
  log: Logger;
  limits: () => { thresholds: Thresholds; viewWaitMs: number; maxImageBytes: number };
  /** A block happened (the audit log and notifications listen here). */
  blocked?: (event: { username: string; file: FileRef; detail: string }) => void;
}

/** An `<img>` (or another image fetch) gets a picture back, so pages show a neutral tile instead of a broken image. */
function wantsImage(request: Request): boolean {
  if (request.headers.get("sec-fetch-dest") === "image") return true;
  const accept = request.headers.get("accept") ?? "";
  return accept.startsWith("image/");
}

/** A plain tile of the image's own size (when known), so layouts do not jump. */
export function placeholderSvg(width: number | null, height: number | null, text: string): string {
  const w = width !== null && width > 0 && width <= 16384 ? width : 512;
  const h = height !== null && height > 0 && height <= 16384 ? height : 512;
  const size = Math.max(10, Math.round(Math.min(w, h) / 18));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}"><rect width="${w}" height="${h}" fill="#2b2b2b"/><text x="50%" y="50%" fill="#b8b8b8" font-family="sans-serif" font-size="${size}" text-anchor="middle" dominant-baseline="middle">${text}</text></svg>`;
}

const GUARDED_HEADERS: Record<string, string> = {
  // Never kept by a shared cache, and not re-used by the browser without asking again (checklist 5.11 #74).
  "cache-control": "private, no-store",
  "x-content-type-options": "nosniff",
};

function refusal(request: Request, status: 403 | 503 | 404, code: string, message: string, size: { width: number | null; height: number | null }): Response {
  const headers = { ...GUARDED_HEADERS, "x-mss-nsfw": code === "NSFW_BLOCKED" ? "blocked" : "unverified" };
  if (status === 404) return new Response(null, { status, headers });
  if (wantsImage(request)) {
    const text = code === "NSFW_BLOCKED" ? "Hidden by the NSFW guard" : "Not checked yet: hidden";
    return new Response(placeholderSvg(size.width, size.height, text), {
      status,
      headers: { ...headers, "content-type": "image/svg+xml", "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'" },
    });
  }
  return errorResponse(request, status, code, message, code === "NSFW_BLOCKED" ? "Image hidden" : "Image not checked yet", headers);
}

function guarded(response: Response, body?: Uint8Array): Response {
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(GUARDED_HEADERS)) headers.set(name, value);
  if (body !== undefined) headers.set("content-length", String(body.byteLength));
  return new Response((body as Uint8Array<ArrayBuffer> | undefined) ?? response.body, { status: response.status, statusText: response.statusText, headers });
}

async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => {});
}

export function createViewGuard(options: ViewGuardOptions) {
  const { scanner, log } = options;

  /** The answer for a checked viewer once the verdict is known; null = serve the file. */
  function decide(request: Request, username: string, file: FileRef, outcome: VerdictOutcome): Response | null {
    if (isUnavailable(outcome)) return unavailable(request, outcome);
    const judgement: Judgement = judge(outcome, options.limits().thresholds);
    if (!judgement.blocked) return null;
    log.info("nsfw: blocked", { user: username, type: file.type, subfolder: file.subfolder, filename: file.filename, reason: judgement.reason, detail: judgement.detail });
    options.blocked?.({ username, file, detail: judgement.detail });
    return refusal(request, 403, "NSFW_BLOCKED", "This image did not pass the NSFW check for your account.", outcome);
  }

  function unavailable(request: Request, outcome: Unavailable): Response {
    if (outcome.code === "NOT_FOUND") return refusal(request, 404, outcome.code, outcome.message, { width: null, height: null });
    return refusal(request, 503, "NSFW_CHECK_UNAVAILABLE", `This image cannot be checked right now (${outcome.message}); try again later.`, { width: null, height: null });
  }

  async function plain(request: Request, username: string, file: FileRef, forward: Forward): Promise<Response> {
    const { viewWaitMs, maxImageBytes } = options.limits();
    const response = await forward();
    if (response.status !== 200 && response.status !== 206 && response.status !== 304) return response;
    const version = versionOf(response);
    if (version !== null) {
      const outcome = await scanner.verdictFor({ ...file, version }, viewWaitMs);
      const refused = decide(request, username, file, outcome);
      if (refused !== null) {
        await discard(response);
        return refused;
      }
      return guarded(response);
    }
    // No ETag: the bytes served are the bytes judged.
    if (response.status !== 200) {
      await discard(response);
      return unavailable(request, { unavailable: true, code: "UPSTREAM_UNAVAILABLE", message: "ComfyUI gave no version of the file" });
    }
    const bytes = request.method === "HEAD" ? null : await readBounded(response.body, maxImageBytes).catch(() => null);
    if (bytes === null) {
      await discard(response);
      return refusal(request, 403, "NSFW_BLOCKED", "This file is too large to be checked, so it is not shown to your account.", { width: null, height: null });
    }
    const outcome = await scanner.verdictForBytes({ ...file, version: sha256Version(bytes) }, bytes.slice(), response.headers.get("content-type"), viewWaitMs);
    return decide(request, username, file, outcome) ?? guarded(response, bytes);
  }

  async function variant(request: Request, username: string, file: FileRef, forward: Forward): Promise<Response> {
    const { viewWaitMs } = options.limits();
    const before = await scanner.currentVersion(file, viewWaitMs);
    if (before === null) return forward(); // no such file: ComfyUI answers 404 itself
    if (typeof before !== "string") return unavailable(request, before);
    const outcome = await scanner.verdictFor({ ...file, version: before }, viewWaitMs);
    const refused = decide(request, username, file, outcome);
    if (refused !== null) return refused;
    const response = await forward();
    if (!response.ok) return response;
    const after = await scanner.currentVersion(file, viewWaitMs);
    if (after !== before) {
      await discard(response);
      return unavailable(request, { unavailable: true, code: "FILE_CHANGED", message: "the file changed while it was being checked" });
    }
    return guarded(response);
  }

  return {
    /** Takes over one `/view` of a checked viewer. */
    guard(request: Request, username: string, file: FileRef, search: string): (forward: Forward) => Promise<Response> {
      const params = new URLSearchParams(search);
      const isVariant = params.has("preview") || params.has("channel");
      return (forward) => (isVariant ? variant(request, username, file, forward) : plain(request, username, file, forward));
    },
  };
}

export type ViewGuard = ReturnType<typeof createViewGuard>;
export type { VerdictRow };
