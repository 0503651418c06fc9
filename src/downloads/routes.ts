/**
 * Model downloads on the original's paths (reference §4.6), each also under `/api/mss-login/...`:
 * sources, folders, the caller's API keys (write-only) and CivitAI host preference, queueing a
 * job, the caller's jobs with progress, cancelling. Everything needs `can_download_models`
 * (owners always); downloading for another user also needs `can_manage_model_sharing`.
 * Admins see and cancel everyone's jobs under `…/model-download/admin/jobs`.
 */
import { eq } from "drizzle-orm";
import { Elysia } from "elysia";
import { bothSpellings, json, readBody, type AdminGuard, type SignedIn } from "../auth/admin-guard.ts";
import { getUserById, getUserByUsername } from "../auth/users.ts";
import type { Db } from "../db/index.ts";
import { jsonError } from "../gateway/error-response.ts";
import type { Logger } from "../log.ts";
import type { ApiKeyStore } from "./keys.ts";
import type { LookupAnswer, SourceSearch } from "./search.ts";
import { publicJob, type DownloadQueue, type JobRow } from "./queue.ts";
import { DownloadError } from "./safe-fetch.ts";
import { CIVITAI_HOSTS, DEFAULT_CIVITAI_HOST, parseDownloadRequest, SOURCES, type CivitaiHost, type Source } from "./sources.ts";
import { downloadPreferences } from "./tables.ts";

export interface DownloadRouteDeps {
  db: Db;
  guard: AdminGuard;
  queue: DownloadQueue;
  keys: ApiKeyStore;
  search: SourceSearch;
  allows(role: string, key: string): boolean;
  /** The model folders ComfyUI has (for validation and the folder picker). */
  folders(): Promise<string[]>;
  /** The models ComfyUI lists in a folder (all its model paths), so none is shadowed by a download. */
  modelsIn(folder: string): Promise<string[]>;
  /** Whether downloads are configured (downloads.models_dir set). */
  enabled(): boolean;
  limits(): { max_active: number; max_civitai: number; max_huggingface: number; max_bytes: number };
  log: Logger;
}

const MAX_API_KEY_LENGTH = 512;

export function downloadRoutes(deps: DownloadRouteDeps) {
  /** A signed-in caller allowed to download (`run` scope for writes). */
  async function downloader(request: Request, write: boolean): Promise<SignedIn | Response> {
    const identity = await deps.guard.signedIn(request, write ? "run" : "read");
    if (identity instanceof Response) return identity;
    if (identity.role !== "owner" && !deps.allows(identity.role, "can_download_models")) {
      return jsonError(403, "DOWNLOAD_DENIED", "Downloading models needs the can_download_models permission.");
    }
    return identity;
  }

  function preferenceOf(userId: string): CivitaiHost {
    const row = deps.db.select().from(downloadPreferences).where(eq(downloadPreferences.userId, userId)).get();
    return (CIVITAI_HOSTS as readonly string[]).includes(row?.civitaiHost ?? "") ? (row!.civitaiHost as CivitaiHost) : DEFAULT_CIVITAI_HOST;
  }

  const view = (job: JobRow, username?: string) => publicJob(job, deps.queue.progress(job.id), Date.now(), username);
  const fail = (error: unknown): Response => {
    if (error instanceof DownloadError) return jsonError(error.code === "DOWNLOADS_NOT_CONFIGURED" ? 503 : error.code === "TOO_MANY_DOWNLOADS" ? 429 : error.code === "DESTINATION_EXISTS" ? 409 : 400, error.code, error.message);
    throw error;
  };

  async function sources(request: Request): Promise<Response> {
    const caller = await downloader(request, false);
    if (caller instanceof Response) return caller;
    const limits = deps.limits();
    return json({
      sources: SOURCES,
      sources_with_keys: deps.keys.sourcesWithKeys(caller.userId),
      enabled: deps.enabled(),
      capabilities: {
        sources: SOURCES,
        destination_types: ["local"],
        limits: { active_total: limits.max_active, active_civitai: limits.max_civitai, active_huggingface: limits.max_huggingface, max_bytes: limits.max_bytes },
        experimental: { s3: false, model_isolation: true },
        civitai_hosts: CIVITAI_HOSTS,
        default_civitai_host: preferenceOf(caller.userId),
        civitai_fields: ["model_version_id", "model_id", "url", "civitai_host", "type", "format", "size", "fp", "preferred_filename", "folder_type"],
        huggingface_fields: ["repo_id", "filename", "subfolder", "revision", "url", "preferred_filename", "folder_type"],
        key_required: { civitai: true, huggingface: false },
      },
    });
  }

  async function folders(request: Request): Promise<Response> {
    const caller = await downloader(request, false);
    if (caller instanceof Response) return caller;
    return json({ folders: await deps.folders(), default_folder: "checkpoints" });
  }

  async function apiKeys(request: Request): Promise<Response> {
    const caller = await downloader(request, request.method !== "GET");
    if (caller instanceof Response) return caller;
    if (request.method === "GET") return json({ sources_with_keys: deps.keys.sourcesWithKeys(caller.userId) });
    const body = await readBody(request);
    const source = body?.source;
    const apiKey = body?.api_key ?? "";
    if (body === null || typeof source !== "string" || !(SOURCES as readonly string[]).includes(source)) return jsonError(400, "SOURCE_INVALID", `Send {"source": "${SOURCES.join('" | "')}", "api_key": "..."} (an empty key clears it).`);
    // eslint-disable-next-line no-control-regex
    if (typeof apiKey !== "string" || apiKey.length > MAX_API_KEY_LENGTH || /[\s\u0000-\u001f\u007f]/.test(apiKey)) {
      return jsonError(400, "API_KEY_INVALID", `api_key is the key as the service shows it: at most ${MAX_API_KEY_LENGTH} characters, no spaces.`);
    }
    if (apiKey === "") {
      deps.keys.clear(caller.userId, source as Source);
      return json({ status: "ok", source, cleared: true });
    }
    await deps.keys.set(caller.userId, source as Source, apiKey);
    return json({ status: "ok", source });
  }

  async function preferences(request: Request): Promise<Response> {
    const caller = await downloader(request, request.method !== "GET");
    if (caller instanceof Response) return caller;
    if (request.method !== "GET") {
      const body = await readBody(request);
      const host = typeof body?.civitai_host === "string" ? body.civitai_host.toLowerCase() : "";
      if (!(CIVITAI_HOSTS as readonly string[]).includes(host)) return jsonError(400, "BAD_CIVITAI_HOST", `civitai_host is one of ${CIVITAI_HOSTS.join(", ")}.`);
      const at = Date.now();
      deps.db
        .insert(downloadPreferences)
        .values({ userId: caller.userId, civitaiHost: host, updatedAt: at })
        .onConflictDoUpdate({ target: downloadPreferences.userId, set: { civitaiHost: host, updatedAt: at } })
        .run();
    }
    return json({ civitai_host: preferenceOf(caller.userId), allowed_civitai_hosts: CIVITAI_HOSTS, default_civitai_host: DEFAULT_CIVITAI_HOST });
  }

  async function download(request: Request): Promise<Response> {
    const caller = await downloader(request, true);
    if (caller instanceof Response) return caller;
    const body = await readBody(request);
    if (body === null) return jsonError(400, "BAD_REQUEST", "Send a JSON object.");
    try {
      const parsed = parseDownloadRequest(body, preferenceOf(caller.userId));
      let userId = caller.userId;
      if (parsed.targetUsername !== null && parsed.targetUsername !== caller.username) {
        if (caller.role !== "owner" && !deps.allows(caller.role, "can_manage_model_sharing")) {
          return jsonError(403, "MODEL_SHARING_DENIED", "Downloading for another user needs the can_manage_model_sharing permission.");
        }
        const target = getUserByUsername(deps.db, parsed.targetUsername);
        if (target === null) return jsonError(404, "USER_NOT_FOUND", "No such user.");
        userId = target.id;
      }
      if (!deps.enabled()) throw new DownloadError("DOWNLOADS_NOT_CONFIGURED", "Model downloads are off: the operator has not set downloads.models_dir.");
      const known = await deps.folders();
      if (!known.includes(parsed.folder)) return jsonError(400, "FOLDER_INVALID", `folder_type is one of ComfyUI's model folders: ${known.join(", ")}.`);
      const source = parsed.target.source;
      // The requester's own key is used, also when downloading for someone else.
      if (source === "civitai" && !deps.keys.sourcesWithKeys(caller.userId).includes("civitai")) {
        return jsonError(400, "API_KEY_REQUIRED", "No API key set for this source: add your CivitAI API key first (PUT …/model-download/api-keys).");
      }
      const filename = parsed.preferredFilename ?? (parsed.target.source === "huggingface" ? parsed.target.filename : null);
      const job = deps.queue.enqueue({ userId, requestedBy: caller.userId, target: parsed.target, folder: parsed.folder, filename, existing: filename === null ? [] : await deps.modelsIn(parsed.folder) });
      deps.log.info("downloads: queued", { job: job.id, source, by: caller.username });
      return json({ status: "queued", job_id: job.id, job: view(job), stats: deps.queue.stats() });
    } catch (error) {
      return fail(error);
    }
  }

  async function jobs(request: Request): Promise<Response> {
    const caller = await downloader(request, false);
    if (caller instanceof Response) return caller;
    return json({ jobs: deps.queue.list(caller.userId).map((job) => view(job)), stats: deps.queue.stats() });
  }

  /** The job if the caller may see it: their own (for them or by them); admins see all. Others: 404. */
  function visibleJob(caller: SignedIn, id: string): JobRow | null {
    const job = /^[0-9a-f]{32}$/.test(id) ? deps.queue.get(id) : undefined;
    if (job === undefined) return null;
    const isAdmin = caller.role === "owner" || caller.role === "admin";
    return isAdmin || job.userId === caller.userId || job.requestedBy === caller.userId ? job : null;
  }

  async function oneJob(request: Request, id: string): Promise<Response> {
    const caller = await downloader(request, false);
    if (caller instanceof Response) return caller;
    const job = visibleJob(caller, id);
    if (job === null) return jsonError(404, "JOB_NOT_FOUND", "No such download job.");
    return json({ job: view(job), stats: deps.queue.stats() });
  }

  async function cancel(request: Request, id: string): Promise<Response> {
    const caller = await deps.guard.signedIn(request, "run");
    if (caller instanceof Response) return caller;
    const job = visibleJob(caller, id);
    if (job === null) return jsonError(404, "JOB_NOT_FOUND", "No such download job.");
    if (job.userId !== caller.userId && job.requestedBy !== caller.userId) {
      // Someone else's job: an admin write, with the step-up (no download permission needed).
      const admin = await deps.guard.admin(request, { write: true });
      if (admin instanceof Response) return admin;
    } else {
      const allowed = await downloader(request, true);
      if (allowed instanceof Response) return allowed;
    }
    if (!deps.queue.cancel(job.id)) return jsonError(400, "JOB_ENDED", `This job has ${job.status} already and cannot be cancelled.`);
    return json({ status: "cancelling", job_id: job.id });
  }

  async function allJobs(request: Request): Promise<Response> {
    const caller = await deps.guard.admin(request, { write: false });
    if (caller instanceof Response) return caller;
    const names = new Map<string, string>();
    const nameOf = (userId: string) => {
      if (!names.has(userId)) names.set(userId, getUserById(deps.db, userId)?.username ?? "(deleted user)");
      return names.get(userId)!;
    };
    return json({ jobs: deps.queue.list(null, 500).map((job) => view(job, nameOf(job.userId))), stats: deps.queue.stats(), enabled: deps.enabled() });
  }

  /** A look-up at a source on the caller's behalf (search, one model, one version). */
  async function lookup(request: Request, run: (caller: SignedIn, params: URLSearchParams, preference: CivitaiHost) => Promise<LookupAnswer>): Promise<Response> {
    const caller = await downloader(request, false);
    if (caller instanceof Response) return caller;
    const result = await run(caller, new URL(request.url).searchParams, preferenceOf(caller.userId));
    return json(result.body, result.status);
  }

  const base = "/mss-login/api/model-download";
  const param = (params: unknown) => (params as { id: string }).id;
  const app = new Elysia({ name: "model-downloads" });
  for (const prefix of bothSpellings(base)) {
    app.get(`${prefix}/sources`, ({ request }) => sources(request));
    app.get(`${prefix}/folders`, ({ request }) => folders(request));
    app.get(`${prefix}/api-keys`, ({ request }) => apiKeys(request));
    app.put(`${prefix}/api-keys`, ({ request }) => apiKeys(request));
    app.get(`${prefix}/preferences`, ({ request }) => preferences(request));
    app.put(`${prefix}/preferences`, ({ request }) => preferences(request));
    app.post(`${prefix}/download`, ({ request }) => download(request));
    app.get(`${prefix}/jobs`, ({ request }) => jobs(request));
    app.get(`${prefix}/jobs/:id`, ({ request, params }) => oneJob(request, param(params)));
    app.post(`${prefix}/jobs/:id/cancel`, ({ request, params }) => cancel(request, param(params)));
    app.get(`${prefix}/admin/jobs`, ({ request }) => allJobs(request));
    app.get(`${prefix}/civitai/search`, ({ request }) => lookup(request, (caller, params, preference) => deps.search.civitaiSearch(caller.userId, params, preference)));
    app.get(`${prefix}/civitai/models/:id`, ({ request, params }) => lookup(request, (caller, query, preference) => deps.search.civitaiItem(caller.userId, "models", param(params), query, preference)));
    app.get(`${prefix}/civitai/model-versions/:id`, ({ request, params }) => lookup(request, (caller, query, preference) => deps.search.civitaiItem(caller.userId, "model-versions", param(params), query, preference)));
    app.get(`${prefix}/huggingface/search`, ({ request }) => lookup(request, (caller, params) => deps.search.huggingfaceSearch(caller.userId, params)));
  }
  return app;
}
