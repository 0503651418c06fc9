/**
 * `UserManager.get_request_user_filepath`: resolve a path inside the requesting user's
 * directory. The value is unquoted once more when it still holds a `%` (so `%252F` reaches the
 * file system as `/`), `..` may not leave the user directory, and the parent directory of the
 * result is created as a side effect, as the real server does.
 */
import { pythonException } from "./http-responses.ts";
import type { RequestContext } from "./request-context.ts";
import type { UserTree } from "./userdata-store.ts";
import { dirname, isInside, joinAbsolute, pyUnquote, relativeTo, USER_ROOT } from "./virtual-paths.ts";

export interface UserLocation {
  user: string;
  tree: UserTree;
  /** Path relative to the user directory ("" is the directory itself). */
  path: string;
}

/** The request's user, or undefined when ComfyUI would raise `KeyError("Unknown user")`. */
export function requestUser(ctx: RequestContext): string | undefined {
  return ctx.state.users.resolve(ctx.req.headers.get("comfy-user"));
}

/** For routes where the unknown-user KeyError is not caught: aiohttp's 500 page. */
export function requestUserOr500(ctx: RequestContext): string {
  const user = requestUser(ctx);
  if (user === undefined) throw pythonException("KeyError: Unknown user");
  return user;
}

/** null when the path would leave the user directory (the callers answer 403 or 400). */
export function resolveUserPath(ctx: RequestContext, user: string, file: string): UserLocation | null {
  const userRoot = joinAbsolute(USER_ROOT, user);
  if (!isInside(USER_ROOT, userRoot)) return null;
  const absolute = joinAbsolute(userRoot, pyUnquote(file));
  if (!isInside(userRoot, absolute)) return null;
  const tree = ctx.state.userdata.tree(user);
  const path = relativeTo(userRoot, absolute);
  if (path !== "") tree.makeDirectories(dirname(path));
  return { user, tree, path };
}
