/**
 * A controllable upstream for testing the forwarder's mechanics (headers, streaming, failures,
 * WebSocket close codes) — things the faithful fake ComfyUI has no reason to do. It answers on
 * the same paths ComfyUI uses so that the gateway's route table lets the requests through.
 */
import type { Server, ServerWebSocket } from "bun";

export interface RecordedRequest {
  method: string;
  target: string;
  headers: Record<string, string>;
  bodyBytes: number;
}

/** The prompt the probe's binary previews belong to (tests record its owner in the gateway's database). */
export const PROBE_PROMPT_ID = "0b0b0b0b-0b0b-4b0b-8b0b-0b0b0b0b0b0b";

/** A ComfyUI preview frame with metadata (binary type 4) for PROBE_PROMPT_ID, carrying `image`. */
export function probePreviewFrame(image: Uint8Array): Uint8Array<ArrayBuffer> {
  const metadata = new TextEncoder().encode(JSON.stringify({ node_id: "1", prompt_id: PROBE_PROMPT_ID, display_node_id: "1", parent_node_id: null, real_node_id: "1", image_type: "image/png" }));
  const frame = new Uint8Array(8 + metadata.length + image.length);
  const view = new DataView(frame.buffer);
  view.setUint32(0, 4);
  view.setUint32(4, metadata.length);
  frame.set(metadata, 8);
  frame.set(image, 8 + metadata.length);
  return frame;
}

export interface ProbeUpstream {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Messages the upstream WebSocket received, in order. */
  wsReceived: Array<string | Uint8Array>;
  wsCloses: Array<{ code: number; reason: string }>;
  /** How often the upstream's own WebSocket sends met backpressure (the relay stopped reading). */
  wsBackpressured: { count: number };
  /** What the next `/view` answers; set by a test. */
  behaviour: { delayMs: number; bodyBytes: number; gzip: boolean };
  stop(): Promise<void>;
}

/** `n` bytes where byte i is i % 251, built by doubling copies (fast even for hundreds of MB). */
export function patternBytes(n: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < Math.min(n, 251); i++) bytes[i] = i;
  for (let filled = 251; filled < n; filled *= 2) bytes.copyWithin(filled, 0, Math.min(filled, n - filled));
  return bytes;
}

function rawTarget(url: string): string {
  return url.slice(url.indexOf("/", url.indexOf("//") + 2));
}

export async function startProbeUpstream(): Promise<ProbeUpstream> {
  const requests: RecordedRequest[] = [];
  const wsReceived: Array<string | Uint8Array> = [];
  const wsCloses: Array<{ code: number; reason: string }> = [];
  const behaviour = { delayMs: 0, bodyBytes: 16, gzip: false };
  const wsBackpressured = { count: 0 };
  const floods = new Map<ServerWebSocket<undefined>, () => void>();

  const server: Server<undefined> = Bun.serve<undefined>({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    maxRequestBodySize: 1024 * 1024 * 1024, // the gateway enforces the real limit
    async fetch(request, srv) {
      const target = rawTarget(request.url);
      if (target.startsWith("/ws") || target.startsWith("/api/ws")) {
        requests.push({ method: request.method, target, headers: Object.fromEntries(request.headers), bodyBytes: 0 });
        if (srv.upgrade(request, { data: undefined })) return undefined;
        return new Response("upgrade failed", { status: 400 });
      }
      let bodyBytes = 0;
      if (request.body) {
        const reader = request.body.getReader();
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) bodyBytes += chunk.value.byteLength;
      }
      requests.push({ method: request.method, target, headers: Object.fromEntries(request.headers), bodyBytes });
      // Answer like a single-user ComfyUI, so the gateway sends no comfy-user.
      if (target === "/api/users") return Response.json({ storage: "server", migrated: false });
      if (behaviour.delayMs > 0) await Bun.sleep(behaviour.delayMs);
      if (target.startsWith("/api/view")) {
        const body = patternBytes(behaviour.bodyBytes);
        if (behaviour.gzip) return new Response(Bun.gzipSync(body), { headers: { "content-encoding": "gzip", "content-type": "application/octet-stream" } });
        return new Response(body, { headers: { "content-type": "application/octet-stream" } });
      }
      const headers = new Headers({
        "content-type": "application/json",
        connection: "keep-alive, x-hop",
        "x-hop": "secret-hop",
        "keep-alive": "timeout=5",
        // As ComfyUI answers when started with --enable-cors-header '*'.
        "access-control-allow-origin": "*",
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "POST, GET, DELETE, PUT, OPTIONS",
      });
      headers.append("set-cookie", "a=1; Path=/");
      headers.append("set-cookie", "b=2; Path=/");
      return new Response(JSON.stringify({ received: bodyBytes }), { headers });
    },
    websocket: {
      open(ws: ServerWebSocket<undefined>) {
        ws.send(JSON.stringify({ type: "status", data: { sid: "probe" } }));
      },
      message(ws, message) {
        wsReceived.push(message);
        if (typeof message === "string" && message.startsWith("flood:")) {
          // flood:<count>:<bytes> — numbered messages shaped like a ComfyUI extension's broadcast
          // (`{"type":"probe.flood","data":{"seq":n,"pad":…}}`, which the per-user filter passes),
          // sent as fast as the socket takes them.
          const [, countText, bytesText] = message.split(":");
          const count = Number(countText);
          const pad = "x".repeat(Math.max(0, Number(bytesText) - 64));
          let next = 0;
          const pump = () => {
            while (next < count) {
              const payload = `{"type":"probe.flood","data":{"seq":${next},"pad":"${pad}"}}`;
              next++;
              if (ws.send(payload) === -1) {
                wsBackpressured.count++;
                return; // Bun calls drain when the socket can take more
              }
            }
          };
          floods.set(ws, pump);
          pump();
          return;
        }
        if (typeof message === "string" && message.startsWith("close:")) {
          const code = Number(message.slice(6));
          ws.close(code, `upstream closes ${code}`);
          return;
        }
        // Echo, keeping the frame kind; then a burst to test ordering: JSON text and type-4
        // previews of PROBE_PROMPT_ID (a test records whose prompt that is).
        ws.send(message);
        if (typeof message === "string" && message.includes('"probe.burst"')) {
          for (let i = 0; i < 200; i++) ws.send(i % 2 === 0 ? JSON.stringify({ type: "probe.burst", data: { i } }) : probePreviewFrame(new Uint8Array([i & 255, 1, 2])));
        }
      },
      drain(ws) {
        floods.get(ws)?.();
      },
      close(ws, code, reason) {
        floods.delete(ws);
        wsCloses.push({ code, reason });
      },
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}`,
    port: server.port!,
    requests,
    wsReceived,
    wsCloses,
    wsBackpressured,
    behaviour,
    async stop() {
      await server.stop(true);
    },
  };
}

/** A TCP server that answers every connection with bytes that are not HTTP, then hangs up. */
export async function startGarbageUpstream(): Promise<{ url: string; stop(): void }> {
  const net = await import("node:net");
  const server = net.createServer((socket) => {
    socket.on("data", () => {
      socket.end("\x00\x01 this is not HTTP at all\r\n\r\n");
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, stop: () => server.close() };
}
