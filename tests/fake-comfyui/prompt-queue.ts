/**
 * ComfyUI's `PromptQueue`: pending items in a binary min-heap ordered like Python tuples
 * `(number, prompt_id, …)`, plus the items currently running. Views are the raw 5-tuples
 * `[number, prompt_id, prompt, extra_data, outputs_to_execute]` (spec §3.2).
 */
import { heapify, heapPop, heapPush } from "./min-heap.ts";
import type { JsonObject, PromptGraph } from "./prompt-validation.ts";

export type QueueTuple = [number, string, PromptGraph, JsonObject, string[]];

export interface QueuedPrompt {
  tuple: QueueTuple;
  /** v0.38 keeps the sensitive extra_data keys in a 6th slot that no view shows. */
  sensitive: JsonObject;
}

export interface RunningPrompt {
  taskId: number;
  prompt: QueuedPrompt;
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Python compares the tuples element by element; number, then prompt id decide in practice. */
function compareItems(a: QueuedPrompt, b: QueuedPrompt): number {
  return a.tuple[0] - b.tuple[0] || byCodePoint(a.tuple[1], b.tuple[1]);
}

export class PromptQueue {
  private heap: QueuedPrompt[] = [];
  private readonly running = new Map<number, QueuedPrompt>();
  private taskCounter = 0;

  /** Called after every change, as ComfyUI calls `queue_updated()` (a `status` broadcast). */
  constructor(private readonly onChange: () => void) {}

  reset(): void {
    this.heap = [];
    this.running.clear();
  }

  put(prompt: QueuedPrompt): void {
    heapPush(this.heap, prompt, compareItems);
    this.onChange();
  }

  take(): RunningPrompt | undefined {
    const prompt = heapPop(this.heap, compareItems);
    if (prompt === undefined) return undefined;
    const taskId = this.taskCounter++;
    this.running.set(taskId, prompt);
    this.onChange();
    return { taskId, prompt };
  }

  /** `task_done`: the caller has written the history entry before this. */
  finish(taskId: number): void {
    this.running.delete(taskId);
    this.onChange();
  }

  pending(): QueuedPrompt[] {
    return [...this.heap];
  }

  runningPrompts(): QueuedPrompt[] {
    return [...this.running.values()];
  }

  pendingCount(): number {
    return this.heap.length;
  }

  /** `queue_remaining`: pending plus running. */
  remaining(): number {
    return this.heap.length + this.running.size;
  }

  isRunning(promptId: string): boolean {
    return [...this.running.values()].some((p) => p.tuple[1] === promptId);
  }

  isPending(promptId: string): boolean {
    return this.heap.some((p) => p.tuple[1] === promptId);
  }

  /** `wipe_queue`: every pending item; running ones stay. */
  wipe(): void {
    this.heap = [];
    this.onChange();
  }

  /** `delete_queue_item`: the first pending item with that id, then `heapify`. */
  deletePending(promptId: string): boolean {
    const index = this.heap.findIndex((p) => p.tuple[1] === promptId);
    if (index === -1) return false;
    this.heap.splice(index, 1);
    heapify(this.heap, compareItems);
    this.onChange();
    return true;
  }
}
