/**
 * Streams a multipart upload through while rewriting each part's headers: a file part keeps
 * only its field name and a safe base name. ComfyUI joins the client's file name onto the upload
 * folder and checks only that the result stays inside `input/`, so `../u-<other>/x.png` would
 * land in (and with `overwrite` replace a file in) another user's folder. Bodies pass untouched;
 * only the small header blocks between boundaries are held, up to a limit.
 */

import { RequestBodyRefused } from "../gateway/forward-http.ts";

const CRLF_CRLF = new Uint8Array([13, 10, 13, 10]);
/** A part's header block larger than this is not a browser's: the upload is refused. */
const MAX_PART_HEADER_BYTES = 16 * 1024;
/** How much of a file part is held back for `inspectFile` (image headers sit in the first bytes). */
export const FILE_HEAD_BYTES = 64 * 1024;

/** Looks at the first bytes of an uploaded file; a refusal stops the upload before they go on. */
export type FileInspector = (head: Uint8Array) => RequestBodyRefused | null;

export class MultipartRefused extends RequestBodyRefused {
  constructor(message: string) {
    super("MULTIPART_INVALID", `The upload is not a well-formed multipart body: ${message}.`);
  }
}

/** The last path segment of a client's file name, without control characters; never empty, `.` or `..`. */
export function safeUploadName(name: string): string {
  const last = name.split(/[\\/]/).pop() ?? "";
  // eslint-disable-next-line no-control-regex
  const cleaned = last.replace(/[\u0000-\u001f\u007f"]/g, "").trim();
  if (cleaned === "" || /^\.+$/.test(cleaned)) return "upload";
  return cleaned.slice(0, 255);
}

/** `filename*=UTF-8''name%20x.png` (RFC 5987), which aiohttp prefers over `filename=`. */
function extendedValue(value: string): string | null {
  const match = /^([^']*)'[^']*'(.*)$/.exec(value);
  if (match === null) return null;
  try {
    return decodeURIComponent(match[2]!);
  } catch {
    return null;
  }
}

/** Parameters of a Content-Disposition value (quoted or token values; `\\` escapes in quotes). */
export function dispositionParams(value: string): Map<string, string> {
  const params = new Map<string, string>();
  const pattern = /;\s*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (let match = pattern.exec(value); match !== null; match = pattern.exec(value)) {
    const name = match[1]!.toLowerCase();
    const raw = match[2] !== undefined ? match[2].replace(/\\(.)/g, "$1") : match[3]!.trim();
    if (!params.has(name)) params.set(name, raw);
  }
  return params;
}

/** One part's header block, rewritten: Content-Disposition rebuilt from its name and a safe file name. */
export function rewritePartHeaders(block: string): string {
  return block
    .split("\r\n")
    .map((line) => {
      const colon = line.indexOf(":");
      if (colon < 0 || line.slice(0, colon).trim().toLowerCase() !== "content-disposition") return line;
      const params = dispositionParams(line.slice(colon + 1));
      const name = (params.get("name") ?? "").replace(/["\r\n\\]/g, "");
      const extended = params.has("filename*") ? extendedValue(params.get("filename*")!) : null;
      const filename = extended ?? params.get("filename");
      return filename === undefined ? `Content-Disposition: form-data; name="${name}"` : `Content-Disposition: form-data; name="${name}"; filename="${safeUploadName(filename)}"`;
    })
    .join("\r\n");
}

/** Native search (uploads can be hundreds of MB). */
function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(needle, from);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * A TransformStream over the multipart body. After each delimiter line (`--boundary\r\n`) it
 * collects the part's headers up to the blank line, rewrites them, and passes the rest through
 * until the next delimiter. The byte count changes, so the result has no known length.
 */
export function multipartHeaderGuard(boundary: string, inspectFile?: FileInspector): TransformStream<Uint8Array, Uint8Array> {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  // The first delimiter may open the body without a preceding CRLF.
  const delimiter = encoder.encode(`\r\n--${boundary}`);
  const first = encoder.encode(`--${boundary}`);
  let pending: Uint8Array = new Uint8Array(0);
  let state: "preamble" | "headers" | "body" | "done" = "preamble";
  /** The current part is a file whose first bytes have not been inspected yet. */
  let headPending = false;

  function drain(controller: TransformStreamDefaultController<Uint8Array>, final: boolean): void {
    for (;;) {
      if (state === "done") {
        if (pending.length > 0) controller.enqueue(pending);
        pending = new Uint8Array(0);
        return;
      }
      if (state === "preamble") {
        const at = indexOf(pending, first, 0);
        if (at < 0) {
          if (final || pending.length > MAX_PART_HEADER_BYTES) throw new MultipartRefused("no multipart boundary");
          return;
        }
        // Past the boundary line: either `--` (an empty form) or CRLF, then headers.
        const after = at + first.length;
        if (pending.length < after + 2) return;
        controller.enqueue(pending.subarray(0, after + 2));
        state = pending[after] === 45 && pending[after + 1] === 45 ? "done" : "headers";
        pending = pending.subarray(after + 2);
        continue;
      }
      if (state === "headers") {
        const end = indexOf(pending, CRLF_CRLF, 0);
        if (end < 0) {
          if (pending.length > MAX_PART_HEADER_BYTES || final) throw new MultipartRefused("a part's headers are too long or cut off");
          return;
        }
        const headers = rewritePartHeaders(decoder.decode(pending.subarray(0, end)));
        controller.enqueue(encoder.encode(headers));
        controller.enqueue(CRLF_CRLF);
        pending = pending.subarray(end + 4);
        state = "body";
        headPending = inspectFile !== undefined && /; filename="/.test(headers);
        continue;
      }
      if (headPending) {
        // Hold the file's first bytes (or all of it, when shorter) until they are inspected.
        const end = indexOf(pending, delimiter, 0);
        const available = end < 0 ? pending.length : end;
        if (available < FILE_HEAD_BYTES && end < 0 && !final) return;
        headPending = false;
        const refused = inspectFile!(pending.subarray(0, Math.min(available, FILE_HEAD_BYTES)));
        if (refused !== null) throw refused;
      }
      // Body: pass everything except a tail that could be the start of the next delimiter.
      const at = indexOf(pending, delimiter, 0);
      if (at < 0) {
        const keep = final ? 0 : Math.min(pending.length, delimiter.length + 1);
        if (pending.length > keep) controller.enqueue(pending.subarray(0, pending.length - keep));
        pending = pending.subarray(pending.length - keep);
        return;
      }
      const after = at + delimiter.length;
      if (pending.length < after + 2) {
        if (final) throw new MultipartRefused("the body ends inside a boundary");
        if (at > 0) controller.enqueue(pending.subarray(0, at));
        pending = pending.subarray(at);
        return;
      }
      controller.enqueue(pending.subarray(0, after + 2));
      state = pending[after] === 45 && pending[after + 1] === 45 ? "done" : "headers";
      pending = pending.subarray(after + 2);
    }
  }

  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      pending = concat(pending, chunk);
      drain(controller, false);
    },
    flush(controller) {
      drain(controller, true);
    },
  });
}
