/**
 * The policy decision (step 5 of the request flow): who may use which route. Until accounts
 * exist (issue 3) every caller is anonymous; the decision already follows the product's rule
 * that a route the gateway does not know is closed unless an operator opened it.
 */

export type Role = "owner" | "admin" | "power" | "user" | "guest";

export type Principal =
  | { kind: "anonymous" }
  | { kind: "user"; userId: string; username: string; role: Role };

/** What the policy needs to know about a classified request. */
export interface RouteFacts {
  kind: "comfy" | "static" | "own" | "unknown";
  routeId: string;
  method: string;
  /** Canonical path, for operator allow-list prefixes. */
  path: string;
}

/**
 * Known ComfyUI routes that are the server operator's business, not a user's: they read the
 * server's logs and paths, list every user's files, or create ComfyUI users behind the
 * gateway's back. Route id → methods ("*" = all). The full permission matrix comes with roles.
 */
const ADMIN_ONLY_ROUTES: ReadonlyMap<string, ReadonlySet<string> | "*"> = new Map<string, ReadonlySet<string> | "*">([
  ["users", new Set(["POST"])],
  ["internal.logs", "*"],
  ["internal.logs.raw", "*"],
  ["internal.logs.subscribe", "*"],
  ["internal.folder_paths", "*"],
  ["internal.files", "*"],
  ["assets", "*"],
  ["assets.hash", "*"],
  ["assets.from_hash", "*"],
  ["assets.tags.refine", "*"],
  ["assets.seed", "*"],
  ["assets.seed.status", "*"],
  ["assets.seed.cancel", "*"],
  ["assets.prune", "*"],
  ["assets.item", "*"],
  ["assets.item.content", "*"],
  ["assets.item.tags", "*"],
  ["tags", "*"],
]);

export function isAdminOnly(routeId: string, method: string): boolean {
  const methods = ADMIN_ONLY_ROUTES.get(routeId);
  return methods !== undefined && (methods === "*" || methods.has(method));
}

export type Decision =
  | { allow: true; reason: string }
  | { allow: false; status: 401 | 403; code: string; reason: string };

export interface PolicyOptions {
  /** Path prefixes of custom-node routes the operator opened to everyone. */
  allowedUnknownRoutes: readonly string[];
}

function isAdmin(principal: Principal): boolean {
  return principal.kind === "user" && (principal.role === "owner" || principal.role === "admin");
}

function matchesPrefix(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  // `/crystools` opens `/crystools/...`, not `/crystoolsevil`.
  return path.length === prefix.length || prefix.endsWith("/") || path[prefix.length] === "/";
}

export function decide(principal: Principal, route: RouteFacts, options: PolicyOptions): Decision {
  switch (route.kind) {
    case "own":
      return { allow: true, reason: "gateway route: its own handler decides" };
    case "comfy":
      if (isAdminOnly(route.routeId, route.method) && !isAdmin(principal)) {
        return { allow: false, status: 403, code: "ADMIN_ONLY", reason: "This ComfyUI route is open to administrators only." };
      }
      return { allow: true, reason: `known ComfyUI route ${route.routeId}` };
    case "static":
      return { allow: true, reason: `ComfyUI front-end file (${route.routeId})` };
    case "unknown":
      if (isAdmin(principal)) return { allow: true, reason: "unknown route: open to owner and admin" };
      for (const prefix of options.allowedUnknownRoutes) {
        if (matchesPrefix(route.path, prefix)) return { allow: true, reason: `unknown route opened by gateway.allowed_unknown_routes (${prefix})` };
      }
      return {
        allow: false,
        status: 403,
        code: "ROUTE_NOT_ALLOWED",
        reason: "This route is not known to the gateway and is open to administrators only.",
      };
  }
}
