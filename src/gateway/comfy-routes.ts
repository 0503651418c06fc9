/**
 * What the gateway knows about upstream paths, as data: every ComfyUI route (spec
 * comfyui-api.md §2, 0.3.64 plus the [N] additions of recent mainline), the front end's
 * static files, and the custom-node route families. `route-table.ts` compiles
 * these tables; `mss-login policy explain` and the docs can list them as they are.
 *
 * Path patterns: `{name}` is one path segment, `{name:uuid}` one segment holding a canonical
 * hyphenated UUID (aiohttp's regex constraint on the asset routes), `{name*}` the rest of the
 * path (one or more segments, aiohttp `{name:.*}` or a static directory).
 */

export type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";

/**
 * How ComfyUI registers a route, which decides the spellings it answers to:
 * - `prompt-server`: declared on `PromptServer.routes`; served at its path P and at `/api` + P.
 *   So `/prompt` and `/api/prompt`; and `/api/jobs` and `/api/api/jobs` (never `/jobs`).
 * - `app`: added straight onto the aiohttp app (asset API, template files): P only.
 * - `internal`: the `/internal` sub-app: P only, never under `/api`.
 */
export type Registration = "prompt-server" | "app" | "internal";

export interface ComfyRouteDef {
  /** Stable id; `/x` and `/api/x` share it. Policy tables key on it. */
  readonly id: string;
  /** Methods upstream accepts. A GET route also answers HEAD (aiohttp adds it). */
  readonly methods: readonly HttpMethod[];
  /** The path as ComfyUI declares it (before the `/api` mirror). */
  readonly path: string;
  readonly registration: Registration;
  /** `0.3.64` = verified/read in 0.3.64; `0.38` = recent mainline only ([N] in the spec). */
  readonly since: "0.3.64" | "0.38";
  /** Upstream resolves the ComfyUI user from `comfy-user` (spec §2.4, §2.7, §5.1). */
  readonly userScoped?: true;
  /** A WebSocket endpoint (the upgrade is handled by the WebSocket bridge). */
  readonly websocket?: true;
  /** One line for `policy explain` and the docs. */
  readonly summary: string;
}

const COMFY_ROUTE_ROWS = [
  // §2.1 Execution, queue and history
  { id: "prompt", methods: ["GET", "POST"], path: "/prompt", registration: "prompt-server", since: "0.3.64", summary: "GET queue_remaining; POST queue a prompt" },
  { id: "queue", methods: ["GET", "POST"], path: "/queue", registration: "prompt-server", since: "0.3.64", summary: "GET running/pending items; POST clear/delete pending items" },
  { id: "interrupt", methods: ["POST"], path: "/interrupt", registration: "prompt-server", since: "0.3.64", summary: "interrupt the running prompt (global without a prompt_id)" },
  { id: "free", methods: ["POST"], path: "/free", registration: "prompt-server", since: "0.3.64", summary: "unload models / free memory" },
  { id: "history", methods: ["GET", "POST"], path: "/history", registration: "prompt-server", since: "0.3.64", summary: "GET every history entry; POST clear/delete entries" },
  { id: "history.item", methods: ["GET"], path: "/history/{prompt_id}", registration: "prompt-server", since: "0.3.64", summary: "one history entry ({} when unknown)" },
  { id: "jobs", methods: ["GET"], path: "/api/jobs", registration: "prompt-server", since: "0.38", summary: "paged job list" },
  { id: "jobs.cancel", methods: ["POST"], path: "/api/jobs/cancel", registration: "prompt-server", since: "0.38", summary: "cancel a batch of jobs by id" },
  { id: "jobs.item", methods: ["GET"], path: "/api/jobs/{job_id}", registration: "prompt-server", since: "0.38", summary: "one job with workflow and outputs" },
  { id: "jobs.item.cancel", methods: ["POST"], path: "/api/jobs/{job_id}/cancel", registration: "prompt-server", since: "0.38", summary: "cancel one job" },
  { id: "ws", methods: ["GET"], path: "/ws", registration: "prompt-server", since: "0.3.64", websocket: true, summary: "the event WebSocket (?clientId=)" },

  // §2.2 Files
  { id: "upload.image", methods: ["POST"], path: "/upload/image", registration: "prompt-server", since: "0.3.64", summary: "multipart image upload into input/temp/output" },
  { id: "upload.mask", methods: ["POST"], path: "/upload/mask", registration: "prompt-server", since: "0.3.64", summary: "multipart mask upload applied onto original_ref" },
  { id: "view", methods: ["GET"], path: "/view", registration: "prompt-server", since: "0.3.64", summary: "serve a file from input/temp/output (?filename=&type=&subfolder=)" },
  { id: "view_metadata", methods: ["GET"], path: "/view_metadata/{folder}", registration: "prompt-server", since: "0.3.64", summary: "safetensors metadata of a model file" },

  // §2.3 Node and model information
  { id: "object_info", methods: ["GET"], path: "/object_info", registration: "prompt-server", since: "0.3.64", summary: "every node definition" },
  { id: "object_info.class", methods: ["GET"], path: "/object_info/{class}", registration: "prompt-server", since: "0.3.64", summary: "one node definition" },
  { id: "system_stats", methods: ["GET"], path: "/system_stats", registration: "prompt-server", since: "0.3.64", summary: "system and device info (argv leaks the command line)" },
  { id: "features", methods: ["GET"], path: "/features", registration: "prompt-server", since: "0.3.64", summary: "server feature flags" },
  { id: "embeddings", methods: ["GET"], path: "/embeddings", registration: "prompt-server", since: "0.3.64", summary: "embedding names" },
  { id: "models", methods: ["GET"], path: "/models", registration: "prompt-server", since: "0.3.64", summary: "model folder names" },
  { id: "models.folder", methods: ["GET"], path: "/models/{folder}", registration: "prompt-server", since: "0.3.64", summary: "model files of one folder" },
  { id: "experiment.models", methods: ["GET"], path: "/experiment/models", registration: "prompt-server", since: "0.3.64", summary: "model folders with absolute paths" },
  { id: "experiment.models.folder", methods: ["GET"], path: "/experiment/models/{folder}", registration: "prompt-server", since: "0.3.64", summary: "model files of one folder with sizes and times" },
  { id: "experiment.models.preview", methods: ["GET"], path: "/experiment/models/preview/{folder}/{path_index}/{filename*}", registration: "prompt-server", since: "0.3.64", summary: "model preview image" },
  { id: "workflow_templates", methods: ["GET"], path: "/workflow_templates", registration: "prompt-server", since: "0.3.64", summary: "custom-node example workflows by module" },
  { id: "workflow_templates.file", methods: ["GET"], path: "/api/workflow_templates/{module}/{file*}", registration: "app", since: "0.3.64", summary: "a custom-node example workflow file (static, api-only)" },
  { id: "i18n", methods: ["GET"], path: "/i18n", registration: "prompt-server", since: "0.3.64", summary: "merged custom-node translations" },
  { id: "node_replacements", methods: ["GET"], path: "/node_replacements", registration: "prompt-server", since: "0.38", summary: "registered node replacements" },
  { id: "global_subgraphs", methods: ["GET"], path: "/global_subgraphs", registration: "prompt-server", since: "0.38", summary: "subgraph blueprints shipped by custom nodes" },
  { id: "global_subgraphs.item", methods: ["GET"], path: "/global_subgraphs/{id}", registration: "prompt-server", since: "0.38", summary: "one subgraph blueprint" },
  { id: "extensions", methods: ["GET"], path: "/extensions", registration: "prompt-server", since: "0.3.64", summary: "JSON list of extension scripts to import (spec §2.6, §6.2)" },

  // §2.4 Users, settings and user data
  { id: "users", methods: ["GET", "POST"], path: "/users", registration: "prompt-server", since: "0.3.64", userScoped: true, summary: "GET every user; POST create a user (no auth upstream)" },
  { id: "settings", methods: ["GET", "POST"], path: "/settings", registration: "prompt-server", since: "0.3.64", userScoped: true, summary: "the user's settings (POST merges)" },
  { id: "settings.item", methods: ["GET", "POST"], path: "/settings/{id}", registration: "prompt-server", since: "0.3.64", userScoped: true, summary: "one setting" },
  { id: "userdata.list", methods: ["GET"], path: "/userdata", registration: "prompt-server", since: "0.3.64", userScoped: true, summary: "list files of a userdata dir (?dir=)" },
  { id: "userdata.v2", methods: ["GET"], path: "/v2/userdata", registration: "prompt-server", since: "0.3.64", userScoped: true, summary: "recursive userdata listing (?path=)" },
  { id: "userdata.file", methods: ["GET", "POST", "DELETE"], path: "/userdata/{file}", registration: "prompt-server", since: "0.3.64", userScoped: true, summary: "read/write/delete a userdata file ({file} is a %2F-encoded relative path)" },
  { id: "userdata.move", methods: ["POST"], path: "/userdata/{file}/move/{dest}", registration: "prompt-server", since: "0.3.64", userScoped: true, summary: "move a userdata file" },

  // §2.5 Internal routes (never under /api)
  { id: "internal.logs", methods: ["GET"], path: "/internal/logs", registration: "internal", since: "0.3.64", summary: "the whole server log" },
  { id: "internal.logs.raw", methods: ["GET"], path: "/internal/logs/raw", registration: "internal", since: "0.3.64", summary: "log entries with terminal size" },
  { id: "internal.logs.subscribe", methods: ["PATCH"], path: "/internal/logs/subscribe", registration: "internal", since: "0.3.64", summary: "subscribe a WebSocket client id to log messages" },
  { id: "internal.folder_paths", methods: ["GET"], path: "/internal/folder_paths", registration: "internal", since: "0.3.64", summary: "model folders with absolute paths" },
  { id: "internal.files", methods: ["GET"], path: "/internal/files/{directory_type}", registration: "internal", since: "0.3.64", summary: "every file name in input/output/temp" },

  // §2.7 Asset API ([N], app routes under /api only, no mirror; not scoped to an owner)
  { id: "assets", methods: ["GET", "POST"], path: "/api/assets", registration: "app", since: "0.38", userScoped: true, summary: "GET list assets; POST multipart upload" },
  { id: "assets.hash", methods: ["HEAD"], path: "/api/assets/hash/{hash}", registration: "app", since: "0.38", userScoped: true, summary: "does content with this blake3 hash exist" },
  { id: "assets.from_hash", methods: ["POST"], path: "/api/assets/from-hash", registration: "app", since: "0.38", userScoped: true, summary: "create an asset reference from a known hash" },
  { id: "assets.tags.refine", methods: ["GET"], path: "/api/assets/tags/refine", registration: "app", since: "0.38", userScoped: true, summary: "tag histogram of filtered assets" },
  { id: "assets.seed", methods: ["POST"], path: "/api/assets/seed", registration: "app", since: "0.38", userScoped: true, summary: "start scanning models/input/output" },
  { id: "assets.seed.status", methods: ["GET"], path: "/api/assets/seed/status", registration: "app", since: "0.38", userScoped: true, summary: "scan progress" },
  { id: "assets.seed.cancel", methods: ["POST"], path: "/api/assets/seed/cancel", registration: "app", since: "0.38", userScoped: true, summary: "cancel the scan" },
  { id: "assets.prune", methods: ["POST"], path: "/api/assets/prune", registration: "app", since: "0.38", userScoped: true, summary: "mark assets outside known roots as missing" },
  { id: "assets.item", methods: ["GET", "PUT", "DELETE"], path: "/api/assets/{id:uuid}", registration: "app", since: "0.38", userScoped: true, summary: "one asset: read, update, delete" },
  { id: "assets.item.content", methods: ["GET"], path: "/api/assets/{id:uuid}/content", registration: "app", since: "0.38", userScoped: true, summary: "an asset's file content" },
  { id: "assets.item.tags", methods: ["POST", "DELETE"], path: "/api/assets/{id:uuid}/tags", registration: "app", since: "0.38", userScoped: true, summary: "add/remove tags of an asset" },
  { id: "tags", methods: ["GET"], path: "/api/tags", registration: "app", since: "0.38", userScoped: true, summary: "list tags" },
] as const satisfies readonly ComfyRouteDef[];

/** Every ComfyUI route id, as a type (for policy tables keyed by route id). */
export type ComfyRouteId = (typeof COMFY_ROUTE_ROWS)[number]["id"];

/**
 * Every ComfyUI route the gateway knows. Two routes may match one path only with disjoint
 * methods (checked when the table is compiled); order then only picks which of them a 405
 * reports.
 */
export const COMFY_ROUTES: readonly (ComfyRouteDef & { readonly id: ComfyRouteId })[] = COMFY_ROUTE_ROWS;

/**
 * The front end's static files (spec §2.6, recorded requests of front end 1.27.10): served
 * by ComfyUI's static handlers, GET and HEAD only. Deliberately tight: a fixed directory
 * and a file-extension allow-list, never a bare suffix rule, so `/api/history.css` or
 * `/api/userdata/x.js` can never pass as a static file (checklist 5.1 item 7).
 */
export interface StaticFileRule {
  readonly id: string;
  /** The first path segment (`assets` for `/assets/...`); "" for files at the web root. */
  readonly directory: string;
  /** Web-root files accepted by exact name (only for directory ""). */
  readonly names?: readonly string[];
  /** Lower-case extensions (without the dot) accepted below `directory`. */
  readonly extensions?: readonly string[];
  /** `/extensions/<module>/<file>`: the first segment below the directory is a module name. */
  readonly moduleDirectory?: true;
  readonly summary: string;
}

const IMAGE_EXTENSIONS = ["png", "jpg", "jpeg", "gif", "webp", "svg", "ico"] as const;
const FONT_EXTENSIONS = ["woff", "woff2", "ttf", "otf"] as const;
const MEDIA_EXTENSIONS = ["mp3", "wav", "ogg", "flac", "mp4", "webm"] as const;

export const FRONTEND_STATIC_FILES: readonly StaticFileRule[] = [
  { id: "static.index", directory: "", names: ["index.html"], summary: "the ComfyUI page (also served at /)" },
  {
    id: "static.root-file",
    directory: "",
    // fonts.css is linked by newer front ends; favicon.ico is requested by browsers on their own.
    names: ["user.css", "materialdesignicons.min.css", "fonts.css", "favicon.ico"],
    summary: "stylesheets and icon at the web root",
  },
  {
    id: "static.assets",
    directory: "assets",
    extensions: ["js", "mjs", "css", "json", "wasm", ...IMAGE_EXTENSIONS, ...FONT_EXTENSIONS, ...MEDIA_EXTENSIONS],
    summary: "the front end's hashed bundles, images and fonts",
  },
  { id: "static.fonts", directory: "fonts", extensions: [...FONT_EXTENSIONS], summary: "font files" },
  { id: "static.scripts", directory: "scripts", extensions: ["js"], summary: "legacy module shims (scripts/app.js, ...)" },
  {
    id: "static.extension",
    directory: "extensions",
    moduleDirectory: true,
    extensions: ["js", "mjs", "css", "json", "html", ...IMAGE_EXTENSIONS, ...FONT_EXTENSIONS, ...MEDIA_EXTENSIONS],
    summary: "front-end files of a custom node's WEB_DIRECTORY, and extensions/core",
  },
  {
    id: "static.templates",
    directory: "templates",
    extensions: ["json", ...IMAGE_EXTENSIONS, ...MEDIA_EXTENSIONS],
    summary: "the workflow templates package",
  },
  {
    id: "static.docs",
    directory: "docs",
    extensions: ["md", "json", ...IMAGE_EXTENSIONS, ...MEDIA_EXTENSIONS],
    summary: "embedded node documentation",
  },
];

/**
 * A custom-node route family: the routes a custom node adds (e.g. ComfyUI-Manager's
 * `/manager/...`). Unknown paths are owner/admin-only; a family row makes a set of them
 * known so a permission can be attached to `custom.<id>`. Adding a family is one row here.
 */
export interface CustomRouteFamilyDef {
  readonly id: string;
  /** Leading path segments, e.g. `["manager"]`, `["v2", "manager"]`. */
  readonly prefixes: readonly (readonly string[])[];
  /** Registered through `PromptServer.routes`, so also served under `/api`. */
  readonly apiMirror: boolean;
  readonly summary: string;
}

/**
 * The custom nodes whose routes a permission key governs (reference §2.3, §4.11). Each of
 * them registers on `PromptServer.routes`, so every prefix is also served under `/api`. Paths
 * of these nodes outside the listed prefixes stay unknown (owner/admin only). Their front-end
 * files under `/extensions/<dir>/` are static files; route-permissions.ts gates those by dir.
 */
export const CUSTOM_ROUTE_FAMILIES: readonly CustomRouteFamilyDef[] = [
  {
    id: "comfyui-manager",
    // Spec comfyui-api.md §1 and §6: the legacy and the v2 API, node/snapshot/model installers.
    prefixes: [["manager"], ["v2", "manager"], ["customnode"], ["snapshot"], ["externalmodel"]],
    apiMirror: true,
    summary: "ComfyUI-Manager: install/update nodes and models, snapshots, reboot",
  },
  { id: "crystools", prefixes: [["crystools"]], apiMirror: true, summary: "ComfyUI-Crystools: resource monitor and settings" },
  { id: "rgthree", prefixes: [["rgthree"]], apiMirror: true, summary: "rgthree-comfy: config and node helpers" },
  { id: "itools", prefixes: [["itools"]], apiMirror: true, summary: "ComfyUI-iTools: prompt styles and helpers" },
  { id: "gallery", prefixes: [["gallery"]], apiMirror: true, summary: "comfyui-gallery: output gallery" },
];

/** The gateway's own namespace: `/mss-login/...` and `/api/mss-login/...`. */
export const OWN_NAMESPACE_SEGMENT = "mss-login";

/**
 * The gateway's own single-segment pages at the root, where the original MSS-Login put them
 * (clients depend on `/login`): ComfyUI has no route of these names.
 */
/** The original's `/mss-login-gallery/mark-nsfw`, kept for its clients (the NSFW guard answers it, signed in); nothing else of that namespace is the gateway's. */
export const OWN_COMPAT_NAMESPACE_SEGMENT = "mss-login-gallery";
export const OWN_COMPAT_MARK_NSFW = "mark-nsfw";
export const OWN_ROOT_PAGES: ReadonlySet<string> = new Set(["login", "logout", "setup", "register", "reset", "mfa", "generate_token"]);
