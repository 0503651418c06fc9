/**
 * WebSocket relay between a client and ComfyUI. The upstream socket is opened first, so a dead
 * ComfyUI answers the upgrade with 502 instead of accepting and then dropping the client. Frames
 * keep their kind (text stays text, binary stays binary) and their order; a close on either side
 * closes the other with the same code.
 *
 * Flow control is real backpressure in both directions: when the client cannot take more
 * (`send` reports backpressure) the relay stops reading from ComfyUI until the client drains;
 * when ComfyUI's socket has too much queued, it stops reading from the client until that
 * drains. Memory per relay stays bounded by one read plus the high-water mark.
 *
 * With a RelayPolicy (per-user isolation) the upstream socket is opened with the gateway's own
 * sid, and upstream frames pass through the policy before the same flow control; without one
 * the relay is transparent.
 */
import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import { errorResponse } from "./error-response.ts";
import type { Upstream } from "./upstream.ts";

/** Per-connection state carried by Bun's ServerWebSocket. */
export interface RelayData {
  /** Bun's client WebSocket, which (unlike the DOM type) can pause reading. */
  upstream: Bun.WebSocket;
  /** Upstream frames that arrived before the client side finished opening. */
  early: Array<string | Uint8Array> | null;
  client: ServerWebSocket<RelayData> | null;
  /** The upstream's close, kept when it happens before the client side is open. */
  upstreamClosed: { code: number; reason: string } | null;
  /** Polls the upstream's send buffer while the client is paused (the WHATWG client has no drain event). */
  drainTimer: ReturnType<typeof setInterval> | null;
  /** Open relays, so that a revoked credential can end its sockets (see RelayRegistry). */
  registry: RelayRegistry | null;
  /** Whether the credential that opened this relay is still good; checked by the registry's sweeps. */
  stillAllowed: (() => boolean) | null;
  /** Client messages in the current second (see CLIENT_MESSAGES_PER_SECOND). */
  messageWindowStart: number;
  messagesInWindow: number;
}

/**
 * ComfyUI reads one message from a client (its feature flags) and ignores the rest; a browser
 * sends a handful a minute. A client sending more than this in a second is flooding: closed.
 */
const CLIENT_MESSAGES_PER_SECOND = 200;

/**
 * The open relays. A WebSocket outlives the request that authorised it, so a sweep re-asks each
 * relay's `stillAllowed` (at an interval, and at once after a sign-out or revocation) and closes
 * the ones whose credential is gone (1008, policy violation).
 */
export class RelayRegistry {
  private readonly open = new Set<ServerWebSocket<RelayData>>();
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(intervalMs: number) {
    this.timer = setInterval(() => this.sweep(), intervalMs);
    this.timer.unref();
  }

  add(client: ServerWebSocket<RelayData>): void {
    this.open.add(client);
  }

  delete(client: ServerWebSocket<RelayData>): void {
    this.open.delete(client);
  }

  get size(): number {
    return this.open.size;
  }

  sweep(): void {
    for (const client of this.open) {
      let allowed = true;
      try {
        allowed = client.data.stillAllowed?.() ?? true;
      } catch {
        allowed = false; // cannot tell: fail closed
      }
      if (!allowed) {
        this.open.delete(client);
        client.close(1008, "signed out");
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Bytes queued towards ComfyUI above which the relay stops reading from the client. */
export const UPSTREAM_HIGH_WATER = 1024 * 1024;
/** A client's own send buffer limit: past it Bun closes the socket (only a client that ignores TCP backpressure for long gets there). */
const CLIENT_BACKPRESSURE_LIMIT = 16 * 1024 * 1024;
/** ComfyUI's clients send small JSON messages; aiohttp's own default limit is 4 MiB. */
const MAX_CLIENT_MESSAGE_BYTES = 4 * 1024 * 1024;

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

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The client's requested subprotocols, or null when the header is malformed (RFC 6455 §4.1). */
function requestedProtocols(header: string | null): string[] | null {
  if (header === null) return [];
  const protocols = header.split(",").map((p) => p.trim());
  if (protocols.some((p) => !TOKEN.test(p)) || new Set(protocols).size !== protocols.length) return null;
  return protocols;
}

/**
 * What the gateway does to one user's socket (isolation, issue 4): the upstream socket gets a
 * sid the gateway minted, and each upstream message is passed, rewritten or dropped for this user.
 *
 * Lifecycle, as `openRelay` drives it: `claim()` before the upstream socket is opened (it may
 * wait for an older socket with the same sid to close); then `upstreamClientId` is read;
 * `opened(end)` once the upstream socket is open; `closed()` exactly once after a successful
 * claim, when the upstream socket has closed (or never opened).
 */
export interface RelayPolicy {
  /** Resolves false when this connection must not open (a newer one with the same clientId replaced it). */
  claim(): boolean | Promise<boolean>;
  /** The clientId the upstream socket is opened with (replaces the client's `clientId`); read after `claim()`. */
  readonly upstreamClientId: string;
  /**
   * The upstream socket is open; `end` closes the relay (both sides) with that code. `send`
   * delivers a message to the client later (a frame held back while it was checked).
   */
  opened(end: (code: number, reason: string) => void, send: (message: string | Uint8Array) => void): void;
  /** Upstream → client text message: the text to send (possibly rewritten), or null to drop it. */
  toClientText(text: string): string | null;
  /** Upstream → client binary frame: deliver it or drop it. */
  toClientBinary(frame: Uint8Array): boolean;
  /** The upstream socket has closed (after a successful `claim()`). */
  closed(): void;
}

/**
 * The request target with every `clientId` parameter replaced by the gateway's own; the other
 * parameters keep their bytes and order. Names are compared decoded, as aiohttp reads them.
 */
export function withUpstreamClientId(target: string, clientId: string): string {
  const queryStart = target.indexOf("?");
  const path = queryStart < 0 ? target : target.slice(0, queryStart);
  const query = queryStart < 0 ? "" : target.slice(queryStart + 1);
  const kept = query === "" ? [] : query.split("&").filter((part) => parameterName(part) !== "clientId");
  kept.push(`clientId=${encodeURIComponent(clientId)}`);
  return `${path}?${kept.join("&")}`;
}

function parameterName(part: string): string {
  const equals = part.indexOf("=");
  const raw = (equals < 0 ? part : part.slice(0, equals)).replaceAll("+", " ");
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

export interface OpenRelayOptions {
  upstream: Upstream;
  forwardTarget: string;
  /** Headers the gateway sets on the upstream upgrade (its own `comfy-user`). */
  setHeaders?: Readonly<Record<string, string>> | undefined;
  registry?: RelayRegistry | undefined;
  stillAllowed?: (() => boolean) | undefined;
  /** Per-user sid and message filtering; none means a transparent relay. */
  policy?: RelayPolicy | undefined;
}

/**
 * Opens the upstream socket, then upgrades the client. Returns a Response only when the upgrade
 * does not happen (a malformed upgrade request, or the upstream down).
 */
export async function openRelay(request: Request, server: Server<RelayData>, options: OpenRelayOptions): Promise<Response | undefined> {
  const { upstream, policy } = options;
  // Check the client's side first: a bad upgrade must not cost an upstream connection.
  const key = request.headers.get("sec-websocket-key");
  const protocols = requestedProtocols(request.headers.get("sec-websocket-protocol"));
  if (key === null || !/^[A-Za-z0-9+/]{22}==$/.test(key) || request.headers.get("sec-websocket-version") !== "13" || protocols === null) {
    return errorResponse(request, 400, "BAD_WEBSOCKET_UPGRADE", "This request is not a valid WebSocket upgrade.");
  }

  let forwardTarget = options.forwardTarget;
  if (policy !== undefined) {
    const claim = policy.claim();
    // Most claims are decided at once; only a reconnect that replaces an open socket waits.
    const claimed = typeof claim === "boolean" ? claim : await claim;
    if (!claimed) return errorResponse(request, 409, "CLIENT_ID_REPLACED", "A newer connection with the same clientId replaced this one.", "Connection replaced");
    forwardTarget = withUpstreamClientId(forwardTarget, policy.upstreamClientId);
  }

  const headers: Record<string, string> = { ...options.setHeaders };
  // ComfyUI checks Origin against its own Host on the upgrade too (spec §7); the gateway has
  // already checked the browser's Origin.
  if (request.headers.has("origin")) headers["origin"] = upstream.origin;
  const userAgent = request.headers.get("user-agent");
  if (userAgent !== null) headers["user-agent"] = userAgent;

  let socket: Bun.WebSocket;
  try {
    socket = new WebSocket(upstream.wsOrigin + forwardTarget, {
      headers,
      ...(protocols.length > 0 ? { protocols } : {}),
    } as unknown as string[]) as unknown as Bun.WebSocket;
  } catch {
    policy?.closed();
    return errorResponse(request, 502, "UPSTREAM_UNAVAILABLE", "ComfyUI did not accept the WebSocket connection: it is down, still starting, or refused it.", "ComfyUI is down");
  }
  socket.binaryType = "nodebuffer";

  const data: RelayData = {
    upstream: socket,
    early: [],
    client: null,
    upstreamClosed: null,
    drainTimer: null,
    registry: options.registry ?? null,
    stillAllowed: options.stillAllowed ?? null,
    messageWindowStart: 0,
    messagesInWindow: 0,
  };
  // Listeners go on before the socket can open so that no early frame is missed.
  socket.addEventListener("message", policy === undefined ? (event) => relayToClient(data, event.data as string | Uint8Array) : (event) => relayFiltered(data, policy, event.data as string | Uint8Array));
  socket.addEventListener("close", (event) => {
    data.upstreamClosed = { code: event.code, reason: event.reason };
    stopDrainWatch(data);
    if (data.client) closeClient(data.client, event.code, event.reason);
    // Only now is the sid free at ComfyUI (a reconnect waits for this).
    policy?.closed();
  });

  const opened = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), upstream.wsOpenTimeoutMs);
    const settle = (value: boolean) => () => {
      clearTimeout(timer);
      resolve(value);
    };
    socket.addEventListener("open", settle(true), { once: true });
    socket.addEventListener("error", settle(false), { once: true });
    socket.addEventListener("close", settle(false), { once: true });
  });
  if (!opened) {
    try {
      socket.close();
    } catch {
      // never opened
    }
    return errorResponse(request, 502, "UPSTREAM_UNAVAILABLE", "ComfyUI did not accept the WebSocket connection: it is down, still starting, or refused it.", "ComfyUI is down");
  }
  // Closing the upstream side ends the relay: its close event closes the client with the same code.
  policy?.opened(
    (code, reason) => closeUpstream(socket, code, reason),
    (message) => {
      if (data.upstreamClosed === null) relayToClient(data, message);
    },
  );

  const upgradeHeaders = socket.protocol ? { "sec-websocket-protocol": socket.protocol } : undefined;
  if (server.upgrade(request, { data, ...(upgradeHeaders ? { headers: upgradeHeaders } : {}) })) return undefined;
  socket.close(1001, "client upgrade failed");
  return errorResponse(request, 400, "BAD_WEBSOCKET_UPGRADE", "This request is not a valid WebSocket upgrade.");
}

/** Starts the upstream closing handshake; reading resumes so that ComfyUI's close reply is seen. */
function closeUpstream(upstream: Bun.WebSocket, code: number, reason: string): void {
  if (upstream.readyState !== WebSocket.OPEN && upstream.readyState !== WebSocket.CONNECTING) return;
  upstream.resume();
  if (sendableCode(code)) upstream.close(code, reason);
  else if (code === 1005) upstream.close();
  else upstream.close(1001, "client went away");
}

/** Upstream → client through the user's policy. A policy that fails drops the message (fail closed). */
function relayFiltered(data: RelayData, policy: RelayPolicy, message: string | Uint8Array): void {
  let delivered: string | Uint8Array | null;
  try {
    delivered = typeof message === "string" ? policy.toClientText(message) : policy.toClientBinary(message) ? message : null;
  } catch {
    delivered = null;
  }
  if (delivered !== null) relayToClient(data, delivered);
}

function relayToClient(data: RelayData, message: string | Uint8Array): void {
  const client = data.client;
  if (client === null) {
    // Only the first frames can land here (between the upstream opening and the client's
    // open handler, one tick later); stop reading rather than queue more.
    data.early?.push(message);
    data.upstream.pause();
    return;
  }
  // -1: queued, but the client is not keeping up: stop reading from ComfyUI until `drain`.
  if (client.send(message) === -1) data.upstream.pause();
}

function stopDrainWatch(data: RelayData): void {
  if (data.drainTimer !== null) clearInterval(data.drainTimer);
  data.drainTimer = null;
}

/** The `websocket` handlers for Bun.serve. */
export const relayHandlers: WebSocketHandler<RelayData> = {
  maxPayloadLength: MAX_CLIENT_MESSAGE_BYTES,
  backpressureLimit: CLIENT_BACKPRESSURE_LIMIT,
  closeOnBackpressureLimit: true,
  // Bun pings a quiet client before this many seconds pass and closes it if it does not answer,
  // so a vanished browser does not hold a ComfyUI socket forever.
  idleTimeout: 120,
  sendPings: true,
  perMessageDeflate: false,
  open(client) {
    const data = client.data;
    data.client = client;
    data.registry?.add(client);
    const early = data.early ?? [];
    data.early = null;
    for (const message of early) client.send(message);
    if (data.upstreamClosed !== null) {
      // The upstream went away before the client finished opening: pass its close on.
      closeClient(client, data.upstreamClosed.code, data.upstreamClosed.reason);
      return;
    }
    data.upstream.resume();
  },
  drain(client) {
    client.data.upstream.resume();
  },
  message(client, message) {
    const data = client.data;
    const at = performance.now();
    if (at - data.messageWindowStart >= 1000) {
      data.messageWindowStart = at;
      data.messagesInWindow = 0;
    }
    if (++data.messagesInWindow > CLIENT_MESSAGES_PER_SECOND) {
      client.close(1008, "too many messages");
      return;
    }
    const upstream = data.upstream;
    if (upstream.readyState !== WebSocket.OPEN) return;
    upstream.send(message);
    if (upstream.bufferedAmount > UPSTREAM_HIGH_WATER && data.drainTimer === null) {
      client.pause();
      data.drainTimer = setInterval(() => {
        if (upstream.readyState !== WebSocket.OPEN || upstream.bufferedAmount <= UPSTREAM_HIGH_WATER / 2) {
          stopDrainWatch(data);
          client.resume();
        }
      }, 20);
    }
  },
  close(client, code, reason) {
    const data = client.data;
    data.registry?.delete(client);
    stopDrainWatch(data);
    closeUpstream(data.upstream, code, reason);
  },
};
