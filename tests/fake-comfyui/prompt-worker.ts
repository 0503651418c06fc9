/**
 * The prompt worker: takes items off the queue one at a time and plays the execution script of
 * spec §10.5 with the message order recorded from ComfyUI 0.3.64 (ws-03a … ws-08b):
 *
 *   status · execution_start · execution_cached ·
 *   per node: progress_state(running) · executing · [interrupt check] · work / progress ticks ·
 *             executed (output nodes) · progress_state(finished)
 *   execution_success | execution_error | execution_interrupted · history · status · executing null
 *
 * Targeted messages go to the prompt's client_id only and are dropped without one, except
 * `progress`, `progress_state`, type-1 previews and `execution_interrupted`, which are broadcast
 * when the prompt has no client_id. Identical nodes of the previous prompt are cached, as in
 * ComfyUI's classic cache (a fully cached re-run sends only `executed` for its outputs).
 */
import {
  previewImageFrame,
  PreviewImageType,
  previewWithMetadataFrame,
  progressTextFrame,
} from "./binary-frames.ts";
import type { HistoryEntry, StatusMessage } from "./history-store.ts";
import { IDLE_REPORT, ManualStepper, type StepReport } from "./manual-stepper.ts";
import { describeInputs, NODE_BEHAVIOURS, NodeFailure, type NodeRuntime } from "./node-behaviours.ts";
import type { ExecutionMode } from "./options.ts";
import type { JsonValue } from "./py-json.ts";
import type { JsonObject, PromptGraph, PromptNode } from "./prompt-validation.ts";
import type { RunningPrompt } from "./prompt-queue.ts";
import { computeSignatures, executionOrder, isLink, withoutSensitiveKeys } from "./execution-plan.ts";
import type { FakeState } from "./state.ts";

interface CacheEntry {
  signature: string;
  outputs: unknown[];
  ui: JsonObject | undefined;
}

interface NodeProgress {
  value: number;
  max: number;
  state: "running" | "finished";
}

/** The running node saw the interrupt flag. */
class InterruptSignal extends Error {}
/** The fake was reset or stopped while this prompt ran: drop it silently. */
class AbandonedSignal extends Error {}

type Ending =
  | { kind: "success" }
  | { kind: "interrupted"; nodeId: string }
  | { kind: "error"; nodeId: string; error: unknown; inputs: Record<string, unknown> };

/** Per-prompt bookkeeping shared by the worker and the running node. */
class PromptRun {
  readonly progress = new Map<string, NodeProgress>();
  readonly values = new Map<string, unknown[]>();
  readonly messages: StatusMessage[] = [];
  readonly uiOutputs: Record<string, JsonObject> = {};
  readonly meta: HistoryEntry["meta"] = {};
  /** Nodes done so far, cached ones included (`executed` in interrupt and error messages). */
  readonly executed: string[] = [];
  /** The cache after this prompt: its reused entries plus what it computed. */
  readonly nextCache = new Map<string, CacheEntry>();

  constructor(
    readonly promptId: string,
    readonly graph: PromptGraph,
    readonly extraData: JsonObject,
    readonly outputs: string[],
    readonly clientId: string | null,
    readonly generation: number,
    readonly signatures: Map<string, string>,
    readonly cachedIds: string[],
    readonly startedAt: number,
  ) {}

  progressStateMessage(): JsonObject {
    const nodes: JsonObject = {};
    for (const [nodeId, entry] of this.progress) {
      nodes[nodeId] = {
        value: entry.value,
        max: entry.max,
        state: entry.state,
        node_id: nodeId,
        prompt_id: this.promptId,
        display_node_id: nodeId,
        parent_node_id: null,
        real_node_id: nodeId,
      };
    }
    return { prompt_id: this.promptId, nodes };
  }
}

export class PromptWorker {
  private readonly stepper = new ManualStepper();
  private cache = new Map<string, CacheEntry>();
  private wakeUp: (() => void) | null = null;
  private idleWaiters: (() => void)[] = [];
  private busy = false;
  private stopped = false;
  /** Paused: the running prompt goes on, but nothing new is taken off the queue. */
  private paused = false;
  private mode: ExecutionMode;
  private generation = 0;
  private abort = new AbortController();

  constructor(private readonly state: FakeState) {
    this.mode = state.options.execution;
  }

  private get manual(): boolean {
    return this.mode === "manual";
  }

  get executionMode(): ExecutionMode {
    return this.mode;
  }

  /** Switch between auto and manual at run time; a parked worker goes on in auto mode. */
  setExecutionMode(mode: ExecutionMode): void {
    this.mode = mode;
    if (mode === "auto") this.stepper.release();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Stop taking prompts off the queue (they stay pending), or start again. */
  setPaused(paused: boolean): void {
    this.paused = paused;
    if (!paused) this.wakeUp?.();
  }

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.abandonCurrentPrompt();
    this.wakeUp?.();
  }

  /** Forget the running prompt and the cache; back to the configured mode, not paused. */
  reset(): void {
    this.abandonCurrentPrompt();
    this.cache.clear();
    this.mode = this.state.options.execution;
    this.paused = false;
  }

  private abandonCurrentPrompt(): void {
    this.generation++;
    this.abort.abort();
    this.abort = new AbortController();
    this.stepper.release();
  }

  /** A prompt was queued. */
  wake(): void {
    this.wakeUp?.();
  }

  /** `nodes.interrupt_processing()`. A parked manual worker goes on to notice it. */
  interrupt(): void {
    this.state.interruptRequested = true;
    if (this.manual) this.stepper.release();
  }

  /** Nothing runs, and nothing pending will run (the queue is empty or the worker paused). */
  isIdle(): boolean {
    return !this.busy && (this.paused || this.state.queue.pendingCount() === 0);
  }

  waitForIdle(timeoutMs = 10_000): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fake ComfyUI still busy after ${timeoutMs} ms`)), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Manual mode: let the worker run to its next wait point (or until idle). */
  async step(): Promise<StepReport> {
    if (!this.manual) throw new Error("step() needs execution: \"manual\"");
    if (!this.stepper.isParked) {
      if (this.isIdle()) return IDLE_REPORT;
      const settled = await this.stepper.nextSettle();
      if (settled.state === "idle") return settled;
    }
    const next = this.stepper.nextSettle();
    this.stepper.release();
    return await next;
  }

  /** Where a manual worker is parked, if it is. */
  parkedAt(): StepReport {
    return this.stepper.current ?? IDLE_REPORT;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const next = this.paused ? undefined : this.state.queue.take();
      if (next === undefined) {
        this.busy = false;
        this.stepper.idle();
        for (const waiter of this.idleWaiters.splice(0)) waiter();
        await new Promise<void>((resolve) => (this.wakeUp = resolve));
        this.wakeUp = null;
        continue;
      }
      this.busy = true;
      try {
        await this.runPrompt(next);
      } catch (error) {
        if (!(error instanceof AbandonedSignal)) console.error("fake-comfyui: prompt worker failed", error);
      }
    }
  }

  private checkAlive(run: PromptRun): void {
    if (run.generation !== this.generation) throw new AbandonedSignal();
  }

  private sleep(ms: number, run: PromptRun): Promise<void> {
    if (this.manual || ms <= 0) return Promise.resolve();
    const signal = this.abort.signal;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
    }).then(() => this.checkAlive(run));
  }

  private async waitPoint(run: PromptRun, nodeId: string, next: "node" | "tick"): Promise<void> {
    if (!this.manual) return;
    await this.stepper.park({ state: "waiting", prompt_id: run.promptId, node: nodeId, next });
    this.checkAlive(run);
  }

  /** To the prompt's client only; nothing without a client_id. */
  private sendToClient(run: PromptRun, type: string, data: unknown): void {
    if (run.clientId !== null) this.state.hub.sendJson(run.clientId, type, data);
  }

  /** To the prompt's client, or to everyone when it has no client_id. */
  private sendToClientOrAll(run: PromptRun, type: string, data: unknown): void {
    this.state.hub.sendJson(run.clientId, type, data);
  }

  private record(run: PromptRun, type: string, data: JsonObject, broadcastWithoutClient = false): void {
    run.messages.push([type, data]);
    if (broadcastWithoutClient) this.sendToClientOrAll(run, type, data);
    else this.sendToClient(run, type, data);
  }

  private sendProgressState(run: PromptRun): void {
    this.sendToClientOrAll(run, "progress_state", run.progressStateMessage());
  }

  private sendPreviewAndProgress(run: PromptRun, nodeId: string, value: number, max: number, preview: Uint8Array | null): void {
    const progress = { value, max, prompt_id: run.promptId, node: nodeId };
    const { hub } = this.state;
    if (preview === null) {
      hub.sendJson(run.clientId, "progress", progress);
    } else if (run.clientId !== null && hub.supportsPreviewMetadata(run.clientId)) {
      const metadata = {
        node_id: nodeId,
        prompt_id: run.promptId,
        display_node_id: nodeId,
        parent_node_id: null,
        real_node_id: nodeId,
        image_type: "image/png",
      };
      hub.sendBinary(run.clientId, previewWithMetadataFrame(metadata, preview));
      hub.sendJson(run.clientId, "progress", progress);
    } else {
      // Without the metadata flag, or without a client_id (then to everyone, finding 9).
      hub.sendJson(run.clientId, "progress", progress);
      hub.sendBinary(run.clientId, previewImageFrame(PreviewImageType.PNG, preview));
    }
  }

  private runtimeFor(run: PromptRun, nodeId: string, ticks: { count: number; lastMax: number | null }): NodeRuntime {
    const { options } = this.state;
    return {
      promptId: run.promptId,
      nodeId,
      prompt: run.graph,
      extraData: run.extraData,
      files: this.state.files,
      ids: this.state.ids,
      work: (ms) => this.sleep(ms, run),
      workMs: (pixels, factor = 1) => options.stepDelayMs + (pixels / 1_000_000) * options.workMsPerMegapixel * factor,
      tick: async (value, max, preview, workMs) => {
        if (ticks.count++ > 0) await this.waitPoint(run, nodeId, "tick");
        if (this.state.interruptRequested) throw new InterruptSignal();
        run.progress.set(nodeId, { value, max, state: "running" });
        this.sendProgressState(run);
        await this.sleep(workMs, run);
        ticks.lastMax = max;
        this.sendPreviewAndProgress(run, nodeId, value, max, preview);
      },
      progressText: (text) => this.state.hub.sendBinary(null, progressTextFrame(nodeId, text)),
    };
  }

  private resolveInputs(run: PromptRun, node: PromptNode): Record<string, unknown> {
    const inputs: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(node.inputs ?? {})) {
      if (isLink(value, run.graph)) {
        const source = run.values.get(value[0]) ?? this.cache.get(value[0])?.outputs ?? [];
        inputs[name] = source[value[1]];
      } else {
        inputs[name] = value;
      }
    }
    return inputs;
  }

  private async runPrompt(running: RunningPrompt): Promise<void> {
    const run = this.beginRun(running);
    const ending = await this.runNodes(run);
    this.checkAlive(run);
    this.cache = run.nextCache;
    this.endRun(run, running, ending);
  }

  /** Client and flags for the prompt, then `execution_start` and `execution_cached`. */
  private beginRun({ prompt: queued }: RunningPrompt): PromptRun {
    const { state } = this;
    const [, promptId, graph, extraData, outputs] = queued.tuple;
    const clientValue = extraData.client_id;
    const clientId = clientValue === undefined || clientValue === null ? null : String(clientValue);
    const signatures = computeSignatures(graph);
    const cachedIds = Object.keys(graph).filter((id) => this.cache.get(id)?.signature === signatures.get(id));
    const run = new PromptRun(promptId, graph, extraData, outputs, clientId, this.generation, signatures, cachedIds, state.now());
    state.interruptRequested = false; // finding 6: an idle interrupt does not carry over
    state.currentClientId = clientId;
    this.record(run, "execution_start", { prompt_id: promptId, timestamp: state.now() });
    this.record(run, "execution_cached", { nodes: cachedIds, prompt_id: promptId, timestamp: state.now() });
    for (const id of cachedIds) run.nextCache.set(id, this.cache.get(id) as CacheEntry);
    return run;
  }

  private showOutput(run: PromptRun, nodeId: string, ui: JsonObject): void {
    run.uiOutputs[nodeId] = ui;
    run.meta[nodeId] = { node_id: nodeId, display_node: nodeId, parent_node: null, real_node_id: nodeId };
    this.sendToClient(run, "executed", { node: nodeId, display_node: nodeId, output: ui, prompt_id: run.promptId });
  }

  private async runNodes(run: PromptRun): Promise<Ending> {
    const isCached = (id: string): boolean => run.cachedIds.includes(id);
    for (const nodeId of executionOrder(run.graph, run.outputs, isCached)) {
      if (isCached(nodeId)) {
        // A cached node only reports: its UI output (if any) and "finished".
        const entry = this.cache.get(nodeId) as CacheEntry;
        run.values.set(nodeId, entry.outputs);
        if (entry.ui !== undefined) this.showOutput(run, nodeId, entry.ui);
        run.progress.set(nodeId, { value: 1, max: 1, state: "finished" });
        this.sendProgressState(run);
        run.executed.push(nodeId);
        continue;
      }
      const ending = await this.runNode(run, nodeId);
      if (ending !== null) return ending;
    }
    return { kind: "success" };
  }

  /** One node: null when it finished, otherwise how the prompt ends. */
  private async runNode(run: PromptRun, nodeId: string): Promise<Ending | null> {
    const { state } = this;
    const node = run.graph[nodeId] as PromptNode;
    await this.waitPoint(run, nodeId, "node");
    run.progress.set(nodeId, { value: 0, max: 1, state: "running" });
    this.sendProgressState(run);
    state.lastNodeId = nodeId;
    this.sendToClient(run, "executing", { node: nodeId, display_node: nodeId, prompt_id: run.promptId });
    if (state.interruptRequested) return { kind: "interrupted", nodeId };
    const ticks = { count: 0, lastMax: null as number | null };
    const inputs = this.resolveInputs(run, node);
    try {
      const behaviour = NODE_BEHAVIOURS[node.class_type];
      if (behaviour === undefined) throw new NodeFailure("KeyError", `'${node.class_type}'`, []);
      const outcome = await behaviour(inputs, this.runtimeFor(run, nodeId, ticks));
      this.checkAlive(run);
      run.values.set(nodeId, outcome.outputs);
      run.nextCache.set(nodeId, { signature: run.signatures.get(nodeId) as string, outputs: outcome.outputs, ui: outcome.ui });
      if (outcome.ui !== undefined) this.showOutput(run, nodeId, outcome.ui);
      const max = ticks.lastMax ?? 1;
      run.progress.set(nodeId, { value: max, max, state: "finished" });
      this.sendProgressState(run);
      run.executed.push(nodeId);
      return null;
    } catch (error) {
      if (error instanceof AbandonedSignal) throw error;
      if (error instanceof InterruptSignal) return { kind: "interrupted", nodeId };
      return { kind: "error", nodeId, error, inputs };
    }
  }

  /** The final message, the history entry, `status`, then `executing null`. */
  private endRun(run: PromptRun, { taskId, prompt: queued }: RunningPrompt, ending: Ending): void {
    const { state } = this;
    if (ending.kind === "success") {
      this.record(run, "execution_success", { prompt_id: run.promptId, timestamp: state.now() });
    } else if (ending.kind === "interrupted") {
      const data = {
        prompt_id: run.promptId,
        node_id: ending.nodeId,
        node_type: (run.graph[ending.nodeId] as PromptNode).class_type,
        executed: [...run.executed],
        timestamp: state.now(),
      };
      this.record(run, "execution_interrupted", data, true);
      state.logs.append("Processing interrupted");
    } else {
      this.record(run, "execution_error", this.errorMessage(run, ending.nodeId, ending.error, ending.inputs));
      state.logs.append(`!!! Exception during processing !!! ${ending.error instanceof Error ? ending.error.message : String(ending.error)}`);
    }
    const success = ending.kind === "success";
    state.history.set(run.promptId, {
      prompt: [queued.tuple[0], run.promptId, run.graph, withoutSensitiveKeys(run.extraData), run.outputs],
      outputs: run.uiOutputs,
      status: { status_str: success ? "success" : "error", completed: success, messages: run.messages },
      meta: run.meta,
    });
    state.queue.finish(taskId);
    this.sendToClient(run, "executing", { node: null, prompt_id: run.promptId });
    state.lastNodeId = null;
    state.logs.append(`Prompt executed in ${((state.now() - run.startedAt) / 1000).toFixed(2)} seconds`);
  }

  private errorMessage(run: PromptRun, nodeId: string, error: unknown, inputs: Record<string, unknown>): JsonObject {
    const node = run.graph[nodeId] as PromptNode;
    const failure = error instanceof NodeFailure ? error : null;
    const allInputs: Record<string, unknown> = { ...inputs };
    if (node.class_type === "SaveImage" || node.class_type === "PreviewImage") {
      allInputs.prompt = run.graph;
      allInputs.extra_pnginfo = (run.extraData.extra_pnginfo as JsonValue | undefined) ?? null;
    }
    return {
      prompt_id: run.promptId,
      node_id: nodeId,
      node_type: node.class_type,
      executed: [...run.executed],
      exception_message: error instanceof Error ? error.message : String(error),
      exception_type: failure?.exceptionType ?? "Exception",
      traceback: failure?.traceback ?? [],
      current_inputs: describeInputs(allInputs),
      current_outputs: [...run.executed, nodeId],
      timestamp: this.state.now(),
    };
  }
}
