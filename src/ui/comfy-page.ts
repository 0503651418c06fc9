/**
 * UI enforcement enters ComfyUI's page in two places (spec comfyui-api.md §6.3):
 * - `GET /` and `/index.html`: the gateway streams the page through HTMLRewriter and puts, as
 *   the first things in <head>, the caller's state (JSON), a stylesheet hiding what the role may
 *   not use (computed here, so nothing flashes before scripts run) and the early classic script.
 * - `GET /api/extensions`: the gateway's extension module is appended, so the front end imports
 *   it like any custom node's and it can use the front end's own APIs.
 * Both answers depend on who asks, so they are never served from a shared cache, and the page's
 * ETag is the gateway's own (ComfyUI's one, mixed with what was injected).
 */
import { hidingCss } from "../../static/ui/comfy/ui-rules.ts";
import { PAGE_STATE_ID, type PageState } from "../../static/ui/comfy/page-state.ts";
import type { AccessDecision, ForwardChanges } from "../gateway/pipeline.ts";
import type { Logger } from "../log.ts";
import { COMFY_EARLY_SCRIPT_URL, COMFY_EXTENSION_URL } from "./ui-routes.ts";

/**
 * Asks ComfyUI for the whole page, unencoded: a conditional (304, 412) or partial (206) answer
 * would be ComfyUI's page without the gateway's additions.
 */
const FULL_PAGE: ForwardChanges = {
  method: "GET",
  headers: { "accept-encoding": "identity", "cache-control": "no-cache" },
  dropHeaders: ["range", "if-range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since"],
};

/** JSON inside <script type="application/json">: nothing in it may close the element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

export function pageInjection(state: PageState): string {
  return (
    `<script type="application/json" id="${PAGE_STATE_ID}">${scriptJson(state)}</script>` +
    `<style id="mss-login-hide">${hidingCss(state.permissions)}</style>` +
    `<script src="${COMFY_EARLY_SCRIPT_URL}"></script>`
  );
}

function isHtml(response: Response): boolean {
  return (response.headers.get("content-type") ?? "").toLowerCase().startsWith("text/html");
}

/** The intercept for ComfyUI's page: one injection, streamed, with an ETag of the gateway's own. */
export function comfyPageIntercept(request: Request, state: PageState, log: Logger) {
  return async (forward: (changes?: ForwardChanges) => Promise<Response>): Promise<Response> => {
    // Read before forwarding: the forward sets its own validator on the request's headers.
    const wanted = request.headers.get("if-none-match");
    const upstream = await forward(FULL_PAGE);
    if (upstream.status !== 200 || !isHtml(upstream)) return upstream;
    if (upstream.headers.has("content-encoding")) {
      // ComfyUI ignored "identity": pass the page on unchanged (the extension still loads via /api/extensions).
      log.warn("ComfyUI's page came encoded; UI hiding styles not injected", { encoding: upstream.headers.get("content-encoding") });
      return upstream;
    }
    const injection = pageInjection(state);
    const headers = new Headers(upstream.headers);
    headers.delete("content-length");
    headers.delete("last-modified");
    headers.set("cache-control", "no-cache, private");
    headers.set("vary", "cookie");
    const etag = `W/"mss-${Bun.hash(`${upstream.headers.get("etag") ?? upstream.headers.get("last-modified") ?? ""}|${injection}`).toString(36)}"`;
    headers.set("etag", etag);
    if (etag !== null && wanted !== null && wanted.split(",").some((tag) => tag.trim() === etag)) {
      await upstream.body?.cancel();
      headers.delete("content-type");
      return new Response(null, { status: 304, headers });
    }
    if (request.method === "HEAD" || upstream.body === null) {
      await upstream.body?.cancel();
      return new Response(null, { status: 200, headers });
    }
    // In <head> once; a page without an explicit <head> gets it at the start of <body>.
    let injected = false;
    const rewriter = new HTMLRewriter()
      .on("head", {
        element(element) {
          if (injected) return;
          injected = true;
          element.prepend(injection, { html: true });
        },
      })
      .on("body", {
        element(element) {
          if (injected) return;
          injected = true;
          element.prepend(injection, { html: true });
        },
      });
    return rewriter.transform(new Response(upstream.body, { status: 200, statusText: upstream.statusText, headers }));
  };
}

/** `/api/extensions` with the gateway's extension module added (once). */
export function extensionsIntercept(request: Request) {
  return async (forward: (changes?: ForwardChanges) => Promise<Response>): Promise<Response> => {
    // HEAD is answered from the same list as GET, so the two agree on the length.
    const response = await forward({ method: "GET", headers: { "accept-encoding": "identity" }, dropHeaders: ["range", "if-range", "if-none-match", "if-modified-since"] });
    const answer = await withGatewayExtension(response);
    return request.method === "HEAD" ? new Response(null, { status: answer.status, headers: answer.headers }) : answer;
  };
}

async function withGatewayExtension(response: Response): Promise<Response> {
  if (response.status !== 200 || response.headers.has("content-encoding")) return response;
  let list: unknown;
  try {
    list = await response.clone().json();
  } catch {
    return response;
  }
  if (!Array.isArray(list)) return response;
  const urls = list.filter((url) => url !== COMFY_EXTENSION_URL);
  urls.push(COMFY_EXTENSION_URL);
  const headers = new Headers(response.headers);
  for (const name of ["content-length", "content-encoding", "etag", "last-modified"]) headers.delete(name);
  headers.set("content-type", "application/json; charset=utf-8");
  headers.set("cache-control", "no-cache, private");
  const body = JSON.stringify(urls);
  headers.set("content-length", String(Buffer.byteLength(body)));
  return new Response(body, { status: 200, headers });
}

/** Route ids whose answers carry the gateway's UI. */
export function carriesGatewayUi(routeId: string, method: string): boolean {
  return (routeId === "static.index" || routeId === "extensions") && (method === "GET" || method === "HEAD");
}

/** Adds the UI rewriting to an allowed decision for ComfyUI's page or its extension list. */
export function withGatewayUi(decision: AccessDecision, request: Request, routeId: string, state: Omit<PageState, "comfyUser">, log: Logger): AccessDecision {
  if (!decision.allow) return decision;
  if (routeId === "extensions") return { ...decision, intercept: extensionsIntercept(request) };
  const comfyUser = decision.upstreamHeaders?.["comfy-user"] ?? null;
  return { ...decision, intercept: comfyPageIntercept(request, { ...state, comfyUser }, log) };
}
