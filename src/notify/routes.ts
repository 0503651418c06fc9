/**
 * The notification settings (each path also under `/api/mss-login/...`):
 * - `GET /mss-login/api/notifications` (owner and admins): the settings, the access token only
 *   as `token_set`, the event list with labels and defaults, and how delivery is going;
 * - `PUT /mss-login/api/notifications` (the owner only: it decides where data is sent):
 *   `{enabled, server_url, topic, token, attach_images, events: {key: {enabled, priority, tags}}}`,
 *   any subset; an invalid value refuses the whole request (400 `{error, code}`) and changes
 *   nothing. `token`: a string sets it, null or "" removes it, left out keeps it (unless the
 *   server's origin changes: a token is never sent to another server);
 * - `POST /mss-login/api/notifications/test` (owner and admins): sends a test message to the
 *   stored server and topic and answers with what the server said (200 `{ok: true}`, or 502
 *   `{error, code: "NTFY_FAILED", ntfy_status}`). It waits for the answer (10 s at most). One
 *   test at a time and at most 5 a minute (per gateway instance); more: 429
 *   `{error, code: "TOO_MANY_TESTS"}` with Retry-After.
 * Writes need the step-up (sessions) or the admin scope (tokens), as every admin write.
 */
import { Elysia } from "elysia";
import { jsonError } from "../gateway/error-response.ts";
import { bothSpellings, json, readBody, type AdminGuard } from "../auth/admin-guard.ts";
import type { Logger } from "../log.ts";
import { EVENT_CATALOGUE, PRIORITIES } from "./events.ts";
import type { Notifier } from "./index.ts";
import type { StoredSettings } from "./store.ts";
import { parseSettingsUpdate } from "./validate.ts";

export interface NotifyRouteDeps {
  notifier: Notifier;
  guard: AdminGuard;
  log: Logger;
  /** A user's name by id (who saved last), null when gone. */
  usernameOf(userId: string): string | null;
  /** The clock of the test button's limit (Date.now). */
  now?: () => number;
}

export const TESTS_PER_MINUTE = 5;

/**
 * The test button's limit: one test at a time, at most `perMinute` started in any 60 seconds.
 * `enter` answers a release function, or how many seconds to wait.
 */
export function createTestGate(perMinute = TESTS_PER_MINUTE, now: () => number = Date.now) {
  let running = false;
  const started: number[] = [];
  return {
    enter(): { ok: true; release: () => void } | { ok: false; retryAfterS: number; why: "running" | "rate" } {
      const at = now();
      while (started.length > 0 && at - started[0]! >= 60_000) started.shift();
      if (running) return { ok: false, retryAfterS: 1, why: "running" };
      if (started.length >= perMinute) return { ok: false, retryAfterS: Math.max(1, Math.ceil((started[0]! + 60_000 - at) / 1000)), why: "rate" };
      running = true;
      started.push(at);
      let released = false;
      return {
        ok: true,
        release: () => {
          if (released) return;
          released = true;
          running = false;
        },
      };
    },
  };
}

export function notifyRoutes(deps: NotifyRouteDeps) {
  const view = (settings: StoredSettings, role: string) => ({
    enabled: settings.enabled,
    server_url: settings.serverUrl,
    topic: settings.topic,
    token_set: settings.tokenSealed !== null,
    attach_images: settings.attachImages,
    events: settings.events,
    catalogue: EVENT_CATALOGUE.map((event) => ({ key: event.key, label: event.label, description: event.description, default_enabled: event.enabled, default_priority: event.priority, default_tags: event.tags })),
    priorities: PRIORITIES,
    updated_at: settings.updatedAt === null ? null : new Date(settings.updatedAt).toISOString(),
    updated_by: settings.updatedBy === null ? null : deps.usernameOf(settings.updatedBy),
    can_edit: role === "owner",
    delivery: deps.notifier.status(),
  });

  const read = async ({ request }: { request: Request }) => {
    const caller = await deps.guard.admin(request, { write: false });
    if (caller instanceof Response) return caller;
    return json(view(deps.notifier.settings(), caller.identity.role));
  };

  const write = async ({ request }: { request: Request }) => {
    const caller = await deps.guard.admin(request, { write: true });
    if (caller instanceof Response) return caller;
    if (caller.identity.role !== "owner") return jsonError(403, "OWNER_ONLY", "Only the owner may change where notifications are sent.");
    const body = await readBody(request);
    if (body === null) return jsonError(400, "BAD_BODY", "Send JSON: {enabled, server_url, topic, token, attach_images, events}.");
    // Fields left out keep their value: the stored row's now, not a copy up to 5 s old (another
    // instance may have changed it); the store checks again as it writes.
    const current = deps.notifier.settings({ fresh: true });
    const parsed = parseSettingsUpdate(body, current);
    if (!parsed.ok) return jsonError(400, parsed.code, parsed.error);
    const { values, token, serverChanged } = parsed.value;
    const saved = await deps.notifier.update(values, token, caller.identity.userId);
    // Never the token, nor a field named after it (the logger would mask even a yes/no).
    deps.log.info("notify: settings saved", { user: caller.identity.username, enabled: saved.enabled, server: saved.serverUrl, authenticated: saved.tokenSealed !== null });
    const tokenCleared = (serverChanged && current.tokenSealed !== null && body.token === undefined) || saved.tokenCleared;
    return json({ status: "ok", ...(tokenCleared ? { token_cleared: true } : {}), ...view(saved, caller.identity.role) });
  };

  const gate = createTestGate(TESTS_PER_MINUTE, deps.now);
  const test = async ({ request }: { request: Request }) => {
    const caller = await deps.guard.admin(request, { write: true });
    if (caller instanceof Response) return caller;
    const settings = deps.notifier.settings();
    if (settings.topic === "") return jsonError(400, "NOT_CONFIGURED", "Set and save a topic first.");
    const entered = gate.enter();
    if (!entered.ok) {
      const error = entered.why === "running" ? "A test is being sent; wait for its answer." : `At most ${TESTS_PER_MINUTE} tests a minute; try again in ${entered.retryAfterS} s.`;
      return jsonError(429, "TOO_MANY_TESTS", error, { "retry-after": String(entered.retryAfterS) });
    }
    let result: Awaited<ReturnType<Notifier["sendTest"]>>;
    try {
      result = await deps.notifier.sendTest(caller.identity.username);
    } finally {
      entered.release();
    }
    if (result.ok) return json({ ok: true, status: result.status, server_url: settings.serverUrl, topic: settings.topic });
    return json({ ok: false, error: `The test was not delivered: ${result.error}.`, code: "NTFY_FAILED", ntfy_status: result.status }, 502);
  };

  const [path, apiPath] = bothSpellings("/mss-login/api/notifications");
  return new Elysia({ name: "notifications" })
    .get(path, read)
    .get(apiPath, read)
    .put(path, write)
    .put(apiPath, write)
    .post(`${path}/test`, test)
    .post(`${apiPath}/test`, test);
}
