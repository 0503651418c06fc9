/**
 * WebSocket relay between a client and ComfyUI. The upstream socket is opened first, so a dead
 * ComfyUI answers the upgrade with 502 instead of accepting and then dropping the client. Frames
 * keep their kind (text stays text, binary stays binary) and their order; a close on either side
 * closes the other with the same code.
 *
 * Flow control: Bun's client WebSocket cannot pause reading, so the relay bounds what it queues
 * instead: a client that does not keep up is closed once its send buffer passes the server's
 * `backpressureLimit`, and an upstream that does not keep up (its `bufferedAmount`) is treated
 * the same. Memory per socket therefore stays bounded whoever is slow.
 */
import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import { errorResponse } from "./error-response.ts";
import type { Upstream } from "./upstream.ts";

/** Per-connection state carried by Bun's ServerWebSocket. */
export interface RelayData {
  upstream: WebSocket;
  /** Upstream frames that arrived before the client side finished opening. */
  early: Array<string | Uint8Array> | null;
  client: ServerWebSocket<RelayData> | null;
  closing: boolean;
}

/** Largest amount (bytes) queued towards either side before the relay gives up on a slow peer. */
export const RELAY_BUFFER_LIMIT = 16 * 1024 * 1024;

/** Close codes an endpoint may put on the wire; 1005/1006/1015 only describe what happened. */
function sendableCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

function closeClient(client: ServerWebSocket<RelayData>, code: number, reason: string): void {
  if (sendableCode(code)) client.close(code, reason);
  else if (code === 1005) client.close();
  // 1006: the upstream vanished without a close frame; the client learns the same way.
  else client.terminate();
}

export interface OpenRelayOptions {
  upstream: Upstream;
  forwardTarget: string;
  /** Headers the gateway sets on the upstream upgrade (identity, later). */
  setHeaders?: Readonly<Record<string, string>> | undefined;
}

/**
 * Opens the upstream socket, then upgrades the client. Returns a Response only when the upgrade
 * does not happen (upstream down, or the client's request is not a valid upgrade).
 */
export async function openRelay(request: Request, server: Server<RelayData>, options: OpenRelayOptions): Promise<Response | undefined> {
  const { upstream } = options;
  const headers: Record<string, string> = { ...options.setHeaders };
  // ComfyUI checks Origin against its own Host on the upgrade too (spec §7).
  if (request.headers.has("origin")) headers["origin"] = upstream.origin;
  const userAgent = request.headers.get("user-agent");
  if (userAgent !== null) headers["user-agent"] = userAgent;

  const requestedProtocols = (request.headers.get("sec-websocket-protocol") ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  const socket = new WebSocket(upstream.wsOrigin + options.forwardTarget, {
    headers,
    ...(requestedProtocols.length > 0 ? { protocols: requestedProtocols } : {}),
  } as unknown as string[]);
  socket.binaryType = "nodebuffer" as BinaryType;

  const data: RelayData = { upstream: socket, early: [], client: null, closing: false };
  // Listeners go on before the socket can open so that no early frame is missed.
  socket.addEventListener("message", (event) => relayToClient(data, event.data as string | Uint8Array));
  socket.addEventListener("close", (event) => {
    data.closing = true;
    if (data.client) closeClient(data.client, event.code, event.reason);
  });

  const opened = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), upstream.wsOpenTimeoutMs);
    socket.addEventListener("open", () => { clearTimeout(timer); resolve(true); }, { once: true });
    socket.addEventListener("error", () => { clearTimeout(timer); resolve(false); }, { once: true });
    socket.addEventListener("close", () => { clearTimeout(timer); resolve(false); }, { once: true });
  });
  if (!opened) {
    try { socket.close(); } catch { /* never opened */ }
    return errorResponse(request, 502, "UPSTREAM_UNAVAILABLE", "ComfyUI did not accept the WebSocket connection: it is down, still starting, or refused it.", "ComfyUI is down");
  }

  const upgradeHeaders = socket.protocol ? { "sec-websocket-protocol": socket.protocol } : undefined;
  if (server.upgrade(request, { data, ...(upgradeHeaders ? { headers: upgradeHeaders } : {}) })) return undefined;
  socket.close(1001, "client upgrade failed");
  return errorResponse(request, 400, "BAD_WEBSOCKET_UPGRADE", "This request is not a valid WebSocket upgrade.");
}

function relayToClient(data: RelayData, message: string | Uint8Array): void {
  const client = data.client;
  if (client === null) {
    data.early?.push(message);
    return;
  }
  // -1: queued under backpressure (Bun closes the socket itself past backpressureLimit); 0: gone.
  client.send(message);
}

/** The `websocket` handlers for Bun.serve. */
export const relayHandlers: WebSocketHandler<RelayData> = {
  maxPayloadLength: 64 * 1024 * 1024,
  backpressureLimit: RELAY_BUFFER_LIMIT,
  closeOnBackpressureLimit: true,
  idleTimeout: 0, // ComfyUI sends no heartbeat; a quiet socket is normal.
  sendPings: true,
  perMessageDeflate: false,
  open(client) {
    const data = client.data;
    data.client = client;
    const early = data.early ?? [];
    data.early = null;
    for (const message of early) client.send(message);
    if (data.closing) {
      // The upstream went away before the client finished opening.
      closeClient(client, 1001, "upstream closed");
    }
  },
  message(client, message) {
    const upstream = client.data.upstream;
    if (upstream.readyState !== WebSocket.OPEN) return;
    if (upstream.bufferedAmount > RELAY_BUFFER_LIMIT) {
      upstream.close(1013, "gateway buffer full");
      closeClient(client, 1013, "upstream is not keeping up");
      return;
    }
    upstream.send(message);
  },
  close(client, code, reason) {
    const upstream = client.data.upstream;
    client.data.closing = true;
    if (upstream.readyState === WebSocket.OPEN || upstream.readyState === WebSocket.CONNECTING) {
      upstream.close(sendableCode(code) ? code : 1000, reason);
    }
  },
};
