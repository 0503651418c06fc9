/**
 * Model sharing on the original MSS-Login's paths (reference §4.4), each also under
 * `/api/mss-login/...`:
 * - `GET/POST/DELETE /mss-login/api/users/{username}/shared-items`: a user's grants;
 * - `GET/POST/DELETE /mss-login/api/roles/{role}/shared-items`: a role's grants (ours; same shapes);
 * - `GET /mss-login/api/available-model-folders` and `/available-models/{folder}`: what ComfyUI
 *   has, for choosing (admins).
 * Grants need an owner or an admin whose role holds `can_manage_model_sharing` (by default
 * only the owner); writes also need the admin guard's step-up.
 */
import { Elysia } from "elysia";
import type { Db } from "../db/index.ts";
import { jsonError } from "../gateway/error-response.ts";
import type { Logger } from "../log.ts";
import { bothSpellings, json, readBody, type AdminCaller, type AdminGuard } from "../auth/admin-guard.ts";
import { getUserByUsername, ROLES } from "../auth/users.ts";
import { EVERY, ModelGrantError, parseFolder, type Grantee, type ModelGrant, type ModelGrantStore } from "./grants.ts";

/** A JSON answer of ComfyUI's (through the gateway's upstream); throws when ComfyUI cannot be reached. */
export type UpstreamJson = (path: string) => Promise<{ status: number; body: unknown }>;

export interface ModelRouteDeps {
  db: Db;
  grants: ModelGrantStore;
  guard: AdminGuard;
  allows(role: string, key: string): boolean;
  upstreamJson: UpstreamJson;
  log: Logger;
}

/** Folders of `/models` that hold no models (ComfyUI's `/experiment/models` leaves them out too). */
const NOT_MODEL_FOLDERS: ReadonlySet<string> = new Set(["configs", "custom_nodes"]);

/** Roles whose members are filtered at all: owners and admins always see every model. */
const GRANTABLE_ROLES: readonly string[] = ROLES.filter((role) => role !== "owner" && role !== "admin");

/** The original stores S3 entries too; this gateway shares ComfyUI's own (local) folders only. */
const LOCAL_BACKEND = "local";

function describe(grant: ModelGrant) {
  return {
    folder: grant.folder,
    item_name: grant.itemName,
    source_backend: LOCAL_BACKEND,
    granted_by_user_id: grant.grantedBy,
    granted_by_role: grant.grantedByRole,
    created_at: new Date(grant.createdAt).toISOString(),
  };
}

export function modelRoutes(deps: ModelRouteDeps) {
  /** An admin who may manage grants; `write` adds the step-up (sessions) or admin scope (tokens). */
  async function manager(request: Request, write: boolean): Promise<AdminCaller | Response> {
    const caller = await deps.guard.admin(request, { write });
    if (caller instanceof Response) return caller;
    const role = caller.identity.role;
    if (role !== "owner" && !deps.allows(role, "can_manage_model_sharing")) {
      return jsonError(403, "MODEL_SHARING_DENIED", "Managing model grants needs the can_manage_model_sharing permission.");
    }
    return caller;
  }

  /** The grantee of a `users/{username}` or `roles/{role}` path, with its label for answers. */
  function granteeOf(kind: "user" | "role", name: string): { grantee: Grantee; label: Record<string, string> } | Response {
    if (kind === "role") {
      const role = name.toLowerCase();
      if (!GRANTABLE_ROLES.includes(role)) {
        return jsonError(ROLES.includes(role as (typeof ROLES)[number]) ? 400 : 404, "ROLE_INVALID", `Model grants are for the roles ${GRANTABLE_ROLES.join(", ")}; owners and admins see every model.`);
      }
      return { grantee: { kind: "role", role }, label: { role } };
    }
    const user = getUserByUsername(deps.db, name);
    if (user === null) return jsonError(404, "USER_NOT_FOUND", "No such user.");
    return { grantee: { kind: "user", userId: user.id }, label: { username: user.username } };
  }

  /** Store errors become their 400/404 answer. */
  function attempt(change: () => Response): Response {
    try {
      return change();
    } catch (error) {
      if (error instanceof ModelGrantError) return jsonError(error.status, error.code, error.message);
      throw error;
    }
  }

  async function list(request: Request, kind: "user" | "role", name: string): Promise<Response> {
    const caller = await manager(request, false);
    if (caller instanceof Response) return caller;
    const target = granteeOf(kind, name);
    if (target instanceof Response) return target;
    return json({ ...target.label, items: deps.grants.listFor(target.grantee).map(describe) });
  }

  async function add(request: Request, kind: "user" | "role", name: string): Promise<Response> {
    const caller = await manager(request, true);
    if (caller instanceof Response) return caller;
    const target = granteeOf(kind, name);
    if (target instanceof Response) return target;
    const body = await readBody(request);
    if (body === null || body.folder === undefined || body.item_name === undefined) {
      return jsonError(400, "BAD_BODY", 'Send a JSON object: {"folder": "checkpoints", "item_name": "model.safetensors"} ("*" for every model).');
    }
    if (body.source_backend !== undefined && body.source_backend !== LOCAL_BACKEND) {
      return jsonError(400, "SOURCE_BACKEND_UNSUPPORTED", 'Only ComfyUI\'s own model folders can be shared (source_backend "local").');
    }
    return attempt(() => {
      const grant = deps.grants.grant({ grantee: target.grantee, folder: body.folder, itemName: body.item_name, grantedBy: { userId: caller.identity.userId, role: caller.identity.role } });
      deps.log.info("model granted", { ...target.label, folder: grant.folder, item_name: grant.itemName, by: caller.identity.username });
      return json({ status: "ok", folder: grant.folder, item_name: grant.itemName, source_backend: LOCAL_BACKEND });
    });
  }

  async function remove(request: Request, kind: "user" | "role", name: string): Promise<Response> {
    const caller = await manager(request, true);
    if (caller instanceof Response) return caller;
    const target = granteeOf(kind, name);
    if (target instanceof Response) return target;
    // The original sends the grant in the body; a query string works for clients that cannot.
    const query = new URL(request.url).searchParams;
    const body = (await readBody(request)) ?? {};
    const folder = body.folder ?? query.get("folder") ?? undefined;
    const itemName = body.item_name ?? query.get("item_name") ?? undefined;
    if (folder === undefined || itemName === undefined) return jsonError(400, "BAD_BODY", 'Send a JSON object: {"folder": "...", "item_name": "..."}.');
    return attempt(() => {
      if (!deps.grants.revoke(target.grantee, folder, itemName)) return jsonError(404, "GRANT_NOT_FOUND", "No such grant.");
      deps.log.info("model grant removed", { ...target.label, folder, item_name: itemName, by: caller.identity.username });
      return json({ status: "ok" });
    });
  }

  /** ComfyUI's answer, or the gateway's error when it could not be had. */
  async function fromComfy(path: string): Promise<{ status: number; body: unknown } | Response> {
    try {
      return await deps.upstreamJson(path);
    } catch (error) {
      deps.log.warn("cannot read ComfyUI's model list", { path, error: error instanceof Error ? error.message : String(error) });
      return jsonError(502, "UPSTREAM_UNAVAILABLE", "ComfyUI did not answer; try again when it is running.");
    }
  }

  async function folders(request: Request): Promise<Response> {
    const caller = await deps.guard.admin(request, { write: false });
    if (caller instanceof Response) return caller;
    const answer = await fromComfy("/api/models");
    if (answer instanceof Response) return answer;
    if (answer.status !== 200 || !Array.isArray(answer.body)) return jsonError(502, "UPSTREAM_INVALID", `ComfyUI answered /api/models with HTTP ${answer.status}.`);
    return json({ folders: answer.body.filter((folder): folder is string => typeof folder === "string" && !NOT_MODEL_FOLDERS.has(folder)) });
  }

  async function models(request: Request, folderParam: string): Promise<Response> {
    const caller = await deps.guard.admin(request, { write: false });
    if (caller instanceof Response) return caller;
    let folder: string;
    try {
      folder = parseFolder(folderParam);
    } catch (error) {
      if (error instanceof ModelGrantError) return jsonError(error.status, error.code, error.message);
      throw error;
    }
    if (folder === EVERY) return jsonError(400, "FOLDER_INVALID", "Name one folder.");
    const answer = await fromComfy(`/api/models/${encodeURIComponent(folder)}`);
    if (answer instanceof Response) return answer;
    if (answer.status === 404) return jsonError(404, "FOLDER_NOT_FOUND", `ComfyUI has no model folder "${folder}".`);
    if (answer.status !== 200 || !Array.isArray(answer.body)) return jsonError(502, "UPSTREAM_INVALID", `ComfyUI answered with HTTP ${answer.status}.`);
    return json({ folder, items: answer.body.filter((item): item is string => typeof item === "string") });
  }

  const param = (params: unknown, key: string) => (params as Record<string, string>)[key] ?? "";
  const app = new Elysia({ name: "model-sharing" });
  // `:username` as in user-admin-routes: the router wants one parameter name per position.
  for (const [kind, base, key] of [
    ["user", "/mss-login/api/users/:username/shared-items", "username"],
    ["role", "/mss-login/api/roles/:role/shared-items", "role"],
  ] as const) {
    for (const path of bothSpellings(base)) {
      app.get(path, ({ request, params }) => list(request, kind, param(params, key)));
      app.post(path, ({ request, params }) => add(request, kind, param(params, key)));
      app.delete(path, ({ request, params }) => remove(request, kind, param(params, key)));
    }
  }
  for (const path of bothSpellings("/mss-login/api/available-model-folders")) app.get(path, ({ request }) => folders(request));
  for (const path of bothSpellings("/mss-login/api/available-models/:folder")) app.get(path, ({ request, params }) => models(request, param(params, "folder")));
  return app;
}
