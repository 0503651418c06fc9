/**
 * A local stand-in for an ntfy server (Bun.serve on 127.0.0.1, port 0): it records every request
 * (method, path, headers, body bytes) and answers as ntfy does (`{id, time, event: "message",
 * topic, ...}`), or as a test scripts it: the next N requests fail with a status, every request
 * needs a token (401 `{"code":40101,"http":401,"error":"unauthorized"}` otherwise), answers come
 * late, a redirect is sent, or an answer's body streams on without end.
 *
 * It reads the title and message as ntfy does (server.go, parsePublishParams): a header value is
 * decoded with Go's mime.WordDecoder.DecodeHeader (RFC 2047 encoded words, B and Q, once, never
 * again over the decoded text), then the two characters `\n` in a `Message` header become a line
 * break; a POST body is the message as it is (trimmed). So what a test finds in `title` and
 * `message` is what a phone would show.
 */
import type { Server } from "bun";

export interface NtfyRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
  /** The body as UTF-8 text. */
  text: string;
  /** The title as ntfy reads it (header decoded). */
  title: string;
  /** The message as ntfy reads it: the `Message` header decoded with `\n` made line breaks (PUT), or the body (POST). */
  message: string;
  at: number;
}

export interface ScriptedAnswer {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  /** Answer only after this long. */
  delayMs?: number;
  /** Instead of `body`: this many bytes of "x" (Infinity: without end), streamed as the reader asks for them. */
  streamBytes?: number;
}

export interface FakeNtfy {
  url: string;
  requests: NtfyRequest[];
  /** Answers for the next requests, in order (then the normal answer again). */
  script(...answers: ScriptedAnswer[]): void;
  /** Every request must carry `Authorization: Bearer <token>` (null: no check). */
  requireToken(token: string | null): void;
  /** Every answer comes this late (0: at once). */
  delay(ms: number): void;
  /** Waits until `count` requests have arrived (or throws after `ms`). */
  waitFor(count: number, ms?: number): Promise<NtfyRequest[]>;
  /** Requests whose Title header decodes to `title`. */
  withTitle(title: string): NtfyRequest[];
  /** Bytes of streamed answers (`streamBytes`) the server produced so far. */
  streamed(): number;
  clear(): void;
  stop(): Promise<void>;
}

/** The bytes of one encoded word's text (B: base64 with padding; Q: `_` is a space, `=XX` a byte), or null when it does not decode (Go: the word is left as it is). */
function decodeWordText(encoding: string, text: string): Uint8Array | null {
  if (encoding === "B" || encoding === "b") {
    if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
    return new Uint8Array(Buffer.from(text, "base64"));
  }
  if (encoding === "Q" || encoding === "q") {
    const out: number[] = [];
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (text[i] === "_") out.push(0x20);
      else if (text[i] === "=") {
        if (i + 2 >= text.length) return null;
        const hex = text.slice(i + 1, i + 3);
        if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
        out.push(parseInt(hex, 16));
        i += 2;
      } else if ((c >= 0x20 && c <= 0x7e) || c === 0x0a || c === 0x0d || c === 0x09) out.push(c);
      else return null;
    }
    return new Uint8Array(out);
  }
  return null;
}

/**
 * A header value as ntfy reads it: Go's mime.WordDecoder.DecodeHeader, ported. Encoded words
 * (`=?charset?B|Q?text?=`, charsets UTF-8, US-ASCII, ISO-8859-1) are decoded in one pass, left to
 * right; white space between two encoded words is dropped; a word that does not decode stays as
 * it is; an unknown charset leaves the whole value as it is (ntfy then uses it raw).
 */
export function decodeHeader(value: string | undefined): string {
  if (value === undefined) return "";
  let header = value;
  const first = header.indexOf("=?");
  if (first === -1) return header;
  let out = header.slice(0, first);
  header = header.slice(first);
  let betweenWords = false;
  for (;;) {
    const start = header.indexOf("=?");
    if (start === -1) break;
    let cur = start + 2;
    const q = header.indexOf("?", cur);
    if (q === -1) break;
    const charset = header.slice(cur, q);
    cur = q + 1;
    if (header.length < cur + "Q??=".length) break;
    const encoding = header[cur]!;
    cur++;
    if (header[cur] !== "?") break;
    cur++;
    const j = header.indexOf("?=", cur);
    if (j === -1) break;
    const text = header.slice(cur, j);
    const end = j + 2;
    const content = decodeWordText(encoding, text);
    if (content === null) {
      betweenWords = false;
      out += header.slice(0, start + 2);
      header = header.slice(start + 2);
      continue;
    }
    const before = header.slice(0, start);
    if (start > 0 && (!betweenWords || /[^ \t\n\r]/.test(before))) out += before;
    const lower = charset.toLowerCase();
    if (lower === "utf-8" || lower === "us-ascii") out += new TextDecoder().decode(content);
    else if (lower === "iso-8859-1") out += String.fromCharCode(...content);
    else return value; // Go: an error; ntfy keeps the raw value
    header = header.slice(end);
    betweenWords = true;
  }
  return out + header;
}

/** The message of a `Message` header as ntfy makes it: decoded and trimmed, then `\n` (two characters) made a line break. */
export function readMessageHeader(value: string | undefined): string {
  return decodeHeader(value).trim().split("\\n").join("\n");
}

export async function startFakeNtfy(): Promise<FakeNtfy> {
  const requests: NtfyRequest[] = [];
  let scripted: ScriptedAnswer[] = [];
  let token: string | null = null;
  let delayMs = 0;
  let nextId = 1;
  let streamedBytes = 0;

  const server: Server<undefined> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const headers: Record<string, string> = {};
      for (const [name, value] of request.headers) headers[name.toLowerCase()] = value;
      const body = new Uint8Array(await request.arrayBuffer());
      const text = new TextDecoder().decode(body);
      const title = decodeHeader(headers.title).trim();
      const message = headers.message !== undefined ? readMessageHeader(headers.message) : text.trim();
      requests.push({ method: request.method, path: url.pathname + url.search, headers, body, text, title, message, at: Date.now() });
      const answer = scripted.shift();
      const wait = answer?.delayMs ?? delayMs;
      if (wait > 0) await Bun.sleep(wait);
      if (answer?.streamBytes !== undefined) {
        let left = answer.streamBytes;
        const chunk = new Uint8Array(16 * 1024).fill(0x78);
        const stream = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (left <= 0) return controller.close();
            const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
            left -= part.length;
            streamedBytes += part.length;
            controller.enqueue(part);
          },
        });
        return new Response(stream, { status: answer.status, headers: { "content-type": "application/json", ...answer.headers } });
      }
      if (answer !== undefined) return new Response(answer.body ?? JSON.stringify({ code: answer.status * 100 + 1, http: answer.status, error: "scripted failure" }), { status: answer.status, headers: { "content-type": "application/json", ...answer.headers } });
      if (token !== null && headers.authorization !== `Bearer ${token}`) {
        return new Response(JSON.stringify({ code: 40101, http: 401, error: "unauthorized", link: "https://ntfy.sh/docs/publish/#authentication" }), { status: 401, headers: { "content-type": "application/json" } });
      }
      const topic = url.pathname.split("/").pop() ?? "";
      return Response.json({ id: `fake${nextId++}`, time: Math.floor(Date.now() / 1000), event: "message", topic, title, message, ...(headers.filename ? { attachment: { name: decodeHeader(headers.filename), size: body.byteLength } } : {}) });
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}`,
    requests,
    script: (...answers) => {
      scripted = [...scripted, ...answers];
    },
    requireToken: (value) => {
      token = value;
    },
    delay: (ms) => {
      delayMs = ms;
    },
    async waitFor(count, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (requests.length < count) {
        if (Date.now() > deadline) throw new Error(`fake ntfy: expected ${count} requests, got ${requests.length}: ${JSON.stringify(requests.map((r) => [r.method, r.path, decodeHeader(r.headers.title)]))}`);
        await Bun.sleep(10);
      }
      return requests.slice();
    },
    withTitle: (title) => requests.filter((request) => request.title === title),
    streamed: () => streamedBytes,
    clear: () => {
      requests.length = 0;
      scripted = [];
    },
    stop: async () => {
      await server.stop(true);
    },
  };
}
