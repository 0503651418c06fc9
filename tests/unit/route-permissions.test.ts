/**
 * The route permission table (src/rbac/route-permissions.ts) and the decision made with it
 * (src/rbac/policy.ts): every route the gateway knows has a row, and each role gets what the
 * reference (§2.3, §4.11) and the gateway's decisions say, with the default matrix and with a
 * stored one.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyMigrations, openDatabase, type OpenDatabase } from "../../src/db/index.ts";
import { COMFY_ROUTES, CUSTOM_ROUTE_FAMILIES, FRONTEND_STATIC_FILES } from "../../src/gateway/comfy-routes.ts";
import { canonicaliseTarget } from "../../src/gateway/request-target.ts";
import { classifyRoute, type RouteMatch } from "../../src/gateway/route-table.ts";
import { createGroupsStore } from "../../src/rbac/groups-store.ts";
import { defaultMatrix, roleAllows, type PermissionMatrix } from "../../src/rbac/permissions.ts";
import { decide, type Decision, type PolicyOptions, type Principal, type Role } from "../../src/rbac/policy.ts";
import { compileRules, ROUTE_PERMISSIONS, ruleFor, UNKNOWN_ROUTE_ID } from "../../src/rbac/route-permissions.ts";

function classify(method: string, raw: string): { route: RouteMatch; path: string } {
  const result = canonicaliseTarget(raw);
  if (!result.ok) throw new Error(`${raw} was refused: ${result.code}`);
  return { route: classifyRoute(result.target, method), path: result.target.path };
}

function optionsWith(matrix: PermissionMatrix, allowedUnknownRoutes: readonly string[] = []): PolicyOptions {
  return { allowedUnknownRoutes, allows: (role, key) => roleAllows(matrix, role, key) };
}

const DEFAULTS = optionsWith(defaultMatrix());

function principal(role: Role | "anonymous"): Principal {
  return role === "anonymous" ? { kind: "anonymous" } : { kind: "user", userId: `id-${role}`, username: role, role };
}

function decision(role: Role | "anonymous", method: string, raw: string, options: PolicyOptions = DEFAULTS): Decision {
  const { route, path } = classify(method, raw);
  return decide(principal(role), { kind: route.kind, routeId: route.routeId, method, path, params: route.params }, options);
}

/** "allow", or "<status> <code>": compact to compare. */
function outcome(role: Role | "anonymous", method: string, raw: string, options: PolicyOptions = DEFAULTS): string {
  const result = decision(role, method, raw, options);
  return result.allow ? "allow" : `${result.status} ${result.code}`;
}

const ROLES: readonly Role[] = ["owner", "admin", "power", "user", "guest"];

describe("the table covers every route the gateway knows", () => {
  test("every ComfyUI route id and method has a row of its own (a new route without one fails here)", () => {
    const missing: string[] = [];
    for (const route of COMFY_ROUTES) {
      const methods = new Set<string>([...route.methods, ...(route.methods.includes("GET") ? ["HEAD"] : [])]);
      for (const method of methods) {
        const rule = ruleFor(route.id, method, {});
        if (rule === undefined || rule.routeId !== route.id) missing.push(`${method} ${route.id}`);
      }
    }
    expect(missing).toEqual([]);
  });

  test("every static rule and every custom-node family has a row", () => {
    for (const rule of FRONTEND_STATIC_FILES) expect(ruleFor(rule.id, "GET", { module: "x", file: "y" })?.routeId).toBe(rule.id);
    for (const family of CUSTOM_ROUTE_FAMILIES) expect(ruleFor(`custom.${family.id}`, "POST", { rest: "" })?.routeId).toBe(`custom.${family.id}`);
    expect(ruleFor(UNKNOWN_ROUTE_ID, "DELETE", {})?.routeId).toBe(UNKNOWN_ROUTE_ID);
  });

  test("every row names a route that exists (no stale rows)", () => {
    const known = new Set<string>([
      ...COMFY_ROUTES.map((route) => route.id),
      ...FRONTEND_STATIC_FILES.map((rule) => rule.id),
      ...CUSTOM_ROUTE_FAMILIES.map((family) => `custom.${family.id}`),
      UNKNOWN_ROUTE_ID,
    ]);
    expect(ROUTE_PERMISSIONS.map((rule) => rule.routeId).filter((id) => !known.has(id))).toEqual([]);
  });

  test("a route's last row must cover every method without a condition", () => {
    const when = { describe: "never", holds: () => false };
    expect(() => compileRules([{ routeId: "a", methods: ["POST"], requirement: { signedIn: true } }])).toThrow(/last row/);
    expect(() => compileRules([{ routeId: "a", methods: "*", when, requirement: { signedIn: true } }])).toThrow(/last row/);
    expect(() => compileRules([{ routeId: "a", methods: "*", when, requirement: { adminOnly: true } }, { routeId: "a", methods: "*", requirement: { signedIn: true } }])).not.toThrow();
  });

  test("a GET row also covers HEAD", () => {
    const rules = compileRules([{ routeId: "a", methods: ["GET"], requirement: { adminOnly: true } }, { routeId: "a", methods: "*", requirement: { signedIn: true } }]);
    expect(rules.get("a")?.[0]?.methods?.has("HEAD")).toBe(true);
  });
});

describe("decisions with the default matrix", () => {
  test("not signed in: 401 everywhere but the gateway's own routes", () => {
    for (const [method, raw] of [["GET", "/"], ["GET", "/api/prompt"], ["GET", "/assets/a.js"], ["GET", "/manager/version"], ["GET", "/foo"]] as const) {
      expect(outcome("anonymous", method, raw)).toBe("401 AUTH_REQUIRED");
    }
    expect(outcome("anonymous", "GET", "/mss-login/login")).toBe("allow");
  });

  test("the front end's own files are open to every signed-in role", () => {
    for (const role of ROLES) {
      for (const raw of ["/", "/index.html", "/assets/index-a.js", "/extensions/core/x.js", "/templates/index.json", "/user.css"]) {
        expect({ role, raw, outcome: outcome(role, "GET", raw) }).toEqual({ role, raw, outcome: "allow" });
      }
    }
  });

  test("guests may not upload; users may", () => {
    expect(outcome("guest", "POST", "/api/upload/image")).toBe("403 UPLOAD_DENIED");
    expect(outcome("guest", "POST", "/upload/mask")).toBe("403 UPLOAD_DENIED");
    expect(outcome("user", "POST", "/api/upload/image")).toBe("allow");
  });

  test("ComfyUI-Manager: not for user or guest, for power and above, in every spelling", () => {
    for (const raw of ["/manager/version", "/api/manager/version", "/v2/manager/queue/start", "/api/v2/manager/x", "/customnode/getlist", "/snapshot/getlist", "/externalmodel/getlist", "/extensions/comfyui-manager/js/a.js", "/extensions/ComfyUI-Manager/js/a.js"]) {
      for (const role of ["user", "guest"] as const) expect({ raw, role, outcome: outcome(role, "GET", raw) }).toEqual({ raw, role, outcome: "403 MANAGER_DENIED" });
      for (const role of ["power", "admin", "owner"] as const) expect({ raw, role, outcome: outcome(role, "POST", raw) }).toEqual({ raw, role, outcome: "allow" });
    }
  });

  test("extension families and their front-end directories follow their settings_* key", () => {
    const cases: [string, string, string][] = [
      ["/crystools/monitor", "/extensions/ComfyUI-Crystools/index.js", "settings_crystools"],
      ["/api/rgthree/api/config", "/extensions/rgthree-comfy/common/a.js", "settings_rgthree"],
      ["/itools/styles", "/extensions/comfyui-itools/a.js", "settings_itools"],
      ["/api/gallery/images", "/extensions/COMFYUI-GALLERY/a.css", "settings_gallery"],
    ];
    for (const [route, file] of cases) {
      for (const raw of [route, file]) {
        expect(outcome("user", "GET", raw)).toBe("403 EXTENSION_DENIED");
        expect(outcome("guest", "GET", raw)).toBe("403 EXTENSION_DENIED");
        expect(outcome("power", "GET", raw)).toBe("allow");
      }
    }
    // The directory must be the node's own, not merely start like it.
    expect(outcome("user", "GET", "/extensions/ComfyUI-Crystools-fork/index.js")).toBe("allow");
  });

  test("ComfyUI routes that are the operator's business are owner/admin only", () => {
    for (const [method, raw] of [["POST", "/users"], ["POST", "/api/free"], ["GET", "/internal/logs"], ["GET", "/internal/files/output"], ["GET", "/api/assets"], ["DELETE", "/api/assets/0b7c1b9e-7e0b-4f35-9d0e-6f1b0c6d2a11"], ["GET", "/api/tags"]] as const) {
      expect({ raw, outcome: outcome("power", method, raw) }).toEqual({ raw, outcome: "403 ADMIN_ONLY" });
      expect(outcome("admin", method, raw)).toBe("allow");
      expect(outcome("owner", method, raw)).toBe("allow");
    }
    expect(outcome("guest", "GET", "/api/users")).toBe("allow");
    expect(outcome("guest", "GET", "/api/system_stats")).toBe("allow");
  });

  test("the extension list the front end boots from stays open; extension settings writes need can_manage_extensions", () => {
    expect(outcome("guest", "GET", "/api/extensions")).toBe("allow");
    for (const raw of ["/api/settings/Comfy.Extension.Disabled", "/settings/Comfy.Extension.Disabled", "/api/settings/comfy.extension.disabled"]) {
      expect(outcome("user", "POST", raw)).toBe("403 EXTENSIONS_DENIED");
      expect(outcome("user", "GET", raw)).toBe("allow");
      expect(outcome("power", "POST", raw)).toBe("allow");
    }
    expect(outcome("user", "POST", "/api/settings/Comfy.Sidebar.Location")).toBe("allow");
    // The whole-settings POST carries keys in its body, which the policy does not read.
    expect(outcome("user", "POST", "/api/settings")).toBe("allow");
  });

  test("workflow writes need can_modify_workflows: guests get 403 WORKFLOW_DENIED", () => {
    const writes: [string, string][] = [
      ["POST", "/api/userdata/workflows%2Fa.json"],
      ["POST", "/userdata/workflows%252Fa.json"],
      ["DELETE", "/api/userdata/workflows%2Fsub%2Fa.json"],
      ["POST", "/api/userdata/Workflows%2Fa.json"],
      ["POST", "/api/userdata/workflows%2Fa.json/move/workflows%2Fb.json"],
      ["POST", "/api/userdata/workflows%2Fa.json/move/elsewhere.json"],
      ["POST", "/api/userdata/elsewhere.json/move/workflows%2Fb.json"],
    ];
    for (const [method, raw] of writes) {
      expect({ raw, outcome: outcome("guest", method, raw) }).toEqual({ raw, outcome: "403 WORKFLOW_DENIED" });
      expect(outcome("user", method, raw)).toBe("allow");
    }
    expect(outcome("guest", "GET", "/api/userdata/workflows%2Fa.json")).toBe("allow");
    expect(outcome("guest", "GET", "/api/userdata?dir=workflows")).toBe("allow");
    expect(outcome("guest", "POST", "/api/userdata/workflowsx.json")).toBe("allow");
    expect(outcome("guest", "POST", "/api/userdata/comfy.templates.json")).toBe("allow");
  });

  test("an unknown route is owner/admin only, unless the operator's allow-list opens it", () => {
    expect(outcome("power", "GET", "/some-node/api")).toBe("403 ROUTE_NOT_ALLOWED");
    expect(outcome("admin", "GET", "/some-node/api")).toBe("allow");
    const opened = optionsWith(defaultMatrix(), ["/some-node"]);
    expect(outcome("guest", "GET", "/some-node/api", opened)).toBe("allow");
    expect(outcome("guest", "GET", "/some-node", opened)).toBe("allow");
    expect(outcome("guest", "GET", "/some-nodeevil", opened)).toBe("403 ROUTE_NOT_ALLOWED");
    // A family's key governs its paths; the allow-list is for paths no family claims.
    expect(outcome("user", "GET", "/crystools/monitor", optionsWith(defaultMatrix(), ["/crystools"]))).toBe("403 EXTENSION_DENIED");
    // Case and spelling do not open anything: /API/PROMPT is unknown.
    expect(outcome("user", "GET", "/API/PROMPT")).toBe("403 ROUTE_NOT_ALLOWED");
  });

  test("allowed decisions are built once: nothing is allocated per request", () => {
    expect(decision("user", "POST", "/api/prompt")).toBe(decision("user", "POST", "/prompt"));
    expect(decision("guest", "GET", "/assets/a.js")).toBe(decision("guest", "GET", "/assets/b.js"));
  });
});

describe("decisions with a changed matrix", () => {
  test("can_run=false stops /api/prompt, GET /queue, interrupt and cancel, not the history", () => {
    const matrix = defaultMatrix();
    matrix.user = { ...matrix.user, can_run: false };
    const options = optionsWith(matrix);
    for (const [method, raw] of [["POST", "/api/prompt"], ["GET", "/prompt"], ["GET", "/queue"], ["GET", "/api/queue"], ["POST", "/api/interrupt"], ["POST", "/api/jobs/cancel"]] as const) {
      expect({ raw, method, outcome: outcome("user", method, raw, options) }).toEqual({ raw, method, outcome: "403 RUN_DENIED" });
    }
    expect(outcome("user", "GET", "/api/history", options)).toBe("allow");
    expect(decision("user", "POST", "/api/prompt", options)).toMatchObject({ allow: false, status: 403, reason: expect.stringContaining("run") });
  });

  test("can_access_api=false closes the API but not the page", () => {
    const matrix = defaultMatrix();
    matrix.guest = { ...matrix.guest, can_access_api: false };
    const options = optionsWith(matrix);
    expect(outcome("guest", "GET", "/api/object_info", options)).toBe("403 API_DENIED");
    expect(outcome("guest", "GET", "/ws", options)).toBe("403 API_DENIED");
    expect(outcome("guest", "GET", "/", options)).toBe("allow");
  });

  test("owner and admin pass whatever their rows say", () => {
    const matrix = defaultMatrix();
    matrix.admin = { ...matrix.admin, can_run: false, can_upload: false };
    const options = optionsWith(matrix);
    expect(outcome("admin", "POST", "/api/prompt", options)).toBe("allow");
    expect(outcome("admin", "POST", "/api/upload/image", options)).toBe("allow");
  });

  describe("through the stored matrix (groups-store)", () => {
    let dir = "";
    let database: OpenDatabase;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "mss-route-permissions-"));
      database = openDatabase(dir);
      applyMigrations(database.sqlite);
    });
    afterAll(() => {
      database.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test("a change to the matrix changes the next decision", () => {
      const groups = createGroupsStore(database.db);
      const options: PolicyOptions = { allowedUnknownRoutes: [], allows: (role, key) => groups.allows(role, key) };
      expect(outcome("user", "GET", "/manager/version", options)).toBe("403 MANAGER_DENIED");
      expect(outcome("guest", "POST", "/api/upload/image", options)).toBe("403 UPLOAD_DENIED");
      groups.update({ user: { can_access_manager: true }, guest: { can_upload: true } }, { callerIsOwner: true });
      expect(outcome("user", "GET", "/manager/version", options)).toBe("allow");
      expect(outcome("guest", "POST", "/api/upload/image", options)).toBe("allow");
    });
  });
});
