/**
 * Shared ("global") workflows (issue 4, reference §7.1): workflows an admin promoted from a
 * user's folder are kept by the gateway and shown to every signed-in user as
 * `workflows/shared/<name>` inside their own ComfyUI userdata:
 * - the listings (`GET /userdata?dir=…`, every shape the front end asks for, and
 *   `GET /v2/userdata?path=…`) get the shared entries added;
 * - `GET /userdata/workflows%2Fshared%2F<name>` is answered from the gateway's table;
 * - writes, deletes and moves into or out of `workflows/shared/` are refused for everyone:
 *   only the admin API (user-env-routes.ts) changes shared workflows.
 * A user's own file at the same place is hidden by the shared one of that name.
 *
 * The merges are pure functions over ComfyUI's answers; the store is the only state.
 */
import { asc, eq } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import { errorResponse } from "../gateway/error-response.ts";
import type { ForwardChanges } from "../gateway/pipeline.ts";
import { normaliseSubfolder } from "./ownership.ts";
import { sharedWorkflows } from "./tables.ts";

/** Where shared workflows appear, relative to each user's userdata root. */
export const SHARED_WORKFLOWS_DIR = "workflows/shared";
const SHARED_PREFIX = `${SHARED_WORKFLOWS_DIR}/`;

/** Largest workflow an admin may promote (workflows are JSON graphs, rarely above a few MB). */
export const MAX_SHARED_WORKFLOW_BYTES = 16 * 1024 * 1024;

/** Longest workflow path accepted (ComfyUI's own limit is the file system's, 255 per name). */
const MAX_WORKFLOW_PATH_LENGTH = 255;

// ---- names ------------------------------------------------------------------------------

export type WorkflowPathCheck = { ok: true; path: string; name: string } | { ok: false; message: string };

/**
 * A workflow path relative to the user's `workflows/` folder (`portrait.json`,
 * `faces/portrait.json`), safe to put into a userdata URL and to show to everyone. `%` is
 * refused because ComfyUI decodes userdata paths a second time when a `%` remains (spec §3.7),
 * so the file read would not be the file named. With `fileNameOnly`, folders are refused too
 * (shared workflows are one flat folder).
 */
export function checkWorkflowPath(value: unknown, options: { fileNameOnly?: boolean } = {}): WorkflowPathCheck {
  const bad = (message: string): WorkflowPathCheck => ({ ok: false, message });
  if (typeof value !== "string" || value === "") return bad('Name the workflow: a path under workflows/, e.g. "portrait.json".');
  if (value.length > MAX_WORKFLOW_PATH_LENGTH) return bad(`The workflow name is longer than ${MAX_WORKFLOW_PATH_LENGTH} characters.`);
  if (/[\u0000-\u001f\u007f]/.test(value)) return bad("The workflow name must not contain control characters.");
  if (value.includes("\\")) return bad("Separate folders with / in the workflow name, not \\.");
  if (value.includes("%")) return bad("The workflow name must not contain %.");
  if (value.startsWith("/") || /^[A-Za-z]:/.test(value)) return bad("The workflow name must be a path relative to workflows/, not an absolute one.");
  const segments = value.split("/");
  if (segments.includes("..")) return bad("The workflow name must not contain '..'.");
  if (segments.some((segment) => segment === "" || segment === ".")) return bad("The workflow name must not contain empty or '.' parts.");
  const name = segments[segments.length - 1]!;
  if (!name.toLowerCase().endsWith(".json") || name.length === ".json".length) return bad('The workflow name must end in ".json".');
  if (options.fileNameOnly === true && segments.length > 1) return bad("A shared workflow is named by its file name alone, without folders.");
  return { ok: true, path: value, name };
}

/**
 * Whether a userdata path (decoded, canonical: route-table.ts) is the shared folder or inside
 * it. Letter case is ignored: on a case-insensitive disk `Workflows/Shared` is the same folder.
 */
export function isSharedWorkflowPath(path: string | undefined): boolean {
  if (path === undefined) return false;
  const lower = path.toLowerCase();
  return lower === SHARED_WORKFLOWS_DIR || lower.startsWith(SHARED_PREFIX);
}

/** `workflows/shared/<name>` → `<name>`; null for any other path. */
export function sharedNameOf(path: string): string | null {
  return path.length > SHARED_PREFIX.length && path.slice(0, SHARED_PREFIX.length).toLowerCase() === SHARED_PREFIX ? path.slice(SHARED_PREFIX.length) : null;
}

/**
 * A userdata directory as ComfyUI resolves it below the user root (`workflows/`, `./workflows`
 * and `workflows` are one folder): the same resolution as a file subfolder.
 */
export const normaliseUserdataDir = normaliseSubfolder;

/**
 * Where the shared folder sits relative to a listed directory: the prefix to put before a
 * shared name (`""` when listing `workflows/shared` itself, `shared/` for `workflows`,
 * `workflows/shared/` for the root), or null when the directory cannot contain it.
 */
export function sharedPrefixWithin(dir: string): string | null {
  const normalised = normaliseUserdataDir(dir);
  if (normalised === null) return null;
  const lower = normalised.toLowerCase();
  if (lower === SHARED_WORKFLOWS_DIR) return "";
  if (lower === "") return SHARED_PREFIX;
  return SHARED_PREFIX.startsWith(`${lower}/`) ? SHARED_PREFIX.slice(lower.length + 1) : null;
}

// ---- the store --------------------------------------------------------------------------

export interface SharedWorkflowSummary {
  name: string;
  sizeBytes: number;
  /** Gateway user id of the promoting admin. */
  promotedBy: string;
  promotedAt: number;
}

export interface SharedWorkflow extends SharedWorkflowSummary {
  content: string;
}

export interface SharedWorkflowStore {
  /** Every shared workflow without its content, by name. */
  list(): SharedWorkflowSummary[];
  get(name: string): SharedWorkflow | null;
  /** Adds or replaces one; says whether one of that name was replaced. */
  put(workflow: { name: string; content: string; promotedBy: string; now: number }): { replaced: boolean };
  /** False when there was none of that name. */
  remove(name: string): boolean;
}

export function createSharedWorkflowStore(db: Db): SharedWorkflowStore {
  const summaryColumns = {
    name: sharedWorkflows.name,
    sizeBytes: sharedWorkflows.sizeBytes,
    promotedBy: sharedWorkflows.promotedBy,
    promotedAt: sharedWorkflows.promotedAt,
  };
  return {
    list: () => db.select(summaryColumns).from(sharedWorkflows).orderBy(asc(sharedWorkflows.name)).all(),
    get: (name) => db.select().from(sharedWorkflows).where(eq(sharedWorkflows.name, name)).get() ?? null,
    put({ name, content, promotedBy, now }) {
      const row = { name, content, sizeBytes: new TextEncoder().encode(content).byteLength, promotedBy, promotedAt: now };
      return db.transaction((tx) => {
        const replaced = tx.select({ name: sharedWorkflows.name }).from(sharedWorkflows).where(eq(sharedWorkflows.name, name)).get() !== undefined;
        tx.insert(sharedWorkflows)
          .values(row)
          .onConflictDoUpdate({ target: sharedWorkflows.name, set: { content: row.content, sizeBytes: row.sizeBytes, promotedBy, promotedAt: now } })
          .run();
        return { replaced };
      });
    },
    remove: (name) => db.delete(sharedWorkflows).where(eq(sharedWorkflows.name, name)).returning({ name: sharedWorkflows.name }).all().length > 0,
  };
}

// ---- listing merges (pure) --------------------------------------------------------------

/** The query of `GET /userdata`, read the way ComfyUI reads it (only "true", in any case, is true). */
export interface UserdataListingQuery {
  dir: string;
  recurse: boolean;
  fullInfo: boolean;
  split: boolean;
}

export function parseListingQuery(search: string): UserdataListingQuery {
  const params = new URLSearchParams(search);
  const flag = (name: string) => (params.get(name) ?? "").toLowerCase() === "true";
  return { dir: params.get("dir") ?? "", recurse: flag("recurse"), fullInfo: flag("full_info"), split: flag("split") };
}

/** `full_info` times: float seconds in ComfyUI 0.3.64, integer milliseconds in newer versions. */
export type FileInfoTimeUnit = "seconds" | "milliseconds";

/** The unit of ComfyUI's own `full_info` entries, or null when none tells (no entries). */
export function detectTimeUnit(entries: readonly unknown[]): FileInfoTimeUnit | null {
  for (const entry of entries) {
    const modified = (entry as { modified?: unknown } | null)?.modified;
    if (typeof modified !== "number") continue;
    // Seconds since 1970 stay below 1e11 until the year 5138; milliseconds passed it in 1973.
    return Number.isInteger(modified) && modified > 1e11 ? "milliseconds" : "seconds";
  }
  return null;
}

/** The relative path an entry of `GET /userdata` names, in any of its three shapes. */
function listedPath(entry: unknown): string | null {
  if (typeof entry === "string") return entry;
  if (Array.isArray(entry)) return typeof entry[0] === "string" ? entry[0] : null;
  const path = (entry as { path?: unknown } | null)?.path;
  return typeof path === "string" ? path : null;
}

function listingEntry(path: string, workflow: SharedWorkflowSummary, query: UserdataListingQuery, unit: FileInfoTimeUnit): unknown {
  if (query.fullInfo) {
    const time = unit === "milliseconds" ? workflow.promotedAt : workflow.promotedAt / 1000;
    return { path, size: workflow.sizeBytes, modified: time, created: time };
  }
  if (query.split) return [path, ...path.split("/")];
  return path;
}

/**
 * ComfyUI's `GET /userdata` answer (a list) with the shared workflows added where the listed
 * directory holds `workflows/shared/` (only when recursing, unless it is that folder itself),
 * and the caller's own files of the same names left out. Null when nothing changes.
 */
export function mergeUserdataListing(own: readonly unknown[], query: UserdataListingQuery, shared: readonly SharedWorkflowSummary[], unit: FileInfoTimeUnit): unknown[] | null {
  const prefix = sharedPrefixWithin(query.dir);
  if (prefix === null || shared.length === 0) return null;
  if (prefix !== "" && !query.recurse) return null;
  const sharedPaths = new Set(shared.map((workflow) => (prefix + workflow.name).toLowerCase()));
  const kept = own.filter((entry) => !sharedPaths.has(listedPath(entry)?.toLowerCase() ?? ""));
  return [...kept, ...shared.map((workflow) => listingEntry(prefix + workflow.name, workflow, query, unit))];
}

export type V2Entry = { name: string; path: string; type: "directory" } | { name: string; path: string; type: "file"; size: number; modified: number };

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * ComfyUI's `GET /v2/userdata?path=P` answer (recursive, flattened, paths relative to the user
 * root, directories first; spec §2.4, fixture finding 16) with the shared workflows and their
 * folders added when P holds `workflows/shared/`. Each group is ordered by name, as the fake
 * lists (a stable sort: ComfyUI's own order within equal names is kept). Null when nothing changes.
 */
export function mergeV2Listing(own: readonly unknown[], path: string, shared: readonly SharedWorkflowSummary[]): unknown[] | null {
  const prefix = sharedPrefixWithin(path);
  if (prefix === null || shared.length === 0) return null;
  const sharedPaths = new Set(shared.map((workflow) => `${SHARED_PREFIX}${workflow.name}`.toLowerCase()));
  const isFile = (entry: unknown) => (entry as { type?: unknown } | null)?.type === "file";
  const pathOf = (entry: unknown) => {
    const value = (entry as { path?: unknown } | null)?.path;
    return typeof value === "string" ? value : "";
  };
  const directories = own.filter((entry) => !isFile(entry));
  const files = own.filter((entry) => isFile(entry) && !sharedPaths.has(pathOf(entry).toLowerCase()));
  // The folders between P and the shared one (`workflows`, `workflows/shared` for the root).
  const depth = prefix === "" ? 0 : prefix.split("/").length - 1;
  const segments = SHARED_WORKFLOWS_DIR.split("/");
  for (let level = segments.length - depth + 1; level <= segments.length; level++) {
    const folder = segments.slice(0, level).join("/");
    if (!directories.some((entry) => pathOf(entry) === folder)) directories.push({ name: segments[level - 1]!, path: folder, type: "directory" } satisfies V2Entry);
  }
  for (const workflow of shared) {
    files.push({ name: workflow.name, path: SHARED_PREFIX + workflow.name, type: "file", size: workflow.sizeBytes, modified: workflow.promotedAt / 1000 } satisfies V2Entry);
  }
  const nameOf = (entry: unknown) => {
    const value = (entry as { name?: unknown } | null)?.name;
    return typeof value === "string" ? value : "";
  };
  const byName = (a: unknown, b: unknown) => byCodePoint(nameOf(a), nameOf(b));
  return [...directories.sort(byName), ...files.sort(byName)];
}

// ---- around the forward -----------------------------------------------------------------

type Forward = (changes?: ForwardChanges) => Promise<Response>;
type Interceptor = (forward: Forward) => Promise<Response>;
type ResponseFilter = (response: Response) => Promise<Response>;

/** Rewritten answers must be read as plain JSON, so the upstream is asked for no encoding. */
const PLAIN = { "accept-encoding": "identity" };

function jsonAnswer(body: unknown, from?: Response): Response {
  const headers = new Headers(from?.headers);
  headers.delete("content-length");
  headers.delete("content-encoding");
  headers.delete("etag");
  headers.set("content-type", "application/json; charset=utf-8");
  return new Response(JSON.stringify(body), { status: 200, headers });
}

async function readJsonArray(response: Response): Promise<unknown[] | null> {
  try {
    const body: unknown = await response.json();
    return Array.isArray(body) ? body : null;
  } catch {
    return null;
  }
}

export const SHARED_READ_ONLY_MESSAGE = "Shared workflows are read-only: save a copy under another name (outside workflows/shared/); an administrator changes shared workflows.";

/**
 * The userdata interceptors. They apply to every caller, owners and admins included: the
 * shared folder is the gateway's, not any ComfyUI user's.
 */
export function createSharedWorkflowViews(store: SharedWorkflowStore) {
  /** The last unit ComfyUI's `full_info` showed, for listings where the caller has no file of their own. */
  let knownUnit: FileInfoTimeUnit = "seconds";

  function listView(query: UserdataListingQuery): ResponseFilter {
    return async (response) => {
      // A missing folder is one ComfyUI has not created yet: the shared folder is there all the same.
      if (response.status !== 200 && response.status !== 404) return response;
      const shared = store.list();
      if (response.status === 404) {
        if (shared.length === 0) return response;
        await response.body?.cancel();
        return jsonAnswer(mergeUserdataListing([], query, shared, knownUnit) ?? []);
      }
      if (shared.length === 0) return response;
      const own = await readJsonArray(response);
      if (own === null) return new Response(JSON.stringify({ error: "ComfyUI sent an unreadable file list." }), { status: 502, headers: { "content-type": "application/json; charset=utf-8" } });
      if (query.fullInfo) knownUnit = detectTimeUnit(own) ?? knownUnit;
      return jsonAnswer(mergeUserdataListing(own, query, shared, knownUnit) ?? own, response);
    };
  }

  function v2View(path: string): ResponseFilter {
    return async (response) => {
      if (response.status !== 200 && response.status !== 404) return response;
      const shared = store.list();
      if (shared.length === 0) return response;
      let own: unknown[] | null = [];
      if (response.status === 200) own = await readJsonArray(response);
      else await response.body?.cancel();
      if (own === null) return new Response(JSON.stringify({ error: "ComfyUI sent an unreadable file list." }), { status: 502, headers: { "content-type": "application/json; charset=utf-8" } });
      return jsonAnswer(mergeV2Listing(own, path, shared) ?? own, response.status === 200 ? response : undefined);
    };
  }

  /** The shared workflow itself, as ComfyUI would send a file; a name not shared goes to ComfyUI (the caller's own file). */
  function serveShared(name: string): Interceptor {
    return async (forward) => {
      const workflow = store.get(name);
      if (workflow === null) return forward();
      return new Response(workflow.content, {
        status: 200,
        headers: {
          "content-type": "application/json",
          "last-modified": new Date(workflow.promotedAt).toUTCString(),
          "cache-control": "no-cache",
        },
      });
    };
  }

  function refuseWrite(request: Request): Interceptor {
    return async () => errorResponse(request, 403, "WORKFLOW_SHARED_READ_ONLY", SHARED_READ_ONLY_MESSAGE);
  }

  return {
    /** What to do around a userdata request, or null when shared workflows are not involved. */
    forRequest(input: { request: Request; routeId: string; method: string; params: Readonly<Record<string, string>>; search: string }):
      | { intercept: Interceptor }
      | { filterResponse: ResponseFilter; headers: Record<string, string> }
      | null {
      const { request, routeId, method, params, search } = input;
      switch (routeId) {
        case "userdata.list": {
          if (method !== "GET") return null;
          const query = parseListingQuery(search);
          // ComfyUI answers a missing dir with 400 itself; other folders never hold shared ones.
          if (query.dir === "" || sharedPrefixWithin(query.dir) === null) return null;
          return { filterResponse: listView(query), headers: PLAIN };
        }
        case "userdata.v2": {
          if (method !== "GET") return null;
          const path = new URLSearchParams(search).get("path") ?? "";
          // An absolute path is ComfyUI's 400 to give.
          if (path.startsWith("/") || sharedPrefixWithin(path) === null) return null;
          return { filterResponse: v2View(path), headers: PLAIN };
        }
        case "userdata.file": {
          const file = params.file ?? "";
          if (!isSharedWorkflowPath(file)) return null;
          if (method === "GET" || method === "HEAD") {
            const name = sharedNameOf(file);
            return name === null ? null : { intercept: serveShared(name) };
          }
          return { intercept: refuseWrite(request) };
        }
        case "userdata.move":
          return isSharedWorkflowPath(params.file) || isSharedWorkflowPath(params.dest) ? { intercept: refuseWrite(request) } : null;
        default:
          return null;
      }
    },
  };
}

export type SharedWorkflowViews = ReturnType<typeof createSharedWorkflowViews>;
