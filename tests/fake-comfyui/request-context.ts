/**
 * What a route handler gets: the request, its raw target, decoded path parameters and query,
 * the shared state, and body readers that enforce the upload limit the way aiohttp's
 * `client_max_size` does (checked against `Content-Length` and against the bytes actually read).
 */
import type { Server } from "bun";
import { HttpFailure, pythonException, textResponse } from "./http-responses.ts";
import type { PromptWorker } from "./prompt-worker.ts";
import { RECORDED_BODY_LIMIT, type FakeState, type RecordedRequest } from "./state.ts";
import type { SocketData } from "./socket-hub.ts";

export interface RequestContext {
  req: Request;
  server: Server<SocketData>;
  state: FakeState;
  worker: PromptWorker;
  /** Path as received, percent-encoding intact. */
  rawPath: string;
  /** Decoded query (aiohttp's `request.rel_url.query`: first value wins). */
  query: URLSearchParams;
  /** Decoded `{name}` segments of the matched route. */
  params: Record<string, string>;
  /** The entry in the request log, completed with the body once it is read. */
  recorded: RecordedRequest | null;
}

/** aiohttp's `HTTPRequestEntityTooLarge`. */
function tooLarge(maxSize: number, actualSize: number): HttpFailure {
  return new HttpFailure(
    textResponse(`Maximum request body size ${maxSize} exceeded, actual body size ${actualSize}`, 413, {
      Connection: "close",
    }),
  );
}

const bodyCache = new WeakMap<Request, Promise<Uint8Array>>();

async function readLimited(ctx: RequestContext): Promise<Uint8Array> {
  const max = ctx.state.options.maxUploadBytes;
  const declared = Number(ctx.req.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > max) throw tooLarge(max, declared);
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (ctx.req.body !== null) {
    const reader = ctx.req.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > max) {
        void reader.cancel().catch(() => {});
        throw tooLarge(max, total);
      }
      chunks.push(value);
    }
  }
  const body = chunks.length === 1 ? (chunks[0] as Uint8Array) : new Uint8Array(total);
  if (chunks.length !== 1) {
    let offset = 0;
    for (const chunk of chunks) {
      body.set(chunk, offset);
      offset += chunk.length;
    }
  }
  if (ctx.recorded !== null) {
    ctx.recorded.bodyBytes = total;
    ctx.recorded.body = total <= RECORDED_BODY_LIMIT ? new TextDecoder().decode(body) : null;
  }
  return body;
}

/** `await request.read()`: the whole body, at most `maxUploadBytes`. */
export function readBody(ctx: RequestContext): Promise<Uint8Array> {
  let pending = bodyCache.get(ctx.req);
  if (pending === undefined) {
    pending = readLimited(ctx);
    bodyCache.set(ctx.req, pending);
  }
  return pending;
}

export async function readText(ctx: RequestContext): Promise<string> {
  return new TextDecoder().decode(await readBody(ctx));
}

/** `await request.json()`: invalid or missing JSON is an uncaught exception (500). */
export async function readJson(ctx: RequestContext): Promise<unknown> {
  const text = await readText(ctx);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw pythonException("json.decoder.JSONDecodeError");
  }
}

/** Body JSON, or the given fallback when the body is empty or not JSON. */
export async function readJsonOr(ctx: RequestContext, fallback: unknown): Promise<unknown> {
  const text = await readText(ctx);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return fallback;
  }
}
