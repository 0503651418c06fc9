/**
 * aiohttp-style route matching. Routes are tried in registration order; `{name}` matches one
 * raw path segment (so `%2F` stays inside a parameter, spec §3.7) and the value is percent-
 * decoded once. A path that some route knows but not for this method gives 405; a path nobody
 * knows falls through to the static catch-all, which only knows GET and HEAD.
 */
import type { RequestContext } from "./request-context.ts";
import { pyUnquote } from "./virtual-paths.ts";

/** undefined means the request was upgraded to a WebSocket. */
export type Handler = (ctx: RequestContext) => Response | undefined | Promise<Response | undefined>;

interface CompiledRoute {
  method: string;
  segments: string[];
  handler: Handler;
}

export type RouteMatch =
  | { kind: "route"; handler: Handler; params: Record<string, string> }
  | { kind: "method-not-allowed"; allowed: Set<string> }
  | { kind: "no-route" };

const PARAM = /^\{(\w+)\}$/;

function matchSegments(pattern: string[], raw: string[]): Record<string, string> | null {
  if (pattern.length !== raw.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const expected = pattern[i] as string;
    const actual = raw[i] as string;
    const param = PARAM.exec(expected);
    if (param !== null) {
      if (actual === "") return null;
      params[param[1] as string] = pyUnquote(actual);
    } else if (pyUnquote(actual) !== expected) {
      return null;
    }
  }
  return params;
}

export class RouteTable {
  private readonly routes: CompiledRoute[] = [];

  add(method: string, path: string, handler: Handler): void {
    this.routes.push({ method, segments: path.split("/"), handler });
  }

  match(method: string, rawPath: string): RouteMatch {
    const raw = rawPath.split("/");
    const allowed = new Set<string>();
    for (const route of this.routes) {
      const params = matchSegments(route.segments, raw);
      if (params === null) continue;
      // aiohttp's add_get also answers HEAD.
      if (route.method === method || (method === "HEAD" && route.method === "GET")) {
        return { kind: "route", handler: route.handler, params };
      }
      allowed.add(route.method);
      if (route.method === "GET") allowed.add("HEAD");
    }
    return allowed.size > 0 ? { kind: "method-not-allowed", allowed } : { kind: "no-route" };
  }
}

/** A route of `PromptServer.routes`: served at `/x` and, first, at `/api/x`. */
export interface RouteSpec {
  method: "GET" | "POST" | "DELETE" | "PUT" | "PATCH";
  path: string;
  handler: Handler;
}

export function addMirrored(table: RouteTable, specs: RouteSpec[]): void {
  for (const spec of specs) table.add(spec.method, `/api${spec.path}`, spec.handler);
  for (const spec of specs) table.add(spec.method, spec.path, spec.handler);
}

export function addPlain(table: RouteTable, specs: RouteSpec[]): void {
  for (const spec of specs) table.add(spec.method, spec.path, spec.handler);
}
