/**
 * The authorization matrix, generated from the policy table and the route definitions, asserted
 * against the running gateway and the fake ComfyUI (issue 4).
 *
 * Nothing here lists routes by hand. The cases come from:
 *  - `COMFY_ROUTES`: every route id × every method it accepts (GET implies HEAD) × every spelling
 *    ComfyUI serves it at (`prompt-server`: P and `/api`+P; `app` and `internal`: P only), with
 *    `{param}` placeholders filled from sample pools. Where a parameter decides which row of the
 *    table applies (userdata `file`/`dest`, setting `id`), the pool has a value for each row;
 *  - `FRONTEND_STATIC_FILES`: every rule, every root file name, one file per directory with
 *    each module directory the table names (read from the rows' conditions) in two cases;
 *  - `CUSTOM_ROUTE_FAMILIES`: every prefix, plain and `/api` (when mirrored), GET and POST;
 *  - unknown routes: the spellings ComfyUI does NOT serve (`/api` + an app/internal route, a
 *    `/api/...` route without its `/api`), `/api` + a static file, and a few made-up paths.
 * For each of anonymous, guest, user, power, admin and owner (one account and all-scope API
 * token each, one gateway, one fake), the expected outcome is computed from the same table
 * (`ruleFor`) and the default matrix (`roleAllows(defaultMatrix(), …)`):
 *  - anonymous → 401 AUTH_REQUIRED, nothing reaches the fake;
 *  - a role the table refuses → 403 with the row's code (ADMIN_ONLY, or ROUTE_NOT_ALLOWED for
 *    unknown routes), nothing reaches the fake;
 *  - a role the table allows → the request reached the fake (same tag, path and method; a HEAD
 *    may arrive as the GET the gateway filters), or it is one of the explicit isolation answers
 *    below (a non-admin asking about ids that are not theirs), with that status and no forward.
 * Each request carries an `x-matrix-case` header so that what reached the fake is attributed to
 * exactly one request, though the requests run in parallel batches.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { COMFY_ROUTES, CUSTOM_ROUTE_FAMILIES, FRONTEND_STATIC_FILES, type ComfyRouteDef } from "../../src/gateway/comfy-routes.ts";
import { canonicaliseTarget } from "../../src/gateway/request-target.ts";
import { classifyRoute } from "../../src/gateway/route-table.ts";
import { defaultMatrix, roleAllows } from "../../src/rbac/permissions.ts";
import type { Role } from "../../src/rbac/policy.ts";
import { ROUTE_PERMISSIONS, ruleFor, UNKNOWN_ROUTE_ID, type PermissionRule } from "../../src/rbac/route-permissions.ts";
import { startFakeComfyUI, type FakeComfyUI, type RecordedRequest } from "../fake-comfyui/server.ts";
import { createTestAccount, startTestGateway, type TestGateway } from "../support/gateway.ts";

type Caller = Role | "anonymous";
const CALLERS: readonly Caller[] = ["anonymous", "guest", "user", "power", "admin", "owner"];
const MATRIX = defaultMatrix();
const BATCH = 32;

/** An id nobody owns (no prompt, job or asset has it). */
const SAMPLE_UUID = "0b7c1b9e-7e0b-4f35-9d0e-6f1b0c6d2a11";

interface Sample {
  /** As written in the path. */
  raw: string;
  /** As the classifier hands it to policy (userdata paths are decoded, `%2F` and `%252F`). */
  decoded: string;
}
const plain = (value: string): Sample => ({ raw: value, decoded: value });
const encoded = (raw: string): Sample => ({ raw, decoded: decodeURIComponent(decodeURIComponent(raw)) });

/**
 * Values for `{param}` placeholders, by name. Pools with several values exist where the table
 * has conditional rows on that parameter; the test "every row of the table is exercised" fails
 * when a new conditional row has no value here that reaches it.
 */
const PARAM_SAMPLES: Record<string, readonly Sample[]> = {
  prompt_id: [plain(SAMPLE_UUID)],
  job_id: [plain(SAMPLE_UUID)],
  folder: [plain("checkpoints")],
  class: [plain("LoadImage")],
  path_index: [plain("0")],
  filename: [plain("matrix.safetensors")],
  module: [plain("matrix_module")],
  hash: [plain(`blake3:${"0".repeat(64)}`)],
  directory_type: [plain("input")],
  // settings.item: an ordinary setting, and the extension switch (both the exact id and another case).
  id: [plain("Comfy.UseNewMenu"), plain("Comfy.Extension.Disabled"), plain("comfy.extension.matrix")],
  // userdata: outside workflows/, inside it (%2F), and inside it in another case, double-encoded.
  file: [encoded("matrix.txt"), encoded("workflows%2Fmatrix.json"), encoded("Workflows%252Fmatrix.json")],
  dest: [encoded("matrix-moved.txt"), encoded("workflows%2Fmatrix-moved.json")],
};
/** `{name*}` tails. */
const TAIL_SAMPLES: Record<string, Sample> = { filename: plain("matrix.safetensors"), file: plain("matrix.json") };

/** Queries a GET needs to reach its handler at all (the decision never reads the query). */
const QUERIES: Record<string, string> = { view: "?filename=matrix.png&type=input", view_metadata: "?filename=matrix.safetensors" };

interface Case {
  label: string;
  section: "comfy" | "static" | "custom" | "unknown";
  /** The route id the path classifies as (what the table is looked up with). */
  routeId: string;
  method: string;
  /** Path as sent, without the query. */
  path: string;
  query: string;
  params: Record<string, string>;
}

const hasHead = (methods: readonly string[]) => (methods.includes("GET") && !methods.includes("HEAD") ? [...methods, "HEAD"] : [...methods]);

/** The spellings ComfyUI serves a route at (comfy-routes.ts, `Registration`). */
function spellingsOf(route: ComfyRouteDef): string[] {
  return route.registration === "prompt-server" ? [route.path, `/api${route.path}`] : [route.path];
}

/** Every concrete (path, params) a pattern gives with the sample pools. */
function fill(pattern: string): Array<{ path: string; params: Record<string, string> }> {
  let results: Array<{ path: string; params: Record<string, string> }> = [{ path: "", params: {} }];
  for (const segment of pattern.slice(1).split("/")) {
    const placeholder = /^\{([^}:*]+)(\*)?(?::([a-z]+))?\}$/.exec(segment);
    if (placeholder === null) {
      results = results.map((r) => ({ path: `${r.path}/${segment}`, params: r.params }));
      continue;
    }
    const [, name = "", tail, constraint] = placeholder;
    const pool = constraint === "uuid" ? [plain(SAMPLE_UUID)] : tail ? [TAIL_SAMPLES[name]] : PARAM_SAMPLES[name];
    if (pool === undefined || pool.length === 0 || pool.some((s) => s === undefined)) throw new Error(`no sample for {${name}} in ${pattern}`);
    results = results.flatMap((r) => (pool as Sample[]).map((s) => ({ path: `${r.path}/${s.raw}`, params: { ...r.params, [name]: s.decoded } })));
  }
  return results;
}

function comfyCases(): Case[] {
  const cases: Case[] = [];
  for (const route of COMFY_ROUTES) {
    for (const spelling of spellingsOf(route)) {
      for (const { path, params } of fill(spelling)) {
        for (const method of hasHead(route.methods)) {
          cases.push({ label: `${method} ${path}`, section: "comfy", routeId: route.id, method, path, query: method === "GET" || method === "HEAD" ? (QUERIES[route.id] ?? "") : "", params });
        }
      }
    }
  }
  return cases;
}

/** The module directories the table's `static.extension` rows name (from their conditions). */
function tableModuleDirectories(): string[] {
  return ROUTE_PERMISSIONS.filter((row) => row.routeId === "static.extension" && row.when !== undefined).map((row) => {
    const name = /^module is (\S+) \(any case\)$/.exec(row.when!.describe)?.[1];
    if (name === undefined) throw new Error(`cannot read the module of ${row.when!.describe}`);
    return name;
  });
}

function staticCases(): Case[] {
  const cases: Case[] = [];
  const add = (routeId: string, path: string, params: Record<string, string>) => {
    for (const method of ["GET", "HEAD"]) cases.push({ label: `${method} ${path}`, section: "static", routeId, method, path, query: "", params });
  };
  for (const rule of FRONTEND_STATIC_FILES) {
    if (rule.directory === "") {
      for (const name of rule.names ?? []) add(rule.id, `/${name}`, { file: name });
      if (rule.names?.includes("index.html")) add(rule.id, "/", { file: "index.html" });
      continue;
    }
    const extension = rule.extensions?.[0];
    if (extension === undefined) throw new Error(`static rule ${rule.id} has no extension`);
    const file = `matrix.${extension}`;
    if (rule.moduleDirectory) {
      const modules = ["core", ...tableModuleDirectories().flatMap((m) => [m, m.toUpperCase()])];
      for (const module of modules) add(rule.id, `/${rule.directory}/${module}/${file}`, { module, file });
    } else {
      add(rule.id, `/${rule.directory}/${file}`, { file });
    }
  }
  return cases;
}

function customCases(): Case[] {
  const cases: Case[] = [];
  for (const family of CUSTOM_ROUTE_FAMILIES) {
    for (const prefix of family.prefixes) {
      const base = `/${prefix.join("/")}/matrix`;
      for (const path of family.apiMirror ? [base, `/api${base}`] : [base]) {
        for (const method of ["GET", "POST"]) cases.push({ label: `${method} ${path}`, section: "custom", routeId: `custom.${family.id}`, method, path, query: "", params: { rest: "matrix" } });
      }
    }
  }
  return cases;
}

function unknownCases(): Case[] {
  const paths = new Set<string>(["/matrix/unknown", "/api/matrix/unknown", "/API/PROMPT", "/api/prompt/", "/Prompt"]);
  for (const route of COMFY_ROUTES) {
    const sample = fill(route.path)[0]!.path;
    // An app or internal route is not served under /api; a route declared under /api is not served without it.
    if (route.registration !== "prompt-server") paths.add(`/api${sample}`);
    if (route.path.startsWith("/api/")) paths.add(sample.slice(4));
  }
  // Front-end files exist at the root only.
  for (const rule of FRONTEND_STATIC_FILES) if (rule.directory !== "" && !rule.moduleDirectory) paths.add(`/api/${rule.directory}/matrix.${rule.extensions![0]}`);
  const cases: Case[] = [];
  for (const path of [...paths].sort()) {
    for (const method of ["GET", "POST"]) cases.push({ label: `${method} ${path}`, section: "unknown", routeId: UNKNOWN_ROUTE_ID, method, path, query: "", params: {} });
  }
  return cases;
}

const COMFY_CASES = comfyCases();
const STATIC_CASES = staticCases();
const CUSTOM_CASES = customCases();
const UNKNOWN_CASES = unknownCases();
const ALL_CASES = [...COMFY_CASES, ...STATIC_CASES, ...CUSTOM_CASES, ...UNKNOWN_CASES];

// ---------------------------------------------------------------------------------------------
// Expected outcomes: from the table and the default matrix.

type Expected = { allow: true; rule: PermissionRule } | { allow: false; status: 401 | 403; code: string };

function rowFor(c: Case): PermissionRule {
  const rule = ruleFor(c.routeId, c.method, c.params) ?? (c.section === "unknown" ? ruleFor(UNKNOWN_ROUTE_ID, c.method, {}) : undefined);
  if (rule === undefined) throw new Error(`the table has no row for ${c.routeId} ${c.method}`);
  return rule;
}

function expectedFor(caller: Caller, c: Case): Expected {
  if (caller === "anonymous") return { allow: false, status: 401, code: "AUTH_REQUIRED" };
  const rule = rowFor(c);
  if (caller === "owner" || caller === "admin") return { allow: true, rule };
  const requirement = rule.requirement;
  if ("signedIn" in requirement) return { allow: true, rule };
  if ("adminOnly" in requirement) return { allow: false, status: 403, code: rule.routeId === UNKNOWN_ROUTE_ID ? "ROUTE_NOT_ALLOWED" : "ADMIN_ONLY" };
  return roleAllows(MATRIX, caller, requirement.permission) ? { allow: true, rule } : { allow: false, status: 403, code: requirement.code };
}

/**
 * Allowed requests the gateway answers itself, by design (src/isolation/comfy-isolation.ts): a
 * caller who does not see everything (not owner/admin, no can_view_all_comfyui_items) asking
 * about ids that are not theirs. The bodies sent (see `bodyFor`) name SAMPLE_UUID, nobody's id.
 */
function isolationAnswer(caller: Caller, c: Case): { status: number; body?: unknown } | null {
  // Log subscriptions name a socket: one the caller does not have open is refused, for everyone.
  if (c.routeId === "internal.logs.subscribe" && (caller === "owner" || caller === "admin")) return { status: 400, body: { error: "clientId must be one of your open sockets.", code: "CLIENT_ID_UNKNOWN" } };
  if (caller === "anonymous" || caller === "owner" || caller === "admin" || roleAllows(MATRIX, caller, "can_view_all_comfyui_items")) return null;
  switch (`${c.routeId} ${c.method}`) {
    case "history.item GET":
      return { status: 200, body: {} }; // another user's (or no) prompt: as if it did not exist
    case "history.item HEAD":
      return { status: 200 };
    case "jobs.item GET":
      return { status: 404, body: { error: "Job not found" } };
    case "jobs.item HEAD":
      return { status: 404 };
    case "jobs.item.cancel POST":
    case "jobs.cancel POST":
      return { status: 200, body: { cancelled: false } };
    case "queue POST": // {delete: [nobody's id]}: nothing of the caller's to delete, ComfyUI not asked
    case "history POST":
    case "interrupt POST": // {prompt_id: nobody's id}: not the caller's, ComfyUI not asked
      return { status: 200 };
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Requests.

const PNG = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);

function bodyFor(c: Case, n: number): { body: BodyInit; contentType?: string } | null {
  if (c.method === "GET" || c.method === "HEAD") return null;
  const json = (value: unknown) => ({ body: JSON.stringify(value), contentType: "application/json" });
  switch (c.routeId) {
    case "prompt": // No output node: ComfyUI refuses it (400) after the gateway forwarded it; nothing runs.
      return json({ prompt: { "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: n } } } });
    case "queue":
    case "history":
      return json({ delete: [SAMPLE_UUID] });
    case "interrupt":
      return json({ prompt_id: SAMPLE_UUID });
    case "jobs.cancel":
      return json({ job_ids: [SAMPLE_UUID] });
    case "users":
      return json({ username: `matrix-${n}` });
    case "upload.image": {
      const form = new FormData();
      form.append("image", new Blob([PNG], { type: "image/png" }), `matrix-${n}.png`);
      return { body: form };
    }
    case "upload.mask": {
      const form = new FormData();
      form.append("image", new Blob([PNG], { type: "image/png" }), `mask-${n}.png`);
      form.append("original_ref", JSON.stringify({ filename: "matrix.png", subfolder: "", type: "input" }));
      return { body: form };
    }
    default:
      return json(c.routeId === "settings.item" ? [] : {});
  }
}

interface Outcome {
  caller: Caller;
  c: Case;
  tag: string;
  status: number;
  body: string;
}

let fake: FakeComfyUI;
let gateway: TestGateway;
const tokens = new Map<Caller, string>();
let counter = 0;
/** Every outcome of every run, for the HEAD/GET comparison. */
const ALL_OUTCOMES: Outcome[] = [];

async function send(caller: Caller, c: Case): Promise<Outcome> {
  const n = ++counter;
  const tag = `m${n}`;
  const headers = new Headers({ "x-matrix-case": tag, accept: "application/json" });
  const token = tokens.get(caller);
  if (token !== undefined) headers.set("authorization", `Bearer ${token}`);
  const body = bodyFor(c, n);
  if (body?.contentType !== undefined) headers.set("content-type", body.contentType);
  const response = await fetch(gateway.url + c.path + c.query, { method: c.method, headers, body: body?.body ?? null, redirect: "manual" });
  return { caller, c, tag, status: response.status, body: await response.text() };
}

/** Every case for every caller, in parallel batches; then each outcome against its expectation. */
async function runMatrix(cases: readonly Case[]): Promise<{ failures: string[]; checked: number }> {
  const jobs: Array<[Caller, Case]> = [];
  for (const c of cases) for (const caller of CALLERS) jobs.push([caller, c]);
  const outcomes: Outcome[] = [];
  for (let i = 0; i < jobs.length; i += BATCH) outcomes.push(...(await Promise.all(jobs.slice(i, i + BATCH).map(([caller, c]) => send(caller, c)))));
  ALL_OUTCOMES.push(...outcomes);

  const seen = new Map<string, RecordedRequest[]>();
  for (const request of fake.requests()) {
    const tag = request.headers["x-matrix-case"];
    if (tag === undefined) continue;
    const list = seen.get(tag);
    if (list) list.push(request);
    else seen.set(tag, [request]);
  }

  const failures: string[] = [];
  for (const { caller, c, tag, status, body } of outcomes) {
    const arrived = seen.get(tag) ?? [];
    const reached = arrived.some((r) => r.target.split("?", 1)[0] === c.path && (r.method === c.method || (c.method === "HEAD" && r.method === "GET")));
    const expected = expectedFor(caller, c);
    const where = `${caller.padEnd(9)} ${c.label}`;
    const got = `got ${status}${arrived.length > 0 ? ` (${arrived.length} upstream request(s): ${arrived.map((r) => `${r.method} ${r.target}`).join(", ")})` : " (nothing upstream)"} ${body.slice(0, 120)}`;
    if (!expected.allow) {
      let code: string | undefined;
      try {
        code = (JSON.parse(body) as { code?: string }).code;
      } catch {
        code = undefined;
      }
      const codeOk = c.method === "HEAD" ? body === "" : code === expected.code;
      if (status !== expected.status || !codeOk || arrived.length > 0) failures.push(`${where}: expected ${expected.status} ${expected.code} and nothing upstream, ${got}`);
      continue;
    }
    const answer = isolationAnswer(caller, c);
    if (answer !== null) {
      let bodyOk = true;
      if (answer.body !== undefined) {
        try {
          bodyOk = Bun.deepEquals(JSON.parse(body), answer.body);
        } catch {
          bodyOk = false;
        }
      }
      if (status !== answer.status || !bodyOk || reached) failures.push(`${where}: expected the gateway's isolation answer ${answer.status} ${JSON.stringify(answer.body ?? "")} without forwarding, ${got}`);
      continue;
    }
    if (!reached || status === 401 || (status === 403 && arrived.length === 0)) failures.push(`${where}: expected it to reach ComfyUI (allowed by ${c.routeId} ${requirementOf(expected.rule)}), ${got}`);
  }
  return { failures, checked: outcomes.length };
}

function requirementOf(rule: PermissionRule): string {
  const r = rule.requirement;
  return "permission" in r ? r.permission : "adminOnly" in r ? "admin only" : "signed in";
}

beforeAll(async () => {
  fake = await startFakeComfyUI({ multiUser: true, profile: "v0.38" });
  gateway = await startTestGateway(fake.url, [], {}, "user");
  tokens.set("user", gateway.account.token);
  for (const role of ["guest", "power", "admin", "owner"] as const) tokens.set(role, (await createTestAccount(gateway.dataDir, `matrix_${role}`, role)).token);
  // Each account's ComfyUI user is created on its first request: once, before the parallel runs.
  for (const [, token] of tokens) expect((await fetch(`${gateway.url}/api/system_stats`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
});
afterAll(async () => {
  await gateway?.stop();
  await fake?.stop();
});

// ---------------------------------------------------------------------------------------------

describe("the generated cases", () => {
  test("cover every ComfyUI route, static rule, custom family and row of the table", () => {
    const ids = new Set(ALL_CASES.map((c) => c.routeId));
    expect(COMFY_ROUTES.filter((r) => !ids.has(r.id)).map((r) => r.id)).toEqual([]);
    expect(FRONTEND_STATIC_FILES.filter((r) => !ids.has(r.id)).map((r) => r.id)).toEqual([]);
    expect(CUSTOM_ROUTE_FAMILIES.filter((f) => !ids.has(`custom.${f.id}`)).map((f) => f.id)).toEqual([]);
    const exercised = new Set(ALL_CASES.map(rowFor));
    const missed = ROUTE_PERMISSIONS.filter((row) => !exercised.has(row)).map((row) => `${row.routeId} ${JSON.stringify(row.methods)} ${row.when?.describe ?? ""}`);
    expect(missed).toEqual([]);
    // Every method of every route, in every spelling.
    for (const route of COMFY_ROUTES) {
      for (const spelling of spellingsOf(route)) {
        const methods = new Set(COMFY_CASES.filter((c) => c.routeId === route.id && c.path.startsWith(spelling.split("{", 1)[0]!)).map((c) => c.method));
        expect([...methods].sort()).toEqual(hasHead(route.methods).sort());
      }
    }
  });

  test("each generated path classifies as the route it was generated from (so the table is asked about the right row)", () => {
    const wrong: string[] = [];
    for (const c of ALL_CASES) {
      const target = canonicaliseTarget(c.path + c.query);
      if (!target.ok) {
        wrong.push(`${c.label}: refused (${target.code})`);
        continue;
      }
      const match = classifyRoute(target.target, c.method);
      const params = c.section === "comfy" || c.section === "static" ? match.params : c.params;
      if (match.routeId !== c.routeId || !Bun.deepEquals(params, c.params) || !match.methodAllowed) wrong.push(`${c.label}: ${match.routeId} ${JSON.stringify(match.params)} methodAllowed=${match.methodAllowed}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe("every caller against the running gateway and the fake", () => {
  test(`ComfyUI routes: every id × method × spelling (${COMFY_CASES.length} requests per caller)`, async () => {
    const { failures, checked } = await runMatrix(COMFY_CASES);
    expect(failures).toEqual([]);
    expect(checked).toBe(COMFY_CASES.length * CALLERS.length);
  });

  test(`front-end static rules (${STATIC_CASES.length} requests per caller)`, async () => {
    const { failures } = await runMatrix(STATIC_CASES);
    expect(failures).toEqual([]);
  });

  test(`custom-node families, both spellings (${CUSTOM_CASES.length} requests per caller)`, async () => {
    const { failures } = await runMatrix(CUSTOM_CASES);
    expect(failures).toEqual([]);
  });

  test(`unknown routes and spellings ComfyUI does not serve are owner/admin only (${UNKNOWN_CASES.length} requests per caller)`, async () => {
    const { failures } = await runMatrix(UNKNOWN_CASES);
    expect(failures).toEqual([]);
  });

  // HEAD answers carry no body to filter: they pass through with the status their GET gets.
  test("an allowed HEAD is answered with the status its GET gets", () => {
    const gets = new Map<string, number>();
    for (const o of ALL_OUTCOMES) if (o.c.method === "GET") gets.set(`${o.caller} ${o.c.path}`, o.status);
    const differing = ALL_OUTCOMES.filter((o) => o.c.method === "HEAD" && gets.has(`${o.caller} ${o.c.path}`) && gets.get(`${o.caller} ${o.c.path}`) !== o.status).map((o) => `${o.caller} HEAD ${o.c.path}: ${o.status}, GET: ${gets.get(`${o.caller} ${o.c.path}`)}`);
    expect(ALL_OUTCOMES.length).toBeGreaterThan(0);
    expect(differing).toEqual([]);
  });

  test("the matrix is not vacuous: every caller is refused somewhere and allowed somewhere (anonymous: refused everywhere)", async () => {
    const counts = new Map<Caller, { allowed: number; refused: number }>();
    for (const caller of CALLERS) {
      const tally = { allowed: 0, refused: 0 };
      for (const c of ALL_CASES) expectedFor(caller, c).allow ? tally.allowed++ : tally.refused++;
      counts.set(caller, tally);
    }
    expect(counts.get("anonymous")!.allowed).toBe(0);
    for (const role of ["guest", "user", "power"] as const) {
      expect(counts.get(role)!.allowed).toBeGreaterThan(0);
      expect(counts.get(role)!.refused).toBeGreaterThan(0);
    }
    // Owner and admin: refused nowhere; guests refused more than users, users more than power users.
    expect(counts.get("owner")!.refused).toBe(0);
    expect(counts.get("admin")!.refused).toBe(0);
    expect(counts.get("guest")!.refused).toBeGreaterThan(counts.get("user")!.refused);
    expect(counts.get("user")!.refused).toBeGreaterThan(counts.get("power")!.refused);
  });
});
