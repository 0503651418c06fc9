/**
 * Route classification (request flow step 4, second half): a canonical request target plus
 * a method becomes a route id that policy can decide on.
 *
 * Order of precedence:
 *   1. the gateway's own namespace (`/mss-login/...`, `/api/mss-login/...`)  -> kind "own"
 *   2. a ComfyUI route of `COMFY_ROUTES`, in any spelling ComfyUI serves it  -> kind "comfy"
 *   3. a front-end static file of `FRONTEND_STATIC_FILES`                    -> kind "static"
 *   4. anything else (including `/API/PROMPT`, `/api/api/prompt`, `/api/prompt/`) -> "unknown";
 *      when it belongs to a custom-node family of `CUSTOM_ROUTE_FAMILIES` its route id is
 *      `custom.<family>` (policy can open it by that id), otherwise `unknown`.
 *
 * Matching follows aiohttp: routes are case-sensitive, a `{param}` is one non-empty segment,
 * the first route (in table order) whose path matches and accepts the method wins, and when
 * paths match but no route accepts the method the answer is 405 (`methodAllowed: false`).
 * The query string never takes part. The tables are compiled once into maps keyed by the
 * first one or two segments; a request costs a map lookup or two and a few comparisons.
 */

import {
  COMFY_ROUTES,
  CUSTOM_ROUTE_FAMILIES,
  FRONTEND_STATIC_FILES,
  OWN_COMPAT_MARK_NSFW,
  OWN_COMPAT_NAMESPACE_SEGMENT,
  OWN_NAMESPACE_SEGMENT,
  OWN_ROOT_PAGES,
} from "./comfy-routes.ts";
import type { ComfyRouteDef, CustomRouteFamilyDef, StaticFileRule } from "./comfy-routes.ts";
import type { RequestTarget } from "./request-target.ts";

export type RouteKind = "comfy" | "static" | "own" | "unknown";

/** How the request spelled the path: under `/api/...`, under `/internal/...`, or neither. */
export type Spelling = "plain" | "api" | "internal";

export interface RouteMatch {
  readonly kind: RouteKind;
  /** A `COMFY_ROUTES` id, a static rule id, `own`, or for kind "unknown" `custom.<family>` or `unknown`. */
  readonly routeId: string;
  /**
   * Path parameters, decoded. For the userdata routes `file` and `dest` are the fully decoded
   * relative paths (`workflows/a.json` for `workflows%2Fa.json` and `workflows%252Fa.json`).
   * Static files: `file` (and `module` under /extensions). Own and custom families: `rest`.
   */
  readonly params: Readonly<Record<string, string>>;
  readonly spelling: Spelling;
  /**
   * False when the route is known not to accept the method (the gateway answers 405), and
   * for every OPTIONS request, which never reaches a handler upstream.
   */
  readonly methodAllowed: boolean;
  /** The method is OPTIONS: the gateway answers it itself. */
  readonly preflight: boolean;
  /** The matched route is a WebSocket endpoint (`/ws`, `/api/ws`). */
  readonly websocket: boolean;
  /** Methods the matched route accepts (for `Allow`); empty when not known. */
  readonly allowedMethods: readonly string[];
  /** The ComfyUI route definition when kind is "comfy". */
  readonly route: ComfyRouteDef | null;
}

export type RouteClassifier = (target: RequestTarget, method: string) => RouteMatch;

// ---------------------------------------------------------------------------------------------
// Compilation of the ComfyUI route patterns.

const LITERAL = 0;
const PARAM = 1;
const TAIL = 2;

interface SegmentMatcher {
  readonly kind: typeof LITERAL | typeof PARAM | typeof TAIL;
  /** The literal text, or the parameter name. */
  readonly text: string;
  readonly uuidOnly: boolean;
}

interface CompiledRoute {
  readonly route: ComfyRouteDef;
  readonly matchers: readonly SegmentMatcher[];
  readonly hasTail: boolean;
  /** Position in table order; the lowest matching one wins, as in aiohttp. */
  readonly order: number;
  readonly allowedMethods: readonly string[];
  /** `/userdata/{file}` or `/userdata/{file}/move/{dest}`: parameters come from the target. */
  readonly userdataPath: boolean;
}

function parsePattern(path: string, routeId: string): SegmentMatcher[] {
  if (!path.startsWith("/") || path.endsWith("/")) {
    throw new Error(`route ${routeId}: pattern must start and not end with '/': ${path}`);
  }
  return path
    .slice(1)
    .split("/")
    .map((part, index, parts): SegmentMatcher => {
      if (part === "") throw new Error(`route ${routeId}: empty segment in ${path}`);
      if (!part.startsWith("{")) return { kind: LITERAL, text: part, uuidOnly: false };
      const inner = part.slice(1, -1);
      if (!part.endsWith("}") || inner === "") throw new Error(`route ${routeId}: bad parameter ${part}`);
      if (inner.endsWith("*")) {
        if (index !== parts.length - 1) throw new Error(`route ${routeId}: {name*} must be last`);
        return { kind: TAIL, text: inner.slice(0, -1), uuidOnly: false };
      }
      const [name = "", constraint] = inner.split(":");
      if (constraint !== undefined && constraint !== "uuid") {
        throw new Error(`route ${routeId}: unknown constraint ${constraint}`);
      }
      return { kind: PARAM, text: name, uuidOnly: constraint === "uuid" };
    });
}

const API_SEGMENT: SegmentMatcher = { kind: LITERAL, text: "api", uuidOnly: false };

/** Every concrete spelling ComfyUI serves a route at, as segment matchers. */
function spellingsOf(route: ComfyRouteDef): SegmentMatcher[][] {
  const declared = parsePattern(route.path, route.id);
  if (route.registration === "internal" && declared[0]?.text !== "internal") {
    throw new Error(`route ${route.id}: internal routes live under /internal`);
  }
  return route.registration === "prompt-server" ? [declared, [API_SEGMENT, ...declared]] : [declared];
}

/** The concrete paths a route answers to, e.g. `/prompt` and `/api/prompt` (for docs/explain). */
export function routeSpellings(route: ComfyRouteDef): string[] {
  return spellingsOf(route).map(
    (matchers) =>
      "/" +
      matchers
        .map((m) => (m.kind === LITERAL ? m.text : m.kind === TAIL ? `{${m.text}*}` : `{${m.text}}`))
        .join("/"),
  );
}

function methodsWithImpliedHead(methods: readonly string[]): readonly string[] {
  return methods.includes("GET") && !methods.includes("HEAD") ? [...methods, "HEAD"] : [...methods];
}

function isUserdataPattern(matchers: readonly SegmentMatcher[]): boolean {
  const base = matchers[0]?.text === "api" && matchers[0].kind === LITERAL ? 1 : 0;
  const at = (i: number): SegmentMatcher | undefined => matchers[base + i];
  if (at(0)?.kind !== LITERAL || at(0)?.text !== "userdata") return false;
  const rest = matchers.length - base;
  if (rest === 2) return at(1)?.kind === PARAM && at(1)?.text === "file";
  return rest === 4 && at(1)?.text === "file" && at(2)?.text === "move" && at(3)?.text === "dest";
}

function isCanonicalUuid(value: string): boolean {
  if (value.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const code = value.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (code !== 0x2d) return false;
    } else if (!((code >= 0x30 && code <= 0x39) || ((code | 0x20) >= 0x61 && (code | 0x20) <= 0x66))) {
      return false;
    }
  }
  return true;
}

/** Could one path match both patterns? (A tail stands for one or more arbitrary segments.) */
function patternsOverlap(a: readonly SegmentMatcher[], b: readonly SegmentMatcher[]): boolean {
  const aTail = a[a.length - 1]?.kind === TAIL;
  const bTail = b[b.length - 1]?.kind === TAIL;
  if (!aTail && !bTail && a.length !== b.length) return false;
  if (aTail && !bTail && b.length < a.length) return false;
  if (bTail && !aTail && a.length < b.length) return false;
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a[Math.min(i, a.length - 1)];
    const y = b[Math.min(i, b.length - 1)];
    if (x === undefined || y === undefined) return false;
    if (x.kind === LITERAL && y.kind === LITERAL && x.text !== y.text) return false;
    if (x.kind === LITERAL && y.kind === PARAM && y.uuidOnly && !isCanonicalUuid(x.text)) return false;
    if (y.kind === LITERAL && x.kind === PARAM && x.uuidOnly && !isCanonicalUuid(y.text)) return false;
  }
  return true;
}

function pathMatches(compiled: CompiledRoute, segments: readonly string[]): boolean {
  const matchers = compiled.matchers;
  if (compiled.hasTail ? segments.length < matchers.length : segments.length !== matchers.length) return false;
  for (let i = 0; i < matchers.length; i++) {
    const matcher = matchers[i];
    const segment = segments[i];
    if (matcher === undefined || segment === undefined) return false;
    if (matcher.kind === LITERAL) {
      if (segment !== matcher.text) return false;
    } else if (matcher.kind === PARAM && matcher.uuidOnly && !isCanonicalUuid(segment)) {
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Static files.

/** Characters accepted in a static file path segment (a tight set; non-ASCII letters too). */
const STATIC_CHAR_OK = new Uint8Array(128);
for (const ch of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~@+(),=!$&' ") {
  STATIC_CHAR_OK[ch.charCodeAt(0)] = 1;
}

/** No hidden files (`.env`, `.git`), no `?`, `#`, `%`, `;`, `:` or controls in static names. */
function isStaticSegment(segment: string): boolean {
  if (segment.charCodeAt(0) === 0x2e) return false;
  for (let i = 0; i < segment.length; i++) {
    const code = segment.charCodeAt(i);
    if (code < 0x80 ? STATIC_CHAR_OK[code] !== 1 : code < 0xa0) return false;
  }
  return true;
}

function extensionOf(fileName: string): string {
  const dot = fileName.lastIndexOf(".");
  return dot <= 0 ? "" : fileName.slice(dot + 1).toLowerCase();
}

interface CompiledStaticRule {
  readonly rule: StaticFileRule;
  readonly names: ReadonlySet<string>;
  readonly extensions: ReadonlySet<string>;
}

// ---------------------------------------------------------------------------------------------
// Custom-node families.

interface CompiledFamilyPrefix {
  readonly family: CustomRouteFamilyDef;
  readonly segments: readonly string[];
}

// ---------------------------------------------------------------------------------------------

const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});
const NO_METHODS: readonly string[] = Object.freeze([]);
const STATIC_METHODS: readonly string[] = Object.freeze(["GET", "HEAD"]);

function spellingOf(segments: readonly string[]): Spelling {
  const first = segments[0];
  return first === "api" ? "api" : first === "internal" ? "internal" : "plain";
}

function pairKey(first: string, second: string): string {
  return first + "\u0000" + second; // segments never contain NUL
}

function addTo<V>(map: Map<string, V[]>, key: string, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/**
 * Compile route tables into a classifier. The default tables give `classifyRoute`; tests
 * and a future configurable allow-list can build their own. Throws when a table is
 * inconsistent (bad pattern, duplicate id, two routes claiming the same path and method).
 */
export function buildRouteClassifier(
  comfyRoutes: readonly ComfyRouteDef[],
  staticRules: readonly StaticFileRule[],
  families: readonly CustomRouteFamilyDef[],
): RouteClassifier {
  // ComfyUI routes, indexed by their first two literal segments when the second one is a
  // literal, otherwise by the first one.
  const byFirstTwo = new Map<string, CompiledRoute[]>();
  const byFirst = new Map<string, CompiledRoute[]>();
  const seenIds = new Set<string>();
  const compiledSoFar: CompiledRoute[] = [];
  let order = 0;
  for (const route of comfyRoutes) {
    if (seenIds.has(route.id)) throw new Error(`duplicate route id ${route.id}`);
    seenIds.add(route.id);
    const allowedMethods = Object.freeze(methodsWithImpliedHead(route.methods));
    for (const matchers of spellingsOf(route)) {
      const first = matchers[0];
      const second = matchers[1];
      if (first === undefined || first.kind !== LITERAL) {
        throw new Error(`route ${route.id}: must start with a literal segment`);
      }
      const compiled: CompiledRoute = {
        route,
        matchers,
        hasTail: matchers[matchers.length - 1]?.kind === TAIL,
        order: order++,
        allowedMethods,
        userdataPath: isUserdataPattern(matchers),
      };
      // Two routes may match the same path only with disjoint methods (aiohttp then picks by
      // method), so the table's order never decides which handler a request reaches.
      for (const earlier of compiledSoFar) {
        if (patternsOverlap(earlier.matchers, matchers) && earlier.allowedMethods.some((m) => allowedMethods.includes(m))) {
          throw new Error(`routes ${earlier.route.id} and ${route.id} both claim a path for the same method`);
        }
      }
      compiledSoFar.push(compiled);
      if (second !== undefined && second.kind === LITERAL) addTo(byFirstTwo, pairKey(first.text, second.text), compiled);
      else addTo(byFirst, first.text, compiled);
    }
  }

  const staticByDirectory = new Map<string, CompiledStaticRule>();
  const staticRootFiles = new Map<string, CompiledStaticRule>();
  for (const rule of staticRules) {
    const compiled: CompiledStaticRule = {
      rule,
      names: new Set(rule.names ?? []),
      extensions: new Set((rule.extensions ?? []).map((e) => e.toLowerCase())),
    };
    if (rule.directory === "") {
      for (const name of compiled.names) {
        if (staticRootFiles.has(name)) throw new Error(`static file ${name} listed twice`);
        staticRootFiles.set(name, compiled);
      }
    } else {
      if (staticByDirectory.has(rule.directory)) throw new Error(`static directory ${rule.directory} listed twice`);
      staticByDirectory.set(rule.directory, compiled);
    }
  }
  const indexRule = staticRootFiles.get("index.html");

  const familyPrefixes = new Map<string, CompiledFamilyPrefix[]>();
  for (const family of families) {
    for (const prefix of family.prefixes) {
      const first = prefix[0];
      if (first === undefined || first === "api" || first === OWN_NAMESPACE_SEGMENT || staticByDirectory.has(first)) {
        throw new Error(`custom family ${family.id}: prefix /${prefix.join("/")} is not allowed`);
      }
      addTo(familyPrefixes, first, { family, segments: prefix });
      if (family.apiMirror) addTo(familyPrefixes, "api", { family, segments: ["api", ...prefix] });
    }
  }

  // A path whose first two segments have literal candidates may still match a route keyed by
  // its first segment only (a parameter in second place): merge those in, keeping table order.
  for (const [key, list] of byFirstTwo) {
    const first = key.slice(0, key.indexOf("\u0000"));
    list.push(...(byFirst.get(first) ?? []));
    list.sort((a, b) => a.order - b.order);
  }

  function matchComfy(segments: readonly string[], method: string): { compiled: CompiledRoute; methodAllowed: boolean } | null {
    const first = segments[0];
    if (first === undefined) return null;
    const second = segments[1];
    const candidates = (second !== undefined ? byFirstTwo.get(pairKey(first, second)) : undefined) ?? byFirst.get(first);
    if (candidates === undefined) return null;
    let firstPathMatch: CompiledRoute | null = null;
    for (const compiled of candidates) {
      if (!pathMatches(compiled, segments)) continue;
      if (compiled.allowedMethods.includes(method)) return { compiled, methodAllowed: true };
      firstPathMatch ??= compiled;
    }
    return firstPathMatch === null ? null : { compiled: firstPathMatch, methodAllowed: false };
  }

  function matchStatic(segments: readonly string[]): { rule: StaticFileRule; params: Record<string, string> } | null {
    if (segments.length === 0) return indexRule ? { rule: indexRule.rule, params: { file: "index.html" } } : null;
    const first = segments[0] ?? "";
    if (segments.length === 1) {
      const rootFile = staticRootFiles.get(first);
      return rootFile ? { rule: rootFile.rule, params: { file: first } } : null;
    }
    const compiled = staticByDirectory.get(first);
    if (!compiled) return null;
    const fileStart = compiled.rule.moduleDirectory ? 2 : 1;
    if (segments.length <= fileStart) return null;
    for (let i = 1; i < segments.length; i++) {
      if (!isStaticSegment(segments[i] ?? "")) return null;
    }
    if (!compiled.extensions.has(extensionOf(segments[segments.length - 1] ?? ""))) return null;
    const file = segments.slice(fileStart).join("/");
    return {
      rule: compiled.rule,
      params: compiled.rule.moduleDirectory ? { module: segments[1] ?? "", file } : { file },
    };
  }

  function matchFamily(segments: readonly string[]): { family: CustomRouteFamilyDef; rest: string } | null {
    const candidates = familyPrefixes.get(segments[0] ?? "");
    if (!candidates) return null;
    for (const candidate of candidates) {
      const prefix = candidate.segments;
      if (segments.length < prefix.length) continue;
      let equal = true;
      for (let i = 0; i < prefix.length && equal; i++) equal = segments[i] === prefix[i];
      if (equal) return { family: candidate.family, rest: segments.slice(prefix.length).join("/") };
    }
    return null;
  }

  return function classify(target: RequestTarget, method: string): RouteMatch {
    const segments = target.segments;
    const preflight = method === "OPTIONS";
    const spelling = spellingOf(segments);

    const ownAt = segments[0] === OWN_NAMESPACE_SEGMENT ? 1 : spelling === "api" && segments[1] === OWN_NAMESPACE_SEGMENT ? 2 : 0;
    if (ownAt > 0) return prefixMatch("own", "own", segments.slice(ownAt).join("/"), spelling, preflight);
    if (segments.length === 2 && segments[0] === OWN_COMPAT_NAMESPACE_SEGMENT && segments[1] === OWN_COMPAT_MARK_NSFW) return prefixMatch("own", "own", segments.join("/"), spelling, preflight);
    if (segments.length === 1 && !target.trailingSlash && OWN_ROOT_PAGES.has(segments[0]!)) return prefixMatch("own", "own", segments[0]!, spelling, preflight);

    // No ComfyUI route and no static file ends in '/': '/api/prompt/' is another (404) path.
    if (!target.trailingSlash) {
      const comfy = matchComfy(segments, method);
      if (comfy !== null) {
        const { compiled } = comfy;
        let params: Record<string, string> = {};
        if (compiled.userdataPath) {
          // The %2F exception is granted by the canonicaliser for exactly these shapes.
          if (target.userdata === null) return unknown(spelling, preflight);
          params.file = target.userdata.file;
          if (target.userdata.dest !== null) params.dest = target.userdata.dest;
        } else {
          params = paramsOf(compiled, segments);
        }
        return {
          kind: "comfy",
          routeId: compiled.route.id,
          params,
          spelling,
          methodAllowed: comfy.methodAllowed && !preflight,
          preflight,
          websocket: compiled.route.websocket === true,
          allowedMethods: compiled.allowedMethods,
          route: compiled.route,
        };
      }

      const staticFile = matchStatic(segments);
      if (staticFile !== null) {
        return {
          kind: "static",
          routeId: staticFile.rule.id,
          params: staticFile.params,
          spelling,
          methodAllowed: method === "GET" || method === "HEAD",
          preflight,
          websocket: false,
          allowedMethods: STATIC_METHODS,
          route: null,
        };
      }
    }

    const custom = matchFamily(segments);
    if (custom !== null) {
      // Still unknown to ComfyUI's route table (deny by default); the family id lets policy
      // attach a permission to it.
      return prefixMatch("unknown", "custom." + custom.family.id, custom.rest, spelling, preflight);
    }

    return unknown(spelling, preflight);
  };
}

/** A match on a path prefix (the gateway's namespace, a custom-node family): the rest is a parameter. */
function prefixMatch(kind: "own" | "unknown", routeId: string, rest: string, spelling: Spelling, preflight: boolean): RouteMatch {
  return {
    kind,
    routeId,
    params: { rest },
    spelling,
    methodAllowed: !preflight,
    preflight,
    websocket: false,
    allowedMethods: NO_METHODS,
    route: null,
  };
}

function paramsOf(compiled: CompiledRoute, segments: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  const matchers = compiled.matchers;
  for (let i = 0; i < matchers.length; i++) {
    const matcher = matchers[i];
    if (matcher === undefined || matcher.kind === LITERAL) continue;
    params[matcher.text] = matcher.kind === TAIL ? segments.slice(i).join("/") : (segments[i] ?? "");
  }
  return params;
}

// Unknown results carry no per-request data, so they are shared.
const UNKNOWN_RESULTS = new Map<string, RouteMatch>();
for (const spelling of ["plain", "api", "internal"] as const) {
  for (const preflight of [false, true]) {
    UNKNOWN_RESULTS.set(
      spelling + preflight,
      Object.freeze({
        kind: "unknown",
        routeId: "unknown",
        params: NO_PARAMS,
        spelling,
        // Upstream's methods are not known: deny-by-default policy decides, not a 405.
        methodAllowed: !preflight,
        preflight,
        websocket: false,
        allowedMethods: NO_METHODS,
        route: null,
      } satisfies RouteMatch),
    );
  }
}

function unknown(spelling: Spelling, preflight: boolean): RouteMatch {
  const result = UNKNOWN_RESULTS.get(spelling + preflight);
  if (result === undefined) throw new Error("unreachable: unknown result table incomplete");
  return result;
}

/** Classify a canonical request target with the gateway's built-in tables. */
export const classifyRoute: RouteClassifier = buildRouteClassifier(COMFY_ROUTES, FRONTEND_STATIC_FILES, CUSTOM_ROUTE_FAMILIES);

/** Everything the classifier knows, for `mss-login policy explain` and the docs. */
export const ROUTE_TABLE = {
  comfy: COMFY_ROUTES,
  static: FRONTEND_STATIC_FILES,
  customFamilies: CUSTOM_ROUTE_FAMILIES,
  ownNamespace: OWN_NAMESPACE_SEGMENT,
} as const;
