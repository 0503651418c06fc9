/**
 * Forwards one HTTP request to ComfyUI and streams the answer back. Bodies are never buffered:
 * the request body is piped (with a byte count against the upload limit), the response body is
 * handed to the client as it arrives, still encoded as the upstream sent it.
 */
import { errorResponse } from "./error-response.ts";
import { denyForeignFraming, rewriteHeadersForUpstream, stripHopByHop } from "./forward-headers.ts";
import type { Upstream } from "./upstream.ts";

export interface ForwardOptions {
  upstream: Upstream;
  /** Path and query exactly as classified (the canonical forward target). */
  forwardTarget: string;
  maxUploadBytes: number;
  /**
   * The route usually answers with large files (`/view`): Bun's fetch streams big bodies faster
   * (about 1.4 GB/s against 1 GB/s here), the keep-alive client answers small requests faster.
   */
  largeResponses?: boolean;
  /** Headers the gateway sets on the upstream request (its own `comfy-user`). */
  setHeaders?: Readonly<Record<string, string>> | undefined;
  /** Client headers left out of the upstream request. */
  dropHeaders?: readonly string[] | undefined;
  /** Headers set on the answer (over ComfyUI's): e.g. a sandbox for user files. */
  responseHeaders?: Readonly<Record<string, string>> | undefined;
  /** Another method than the client's (an interceptor asking for something else). */
  method?: string | undefined;
  /** A body the gateway rewrote, instead of the client's. */
  replacementBody?: { body: Uint8Array | ReadableStream<Uint8Array>; length: number | null; contentType?: string | undefined } | undefined;
}

class UploadTooLarge extends Error {}

/** A body transform (e.g. the multipart guard) found the request body unacceptable: 400, not "ComfyUI is down". */
export class RequestBodyRefused extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Passes the request body through, noting each chunk (so the response timeout counts from the
 * last byte the client sent, not from the start of a slow upload) and, for a chunked body,
 * failing the stream past the limit so that it cannot slip past it.
 */
function watchBody(body: ReadableStream<Uint8Array>, maxBytes: number | null, onChunk: () => void): ReadableStream<Uint8Array> {
  let seen = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        onChunk();
        seen += chunk.byteLength;
        if (maxBytes !== null && seen > maxBytes) controller.error(new UploadTooLarge());
        else controller.enqueue(chunk);
      },
    }),
  );
}

export function tooLarge(request: Request, maxBytes: number): Response {
  return errorResponse(request, 413, "UPLOAD_TOO_LARGE", `The request body is larger than the limit of ${maxBytes} bytes.`, "Upload too large");
}

export async function forwardHttp(request: Request, options: ForwardOptions): Promise<Response> {
  const { upstream } = options;
  const method = options.method ?? request.method;
  const replacement = options.replacementBody;
  const declared = replacement === undefined ? request.headers.get("content-length") : replacement.length === null ? null : String(replacement.length);
  if (declared !== null && Number(declared) > options.maxUploadBytes) return tooLarge(request, options.maxUploadBytes);

  const headers = rewriteHeadersForUpstream(request.headers, {
    upstreamOrigin: upstream.origin,
    upstreamHost: upstream.host,
    set: options.setHeaders,
  });
  if (options.dropHeaders) for (const name of options.dropHeaders) headers.delete(name);
  if (replacement !== undefined) {
    if (declared === null) headers.delete("content-length");
    else headers.set("content-length", declared);
    if (replacement.contentType !== undefined) headers.set("content-type", replacement.contentType);
  } else if (method === "GET" || method === "HEAD") {
    headers.delete("content-length");
  }

  // ComfyUI must start answering within responseTimeoutMs of the last request byte; the body
  // may then stream for as long as it takes. (A client that goes away cancels the response body
  // stream, which ends the upstream transfer too.)
  let lastActivity = performance.now();
  const timeout = new AbortController();
  const armTimeout = (ms: number): ReturnType<typeof setTimeout> =>
    setTimeout(() => {
      const quiet = performance.now() - lastActivity;
      if (quiet >= upstream.responseTimeoutMs) timeout.abort();
      else timer = armTimeout(upstream.responseTimeoutMs - quiet);
    }, ms);
  let timer = armTimeout(upstream.responseTimeoutMs);

  let body: ReadableStream<Uint8Array> | null = null;
  const source = replacement === undefined ? request.body : replacement.body instanceof Uint8Array ? streamOf(replacement.body) : replacement.body;
  if (source !== null && method !== "GET" && method !== "HEAD") {
    // A declared length is enforced by Bun's own framing; only a chunked body needs counting.
    body = watchBody(source, declared === null ? options.maxUploadBytes : null, () => {
      lastActivity = performance.now();
    });
  }

  let response: Response;
  try {
    response = upstream.client && !options.largeResponses
      ? await upstream.client.request({
          method,
          target: upstream.basePath + options.forwardTarget,
          headers,
          body,
          bodyLength: body !== null && declared !== null ? Number(declared) : null,
          signal: timeout.signal,
        })
      : await fetch(upstream.origin + upstream.basePath + options.forwardTarget, {
          method,
          headers,
          body,
          signal: timeout.signal,
          redirect: "manual",
          decompress: false,
          duplex: "half",
        } as RequestInit);
  } catch (error) {
    if (body !== null && isUploadTooLarge(error)) return tooLarge(request, options.maxUploadBytes);
    const refused = body === null ? null : causeOfType(error, RequestBodyRefused);
    if (refused !== null) return errorResponse(request, 400, refused.code, refused.message, "Bad request");
    if (timeout.signal.aborted) {
      return errorResponse(request, 504, "UPSTREAM_TIMEOUT", `ComfyUI did not answer within ${Math.round(upstream.responseTimeoutMs / 1000)} s.`, "ComfyUI is not answering");
    }
    if (request.signal.aborted) return new Response(null, { status: 499 });
    return upstreamDown(request);
  } finally {
    clearTimeout(timer);
  }

  // The upstream response goes back as it is (status, body stream, encoding), less hop-by-hop headers.
  stripHopByHop(response.headers);
  denyForeignFraming(response.headers);
  if (options.responseHeaders !== undefined) for (const name in options.responseHeaders) response.headers.set(name, options.responseHeaders[name]!);
  return response;
}

function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

function isUploadTooLarge(error: unknown): boolean {
  return causeOfType(error, UploadTooLarge) !== null;
}

/** The error itself or one of its causes, when of that class (fetch wraps stream errors). */
function causeOfType<T extends Error>(error: unknown, type: new (...args: never[]) => T): T | null {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    if (current instanceof type) return current;
    current = current.cause;
  }
  return null;
}

export const UPSTREAM_DOWN_MESSAGE =
  "ComfyUI is not reachable: the gateway is running, but ComfyUI behind it is down or still starting. Try again in a moment.";

export function upstreamDown(request: Request): Response {
  return errorResponse(request, 502, "UPSTREAM_UNAVAILABLE", UPSTREAM_DOWN_MESSAGE, "ComfyUI is down");
}
