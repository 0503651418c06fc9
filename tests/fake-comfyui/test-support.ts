/**
 * Helpers for the fake's own tests: graphs, a socket that collects frames, and waiting for a
 * condition without fixed sleeps.
 */
import { decodeBinaryFrame, type DecodedFrame } from "./binary-frames.ts";

export type Graph = Record<string, { class_type: string; inputs: Record<string, unknown> }>;

/** EmptyImage → SaveImage, the recordings' `g_save`. */
export function saveGraph(prefix = "fx", color = 0x102030, size = 64): Graph {
  return {
    "1": { class_type: "EmptyImage", inputs: { width: size, height: size, batch_size: 1, color } },
    "9": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: prefix } },
  };
}

/** FakeSampler → PreviewImage. */
export function samplerGraph(steps: number, extra: Record<string, unknown> = {}): Graph {
  return {
    "3": { class_type: "FakeSampler", inputs: { steps, seed: Math.floor(Math.random() * 1e9), width: 32, height: 32, ...extra } },
    "9": { class_type: "PreviewImage", inputs: { images: ["3", 0] } },
  };
}

export async function postPrompt(baseUrl: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${baseUrl}/api/prompt`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(2);
  }
}

export type ReceivedFrame = { kind: "text"; type: string; data: Record<string, unknown> } | ({ kind: "binary" } & DecodedFrame);

/** A WebSocket client that keeps every frame it receives. */
export class CollectingSocket {
  readonly frames: ReceivedFrame[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<void>;
  private readonly socket: WebSocket;

  constructor(url: string) {
    this.socket = new WebSocket(url);
    this.socket.binaryType = "arraybuffer";
    this.opened = new Promise((resolve, reject) => {
      this.socket.addEventListener("open", () => resolve(), { once: true });
      this.socket.addEventListener("error", () => reject(new Error(`cannot open ${url}`)), { once: true });
    });
    this.closed = new Promise((resolve) => this.socket.addEventListener("close", () => resolve(), { once: true }));
    this.socket.addEventListener("message", (event: MessageEvent) => {
      if (typeof event.data === "string") {
        const message = JSON.parse(event.data) as { type: string; data: Record<string, unknown> };
        this.frames.push({ kind: "text", type: message.type, data: message.data });
      } else {
        this.frames.push({ kind: "binary", ...decodeBinaryFrame(new Uint8Array(event.data as ArrayBuffer)) });
      }
    });
  }

  static async open(url: string): Promise<CollectingSocket> {
    const socket = new CollectingSocket(url);
    await socket.opened;
    await waitFor(() => socket.frames.length > 0, "the first status frame");
    return socket;
  }

  send(message: unknown): void {
    this.socket.send(JSON.stringify(message));
  }

  close(): void {
    this.socket.close();
  }

  texts(type?: string): { type: string; data: Record<string, unknown> }[] {
    return this.frames.flatMap((f) => (f.kind === "text" && (type === undefined || f.type === type) ? [f] : []));
  }

  binaries(): DecodedFrame[] {
    return this.frames.flatMap((f) => (f.kind === "binary" ? [f] : []));
  }

  /** Waits for `executing {node: null}` of that prompt (the frontend's "done"). */
  async waitForDone(promptId: string): Promise<void> {
    await waitFor(
      () => this.texts("executing").some((m) => m.data.node === null && m.data.prompt_id === promptId),
      `prompt ${promptId} to finish`,
    );
  }
}
