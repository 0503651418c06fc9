/**
 * A local stand-in for an ntfy server (Bun.serve on 127.0.0.1, port 0): it records every request
 * (method, path, headers, body bytes) and answers as ntfy does (`{id, time, event: "message",
 * topic, ...}`), or as a test scripts it: the next N requests fail with a status, every request
 * needs a token (401 `{"code":40101,"http":401,"error":"unauthorized"}` otherwise), answers come
 * late, or a redirect is sent.
 */
import type { Server } from "bun";

export interface NtfyRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
  /** The body as UTF-8 text. */
  text: string;
  at: number;
}

export interface ScriptedAnswer {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  /** Answer only after this long. */
  delayMs?: number;
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
  clear(): void;
  stop(): Promise<void>;
}

/** A header value as ntfy reads it: RFC 2047 encoded words (UTF-8, base64) decoded. */
export function decodeHeader(value: string | undefined): string {
  if (value === undefined) return "";
  const words = value.match(/=\?UTF-8\?B\?[A-Za-z0-9+/=]*\?=/gi);
  if (words === null) return value;
  return words.map((word) => Buffer.from(word.slice(10, -2), "base64").toString("utf8")).join("");
}

export async function startFakeNtfy(): Promise<FakeNtfy> {
  const requests: NtfyRequest[] = [];
  let scripted: ScriptedAnswer[] = [];
  let token: string | null = null;
  let delayMs = 0;
  let nextId = 1;

  const server: Server<undefined> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const headers: Record<string, string> = {};
      for (const [name, value] of request.headers) headers[name.toLowerCase()] = value;
      const body = new Uint8Array(await request.arrayBuffer());
      requests.push({ method: request.method, path: url.pathname + url.search, headers, body, text: new TextDecoder().decode(body), at: Date.now() });
      const answer = scripted.shift();
      const wait = answer?.delayMs ?? delayMs;
      if (wait > 0) await Bun.sleep(wait);
      if (answer !== undefined) return new Response(answer.body ?? JSON.stringify({ code: answer.status * 100 + 1, http: answer.status, error: "scripted failure" }), { status: answer.status, headers: { "content-type": "application/json", ...answer.headers } });
      if (token !== null && headers.authorization !== `Bearer ${token}`) {
        return new Response(JSON.stringify({ code: 40101, http: 401, error: "unauthorized", link: "https://ntfy.sh/docs/publish/#authentication" }), { status: 401, headers: { "content-type": "application/json" } });
      }
      const topic = url.pathname.split("/").pop() ?? "";
      const message = request.method === "PUT" ? decodeHeader(headers.message) : new TextDecoder().decode(body);
      return Response.json({ id: `fake${nextId++}`, time: Math.floor(Date.now() / 1000), event: "message", topic, message, ...(headers.filename ? { attachment: { name: headers.filename, size: body.byteLength } } : {}) });
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
    withTitle: (title) => requests.filter((request) => decodeHeader(request.headers.title) === title),
    clear: () => {
      requests.length = 0;
      scripted = [];
    },
    stop: async () => {
      await server.stop(true);
    },
  };
}
