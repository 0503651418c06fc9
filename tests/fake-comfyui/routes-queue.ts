/**
 * Prompts, queue, interrupt, free and history (spec §2.1, §3.1–§3.4).
 */
import { emptyResponse, jsonResponse, pythonException } from "./http-responses.ts";
import { CANONICAL_UUID } from "./id-source.ts";
import { readJson, readJsonOr, type RequestContext } from "./request-context.ts";
import type { RouteSpec } from "./router.ts";
import { validatePrompt, type JsonObject, type PromptGraph } from "./prompt-validation.ts";
import { SENSITIVE_EXTRA_KEYS, withoutSensitiveKeys } from "./execution-plan.ts";
import { pyFloat, pyInt, pyStr, pyTruthy } from "./python-values.ts";
import { inputFileExists, loadImageOptions } from "./input-files.ts";

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function promptError(type: string, message: string, details: string): Response {
  return jsonResponse({ error: { type, message, details, extra_info: {} }, node_errors: {} }, 400);
}

async function postPrompt(ctx: RequestContext): Promise<Response> {
  const { state } = ctx;
  const parsed = await readJson(ctx); // a body that is not JSON fails before the counter moves
  const body: JsonObject = isObject(parsed) ? parsed : {};
  let number: number;
  if (Object.hasOwn(body, "number")) {
    try {
      number = pyFloat(body.number);
    } catch {
      throw pythonException("float() failed");
    }
  } else {
    number = state.promptCounter;
    if (pyTruthy(body.front)) number = -number;
    state.promptCounter += 1;
  }
  if (!Object.hasOwn(body, "prompt")) {
    return promptError("no_prompt", "No prompt provided", "No prompt provided");
  }
  const prompt = body.prompt;
  const promptId = Object.hasOwn(body, "prompt_id") ? pyStr(body.prompt_id) : state.ids.uuid();
  const v038 = state.options.profile === "v0.38";
  if (v038 && Object.hasOwn(body, "prompt_id") && !CANONICAL_UUID.test(promptId)) {
    return promptError("invalid_prompt_id", "Invalid prompt_id format", `prompt_id must be a valid UUID, got: ${promptId}`);
  }
  const validation = validatePrompt(prompt, body.partial_execution_targets, {
    loadImageOptions: loadImageOptions(state.files),
    modelFiles: state.options.models,
    inputFileExists: (name) => inputFileExists(state.files, name),
  });
  let extraData: JsonObject = {};
  if (Object.hasOwn(body, "extra_data")) {
    if (!isObject(body.extra_data)) throw pythonException("extra_data is not a dict");
    extraData = body.extra_data;
  }
  if (Object.hasOwn(body, "client_id")) extraData.client_id = body.client_id ?? null;
  let sensitive: JsonObject = {};
  if (v038) {
    const usageSource = ctx.req.headers.get("comfy-usage-source");
    if (usageSource !== null && !Object.hasOwn(extraData, "comfy_usage_source")) extraData.comfy_usage_source = usageSource;
    extraData.create_time = state.now();
    sensitive = Object.fromEntries(Object.entries(extraData).filter(([key]) => SENSITIVE_EXTRA_KEYS.includes(key)));
    extraData = withoutSensitiveKeys(extraData);
  }
  if (!validation.ok) {
    state.logs.append(`invalid prompt: ${validation.error.message}`);
    return jsonResponse({ error: validation.error, node_errors: validation.nodeErrors }, 400);
  }
  state.logs.append("got prompt");
  state.queue.put({ tuple: [number, promptId, prompt as PromptGraph, extraData, validation.outputs], sensitive });
  ctx.worker.wake();
  return jsonResponse({ prompt_id: promptId, number, node_errors: validation.nodeErrors });
}

function getPrompt(ctx: RequestContext): Response {
  return jsonResponse({ exec_info: { queue_remaining: ctx.state.queue.remaining() } });
}

function getQueue(ctx: RequestContext): Response {
  return jsonResponse({
    queue_running: ctx.state.queue.runningPrompts().map((p) => p.tuple),
    queue_pending: ctx.state.queue.pending().map((p) => p.tuple),
  });
}

async function postQueue(ctx: RequestContext): Promise<Response> {
  const parsed = await readJson(ctx);
  const body = isObject(parsed) ? parsed : {};
  if (Object.hasOwn(body, "clear") && pyTruthy(body.clear)) ctx.state.queue.wipe();
  if (Object.hasOwn(body, "delete")) {
    const ids = body.delete;
    if (!Array.isArray(ids)) throw pythonException("delete is not a list");
    for (const id of ids) ctx.state.queue.deletePending(pyStr(id));
  }
  return emptyResponse(200);
}

async function postInterrupt(ctx: RequestContext): Promise<Response> {
  // The real handler treats a body that is not JSON as {} (su-074).
  const parsed = await readJsonOr(ctx, {});
  if (!isObject(parsed)) throw pythonException("'list' object has no attribute 'get'");
  const promptId = parsed.prompt_id;
  if (pyTruthy(promptId)) {
    if (ctx.state.queue.isRunning(pyStr(promptId))) ctx.worker.interrupt();
  } else {
    ctx.worker.interrupt();
  }
  return emptyResponse(200);
}

async function postFree(ctx: RequestContext): Promise<Response> {
  const body = await readJson(ctx);
  ctx.state.freeRequests.push(body);
  return emptyResponse(200);
}

function optionalInt(value: string | null, fallback: number | null): number | null {
  if (value === null) return fallback;
  try {
    return pyInt(value);
  } catch {
    throw pythonException(`invalid literal for int(): ${value}`);
  }
}

function getHistory(ctx: RequestContext): Response {
  const maxItems = optionalInt(ctx.query.get("max_items"), null);
  const offset = optionalInt(ctx.query.get("offset"), -1) as number;
  return jsonResponse(ctx.state.history.page(maxItems, offset));
}

function getHistoryEntry(ctx: RequestContext): Response {
  const promptId = ctx.params.prompt_id as string;
  const entry = ctx.state.history.get(promptId);
  return jsonResponse(entry === undefined ? {} : { [promptId]: entry });
}

async function postHistory(ctx: RequestContext): Promise<Response> {
  const parsed = await readJson(ctx);
  const body = isObject(parsed) ? parsed : {};
  if (Object.hasOwn(body, "clear") && pyTruthy(body.clear)) ctx.state.history.clear();
  if (Object.hasOwn(body, "delete")) {
    const ids = body.delete;
    if (!Array.isArray(ids)) throw pythonException("delete is not a list");
    for (const id of ids) ctx.state.history.delete(pyStr(id));
  }
  return emptyResponse(200);
}

export const QUEUE_ROUTES: RouteSpec[] = [
  { method: "GET", path: "/prompt", handler: getPrompt },
  { method: "POST", path: "/prompt", handler: postPrompt },
  { method: "GET", path: "/queue", handler: getQueue },
  { method: "POST", path: "/queue", handler: postQueue },
  { method: "POST", path: "/interrupt", handler: postInterrupt },
  { method: "POST", path: "/free", handler: postFree },
  { method: "GET", path: "/history", handler: getHistory },
  { method: "GET", path: "/history/{prompt_id}", handler: getHistoryEntry },
  { method: "POST", path: "/history", handler: postHistory },
];
