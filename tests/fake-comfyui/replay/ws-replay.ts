/**
 * Drives a recorded WebSocket transcript against the fake: opens and closes sockets, sends
 * client messages and makes the HTTP calls in the recorded order. Each action waits until
 * every socket has received as many frames as the transcript shows before that action, which
 * reproduces the recorder's timing ("interrupt when node 2 starts"). Afterwards each socket's
 * frames are compared with the recorded ones as a sequence of signatures.
 */
import { decodeBinaryFrame } from "../binary-frames.ts";
import type { FakeComfyUI } from "../server.ts";
import type { IdMapper } from "./id-mapper.ts";
import type { TranscriptEntry, WsRecording } from "./recordings.ts";

export interface TextMessage {
  type: string;
  data: Record<string, unknown>;
}

export interface BinaryEventSummary {
  event_type: number;
  image_type?: number;
  node_id?: string;
  text?: string;
}

export type Frame = { kind: "text"; message: TextMessage } | { kind: "binary"; event: BinaryEventSummary };

/** Bun's WebSocket client takes request headers; the DOM typing in scope does not say so. */
const WebSocketWithHeaders = WebSocket as unknown as new (url: string, options: { headers?: Record<string, string> }) => WebSocket;

export class TranscriptSocket {
  readonly frames: Frame[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<void>;
  private readonly socket: WebSocket;

  constructor(url: string, headers: Record<string, string> | undefined) {
    this.socket = new WebSocketWithHeaders(url, headers === undefined ? {} : { headers });
    this.socket.binaryType = "arraybuffer";
    this.opened = new Promise((resolve, reject) => {
      this.socket.addEventListener("open", () => resolve(), { once: true });
      this.socket.addEventListener("error", () => reject(new Error(`cannot open ${url}`)), { once: true });
    });
    this.closed = new Promise((resolve) => this.socket.addEventListener("close", () => resolve(), { once: true }));
    this.socket.addEventListener("message", (event: MessageEvent) => {
      if (typeof event.data === "string") {
        this.frames.push({ kind: "text", message: JSON.parse(event.data) as TextMessage });
      } else {
        const decoded = decodeBinaryFrame(new Uint8Array(event.data as ArrayBuffer));
        const binary: BinaryEventSummary = { event_type: decoded.eventType };
        if (decoded.imageType !== undefined) binary.image_type = decoded.imageType;
        if (decoded.nodeId !== undefined) binary.node_id = decoded.nodeId;
        if (decoded.text !== undefined) binary.text = decoded.text;
        this.frames.push({ kind: "binary", event: binary });
      }
    });
  }

  send(data: unknown): void {
    this.socket.send(JSON.stringify(data));
  }

  close(): void {
    this.socket.close();
  }
}

/** What is compared of a frame: its type and the fields that make a sequence meaningful. */
export function signature(frame: Frame): string {
  if (frame.kind === "binary") {
    const e = frame.event;
    if (e.event_type === 1) return `BIN1(${e.image_type})`;
    if (e.event_type === 3) return `BIN3(${e.node_id}:${JSON.stringify(e.text)})`;
    return `BIN${e.event_type}`;
  }
  const { type, data } = frame.message;
  switch (type) {
    case "status": {
      const remaining = (data.status as { exec_info: { queue_remaining: number } }).exec_info.queue_remaining;
      if (data.sid === undefined) return `status(${remaining})`;
      const sid = String(data.sid);
      return `status(${remaining},sid=${/^[0-9a-f]{32}$/.test(sid) ? "<generated>" : sid})`;
    }
    case "executing":
      return `executing(${String(data.node)}${"prompt_id" in data ? "" : ",no prompt_id"})`;
    case "progress":
      return `progress(${String(data.value)}/${String(data.max)})`;
    case "execution_cached":
      return `execution_cached(${(data.nodes as string[]).join(",")})`;
    case "executed":
    case "execution_interrupted":
    case "execution_error":
      return `${type}(${String(data.node ?? data.node_id)})`;
    case "progress_state": {
      const nodes = Object.entries(data.nodes as Record<string, { value: number; max: number; state: string }>);
      return `progress_state(${nodes.map(([id, n]) => `${id}:${n.state}:${n.value}/${n.max}`).join(",")})`;
    }
    case "feature_flags":
      return `feature_flags(${JSON.stringify(data)})`;
    default:
      return type;
  }
}

function recordedFrame(entry: Extract<TranscriptEntry, { dir: "in" }>): Frame {
  if (entry.kind === "text") return { kind: "text", message: entry.data };
  return { kind: "binary", event: entry.data as BinaryEventSummary };
}

export interface TranscriptResult {
  /** Per socket label: recorded and observed signatures during this transcript. */
  sockets: Map<string, { recorded: string[]; observed: string[] }>;
  problems: string[];
}

async function waitUntil(condition: () => boolean, describe: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${describe()}`);
    await Bun.sleep(2);
  }
}

/**
 * Plays one transcript. `sockets` carries connections across transcripts, as the recorder kept
 * some sockets open from one transcript to the next.
 */
export async function playTranscript(
  fake: FakeComfyUI,
  recording: WsRecording,
  sockets: Map<string, TranscriptSocket>,
  ids: IdMapper,
): Promise<TranscriptResult> {
  const start = new Map<TranscriptSocket, number>();
  const expected = new Map<string, Frame[]>();
  const seenBy = (label: string): number => (expected.get(label) ?? []).length;
  const problems: string[] = [];
  const pendingHttp: Promise<Response>[] = [];
  const labelsInPlay = new Set<string>();
  // Sockets kept from earlier transcripts: only what arrives from now on belongs to this one.
  for (const socket of sockets.values()) start.set(socket, socket.frames.length);

  const observedSince = (label: string): Frame[] => {
    const socket = sockets.get(label);
    if (socket === undefined) return [];
    return socket.frames.slice(start.get(socket) ?? 0);
  };
  const caughtUp = async (): Promise<void> => {
    await waitUntil(
      () => [...expected.keys()].every((label) => observedSince(label).length >= seenBy(label)),
      () =>
        [...expected.keys()]
          .map((label) => `${label}: ${observedSince(label).length}/${seenBy(label)} frames [${observedSince(label).map(signature).join(", ")}]`)
          .join("; "),
    );
  };
  const track = (label: string): TranscriptSocket => {
    const socket = sockets.get(label);
    if (socket === undefined) throw new Error(`${recording.file}: socket ${label} is not open`);
    labelsInPlay.add(label);
    return socket;
  };

  for (const entry of recording.transcript) {
    if (entry.dir === "note") continue;
    if (entry.dir === "in") {
      track(entry.socket);
      expected.set(entry.socket, [...(expected.get(entry.socket) ?? []), recordedFrame(entry)]);
      continue;
    }
    await caughtUp();
    if (entry.dir === "event") {
      if (entry.event === "open") {
        const socket = new TranscriptSocket(`${fake.wsUrl}${ids.apply(entry.target)}`, entry.request_headers);
        sockets.set(entry.socket, socket);
        expected.set(entry.socket, []);
        start.set(socket, 0);
        labelsInPlay.add(entry.socket);
        await socket.opened;
      } else if (entry.event === "client_close_requested") {
        track(entry.socket).close();
      } else {
        await track(entry.socket).closed;
      }
    } else if (entry.dir === "out") {
      track(entry.socket).send(entry.data);
    } else if (entry.kind === "request") {
      const body = entry.body === null || entry.body === undefined ? undefined : JSON.stringify(ids.applyDeep(entry.body));
      pendingHttp.push(
        fetch(`${fake.url}${ids.apply(entry.target)}`, {
          method: entry.method,
          headers: { "Content-Type": "application/json" },
          ...(body === undefined ? {} : { body }),
        }),
      );
    } else {
      const response = await pendingHttp.shift();
      if (response === undefined) throw new Error(`${recording.file}: response without request`);
      if (response.status !== entry.status) problems.push(`${entry.method} ${entry.target}: status ${response.status}, recorded ${entry.status}`);
      const text = await response.text();
      const recordedId = (entry.body as { prompt_id?: unknown } | null)?.prompt_id;
      if (typeof recordedId === "string") {
        const actualId = (JSON.parse(text) as { prompt_id?: unknown }).prompt_id;
        if (typeof actualId !== "string" || !ids.matchString(recordedId, actualId)) problems.push(`prompt id ${String(actualId)}`);
      }
    }
  }
  await caughtUp();
  // Give stray frames (that the real server did not send) a moment to show up.
  await Bun.sleep(120);

  const result = new Map<string, { recorded: string[]; observed: string[] }>();
  for (const label of labelsInPlay) {
    result.set(label, {
      recorded: (expected.get(label) ?? []).map(signature),
      observed: observedSince(label).map(signature),
    });
  }
  return { sockets: result, problems };
}
