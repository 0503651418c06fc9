/**
 * aiohttp's `FileResponse` for in-memory files: guessed content type, `ETag` (`"<mtime_ns
 * hex>-<size hex>"`), `Last-Modified`, `Accept-Ranges`, single byte ranges (206/416) and
 * conditional requests (304). The body is a view of the stored content, never a copy; big
 * files are disk-backed `Bun.file` slices, which Bun streams with sendfile.
 */
import { bodyBytes } from "./http-responses.ts";

/** What Python's `mimetypes.guess_type` answers on the recording machine. */
const CONTENT_TYPES: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  bmp: "image/bmp",
  tif: "image/tiff",
  tiff: "image/tiff",
  svg: "image/svg+xml",
  txt: "text/plain",
  json: "application/json",
  html: "text/html",
  htm: "text/html",
  js: "text/javascript",
  mjs: "text/javascript",
  css: "text/css",
  mp4: "video/mp4",
  webm: "video/webm",
  mp3: "audio/mpeg",
  wav: "audio/x-wav",
  flac: "audio/flac",
  ogg: "audio/ogg",
  glb: "model/gltf-binary",
  gltf: "model/gltf+json",
  zip: "application/zip",
  pdf: "application/pdf",
};

export function guessContentType(filename: string): string | null {
  const dot = filename.lastIndexOf(".");
  if (dot === -1) return null;
  return CONTENT_TYPES[filename.slice(dot + 1).toLowerCase()] ?? null;
}

export function isImageFilename(filename: string): boolean {
  return guessContentType(filename)?.startsWith("image/") ?? false;
}

function httpDate(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toUTCString();
}

export function etagFor(mtimeMs: number, size: number): string {
  const mtimeNs = BigInt(Math.round(mtimeMs * 1000)) * 1000n;
  return `"${mtimeNs.toString(16)}-${size.toString(16)}"`;
}

interface ByteRange {
  start: number;
  end: number;
}

/** One `bytes=` range; null when absent or not understood (the whole file is sent). */
function parseRange(header: string | null, size: number): ByteRange | "unsatisfiable" | null {
  if (header === null) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return null;
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return null;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (start >= size || end < start) return "unsatisfiable";
  return { start, end };
}

export interface FileResponseOptions {
  size: number;
  /** The body for bytes [start, end). */
  body: (start: number, end: number) => Uint8Array<ArrayBuffer> | Blob;
  mtimeMs: number;
  contentType: string;
  headers?: Record<string, string>;
}

/** The body source for content held in memory. */
export function inMemory(bytes: Uint8Array): Pick<FileResponseOptions, "size" | "body"> {
  return { size: bytes.length, body: (start, end) => bodyBytes(bytes.subarray(start, end)) };
}

export function fileResponse(req: Request, { size, body, mtimeMs, contentType, headers = {} }: FileResponseOptions): Response {
  const etag = etagFor(mtimeMs, size);
  const lastModified = httpDate(mtimeMs);
  const common: Record<string, string> = {
    ...headers,
    "Content-Type": contentType,
    Etag: etag,
    "Last-Modified": lastModified,
    "Accept-Ranges": "bytes",
  };
  const ifNoneMatch = req.headers.get("if-none-match");
  const ifModifiedSince = req.headers.get("if-modified-since");
  const notModified =
    ifNoneMatch !== null
      ? ifNoneMatch.split(",").some((tag) => tag.trim() === etag || tag.trim() === "*")
      : ifModifiedSince !== null && Date.parse(ifModifiedSince) >= Math.floor(mtimeMs / 1000) * 1000;
  if (notModified) return new Response(null, { status: 304, headers: { Etag: etag, "Last-Modified": lastModified } });

  const range = parseRange(req.headers.get("range"), size);
  if (range === "unsatisfiable") {
    return new Response(null, { status: 416, headers: { "Content-Range": `bytes */${size}` } });
  }
  if (range !== null) {
    return new Response(body(range.start, range.end + 1), {
      status: 206,
      headers: { ...common, "Content-Range": `bytes ${range.start}-${range.end}/${size}` },
    });
  }
  return new Response(body(0, size), { status: 200, headers: common });
}
