/**
 * The `/internal/*` sub-app (spec §2.5): never mirrored under `/api`, called by the frontend
 * without the `Comfy-User` header, and global (logs and file lists of every user).
 */
import { emptyResponse, jsonResponse, pythonException } from "./http-responses.ts";
import { readJson, type RequestContext } from "./request-context.ts";
import type { RouteSpec } from "./router.ts";
import { FOLDER_PATHS } from "./server-facts.ts";
import { isFileType } from "./virtual-paths.ts";

async function subscribeLogs(ctx: RequestContext): Promise<Response> {
  const body = await readJson(ctx);
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw pythonException("not a dict");
  const { clientId, enabled } = body as Record<string, unknown>;
  ctx.state.logs.subscribe(String(clientId), enabled === true);
  return emptyResponse(200);
}

function listFiles(ctx: RequestContext): Response {
  const type = ctx.params.directory_type;
  if (!isFileType(type)) return jsonResponse({ error: "Invalid directory type" }, 400);
  return jsonResponse(ctx.state.files.topLevelFilesNewestFirst(type));
}

export const INTERNAL_ROUTES: RouteSpec[] = [
  { method: "GET", path: "/internal/logs", handler: (ctx) => jsonResponse(ctx.state.logs.text()) },
  { method: "GET", path: "/internal/logs/raw", handler: (ctx) => jsonResponse(ctx.state.logs.raw()) },
  { method: "PATCH", path: "/internal/logs/subscribe", handler: subscribeLogs },
  { method: "GET", path: "/internal/folder_paths", handler: () => jsonResponse(FOLDER_PATHS) },
  { method: "GET", path: "/internal/files/{directory_type}", handler: listFiles },
];
