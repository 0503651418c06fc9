/**
 * Everything a fake ComfyUI instance remembers (spec §10.2), in one place so that a reset is
 * one call. Stores are small classes of their own; this object wires them together.
 */
import { FileStore } from "./file-store.ts";
import { HistoryStore } from "./history-store.ts";
import { createIdSource, type IdSource } from "./id-source.ts";
import { LogStore } from "./log-store.ts";
import type { ResolvedOptions } from "./options.ts";
import { PromptQueue } from "./prompt-queue.ts";
import { SocketHub } from "./socket-hub.ts";
import { UserRegistry } from "./user-registry.ts";
import { UserDataStore } from "./userdata-store.ts";

/** One request as the fake received it (for `GET /__fake/requests`). */
export interface RecordedRequest {
  method: string;
  /** Request target as received: path and query with their percent-encoding. */
  target: string;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Body as UTF-8 text when a handler read it and it was at most 1 MiB. */
  body: string | null;
  /** Body size in bytes when a handler read it. */
  bodyBytes: number | null;
  receivedAt: number;
}

export const RECORDED_BODY_LIMIT = 1024 * 1024;

export class FakeState {
  readonly ids: IdSource;
  readonly hub = new SocketHub();
  readonly queue: PromptQueue;
  readonly history = new HistoryStore();
  readonly files: FileStore;
  readonly userdata = new UserDataStore();
  readonly users: UserRegistry;
  readonly logs: LogStore;
  readonly requests: RecordedRequest[] = [];

  /** `PromptServer.number`: priority for prompts sent without `number`. */
  promptCounter = 0;
  /** `nodes.interrupt_processing()` sets it; each prompt clears it when it starts. */
  interruptRequested = false;
  /** `server.client_id`: the sid of the running prompt, or null. */
  currentClientId: string | null = null;
  /** `server.last_node_id`: the node being executed, for mid-execution reconnects. */
  lastNodeId: string | null = null;
  /** Bodies of `POST /free` calls. */
  freeRequests: unknown[] = [];
  /** Calls to the custom-node `POST /manager/reboot`. */
  managerReboots = 0;

  constructor(readonly options: ResolvedOptions) {
    this.ids = createIdSource(options.seed);
    this.queue = new PromptQueue(() => this.broadcastStatus());
    this.files = new FileStore(() => this.now());
    this.users = new UserRegistry(options.multiUser, options.profile, this.ids, options.users);
    this.logs = new LogStore(() => this.now(), this.hub);
    this.seedUserFiles();
  }

  now(): number {
    return this.options.now();
  }

  /** Seconds or milliseconds for userdata `full_info`, by profile (spec §2.4). */
  fileInfoTime(ms: number): number {
    return this.options.profile === "v0.38" ? Math.floor(ms) : ms / 1000;
  }

  queueStatus(): { exec_info: { queue_remaining: number } } {
    return { exec_info: { queue_remaining: this.queue.remaining() } };
  }

  /** The `status` broadcast ComfyUI sends whenever the queue changes. */
  broadcastStatus(): void {
    this.hub.sendJson(null, "status", { status: this.queueStatus() });
  }

  /** `GET /features` and the WebSocket `feature_flags` reply. */
  serverFeatures(): Record<string, unknown> {
    const base: Record<string, unknown> = {
      supports_preview_metadata: true,
      max_upload_size: this.options.maxUploadBytes,
    };
    if (this.options.profile === "v0.38") {
      base.supports_model_type_tags = true;
      base.extension = { manager: { supports_v4: true } };
      base.node_replacements = true;
      base.assets = true;
    }
    return base;
  }

  private seedUserFiles(): void {
    const encoder = new TextEncoder();
    for (const [user, files] of Object.entries(this.options.userFiles)) {
      const tree = this.userdata.tree(user);
      for (const [path, content] of Object.entries(files)) {
        tree.write(path, typeof content === "string" ? encoder.encode(content) : content, this.now());
      }
    }
  }

  /** Back to the starting state; open sockets are closed by the caller. */
  reset(): void {
    this.queue.reset();
    this.history.clear();
    this.files.reset();
    this.userdata.clear();
    this.users.reset();
    this.logs.reset();
    this.requests.length = 0;
    this.promptCounter = 0;
    this.interruptRequested = false;
    this.currentClientId = null;
    this.lastNodeId = null;
    this.freeRequests = [];
    this.managerReboots = 0;
    this.seedUserFiles();
  }
}
