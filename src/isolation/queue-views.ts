/**
 * Per-user views of ComfyUI's shared queue, history and jobs (comfyui-api.md §3.2, §3.3, §3.9,
 * §8): keep the caller's items, then page. Pure functions over parsed JSON.
 */

/** Queue items are `[number, prompt_id, prompt, extra_data, outputs]`. */
export function filterQueue(body: unknown, isMine: (promptId: string) => boolean): unknown {
  if (typeof body !== "object" || body === null) return body;
  const queue = body as Record<string, unknown>;
  const keep = (items: unknown) => (Array.isArray(items) ? items.filter((item) => Array.isArray(item) && typeof item[1] === "string" && isMine(item[1])) : items);
  return { ...queue, queue_running: keep(queue.queue_running), queue_pending: keep(queue.queue_pending) };
}

/** The prompt ids in a queue answer: running first, then pending. */
export function queueIds(body: unknown): { running: string[]; pending: string[] } {
  const ids = (items: unknown) => (Array.isArray(items) ? items.flatMap((item) => (Array.isArray(item) && typeof item[1] === "string" ? [item[1]] : [])) : []);
  const queue = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  return { running: ids(queue.queue_running), pending: ids(queue.queue_pending) };
}

/**
 * ComfyUI's history paging on an already filtered list (oldest first): without an offset,
 * `max_items` is the newest N; an offset counts from the oldest.
 */
export function pageHistory<T>(entries: readonly (readonly [string, T])[], maxItems: number | null, offset: number | null): Record<string, T> {
  let start = offset ?? -1;
  if (start < 0 && maxItems !== null) start = entries.length - maxItems;
  start = Math.max(0, start);
  const end = maxItems === null ? entries.length : start + Math.max(0, maxItems);
  const page: Record<string, T> = {};
  for (const [id, entry] of entries.slice(start, end)) page[id] = entry;
  return page;
}

/** A non-negative integer query value, as ComfyUI's `int()` would take it; null when absent; NaN when bad. */
export function integerParam(value: string | null): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  return /^[+-]?\d{1,15}$/.test(trimmed) ? Number(trimmed) : Number.NaN;
}

/** `/api/jobs` re-paged after filtering: same `jobs` and `pagination` shape as ComfyUI's. */
export function filterJobs(body: unknown, isMine: (id: string) => boolean, limit: number | null, offset: number): unknown {
  if (typeof body !== "object" || body === null || !Array.isArray((body as { jobs?: unknown }).jobs)) return body;
  const all = ((body as { jobs: unknown[] }).jobs).filter((job) => typeof job === "object" && job !== null && typeof (job as { id?: unknown }).id === "string" && isMine((job as { id: string }).id));
  const page = limit === null ? all.slice(offset) : all.slice(offset, offset + limit);
  return { ...(body as Record<string, unknown>), jobs: page, pagination: { offset, limit, total: all.length, has_more: offset + page.length < all.length } };
}

/** The ids in a `{delete: [...]}` body that are the caller's. */
export function ownIds(ids: unknown, isMine: (promptId: string) => boolean): string[] {
  return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === "string" && isMine(id)) : [];
}
