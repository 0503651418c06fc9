/**
 * Test controls shared by the programmatic API and the `/__fake/*` routes: broadcasts and
 * binary frames as a custom node would send them, big deterministic files for streaming
 * benchmarks, a state summary, and reset.
 */
import {
  BinaryEvent,
  PreviewImageType,
  previewImageFrame,
  previewWithMetadataFrame,
  progressTextFrame,
  type PreviewMetadata,
} from "./binary-frames.ts";
import { encodeSolidPng } from "./png.ts";
import type { PromptWorker } from "./prompt-worker.ts";
import type { FakeState } from "./state.ts";
import type { StepReport } from "./manual-stepper.ts";
import { isFileType, isInside, joinAbsolute, relativeTo, typeDirectory, type FileType } from "./virtual-paths.ts";

export interface BinaryEventSpec {
  /** Target sid; null or absent broadcasts. */
  sid?: string | null;
  event: number;
  /** Type 1: 1 = JPEG, 2 = PNG (default). */
  image_type?: number;
  /** Image bytes, base64; a small PNG by default. */
  image_base64?: string;
  /** Type 3. */
  node_id?: string;
  text?: string;
  /** Type 4: merged over defaults. */
  metadata?: Partial<PreviewMetadata>;
}

export interface CreateFileSpec {
  type: FileType;
  subfolder?: string;
  filename: string;
  /** Size in bytes of deterministic content (ignored when `content` is given). */
  size?: number;
  content?: Uint8Array | string;
}

export interface StateSummary {
  queue_remaining: number;
  running: string[];
  pending: string[];
  history: string[];
  sockets: string[];
  open_connections: number;
  current_client_id: string | null;
  last_node_id: string | null;
  interrupt_requested: boolean;
  prompt_counter: number;
  parked: StepReport;
  paused: boolean;
  execution_mode: "auto" | "manual";
  free_requests: unknown[];
  manager_reboots: number;
}

export class FakeControls {
  constructor(
    private readonly state: FakeState,
    private readonly worker: PromptWorker,
  ) {}

  /** `send_sync(type, data, sid)`; returns the sids that got it. */
  broadcast(type: string, data: unknown, sid: string | null = null): string[] {
    const targets = sid === null ? this.state.hub.sids() : this.state.hub.sids().filter((s) => s === sid);
    this.state.hub.sendJson(sid, type, data);
    return targets;
  }

  /**
   * `count` text messages `{type, data: {seq, pad}}` with about `bytes` of padding, sent back to
   * back (WebSocket throughput benchmarks). Returns the sids reached.
   */
  /** `promptId`: messages carry it, as a prompt's progress events do (for per-user filtering). */
  flood(type: string, count: number, bytes: number, sid: string | null = null, promptId: string | null = null): string[] {
    const targets = sid === null ? this.state.hub.sids() : this.state.hub.sids().filter((s) => s === sid);
    const pad = "x".repeat(Math.max(0, bytes));
    for (let seq = 0; seq < count; seq++) this.state.hub.sendJson(sid, type, promptId === null ? { seq, pad } : { seq, pad, prompt_id: promptId });
    return targets;
  }

  sendBinary(spec: BinaryEventSpec): string[] {
    const sid = spec.sid ?? null;
    const image = spec.image_base64 === undefined
      ? encodeSolidPng({ width: 8, height: 8, color: 0x336699 })
      : new Uint8Array(Buffer.from(spec.image_base64, "base64"));
    let frame: Uint8Array;
    if (spec.event === BinaryEvent.PREVIEW_IMAGE) {
      frame = previewImageFrame(spec.image_type ?? PreviewImageType.PNG, image);
    } else if (spec.event === BinaryEvent.TEXT) {
      frame = progressTextFrame(spec.node_id ?? "1", spec.text ?? "");
    } else if (spec.event === BinaryEvent.PREVIEW_IMAGE_WITH_METADATA) {
      const metadata: PreviewMetadata = {
        node_id: "1",
        prompt_id: "",
        display_node_id: "1",
        parent_node_id: null,
        real_node_id: "1",
        image_type: "image/png",
        ...spec.metadata,
      };
      frame = previewWithMetadataFrame(metadata, image);
    } else {
      throw new Error(`unknown binary event ${spec.event}`);
    }
    const targets = sid === null ? this.state.hub.sids() : this.state.hub.sids().filter((s) => s === sid);
    this.state.hub.sendBinary(sid, frame);
    return targets;
  }

  createFile(spec: CreateFileSpec): { name: string; subfolder: string; type: FileType; size: number } {
    if (!isFileType(spec.type)) throw new Error(`type must be input, output or temp, not ${String(spec.type)}`);
    const root = typeDirectory(spec.type);
    const absolute = joinAbsolute(root, spec.subfolder ?? "", spec.filename);
    if (!isInside(root, absolute) || absolute === root) throw new Error("file must stay inside its type directory");
    const path = relativeTo(root, absolute);
    const file =
      spec.content === undefined
        ? this.state.files.writeDeterministic(spec.type, path, Math.max(0, Math.floor(spec.size ?? 0)))
        : this.state.files.write(spec.type, path, typeof spec.content === "string" ? new TextEncoder().encode(spec.content) : spec.content);
    return { name: spec.filename, subfolder: spec.subfolder ?? "", type: spec.type, size: file.size };
  }

  summary(): StateSummary {
    const { state } = this;
    return {
      queue_remaining: state.queue.remaining(),
      running: state.queue.runningPrompts().map((p) => p.tuple[1]),
      pending: state.queue.pending().map((p) => p.tuple[1]),
      history: state.history.all().map(([id]) => id),
      sockets: state.hub.sids(),
      open_connections: state.hub.openConnections(),
      current_client_id: state.currentClientId,
      last_node_id: state.lastNodeId,
      interrupt_requested: state.interruptRequested,
      prompt_counter: state.promptCounter,
      parked: this.worker.parkedAt(),
      paused: this.worker.isPaused,
      execution_mode: this.worker.executionMode,
      free_requests: state.freeRequests,
      manager_reboots: state.managerReboots,
    };
  }

  reset(): void {
    this.worker.reset();
    this.state.hub.closeAll();
    this.state.reset();
  }
}
