/**
 * The NSFW guard's HTTP API (each path also under `/api/mss-login/...`), documented in
 * docs/nsfw-guard-api.md:
 * - for everyone signed in: `GET /mss-login/api/nsfw/status`, `GET …/policy`, `GET …/check`,
 *   `POST …/classify`, `GET|PUT|DELETE …/tag`, and the original's `POST /mss-login-gallery/mark-nsfw`
 *   (signed in here; the original's was open to anyone);
 * - for admins: `GET …/verdicts`, `POST …/rescan`, `POST …/clear-tags`, `POST …/classifier`.
 * A checked user may mark an image NSFW but never "safe": only admins and owners without the
 * check can lift a block, or the check would be one click deep.
 */
import { Elysia } from "elysia";
import type { Db } from "../db/index.ts";
import { jsonError } from "../gateway/error-response.ts";
import type { Logger } from "../log.ts";
import { bothSpellings, json, readBody, type AdminGuard, type SignedIn } from "../auth/admin-guard.ts";
import { getUserById, getUserByUsername } from "../auth/users.ts";
import { isUserFolder, normaliseSubfolder, userFolder, type FileRef } from "../isolation/ownership.ts";
import { mayReadFile } from "../isolation/prompt-submission.ts";
import { INPUT_FAILURES, NSFW_CLASSES, type ClassifyResult } from "./classifier/types.ts";
import { judge, type ManualTag } from "./judge.ts";
import { isUnavailable, readBounded, type VerdictOutcome } from "./scanner.ts";
import type { NsfwGuard } from "./index.ts";
import type { VerdictRow } from "./verdicts.ts";

export interface NsfwFiles {
  ownerOfFile(file: FileRef): string | null;
  /** Files known by this bare name (the original's mark-nsfw names no folder), newest first. */
  filesNamed(filename: string): { file: FileRef; userId: string }[];
  /** Files recorded since a time (for "rescan since"). */
  filesSince(since: number, limit: number): FileRef[];
}

export interface NsfwRouteDeps {
  db: Db;
  nsfw: NsfwGuard;
  guard: AdminGuard;
  files: NsfwFiles;
  log: Logger;
  /** Settings the caller may read (thresholds, previews, waits). */
  maxImageBytes: () => number;
  viewWaitMs: () => number;
}

const isAdminRole = (role: string): boolean => role === "owner" || role === "admin";

/** The file a request names (query or body), or an error answer. */
function fileFrom(source: Record<string, unknown> | URLSearchParams): FileRef | Response {
  const read = (name: string): unknown => (source instanceof URLSearchParams ? source.get(name) : source[name]);
  const type = read("type") ?? "output";
  const filename = read("filename");
  const subfolder = read("subfolder") ?? "";
  if (type !== "output" && type !== "temp" && type !== "input") return jsonError(400, "BAD_FILE", "type must be output, temp or input.");
  if (typeof filename !== "string" || filename === "" || /[\\/]/.test(filename) || filename.includes("..")) return jsonError(400, "BAD_FILE", "filename must be a bare file name.");
  if (typeof subfolder !== "string") return jsonError(400, "BAD_FILE", "subfolder must be text.");
  const normalised = normaliseSubfolder(subfolder);
  if (normalised === null) return jsonError(400, "BAD_FILE", "subfolder must stay inside the folder.");
  return { type, subfolder: normalised, filename };
}

/** The original's tag shape: `{is_nsfw, score, label}`. */
function tagShape(verdict: VerdictRow, blocked: boolean) {
  if (verdict.manualTag !== null) return { is_nsfw: verdict.manualTag === "nsfw", score: verdict.manualTag === "nsfw" ? 1 : 0, label: "manual" };
  if (verdict.scores === null) return { is_nsfw: blocked, score: blocked ? 1 : 0, label: (verdict.failure ?? "unclassified").toLowerCase() };
  const top = NSFW_CLASSES.reduce((best, name) => (verdict.scores![name] > verdict.scores![best] ? name : best), NSFW_CLASSES[0]);
  return { is_nsfw: blocked, score: round(verdict.scores.Porn + verdict.scores.Hentai), label: top.toLowerCase() };
}

const round = (value: number): number => Math.round(value * 10_000) / 10_000;

export function nsfwRoutes(deps: NsfwRouteDeps) {
  const { nsfw, guard, files, log } = deps;

  function describe(verdict: VerdictRow) {
    const judgement = judge(verdict, nsfw.thresholds());
    return {
      version: verdict.version,
      nsfw: judgement.blocked,
      reason: judgement.reason,
      detail: judgement.blocked ? judgement.detail : null,
      scores: verdict.scores === null ? null : Object.fromEntries(NSFW_CLASSES.map((name) => [name, round(verdict.scores![name])])),
      failure: verdict.failure,
      format: verdict.format,
      width: verdict.width,
      height: verdict.height,
      manual_tag: verdict.manualTag,
      tagged_by: verdict.taggedBy === null ? null : (getUserById(deps.db, verdict.taggedBy)?.username ?? null),
      tagged_at: verdict.taggedAt === null ? null : new Date(verdict.taggedAt).toISOString(),
      classified_at: new Date(verdict.classifiedAt).toISOString(),
      tag: tagShape(verdict, judgement.blocked),
    };
  }

  /** May this caller see this file at all (as /view would let them)? Admins see everything. */
  function mayRead(caller: SignedIn, file: FileRef): boolean {
    return isAdminRole(caller.role) || mayReadFile(file, caller.userId, (f) => files.ownerOfFile(f));
  }

  /** The caller's own image (their folder, or an output of their prompt). */
  function owns(caller: SignedIn, file: FileRef): boolean {
    const top = file.subfolder.split("/", 1)[0]!;
    if (top === userFolder(caller.userId)) return true;
    if (isUserFolder(top)) return false;
    return files.ownerOfFile(file) === caller.userId;
  }

  /**
   * A caller who may change tags: anyone signed in (a token with "run"); an administrator also
   * needs the step-up (sessions) or the admin scope (tokens), as for every admin write, since
   * lifting a block is an admin's act.
   */
  async function tagWriter(request: Request): Promise<SignedIn | Response> {
    const caller = await guard.signedIn(request, "run");
    if (caller instanceof Response || !isAdminRole(caller.role)) return caller;
    const admin = await guard.admin(request, { write: true });
    return admin instanceof Response ? admin : admin.identity;
  }

  const checked = (caller: SignedIn): boolean => nsfw.isChecked({ userId: caller.userId, username: caller.username, role: caller.role });

  /** The verdict on the version ComfyUI serves now (classifying it unless `fast`). */
  async function currentVerdict(file: FileRef, fast: boolean, force = false): Promise<{ version: string | null; outcome: VerdictOutcome | null } | Response> {
    const version = await nsfw.scanner.currentVersion(file, deps.viewWaitMs());
    if (version === null) return jsonError(404, "NOT_FOUND", "ComfyUI has no such file.");
    if (typeof version !== "string") return jsonError(503, "UPSTREAM_UNAVAILABLE", version.message);
    if (fast) return { version, outcome: nsfw.store.get({ ...file, version }) };
    return { version, outcome: await nsfw.scanner.verdictFor({ ...file, version }, deps.viewWaitMs(), { force }) };
  }

  async function setTag(caller: SignedIn, file: FileRef, tag: ManualTag | null): Promise<Response> {
    if (!mayRead(caller, file)) return jsonError(404, "NOT_FOUND", "No such file of yours.");
    const admin = isAdminRole(caller.role);
    if (!admin && !owns(caller, file)) return jsonError(403, "NOT_YOUR_IMAGE", "Only the image's owner or an administrator may tag it.");
    if (!admin && tag !== "nsfw" && checked(caller)) {
      return jsonError(403, "NSFW_CHECK_APPLIES", "Your account is checked by the NSFW guard: you may mark images NSFW, but only an administrator can lift a block.");
    }
    const version = await nsfw.scanner.currentVersion(file, deps.viewWaitMs());
    if (version === null) return jsonError(404, "NOT_FOUND", "ComfyUI has no such file.");
    if (typeof version !== "string") return jsonError(503, "UPSTREAM_UNAVAILABLE", version.message);
    const verdict = nsfw.store.tag({ ...file, version }, tag, caller.userId, Date.now());
    log.info("nsfw: tag", { user: caller.username, type: file.type, subfolder: file.subfolder, filename: file.filename, tag: tag ?? "cleared" });
    return json({ file, verdict: verdict === null ? null : describe(verdict) });
  }

  const [status, statusApi] = bothSpellings("/mss-login/api/nsfw/status");
  const [policy, policyApi] = bothSpellings("/mss-login/api/nsfw/policy");
  const [check, checkApi] = bothSpellings("/mss-login/api/nsfw/check");
  const [classify, classifyApi] = bothSpellings("/mss-login/api/nsfw/classify");
  const [tag, tagApi] = bothSpellings("/mss-login/api/nsfw/tag");
  const [verdicts, verdictsApi] = bothSpellings("/mss-login/api/nsfw/verdicts");
  const [rescan, rescanApi] = bothSpellings("/mss-login/api/nsfw/rescan");
  const [clearTags, clearTagsApi] = bothSpellings("/mss-login/api/nsfw/clear-tags");
  const [classifier, classifierApi] = bothSpellings("/mss-login/api/nsfw/classifier");

  const statusHandler = async ({ request }: { request: Request }) => {
    const caller = await guard.signedIn(request, "read");
    if (caller instanceof Response) return caller;
    const state = nsfw.status();
    // Available: verdicts can be had (loaded now, or loaded at the first need).
    const available = !state.stoppedByAdmin && (state.state === "ready" || state.state === "loading" || (state.state === "stopped" && state.load === "on_demand"));
    if (!isAdminRole(caller.role)) return json({ available, state: state.state, load: state.load });
    return json({
      available,
      state: state.state,
      stopped_by_admin: state.stoppedByAdmin,
      load: state.load,
      workers: state.workers,
      ready: state.ready,
      busy: state.busy,
      queued: state.queued,
      classified: state.classified,
      failures: state.failures,
      rejected_inputs: state.rejectedInputs,
      restarts: state.restarts,
      last_error: state.lastError,
      load_ms: state.loadMs,
      memory_bytes: state.memoryBytes,
      scanner: state.scanner,
      verdicts: state.verdicts,
    });
  };

  const policyHandler = async ({ request }: { request: Request }) => {
    const caller = await guard.signedIn(request, "read");
    if (caller instanceof Response) return caller;
    const asked = new URL(request.url).searchParams.get("username");
    let subject = { userId: caller.userId, username: caller.username, role: caller.role };
    if (asked !== null && asked !== caller.username) {
      // Another user's: an administrator (a token needs its admin scope).
      const admin = await guard.admin(request, { write: false });
      if (admin instanceof Response) return admin;
      const user = getUserByUsername(deps.db, asked);
      // Unknown users are checked: the original's "default to BLOCK".
      if (user === null) return json({ username: asked, exists: false, enforced: true });
      subject = { userId: user.id, username: user.username, role: user.role };
    }
    const thresholds = nsfw.thresholds();
    return json({
      username: subject.username,
      exists: true,
      role: subject.role,
      enforced: nsfw.isChecked(subject),
      thresholds: { porn: thresholds.porn, hentai: thresholds.hentai, sexy: thresholds.sexy },
      previews: nsfw.previewMode(),
    });
  };

  const checkHandler = async ({ request }: { request: Request }) => {
    const caller = await guard.signedIn(request, "read");
    if (caller instanceof Response) return caller;
    const params = new URL(request.url).searchParams;
    const file = fileFrom(params);
    if (file instanceof Response) return file;
    let viewer = { userId: caller.userId, username: caller.username, role: caller.role };
    const asked = params.get("username");
    if (asked !== null && asked !== caller.username) {
      const admin = await guard.admin(request, { write: false });
      if (admin instanceof Response) return admin;
      const user = getUserByUsername(deps.db, asked);
      viewer = user === null ? { userId: "", username: asked, role: "guest" } : { userId: user.id, username: user.username, role: user.role };
    }
    if (!mayRead(caller, file)) return jsonError(404, "NOT_FOUND", "No such file of yours.");
    const fast = params.get("fast") === "1" || params.get("fast") === "true";
    const current = await currentVerdict(file, fast);
    if (current instanceof Response) return current;
    const enforced = viewer.userId === "" ? true : nsfw.isChecked(viewer);
    const outcome = current.outcome;
    if (outcome === null) return json({ file, username: viewer.username, enforced, verdict: null, allowed: enforced ? null : true });
    if (isUnavailable(outcome)) return json({ file, username: viewer.username, enforced, verdict: null, allowed: !enforced, unavailable: outcome.code });
    const described = describe(outcome);
    return json({ file, username: viewer.username, enforced, verdict: described, allowed: !enforced || !described.nsfw });
  };

  const classifyHandler = async ({ request }: { request: Request }) => {
    const caller = await guard.signedIn(request, "run");
    if (caller instanceof Response) return caller;
    const limit = deps.maxImageBytes();
    const declared = Number(request.headers.get("content-length") ?? Number.NaN);
    if (declared > limit) return jsonError(413, "TOO_LARGE", `Images up to ${limit} bytes are classified.`);
    const bytes = await readBounded(request.body, limit).catch(() => undefined);
    if (bytes === undefined) return jsonError(400, "BAD_BODY", "The image could not be read.");
    if (bytes === null) return jsonError(413, "TOO_LARGE", `Images up to ${limit} bytes are classified.`);
    if (!(await nsfw.ensureStarted())) return jsonError(503, "CLASSIFIER_UNAVAILABLE", "The NSFW classifier is stopped.");
    const result: ClassifyResult = await nsfw.pool.classify(bytes, { priority: "now", timeoutMs: deps.viewWaitMs() });
    if (!result.ok) {
      const input = INPUT_FAILURES.has(result.code);
      return jsonError(input ? 400 : 503, result.code, result.message);
    }
    const verdict: VerdictRow = { type: "input", subfolder: "", filename: "", version: "", scores: result.scores, failure: null, format: result.format, width: result.width, height: result.height, classifiedAt: Date.now(), manualTag: null, taggedBy: null, taggedAt: null };
    const described = describe(verdict);
    return json({ nsfw: described.nsfw, detail: described.detail, scores: described.scores, format: result.format, width: result.width, height: result.height, enforced: checked(caller), tag: described.tag });
  };

  const getTagHandler = async ({ request }: { request: Request }) => {
    const caller = await guard.signedIn(request, "read");
    if (caller instanceof Response) return caller;
    const file = fileFrom(new URL(request.url).searchParams);
    if (file instanceof Response) return file;
    if (!mayRead(caller, file)) return jsonError(404, "NOT_FOUND", "No such file of yours.");
    const current = await currentVerdict(file, true);
    if (current instanceof Response) return current;
    const outcome = current.outcome;
    return json({ file, tag: outcome === null || isUnavailable(outcome) ? null : describe(outcome).tag });
  };

  const putTagHandler = async ({ request }: { request: Request }) => {
    const caller = await tagWriter(request);
    if (caller instanceof Response) return caller;
    const body = await readBody(request);
    if (body === null) return jsonError(400, "BAD_BODY", "Send JSON: {type, subfolder, filename, is_nsfw}.");
    const file = fileFrom(body);
    if (file instanceof Response) return file;
    if (typeof body.is_nsfw !== "boolean") return jsonError(400, "BAD_BODY", "is_nsfw must be true or false.");
    return setTag(caller, file, body.is_nsfw ? "nsfw" : "safe");
  };

  /** Clears a person's tag and the classifier's verdicts on the file: it is classified again. */
  const deleteTagHandler = async ({ request }: { request: Request }) => {
    const caller = await tagWriter(request);
    if (caller instanceof Response) return caller;
    const file = fileFrom(new URL(request.url).searchParams);
    if (file instanceof Response) return file;
    const cleared = await setTag(caller, file, null);
    if (!cleared.ok) return cleared;
    nsfw.store.forgetFile(file);
    nsfw.fileReported(file);
    return json({ file, cleared: true, rescan: "queued" });
  };

  /** The original's manual flag by bare file name; signed in, and only on the caller's own files (admins: any). */
  const markNsfwHandler = async ({ request }: { request: Request }) => {
    const caller = await tagWriter(request);
    if (caller instanceof Response) return caller;
    const body = await readBody(request);
    if (body === null || typeof body.filename !== "string" || typeof body.is_nsfw !== "boolean") {
      return jsonError(400, "BAD_BODY", "Send JSON: {filename, is_nsfw, score?, label?}.");
    }
    const name = body.filename.split(/[\\/]/).pop() ?? "";
    const candidates = files.filesNamed(name).filter((candidate) => isAdminRole(caller.role) || candidate.userId === caller.userId);
    const chosen = candidates.find((candidate) => candidate.file.type === "output") ?? candidates[0];
    if (chosen === undefined) return jsonError(404, "NOT_FOUND", "No image of yours has that name.");
    const answer = await setTag(caller, chosen.file, body.is_nsfw ? "nsfw" : "safe");
    if (!answer.ok) return answer;
    return json({ success: true, filename: name, is_nsfw: body.is_nsfw, file: chosen.file });
  };

  const verdictsHandler = async ({ request }: { request: Request }) => {
    const caller = await guard.admin(request, { write: false });
    if (caller instanceof Response) return caller;
    const params = new URL(request.url).searchParams;
    const filter = params.get("filter") ?? "blocked";
    if (filter !== "blocked" && filter !== "tagged" && filter !== "all") return jsonError(400, "BAD_FILTER", "filter must be blocked, tagged or all.");
    const limit = Math.min(200, Math.max(1, Number(params.get("limit") ?? "50") || 50));
    const offset = Math.max(0, Number(params.get("offset") ?? "0") || 0);
    // Judged here (thresholds are live), walking the newest verdicts in pages.
    const thresholds = nsfw.thresholds();
    const rows: VerdictRow[] = [];
    let skipped = 0;
    let scanned = 0;
    for (let page = 0; rows.length < limit && page < 200; page++) {
      const batch = nsfw.store.page({ limit: 500, offset: page * 500, tagged: filter === "tagged" });
      if (batch.length === 0) break;
      for (const row of batch) {
        scanned++;
        if (filter === "blocked" && !judge(row, thresholds).blocked) continue;
        if (skipped < offset) {
          skipped++;
          continue;
        }
        if (rows.length < limit) rows.push(row);
      }
    }
    const owners = new Map<string, string | null>();
    const ownerName = (file: FileRef): string | null => {
      const id = files.ownerOfFile(file) ?? (isUserFolder(file.subfolder.split("/", 1)[0]!) ? file.subfolder.split("/", 1)[0]!.slice(2) : null);
      if (id === null) return null;
      if (!owners.has(id)) owners.set(id, getUserById(deps.db, id)?.username ?? null);
      return owners.get(id) ?? null;
    };
    return json({
      filter,
      offset,
      limit,
      scanned,
      items: rows.map((row) => ({ file: { type: row.type, subfolder: row.subfolder, filename: row.filename }, owner: ownerName(row), ...describe(row) })),
    });
  };

  const rescanHandler = async ({ request }: { request: Request }) => {
    const caller = await guard.admin(request, { write: true });
    if (caller instanceof Response) return caller;
    const body = await readBody(request);
    if (body === null) return jsonError(400, "BAD_BODY", "Send JSON: {type, subfolder, filename} or {since}.");
    if (body.since !== undefined) {
      const since = typeof body.since === "number" ? body.since : typeof body.since === "string" ? Date.parse(body.since) : Number.NaN;
      if (!Number.isFinite(since)) return jsonError(400, "BAD_DATE", "since must be a date (ISO 8601) or milliseconds since 1970.");
      const found = files.filesSince(since, 100_000);
      for (const file of found) {
        nsfw.store.forgetFile(file);
        nsfw.fileReported(file);
      }
      log.info("nsfw: rescan", { user: caller.identity.username, since: new Date(since).toISOString(), files: found.length });
      return json({ queued: found.length, since: new Date(since).toISOString() });
    }
    const file = fileFrom(body);
    if (file instanceof Response) return file;
    nsfw.store.forgetFile(file);
    const current = await currentVerdict(file, false, true);
    if (current instanceof Response) return current;
    if (current.outcome === null || isUnavailable(current.outcome)) return jsonError(503, "CLASSIFIER_UNAVAILABLE", current.outcome === null ? "No verdict." : current.outcome.message);
    log.info("nsfw: rescan", { user: caller.identity.username, type: file.type, subfolder: file.subfolder, filename: file.filename });
    return json({ file, verdict: describe(current.outcome) });
  };

  const clearTagsHandler = async ({ request }: { request: Request }) => {
    const caller = await guard.admin(request, { write: true });
    if (caller instanceof Response) return caller;
    const cleared = nsfw.store.clearTags();
    log.info("nsfw: manual tags cleared", { user: caller.identity.username, count: cleared });
    return json({ cleared_count: cleared });
  };

  const classifierHandler = async ({ request }: { request: Request }) => {
    const caller = await guard.admin(request, { write: true });
    if (caller instanceof Response) return caller;
    const body = await readBody(request);
    const action = body?.action;
    if (action !== "start" && action !== "stop") return jsonError(400, "BAD_ACTION", 'action must be "start" or "stop".');
    log.warn(`nsfw: classifier ${action === "stop" ? "stopped" : "started"} by an administrator`, { user: caller.identity.username });
    if (action === "stop") await nsfw.stopByAdmin();
    else if (!(await nsfw.startByAdmin())) return jsonError(503, "CLASSIFIER_FAILED", "The classifier could not load; see the gateway's log.");
    return json({ state: nsfw.status().state, stopped_by_admin: nsfw.status().stoppedByAdmin });
  };

  return new Elysia({ name: "nsfw" })
    .get(status, statusHandler)
    .get(statusApi, statusHandler)
    .get(policy, policyHandler)
    .get(policyApi, policyHandler)
    .get(check, checkHandler)
    .get(checkApi, checkHandler)
    .post(classify, classifyHandler)
    .post(classifyApi, classifyHandler)
    .get(tag, getTagHandler)
    .get(tagApi, getTagHandler)
    .put(tag, putTagHandler)
    .put(tagApi, putTagHandler)
    .delete(tag, deleteTagHandler)
    .delete(tagApi, deleteTagHandler)
    .post("/mss-login-gallery/mark-nsfw", markNsfwHandler)
    .get(verdicts, verdictsHandler)
    .get(verdictsApi, verdictsHandler)
    .post(rescan, rescanHandler)
    .post(rescanApi, rescanHandler)
    .post(clearTags, clearTagsHandler)
    .post(clearTagsApi, clearTagsHandler)
    .post(classifier, classifierHandler)
    .post(classifierApi, classifierHandler);
}
