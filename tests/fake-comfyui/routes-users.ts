/**
 * Users and settings (spec §2.4, §3.8, §5; findings 13, 14, 17). An unknown user gets 401 on
 * every settings route.
 */
import { emptyResponse, httpException, HttpFailure, jsonResponse, pythonException } from "./http-responses.ts";
import { pyJsonDumps } from "./py-json.ts";
import { readJson, type RequestContext } from "./request-context.ts";
import type { RouteSpec } from "./router.ts";
import { requestUser, resolveUserPath } from "./user-paths.ts";

const SETTINGS_FILE = "comfy.settings.json";

function getUsers(ctx: RequestContext): Response {
  const { users } = ctx.state;
  if (users.isMultiUser) return jsonResponse({ storage: "server", users: users.list() });
  return jsonResponse({ storage: "server", migrated: users.migrated });
}

async function postUsers(ctx: RequestContext): Promise<Response> {
  const body = await readJson(ctx);
  if (body === null || typeof body !== "object" || Array.isArray(body) || !Object.hasOwn(body, "username")) {
    throw pythonException("KeyError: 'username'");
  }
  const result = ctx.state.users.create((body as Record<string, unknown>).username);
  if (result.ok) return jsonResponse(result.id);
  if (result.kind === "duplicate") return jsonResponse({ error: "Duplicate username." }, 400);
  if (result.kind === "system-prefix") return jsonResponse({ error: "System User prefix not allowed" }, 400);
  throw pythonException("invalid username");
}

/** The settings file's user, or a 401 as the settings routes answer for unknown users. */
function settingsUser(ctx: RequestContext): string {
  const user = requestUser(ctx);
  if (user === undefined) throw new HttpFailure(httpException(401, "Unauthorized"));
  return user;
}

function readSettings(ctx: RequestContext, user: string): Record<string, unknown> {
  const location = resolveUserPath(ctx, user, SETTINGS_FILE);
  const file = location?.tree.files.get(SETTINGS_FILE);
  if (file === undefined) return {};
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(file.bytes));
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Written like `json.dump(settings, f, indent=4)`. */
function writeSettings(ctx: RequestContext, user: string, settings: Record<string, unknown>): void {
  const location = resolveUserPath(ctx, user, SETTINGS_FILE);
  location?.tree.write(SETTINGS_FILE, new TextEncoder().encode(pyJsonDumps(settings, 4)), ctx.state.now());
}

function getSettings(ctx: RequestContext): Response {
  return jsonResponse(readSettings(ctx, settingsUser(ctx)));
}

function getSetting(ctx: RequestContext): Response {
  const settings = readSettings(ctx, settingsUser(ctx));
  const id = ctx.params.id as string;
  return jsonResponse(Object.hasOwn(settings, id) ? settings[id] : null);
}

async function postSettings(ctx: RequestContext): Promise<Response> {
  const user = settingsUser(ctx);
  const settings = readSettings(ctx, user);
  const update = await readJson(ctx);
  if (update === null || typeof update !== "object" || Array.isArray(update)) throw pythonException("not a dict");
  writeSettings(ctx, user, { ...settings, ...(update as Record<string, unknown>) });
  return emptyResponse(200);
}

async function postSetting(ctx: RequestContext): Promise<Response> {
  const user = settingsUser(ctx);
  const settings = readSettings(ctx, user);
  settings[ctx.params.id as string] = await readJson(ctx); // finding 17: not JSON → 500
  writeSettings(ctx, user, settings);
  return emptyResponse(200);
}

export const USER_ROUTES: RouteSpec[] = [
  { method: "GET", path: "/users", handler: getUsers },
  { method: "POST", path: "/users", handler: postUsers },
  { method: "GET", path: "/settings", handler: getSettings },
  { method: "GET", path: "/settings/{id}", handler: getSetting },
  { method: "POST", path: "/settings", handler: postSettings },
  { method: "POST", path: "/settings/{id}", handler: postSetting },
];
