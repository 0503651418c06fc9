/**
 * `POST /mss-login/api/user-env` (and `/api/mss-login/api/user-env`), the original's "user
 * environment" admin API (reference §4.5), for what the gateway keeps of it: workflows.
 * - `{action: "list_workflows", user}` → the user's workflows as ComfyUI lists them;
 * - `{action: "promote_workflow", user, workflow, delete_source?}` → a copy becomes a shared
 *   workflow (`workflows/shared/<file name>`, shared-workflows.ts), optionally removing the user's;
 * - ours: `{action: "list_shared"}` and `{action: "unshare", workflow}`.
 * The original's file actions (status, list, delete_file, purge, set_gallery_root) worked on
 * its own per-user folders, which the gateway does not have: they are refused by name.
 * Admins only; changes also need the step-up (sessions) or the admin scope (tokens).
 */
import { Elysia } from "elysia";
import type { Db } from "../db/index.ts";
import { jsonError } from "../gateway/error-response.ts";
import type { Logger } from "../log.ts";
import { bothSpellings, json, readBody, type AdminCaller, type AdminGuard } from "../auth/admin-guard.ts";
import { getUserById, getUserByUsername, mayManage, type User } from "../auth/users.ts";
import { checkWorkflowPath, MAX_SHARED_WORKFLOW_BYTES, SHARED_WORKFLOWS_DIR, type SharedWorkflowStore } from "./shared-workflows.ts";

/**
 * A request to ComfyUI as one gateway user (their own `comfy-user`), on a path such as
 * `/api/userdata?dir=workflows`. Throws when ComfyUI cannot be reached.
 */
export type UpstreamAsUser = (user: Pick<User, "id" | "username">, path: string, init?: { method?: "GET" | "DELETE" }) => Promise<Response>;

export interface UserEnvRouteDeps {
  db: Db;
  guard: AdminGuard;
  sharedWorkflows: SharedWorkflowStore;
  upstreamAsUser: UpstreamAsUser;
  log: Logger;
  now?: () => number;
}

const SUPPORTED_ACTIONS = ["list_workflows", "promote_workflow", "list_shared", "unshare"] as const;
type SupportedAction = (typeof SUPPORTED_ACTIONS)[number];
/** What changes something: those need the step-up. */
const WRITE_ACTIONS: ReadonlySet<SupportedAction> = new Set(["promote_workflow", "unshare"]);
/** The original's actions on its own per-user folders; named so that callers learn why. */
const UNSUPPORTED_ACTIONS: ReadonlySet<string> = new Set(["status", "list", "delete_file", "purge", "set_gallery_root"]);

const WORKFLOWS_PREFIX = "workflows/";
const iso = (ms: number) => new Date(ms).toISOString();
/** `workflows/<path>` as one userdata path parameter (`/` as `%2F`, spec §3.7). */
const userdataFile = (path: string) => `/api/userdata/${encodeURIComponent(WORKFLOWS_PREFIX + path)}`;

function parseBoolean(value: unknown): boolean | "invalid" {
  if (value === undefined || value === null || value === false || value === "false" || value === 0 || value === "0") return false;
  if (value === true || value === "true" || value === 1 || value === "1") return true;
  return "invalid";
}

export function userEnvRoutes(deps: UserEnvRouteDeps) {
  const now = deps.now ?? Date.now;

  const upstreamDown = () => jsonError(502, "UPSTREAM_UNAVAILABLE", "ComfyUI could not be reached; nothing was changed.");

  function targetUser(body: Record<string, unknown>): User | Response {
    const username = body.user ?? body.username;
    if (typeof username !== "string" || username === "") return jsonError(400, "BAD_BODY", 'Name the user: {"user": "<username>"}.');
    return getUserByUsername(deps.db, username) ?? jsonError(404, "USER_NOT_FOUND", `No user "${username}".`);
  }

  async function listWorkflows(body: Record<string, unknown>): Promise<Response> {
    const user = targetUser(body);
    if (user instanceof Response) return user;
    let response: Response;
    try {
      response = await deps.upstreamAsUser(user, `/api/userdata?dir=workflows&recurse=true`);
    } catch {
      return upstreamDown();
    }
    // No workflows folder yet: the user has saved none.
    if (response.status === 404) return json({ user: user.username, workflows: [], count: 0 });
    const listed: unknown = response.ok ? await response.json().catch(() => null) : null;
    if (!Array.isArray(listed)) return jsonError(502, "UPSTREAM_ERROR", `ComfyUI did not list the workflows (HTTP ${response.status}).`);
    const workflows = listed.filter((path): path is string => typeof path === "string" && path.toLowerCase().endsWith(".json")).sort();
    return json({ user: user.username, workflows, count: workflows.length });
  }

  async function promoteWorkflow(caller: AdminCaller, body: Record<string, unknown>): Promise<Response> {
    const user = targetUser(body);
    if (user instanceof Response) return user;
    const checked = checkWorkflowPath(body.workflow);
    if (!checked.ok) return jsonError(400, "WORKFLOW_NAME_INVALID", checked.message);
    const deleteSource = parseBoolean(body.delete_source);
    if (deleteSource === "invalid") return jsonError(400, "BAD_BODY", "delete_source is true or false.");
    // Removing the user's copy changes their account's files: the same rule as other account changes.
    if (deleteSource && !mayManage(caller.actor, user)) {
      return jsonError(403, "OWNER_ONLY", `Only the owner may remove files of the ${user.role} account "${user.username}"; promote without delete_source.`);
    }

    let response: Response;
    try {
      response = await deps.upstreamAsUser(user, userdataFile(checked.path));
    } catch {
      return upstreamDown();
    }
    if (response.status === 404) return jsonError(404, "WORKFLOW_NOT_FOUND", `${user.username} has no workflow "${checked.path}".`);
    if (!response.ok) return jsonError(502, "UPSTREAM_ERROR", `ComfyUI did not send the workflow (HTTP ${response.status}).`);
    const declared = Number(response.headers.get("content-length") ?? Number.NaN);
    if (declared > MAX_SHARED_WORKFLOW_BYTES) {
      await response.body?.cancel();
      return jsonError(413, "WORKFLOW_TOO_LARGE", `Shared workflows are at most ${MAX_SHARED_WORKFLOW_BYTES} bytes.`);
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.byteLength > MAX_SHARED_WORKFLOW_BYTES) return jsonError(413, "WORKFLOW_TOO_LARGE", `Shared workflows are at most ${MAX_SHARED_WORKFLOW_BYTES} bytes.`);
    let content: string;
    try {
      content = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      JSON.parse(content);
    } catch {
      // Everyone would open it: a file the front end cannot read is not shared.
      return jsonError(400, "WORKFLOW_NOT_JSON", `"${checked.path}" is not a JSON workflow; nothing was shared.`);
    }

    const { replaced } = deps.sharedWorkflows.put({ name: checked.name, content, promotedBy: caller.identity.userId, now: now() });
    const globalPath = `${SHARED_WORKFLOWS_DIR}/${checked.name}`;
    // Removed only after the copy is stored: a failure here loses nothing.
    let deletedSource = false;
    let warning: string | undefined;
    if (deleteSource) {
      try {
        const deleted = await deps.upstreamAsUser(user, userdataFile(checked.path), { method: "DELETE" });
        await deleted.body?.cancel();
        deletedSource = deleted.ok;
        if (!deleted.ok) warning = `The workflow was shared, but ComfyUI did not delete the user's copy (HTTP ${deleted.status}).`;
      } catch {
        warning = "The workflow was shared, but ComfyUI could not be reached to delete the user's copy.";
      }
    }
    deps.log.info("workflow shared", { by: caller.identity.username, user: user.username, workflow: checked.path, global_path: globalPath, replaced, deleted_source: deletedSource });
    return json({ status: "ok", global_path: globalPath, deleted_source: deletedSource, replaced, ...(warning === undefined ? {} : { warning }) });
  }

  function listShared(): Response {
    const workflows = deps.sharedWorkflows.list().map((workflow) => ({
      name: workflow.name,
      path: `${SHARED_WORKFLOWS_DIR}/${workflow.name}`,
      size: workflow.sizeBytes,
      // The admin's name while the account exists; the id stays either way.
      promoted_by: getUserById(deps.db, workflow.promotedBy)?.username ?? null,
      promoted_by_user_id: workflow.promotedBy,
      promoted_at_iso: iso(workflow.promotedAt),
    }));
    return json({ workflows, count: workflows.length });
  }

  function unshare(caller: AdminCaller, body: Record<string, unknown>): Response {
    // The name alone, or the path the listings show.
    const given = typeof body.workflow === "string" && body.workflow.toLowerCase().startsWith(`${SHARED_WORKFLOWS_DIR}/`) ? body.workflow.slice(SHARED_WORKFLOWS_DIR.length + 1) : body.workflow;
    const checked = checkWorkflowPath(given, { fileNameOnly: true });
    if (!checked.ok) return jsonError(400, "WORKFLOW_NAME_INVALID", checked.message);
    if (!deps.sharedWorkflows.remove(checked.name)) return jsonError(404, "WORKFLOW_NOT_FOUND", `No shared workflow "${checked.name}".`);
    deps.log.info("workflow unshared", { by: caller.identity.username, workflow: checked.name });
    return json({ status: "ok", removed: `${SHARED_WORKFLOWS_DIR}/${checked.name}` });
  }

  async function handle(request: Request): Promise<Response> {
    // Non-admins learn nothing about the body's validity.
    const reader = await deps.guard.admin(request, { write: false });
    if (reader instanceof Response) return reader;
    const body = await readBody(request);
    if (body === null) return jsonError(400, "BAD_BODY", 'Send a JSON object: {"action": "...", ...}.');
    const action = body.action;
    if (typeof action !== "string" || action === "") return jsonError(400, "BAD_BODY", `Name the action: one of ${SUPPORTED_ACTIONS.join(", ")}.`);
    if (UNSUPPORTED_ACTIONS.has(action)) {
      return jsonError(400, "ACTION_UNSUPPORTED", `"${action}" worked on the original's own per-user folders; this gateway keeps users' files in ComfyUI and offers ${SUPPORTED_ACTIONS.join(", ")}.`);
    }
    if (!(SUPPORTED_ACTIONS as readonly string[]).includes(action)) return jsonError(400, "ACTION_UNKNOWN", `Unknown action "${action}"; use one of ${SUPPORTED_ACTIONS.join(", ")}.`);
    const supported = action as SupportedAction;
    const caller = WRITE_ACTIONS.has(supported) ? await deps.guard.admin(request, { write: true }) : reader;
    if (caller instanceof Response) return caller;
    switch (supported) {
      case "list_workflows":
        return listWorkflows(body);
      case "promote_workflow":
        return promoteWorkflow(caller, body);
      case "list_shared":
        return listShared();
      case "unshare":
        return unshare(caller, body);
    }
  }

  const app = new Elysia({ name: "user-env" });
  for (const path of bothSpellings("/mss-login/api/user-env")) app.post(path, ({ request }) => handle(request));
  return app;
}
