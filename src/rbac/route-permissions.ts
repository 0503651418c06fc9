/**
 * What each upstream route requires, as data in one place: (route id, method[, parameter
 * condition]) → requirement, for every ComfyUI route of `COMFY_ROUTES`, every front-end static
 * rule, every custom-node family and the unknown rest. `policy.ts` decides with it on every
 * request; `mss-login policy list` prints it as it is.
 *
 * Source: reference §2.3 (which keys block which server paths) and §4.11 (intercepted
 * endpoints), with the gateway's own decisions marked "Deviation" below. Owner and admin pass
 * every row (policy.ts); the rows speak about power, user and guest.
 *
 * Rows of one route id are tried in table order; the first whose methods and condition match
 * wins, so a route's last row covers every method without a condition.
 */

/** What a request needs beyond a signed-in caller. */
export type Requirement =
  /** The role must hold `permission`; otherwise 403 with `code` and `message`. */
  | { readonly permission: string; readonly code: string; readonly message: string }
  /** Owner and admin only (403 ADMIN_ONLY; unknown routes: ROUTE_NOT_ALLOWED). */
  | { readonly adminOnly: true }
  /** Any signed-in user, whatever the role's keys (e.g. the front end's own files). */
  | { readonly signedIn: true };

/** A condition on the classified route's parameters (`params.file`, `params.module`, ...). */
export interface ParamCondition {
  /** What it means, for `policy list` and `policy explain`. */
  readonly describe: string;
  readonly holds: (params: Readonly<Record<string, string>>) => boolean;
}

export interface PermissionRule {
  /** A `COMFY_ROUTES` id, a static rule id (`static.*`), `custom.<family>`, or `unknown`. */
  readonly routeId: string;
  /** Methods this row covers ("*": every method). A row naming GET also covers HEAD. */
  readonly methods: readonly string[] | "*";
  /** Narrows the row to some parameter values. */
  readonly when?: ParamCondition;
  readonly requirement: Requirement;
  /** Why the row is what it is, where that is not obvious. */
  readonly note?: string;
}

// ---------------------------------------------------------------------------------------------
// Requirements (the keys are the original MSS-Login's; see permissions.ts).

const SIGNED_IN: Requirement = { signedIn: true };
const ADMIN_ONLY: Requirement = { adminOnly: true };

const RUN: Requirement = { permission: "can_run", code: "RUN_DENIED", message: "Your role may not run, queue or cancel prompts." };
const UPLOAD: Requirement = { permission: "can_upload", code: "UPLOAD_DENIED", message: "Your role may not upload files." };
const API: Requirement = { permission: "can_access_api", code: "API_DENIED", message: "Your role may not use the ComfyUI API." };
const WORKFLOWS: Requirement = {
  permission: "can_modify_workflows",
  code: "WORKFLOW_DENIED",
  message: "Your role may not save, move or delete workflows.",
};
const EXTENSIONS: Requirement = {
  permission: "can_manage_extensions",
  code: "EXTENSIONS_DENIED",
  message: "Your role may not enable or disable extensions.",
};
const MANAGER: Requirement = { permission: "can_access_manager", code: "MANAGER_DENIED", message: "Your role may not use ComfyUI-Manager." };
const CRYSTOOLS: Requirement = { permission: "settings_crystools", code: "EXTENSION_DENIED", message: "Your role may not use Crystools." };
const RGTHREE: Requirement = { permission: "settings_rgthree", code: "EXTENSION_DENIED", message: "Your role may not use rgthree-comfy." };
const ITOOLS: Requirement = { permission: "settings_itools", code: "EXTENSION_DENIED", message: "Your role may not use iTools." };
const GALLERY: Requirement = { permission: "settings_gallery", code: "EXTENSION_DENIED", message: "Your role may not use the gallery." };

// ---------------------------------------------------------------------------------------------
// Conditions.

const ANY = "*";
/** Methods that change a userdata file or setting (upstream takes POST/DELETE; the rest fail closed). */
const WRITES: readonly string[] = ["POST", "PUT", "PATCH", "DELETE"];

/** `workflows` itself or a path below it, in any case (a case-insensitive upstream disk is the same folder). */
function isWorkflowPath(path: string | undefined): boolean {
  if (path === undefined || path.length < 9) return false;
  if (path.length > 9 && path.charCodeAt(9) !== 0x2f) return false;
  return path.slice(0, 9).toLowerCase() === "workflows";
}

const WORKFLOW_FILE: ParamCondition = {
  describe: "file or dest under workflows/",
  holds: (params) => isWorkflowPath(params.file) || isWorkflowPath(params.dest),
};

const EXTENSION_SETTING_PREFIX = "comfy.extension";
const EXTENSION_SETTING: ParamCondition = {
  describe: "setting id starts with Comfy.Extension",
  holds: (params) => {
    const id = params.id;
    return id !== undefined && id.length >= EXTENSION_SETTING_PREFIX.length && id.slice(0, EXTENSION_SETTING_PREFIX.length).toLowerCase() === EXTENSION_SETTING_PREFIX;
  },
};

/** `/extensions/<dir>/...` of one custom node, the directory compared case-insensitively. */
function webDirectoryIs(directory: string): ParamCondition {
  const lower = directory.toLowerCase();
  return {
    describe: `module is ${directory} (any case)`,
    // Lengths first: most module names differ in length, and then nothing is allocated.
    holds: (params) => params.module !== undefined && params.module.length === lower.length && params.module.toLowerCase() === lower,
  };
}

// ---------------------------------------------------------------------------------------------
// The table.

/** The route id of a path no table knows (route-table.ts). */
export const UNKNOWN_ROUTE_ID = "unknown";

export const ROUTE_PERMISSIONS: readonly PermissionRule[] = [
  // §2.1 execution, queue and history.
  { routeId: "prompt", methods: ANY, requirement: RUN, note: "GET (queue_remaining) too, as the original" },
  { routeId: "queue", methods: ANY, requirement: RUN, note: "GET too, as the original (any path starting /queue)" },
  { routeId: "interrupt", methods: ANY, requirement: RUN, note: "Deviation: the original asked can_access_api" },
  { routeId: "free", methods: ANY, requirement: ADMIN_ONLY, note: "Deviation: unloads models for every user (server-wide)" },
  { routeId: "history", methods: ANY, requirement: API },
  { routeId: "history.item", methods: ANY, requirement: API },
  { routeId: "jobs", methods: ANY, requirement: API },
  { routeId: "jobs.cancel", methods: ANY, requirement: RUN },
  { routeId: "jobs.item", methods: ANY, requirement: API },
  { routeId: "jobs.item.cancel", methods: ANY, requirement: RUN },
  { routeId: "ws", methods: ANY, requirement: API, note: "Deviation: the original only asked for a token" },

  // §2.2 files.
  { routeId: "upload.image", methods: ANY, requirement: UPLOAD },
  { routeId: "upload.mask", methods: ANY, requirement: UPLOAD },
  { routeId: "view", methods: ANY, requirement: API },
  { routeId: "view_metadata", methods: ANY, requirement: API },

  // §2.3 node and model information.
  { routeId: "object_info", methods: ANY, requirement: API },
  { routeId: "object_info.class", methods: ANY, requirement: API },
  { routeId: "system_stats", methods: ANY, requirement: API, note: "the front end reads it at start (argv: a separate filter)" },
  { routeId: "features", methods: ANY, requirement: API },
  { routeId: "embeddings", methods: ANY, requirement: API },
  { routeId: "models", methods: ANY, requirement: API },
  { routeId: "models.folder", methods: ANY, requirement: API },
  { routeId: "experiment.models", methods: ANY, requirement: API },
  { routeId: "experiment.models.folder", methods: ANY, requirement: API },
  { routeId: "experiment.models.preview", methods: ANY, requirement: API },
  { routeId: "workflow_templates", methods: ANY, requirement: API },
  { routeId: "workflow_templates.file", methods: ANY, requirement: API },
  { routeId: "i18n", methods: ANY, requirement: API },
  { routeId: "node_replacements", methods: ANY, requirement: API },
  { routeId: "global_subgraphs", methods: ANY, requirement: API },
  { routeId: "global_subgraphs.item", methods: ANY, requirement: API },
  // Deviation: the original listed `/extensions` under can_manage_extensions. It is the list of
  // extension scripts the front end imports while it boots; refusing it breaks the page for
  // every role without the key, and it changes nothing. Enabling/disabling is the settings
  // rows below.
  { routeId: "extensions", methods: ANY, requirement: API, note: "the front end needs it to boot" },

  // §2.4 users, settings and user data.
  { routeId: "users", methods: ["POST"], requirement: ADMIN_ONLY, note: "creates ComfyUI users behind the gateway's back" },
  { routeId: "users", methods: ANY, requirement: API, note: "GET is filtered to the caller's own ComfyUI user" },
  // POST /settings merges a whole JSON body; its keys are not inspected here, so a
  // `Comfy.Extension.Disabled` inside it passes as can_access_api (a per-user setting).
  { routeId: "settings", methods: ANY, requirement: API, note: "body keys are not inspected" },
  { routeId: "settings.item", methods: WRITES, when: EXTENSION_SETTING, requirement: EXTENSIONS },
  { routeId: "settings.item", methods: ANY, requirement: API },
  { routeId: "userdata.list", methods: ANY, requirement: API },
  { routeId: "userdata.v2", methods: ANY, requirement: API },
  { routeId: "userdata.file", methods: WRITES, when: WORKFLOW_FILE, requirement: WORKFLOWS },
  { routeId: "userdata.file", methods: ANY, requirement: API },
  { routeId: "userdata.move", methods: WRITES, when: WORKFLOW_FILE, requirement: WORKFLOWS, note: "moving into or out of workflows/" },
  { routeId: "userdata.move", methods: ANY, requirement: API },

  // §2.5 internal routes: server logs and absolute paths, every user's file names.
  { routeId: "internal.logs", methods: ANY, requirement: ADMIN_ONLY },
  { routeId: "internal.logs.raw", methods: ANY, requirement: ADMIN_ONLY },
  { routeId: "internal.logs.subscribe", methods: ANY, requirement: ADMIN_ONLY },
  { routeId: "internal.folder_paths", methods: ANY, requirement: ADMIN_ONLY },
  { routeId: "internal.files", methods: ANY, requirement: ADMIN_ONLY },

  // §2.7 asset API: not scoped to an owner upstream, so every user's assets.
  { routeId: "assets", methods: ANY, requirement: ADMIN_ONLY },
  { routeId: "assets.hash", methods: ANY, requirement: ADMIN_ONLY },
  { routeId: "assets.from_hash", methods: ANY, requirement: ADMIN_ONLY },
  { routeId: "assets.tags.refine", methods: ANY, requirement: ADMIN_ONLY },
  { routeId: "assets.seed", methods: ANY, requirement: ADMIN_ONLY },
  { routeId: "assets.seed.status", methods: ANY, requirement: ADMIN_ONLY },
  { routeId: "assets.seed.cancel", methods: ANY, requirement: ADMIN_ONLY },
  { routeId: "assets.prune", methods: ANY, requirement: ADMIN_ONLY },
  { routeId: "assets.item", methods: ANY, requirement: ADMIN_ONLY },
  { routeId: "assets.item.content", methods: ANY, requirement: ADMIN_ONLY },
  { routeId: "assets.item.tags", methods: ANY, requirement: ADMIN_ONLY },
  { routeId: "tags", methods: ANY, requirement: ADMIN_ONLY },

  // The front end's static files: the page itself, for any signed-in user. A custom node's
  // front-end files follow its family's key (reference §2.3, extension path keys).
  { routeId: "static.index", methods: ANY, requirement: SIGNED_IN },
  { routeId: "static.root-file", methods: ANY, requirement: SIGNED_IN },
  { routeId: "static.assets", methods: ANY, requirement: SIGNED_IN },
  { routeId: "static.fonts", methods: ANY, requirement: SIGNED_IN },
  { routeId: "static.scripts", methods: ANY, requirement: SIGNED_IN },
  { routeId: "static.extension", methods: ANY, when: webDirectoryIs("comfyui-manager"), requirement: MANAGER },
  { routeId: "static.extension", methods: ANY, when: webDirectoryIs("ComfyUI-Crystools"), requirement: CRYSTOOLS },
  { routeId: "static.extension", methods: ANY, when: webDirectoryIs("rgthree-comfy"), requirement: RGTHREE },
  { routeId: "static.extension", methods: ANY, when: webDirectoryIs("ComfyUI-iTools"), requirement: ITOOLS },
  { routeId: "static.extension", methods: ANY, when: webDirectoryIs("comfyui-gallery"), requirement: GALLERY },
  { routeId: "static.extension", methods: ANY, requirement: SIGNED_IN },
  { routeId: "static.templates", methods: ANY, requirement: SIGNED_IN },
  { routeId: "static.docs", methods: ANY, requirement: SIGNED_IN },

  // Custom-node families (comfy-routes.ts CUSTOM_ROUTE_FAMILIES), both spellings.
  { routeId: "custom.comfyui-manager", methods: ANY, requirement: MANAGER },
  { routeId: "custom.crystools", methods: ANY, requirement: CRYSTOOLS },
  { routeId: "custom.rgthree", methods: ANY, requirement: RGTHREE },
  { routeId: "custom.itools", methods: ANY, requirement: ITOOLS },
  { routeId: "custom.gallery", methods: ANY, requirement: GALLERY },

  // Anything else upstream: deny by default (design.md).
  { routeId: UNKNOWN_ROUTE_ID, methods: ANY, requirement: ADMIN_ONLY, note: "plus the prefixes of gateway.allowed_unknown_routes" },
];

// ---------------------------------------------------------------------------------------------
// Lookup, compiled once.

/** Index of `ROUTE_PERMISSIONS` by route id, rows in table order, methods as sets. */
export interface CompiledRule {
  readonly rule: PermissionRule;
  /** null: every method. */
  readonly methods: ReadonlySet<string> | null;
}

export function compileRules(rules: readonly PermissionRule[]): ReadonlyMap<string, readonly CompiledRule[]> {
  const byRoute = new Map<string, CompiledRule[]>();
  for (const rule of rules) {
    let methods: Set<string> | null = null;
    if (rule.methods !== ANY) {
      methods = new Set(rule.methods);
      if (methods.has("GET")) methods.add("HEAD");
    }
    const list = byRoute.get(rule.routeId);
    const compiled: CompiledRule = { rule, methods };
    if (list) list.push(compiled);
    else byRoute.set(rule.routeId, [compiled]);
  }
  for (const [routeId, list] of byRoute) {
    const last = list[list.length - 1]!.rule;
    if (last.methods !== ANY || last.when !== undefined) throw new Error(`route permissions for ${routeId}: the last row must cover every method without a condition`);
  }
  return byRoute;
}

const RULES_BY_ROUTE = compileRules(ROUTE_PERMISSIONS);

/** The row that applies to a request, or undefined when the route id has no rows. */
export function ruleFor(routeId: string, method: string, params: Readonly<Record<string, string>>): PermissionRule | undefined {
  const rows = RULES_BY_ROUTE.get(routeId);
  if (rows === undefined) return undefined;
  for (const row of rows) {
    if (row.methods !== null && !row.methods.has(method)) continue;
    if (row.rule.when !== undefined && !row.rule.when.holds(params)) continue;
    return row.rule;
  }
  return undefined;
}

/** One line: `can_run (403 RUN_DENIED)`, `owner/admin only`, `signed in`. */
export function describeRequirement(requirement: Requirement): string {
  if ("permission" in requirement) return `${requirement.permission} (403 ${requirement.code})`;
  if ("adminOnly" in requirement) return "owner/admin only";
  return "signed in";
}
