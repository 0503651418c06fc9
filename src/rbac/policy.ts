/**
 * The policy decision (step 5 of the request flow): who may use which route. The requirement
 * of each route comes from the table in `route-permissions.ts`; the role's keys come from the
 * permission matrix through `PolicyOptions.allows`. A route the gateway does not know is
 * closed unless an operator opened it.
 *
 * Runs on every request: the table is indexed by route id once, and every decision object is
 * built ahead of time, so an allowed request costs a map lookup or two and allocates nothing.
 */
import { describeRequirement, ROUTE_PERMISSIONS, ruleFor, UNKNOWN_ROUTE_ID, type PermissionRule } from "./route-permissions.ts";

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
  /** The classifier's parameters (userdata `file`/`dest`, setting `id`, static `module`, ...). */
  params: Readonly<Record<string, string>>;
}

export type Decision =
  | { allow: true; reason: string; requirement?: string }
  | { allow: false; status: 401 | 403; code: string; reason: string; requirement?: string };

export interface PolicyOptions {
  /** Path prefixes of custom-node routes the operator opened to everyone. */
  allowedUnknownRoutes: readonly string[];
  /** Whether `role` holds permission `key` (the stored matrix; groupsStore.allows). */
  allows(role: string, key: string): boolean;
}

const SIGNED_IN = 0;
const PERMISSION = 1;
const ADMIN_ONLY = 2;

/** Everything one table row can answer, built once. */
interface RowDecisions {
  readonly kind: typeof SIGNED_IN | typeof PERMISSION | typeof ADMIN_ONLY;
  /** The key to hold when kind is PERMISSION. */
  readonly permission: string;
  readonly allow: Decision;
  /** Owner and admin: allowed whatever the row asks. */
  readonly privileged: Decision;
  readonly deny: Decision;
}

const OWN_ROUTE: Decision = Object.freeze({ allow: true, reason: "gateway route: its own handler decides" });
const SIGN_IN_REQUIRED: Decision = Object.freeze({ allow: false, status: 401, code: "AUTH_REQUIRED", reason: "Sign in to use ComfyUI." });

function decisionsFor(rule: PermissionRule): RowDecisions {
  const requirement = rule.requirement;
  const described = describeRequirement(requirement);
  const privileged: Decision = Object.freeze({ allow: true, reason: `owner and admin pass every route (${rule.routeId} needs ${described})`, requirement: described });
  if ("permission" in requirement) {
    return {
      kind: PERMISSION,
      permission: requirement.permission,
      allow: Object.freeze({ allow: true, reason: `the role holds ${requirement.permission}`, requirement: described }),
      privileged,
      deny: Object.freeze({ allow: false, status: 403, code: requirement.code, reason: requirement.message, requirement: described }),
    };
  }
  if ("adminOnly" in requirement) {
    const unknown = rule.routeId === UNKNOWN_ROUTE_ID;
    const deny: Decision = Object.freeze(
      unknown
        ? { allow: false, status: 403, code: "ROUTE_NOT_ALLOWED", reason: "This route is not known to the gateway and is open to administrators only.", requirement: described }
        : { allow: false, status: 403, code: "ADMIN_ONLY", reason: "This ComfyUI route is open to administrators only.", requirement: described },
    );
    // Only owner and admin are allowed here, so "allow" is their decision.
    return { kind: ADMIN_ONLY, permission: "", allow: privileged, privileged, deny };
  }
  const allow: Decision = Object.freeze({ allow: true, reason: `any signed-in user (${rule.routeId})`, requirement: described });
  // Nobody signed in is refused: "deny" is never returned.
  return { kind: SIGNED_IN, permission: "", allow, privileged, deny: allow };
}

const DECISIONS = new Map<PermissionRule, RowDecisions>();
for (const rule of ROUTE_PERMISSIONS) DECISIONS.set(rule, decisionsFor(rule));

const UNKNOWN_RULE = ruleFor(UNKNOWN_ROUTE_ID, "GET", {});
if (UNKNOWN_RULE === undefined) throw new Error("route permissions: no row for unknown routes");
const UNKNOWN_DECISIONS = DECISIONS.get(UNKNOWN_RULE)!;

/** A known ComfyUI route or static rule without a row (a table bug the tests catch): fail closed. */
const MISSING_ROW: RowDecisions = decisionsFor({ routeId: "(no row)", methods: "*", requirement: { adminOnly: true } });

function matchesPrefix(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  // `/crystools` opens `/crystools/...`, not `/crystoolsevil`.
  return path.length === prefix.length || prefix.endsWith("/") || path[prefix.length] === "/";
}

/** The allow-list entry that opens `path`, or null. */
export function allowListEntryFor(path: string, allowedUnknownRoutes: readonly string[]): string | null {
  for (const prefix of allowedUnknownRoutes) if (matchesPrefix(path, prefix)) return prefix;
  return null;
}

export function decide(principal: Principal, route: RouteFacts, options: PolicyOptions): Decision {
  if (route.kind === "own") return OWN_ROUTE;
  if (principal.kind === "anonymous") return SIGN_IN_REQUIRED;

  const rule = ruleFor(route.routeId, route.method, route.params);
  // A custom family without a row is as unknown as any other path.
  const row = rule !== undefined ? DECISIONS.get(rule)! : route.kind === "unknown" ? UNKNOWN_DECISIONS : MISSING_ROW;
  if (principal.role === "owner" || principal.role === "admin") return row.privileged;

  switch (row.kind) {
    case SIGNED_IN:
      return row.allow;
    case PERMISSION:
      return options.allows(principal.role, row.permission) ? row.allow : row.deny;
    case ADMIN_ONLY:
      // The operator's allow-list opens paths no family claims (a family's key governs its own).
      if (row === UNKNOWN_DECISIONS && options.allowedUnknownRoutes.length > 0) {
        const prefix = allowListEntryFor(route.path, options.allowedUnknownRoutes);
        if (prefix !== null) return { allow: true, reason: `unknown route opened by gateway.allowed_unknown_routes (${prefix})`, requirement: row.deny.requirement };
      }
      return row.deny;
  }
}
