/**
 * The admin app's Settings section: `GET /mss-login/api/settings` lists the settings that can
 * change at run time; `PUT` changes (`values`) or drops (`reset`) stored overrides, all or
 * nothing, after a step-up. Both spellings (`/api/mss-login/...` too).
 */
import { Elysia } from "elysia";
import { bothSpellings, json, readBody, type AdminGuard } from "../auth/admin-guard.ts";
import { jsonError } from "../gateway/error-response.ts";
import type { Logger } from "../log.ts";
import type { GatewaySettings } from "./service.ts";

export interface SettingsRouteDeps {
  settings: GatewaySettings;
  guard: AdminGuard;
  log: Logger;
  /** After a change: cached identities are dropped, so the next request meets the new limits; the audit log records it. */
  changed?(event: { request: Request; actorId: string; actorName: string; keys: readonly string[] }): void;
  now?: () => number;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function settingsRoutes(deps: SettingsRouteDeps) {
  const now = deps.now ?? Date.now;

  async function list(request: Request): Promise<Response> {
    const caller = await deps.guard.admin(request, { write: false });
    if (caller instanceof Response) return caller;
    return json({ settings: deps.settings.describe() });
  }

  async function update(request: Request): Promise<Response> {
    const caller = await deps.guard.admin(request, { write: true });
    if (caller instanceof Response) return caller;
    const body = await readBody(request);
    const values = body?.values;
    const reset = body?.reset;
    const resetOk = reset === undefined || (Array.isArray(reset) && reset.every((key) => typeof key === "string"));
    if (body === null || (values === undefined && reset === undefined) || (values !== undefined && !isPlainObject(values)) || !resetOk) {
      return jsonError(400, "BAD_BODY", 'Send a JSON object: {"values": {"<key>": value, ...}} and/or {"reset": ["<key>", ...]}.');
    }
    const outcome = deps.settings.change(
      { ...(values === undefined ? {} : { values: values as Record<string, unknown> }), ...(reset === undefined ? {} : { reset: reset as string[] }) },
      { kind: "user", username: caller.identity.username, role: caller.identity.role },
      now(),
    );
    if (!outcome.ok) return json({ error: outcome.error, code: outcome.code, field: outcome.field }, outcome.status);
    if (outcome.changed.length > 0) {
      deps.changed?.({ request, actorId: caller.identity.userId, actorName: caller.identity.username, keys: outcome.changed });
      deps.log.info("settings changed", { keys: outcome.changed.join(","), by: caller.identity.username });
    }
    return json({ settings: deps.settings.describe() });
  }

  const app = new Elysia({ name: "settings" });
  for (const path of bothSpellings("/mss-login/api/settings")) {
    app.get(path, ({ request }) => list(request));
    app.put(path, ({ request }) => update(request));
  }
  return app;
}
