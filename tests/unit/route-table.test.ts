/**
 * Route classification: every ComfyUI route of spec §2 in every spelling ComfyUI serves (and
 * the spellings it does not), the front end's static files as recorded from front end
 * 1.27.10, every request recorded from ComfyUI 0.3.64, security checklist 5.1, and the
 * property that the forwarded path classifies exactly like the path that was authorised.
 *
 * Checklist 5.1 (peers-and-security.md) and 5.2 item 15, by layer:
 *   1 /api duality .................. here: one route id for every spelling ("route table")
 *   2 double slashes ................ request-target (400); Bun keeps `//prompt` as sent
 *   3 percent-encoding .............. request-target (decode once, %2F only in userdata,
 *                                     userdata decoded twice like ComfyUI); here: classified
 *                                     and forwarded forms agree
 *   4 case .......................... here: `/API/PROMPT` is unknown and forwarded unchanged
 *   5 dot segments .................. Bun resolves raw and whole-segment %2e ones; the rest
 *                                     are refused by request-target (end-to-end test there)
 *   6 backslashes ................... Bun turns raw `\` into `/`; request-target refuses %5C
 *   7 suffix exemptions ............. here: static files need a directory + extension list
 *   8 trailing slash, ;params, #, %23  here and request-target: `/api/prompt/` unknown, `;`
 *                                     and `#` refused, `%23` is a literal character
 *   9 query confusion ............... here: the query never takes part in classification
 *  10 methods ....................... here: 405 for known routes, HEAD only on GET routes,
 *                                     OPTIONS flagged as preflight; the classifier sees only
 *                                     the request method, so X-HTTP-Method-Override and
 *                                     friends cannot change a decision (the forwarder strips
 *                                     them)
 *  11 routing headers ............... forwarder: X-Original-URL, X-Rewrite-URL, X-Forwarded-*
 *                                     are stripped; classification takes no headers at all
 *  12 absolute form / Host .......... Bun keeps only the path (measured in
 *                                     request-target.test.ts); Host validation and the fixed
 *                                     upstream Host belong to the pipeline and forwarder
 *  13 health endpoint ............... the gateway's own namespace (kind "own") and its
 *                                     handlers; not part of route classification
 *  14 request smuggling ............. Bun refuses CL+TE and duplicate Content-Length (400);
 *                                     identity-header variants are stripped by the forwarder
 *  5.2/15 comfy-user spoofing ....... forwarder strips every variant and sets the mapped id;
 *                                     the table marks which routes upstream scopes by user
 */
import { describe, expect, test } from "bun:test";
import { COMFY_ROUTES, FRONTEND_STATIC_FILES, OWN_NAMESPACE_SEGMENT } from "../../src/gateway/comfy-routes.ts";
import type { ComfyRouteDef, CustomRouteFamilyDef } from "../../src/gateway/comfy-routes.ts";
import { canonicaliseTarget } from "../../src/gateway/request-target.ts";
import type { RequestTarget } from "../../src/gateway/request-target.ts";
import { ROUTE_TABLE, buildRouteClassifier, classifyRoute, routeSpellings } from "../../src/gateway/route-table.ts";
import type { RouteMatch, Spelling } from "../../src/gateway/route-table.ts";

function targetOf(raw: string): RequestTarget {
  const result = canonicaliseTarget(raw);
  if (!result.ok) throw new Error(`${raw} was refused: ${result.code}`);
  return result.target;
}

function classify(method: string, raw: string): RouteMatch {
  return classifyRoute(targetOf(raw), method);
}

const UUID = "0b7c1b9e-7e0b-4f35-9d0e-6f1b0c6d2a11";

/**
 * [route id, a method it accepts, every spelling ComfyUI serves it at, expected params].
 * Written out by hand from spec §2 so the table is checked against the spec, not itself.
 */
const ROUTE_CASES: [string, string, string[], Record<string, string>][] = [
  // §2.1 execution, queue, history; [N] jobs
  ["prompt", "POST", ["/prompt", "/api/prompt"], {}],
  ["queue", "GET", ["/queue", "/api/queue"], {}],
  ["interrupt", "POST", ["/interrupt", "/api/interrupt"], {}],
  ["free", "POST", ["/free", "/api/free"], {}],
  ["history", "GET", ["/history", "/api/history"], {}],
  ["history.item", "GET", ["/history/my-custom-id-1", "/api/history/my-custom-id-1"], { prompt_id: "my-custom-id-1" }],
  ["jobs", "GET", ["/api/jobs", "/api/api/jobs"], {}],
  ["jobs.cancel", "POST", ["/api/jobs/cancel", "/api/api/jobs/cancel"], {}],
  ["jobs.item", "GET", [`/api/jobs/${UUID}`, `/api/api/jobs/${UUID}`], { job_id: UUID }],
  ["jobs.item.cancel", "POST", [`/api/jobs/${UUID}/cancel`, `/api/api/jobs/${UUID}/cancel`], { job_id: UUID }],
  ["ws", "GET", ["/ws", "/api/ws"], {}],
  // §2.2 files
  ["upload.image", "POST", ["/upload/image", "/api/upload/image"], {}],
  ["upload.mask", "POST", ["/upload/mask", "/api/upload/mask"], {}],
  ["view", "GET", ["/view", "/api/view"], {}],
  ["view_metadata", "GET", ["/view_metadata/loras", "/api/view_metadata/loras"], { folder: "loras" }],
  // §2.3 node and model information
  ["object_info", "GET", ["/object_info", "/api/object_info"], {}],
  ["object_info.class", "GET", ["/object_info/EmptyImage", "/api/object_info/EmptyImage"], { class: "EmptyImage" }],
  ["system_stats", "GET", ["/system_stats", "/api/system_stats"], {}],
  ["features", "GET", ["/features", "/api/features"], {}],
  ["embeddings", "GET", ["/embeddings", "/api/embeddings"], {}],
  ["models", "GET", ["/models", "/api/models"], {}],
  ["models.folder", "GET", ["/models/checkpoints", "/api/models/checkpoints"], { folder: "checkpoints" }],
  ["experiment.models", "GET", ["/experiment/models", "/api/experiment/models"], {}],
  ["experiment.models.folder", "GET", ["/experiment/models/loras", "/api/experiment/models/loras"], { folder: "loras" }],
  [
    "experiment.models.preview",
    "GET",
    ["/experiment/models/preview/loras/0/sub/my%20lora.safetensors", "/api/experiment/models/preview/loras/0/sub/my%20lora.safetensors"],
    { folder: "loras", path_index: "0", filename: "sub/my lora.safetensors" },
  ],
  ["workflow_templates", "GET", ["/workflow_templates", "/api/workflow_templates"], {}],
  ["workflow_templates.file", "GET", ["/api/workflow_templates/comfyui-kjnodes/sub/example.json"], { module: "comfyui-kjnodes", file: "sub/example.json" }],
  ["i18n", "GET", ["/i18n", "/api/i18n"], {}],
  ["node_replacements", "GET", ["/node_replacements", "/api/node_replacements"], {}],
  ["global_subgraphs", "GET", ["/global_subgraphs", "/api/global_subgraphs"], {}],
  ["global_subgraphs.item", "GET", ["/global_subgraphs/abc123", "/api/global_subgraphs/abc123"], { id: "abc123" }],
  ["extensions", "GET", ["/extensions", "/api/extensions"], {}],
  // §2.4 users, settings, user data
  ["users", "GET", ["/users", "/api/users"], {}],
  ["settings", "POST", ["/settings", "/api/settings"], {}],
  ["settings.item", "POST", ["/settings/Comfy.Extension.Disabled", "/api/settings/Comfy.Extension.Disabled"], { id: "Comfy.Extension.Disabled" }],
  ["userdata.list", "GET", ["/userdata", "/api/userdata"], {}],
  ["userdata.v2", "GET", ["/v2/userdata", "/api/v2/userdata"], {}],
  ["userdata.file", "POST", ["/userdata/workflows%2Fa.json", "/api/userdata/workflows%2Fa.json"], { file: "workflows/a.json" }],
  ["userdata.move", "POST", ["/userdata/workflows%2Fa.json/move/workflows%252Fb.json", "/api/userdata/workflows%2Fa.json/move/workflows%252Fb.json"], { file: "workflows/a.json", dest: "workflows/b.json" }],
  // §2.5 internal
  ["internal.logs", "GET", ["/internal/logs"], {}],
  ["internal.logs.raw", "GET", ["/internal/logs/raw"], {}],
  ["internal.logs.subscribe", "PATCH", ["/internal/logs/subscribe"], {}],
  ["internal.folder_paths", "GET", ["/internal/folder_paths"], {}],
  ["internal.files", "GET", ["/internal/files/output"], { directory_type: "output" }],
  // §2.7 [N] assets (api-only, no mirror)
  ["assets", "GET", ["/api/assets"], {}],
  ["assets.hash", "HEAD", ["/api/assets/hash/blake3:0123abcd"], { hash: "blake3:0123abcd" }],
  ["assets.from_hash", "POST", ["/api/assets/from-hash"], {}],
  ["assets.tags.refine", "GET", ["/api/assets/tags/refine"], {}],
  ["assets.seed", "POST", ["/api/assets/seed"], {}],
  ["assets.seed.status", "GET", ["/api/assets/seed/status"], {}],
  ["assets.seed.cancel", "POST", ["/api/assets/seed/cancel"], {}],
  ["assets.prune", "POST", ["/api/assets/prune"], {}],
  ["assets.item", "DELETE", [`/api/assets/${UUID}`], { id: UUID }],
  ["assets.item.content", "GET", [`/api/assets/${UUID}/content`], { id: UUID }],
  ["assets.item.tags", "POST", [`/api/assets/${UUID}/tags`], { id: UUID }],
  ["tags", "GET", ["/api/tags"], {}],
];

describe("every ComfyUI route, in every spelling ComfyUI serves", () => {
  test("the cases cover the whole table, one case per route", () => {
    const tableIds = COMFY_ROUTES.map((route) => route.id).sort();
    const caseIds = ROUTE_CASES.map(([id]) => id).sort();
    expect(caseIds).toEqual(tableIds);
  });

  test.each(ROUTE_CASES)("%s", (id, method, spellings, params) => {
    const route = COMFY_ROUTES.find((candidate) => candidate.id === id) as ComfyRouteDef;
    expect(spellings).toHaveLength(routeSpellings(route).length);
    for (const path of spellings) {
      for (const raw of [path, path + "?x=/api/prompt&y=..%2F"]) {
        const match = classify(method, raw);
        expect(match.kind).toBe("comfy");
        expect(match.routeId).toBe(id);
        expect(match.params).toEqual(params);
        expect(match.methodAllowed).toBe(true);
        expect(match.preflight).toBe(false);
        expect(match.route).toBe(route);
        expect(match.websocket).toBe(id === "ws");
        expect(match.spelling).toBe(path.startsWith("/api/") ? "api" : path.startsWith("/internal/") ? "internal" : "plain");
      }
    }
  });

  test.each(ROUTE_CASES)("%s: spellings ComfyUI does not serve are unknown", (id, method, spellings) => {
    for (const path of spellings) {
      const variants = ["/api" + path, path.startsWith("/api/") ? path.slice(4) : null, path + "/", path.toUpperCase()];
      for (const variant of variants) {
        if (variant === null || spellings.includes(variant)) continue;
        // Either refused outright (e.g. a %2F outside the userdata shapes) or unknown.
        const result = canonicaliseTarget(variant);
        const routeId = result.ok ? classifyRoute(result.target, method).routeId : "unknown";
        expect({ variant, routeId }).toEqual({ variant, routeId: "unknown" });
      }
    }
  });

  test("api-only and internal-only routes", () => {
    for (const raw of [
      "/api/api/prompt", // su-003: 404 upstream
      "/jobs", "/jobs/cancel", `/jobs/${UUID}`, "/api/api/api/jobs",
      "/api/internal/logs", "/api/internal/files/output", "/logs", "/files/output", "/folder_paths", // su-187
      "/assets", "/api/api/assets", "/tags", "/api/api/tags", `/assets/${UUID}`,
      "/workflow_templates/m/f.json", "/api/api/workflow_templates/m/f.json",
      "/api/assets/not-a-uuid", "/api/assets/not-a-uuid/content",
    ]) {
      expect({ raw, routeId: classify("GET", raw).routeId }).toEqual({ raw, routeId: "unknown" });
    }
  });

  test("/x and /api/x share the route id and the decision input (checklist 5.1 item 1)", () => {
    for (const [, method, spellings] of ROUTE_CASES) {
      const [first, ...others] = spellings.map((path) => classify(method, path));
      for (const other of others) {
        expect(other.routeId).toBe(first?.routeId ?? "");
        expect(other.params).toEqual(first?.params ?? {});
        expect(other.methodAllowed).toBe(first?.methodAllowed ?? false);
      }
    }
  });

  test("routeSpellings lists the concrete paths", () => {
    const byId = (id: string): ComfyRouteDef => COMFY_ROUTES.find((route) => route.id === id) as ComfyRouteDef;
    expect(routeSpellings(byId("prompt"))).toEqual(["/prompt", "/api/prompt"]);
    expect(routeSpellings(byId("jobs.item"))).toEqual(["/api/jobs/{job_id}", "/api/api/jobs/{job_id}"]);
    expect(routeSpellings(byId("assets.item"))).toEqual(["/api/assets/{id}"]);
    expect(routeSpellings(byId("internal.files"))).toEqual(["/internal/files/{directory_type}"]);
    expect(routeSpellings(byId("experiment.models.preview"))[0]).toBe("/experiment/models/preview/{folder}/{path_index}/{filename*}");
  });

  test("ROUTE_TABLE exposes the tables for policy explain and docs", () => {
    expect(ROUTE_TABLE.comfy).toBe(COMFY_ROUTES);
    expect(ROUTE_TABLE.static).toBe(FRONTEND_STATIC_FILES);
    expect(ROUTE_TABLE.ownNamespace).toBe(OWN_NAMESPACE_SEGMENT);
    expect(COMFY_ROUTES.filter((route) => route.userScoped).map((route) => route.id)).toContain("userdata.file");
  });
});

describe("methods", () => {
  test("GET routes answer HEAD; other methods are 405 on a known route (checklist 5.1 item 10)", () => {
    expect(classify("HEAD", "/api/prompt").methodAllowed).toBe(true);
    expect(classify("HEAD", "/ws").methodAllowed).toBe(true);
    const headOnPostOnly = classify("HEAD", "/api/interrupt");
    expect(headOnPostOnly.routeId).toBe("interrupt");
    expect(headOnPostOnly.methodAllowed).toBe(false);
    expect(headOnPostOnly.allowedMethods).toEqual(["POST"]);
    expect(classify("GET", "/api/interrupt").methodAllowed).toBe(false);
    expect(classify("GET", "/upload/image").methodAllowed).toBe(false);
    const deletePrompt = classify("DELETE", "/api/prompt");
    expect(deletePrompt.routeId).toBe("prompt");
    expect(deletePrompt.methodAllowed).toBe(false);
    expect([...deletePrompt.allowedMethods].sort()).toEqual(["GET", "HEAD", "POST"]);
    expect(classify("PUT", "/api/userdata/a.json").methodAllowed).toBe(false);
    expect(classify("DELETE", "/api/userdata/a.json").methodAllowed).toBe(true);
    expect(classify("GET", "/api/userdata/a.json/move/b.json").methodAllowed).toBe(false);
    expect(classify("GET", "/internal/logs/subscribe").methodAllowed).toBe(false);
    expect(classify("PATCH", "/internal/logs/subscribe").methodAllowed).toBe(true);
    // The asset hash route is HEAD only (aiohttp routes.head): GET is a 405.
    expect(classify("GET", "/api/assets/hash/blake3:00").methodAllowed).toBe(false);
    expect(classify("HEAD", "/api/assets/hash/blake3:00").methodAllowed).toBe(true);
  });

  test("methods are case-sensitive, as upstream", () => {
    expect(classify("get", "/api/prompt").methodAllowed).toBe(false);
    expect(classify("Post", "/api/prompt").methodAllowed).toBe(false);
  });

  test("OPTIONS is flagged and never allowed through to a handler", () => {
    for (const raw of ["/api/prompt", "/api/queue", "/assets/index-a.js", "/manager/reboot", "/mss-login/x"]) {
      const match = classify("OPTIONS", raw);
      expect(match.preflight).toBe(true);
      expect(match.methodAllowed).toBe(false);
    }
    expect(classify("OPTIONS", "/api/prompt").routeId).toBe("prompt");
    expect(classify("GET", "/api/prompt").preflight).toBe(false);
  });

  test("shared paths resolve by method like aiohttp (first route accepting the method)", () => {
    expect(classify("POST", "/api/jobs/cancel").routeId).toBe("jobs.cancel");
    const getCancel = classify("GET", "/api/jobs/cancel");
    expect(getCancel.routeId).toBe("jobs.item");
    expect(getCancel.params).toEqual({ job_id: "cancel" });
    expect(classify("PUT", "/api/jobs/cancel").methodAllowed).toBe(false);
    expect(classify("GET", "/experiment/models/preview").params).toEqual({ folder: "preview" });
    expect(classify("POST", "/api/assets/seed").routeId).toBe("assets.seed");
    expect(classify("GET", "/api/assets/seed").methodAllowed).toBe(false);
  });

  test("websocket is set for /ws and /api/ws only", () => {
    expect(classify("GET", "/ws?clientId=abc").websocket).toBe(true);
    expect(classify("GET", "/api/ws").websocket).toBe(true);
    expect(classify("GET", "/ws/").websocket).toBe(false);
    expect(classify("GET", "/api/prompt").websocket).toBe(false);
  });
});

describe("front-end static files", () => {
  // Every request front end 1.27.10 made against ComfyUI 0.3.64 (fixtures/frontend-1.27.10,
  // startup-requests.json), plus the file kinds it loads but the recording only counted.
  const frontendRequests: [string, string, string][] = [
    ["GET", "/", "static.index"],
    ["GET", "/materialdesignicons.min.css", "static.root-file"],
    ["GET", "/user.css", "static.root-file"],
    ["GET", "/api/userdata/user.css", "userdata.file"],
    ["GET", "/api/system_stats", "system_stats"],
    ["GET", "/api/users", "users"],
    ["POST", "/api/users", "users"],
    ["GET", "/api/i18n", "i18n"],
    ["GET", "/api/settings", "settings"],
    ["POST", "/api/settings/Comfy.InstalledVersion", "settings.item"],
    ["GET", "/api/userdata?dir=workflows&recurse=true&split=false&full_info=true", "userdata.list"],
    ["GET", "/api/userdata?dir=subgraphs%2F&recurse=true&split=false&full_info=true", "userdata.list"],
    ["GET", "/api/extensions", "extensions"],
    ["GET", "/api/object_info", "object_info"],
    ["GET", "/ws", "ws"],
    ["GET", "/ws?clientId=b94642fde961435f9cd6ddee0250c1be", "ws"],
    ["GET", "/api/queue", "queue"],
    ["GET", "/api/history?max_items=64", "history"],
    ["GET", "/api/userdata/comfy.templates.json", "userdata.file"],
    ["POST", "/api/settings/Comfy.TutorialCompleted", "settings.item"],
    ["GET", "/api/workflow_templates", "workflow_templates"],
    ["GET", "/templates/index.json", "static.templates"],
    ["GET", "/api/experiment/models", "experiment.models"],
    ["POST", "/api/prompt", "prompt"],
    ["GET", "/api/view?filename=probe_00001_.png&subfolder=&type=output&rand=0.875804656161362", "view"],
    ["POST", "/api/userdata/workflows%2Fprobe-wf.json?overwrite=false&full_info=true", "userdata.file"],
    ["POST", "/api/userdata/workflows%2Fprobe-wf.json?overwrite=true&full_info=true", "userdata.file"],
    ["POST", "/api/userdata/workflows%2Fprobe-wf-copy.json?overwrite=false&full_info=true", "userdata.file"],
    ["GET", "/api/view?filename=probe_00001_.png&type=output&subfolder=", "view"],
    ["POST", "/api/settings/Comfy.NodeBadge.ShowApiPricing", "settings.item"],
    ["GET", "/api/userdata/workflows%2Fprobe-wf-copy.json", "userdata.file"],
    // Second recording, with a custom node's WEB_DIRECTORY.
    ["GET", "/extensions/hookprobe/hookprobe.js", "static.extension"],
    ["GET", "/scripts/app.js", "static.scripts"],
    // Counted, not itemised: hashed bundles, fonts and images under /assets and /fonts.
    ["GET", "/assets/index-CiXp1R3n.js", "static.assets"],
    ["GET", "/assets/index-Bz4o2sQe.css", "static.assets"],
    ["GET", "/assets/images/favicon_progress_16x16/frame_0.png", "static.assets"],
    ["GET", "/assets/primeicons-DMOk5skT.woff2", "static.assets"],
    ["GET", "/fonts/inter-latin-400-normal.woff2", "static.fonts"],
    // Listed by /api/extensions (not fetched by 1.27.10, loaded by older front ends).
    ["GET", "/extensions/core/dummy.js", "static.extension"],
    // Other front-end files of spec §2.6.
    ["GET", "/index.html", "static.index"],
    ["GET", "/favicon.ico", "static.root-file"],
    ["GET", "/templates/index.de.json", "static.templates"],
    ["GET", "/templates/default-1.webp", "static.templates"],
    ["GET", "/docs/EmptyImage/en.md", "static.docs"],
    ["GET", "/extensions/ComfyUI-Custom-Scripts/js/assets/notify.mp3", "static.extension"],
    ["GET", "/extensions/comfyui%20manager/css/a.css", "static.extension"],
  ];
  test.each(frontendRequests)("%s %s", (method, raw, id) => {
    const match = classify(method, raw);
    expect(match.routeId).toBe(id);
    expect(match.kind).toBe(id.startsWith("static.") ? "static" : "comfy");
    expect(match.methodAllowed).toBe(true);
  });

  test("static parameters name the file and, under /extensions, the module", () => {
    expect(classify("GET", "/extensions/comfyui%20manager/css/a.css").params).toEqual({ module: "comfyui manager", file: "css/a.css" });
    expect(classify("GET", "/assets/images/a.png").params).toEqual({ file: "images/a.png" });
    expect(classify("GET", "/user.css").params).toEqual({ file: "user.css" });
  });

  test("static files are GET/HEAD only", () => {
    expect(classify("HEAD", "/assets/index-a.js").methodAllowed).toBe(true);
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      const match = classify(method, "/assets/index-a.js");
      expect(match.kind).toBe("static");
      expect(match.methodAllowed).toBe(false);
    }
  });

  // Checklist 5.1 item 7: no suffix exemption anywhere; static needs directory + extension.
  const notStatic: [string, string][] = [
    ["/api/history.css", "unknown"],
    ["/api/prompt%3F.js", "unknown"],
    ["/api/userdata/x.js", "userdata.file"],
    ["/api/view.png", "unknown"],
    ["/api/assets/index.js", "unknown"],
    ["/api/extensions/core/x.js", "unknown"],
    ["/api/user.css", "unknown"],
    ["/api/", "unknown"],
    ["/assets", "unknown"],
    ["/assets/", "unknown"],
    ["/assets/index-a.js/", "unknown"],
    ["/assets/.env", "unknown"],
    ["/assets/.git/config.json", "unknown"],
    ["/assets/x.py", "unknown"],
    ["/assets/x.js.map", "unknown"],
    ["/assets/x", "unknown"],
    ["/assets/x%3F.js", "unknown"],
    ["/assets/a:b.js", "unknown"],
    ["/assets/x%25.js", "unknown"],
    ["/fonts/x.js", "unknown"],
    ["/scripts/app.css", "unknown"],
    ["/templates/x.js", "unknown"],
    ["/docs/x.html", "unknown"],
    ["/extensions/x.js", "unknown"],
    ["/extensions/core/", "unknown"],
    ["/extensions/core/x.py", "unknown"],
    ["/extensions/.hidden/x.js", "unknown"],
    ["/index.htm", "unknown"],
    ["/index.html/", "unknown"],
    ["/user.css.map", "unknown"],
    ["/user.css/x.css", "unknown"],
    ["/secrets.json", "unknown"],
    ["/main.py", "unknown"],
    ["/ASSETS/index-a.js", "unknown"],
  ];
  test.each(notStatic)("%s is not a static file", (raw, id) => {
    const match = classify("GET", raw);
    expect(match.kind).not.toBe("static");
    expect(match.routeId).toBe(id);
  });

  test("no static rule lives under /api, /internal or the gateway's namespace", () => {
    for (const rule of FRONTEND_STATIC_FILES) {
      expect(["api", "internal", OWN_NAMESPACE_SEGMENT]).not.toContain(rule.directory);
    }
  });
});

describe("the gateway's own namespace", () => {
  test("/mss-login/... and /api/mss-login/... are own routes, whatever the method", () => {
    const cases: [string, Spelling, string][] = [
      ["/mss-login", "plain", ""],
      ["/mss-login/", "plain", ""],
      ["/mss-login/login", "plain", "login"],
      ["/mss-login/admin/api/users", "plain", "admin/api/users"],
      ["/api/mss-login/tokens", "api", "tokens"],
      ["/api/mss-login/x%20y", "api", "x y"],
    ];
    for (const [raw, spelling, rest] of cases) {
      for (const method of ["GET", "POST", "DELETE"]) {
        const match = classify(method, raw);
        expect(match.kind).toBe("own");
        expect(match.routeId).toBe("own");
        expect(match.spelling).toBe(spelling);
        expect(match.params).toEqual({ rest });
        expect(match.methodAllowed).toBe(true);
      }
    }
  });

  test("the original's /mss-login-gallery/mark-nsfw is the gateway's own; nothing else of that namespace is", () => {
    expect(classify("POST", "/mss-login-gallery/mark-nsfw").kind).toBe("own");
    for (const raw of ["/mss-login-gallery/mark-nsfw/x", "/mss-login-gallery/other", "/api/mss-login-gallery/mark-nsfw"]) expect(classify("POST", raw).kind).not.toBe("own");
  });

  test("look-alikes are not the own namespace", () => {
    for (const raw of ["/mss-login-gallery/x", "/MSS-LOGIN/x", "/api/api/mss-login/x", "/x/mss-login"]) {
      expect(classify("GET", raw).kind).toBe("unknown");
    }
  });
});

describe("custom-node routes", () => {
  test("the built-in families claim their nodes' paths in both spellings, and nothing else", () => {
    const expectations: [string, string][] = [
      ["/manager/version", "custom.comfyui-manager"],
      ["/api/manager/version", "custom.comfyui-manager"],
      ["/customnode/getlist", "custom.comfyui-manager"],
      ["/api/snapshot/getlist", "custom.comfyui-manager"],
      ["/externalmodel/getlist", "custom.comfyui-manager"],
      ["/v2/manager/queue/start", "custom.comfyui-manager"],
      ["/api/v2/manager/queue/start", "custom.comfyui-manager"],
      ["/crystools/monitor", "custom.crystools"],
      ["/api/crystools/monitor", "custom.crystools"],
      ["/rgthree/api/config", "custom.rgthree"],
      ["/api/itools/x", "custom.itools"],
      ["/gallery/images", "custom.gallery"],
      // Case-sensitive like aiohttp, and a whole segment: these are other (unknown) paths.
      ["/Manager/version", "unknown"],
      ["/crystoolsx", "unknown"],
      ["/api/api/manager/version", "unknown"],
      ["/some-node/api", "unknown"],
    ];
    for (const [raw, id] of expectations) {
      const match = classify("GET", raw);
      expect({ raw, kind: match.kind, id: match.routeId }).toEqual({ raw, kind: "unknown", id });
    }
  });

  test("a family is one table row and gets its own route id", () => {
    const manager: CustomRouteFamilyDef = {
      id: "comfyui-manager",
      prefixes: [["manager"], ["customnode"], ["v2", "manager"]],
      apiMirror: true,
      summary: "ComfyUI-Manager",
    };
    const crystools: CustomRouteFamilyDef = { id: "crystools", prefixes: [["crystools"]], apiMirror: false, summary: "Crystools" };
    const classifyWith = buildRouteClassifier(COMFY_ROUTES, FRONTEND_STATIC_FILES, [manager, crystools]);
    const expectations: [string, string, string][] = [
      ["/manager/version", "custom.comfyui-manager", "version"],
      ["/api/manager/queue/start", "custom.comfyui-manager", "queue/start"],
      ["/v2/manager/queue/status", "custom.comfyui-manager", "queue/status"],
      ["/api/v2/manager/x", "custom.comfyui-manager", "x"],
      ["/crystools/monitor", "custom.crystools", "monitor"],
      ["/api/crystools/monitor", "unknown", ""],
      ["/v2/userdata", "userdata.v2", ""],
      ["/managerx", "unknown", ""],
    ];
    for (const [raw, id, rest] of expectations) {
      const match = classifyWith(targetOf(raw), "POST");
      expect({ raw, id: match.routeId }).toEqual({ raw, id });
      if (id.startsWith("custom.")) {
        expect(match.kind).toBe("unknown"); // still closed until policy opens the family
        expect(match.params).toEqual({ rest });
      }
    }
  });
});

describe("table validation", () => {
  const base: ComfyRouteDef = { id: "a", methods: ["GET"], path: "/a", registration: "prompt-server", since: "0.3.64", summary: "" };
  test.each([
    ["duplicate id", [base, { ...base, path: "/b" }], /duplicate route id/],
    ["same path and method twice", [base, { ...base, id: "b" }], /both claim/],
    ["a mirror clashing with a literal /api route", [base, { ...base, id: "b", path: "/api/a", registration: "app" }], /both claim/],
    ["a parameter shadowing a literal", [{ ...base, path: "/a/b" }, { ...base, id: "b", path: "/a/{x}" }], /both claim/],
    ["a tail overlapping a longer route", [{ ...base, path: "/a/{rest*}" }, { ...base, id: "b", path: "/a/b/c" }], /both claim/],
    ["bad pattern", [{ ...base, path: "a" }], /must start/],
    ["trailing slash pattern", [{ ...base, path: "/a/" }], /not end with/],
    ["tail not last", [{ ...base, path: "/a/{x*}/b" }], /must be last/],
    ["unknown constraint", [{ ...base, path: "/a/{x:int}" }], /unknown constraint/],
    ["parameter first", [{ ...base, path: "/{x}" }], /literal segment/],
    ["internal route outside /internal", [{ ...base, registration: "internal" }], /under \/internal/],
  ] as [string, ComfyRouteDef[], RegExp][])("%s throws", (_name, routes, message) => {
    expect(() => buildRouteClassifier(routes, [], [])).toThrow(message);
  });

  test("overlaps with disjoint methods, or kept apart by a uuid constraint, are allowed", () => {
    expect(() => buildRouteClassifier([base, { ...base, id: "b", methods: ["POST"] }], [], [])).not.toThrow();
    expect(() =>
      buildRouteClassifier([{ ...base, path: "/a/{id:uuid}" }, { ...base, id: "b", path: "/a/seed" }], [], []),
    ).not.toThrow();
  });

  test("a custom family may not shadow /api, static directories or the own namespace", () => {
    for (const prefix of [["api"], ["assets"], [OWN_NAMESPACE_SEGMENT], []]) {
      expect(() => buildRouteClassifier([], FRONTEND_STATIC_FILES, [{ id: "x", prefixes: [prefix], apiMirror: false, summary: "" }])).toThrow();
    }
  });
});

/**
 * Every distinct request recorded from ComfyUI 0.3.64 (fixtures/comfyui-0.3.64/index.json):
 * [method, target as sent, upstream status, what the gateway makes of it]. Upstream answered
 * each of them from a route handler, except the three the static catch-all answered with its
 * empty 404 (finding 21), which the gateway must see as unknown; and the traversal attempts
 * (403/500 upstream), which the gateway refuses itself.
 */
const RECORDED: [string, string, number, string][] = [
  ["GET", "/api/users", 200, "users"],
  ["GET", "/api/system_stats", 200, "system_stats"],
  ["GET", "/api/features", 200, "features"],
  ["GET", "/api/settings", 401, "settings"],
  ["GET", "/api/settings/Comfy.UseNewMenu", 401, "settings.item"],
  ["POST", "/api/settings", 401, "settings"],
  ["POST", "/api/settings/Comfy.UseNewMenu", 401, "settings.item"],
  ["GET", "/api/userdata?dir=workflows", 500, "userdata.list"],
  ["GET", "/api/userdata/workflows%2Fa.json", 500, "userdata.file"],
  ["POST", "/api/userdata/workflows%2Fa.json", 500, "userdata.file"],
  ["DELETE", "/api/userdata/workflows%2Fa.json", 500, "userdata.file"],
  ["POST", "/api/userdata/workflows%2Fa.json/move/workflows%2Fb.json", 500, "userdata.move"],
  ["GET", "/api/v2/userdata?path=workflows", 403, "userdata.v2"],
  ["GET", "/api/v2/userdata", 403, "userdata.v2"],
  ["POST", "/api/users", 200, "users"],
  ["POST", "/api/settings/Comfy.DevMode", 200, "settings.item"],
  ["GET", "/api/settings/Comfy.DevMode", 200, "settings.item"],
  ["POST", "/api/userdata/workflows%2Fa.json?overwrite=true&full_info=true", 200, "userdata.file"],
  ["POST", "/api/userdata/workflows%2Fa.json?overwrite=false", 409, "userdata.file"],
  ["GET", "/api/userdata?dir=workflows&recurse=true&split=false&full_info=true", 200, "userdata.list"],
  ["GET", "/api/userdata/..%2FAlice-Smith_227a1e95-e446-4b18-b929-b7fab24b73c6%2Fworkflows%2Fa.json", 403, "BAD_USERDATA_PATH_TRAVERSAL"],
  ["GET", "/api/userdata/..%2Fusers.json", 403, "BAD_USERDATA_PATH_TRAVERSAL"],
  ["GET", "/api/userdata?dir=..", 403, "userdata.list"],
  ["GET", "/api/v2/userdata?path=..", 400, "userdata.v2"],
  ["POST", "/api/userdata/workflows%2Fa.json/move/workflows%2Fb.json?full_info=true", 200, "userdata.move"],
  ["DELETE", "/api/userdata/workflows%2Fb.json", 404, "userdata.file"],
  ["GET", "/api/userdata/comfy.settings.json", 200, "userdata.file"],
  ["POST", "/api/upload/image", 200, "upload.image"],
  ["GET", "/api/object_info/LoadImage", 200, "object_info.class"],
  ["GET", "/api/view?filename=alice_upload.png&type=input", 200, "view"],
  ["POST", "/api/prompt", 200, "prompt"],
  ["GET", "/api/queue", 200, "queue"],
  ["GET", "/api/history", 200, "history"],
  ["GET", "/api/history/c74821a2-c355-4242-8897-2e15e736676e", 200, "history.item"],
  ["GET", "/api/history?max_items=1", 200, "history"],
  ["GET", "/internal/files/output", 200, "internal.files"],
  ["GET", "/internal/files/input", 200, "internal.files"],
  ["POST", "/api/interrupt", 200, "interrupt"],
  ["POST", "/api/queue", 200, "queue"],
  ["POST", "/api/history", 200, "history"],
  ["GET", "/api/prompt", 200, "prompt"],
  ["GET", "/prompt", 200, "prompt"],
  ["GET", "/api/api/prompt", 404, "unknown"],
  ["GET", "/api/embeddings", 200, "embeddings"],
  ["GET", "/api/models", 200, "models"],
  ["GET", "/api/models/checkpoints", 200, "models.folder"],
  ["GET", "/api/models/unknownfolder", 404, "models.folder"],
  ["GET", "/api/experiment/models", 200, "experiment.models"],
  ["GET", "/api/extensions", 200, "extensions"],
  ["GET", "/api/object_info", 200, "object_info"],
  ["GET", "/api/object_info/EmptyImage", 200, "object_info.class"],
  ["GET", "/api/object_info/SaveImage", 200, "object_info.class"],
  ["GET", "/api/object_info/PreviewImage", 200, "object_info.class"],
  ["GET", "/api/object_info/ImageBlur", 200, "object_info.class"],
  ["GET", "/api/object_info/SaveImageWebsocket", 200, "object_info.class"],
  ["GET", "/api/object_info/GetImageSize", 200, "object_info.class"],
  ["GET", "/api/object_info/NoSuchNode", 200, "object_info.class"],
  ["GET", "/api/history/4da93c88-fe31-4e6f-b477-def2cbc1f6c9", 200, "history.item"],
  ["GET", "/api/history/a0d1a96f-2ea6-40b9-8c0e-9ef4786313d5", 200, "history.item"],
  ["GET", "/api/history/06e3a335-3b81-4a0a-b444-48fc1731b7eb", 200, "history.item"],
  ["GET", "/api/history/2919016c-c06d-4811-9d43-5adb46013e0f", 200, "history.item"],
  ["GET", "/api/history/my-custom-id-1", 200, "history.item"],
  ["GET", "/api/history/00000000-0000-0000-0000-000000000000", 200, "history.item"],
  ["GET", "/api/history/f319b5f6-cc27-44a8-8dd5-25690ecd2910", 200, "history.item"],
  ["GET", "/api/history/e71552b5-752b-4514-90d9-8397f32239f4", 200, "history.item"],
  ["GET", "/api/history/150b67d0-881f-4849-869f-7bdd0c80815b", 200, "history.item"],
  ["GET", "/api/history/86c78868-a457-454f-b4d4-fa35d4102b18", 200, "history.item"],
  ["POST", "/api/free", 200, "free"],
  ["GET", "/api/history?max_items=2", 200, "history"],
  ["GET", "/api/history?offset=1", 200, "history"],
  ["GET", "/api/history?max_items=2&offset=1", 200, "history"],
  ["GET", "/api/history?max_items=abc", 500, "history"],
  ["GET", "/api/history/a6641dc4-4566-4799-961c-924c945d652a", 200, "history.item"],
  ["POST", "/api/upload/mask", 200, "upload.mask"],
  ["GET", "/api/view?filename=fx_00002_.png&type=output&subfolder=", 200, "view"],
  ["GET", "/api/view?filename=fx_00002_.png", 200, "view"],
  ["GET", "/api/view?filename=fxsub_00001_.png&type=output&subfolder=sub", 200, "view"],
  ["GET", "/api/view?filename=ComfyUI_temp_xrzkp_00001_.png&type=temp&subfolder=", 200, "view"],
  ["GET", "/api/view?filename=up.png&type=input&subfolder=", 200, "view"],
  ["GET", "/api/view?filename=up.png&type=input&subfolder=alice", 200, "view"],
  ["GET", "/api/view?filename=up.png%20%5Binput%5D&type=output", 200, "view"],
  ["GET", "/api/view?filename=alice%2Fup.png&type=input", 200, "view"],
  ["GET", "/api/view?filename=notes.txt&type=input", 200, "view"],
  ["GET", "/api/view?filename=fx_00002_.png&type=output&subfolder=&preview=webp%3B90", 200, "view"],
  ["GET", "/api/view?filename=fx_00002_.png&type=output&subfolder=&preview=jpeg%3B80", 200, "view"],
  ["GET", "/api/view?filename=up.png&type=input&channel=rgb", 200, "view"],
  ["GET", "/api/view?filename=up.png&type=input&channel=a", 200, "view"],
  ["GET", "/api/view?filename=up.png&type=input", 206, "view"],
  ["GET", "/api/view?filename=nope.png&type=output", 404, "view"],
  ["GET", "/api/view?type=output", 404, "view"],
  ["GET", "/api/view?filename=&type=output", 400, "view"],
  ["GET", "/api/view?filename=..%2Fuser%2Fdefault%2Fcomfy.settings.json&type=output", 400, "view"],
  ["GET", "/api/view?filename=%2Fetc%2Fpasswd", 400, "view"],
  ["GET", "/api/view?filename=a..b.png", 400, "view"],
  ["GET", "/api/view?filename=passwd&type=output&subfolder=..%2F..%2Fetc", 403, "view"],
  ["GET", "/api/view?filename=up.png&type=output&subfolder=..%2Finput", 403, "view"],
  ["GET", "/api/view?filename=passwd&type=output&subfolder=%2Fetc", 403, "view"],
  ["GET", "/api/view?filename=fx_00002_.png&type=bogus", 400, "view"],
  ["GET", "/view?filename=fx_00002_.png&type=output", 200, "view"],
  ["POST", "/api/settings/Comfy.Extension.Disabled", 200, "settings.item"],
  ["GET", "/api/settings/Comfy.Extension.Disabled", 200, "settings.item"],
  ["GET", "/api/settings/No.Such.Setting", 200, "settings.item"],
  ["POST", "/api/settings/X", 500, "settings.item"],
  ["GET", "/api/userdata", 400, "userdata.list"],
  ["POST", "/api/userdata/workflows%2Fx.json", 200, "userdata.file"],
  ["POST", "/api/userdata/workflows%2Fx.json?overwrite=false", 409, "userdata.file"],
  ["POST", "/api/userdata/workflows%2Fx.json?overwrite=true&full_info=true", 200, "userdata.file"],
  ["POST", "/api/userdata/workflows%2Fsub%2Fy.json?overwrite=false&full_info=true", 200, "userdata.file"],
  ["POST", "/api/userdata/workflows%252Fdbl.json", 200, "userdata.file"],
  ["GET", "/api/userdata?dir=workflows&recurse=true", 200, "userdata.list"],
  ["GET", "/api/userdata?dir=workflows&recurse=true&split=true", 200, "userdata.list"],
  ["GET", "/api/userdata?dir=workflows&recurse=true&split=true&full_info=true", 200, "userdata.list"],
  ["GET", "/api/v2/userdata?path=nope", 404, "userdata.v2"],
  ["GET", "/api/v2/userdata?path=workflows%2Fx.json", 400, "userdata.v2"],
  ["GET", "/api/userdata/workflows%2Fx.json", 200, "userdata.file"],
  ["GET", "/api/userdata/workflows%252Fx.json", 200, "userdata.file"],
  ["GET", "/api/userdata/workflows/x.json", 404, "unknown"],
  ["GET", "/api/userdata/workflows%2Fnope.json", 404, "userdata.file"],
  ["GET", "/api/userdata/..%2F..%2Fmain.py", 403, "BAD_USERDATA_PATH_TRAVERSAL"],
  ["GET", "/api/userdata/..%252F..%252Fmain.py", 403, "BAD_USERDATA_PATH_TRAVERSAL"],
  ["POST", "/api/userdata/..%2Fevil.json", 403, "BAD_USERDATA_PATH_TRAVERSAL"],
  ["POST", "/api/userdata/workflows%2Fx.json/move/workflows%2Fz.json", 200, "userdata.move"],
  ["POST", "/api/userdata/workflows%2Fz.json/move/workflows%2Fsub%2Fy.json?overwrite=false", 409, "userdata.move"],
  ["POST", "/api/userdata/workflows%2Fz.json/move/workflows%2Fz2.json?full_info=true", 200, "userdata.move"],
  ["POST", "/api/userdata/workflows%2Fnope.json/move/workflows%2Fq.json", 404, "userdata.move"],
  ["POST", "/api/userdata/workflows%2Fz2.json/move/..%2Fz3.json", 500, "BAD_USERDATA_PATH_TRAVERSAL"],
  ["DELETE", "/api/userdata/workflows%2Fz2.json", 204, "userdata.file"],
  ["GET", "/internal/logs", 200, "internal.logs"],
  ["GET", "/internal/logs/raw", 200, "internal.logs.raw"],
  ["PATCH", "/internal/logs/subscribe", 200, "internal.logs.subscribe"],
  ["GET", "/internal/folder_paths", 200, "internal.folder_paths"],
  ["GET", "/internal/files/temp", 200, "internal.files"],
  ["GET", "/internal/files/bogus", 400, "internal.files"],
  ["GET", "/api/internal/logs", 404, "unknown"],
  ["GET", "/api/i18n", 200, "i18n"],
  ["GET", "/api/workflow_templates", 200, "workflow_templates"],
  ["OPTIONS", "/api/prompt", 200, "prompt"],
  ["GET", "/ws?clientId=origin-test", 403, "ws"],
  ["GET", "/api/history?max_items=3", 200, "history"],
];
const STATIC_CATCH_ALL_404 = new Set(["/api/api/prompt", "/api/internal/logs", "/api/userdata/workflows/x.json"]);

describe("every request recorded from ComfyUI 0.3.64", () => {
  test.each(RECORDED)("%s %s (upstream %d)", (method, raw, status, expected) => {
    const result = canonicaliseTarget(raw);
    if (!result.ok) {
      expect<string>(result.code).toBe(expected);
      expect([403, 500]).toContain(status); // upstream refused or crashed on these too
      return;
    }
    const match = classifyRoute(result.target, method);
    expect(match.routeId).toBe(expected);
    if (STATIC_CATCH_ALL_404.has(raw)) {
      expect(match.kind).toBe("unknown");
    } else {
      expect(match.kind).toBe("comfy");
      expect(match.methodAllowed).toBe(method !== "OPTIONS");
    }
    // The recorded target is what the real front end and clients send: forwarded unchanged.
    expect(result.target.forwardPath + result.target.search).toBe(raw);
  });
});

describe("checklist 5.1: the decision input for each attack", () => {
  const decisionOf = (method: string, raw: string): string => {
    const result = canonicaliseTarget(raw);
    if (!result.ok) return `400 ${result.code}`;
    const match = classifyRoute(result.target, method);
    return `${match.kind} ${match.routeId}${match.methodAllowed ? "" : " 405"}`;
  };
  const cases: [string, string, string, string][] = [
    ["1", "POST", "/queue", "comfy queue"],
    ["1", "POST", "/api/queue", "comfy queue"],
    ["2", "POST", "//prompt", "400 BAD_PATH_DOUBLE_SLASH"],
    ["2", "POST", "/api//prompt", "400 BAD_PATH_DOUBLE_SLASH"],
    ["2", "POST", "//api/prompt", "400 BAD_PATH_DOUBLE_SLASH"],
    ["3", "POST", "/api/%70rompt", "comfy prompt"],
    ["3", "GET", "/api/userdata/..%2f..%2fusers.json", "400 BAD_USERDATA_PATH_TRAVERSAL"],
    ["3", "GET", "/api/%2e%2e/api/prompt", "400 BAD_PATH_DOT_SEGMENT"],
    ["3", "GET", "/api/userdata/%252e%252e%252fusers.json", "400 BAD_USERDATA_PATH_TRAVERSAL"],
    ["3", "GET", "/api/%252e%252e/prompt", "unknown unknown"],
    ["3", "GET", "/api/prompt%00", "400 BAD_PATH_NUL"],
    ["3", "GET", "/api/%c0%ae%c0%ae/prompt", "400 BAD_PATH_ENCODING"],
    ["4", "POST", "/API/PROMPT", "unknown unknown"],
    ["4", "POST", "/Api/Prompt", "unknown unknown"],
    ["5", "POST", "/extensions/../api/prompt", "400 BAD_PATH_DOT_SEGMENT"],
    ["5", "POST", "/api/./prompt", "400 BAD_PATH_DOT_SEGMENT"],
    ["6", "POST", "/api\\prompt", "400 BAD_PATH_BACKSLASH"],
    ["6", "GET", "/api/userdata/..%5Cusers.json", "400 BAD_PATH_BACKSLASH"],
    ["7", "GET", "/api/userdata/x.js", "comfy userdata.file"],
    ["7", "GET", "/api/prompt;.js", "400 BAD_PATH_SEMICOLON"],
    ["7", "GET", "/api/prompt%3F.js", "unknown unknown"],
    ["7", "GET", "/api/history.css", "unknown unknown"],
    ["8", "POST", "/api/prompt/", "unknown unknown"],
    ["8", "POST", "/api/prompt;x=1", "400 BAD_PATH_SEMICOLON"],
    ["8", "POST", "/api/prompt%23", "unknown unknown"],
    ["8", "POST", "/api/prompt#x", "400 BAD_PATH_FRAGMENT"],
    ["9", "GET", "/view?x=/public/", "comfy view"],
    ["9", "GET", "/api/prompt?/assets/x.js", "comfy prompt"],
    ["9", "GET", "/api/history?.css", "comfy history"],
    ["9", "GET", "/assets/x.js?/api/prompt", "static static.assets"],
    ["10", "HEAD", "/api/interrupt", "comfy interrupt 405"],
    ["10", "HEAD", "/api/queue", "comfy queue"],
    ["10", "OPTIONS", "/api/queue", "comfy queue 405"],
  ];
  test.each(cases)("item %s: %s %s -> %s", (_item, method, raw, decision) => {
    expect(decisionOf(method, raw)).toBe(decision);
  });
});

describe("what is authorised is what is forwarded (property over the table and mutations)", () => {
  const base = new Set<string>();
  for (const [, , spellings] of ROUTE_CASES) for (const path of spellings) base.add(path);
  for (const [, raw] of RECORDED) base.add(raw);
  for (const raw of [
    "/", "/index.html", "/user.css", "/assets/index-a.js", "/extensions/core/x.js", "/templates/index.json",
    "/mss-login/login", "/api/mss-login/x", "/manager/version", "/API/PROMPT", "/api/prompt/",
    "/api/userdata/workflows%252Fdbl.json", "/api/userdata/a.json/move/b%2Fc.json",
  ]) {
    base.add(raw);
  }

  // Deterministic mutations an attacker (or a sloppy client) could apply.
  const mutations: ((raw: string) => string)[] = [
    (raw) => raw.replace(/\/([a-z])/g, (_m, ch: string) => "/%" + ch.charCodeAt(0).toString(16)),
    (raw) => raw.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    (raw) => raw.replace(/[a-z]/, (ch) => ch.toUpperCase()),
    (raw) => raw.split("?")[0] + "/",
    (raw) => raw.replace("/", "//"),
    (raw) => raw.replace(/\/(?=[^/]*$)/, "/./"),
    (raw) => raw.replace(/\/(?=[^/]*$)/, "/x/%2e%2e/"),
    (raw) => raw.split("?")[0] + ";x=1",
    (raw) => raw.replace(/%2F/gi, "/"),
    (raw) => raw.replace(/\/(?=[^/]*$)/, "%2F"),
    (raw) => raw.replace(/\/(?=[^/]*$)/, "%2f"),
    (raw) => "/api" + raw,
    (raw) => (raw.startsWith("/api/") ? raw.slice(4) : raw),
    (raw) => raw.replace(/%/g, "%25"),
    (raw) => raw.replace(/%25/g, "%"),
    (raw) => raw + (raw.includes("?") ? "&" : "?") + "q=/api/prompt&p=..%2F..%2F",
    (raw) => raw.split("?")[0] + "%00",
    (raw) => raw.split("?")[0] + "%20",
    (raw) => raw.split("?")[0] + "%3F.js",
    (raw) => raw.split("?")[0] + "%23.css",
    (raw) => raw + "#frag",
    (raw) => raw.replace(/\/(?=[^/]*$)/, "/%5C"),
    (raw) => raw.replace(/\.json|\.js/, "%2ejson"),
    (raw) => raw.replace(/workflows/, "..%2F..%2Fworkflows"),
    (raw) => raw.replace(/workflows/, "..%252Fworkflows"),
    (raw) => raw.replace(/([a-z])([a-z])/, "$1%c0%ae$2"),
  ];
  const corpus = new Set<string>(base);
  for (const raw of base) for (const mutate of mutations) corpus.add(mutate(raw));

  const methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];
  const decisionInput = (match: RouteMatch): unknown => ({
    kind: match.kind,
    routeId: match.routeId,
    params: match.params,
    spelling: match.spelling,
    methodAllowed: match.methodAllowed,
    websocket: match.websocket,
  });

  test(`${corpus.size} targets: re-canonicalising the forwarded target changes nothing`, () => {
    let acceptedCount = 0;
    for (const raw of corpus) {
      const first = canonicaliseTarget(raw);
      if (!first.ok) continue;
      acceptedCount++;
      const forwarded = first.target.forwardPath + first.target.search;
      const second = canonicaliseTarget(forwarded);
      if (!second.ok) throw new Error(`${raw}: forwarded ${forwarded} was refused (${second.code})`);
      expect({ raw, forwardPath: second.target.forwardPath }).toEqual({ raw, forwardPath: first.target.forwardPath });
      expect(second.target.path).toBe(first.target.path);
      expect(second.target.segments).toEqual(first.target.segments);
      expect(second.target.userdata).toEqual(first.target.userdata);
      expect(second.target.search).toBe(first.target.search);
      expect(second.target.trailingSlash).toBe(first.target.trailingSlash);
      for (const method of methods) {
        expect({ raw, method, match: decisionInput(classifyRoute(second.target, method)) }).toEqual({
          raw,
          method,
          match: decisionInput(classifyRoute(first.target, method)),
        });
      }
    }
    // The corpus must exercise both outcomes.
    expect(acceptedCount).toBeGreaterThan(500);
    expect(acceptedCount).toBeLessThan(corpus.size);
  });

  test("a WHATWG URL (what fetch uses upstream) keeps forwardPath and the query byte-exact", () => {
    for (const raw of corpus) {
      const result = canonicaliseTarget(raw);
      if (!result.ok) continue;
      const url = new URL("http://127.0.0.1:8188" + result.target.forwardPath + result.target.search);
      expect({ raw, path: url.pathname }).toEqual({ raw, path: result.target.forwardPath });
      if (result.target.search.length > 1) expect(url.search).toBe(result.target.search);
    }
  });

  test("forwardPath only differs from the canonical path in userdata parameters", () => {
    for (const raw of corpus) {
      const result = canonicaliseTarget(raw);
      if (!result.ok || result.target.userdata !== null) continue;
      expect(result.target.forwardPath).toBe(result.target.path);
    }
  });

  test("no accepted mutation turns an /api path into a static file or the own namespace", () => {
    for (const raw of corpus) {
      const result = canonicaliseTarget(raw);
      if (!result.ok) continue;
      const match = classifyRoute(result.target, "GET");
      if (result.target.segments[0] === "api" && result.target.segments[1] !== OWN_NAMESPACE_SEGMENT) {
        expect({ raw, kind: match.kind }).not.toEqual({ raw, kind: "static" });
        expect({ raw, kind: match.kind }).not.toEqual({ raw, kind: "own" });
      }
    }
  });
});
