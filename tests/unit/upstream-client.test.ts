/**
 * The upstream HTTP/1.1 client against real loopback servers: a Bun.serve upstream for ordinary
 * traffic, raw `node:net` servers for everything a well-behaved server would never send. No
 * assertion depends on timing: waits poll for a condition with a generous deadline.
 */
import { afterEach, beforeAll, afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import net from "node:net";
import { createUpstreamClient, UpstreamError } from "../../src/gateway/upstream-client.ts";
import type { UpstreamClient, UpstreamClientOptions, UpstreamRequestInit } from "../../src/gateway/upstream-client.ts";

const MB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Helpers

const clients: UpstreamClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

function clientFor(port: number, options: Partial<UpstreamClientOptions> = {}): UpstreamClient {
  const client = createUpstreamClient({ host: "127.0.0.1", port, ...options });
  clients.push(client);
  return client;
}

function get(target: string, extra: Partial<UpstreamRequestInit> = {}): UpstreamRequestInit {
  return { method: "GET", target, headers: new Headers(), body: null, bodyLength: null, ...extra };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

/** Waits until `read()` stops changing for a while (or the deadline passes) and returns the value. */
async function settledValue(read: () => number, quietMs = 500, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = read();
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    await Bun.sleep(25);
    const now = read();
    if (now !== last) {
      last = now;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= quietMs) {
      break;
    }
  }
  return last;
}

async function rejection(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(UpstreamError);
    return error as UpstreamError;
  }
  throw new Error("expected a rejection");
}

/** The error of a request, whether it rejects before the head or its body errors after it. */
async function exchangeError(promise: Promise<Response>): Promise<UpstreamError> {
  let response: Response;
  try {
    response = await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(UpstreamError);
    return error as UpstreamError;
  }
  try {
    await response.arrayBuffer();
  } catch (error) {
    expect(error).toBeInstanceOf(UpstreamError);
    return error as UpstreamError;
  }
  throw new Error("expected the exchange to fail");
}

/** A deterministic byte pattern, generated on the fly in `chunkSize` pieces, never held whole. */
function patternStream(total: number, chunkSize = 64 * 1024, onPull?: (bytes: number) => void): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (sent >= total) {
          controller.close();
          return;
        }
        const size = Math.min(chunkSize, total - sent);
        const chunk = new Uint8Array(size);
        for (let i = 0; i < size; i++) chunk[i] = (sent + i) % 251;
        sent += size;
        onPull?.(sent);
        controller.enqueue(chunk);
      },
    },
    { highWaterMark: 0 },
  );
}

function sha256Of(total: number): string {
  const hash = createHash("sha256");
  const chunk = new Uint8Array(64 * 1024);
  for (let sent = 0; sent < total; sent += chunk.length) {
    const size = Math.min(chunk.length, total - sent);
    for (let i = 0; i < size; i++) chunk[i] = (sent + i) % 251;
    hash.update(chunk.subarray(0, size));
  }
  return hash.digest("hex");
}

async function drain(body: ReadableStream<Uint8Array>): Promise<{ bytes: number; chunks: number; sha256: string }> {
  const hash = createHash("sha256");
  let bytes = 0;
  let chunks = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    hash.update(value);
    bytes += value.byteLength;
    chunks++;
  }
  return { bytes, chunks, sha256: hash.digest("hex") };
}

interface RawServer {
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Connections the peer has closed (or that errored). */
  readonly closed: number;
  close(): Promise<void>;
}

const rawServers: RawServer[] = [];
afterEach(async () => {
  for (const server of rawServers.splice(0)) await server.close();
});

/** A raw TCP server; `onConnection` gets each socket and its 0-based index. */
async function rawServer(onConnection: (socket: net.Socket, index: number) => void): Promise<RawServer> {
  let connections = 0;
  let closed = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => {
      closed++;
      sockets.delete(socket);
    });
    onConnection(socket, connections++);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const raw: RawServer = {
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return connections;
    },
    get closed() {
      return closed;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  rawServers.push(raw);
  return raw;
}

/**
 * Calls `onRequest` for every request arriving on `socket` (head text and body bytes, framed by
 * Content-Length or chunked, the way our client sends them).
 */
function onRequests(socket: net.Socket, onRequest: (head: string, body: Buffer, index: number) => void): void {
  let buffered = Buffer.alloc(0);
  let index = 0;
  socket.on("data", (data: Buffer) => {
    buffered = Buffer.concat([buffered, data]);
    for (;;) {
      const end = buffered.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buffered.toString("latin1", 0, end);
      const length = /\r\ncontent-length: (\d+)/i.exec(head);
      let body: Buffer;
      let consumed: number;
      if (length) {
        consumed = end + 4 + Number(length[1]);
        if (buffered.length < consumed) return;
        body = buffered.subarray(end + 4, consumed);
      } else if (/\r\ntransfer-encoding: chunked/i.test(head)) {
        const terminator = buffered.indexOf("0\r\n\r\n", end + 4);
        if (terminator < 0) return;
        consumed = terminator + 5;
        body = buffered.subarray(end + 4, consumed);
      } else {
        consumed = end + 4;
        body = Buffer.alloc(0);
      }
      buffered = buffered.subarray(consumed);
      onRequest(head, body, index++);
    }
  });
}

const OK_RESPONSE = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

// ---------------------------------------------------------------------------------------------
// A well-behaved upstream (Bun.serve)

describe("against Bun.serve", () => {
  let upstream: ReturnType<typeof Bun.serve>;
  /** Client ports seen by the upstream: one per TCP connection. */
  const clientPorts = new Set<number>();
  let gate: { waiting: number; release: (() => void) | null; promise: Promise<void> } | null = null;

  beforeAll(() => {
    upstream = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      idleTimeout: 60,
      async fetch(request, server) {
        // null when the client already dropped the connection (the body-error tests do).
        const peer = server.requestIP(request);
        if (peer !== null) clientPorts.add(peer.port);
        const url = new URL(request.url);
        switch (url.pathname) {
          case "/json":
            return Response.json({ exec_info: { queue_remaining: 0 } }, { headers: { "x-test": "1" } });
          case "/echo-meta":
            return Response.json({
              method: request.method,
              contentLength: request.headers.get("content-length"),
              transferEncoding: request.headers.get("transfer-encoding"),
              host: request.headers.get("host"),
              custom: request.headers.get("x-custom"),
            });
          case "/echo":
            return new Response(request.body, { headers: { "content-type": "application/octet-stream" } });
          case "/hash-upload": {
            const result = await drain(request.body!);
            return Response.json({ bytes: result.bytes, sha256: result.sha256, te: request.headers.get("transfer-encoding") });
          }
          case "/big-stream":
            return new Response(patternStream(20 * MB));
          case "/big-length":
            return new Response(await new Response(patternStream(20 * MB)).arrayBuffer());
          case "/chunked":
            // Asynchronous, so Bun.serve cannot know the length up front and sends it chunked.
            return new Response(
              new ReadableStream({
                async start(controller) {
                  controller.enqueue(new TextEncoder().encode("first,"));
                  await Bun.sleep(5);
                  controller.enqueue(new TextEncoder().encode("second"));
                  controller.close();
                },
              }),
            );
          case "/empty":
            return new Response(null, { status: 204, headers: { "x-empty": "yes" } });
          case "/not-modified":
            return new Response(null, { status: 304, headers: { etag: '"v1"' } });
          case "/cookies": {
            const headers = new Headers({ "content-type": "text/plain" });
            headers.append("set-cookie", "a=1; Path=/; HttpOnly");
            headers.append("set-cookie", "b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT");
            return new Response("cookies", { status: 201, headers });
          }
          case "/gate": {
            // Holds requests until the test opens the gate, to force concurrent connections.
            const current = gate!;
            current.waiting++;
            await current.promise;
            return new Response("through");
          }
          default:
            return new Response("no such route", { status: 404 });
        }
      },
    });
  });

  afterAll(() => {
    upstream.stop(true);
  });

  function client(options: Partial<UpstreamClientOptions> = {}): UpstreamClient {
    return clientFor(upstream.port!, options);
  }

  test("GET: status, status text, headers and a JSON body", async () => {
    const response = await client().request(get("/json"));
    expect(response.status).toBe(200);
    expect(response.statusText).toBe("OK");
    expect(response.headers.get("content-type")).toContain("application/json");
    expect(response.headers.get("x-test")).toBe("1");
    expect(await response.json()).toEqual({ exec_info: { queue_remaining: 0 } });
  });

  test("the request goes out with the caller's headers, the right framing, and host", async () => {
    const c = client();
    const meta = async (init: UpstreamRequestInit) => (await c.request(init)).json();
    expect(await meta(get("/echo-meta", { headers: new Headers({ "x-custom": "v", host: "comfy.local" }) }))).toEqual({
      method: "GET",
      contentLength: null,
      transferEncoding: null,
      host: "comfy.local",
      custom: "v",
    });
    // No host from the caller: the client supplies the origin's.
    expect((await meta(get("/echo-meta"))).host).toBe(`127.0.0.1:${upstream.port}`);
    // POST without a body still says it has none; a stale content-length from the caller is replaced.
    expect(await meta({ method: "POST", target: "/echo-meta", headers: new Headers({ "content-length": "55" }), body: null, bodyLength: null })).toMatchObject({
      method: "POST",
      contentLength: "0",
      transferEncoding: null,
    });
  });

  test("POST with a declared length and with a chunked body, echoed back", async () => {
    const c = client();
    const fixed = await c.request({ method: "POST", target: "/echo", headers: new Headers(), body: new Blob(["hello upstream"]).stream(), bodyLength: 14 });
    expect(await fixed.text()).toBe("hello upstream");
    const chunked = await c.request({ method: "POST", target: "/echo", headers: new Headers(), body: new Blob(["chunked ", "body"]).stream(), bodyLength: null });
    expect(await chunked.text()).toBe("chunked body");
    const meta = await (await c.request({ method: "PUT", target: "/echo-meta", headers: new Headers(), body: new Blob(["x"]).stream(), bodyLength: null })).json();
    expect(meta).toMatchObject({ method: "PUT", contentLength: null, transferEncoding: "chunked" });
  });

  test("a 20 MB upload streams, with Content-Length and chunked", async () => {
    const c = client();
    const expected = sha256Of(20 * MB);
    const withLength = await c.request({ method: "POST", target: "/hash-upload", headers: new Headers(), body: patternStream(20 * MB), bodyLength: 20 * MB });
    expect(await withLength.json()).toEqual({ bytes: 20 * MB, sha256: expected, te: null });
    const chunked = await c.request({ method: "POST", target: "/hash-upload", headers: new Headers(), body: patternStream(20 * MB), bodyLength: null });
    expect(await chunked.json()).toEqual({ bytes: 20 * MB, sha256: expected, te: "chunked" });
  });

  test("a 20 MB download streams in many chunks, chunked and with Content-Length", async () => {
    const c = client();
    const expected = sha256Of(20 * MB);
    for (const target of ["/big-stream", "/big-length"]) {
      const response = await c.request(get(target));
      const result = await drain(response.body!);
      expect(result.bytes).toBe(20 * MB);
      expect(result.sha256).toBe(expected);
      expect(result.chunks).toBeGreaterThan(1);
    }
    // Both bodies were read to their end: the connection was kept.
    expect(c.idleConnections).toBe(1);
  });

  test("a chunked response is de-chunked; its headers are as received", async () => {
    const response = await client().request(get("/chunked"));
    expect(response.headers.get("transfer-encoding")).toBe("chunked");
    expect(await response.text()).toBe("first,second");
  });

  test("HEAD, 204 and 304 have a null body, and their connection is not reused (a late body could be read as the next answer)", async () => {
    const c = client();
    const before = clientPorts.size;
    const head = await c.request(get("/json", { method: "HEAD" }));
    expect(head.status).toBe(200);
    expect(head.body).toBeNull();
    expect(Number(head.headers.get("content-length"))).toBeGreaterThan(0);
    const empty = await c.request(get("/empty"));
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
    expect(empty.headers.get("x-empty")).toBe("yes");
    const notModified = await c.request(get("/not-modified"));
    expect(notModified.status).toBe(304);
    expect(notModified.body).toBeNull();
    expect(notModified.headers.get("etag")).toBe('"v1"');
    expect(await (await c.request(get("/json"))).json()).toEqual({ exec_info: { queue_remaining: 0 } });
    expect(clientPorts.size - before).toBe(4);
  });

  test("two Set-Cookie headers stay two", async () => {
    const response = await client().request(get("/cookies"));
    expect(response.status).toBe(201);
    expect(response.statusText).toBe("Created");
    expect(response.headers.getSetCookie()).toEqual(["a=1; Path=/; HttpOnly", "b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT"]);
    expect(await response.text()).toBe("cookies");
  });

  test("keep-alive: sequential requests share one connection", async () => {
    const c = client();
    const before = clientPorts.size;
    for (let i = 0; i < 20; i++) {
      const response = await c.request(i % 2 === 0 ? get("/json") : { method: "POST", target: "/echo", headers: new Headers(), body: new Blob([`n${i}`]).stream(), bodyLength: null });
      await response.arrayBuffer();
    }
    expect(clientPorts.size - before).toBe(1);
    expect(c.idleConnections).toBe(1);
  });

  test("busy sockets never queue requests; idle ones are capped at maxIdlePerOrigin", async () => {
    const c = client({ maxIdlePerOrigin: 2 });
    let release!: () => void;
    gate = { waiting: 0, release: null, promise: new Promise<void>((resolve) => (release = resolve)) };
    const before = clientPorts.size;
    const pending = Array.from({ length: 5 }, () => c.request(get("/gate")).then((r) => r.text()));
    // All five are at the upstream at once: five connections were opened, none waited.
    await waitFor(() => gate!.waiting === 5, "five concurrent requests");
    expect(clientPorts.size - before).toBe(5);
    release();
    expect(await Promise.all(pending)).toEqual(Array(5).fill("through"));
    expect(c.idleConnections).toBe(2);
  });

  test("many concurrent mixed requests all get their own answer", async () => {
    const c = client();
    const one = async (i: number): Promise<void> => {
      if (i % 3 === 0) {
        const response = await c.request(get("/json"));
        expect(await response.json()).toEqual({ exec_info: { queue_remaining: 0 } });
      } else {
        const payload = `payload-${i}-${"x".repeat(i * 97)}`;
        const response = await c.request({ method: "POST", target: "/echo", headers: new Headers(), body: new Blob([payload]).stream(), bodyLength: i % 2 === 0 ? payload.length : null });
        expect(await response.text()).toBe(payload);
      }
    };
    for (let round = 0; round < 4; round++) await Promise.all(Array.from({ length: 50 }, (_, i) => one(round * 50 + i)));
    expect(c.idleConnections).toBeGreaterThan(0);
    expect(c.idleConnections).toBeLessThanOrEqual(50);
  });

  test("idle sockets are closed after idleTimeoutMs", async () => {
    const c = client({ idleTimeoutMs: 50 });
    await (await c.request(get("/json"))).arrayBuffer();
    expect(c.idleConnections).toBe(1);
    await waitFor(() => c.idleConnections === 0, "the idle socket to be swept");
    const before = clientPorts.size;
    expect((await c.request(get("/json"))).status).toBe(200);
    expect(clientPorts.size - before).toBe(1);
  });

  test("close() drops pooled sockets; later requests fail with kind closed", async () => {
    const c = client();
    await (await c.request(get("/json"))).arrayBuffer();
    expect(c.idleConnections).toBe(1);
    c.close();
    expect(c.idleConnections).toBe(0);
    expect((await rejection(c.request(get("/json")))).kind).toBe("closed");
  });

  test("a failing request body rejects with kind body-error and the original error as cause", async () => {
    const c = client();
    const boom = new Error("upload limit exceeded");
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulls++ < 3) controller.enqueue(new Uint8Array(1000));
        else controller.error(boom);
      },
    });
    const error = await rejection(c.request({ method: "POST", target: "/hash-upload", headers: new Headers(), body, bodyLength: null }));
    expect(error.kind).toBe("body-error");
    expect(error.cause).toBe(boom);
    // The same shape as the forwarder's upload limit: a TransformStream that errors.
    class TooLarge extends Error {}
    let seen = 0;
    const limited = patternStream(1 * MB).pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          seen += chunk.byteLength;
          if (seen > 200_000) controller.error(new TooLarge());
          else controller.enqueue(chunk);
        },
      }),
    );
    const limitError = await rejection(c.request({ method: "POST", target: "/hash-upload", headers: new Headers(), body: limited, bodyLength: null }));
    expect(limitError.kind).toBe("body-error");
    expect(limitError.cause).toBeInstanceOf(TooLarge);
    // The broken exchanges did not poison the pool.
    expect(await (await c.request(get("/json"))).json()).toEqual({ exec_info: { queue_remaining: 0 } });
  });

  test("a body that does not match its declared length is a body-error", async () => {
    const c = client();
    const short = await rejection(c.request({ method: "POST", target: "/hash-upload", headers: new Headers(), body: new Blob(["12345"]).stream(), bodyLength: 10 }));
    expect(short.kind).toBe("body-error");
    const long = await rejection(c.request({ method: "POST", target: "/hash-upload", headers: new Headers(), body: new Blob(["12345"]).stream(), bodyLength: 3 }));
    expect(long.kind).toBe("body-error");
  });

  test("invalid requests are refused before anything is sent", async () => {
    const c = client();
    await expect(c.request(get("/a b"))).rejects.toThrow(TypeError);
    await expect(c.request(get("/x", { method: "GET\r\nX: y" }))).rejects.toThrow(TypeError);
    await expect(c.request(get("/x", { bodyLength: 5 }))).rejects.toThrow(TypeError);
    await expect(c.request(get("/x", { bodyLength: -1, body: new Blob(["x"]).stream() }))).rejects.toThrow(TypeError);
  });

  test("an already aborted signal rejects at once", async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await rejection(client().request(get("/json", { signal: controller.signal })));
    expect(error.kind).toBe("aborted");
    expect(error.name).toBe("AbortError");
  });
});

// ---------------------------------------------------------------------------------------------
// Raw servers: the nasty cases

describe("against raw servers", () => {
  test("the request head is written exactly as expected", async () => {
    const heads: string[] = [];
    const bodies: string[] = [];
    const server = await rawServer((socket) =>
      onRequests(socket, (head, body) => {
        heads.push(head);
        bodies.push(body.toString("latin1"));
        socket.write(OK_RESPONSE);
      }),
    );
    const c = clientFor(server.port);
    await (await c.request(get("/api/queue?x=1&y=%20", { headers: new Headers({ host: "127.0.0.1:8188", "x-a": "1" }) }))).text();
    await (await c.request({ method: "POST", target: "/prompt", headers: new Headers({ "content-type": "application/json", "content-length": "999" }), body: new Blob(['{"a":1}']).stream(), bodyLength: 7 })).text();
    await (await c.request({ method: "POST", target: "/upload", headers: new Headers(), body: new Blob(["abc", "de"]).stream(), bodyLength: null })).text();
    expect(heads[0]).toBe("GET /api/queue?x=1&y=%20 HTTP/1.1\r\nhost: 127.0.0.1:8188\r\nx-a: 1");
    expect(heads[1]).toBe(`POST /prompt HTTP/1.1\r\ncontent-type: application/json\r\nhost: 127.0.0.1:${server.port}\r\ncontent-length: 7`);
    expect(bodies[1]).toBe('{"a":1}');
    expect(heads[2]).toBe(`POST /upload HTTP/1.1\r\nhost: 127.0.0.1:${server.port}\r\ntransfer-encoding: chunked`);
    expect(bodies[2]).toMatch(/^(3\r\nabc\r\n2\r\nde\r\n|5\r\nabcde\r\n)0\r\n\r\n$/);
    expect(server.connections).toBe(1);
  });

  test("non-HTTP garbage is a protocol error at once, and the socket is closed", async () => {
    const server = await rawServer((socket) => socket.once("data", () => socket.write("SSH-2.0-OpenSSH_9.6\r\n")));
    const c = clientFor(server.port);
    expect((await rejection(c.request(get("/")))).kind).toBe("protocol");
    await waitFor(() => server.closed === 1, "the client to close the connection");
    expect(c.idleConnections).toBe(0);
  });

  test("Content-Length together with Transfer-Encoding is refused", async () => {
    const server = await rawServer((socket) =>
      socket.once("data", () => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")),
    );
    const c = clientFor(server.port);
    expect((await rejection(c.request(get("/")))).kind).toBe("protocol");
    await waitFor(() => server.closed === 1, "the client to close the connection");
  });

  test("a bad chunk size is a protocol error", async () => {
    const server = await rawServer((socket) =>
      socket.once("data", async () => {
        socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
        await Bun.sleep(20);
        socket.write("zz\r\nnope\r\n0\r\n\r\n");
      }),
    );
    const c = clientFor(server.port);
    expect((await exchangeError(c.request(get("/")))).kind).toBe("protocol");
    await waitFor(() => server.closed === 1, "the client to close the connection");
    expect(c.idleConnections).toBe(0);
  });

  test("a body cut short of its Content-Length errors the stream (protocol)", async () => {
    const server = await rawServer((socket) =>
      socket.once("data", () => {
        socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
        socket.end("only fifty bytes.................................");
      }),
    );
    const c = clientFor(server.port);
    const response = await c.request(get("/"));
    expect(response.status).toBe(200);
    const error = await rejection(response.arrayBuffer());
    expect(error.kind).toBe("protocol");
    expect(c.idleConnections).toBe(0);
  });

  test("a chunked body cut short errors the stream (protocol)", async () => {
    const server = await rawServer((socket) =>
      socket.once("data", () => socket.end("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")),
    );
    expect((await exchangeError(clientFor(server.port).request(get("/")))).kind).toBe("protocol");
  });

  test("a response head larger than maxHeaderBytes is refused (default 64 KiB, and custom)", async () => {
    const server = await rawServer((socket) =>
      socket.once("data", () => {
        // Never finishes the head: the limit, not the close, must end this.
        socket.write(`HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(70_000)}`);
      }),
    );
    expect((await rejection(clientFor(server.port).request(get("/")))).kind).toBe("protocol");
    expect((await rejection(clientFor(server.port, { maxHeaderBytes: 1024 }).request(get("/")))).kind).toBe("protocol");
    await waitFor(() => server.closed === 2, "both connections to be closed");
  });

  test("a head split over many packets is reassembled", async () => {
    const response = "HTTP/1.1 200 Fine\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 5\r\n\r\nhello";
    const server = await rawServer((socket) => {
      socket.setNoDelay(true);
      socket.once("data", async () => {
        for (let i = 0; i < response.length; i += 7) {
          socket.write(response.slice(i, i + 7));
          await Bun.sleep(1);
        }
      });
    });
    const result = await clientFor(server.port).request(get("/"));
    expect(result.statusText).toBe("Fine");
    expect(result.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(await result.text()).toBe("hello");
  });

  test("an interim response followed by a split head, and a large head in 1 KiB pieces", async () => {
    const bigValue = "v".repeat(40_000);
    const pieces = [
      ["HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Le", "ngth: 3\r\n\r", "\nabc"],
      (() => {
        const whole = `HTTP/1.1 200 OK\r\nX-Big: ${bigValue}\r\nContent-Length: 2\r\n\r\nhi`;
        const out: string[] = [];
        for (let i = 0; i < whole.length; i += 1024) out.push(whole.slice(i, i + 1024));
        return out;
      })(),
    ];
    const server = await rawServer((socket, index) => {
      socket.setNoDelay(true);
      socket.once("data", async () => {
        for (const piece of pieces[index]!) {
          socket.write(piece);
          await Bun.sleep(2);
        }
      });
    });
    const first = await clientFor(server.port).request(get("/"));
    expect(await first.text()).toBe("abc");
    const second = await clientFor(server.port).request(get("/"));
    expect(second.headers.get("x-big")).toBe(bigValue);
    expect(await second.text()).toBe("hi");
  });

  test("100 Continue and 103 Early Hints are skipped; 101 is a protocol error", async () => {
    const server = await rawServer((socket, index) =>
      socket.once("data", async () => {
        if (index === 0) {
          socket.write("HTTP/1.1 100 Continue\r\n\r\n");
          await Bun.sleep(20);
          socket.write("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal");
        } else {
          socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
        }
      }),
    );
    const c = clientFor(server.port);
    const response = await c.request(get("/"));
    expect(response.status).toBe(200);
    expect(response.headers.get("link")).toBeNull();
    expect(await response.text()).toBe("real");
    // A second client, so a second connection, which gets the 101.
    const other = clientFor(server.port);
    expect((await rejection(other.request(get("/")))).kind).toBe("protocol");
  });

  test("a body delimited by the connection close is read to the end", async () => {
    const server = await rawServer((socket) =>
      socket.once("data", async () => {
        socket.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ");
        await Bun.sleep(20);
        socket.end("part two");
      }),
    );
    const c = clientFor(server.port);
    const response = await c.request(get("/"));
    expect(await response.text()).toBe("part one, part two");
    expect(c.idleConnections).toBe(0);
  });

  test("Connection: close, HTTP/1.0 and bytes beyond the body each keep a socket out of the pool", async () => {
    const responses = [
      "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
    ];
    const server = await rawServer((socket, index) => socket.once("data", () => socket.write(responses[index]!)));
    const c = clientFor(server.port);
    for (let i = 0; i < responses.length; i++) {
      expect(await (await c.request(get("/"))).text()).toBe("ok");
      expect(c.idleConnections).toBe(0);
    }
    // The client closed each one itself (the server kept them open).
    await waitFor(() => server.closed === 3, "the client to close all three");
    expect(server.connections).toBe(3);
  });

  test("bytes arriving on an idle pooled socket get it dropped", async () => {
    const server = await rawServer((socket) =>
      socket.once("data", async () => {
        socket.write(OK_RESPONSE);
        await Bun.sleep(30);
        socket.write("HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n");
      }),
    );
    const c = clientFor(server.port);
    expect(await (await c.request(get("/"))).text()).toBe("ok");
    expect(c.idleConnections).toBe(1);
    await waitFor(() => c.idleConnections === 0, "the out-of-sync socket to be dropped");
    await waitFor(() => server.closed === 1, "the connection to be closed");
  });

  test("a pooled socket the server closed while idle is noticed and not reused", async () => {
    const server = await rawServer((socket) =>
      onRequests(socket, () => {
        socket.write(OK_RESPONSE);
        setTimeout(() => socket.end(), 20);
      }),
    );
    const c = clientFor(server.port);
    expect(await (await c.request(get("/"))).text()).toBe("ok");
    await waitFor(() => c.idleConnections === 0, "the closed socket to leave the pool");
    expect(await (await c.request(get("/"))).text()).toBe("ok");
    expect(server.connections).toBe(2);
  });

  /**
   * The keep-alive race: the server gives up on an idle connection just as a request is sent on
   * it. This server answers the first request on a connection and then drops the connection when
   * the next request arrives, without a byte of response.
   */
  async function stalePoolServer(): Promise<{ server: RawServer; requests: string[] }> {
    const requests: string[] = [];
    const server = await rawServer((socket) =>
      onRequests(socket, (head, _body, index) => {
        requests.push(head.slice(0, head.indexOf("\r\n")));
        if (index === 0) socket.write(OK_RESPONSE);
        else socket.destroy();
      }),
    );
    return { server, requests };
  }

  test("a request without body on a stale pooled socket is retried once on a fresh connection", async () => {
    const { server, requests } = await stalePoolServer();
    const c = clientFor(server.port);
    expect(await (await c.request(get("/first"))).text()).toBe("ok");
    const second = await c.request(get("/second"));
    expect(second.status).toBe(200);
    expect(await second.text()).toBe("ok");
    expect(requests).toEqual(["GET /first HTTP/1.1", "GET /second HTTP/1.1", "GET /second HTTP/1.1"]);
    expect(server.connections).toBe(2);
    // A bodiless POST counts as replayable too.
    const post = await c.request({ method: "POST", target: "/third", headers: new Headers(), body: null, bodyLength: null });
    expect(await post.text()).toBe("ok");
  });

  test("a request whose body was already being read is not replayed", async () => {
    const { server, requests } = await stalePoolServer();
    const c = clientFor(server.port);
    expect(await (await c.request(get("/first"))).text()).toBe("ok");
    const error = await rejection(c.request({ method: "POST", target: "/upload", headers: new Headers(), body: new Blob(["payload"]).stream(), bodyLength: 7 }));
    expect(error.kind).toBe("reset");
    expect(requests).toEqual(["GET /first HTTP/1.1", "POST /upload HTTP/1.1"]);
    expect(server.connections).toBe(1);
  });

  test("a fresh connection that closes without answering is a reset (no retry)", async () => {
    const server = await rawServer((socket) => socket.once("data", () => socket.destroy()));
    const c = clientFor(server.port);
    expect((await rejection(c.request(get("/")))).kind).toBe("reset");
    expect(server.connections).toBe(1);
  });

  test("connection refused is kind connect", async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const error = await rejection(clientFor(port).request(get("/")));
    expect(error.kind).toBe("connect");
    expect(error.cause).toBeInstanceOf(Error);
  });

  test("aborting before the head rejects with AbortError and destroys the connection", async () => {
    let received = false;
    const server = await rawServer((socket) => socket.once("data", () => (received = true)));
    const c = clientFor(server.port);
    const controller = new AbortController();
    const pending = c.request(get("/slow", { signal: controller.signal }));
    await waitFor(() => received, "the request to reach the server");
    const reason = new Error("gateway timeout");
    controller.abort(reason);
    const error = await rejection(pending);
    expect(error.kind).toBe("aborted");
    expect(error.name).toBe("AbortError");
    expect(error.cause).toBe(reason);
    await waitFor(() => server.closed === 1, "the connection to be destroyed");
    expect(c.idleConnections).toBe(0);
  });

  test("aborting while still connecting rejects, and the late socket is closed", async () => {
    const server = await rawServer(() => {});
    const c = clientFor(server.port);
    const controller = new AbortController();
    const pending = c.request(get("/", { signal: controller.signal }));
    controller.abort(); // Bun.connect has not completed yet: this is synchronous with the call
    expect((await rejection(pending)).kind).toBe("aborted");
    // Whether or not the connection got as far as the server, it does not stay open or pooled.
    await Bun.sleep(50);
    await waitFor(() => server.closed === server.connections, "any accepted connection to be closed");
    expect(c.idleConnections).toBe(0);
  });

  test("the signal no longer matters once the head has arrived", async () => {
    const server = await rawServer((socket) =>
      socket.once("data", async () => {
        socket.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello");
        await Bun.sleep(30);
        socket.write("world");
      }),
    );
    const controller = new AbortController();
    const response = await clientFor(server.port).request(get("/", { signal: controller.signal }));
    controller.abort();
    expect(await response.text()).toBe("helloworld");
  });

  test("cancelling the body mid-way destroys the connection", async () => {
    let written = 0;
    const server = await rawServer((socket) =>
      socket.once("data", () => {
        const total = 200 * MB;
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${total}\r\n\r\n`);
        const chunk = Buffer.alloc(256 * 1024, 7);
        const pump = () => {
          while (written < total && !socket.destroyed) {
            written += chunk.length;
            if (!socket.write(chunk)) {
              socket.once("drain", pump);
              return;
            }
          }
        };
        pump();
      }),
    );
    const c = clientFor(server.port);
    const response = await c.request(get("/big"));
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    await reader.cancel();
    await waitFor(() => server.closed === 1, "the server to see the connection close");
    expect(c.idleConnections).toBe(0);
    expect(written).toBeLessThan(200 * MB);
  });

  test("a paused reader pauses the socket: a 200 MB body is not buffered", async () => {
    const total = 200 * MB;
    let accepted = 0; // bytes the server's socket accepted (kernel buffers included)
    const server = await rawServer((socket) =>
      socket.once("data", () => {
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${total}\r\n\r\n`);
        const chunk = Buffer.alloc(256 * 1024, 3);
        const pump = () => {
          while (accepted < total && !socket.destroyed) {
            accepted += chunk.length;
            if (!socket.write(chunk)) {
              socket.once("drain", pump);
              return;
            }
          }
          if (accepted >= total) socket.end();
        };
        pump();
      }),
    );
    const c = clientFor(server.port);
    const response = await c.request(get("/big"));
    const reader = response.body!.getReader();
    let received = (await reader.read()).value!.byteLength;
    // Nobody reads now. Without backpressure the client would swallow all 200 MB; with it the
    // server stalls once the stream queue (256 KiB) and the kernel's socket buffers (a few MB,
    // up to ~36 MB with receive autotuning here) are full.
    const stalledAt = await settledValue(() => accepted);
    expect(stalledAt).toBeLessThan(80 * MB);
    // Reading again resumes the socket, and the whole body arrives intact.
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.byteLength;
    }
    expect(received).toBe(total);
  });

  test("request bodies respect socket backpressure", async () => {
    const total = 200 * MB;
    let pulled = 0;
    let serverReceived = 0;
    let serverSocket: net.Socket | null = null;
    const server = await rawServer((socket) => {
      serverSocket = socket;
      let headSeen = false;
      socket.on("data", (data: Buffer) => {
        if (!headSeen) {
          headSeen = true;
          const end = data.indexOf("\r\n\r\n");
          serverReceived += data.length - end - 4;
          socket.pause(); // stop reading: the client must stop sending
          return;
        }
        serverReceived += data.length;
        if (serverReceived === total) socket.write(OK_RESPONSE);
      });
    });
    const c = clientFor(server.port);
    const pending = c.request({ method: "PUT", target: "/upload", headers: new Headers(), body: patternStream(total, 64 * 1024, (n) => (pulled = n)), bodyLength: total });
    const stalledAt = await settledValue(() => pulled);
    expect(stalledAt).toBeLessThan(80 * MB);
    serverSocket!.resume();
    const response = await pending;
    expect(await response.text()).toBe("ok");
    expect(serverReceived).toBe(total);
  });

  test("a response that arrives before the upload ended drops the connection", async () => {
    const server = await rawServer((socket) =>
      socket.once("data", () => socket.write("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\n\r\ntoo big!")),
    );
    const c = clientFor(server.port);
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        pulled++;
        await Bun.sleep(5);
        controller.enqueue(new Uint8Array(1024));
      },
    });
    const response = await c.request({ method: "POST", target: "/upload", headers: new Headers(), body, bodyLength: null });
    expect(response.status).toBe(413);
    expect(await response.text()).toBe("too big!");
    expect(c.idleConnections).toBe(0);
    await waitFor(() => server.closed === 1, "the connection to be dropped");
    const pulledAtClose = pulled;
    await Bun.sleep(50);
    // The upload stopped (at most one more pull was already in flight).
    expect(pulled - pulledAtClose).toBeLessThanOrEqual(1);
  });
});
