/**
 * The v0.38 jobs API (spec §3.9): `/api/jobs`, `/api/jobs/{id}`, `/api/jobs/{id}/cancel` and
 * `/api/jobs/cancel`. Jobs are built from the queue and the history; keys whose value would be
 * None are left out. These routes are declared with their `/api` prefix, so the mirror makes
 * `/api/api/jobs` and there is no `/jobs`.
 */
import type { HistoryEntry } from "./history-store.ts";
import { jsonResponse } from "./http-responses.ts";
import { CANONICAL_UUID } from "./id-source.ts";
import type { QueuedPrompt } from "./prompt-queue.ts";
import type { JsonObject } from "./prompt-validation.ts";
import { readText, type RequestContext } from "./request-context.ts";
import type { RouteSpec } from "./router.ts";

type JobStatus = "pending" | "in_progress" | "completed" | "failed" | "cancelled";
const STATUSES: readonly JobStatus[] = ["pending", "in_progress", "completed", "failed", "cancelled"];

type Job = Record<string, unknown> & { id: string; status: JobStatus };

/** Output kinds a UI can preview, and the media keys nodes report. */
const PREVIEWABLE_MEDIA = new Set(["images", "gifs", "video", "audio", "3d"]);

function asObject(value: unknown): JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as JsonObject) : {};
}

function withoutNulls(job: Record<string, unknown>): Job {
  return Object.fromEntries(Object.entries(job).filter(([, v]) => v !== null && v !== undefined)) as Job;
}

function workflowId(extra: JsonObject): unknown {
  return asObject(asObject(asObject(extra.extra_pnginfo).workflow)).id ?? null;
}

function messageData(entry: HistoryEntry, type: string): JsonObject | null {
  const found = entry.status.messages.find(([name]) => name === type);
  return found === undefined ? null : found[1];
}

function outputSummary(entry: HistoryEntry): { count: number; previewable: number; preview: Record<string, unknown> | null } {
  let count = 0;
  let previewable = 0;
  let preview: Record<string, unknown> | null = null;
  for (const [nodeId, output] of Object.entries(entry.outputs)) {
    for (const [mediaType, items] of Object.entries(output)) {
      if (!Array.isArray(items)) continue;
      for (const item of items) {
        count++;
        const record = asObject(item);
        if (!PREVIEWABLE_MEDIA.has(mediaType) || (record.type !== "output" && record.type !== "temp")) continue;
        previewable++;
        preview ??= { ...record, nodeId, mediaType };
      }
    }
  }
  return { count, previewable, preview };
}

function jobFromQueue(prompt: QueuedPrompt, status: JobStatus, detail: boolean): Job {
  const [priority, id, graph, extra] = prompt.tuple;
  const job: Record<string, unknown> = {
    id,
    status,
    priority,
    create_time: extra.create_time ?? null,
    workflow_id: workflowId(extra),
  };
  if (detail) job.workflow = { prompt: graph, extra_data: extra };
  return withoutNulls(job);
}

function jobFromHistory(id: string, entry: HistoryEntry, detail: boolean): Job {
  const [priority, , graph, extra] = entry.prompt;
  const interrupted = messageData(entry, "execution_interrupted") !== null;
  const status: JobStatus =
    entry.status.status_str === "success" ? "completed" : interrupted ? "cancelled" : "failed";
  const last = entry.status.messages[entry.status.messages.length - 1];
  const summary = outputSummary(entry);
  const job: Record<string, unknown> = {
    id,
    status,
    priority,
    create_time: extra.create_time ?? null,
    execution_start_time: messageData(entry, "execution_start")?.timestamp ?? null,
    execution_end_time: last === undefined || last[0] === "execution_start" ? null : (last[1].timestamp ?? null),
    execution_error: messageData(entry, "execution_error"),
    outputs_count: summary.count,
    previewable_outputs_count: summary.previewable,
    preview_output: summary.preview,
    workflow_id: workflowId(extra),
  };
  if (detail) {
    job.outputs = entry.outputs;
    job.execution_status = entry.status;
    job.workflow = { prompt: graph, extra_data: extra };
  }
  return withoutNulls(job);
}

function allJobs(ctx: RequestContext): Job[] {
  const { queue, history } = ctx.state;
  return [
    ...queue.runningPrompts().map((p) => jobFromQueue(p, "in_progress", false)),
    ...queue.pending().map((p) => jobFromQueue(p, "pending", false)),
    ...history.all().map(([id, entry]) => jobFromHistory(id, entry, false)),
  ];
}

function badRequest(message: string, extra: Record<string, unknown> = {}): Response {
  return jsonResponse({ error: message, ...extra }, 400);
}

function parseCount(value: string | null, name: string, minimum: number): number | null | Response {
  if (value === null) return null;
  if (!/^\d+$/.test(value) || Number(value) < minimum) {
    return badRequest(`${name} must be an integer >= ${minimum}`);
  }
  return Number(value);
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === "number" ? value : fallback;
}

function listJobs(ctx: RequestContext): Response {
  const { query } = ctx;
  const statusFilter = query.get("status");
  let statuses: string[] | null = null;
  if (statusFilter !== null && statusFilter !== "") {
    statuses = statusFilter.split(",").map((s) => s.trim());
    const invalid = statuses.filter((s) => !STATUSES.includes(s as JobStatus));
    if (invalid.length > 0) return badRequest(`Invalid status: ${invalid.join(", ")}`);
  }
  const sortBy = query.get("sort_by") ?? "created_at";
  if (sortBy !== "created_at" && sortBy !== "execution_duration") return badRequest(`Invalid sort_by: ${sortBy}`);
  const sortOrder = query.get("sort_order") ?? "desc";
  if (sortOrder !== "asc" && sortOrder !== "desc") return badRequest(`Invalid sort_order: ${sortOrder}`);
  const limit = parseCount(query.get("limit"), "limit", 1);
  if (limit instanceof Response) return limit;
  const offset = parseCount(query.get("offset"), "offset", 0);
  if (offset instanceof Response) return offset;

  const workflow = query.get("workflow_id");
  let jobs = allJobs(ctx).filter(
    (job) => (statuses === null || statuses.includes(job.status)) && (workflow === null || job.workflow_id === workflow),
  );
  const key = (job: Job): number =>
    sortBy === "created_at"
      ? numberOr(job.create_time, 0)
      : numberOr(job.execution_end_time, 0) - numberOr(job.execution_start_time, 0);
  jobs = jobs.sort((a, b) => (sortOrder === "asc" ? key(a) - key(b) : key(b) - key(a)));
  const start = offset ?? 0;
  const page = limit === null ? jobs.slice(start) : jobs.slice(start, start + limit);
  return jsonResponse({
    jobs: page,
    pagination: { offset: start, limit, total: jobs.length, has_more: start + page.length < jobs.length },
  });
}

function getJob(ctx: RequestContext): Response {
  const id = ctx.params.job_id as string;
  const { queue, history } = ctx.state;
  const running = queue.runningPrompts().find((p) => p.tuple[1] === id);
  if (running !== undefined) return jsonResponse(jobFromQueue(running, "in_progress", true));
  const pending = queue.pending().find((p) => p.tuple[1] === id);
  if (pending !== undefined) return jsonResponse(jobFromQueue(pending, "pending", true));
  const entry = history.get(id);
  if (entry !== undefined) return jsonResponse(jobFromHistory(id, entry, true));
  return jsonResponse({ error: "Job not found" }, 404);
}

/** Interrupt if running (checked and done in one step), dequeue if pending. */
function cancelOne(ctx: RequestContext, id: string): boolean {
  if (ctx.state.queue.isRunning(id)) {
    ctx.worker.interrupt();
    return true;
  }
  return ctx.state.queue.deletePending(id);
}

function cancelJob(ctx: RequestContext): Response {
  return jsonResponse({ cancelled: cancelOne(ctx, ctx.params.job_id as string) });
}

async function cancelJobs(ctx: RequestContext): Promise<Response> {
  let body: unknown;
  try {
    body = JSON.parse(await readText(ctx));
  } catch {
    return badRequest("Invalid JSON body");
  }
  const ids = asObject(body).job_ids;
  if (!Array.isArray(ids)) return badRequest("job_ids must be a list");
  const invalid = ids.filter((id) => typeof id !== "string" || !CANONICAL_UUID.test(id));
  if (invalid.length > 0) return badRequest("Invalid job IDs", { invalid_ids: invalid });
  let cancelled = false;
  for (const id of ids as string[]) cancelled = cancelOne(ctx, id) || cancelled;
  return jsonResponse({ cancelled });
}

export const JOB_ROUTES: RouteSpec[] = [
  { method: "GET", path: "/api/jobs", handler: listJobs },
  { method: "POST", path: "/api/jobs/cancel", handler: cancelJobs },
  { method: "GET", path: "/api/jobs/{job_id}", handler: getJob },
  { method: "POST", path: "/api/jobs/{job_id}/cancel", handler: cancelJob },
];
