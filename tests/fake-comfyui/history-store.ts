/**
 * ComfyUI's history: a dict in insertion order, capped at 10 000 entries. Writing an existing
 * prompt id replaces the entry where it stands (finding 1), which a JS `Map` does too.
 */
import type { JsonObject } from "./prompt-validation.ts";
import type { QueueTuple } from "./prompt-queue.ts";
import type { JsonValue } from "./py-json.ts";

export const MAXIMUM_HISTORY_SIZE = 10000;

export type StatusMessage = [string, JsonObject];

export interface HistoryEntry {
  prompt: QueueTuple;
  outputs: Record<string, JsonObject>;
  status: { status_str: "success" | "error"; completed: boolean; messages: StatusMessage[] };
  meta: Record<string, { node_id: string; display_node: string; parent_node: JsonValue; real_node_id: string }>;
}

export class HistoryStore {
  private readonly entries = new Map<string, HistoryEntry>();

  set(promptId: string, entry: HistoryEntry): void {
    this.entries.set(promptId, entry);
    if (this.entries.size > MAXIMUM_HISTORY_SIZE) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  get(promptId: string): HistoryEntry | undefined {
    return this.entries.get(promptId);
  }

  delete(promptId: string): void {
    this.entries.delete(promptId);
  }

  clear(): void {
    this.entries.clear();
  }

  all(): [string, HistoryEntry][] {
    return [...this.entries.entries()];
  }

  /**
   * `get_history(max_items, offset)`: without an offset, `max_items` means the newest N;
   * `offset` counts from the oldest. The quirks (e.g. `max_items=0&offset=0` returns one entry)
   * are kept.
   */
  page(maxItems: number | null, offset: number): Record<string, HistoryEntry> {
    let start = offset;
    if (start < 0 && maxItems !== null) start = this.entries.size - maxItems;
    const out: Record<string, HistoryEntry> = {};
    let index = 0;
    let count = 0;
    for (const [promptId, entry] of this.entries) {
      if (index >= start) {
        out[promptId] = entry;
        count++;
        if (maxItems !== null && count >= maxItems) break;
      }
      index++;
    }
    return out;
  }
}
