/**
 * Each user's ComfyUI WebSocket kept private (issue 4; comfyui-api.md §4).
 *
 * Socket ids. ComfyUI trusts whatever `clientId` a socket asks for, and a second socket with
 * the same id takes over the first's events (and, through the eviction bug, later loses
 * everything). So the gateway owns the upstream namespace: every browser socket is opened
 * upstream with a sid the gateway minted, bound per user, (userId, clientId) → upstream sid.
 * The same user reconnecting with the same clientId resumes the same sid, so a running prompt's
 * events keep coming; another user presenting that clientId gets a sid of their own. The client
 * keeps seeing its own clientId (the `sid` of `status` is rewritten).
 *
 * Reconnects. Two upstream sockets must never share a sid (§4.1). When a user's socket comes
 * back with a clientId whose previous socket is still open, the old relay is closed (4000,
 * "replaced") and the new one waits until the old upstream socket is gone before opening with
 * the same sid. If the old one does not close within a couple of seconds, the binding moves to
 * a fresh sid instead (the old sid may still be registered upstream). Connections that arrive
 * while another one is waiting give way to the newest (a 409 for the older ones).
 *
 * Messages (upstream → client):
 * - JSON with `data.prompt_id`: only for the prompt's owner; unknown prompts are dropped.
 *   `executed` of the user's prompts records the outputs as theirs.
 * - `status` (queue length only) and `feature_flags`: passed; the sid is rewritten.
 * - Execution and progress messages without a prompt_id (`executing` on a reconnect) and binary
 *   PREVIEW_IMAGE (1) and TEXT (3) frames: attributed to the prompt that is executing (below).
 * - PREVIEW_IMAGE_WITH_METADATA (4): the prompt_id of its metadata decides.
 * - Any other binary frame: dropped (nothing to attribute it by).
 * - Other JSON types without a top-level `data.prompt_id` (extension broadcasts such as
 *   `crystools.monitor`, ComfyUI-Manager's `cm-*`, `logs` for subscribed sids): passed. They
 *   carry no prompt of anyone's; what an extension chooses to broadcast is that extension's
 *   business (a per-type deny list can come later).
 *
 * Attribution ("which prompt is executing"). Two views, both fed from execution messages
 * (`execution_start`, `execution_cached`, `executing`, `executed`, `progress`, `progress_state`
 * start or continue a prompt; `executing {node: null}`, `execution_success/error/interrupted`
 * end it):
 * - the directory's shared view, fed by every relay: it learns of a prompt whose messages
 *   only its owner's socket receives;
 * - each relay's own view, fed by what that relay saw, in its own order.
 * A prompt-less frame is delivered only when every view that names a prompt names one of this
 * user's; binary frames need both views to name one, JSON messages (the reconnect's
 * `executing`, sent only to the running prompt's sid) either.
 *
 * Limits. ComfyUI does not say which prompt a type-1/3 frame belongs to: this is inference.
 * The shared view can be moved by a relay that lags behind the others, and frames sent between
 * two prompts have no owner: both drop frames rather than leak them (the cases are worked
 * through in tests/unit/sockets.test.ts). A relay's own view goes stale when it saw a prompt's
 * broadcast progress but not its end, which happens only for prompts queued without a
 * client_id (ComfyUI sends no end to anyone then); prompts queued through the gateway always
 * get one. If such a prompt was this user's and the shared view still names it when the next
 * prompt (another user's, whose start only that user's relay sees, and late, say because its
 * client reads slowly) sends a sid=None text frame, that frame could reach this user.
 * The views live in one gateway process: with several gateway instances in front of one
 * ComfyUI, each sees only its own relays.
 */
import type { RelayPolicy } from "../gateway/websocket-bridge.ts";
import type { OwnershipStore } from "./ownership.ts";

export type PromptOwnership = Pick<OwnershipStore, "ownerOfPrompt" | "recordOutputs">;

export interface SocketDirectoryOptions {
  ownership: PromptOwnership;
  now?: () => number;
  /** How long a reconnect waits for the previous socket with its sid to close (default 2 s). */
  takeoverTimeoutMs?: number;
}

/** Bindings not used for this long (and without a socket) are forgotten. */
export const BINDING_IDLE_MS = 24 * 3600_000;
/** Bindings one user keeps; past this the least recently used one without a socket goes. */
export const MAX_BINDINGS_PER_USER = 64;
const SWEEP_EVERY_MS = 60_000;
const DEFAULT_TAKEOVER_TIMEOUT_MS = 2_000;
/** Close code for a relay replaced by a newer connection with the same clientId. */
export const REPLACED_CLOSE_CODE = 4000;
const REPLACED_REASON = "replaced by a newer connection with the same clientId";
/** ComfyUI's own ids are 32 hex; API clients often use UUIDs. Anything else gets a fresh id. */
const CLIENT_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Starts or continues a prompt in the views of "what is executing". */
const EXECUTION_MESSAGES = new Set(["execution_start", "execution_cached", "executing", "executed", "progress", "progress_state", "execution_success", "execution_error", "execution_interrupted"]);
const ENDING_MESSAGES = new Set(["execution_success", "execution_error", "execution_interrupted"]);

const BINARY_PREVIEW_IMAGE = 1;
const BINARY_TEXT = 3;
const BINARY_PREVIEW_WITH_METADATA = 4;

/** ComfyUI's `json.dumps({"type": …, "data": …})` starts like this. */
const TYPE_PREFIX = '{"type": "';

export function mintSocketId(): string {
  return crypto.randomUUID().replaceAll("-", "");
}

/** One user's clientId and the upstream sid behind it. */
interface ClientBinding {
  readonly userId: string;
  readonly clientId: string;
  upstreamSid: string;
  /** The connection that holds `upstreamSid` at ComfyUI (opening or open), if any. */
  holder: Connection | null;
  /** Claims so far; a waiting claim that is no longer the newest gives way. */
  claims: number;
  /** Claims waiting for the holder to go: the binding must not be forgotten meanwhile. */
  waiting: number;
  lastUsed: number;
}

/** One relay's socket, as the directory sees it. */
interface Connection {
  readonly userId: string;
  readonly clientId: string;
  binding: ClientBinding | null;
  upstreamSid: string;
  /** Closes the relay; set once the upstream socket is open. */
  endRelay: ((code: number, reason: string) => void) | null;
  /** Asked to end before it was open: it ends as soon as it opens. */
  endRequested: boolean;
  isOpen: boolean;
  isClosed: boolean;
  /** Resolves once the upstream socket is closed. */
  readonly gone: Promise<void>;
  markGone: () => void;
  /** This relay's own view of the executing prompt. */
  lastSeenPrompt: string | null;
  /** What happens to this user's live previews (null: they pass). */
  readonly previews: PreviewGate | null;
  /** Delivers a held-back frame; set once the upstream socket is open. */
  send: ((message: Uint8Array) => void) | null;
  /** A preview is being classified (one at a time per socket). */
  previewBusy: boolean;
  lastPreviewAt: number;
}

/**
 * The NSFW guard's say over live sampling previews (binary frames 1 and 4) of a checked user:
 * pass them, withhold them, or classify a few per second and deliver only safe ones.
 */
export interface PreviewGate {
  mode(): "pass" | "withhold" | "classify";
  ratePerSecond(): number;
  /** Resolves true only for an image judged safe (any failure: false). */
  isSafe(image: Uint8Array): Promise<boolean>;
}

interface ParsedMessage {
  type?: unknown;
  data?: unknown;
}

function parseObject(text: string): ParsedMessage | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as ParsedMessage) : null;
  } catch {
    return null;
  }
}

/** The message type, read without parsing when ComfyUI wrote it (the usual case). */
function messageType(text: string): string | null {
  if (text.startsWith(TYPE_PREFIX)) {
    const end = text.indexOf('"', TYPE_PREFIX.length);
    if (end > 0) {
      const type = text.slice(TYPE_PREFIX.length, end);
      if (!type.includes("\\")) return type;
    }
  }
  const parsed = parseObject(text);
  return typeof parsed?.type === "string" ? parsed.type : null;
}

const PROMPT_ID_KEY = '"prompt_id"';

/** Index of the first character after spaces from `at`. */
function skipSpaces(text: string, at: number): number {
  while (text.charCodeAt(at) === 32) at++;
  return at;
}

/**
 * The prompt a message names, found without parsing it: when every `"prompt_id"` in it names
 * the same prompt as a plain string, that is the one (a top-level id is among them; a
 * nested-only one makes the message stricter, never looser). Undefined when unsure (another
 * value, an escape): the caller parses. A few indexOf calls, on the hot path of every relay.
 */
export function quickPromptId(text: string): string | undefined {
  let found: string | undefined;
  let from = 0;
  for (;;) {
    const at = text.indexOf(PROMPT_ID_KEY, from);
    if (at < 0) break;
    let i = skipSpaces(text, at + PROMPT_ID_KEY.length);
    if (text.charCodeAt(i) !== 58 /* : */) return undefined;
    i = skipSpaces(text, i + 1);
    if (text.charCodeAt(i) !== 34 /* " */) return undefined;
    const end = text.indexOf('"', i + 1);
    if (end < 0) return undefined;
    const value = text.slice(i + 1, end);
    if (value.includes("\\") || value === "") return undefined;
    if (found === undefined) found = value;
    else if (found !== value) return undefined;
    from = end + 1;
  }
  return found;
}

function dataOf(message: ParsedMessage): Record<string, unknown> | null {
  const data = message.data;
  return typeof data === "object" && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : null;
}

function promptIdOf(data: Record<string, unknown> | null): string | null {
  const promptId = data?.prompt_id;
  return typeof promptId === "string" && promptId !== "" ? promptId : null;
}

function readUint32(frame: Uint8Array, offset: number): number {
  return ((frame[offset]! << 24) | (frame[offset + 1]! << 16) | (frame[offset + 2]! << 8) | frame[offset + 3]!) >>> 0;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The prompt_id in a type-4 frame's metadata, or null when it has none or is malformed. */
function previewMetadataPromptId(frame: Uint8Array): string | null {
  if (frame.length < 8) return null;
  const length = readUint32(frame, 4);
  if (length > frame.length - 8) return null;
  let text: string;
  try {
    text = utf8.decode(frame.subarray(8, 8 + length));
  } catch {
    return null;
  }
  const metadata = parseObject(text);
  return metadata === null ? null : promptIdOf(metadata as Record<string, unknown>);
}

function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Open ComfyUI sockets one user may hold (tabs, scripts); more is a runaway client or abuse. */
export const MAX_SOCKETS_PER_USER = 32;
/** Upgrades counted against that cap while they are still opening (and as a reconnect rate limit). */
const SOCKET_ATTEMPT_WINDOW_MS = 10_000;

export function createSocketDirectory(options: SocketDirectoryOptions) {
  const { ownership } = options;
  const now = options.now ?? Date.now;
  const takeoverTimeoutMs = options.takeoverTimeoutMs ?? DEFAULT_TAKEOVER_TIMEOUT_MS;
  /** userId → clientId → binding, least recently used first. */
  const bindings = new Map<string, Map<string, ClientBinding>>();
  /** userId → times of recent upgrade attempts (see admit). */
  const upgradeAttempts = new Map<string, number[]>();
  /** userId → open connections, oldest first. */
  const openConnections = new Map<string, Connection[]>();
  /** The shared view of the executing prompt. */
  let executingPrompt: string | null = null;
  let lastSweep = now();

  function sweep(at: number): void {
    lastSweep = at;
    for (const [userId, byClient] of bindings) {
      for (const [clientId, binding] of byClient) {
        if (binding.holder === null && binding.waiting === 0 && at - binding.lastUsed > BINDING_IDLE_MS) byClient.delete(clientId);
      }
      if (byClient.size === 0) bindings.delete(userId);
    }
  }

  /** The user's binding for a clientId, created if new, moved to most recently used. */
  function bindingFor(userId: string, clientId: string, at: number): ClientBinding {
    let byClient = bindings.get(userId);
    if (byClient === undefined) {
      byClient = new Map();
      bindings.set(userId, byClient);
    }
    let binding = byClient.get(clientId);
    if (binding === undefined) {
      if (byClient.size >= MAX_BINDINGS_PER_USER) {
        for (const [oldClientId, old] of byClient) {
          if (old.holder === null && old.waiting === 0) {
            byClient.delete(oldClientId);
            break;
          }
        }
      }
      binding = { userId, clientId, upstreamSid: mintSocketId(), holder: null, claims: 0, waiting: 0, lastUsed: at };
    } else {
      byClient.delete(clientId);
    }
    binding.lastUsed = at;
    byClient.set(clientId, binding);
    return binding;
  }

  function endConnection(connection: Connection): void {
    if (connection.isClosed) return;
    const end = connection.endRelay;
    if (end === null) {
      connection.endRequested = true;
      return;
    }
    connection.endRelay = null;
    end(REPLACED_CLOSE_CODE, REPLACED_REASON);
  }

  function takeHold(connection: Connection, binding: ClientBinding): true {
    binding.holder = connection;
    connection.binding = binding;
    connection.upstreamSid = binding.upstreamSid;
    return true;
  }

  /** Waits for the binding's current holder to go, then holds it; false when a newer claim came. */
  async function claimAfterHolder(connection: Connection, binding: ClientBinding, ticket: number): Promise<boolean> {
    binding.waiting++;
    try {
      for (let holder = binding.holder; holder !== null; holder = binding.holder) {
        endConnection(holder);
        const gone = await settlesWithin(holder.gone, takeoverTimeoutMs);
        if (binding.claims !== ticket) return false;
        if (!gone && binding.holder === holder) {
          // The old socket may still be registered under this sid: never share it.
          binding.upstreamSid = mintSocketId();
          binding.holder = null;
        }
      }
      binding.lastUsed = now();
      return takeHold(connection, binding);
    } finally {
      binding.waiting--;
    }
  }

  function claim(connection: Connection): boolean | Promise<boolean> {
    const at = now();
    if (at - lastSweep > SWEEP_EVERY_MS) sweep(at);
    const binding = bindingFor(connection.userId, connection.clientId, at);
    const ticket = ++binding.claims;
    if (binding.holder === null) return takeHold(connection, binding);
    return claimAfterHolder(connection, binding, ticket);
  }

  function opened(connection: Connection, end: (code: number, reason: string) => void, send: (message: Uint8Array) => void): void {
    if (connection.isClosed) return;
    connection.isOpen = true;
    connection.send = send;
    let open = openConnections.get(connection.userId);
    if (open === undefined) {
      open = [];
      openConnections.set(connection.userId, open);
    }
    open.push(connection);
    if (connection.endRequested) end(REPLACED_CLOSE_CODE, REPLACED_REASON);
    else connection.endRelay = end;
  }

  function closed(connection: Connection): void {
    if (connection.isClosed) return;
    connection.isClosed = true;
    connection.endRelay = null;
    connection.send = null;
    if (connection.isOpen) {
      const open = openConnections.get(connection.userId);
      const index = open?.indexOf(connection) ?? -1;
      if (open !== undefined && index >= 0) open.splice(index, 1);
      if (open !== undefined && open.length === 0) openConnections.delete(connection.userId);
    }
    const binding = connection.binding;
    if (binding !== null) {
      binding.lastUsed = now();
      if (binding.holder === connection) binding.holder = null;
    }
    connection.markGone();
  }

  const isUsersPrompt = (promptId: string, userId: string): boolean => ownership.ownerOfPrompt(promptId)?.userId === userId;

  /** Moves both views of the executing prompt along with an execution message. */
  function track(connection: Connection, type: string, promptId: string, data: Record<string, unknown> | null): void {
    const ends = ENDING_MESSAGES.has(type) || (type === "executing" && data !== null && data.node === null);
    if (ends) {
      if (executingPrompt === promptId) executingPrompt = null;
      if (connection.lastSeenPrompt === promptId) connection.lastSeenPrompt = null;
    } else {
      executingPrompt = promptId;
      connection.lastSeenPrompt = promptId;
    }
  }

  /**
   * A frame that names no prompt: this user's only if every view that names a prompt names one
   * of theirs. Binary frames need both views to name one: a relay that saw nothing of the
   * running prompt has no business with its previews or text, and when the shared view says
   * nothing runs, a relay's own view is stale.
   */
  function attributedToUser(connection: Connection, needsBothViews: boolean): boolean {
    const own = connection.lastSeenPrompt;
    const shared = executingPrompt;
    if (needsBothViews ? own === null || shared === null : own === null && shared === null) return false;
    if (own !== null && !isUsersPrompt(own, connection.userId)) return false;
    if (shared !== null && shared !== own && !isUsersPrompt(shared, connection.userId)) return false;
    return true;
  }

  function toClientText(connection: Connection, text: string): string | null {
    const type = messageType(text);
    if (type === null) return null; // not a ComfyUI message: nothing to judge it by
    if (type === "status") {
      // Only the first status carries the sid; the client sees its own clientId there.
      const sid = connection.upstreamSid;
      return sid !== "" && text.includes(sid) ? text.replace(`"${sid}"`, JSON.stringify(connection.clientId)) : text;
    }
    if (type === "feature_flags") return text;
    const isExecution = EXECUTION_MESSAGES.has(type);
    if (!isExecution && !text.includes('"prompt_id"')) return text;
    // Progress (the bulk of a run) and extension messages need only the prompt id; `executing`
    // and `executed` are read whole (the node, the outputs).
    if (!isExecution || type === "progress" || type === "progress_state") {
      const quick = quickPromptId(text);
      if (quick !== undefined) {
        if (isExecution) track(connection, type, quick, null);
        return isUsersPrompt(quick, connection.userId) ? text : null;
      }
    }
    const message = parseObject(text);
    if (message === null) return null;
    const data = dataOf(message);
    const promptId = promptIdOf(data);
    if (promptId === null) {
      if (!isExecution) return text;
      // `executing {node}` on a reconnect: ComfyUI sends it only to the running prompt's sid.
      return attributedToUser(connection, false) ? text : null;
    }
    if (isExecution) track(connection, type, promptId, data);
    if (!isUsersPrompt(promptId, connection.userId)) return null;
    if (type === "executed") ownership.recordOutputs(promptId, data?.output, now());
    return text;
  }

  function toClientBinary(connection: Connection, frame: Uint8Array): boolean {
    if (frame.length < 4) return false;
    const event = readUint32(frame, 0);
    if (event === BINARY_TEXT) return attributedToUser(connection, true);
    // Type 1: event, image type, then the image.
    if (event === BINARY_PREVIEW_IMAGE) return attributedToUser(connection, true) && previewPasses(connection, frame, 8);
    if (event === BINARY_PREVIEW_WITH_METADATA) {
      const promptId = previewMetadataPromptId(frame);
      if (promptId === null) return false;
      track(connection, "progress", promptId, null);
      // Type 4: event, metadata length, metadata, then the image.
      return isUsersPrompt(promptId, connection.userId) && previewPasses(connection, frame, 8 + readUint32(frame, 4));
    }
    return false;
  }

  /**
   * Whether a preview of the user's own prompt goes out now. When previews are classified, at
   * most one per socket is checked at a time and at the configured rate; the others are
   * dropped (a later one replaces them), and a safe one is delivered when its verdict comes.
   */
  function previewPasses(connection: Connection, frame: Uint8Array, imageOffset: number): boolean {
    const gate = connection.previews;
    if (gate === null) return true;
    const mode = gate.mode();
    if (mode === "pass") return true;
    if (mode === "withhold") return false;
    const at = now();
    if (connection.previewBusy || at - connection.lastPreviewAt < 1000 / gate.ratePerSecond()) return false;
    connection.previewBusy = true;
    connection.lastPreviewAt = at;
    // The relay may reuse the frame's memory once this returns.
    const held = frame.slice();
    // A copy goes to the classifier (which may take its memory over); `held` stays deliverable.
    void gate
      .isSafe(held.slice(imageOffset))
      .catch(() => false)
      .then((safe) => {
        connection.previewBusy = false;
        if (safe && !connection.isClosed) connection.send?.(held);
      });
    return false;
  }

  return {
    /**
     * The policy for one WebSocket of `userId`, asking for `requestedClientId` (the `clientId`
     * query parameter; null or unusable gets a fresh one). Nothing is bound until the relay
     * claims it, so a request that never becomes a socket leaves nothing behind.
     */
    policyFor(userId: string, requestedClientId: string | null, previews: PreviewGate | null = null): RelayPolicy {
      const clientId = requestedClientId !== null && CLIENT_ID_PATTERN.test(requestedClientId) ? requestedClientId : mintSocketId();
      let markGone!: () => void;
      const gone = new Promise<void>((resolve) => (markGone = resolve));
      const connection: Connection = {
        userId,
        clientId,
        binding: null,
        upstreamSid: "",
        endRelay: null,
        endRequested: false,
        isOpen: false,
        isClosed: false,
        gone,
        markGone,
        lastSeenPrompt: null,
        previews,
        send: null,
        previewBusy: false,
        lastPreviewAt: 0,
      };
      return {
        get upstreamClientId() {
          return connection.upstreamSid;
        },
        claim: () => claim(connection),
        opened: (end, send) => opened(connection, end, send),
        toClientText: (text) => toClientText(connection, text),
        toClientBinary: (frame) => toClientBinary(connection, frame),
        closed: () => closed(connection),
      };
    },

    /** The upstream sid behind one of the user's clientIds, or null when that clientId is not theirs. */
    upstreamSidFor(userId: string, clientId: string): string | null {
      const binding = bindings.get(userId)?.get(clientId);
      if (binding === undefined) return null;
      binding.lastUsed = now();
      return binding.upstreamSid;
    },

    /** The upstream sid behind one of the user's clientIds whose socket is open now, or null. */
    openUpstreamSidFor(userId: string, clientId: string): string | null {
      const binding = bindings.get(userId)?.get(clientId);
      return binding === undefined || binding.holder === null ? null : binding.upstreamSid;
    },

    /** The upstream sid of the user's most recently opened socket that is still open, or null. */
    latestSidOf(userId: string): string | null {
      const open = openConnections.get(userId);
      return open === undefined || open.length === 0 ? null : open[open.length - 1]!.upstreamSid;
    },

    /** Open sockets of a user. */
    openSocketCount(userId: string): number {
      return openConnections.get(userId)?.length ?? 0;
    },

    /**
     * Whether the user may open one more socket (and counts the attempt): fewer than
     * MAX_SOCKETS_PER_USER open, and fewer upgrade attempts than that in the last few seconds, so
     * that a burst counts before its sockets are open (and reconnect loops are slowed).
     */
    admit(userId: string): boolean {
      const at = now();
      const recent = (upgradeAttempts.get(userId) ?? []).filter((t) => at - t < SOCKET_ATTEMPT_WINDOW_MS);
      const earlier = recent.length;
      recent.push(at);
      if (upgradeAttempts.size > 10_000) upgradeAttempts.clear(); // bounded; the window refills at once
      upgradeAttempts.set(userId, recent);
      return Math.max(this.openSocketCount(userId), earlier) < MAX_SOCKETS_PER_USER;
    },

    /** Drops idle bindings now (normally done in passing, once a minute). */
    sweep(): void {
      sweep(now());
    },
  };
}

export type SocketDirectory = ReturnType<typeof createSocketDirectory>;
