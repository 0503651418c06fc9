/**
 * User data files (spec §2.4, §3.7; findings 15 and 16). Unknown users get 500 on
 * `/userdata*` (an uncaught KeyError) and 403 on `/v2/userdata`.
 */
import { emptyResponse, jsonResponse, pythonException, textResponse } from "./http-responses.ts";
import { fileResponse, guessContentType, inMemory } from "./file-response.ts";
import { readBody, type RequestContext } from "./request-context.ts";
import type { RouteSpec } from "./router.ts";
import { requestUser, requestUserOr500, resolveUserPath, type UserLocation } from "./user-paths.ts";
import type { UserFile } from "./userdata-store.ts";
import { basename } from "./virtual-paths.ts";

function flag(ctx: RequestContext, name: string, fallback: string): boolean {
  return (ctx.query.get(name) ?? fallback).toLowerCase() === "true";
}

/** `get_file_info`: float seconds in 0.3.64, int milliseconds in v0.38. */
function fileInfo(ctx: RequestContext, path: string, file: UserFile): Record<string, unknown> {
  return {
    path,
    size: file.bytes.length,
    modified: ctx.state.fileInfoTime(file.mtimeMs),
    created: ctx.state.fileInfoTime(file.ctimeMs),
  };
}

function listUserdata(ctx: RequestContext): Response {
  const directory = ctx.query.get("dir") ?? "";
  if (directory === "") return textResponse("Directory not provided", 400);
  const user = requestUserOr500(ctx);
  const location = resolveUserPath(ctx, user, directory);
  if (location === null) return textResponse("Invalid directory", 403);
  const { tree, path } = location;
  if (!tree.exists(path)) return textResponse("Directory not found", 404);
  const files = tree.isFile(path) ? [] : tree.listFiles(path, flag(ctx, "recurse", ""));
  const prefix = path === "" ? "" : path + "/";
  if (flag(ctx, "full_info", "false")) {
    return jsonResponse(files.map((file) => fileInfo(ctx, file, tree.files.get(prefix + file) as UserFile)));
  }
  if (flag(ctx, "split", "false")) return jsonResponse(files.map((file) => [file, ...file.split("/")]));
  return jsonResponse(files);
}

function listUserdataV2(ctx: RequestContext): Response {
  const user = requestUser(ctx);
  if (user === undefined) return textResponse("Invalid user specified in request", 403);
  const location = resolveUserPath(ctx, user, ctx.query.get("path") ?? "");
  if (location === null) return textResponse("Invalid path requested", 400);
  const { tree, path } = location;
  if (!tree.exists(path)) return textResponse("Requested path not found", 404);
  if (tree.isFile(path)) return textResponse("Requested path is not a directory", 400);
  return jsonResponse(tree.listV2(path));
}

type Located = UserLocation | Response;

/** `get_user_data_path`: 403 outside the user directory, optionally 404 when missing. */
function locate(ctx: RequestContext, param: "file" | "dest", mustExist: boolean): Located {
  const user = requestUserOr500(ctx);
  const value = ctx.params[param] ?? "";
  if (value === "") return emptyResponse(400);
  const location = resolveUserPath(ctx, user, value);
  if (location === null) return emptyResponse(403);
  if (mustExist && !location.tree.exists(location.path)) return emptyResponse(404);
  return location;
}

function getUserdataFile(ctx: RequestContext): Response {
  const location = locate(ctx, "file", true);
  if (location instanceof Response) return location;
  const file = location.tree.files.get(location.path);
  if (file === undefined) return emptyResponse(404);
  const headers: Record<string, string> = {};
  const name = basename(location.path);
  if (ctx.state.options.profile === "v0.38" && name !== "user.css") {
    headers["Content-Disposition"] = `attachment; filename="${name}"`;
  }
  return fileResponse(ctx.req, {
    ...inMemory(file.bytes),
    mtimeMs: file.mtimeMs,
    contentType: guessContentType(name) ?? "application/octet-stream",
    headers,
  });
}

function writeAnswer(ctx: RequestContext, path: string, file: UserFile): Response {
  return jsonResponse(flag(ctx, "full_info", "false") ? fileInfo(ctx, path, file) : path);
}

async function postUserdataFile(ctx: RequestContext): Promise<Response> {
  const location = locate(ctx, "file", false);
  if (location instanceof Response) return location;
  const { tree, path } = location;
  const overwrite = (ctx.query.get("overwrite") ?? "true") !== "false";
  if (!overwrite && tree.exists(path)) return textResponse("File already exists", 409);
  const body = await readBody(ctx);
  if (tree.isDirectory(path)) throw pythonException("IsADirectoryError");
  return writeAnswer(ctx, path, tree.write(path, body, ctx.state.now()));
}

function deleteUserdataFile(ctx: RequestContext): Response {
  const location = locate(ctx, "file", true);
  if (location instanceof Response) return location;
  if (!location.tree.delete(location.path)) throw pythonException("IsADirectoryError");
  return new Response(null, { status: 204 });
}

function moveUserdataFile(ctx: RequestContext): Response {
  const source = locate(ctx, "file", true);
  if (source instanceof Response) return source;
  const destination = locate(ctx, "dest", false);
  // The real handler re-checks the source here instead of the destination, then fails on
  // `os.path.exists(<Response>)`: a bad destination is a 500 (finding 15).
  if (destination instanceof Response) throw pythonException("TypeError: stat: path should be string");
  const overwrite = (ctx.query.get("overwrite") ?? "true") !== "false";
  if (!overwrite && destination.tree.exists(destination.path)) return textResponse("File already exists", 409);
  const moved = source.tree.move(source.path, destination.path, ctx.state.now());
  if (moved === undefined) throw pythonException("cannot move a directory");
  return writeAnswer(ctx, destination.path, moved);
}

export const USERDATA_ROUTES: RouteSpec[] = [
  { method: "GET", path: "/userdata", handler: listUserdata },
  { method: "GET", path: "/v2/userdata", handler: listUserdataV2 },
  { method: "GET", path: "/userdata/{file}", handler: getUserdataFile },
  { method: "POST", path: "/userdata/{file}", handler: postUserdataFile },
  { method: "DELETE", path: "/userdata/{file}", handler: deleteUserdataFile },
  { method: "POST", path: "/userdata/{file}/move/{dest}", handler: moveUserdataFile },
];
