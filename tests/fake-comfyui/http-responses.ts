/**
 * The response shapes aiohttp produces, as recorded from ComfyUI 0.3.64 (fixture README,
 * findings 21 and 22). The differences matter to a proxy: a handler-made `web.Response(status=…)`
 * has `Content-Length: 0` and no `Content-Type`, the static catch-all 404 has
 * `Content-Type: application/octet-stream`, and an unhandled exception becomes a text/plain 500
 * page with `Connection: close`.
 */
import { pyJsonDumps } from "./py-json.ts";

export const JSON_CONTENT_TYPE = "application/json; charset=utf-8";
export const TEXT_CONTENT_TYPE = "text/plain; charset=utf-8";

/** `web.json_response(value, status=…)`. */
export function jsonResponse(value: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(pyJsonDumps(value), {
    status,
    headers: { "Content-Type": JSON_CONTENT_TYPE, ...headers },
  });
}

/** `web.Response(status=…)`: `Content-Length: 0`, no `Content-Type` (Bun omits it for a null body). */
export function emptyResponse(status = 200, headers: Record<string, string> = {}): Response {
  return new Response(null, { status, headers });
}

/** `web.Response(status=…, text=…)`. */
export function textResponse(text: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(text, { status, headers: { "Content-Type": TEXT_CONTENT_TYPE, ...headers } });
}

/** aiohttp's own page for an exception a handler did not catch (finding 22). */
export function internalServerError(): Response {
  return new Response("500 Internal Server Error\n\nServer got itself in trouble", {
    status: 500,
    headers: { "Content-Type": TEXT_CONTENT_TYPE, Connection: "close" },
  });
}

/** A raised `web.HTTPException` with its default body, e.g. `401: Unauthorized`. */
export function httpException(status: number, reason: string, headers: Record<string, string> = {}): Response {
  return textResponse(`${status}: ${reason}`, status, headers);
}

/**
 * The static catch-all's 404 (finding 21). aiohttp sends it chunked; Bun always sends an empty
 * body with `Content-Length: 0`, so only the `Content-Type` tells the two 404 kinds apart here.
 */
export function staticNotFound(): Response {
  return new Response(null, { status: 404, headers: { "Content-Type": "application/octet-stream" } });
}

export function methodNotAllowed(allowed: Iterable<string>): Response {
  const allow = [...new Set(allowed)].sort().join(",");
  return httpException(405, "Method Not Allowed", { Allow: allow });
}

/**
 * Thrown by handlers and helpers to end a request with a ready response, the way aiohttp code
 * raises `HTTPException`s or lets a Python exception turn into the 500 page.
 */
export class HttpFailure extends Error {
  constructor(readonly response: Response, message = `HTTP ${response.status}`) {
    super(message);
    this.name = "HttpFailure";
  }
}

/** Stands for "the Python handler raised here": the caller gets aiohttp's 500 page. */
export function pythonException(message: string): HttpFailure {
  return new HttpFailure(internalServerError(), message);
}

/**
 * A byte view as a response body, without copying. Stored files are plain `Uint8Array`s whose
 * buffer type TypeScript cannot prove is not shared; it never is here.
 */
export function bodyBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes as Uint8Array<ArrayBuffer>;
}
