/**
 * `GET/PUT /mss-login/api/groups` (and `/api/mss-login/api/groups`): the permission matrix
 * with the original's contract, `{groups: {role: {key: bool}}}`. Reading needs a signed-in
 * user (the UI script of every role reads it); writing needs an admin with a fresh step-up,
 * and the admin row needs the owner.
 */
import { Elysia } from "elysia";
import { jsonError } from "../gateway/error-response.ts";
import type { Logger } from "../log.ts";
import { bothSpellings, json, readBody, type AdminGuard } from "../auth/admin-guard.ts";
import { GroupsError, type GroupsStore } from "./groups-store.ts";

export interface GroupsRouteDeps {
  groups: GroupsStore;
  guard: AdminGuard;
  log: Logger;
  /** The matrix changed: open sockets are re-checked against it now. */
  changed(): void;
}

export function groupsRoutes(deps: GroupsRouteDeps) {
  async function read(request: Request): Promise<Response> {
    const caller = await deps.guard.signedIn(request, "read");
    if (caller instanceof Response) return caller;
    return json({ groups: deps.groups.view() });
  }

  async function write(request: Request): Promise<Response> {
    const caller = await deps.guard.admin(request, { write: true });
    if (caller instanceof Response) return caller;
    const body = await readBody(request);
    if (body === null || body.groups === undefined) return jsonError(400, "GROUPS_INVALID", 'Send {"groups": {"<role>": {"<key>": true|false}}}.');
    try {
      const written = deps.groups.update(body.groups, { callerIsOwner: caller.identity.role === "owner" });
      deps.log.info("permissions changed", { values: written, roles: Object.keys(body.groups as object), by: caller.identity.username });
      deps.changed();
      return json({ status: "ok", updated: written });
    } catch (error) {
      if (error instanceof GroupsError) return jsonError(error.status, error.code, error.message);
      throw error;
    }
  }

  const app = new Elysia({ name: "groups" });
  for (const path of bothSpellings("/mss-login/api/groups")) {
    app.get(path, ({ request }) => read(request));
    app.put(path, ({ request }) => write(request));
  }
  return app;
}
