/**
 * Private per-user ComfyUI over HTTP (issue 4, "per-user isolation"): for each route that
 * touches shared state, what the gateway does around the forward. Prompts get gateway ids and
 * owners; queue, history and jobs show the caller's items; deletes, clears, interrupts and
 * cancels touch only the caller's; `/view` serves the caller's files; uploads land in the
 * caller's folder; model lists show the caller's granted models and a prompt may use only those
 * (src/models). Owners, admins and holders of `can_view_all_comfyui_items` see everything.
 */
import type { Logger } from "../log.ts";
import { errorResponse } from "../gateway/error-response.ts";
import type { ForwardChanges } from "../gateway/pipeline.ts";
import { splitAnnotation, userFolder, viewTarget, type FileRef, type FileType, type OwnershipStore } from "./ownership.ts";
import { mayReadFile, OWNER_KEY, preparePromptSubmission } from "./prompt-submission.ts";
import { FILE_HEAD_BYTES, multipartHeaderGuard, safeUploadName, type FileInspector } from "./multipart-guard.ts";
import { filterJobs, filterQueue, integerParam, ownIds, pageHistory, queueIds } from "./queue-views.ts";
import { describeUngranted, filterEmbeddings, filterExperimentModels, filterModelNames, filterObjectInfo, findUngrantedModel, seesModel } from "../models/filters.ts";
import type { ModelViewer, ModelVisibility } from "../models/grants.ts";
import { createSharedWorkflowViews, type SharedWorkflowStore } from "./shared-workflows.ts";

export interface IsolationCaller {
  userId: string;
  username: string;
  /** The role whose model grants apply (with the user's own). */
  role: string;
  /** Owner, admin or `can_view_all_comfyui_items`. */
  seesAll: boolean;
  /** Pending prompts this caller may have at once; 0 = no limit. */
  maxPending: number;
}

export interface SocketLookup {
  upstreamSidFor(userId: string, clientId: string): string | null;
  /** Only while that socket is open. */
  openUpstreamSidFor(userId: string, clientId: string): string | null;
  latestSidOf(userId: string): string | null;
}

export interface IsolationDeps {
  ownership: OwnershipStore;
  sockets: SocketLookup;
  /** Model grants (src/models): without them every model is visible to everyone. */
  models?: { visibleTo(viewer: ModelViewer): ModelVisibility };
  /** Workflows shared with everyone (shared-workflows.ts); without them userdata passes as it is. */
  sharedWorkflows?: SharedWorkflowStore;
  /** Largest JSON body the gateway reads to rewrite (a prompt with its workflow). */
  maxJsonBytes: number;
  /** Looks at each uploaded file's first bytes (the NSFW guard refuses pixel bombs there). */
  inspectUpload?: FileInspector;
  log: Logger;
  now?: () => number;
}

type Forward = (changes?: ForwardChanges) => Promise<Response>;
export type Interceptor = (forward: Forward) => Promise<Response>;

/** The gateway's own extension, which a settings write must not switch off (issue 5 ships it). */
export const GATEWAY_EXTENSION_PREFIX = "mss-login.";

/** Rewritten answers must be read as plain JSON, so the upstream is asked for no encoding. */
const PLAIN = { "accept-encoding": "identity" };

function json(body: unknown, status = 200, from?: Response): Response {
  const headers = new Headers(from?.headers);
  headers.delete("content-length");
  headers.delete("content-encoding");
  headers.delete("etag");
  headers.set("content-type", "application/json; charset=utf-8");
  return new Response(JSON.stringify(body), { status, headers });
}

const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

/** Every segment of a relative path is a name Windows keeps as it is. */
export function isPortablePath(path: string): boolean {
  return path.split(/[\\/]/).every((segment) => !WINDOWS_DEVICE.test(segment) && !/[. ]$/.test(segment));
}

/** Python's truth value of a JSON value: ComfyUI tests `if json_data["clear"]:`. */
function pythonTruthy(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === "") return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object") return Object.keys(value).length > 0;
  return true;
}

async function readJsonResponse(response: Response): Promise<unknown> {
  try {
    return await response.json();
  } catch {
    return undefined;
  }
}

/**
 * The routes `forRequest` may act on (it answers null for every other): the composition root
 * asks this first, so the common requests (`GET /prompt`, static files) build no caller at all.
 * A test checks it against `forRequest`.
 */
const ISOLATED_ROUTES: ReadonlySet<string> = new Set([
  "prompt", "settings", "settings.item", "upload.image", "upload.mask", "internal.logs.subscribe",
  "queue", "history", "history.item", "interrupt", "jobs", "jobs.item", "jobs.item.cancel", "jobs.cancel",
  "view", "view_metadata", "object_info", "object_info.class", "models.folder", "experiment.models.folder", "experiment.models.preview", "embeddings",
  "userdata.list", "userdata.v2", "userdata.file", "userdata.move",
]);

/** Of these, the ones where only writes are taken over (reads pass as they are). */
const WRITES_ONLY: ReadonlySet<string> = new Set(["prompt", "settings", "settings.item", "upload.image", "upload.mask"]);

export function isolationConcerns(routeId: string, method: string): boolean {
  if (!ISOLATED_ROUTES.has(routeId)) return false;
  return !WRITES_ONLY.has(routeId) || (method !== "GET" && method !== "HEAD");
}

export function createIsolation(deps: IsolationDeps) {
  const { ownership } = deps;
  const now = deps.now ?? Date.now;
  /** Events of prompts bound here go nowhere: an API prompt's progress is never broadcast. */
  const sinkSid = `mss-sink-${crypto.randomUUID().replaceAll("-", "")}`;
  /** Prompts a user is submitting right now (between the cap check and ComfyUI's answer). */
  const inFlight = new Map<string, number>();
  const sharedWorkflowViews = deps.sharedWorkflows === undefined ? null : createSharedWorkflowViews(deps.sharedWorkflows);

  const mineFor = (caller: IsolationCaller) => (promptId: string) => ownership.ownerOfPrompt(promptId)?.userId === caller.userId;

  /**
   * A user reached for something that is not theirs (another user's id or file, a taken prompt
   * id): the answer may say "not found", but the attempt is written down (the audit log reads it).
   */
  function recordRefusal(caller: IsolationCaller, action: string, details: Record<string, unknown>): void {
    deps.log.warn("isolation: refused", { user: caller.username, action, ...details });
  }
  /** The ids in a list that belong to someone else (not unknown ones: those may be typos or old). */
  const foreignIds = (caller: IsolationCaller, ids: unknown): string[] =>
    Array.isArray(ids) ? ids.filter((id): id is string => typeof id === "string" && (ownership.ownerOfPrompt(id)?.userId ?? caller.userId) !== caller.userId) : [];

  /** The caller's model visibility, or null when nothing is hidden from them (no filtering work). */
  function modelsVisibleTo(caller: IsolationCaller): ModelVisibility | null {
    if (deps.models === undefined || caller.seesAll) return null;
    const visible = deps.models.visibleTo({ userId: caller.userId, role: caller.role, seesAll: caller.seesAll });
    return visible.everything ? null : visible;
  }

  /** The request body as JSON, or an error answer. Bodies that do not parse never reach ComfyUI. */
  async function requestJson(request: Request): Promise<{ ok: true; value: unknown } | { ok: false; response: Response }> {
    const declared = Number(request.headers.get("content-length") ?? Number.NaN);
    if (declared > deps.maxJsonBytes) return { ok: false, response: errorResponse(request, 413, "BODY_TOO_LARGE", `The JSON body is larger than ${deps.maxJsonBytes} bytes.`) };
    let text: string;
    try {
      text = await request.text();
    } catch {
      return { ok: false, response: errorResponse(request, 400, "BODY_UNREADABLE", "The request body could not be read.") };
    }
    if (text.length > deps.maxJsonBytes) return { ok: false, response: errorResponse(request, 413, "BODY_TOO_LARGE", `The JSON body is larger than ${deps.maxJsonBytes} bytes.`) };
    try {
      return { ok: true, value: JSON.parse(text) as unknown };
    } catch {
      // ComfyUI's parser accepts what JSON.parse does not (NaN, Infinity): what the gateway
      // cannot read, it cannot check, so it is refused rather than passed on.
      return { ok: false, response: errorResponse(request, 400, "JSON_INVALID", "The body is not valid JSON.") };
    }
  }

  const jsonBody = (value: unknown): ForwardChanges => ({ body: new TextEncoder().encode(JSON.stringify(value)), contentType: "application/json", headers: PLAIN });

  async function upstreamJson(forward: Forward, target: string): Promise<unknown> {
    const response = await forward({ target, method: "GET", headers: PLAIN });
    if (!response.ok) return undefined;
    return readJsonResponse(response);
  }

  /** `/api/queue` or `/queue`, whichever spelling the client used. */
  const sibling = (path: string, route: string) => (path.startsWith("/api/") ? `/api${route}` : route);

  // ---- prompts --------------------------------------------------------------------------

  function submitPrompt(request: Request, caller: IsolationCaller, path: string): Interceptor {
    return async (forward) => {
      const parsed = await requestJson(request);
      if (!parsed.ok) return parsed.response;
      const prepared = preparePromptSubmission(parsed.value, caller, {
        promptIdTaken: (id) => ownership.ownerOfPrompt(id) !== null,
        upstreamSidFor: (clientId) => deps.sockets.upstreamSidFor(caller.userId, clientId),
        latestSid: () => deps.sockets.latestSidOf(caller.userId),
        sinkSid,
        ownerOfFile: (file) => ownership.ownerOfFile(file),
      });
      if (!prepared.ok) {
        if (prepared.status === 403 || prepared.code === "PROMPT_ID_TAKEN") recordRefusal(caller, "prompt", { code: prepared.code, ...prepared.details });
        return errorResponse(request, prepared.status, prepared.code, prepared.message);
      }
      const visibleModels = modelsVisibleTo(caller);
      const ungranted = visibleModels === null ? null : findUngrantedModel(prepared.body.prompt, visibleModels);
      if (ungranted !== null) {
        recordRefusal(caller, "prompt", { code: "MODEL_NOT_ALLOWED", node_id: ungranted.nodeId, model: `${ungranted.folder}/${ungranted.name}` });
        return new Response(JSON.stringify({ error: describeUngranted(ungranted), code: "MODEL_NOT_ALLOWED", node_id: ungranted.nodeId, class_type: ungranted.classType }), {
          status: 403,
          headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
        });
      }

      const pending = inFlight.get(caller.userId) ?? 0;
      inFlight.set(caller.userId, pending + 1);
      try {
        if (caller.maxPending > 0) {
          const queue = await upstreamJson(forward, sibling(path, "/queue"));
          const mine = mineFor(caller);
          const ids = queueIds(queue);
          const waiting = ids.pending.filter(mine).length + pending;
          if (waiting >= caller.maxPending) {
            return errorResponse(request, 429, "QUEUE_LIMIT", `You have ${waiting} prompts waiting; your role allows ${caller.maxPending}. Wait for some to finish.`, "Queue limit reached", { "retry-after": "10" });
          }
        }
        ownership.recordPrompt({ promptId: prepared.promptId, owner: { userId: caller.userId, username: caller.username }, clientId: prepared.upstreamClientId, now: now() });
        const response = await forward({ ...jsonBody(prepared.body), method: "POST" });
        if (!response.ok) ownership.forgetPrompt(prepared.promptId);
        return response;
      } finally {
        const left = (inFlight.get(caller.userId) ?? 1) - 1;
        if (left <= 0) inFlight.delete(caller.userId);
        else inFlight.set(caller.userId, left);
      }
    };
  }

  // ---- queue ----------------------------------------------------------------------------

  function queueView(caller: IsolationCaller) {
    const mine = mineFor(caller);
    return async (response: Response): Promise<Response> => {
      if (!response.ok) return response;
      const body = await readJsonResponse(response);
      return body === undefined ? json({ error: "ComfyUI sent an unreadable queue." }, 502) : json(filterQueue(body, mine), response.status, response);
    };
  }

  /** `{clear: true}` becomes a delete of the caller's pending items; `{delete: [...]}` keeps only theirs. */
  function changeQueue(request: Request, caller: IsolationCaller, path: string, list: "queue" | "history"): Interceptor {
    return async (forward) => {
      const parsed = await requestJson(request);
      if (!parsed.ok) return parsed.response;
      const body = (typeof parsed.value === "object" && parsed.value !== null ? parsed.value : {}) as Record<string, unknown>;
      const mine = mineFor(caller);
      let ids = ownIds(body.delete, mine);
      const foreign = foreignIds(caller, body.delete);
      if (foreign.length > 0) recordRefusal(caller, `${list} delete`, { prompt_ids: foreign });
      if (pythonTruthy(body.clear)) {
        if (list === "queue") {
          ids = [...ids, ...queueIds(await upstreamJson(forward, sibling(path, "/queue"))).pending.filter(mine)];
        } else {
          const history = await upstreamJson(forward, sibling(path, "/history"));
          if (typeof history === "object" && history !== null) ids = [...ids, ...Object.keys(history).filter(mine)];
        }
      }
      // Nothing of the caller's to touch: ComfyUI is not asked at all (an empty delete is a no-op there too).
      if (ids.length === 0) return new Response(null, { status: 200 });
      return forward({ ...jsonBody({ delete: [...new Set(ids)] }), method: "POST" });
    };
  }

  // ---- history --------------------------------------------------------------------------

  function historyView(request: Request, caller: IsolationCaller, path: string, search: string): Interceptor {
    return async (forward) => {
      const params = new URLSearchParams(search);
      const maxItems = integerParam(params.get("max_items"));
      const offset = integerParam(params.get("offset"));
      if (Number.isNaN(maxItems) || Number.isNaN(offset)) return errorResponse(request, 400, "BAD_PARAMETER", "max_items and offset must be whole numbers.");
      const response = await forward({ target: path, method: "GET", headers: PLAIN });
      if (!response.ok) return response;
      const body = await readJsonResponse(response);
      if (typeof body !== "object" || body === null) return json({ error: "ComfyUI sent an unreadable history." }, 502);
      const mine = mineFor(caller);
      const entries = Object.entries(body as Record<string, unknown>).filter(([id]) => mine(id));
      for (const [id, entry] of entries) ownership.recordHistoryOutputs(id, (entry as { outputs?: unknown } | null)?.outputs, now());
      return json(pageHistory(entries, maxItems, offset), 200, response);
    };
  }

  function historyItem(caller: IsolationCaller, promptId: string): Interceptor {
    return async (forward) => {
      // Another user's id answers as if it did not exist.
      if (!mineFor(caller)(promptId)) {
        if (foreignIds(caller, [promptId]).length > 0) recordRefusal(caller, "history item", { prompt_id: promptId });
        return json({});
      }
      const response = await forward({ headers: PLAIN });
      if (!response.ok) return response;
      const body = await readJsonResponse(response);
      if (typeof body === "object" && body !== null) ownership.recordHistoryOutputs(promptId, (body as Record<string, { outputs?: unknown }>)[promptId]?.outputs, now());
      return body === undefined ? response : json(body, response.status, response);
    };
  }

  // ---- interrupt and cancel ------------------------------------------------------------

  function interrupt(request: Request, caller: IsolationCaller, path: string): Interceptor {
    return async (forward) => {
      const parsed = await requestJson(request);
      if (!parsed.ok) return parsed.response;
      const body = (typeof parsed.value === "object" && parsed.value !== null ? parsed.value : {}) as Record<string, unknown>;
      const mine = mineFor(caller);
      let target: string | undefined = typeof body.prompt_id === "string" ? body.prompt_id : undefined;
      if (target === undefined) {
        // Without an id ComfyUI stops whatever runs: only the caller's own prompt may be stopped.
        target = queueIds(await upstreamJson(forward, sibling(path, "/queue"))).running.find(mine);
      }
      if (target !== undefined && !mine(target) && foreignIds(caller, [target]).length > 0) recordRefusal(caller, "interrupt", { prompt_id: target });
      if (target === undefined || !mine(target)) return new Response(null, { status: 200 });
      return forward({ ...jsonBody({ prompt_id: target }), method: "POST" });
    };
  }

  function jobsList(request: Request, caller: IsolationCaller, path: string, search: string): Interceptor {
    return async (forward) => {
      const params = new URLSearchParams(search);
      const limit = integerParam(params.get("limit"));
      const offset = integerParam(params.get("offset"));
      if (Number.isNaN(limit) || Number.isNaN(offset) || (limit !== null && limit < 1) || (offset !== null && offset < 0)) {
        return errorResponse(request, 400, "BAD_PARAMETER", "limit must be a whole number >= 1 and offset >= 0.");
      }
      // Upstream paging counts every user's jobs: ask for all, then page what is the caller's.
      params.delete("limit");
      params.delete("offset");
      const query = params.toString();
      const response = await forward({ target: query === "" ? path : `${path}?${query}`, method: "GET", headers: PLAIN });
      if (!response.ok) return response;
      const body = await readJsonResponse(response);
      if (body === undefined) return json({ error: "ComfyUI sent an unreadable job list." }, 502);
      return json(filterJobs(body, mineFor(caller), limit, offset ?? 0), 200, response);
    };
  }

  function jobItem(caller: IsolationCaller, jobId: string, cancel: boolean): Interceptor {
    return async (forward) => {
      if (!mineFor(caller)(jobId)) {
        if (foreignIds(caller, [jobId]).length > 0) recordRefusal(caller, cancel ? "job cancel" : "job", { prompt_id: jobId });
        return cancel ? json({ cancelled: false }) : json({ error: "Job not found" }, 404);
      }
      return forward();
    };
  }

  function cancelJobs(request: Request, caller: IsolationCaller): Interceptor {
    return async (forward) => {
      const parsed = await requestJson(request);
      if (!parsed.ok) return parsed.response;
      const body = (typeof parsed.value === "object" && parsed.value !== null ? parsed.value : {}) as Record<string, unknown>;
      if (!Array.isArray(body.job_ids)) return forward(jsonBody(body));
      const ids = ownIds(body.job_ids, mineFor(caller));
      const foreign = foreignIds(caller, body.job_ids);
      if (foreign.length > 0) recordRefusal(caller, "jobs cancel", { prompt_ids: foreign });
      if (ids.length === 0) return json({ cancelled: false });
      return forward({ ...jsonBody({ ...body, job_ids: ids }), method: "POST" });
    };
  }

  // ---- files ----------------------------------------------------------------------------

  /** `/view`: the caller's own files and the shared inputs; anything else is "not found". */
  function view(caller: IsolationCaller, search: string): Interceptor | null {
    const target = viewTarget(search);
    switch (target.kind) {
      case "bad-type":
        return null; // ComfyUI answers 400
      case "bad-name":
        // ComfyUI refuses these itself; the gateway does not leave it to that.
        return async () => json({ error: "Invalid filename.", code: "BAD_FILENAME" }, 400);
      case "hash":
        recordRefusal(caller, "view", { filename: target.filename });
        return async () => new Response(null, { status: 404 });
      case "file": {
        const file = target.file;
        if (mayReadFile(file, caller.userId, (f) => ownership.ownerOfFile(f))) return null;
        recordRefusal(caller, "view", { type: file.type, subfolder: file.subfolder, filename: file.filename });
        return async () => new Response(null, { status: 404 });
      }
    }
  }

  /**
   * Uploads go to the caller's folder. A `subfolder` field is put first in the multipart body:
   * ComfyUI reads the first one. The upload streams through; nothing is buffered.
   */
  function uploadImage(request: Request, caller: IsolationCaller): Interceptor {
    return async (forward) => {
      const contentType = request.headers.get("content-type") ?? "";
      const boundary = /boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(contentType);
      if (!contentType.toLowerCase().startsWith("multipart/form-data") || boundary === null || request.body === null) {
        return errorResponse(request, 400, "MULTIPART_REQUIRED", "Upload the file as multipart/form-data.");
      }
      const field = new TextEncoder().encode(`--${boundary[1] ?? boundary[2]}\r\nContent-Disposition: form-data; name="subfolder"\r\n\r\n${userFolder(caller.userId)}\r\n`);
      // File names lose any path on the way (multipart-guard.ts), so the folder stays the caller's.
      const reader = request.body.pipeThrough(multipartHeaderGuard(boundary[1] ?? boundary[2]!, deps.inspectUpload)).getReader();
      let fieldSent = false;
      // Pulled one chunk at a time, so a slow ComfyUI slows the client down instead of filling memory.
      const body = new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            if (!fieldSent) {
              fieldSent = true;
              controller.enqueue(field);
              return;
            }
            const { done, value } = await reader.read();
            if (done) controller.close();
            else controller.enqueue(value);
          },
          cancel(reason) {
            return reader.cancel(reason);
          },
        },
        { highWaterMark: 0 },
      );
      // A malformed body fails the stream with MultipartRefused, which the forwarder answers with 400.
      const response = await forward({ body, bodyLength: null, headers: PLAIN });
      return recordUpload(response, caller);
    };
  }

  async function recordUpload(response: Response, caller: IsolationCaller): Promise<Response> {
    if (!response.ok) return response;
    const body = (await readJsonResponse(response)) as { name?: unknown; subfolder?: unknown; type?: unknown } | undefined;
    if (body === undefined) return json({ error: "ComfyUI sent an unreadable upload answer." }, 502);
    if (typeof body.name === "string" && (body.type === "input" || body.type === "output" || body.type === "temp")) {
      ownership.recordFile({ type: body.type, subfolder: typeof body.subfolder === "string" ? body.subfolder : "", filename: body.name }, caller.userId, null, now());
    }
    return json(body, response.status, response);
  }

  /** A mask is painted onto `original_ref`, which must be the caller's; small enough to read whole. */
  function uploadMask(request: Request, caller: IsolationCaller): Interceptor {
    return async (forward) => {
      const declared = Number(request.headers.get("content-length") ?? Number.NaN);
      if (!(declared <= deps.maxJsonBytes * 4)) return errorResponse(request, 413, "BODY_TOO_LARGE", "Masks are uploaded with a known, moderate size.");
      let form: FormData;
      try {
        form = await request.formData();
      } catch {
        return errorResponse(request, 400, "MULTIPART_REQUIRED", "Upload the mask as multipart/form-data.");
      }
      const refText = form.get("original_ref");
      let ref: Record<string, unknown> = {};
      try {
        ref = typeof refText === "string" ? (JSON.parse(refText) as Record<string, unknown>) : {};
      } catch {
        return errorResponse(request, 400, "BAD_ORIGINAL_REF", "original_ref must be JSON {filename, subfolder, type}.");
      }
      // ComfyUI reads a tag in the name before `type` (splitAnnotation), and so does the check.
      const refName = splitAnnotation(typeof ref.filename === "string" ? ref.filename : "");
      const refType: FileType = refName.type ?? (ref.type === "output" || ref.type === "temp" ? ref.type : "input");
      const original: FileRef = { type: refType, subfolder: typeof ref.subfolder === "string" ? ref.subfolder : "", filename: refName.name };
      if (!caller.seesAll && !mayReadFile(original, caller.userId, (f) => ownership.ownerOfFile(f))) {
        recordRefusal(caller, "mask upload", { original: `${original.type}/${original.subfolder}/${original.filename}` });
        return errorResponse(request, 403, "FILE_NOT_ALLOWED", "The image under the mask is not yours.");
      }
      form.set("subfolder", userFolder(caller.userId));
      for (const field of ["image", "mask"]) {
        const file = form.get(field);
        if (!(file instanceof File)) continue;
        const refused = deps.inspectUpload?.(new Uint8Array(await file.slice(0, FILE_HEAD_BYTES).arrayBuffer())) ?? null;
        if (refused !== null) return errorResponse(request, 400, refused.code, refused.message, "Bad request");
        form.set(field, new File([file], safeUploadName(file.name), { type: file.type }));
      }
      const encoded = new Response(form);
      // Read the new boundary before the body: Bun drops the header once the body is consumed.
      const contentType = encoded.headers.get("content-type") ?? undefined;
      const bytes = new Uint8Array(await encoded.arrayBuffer());
      const response = await forward({ body: bytes, contentType, headers: PLAIN });
      return recordUpload(response, caller);
    };
  }

  /** Log lines go to one of the caller's sockets: its client id becomes the upstream sid the gateway minted. */
  function subscribeLogs(request: Request, caller: IsolationCaller): Interceptor {
    return async (forward) => {
      const parsed = await requestJson(request);
      if (!parsed.ok) return parsed.response;
      const body = (typeof parsed.value === "object" && parsed.value !== null ? parsed.value : {}) as Record<string, unknown>;
      const upstreamSid = typeof body.clientId === "string" ? deps.sockets.openUpstreamSidFor(caller.userId, body.clientId) : null;
      if (upstreamSid === null) return errorResponse(request, 400, "CLIENT_ID_UNKNOWN", "clientId must be one of your open sockets.");
      return forward({ ...jsonBody({ ...body, clientId: upstreamSid }), method: "PATCH" });
    };
  }

  // ---- object_info and settings -------------------------------------------------------

  /** Combo lists of files: other users' folders go; the caller's uploads are offered; loaders list granted models only. */
  function objectInfoView(caller: IsolationCaller, visibleModels: ModelVisibility | null) {
    return async (response: Response): Promise<Response> => {
      if (!response.ok) return response;
      const body = await readJsonResponse(response);
      if (typeof body !== "object" || body === null) return json({ error: "ComfyUI sent unreadable node definitions." }, 502);
      if (visibleModels !== null) filterObjectInfo(body, visibleModels);
      const own = userFolder(caller.userId);
      const uploads = ownership
        .uploadsOf(caller.userId)
        .filter((file) => file.subfolder.split("/", 1)[0] === own)
        .map((file) => `${file.subfolder}/${file.filename}`);
      for (const definition of Object.values(body as Record<string, unknown>)) {
        const input = (definition as { input?: Record<string, Record<string, unknown> | undefined> } | null)?.input;
        if (typeof input !== "object" || input === null) continue;
        for (const group of [input.required, input.optional]) {
          if (typeof group !== "object" || group === null) continue;
          for (const spec of Object.values(group)) {
            if (!Array.isArray(spec) || !Array.isArray(spec[0])) continue;
            const options = (spec[0] as unknown[]).filter((option) => {
              if (typeof option !== "string") return true;
              const top = option.split(/[\\/]/, 1)[0]!;
              return option === top || top === own || !/^u-[0-9a-f-]{36}$/.test(top);
            });
            const uploadable = typeof spec[1] === "object" && spec[1] !== null && (spec[1] as { image_upload?: unknown }).image_upload === true;
            if (uploadable) for (const upload of uploads) if (!options.includes(upload)) options.push(upload);
            spec[0] = options;
          }
        }
      }
      return json(body, response.status, response);
    };
  }

  /** `/models/{folder}`, `/experiment/models/{folder}`, `/embeddings`: granted models only. */
  function modelListView(routeId: string, folder: string, visibleModels: ModelVisibility) {
    return async (response: Response): Promise<Response> => {
      if (!response.ok) return response;
      const body = await readJsonResponse(response);
      if (body === undefined) return json({ error: "ComfyUI sent an unreadable model list." }, 502);
      const filtered =
        routeId === "embeddings"
          ? filterEmbeddings(body, visibleModels)
          : routeId === "experiment.models.folder"
            ? filterExperimentModels(body, folder, visibleModels)
            : filterModelNames(body, folder, visibleModels);
      return json(filtered, response.status, response);
    };
  }

  /** A user may disable extensions for themselves, but not the gateway's own. */
  function settingsWrite(request: Request, settingId: string | null): Interceptor {
    return async (forward) => {
      const parsed = await requestJson(request);
      if (!parsed.ok) return parsed.response;
      const keepGateway = (value: unknown) => (Array.isArray(value) ? value.filter((name) => typeof name !== "string" || !name.startsWith(GATEWAY_EXTENSION_PREFIX)) : value);
      let body = parsed.value;
      if (settingId === "Comfy.Extension.Disabled") body = keepGateway(body);
      else if (settingId === null && typeof body === "object" && body !== null && "Comfy.Extension.Disabled" in body) {
        body = { ...(body as Record<string, unknown>), "Comfy.Extension.Disabled": keepGateway((body as Record<string, unknown>)["Comfy.Extension.Disabled"]) };
      }
      return forward(jsonBody(body));
    };
  }

  return {
    sinkSid,

    /**
     * What to do around the forward for one request, or null to forward it as it is. `path` is
     * the canonical path, `search` the query as received.
     */
    forRequest(input: { request: Request; routeId: string; method: string; params: Readonly<Record<string, string>>; path: string; search: string; caller: IsolationCaller }):
      | { intercept: Interceptor; headers?: Record<string, string> }
      | { filterResponse: (response: Response) => Promise<Response>; headers: Record<string, string> }
      | null {
      const { request, routeId, method, params, path, search, caller } = input;
      // Prompts always get a gateway id and an owner, whoever sends them.
      if (routeId === "prompt" && method === "POST") return { intercept: submitPrompt(request, caller, path) };
      if (routeId === "settings.item" && method === "POST") return params.id === "Comfy.Extension.Disabled" ? { intercept: settingsWrite(request, params.id) } : null;
      if (routeId === "settings" && method === "POST") return { intercept: settingsWrite(request, null) };
      if (routeId === "upload.image" && method === "POST") return { intercept: uploadImage(request, caller) };
      if (routeId === "upload.mask" && method === "POST") return { intercept: uploadMask(request, caller) };
      // Names Windows would turn into devices or trim (a ComfyUI on Windows): refused for everyone.
      if ((routeId === "userdata.file" || routeId === "userdata.move") && ![params.file, params.dest].every((name) => name === undefined || isPortablePath(name))) {
        return { intercept: async () => errorResponse(request, 400, "BAD_PATH", "File names may not be Windows device names (CON, NUL, COM1, …) or end in a dot or a space.") };
      }
      // Shared workflows are read-only and listed for everyone, owners and admins included.
      if (sharedWorkflowViews !== null && routeId.startsWith("userdata.")) return sharedWorkflowViews.forRequest({ request, routeId, method, params, search });
      if (routeId === "internal.logs.subscribe" && method === "PATCH") return { intercept: subscribeLogs(request, caller) };
      if (caller.seesAll) return null;
      switch (routeId) {
        case "queue":
          if (method === "GET") return { filterResponse: queueView(caller), headers: PLAIN };
          if (method === "HEAD") return null;
          if (method === "POST") return { intercept: changeQueue(request, caller, path, "queue") };
          return null;
        case "history":
          if (method === "GET") return { intercept: historyView(request, caller, path, search) };
          if (method === "POST") return { intercept: changeQueue(request, caller, path, "history") };
          return null;
        case "history.item":
          return { intercept: historyItem(caller, params.prompt_id ?? "") };
        case "interrupt":
          return { intercept: interrupt(request, caller, path) };
        case "jobs":
          return { intercept: jobsList(request, caller, path, search) };
        case "jobs.item":
          return { intercept: jobItem(caller, params.job_id ?? "", false) };
        case "jobs.item.cancel":
          return { intercept: jobItem(caller, params.job_id ?? "", true) };
        case "jobs.cancel":
          return { intercept: cancelJobs(request, caller) };
        case "view": {
          const refusal = view(caller, search);
          return refusal === null ? null : { intercept: refusal };
        }
        case "object_info":
        case "object_info.class":
          // A HEAD answer has no body to filter (and shows none).
          if (method === "HEAD") return null;
          return { filterResponse: objectInfoView(caller, modelsVisibleTo(caller)), headers: PLAIN };
        case "models.folder":
        case "experiment.models.folder":
        case "embeddings": {
          const visibleModels = method === "HEAD" ? null : modelsVisibleTo(caller);
          return visibleModels === null ? null : { filterResponse: modelListView(routeId, params.folder ?? "", visibleModels), headers: PLAIN };
        }
        case "experiment.models.preview": {
          // The preview image of a model the caller may not see answers as if there were none.
          const visibleModels = modelsVisibleTo(caller);
          if (visibleModels === null || seesModel(visibleModels, params.folder ?? "", params.filename ?? "")) return null;
          return { intercept: async () => new Response(null, { status: 404 }) };
        }
        case "view_metadata": {
          // A model's metadata (its training details, its name) is as private as the model.
          const visibleModels = modelsVisibleTo(caller);
          if (visibleModels === null || seesModel(visibleModels, params.folder ?? "", new URLSearchParams(search).get("filename") ?? "")) return null;
          return { intercept: async () => new Response(null, { status: 404 }) };
        }
        default:
          return null;
      }
    },
  };
}

export type Isolation = ReturnType<typeof createIsolation>;

/** Re-exported for labels in admin views. */
export { OWNER_KEY };
