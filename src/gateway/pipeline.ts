/**
 * The request flow for everything that reaches the gateway (design.md, "The way a request
 * flows"): one canonical target, one route, one decision, then the gateway's own handler or the
 * forwarder. `gateway/` knows nothing about how a caller is identified: `authorise` is handed in.
 */
import type { Server } from "bun";
import { errorResponse, wantsHtml } from "./error-response.ts";
import { forwardHttp, tooLarge, type ForwardOptions } from "./forward-http.ts";
import type { ClientInfo } from "./client-address.ts";
import type { OriginVerdict } from "./origin-check.ts";
import { canonicaliseBunRequestUrl } from "./request-target.ts";
import { classifyRoute, type RouteMatch } from "./route-table.ts";
import type { Upstream } from "./upstream.ts";
import { openRelay, type RelayData, type RelayPolicy, type RelayRegistry } from "./websocket-bridge.ts";

/** What an interceptor may change in the request it forwards. */
export interface ForwardChanges {
  /** Path and query (canonical form) instead of the authorised target. */
  target?: string;
  method?: string;
  /** A replacement body: bytes (length known) or a stream of `bodyLength` bytes (or chunked when null). */
  body?: Uint8Array | ReadableStream<Uint8Array>;
  bodyLength?: number | null;
  contentType?: string;
  /** Headers set on the upstream request, besides the decision's own. */
  headers?: Record<string, string>;
  /** Client headers not sent upstream (e.g. conditionals and ranges when the gateway rewrites the whole answer). */
  dropHeaders?: readonly string[];
}

export type AccessDecision =
  | {
      allow: true;
      upstreamHeaders?: Record<string, string>;
      /** For a WebSocket: asked again while it stays open; false closes it. */
      stillAllowed?: () => boolean;
      /** A filter over ComfyUI's answer before the client sees it (per-user views of shared data). */
      filterResponse?: (response: Response) => Response | Promise<Response>;
      /**
       * Takes the request over (per-user rewriting of bodies and targets, answers computed from
       * several upstream calls): `forward` sends to ComfyUI the request as authorised, or with
       * the changes given. Whatever it returns is the answer.
       */
      intercept?: (forward: (changes?: ForwardChanges) => Promise<Response>) => Promise<Response>;
      /** For a WebSocket: the per-user sid and message filter. */
      socketPolicy?: RelayPolicy;
    }
  | {
      allow: false;
      status: number;
      code: string;
      message: string;
      title?: string;
      /** A person navigating gets the sign-in page (then comes back) instead of an error page. */
      loginRedirect?: boolean;
    };

export interface ClassifiedRequest {
  request: Request;
  route: RouteMatch;
  /** Canonical path used for the decision. */
  path: string;
  /** Raw query string ("" or "?…"). */
  search: string;
  /** Who is asking (trusted-proxy aware); computed on first use. */
  client(): ClientInfo;
}

export interface PipelineOptions {
  upstream: Upstream;
  maxUploadBytes: number;
  /** `host[:port]` values the gateway answers to; empty means any Host. */
  allowedHosts: ReadonlySet<string>;
  /** Open WebSocket relays, re-checked while they last. */
  relays?: RelayRegistry;
  /** Refuses browser requests made by other sites (CSRF, cross-site WebSocket hijacking). */
  checkOrigin(request: Request): OriginVerdict;
  /** Step 1: the client's address from the socket peer and trusted proxies' headers. */
  resolveClient(socketAddress: string | null, headers: Headers): ClientInfo;
  /** Step 2: the IP filter; skipped while it has no rules (then the client is not even resolved). */
  ipFilter?: { active(): boolean; refuse(client: ClientInfo, request: Request): Response | null };
  /** Steps 3 and 5: identity and policy, supplied by the composition root. */
  authorise(classified: ClassifiedRequest): AccessDecision | Promise<AccessDecision>;
  /** The gateway's own routes (login, admin, health): an Elysia app's `handle`. */
  handleOwnRoute(request: Request, client: () => ClientInfo): Response | Promise<Response>;
}

/** Query parameters that carry credentials for the gateway; ComfyUI never sees them. */
const CREDENTIAL_PARAMS = new Set(["ticket", "token", "access_token"]);

/**
 * The query without credential parameters, every other byte as received (a re-encoding
 * URLSearchParams round trip would change what ComfyUI gets).
 */
export function withoutCredentialParams(search: string): string {
  // Fast path for the usual query; an encoded name (`%74oken`) takes the careful one.
  if (!search.includes("ticket") && !search.includes("token") && !search.includes("%")) return search;
  const kept = search
    .slice(1)
    .split("&")
    .filter((pair) => {
      const name = pair.split("=", 1)[0]!;
      let decoded = name;
      try {
        decoded = decodeURIComponent(name.replace(/\+/g, " "));
      } catch {
        // leave undecodable names as they are
      }
      return !CREDENTIAL_PARAMS.has(decoded);
    });
  return kept.length === 0 ? "" : `?${kept.join("&")}`;
}

/**
 * Routes that serve files users put there (uploads, outputs, saved data): opened as a page,
 * such a file (an SVG or HTML upload) must not run script on the gateway's origin, where it could
 * act with the viewer's session (an admin's, say). `sandbox` gives it an origin of its own.
 */
const USER_FILE_ROUTES = new Set(["view", "view_metadata", "experiment.models.preview", "userdata.file", "workflow_templates.file", "assets.item.content", "internal.files"]);
const USER_FILE_HEADERS: Readonly<Record<string, string>> = { "content-security-policy": "sandbox", "x-content-type-options": "nosniff" };

/** Routes whose answers are usually large files (see ForwardOptions.largeResponses). */
const LARGE_RESPONSE_ROUTES = new Set(["view", "experiment.models.preview", "assets.item.content"]);

export function createPipeline(options: PipelineOptions) {
  const { upstream } = options;
  // A forwarded request may sit quiet while ComfyUI works on it: give it the response timeout
  // (and a margin) before Bun's idle timer closes the connection. Bun's limit is 255 s; past it
  // the idle timer is switched off and the gateway's own response timeout governs.
  const quietSeconds = Math.ceil(upstream.responseTimeoutMs / 1000) + 10;
  const forwardIdleSeconds = quietSeconds <= 255 ? quietSeconds : 0;

  return async function handle(request: Request, server: Server<RelayData>): Promise<Response | undefined> {
    if (options.allowedHosts.size > 0) {
      const host = (request.headers.get("host") ?? "").toLowerCase();
      if (!options.allowedHosts.has(host)) {
        return errorResponse(request, 421, "UNKNOWN_HOST", "This gateway does not serve that host name.", "Unknown host");
      }
    }

    const origin = options.checkOrigin(request);
    if (!origin.ok) return errorResponse(request, 403, origin.code, origin.message, "Refused: request from another site");

    const canonical = canonicaliseBunRequestUrl(request.url);
    if (!canonical.ok) return errorResponse(request, canonical.status, canonical.code, canonical.error, "Bad request");
    const { target } = canonical;
    const route = classifyRoute(target, request.method);

    let client: ClientInfo | null = null;
    const clientOf = () => (client ??= options.resolveClient(server.requestIP(request)?.address ?? null, request.headers));
    if (options.ipFilter !== undefined && options.ipFilter.active()) {
      const refused = options.ipFilter.refuse(clientOf(), request);
      if (refused !== null) return refused;
    }
    if (route.kind === "own") return options.handleOwnRoute(request, clientOf);

    const classified: ClassifiedRequest = { request, route, path: target.path, search: target.search, client: clientOf };
    const pending = options.authorise(classified);
    // Most decisions are ready at once; awaiting only real promises keeps the hot path tick-free.
    const decision = pending instanceof Promise ? await pending : pending;
    if (!decision.allow) {
      if (decision.loginRedirect && wantsHtml(request)) {
        // The address the user comes back to must not carry a credential into the sign-in page's history.
        const next = encodeURIComponent(target.forwardPath + withoutCredentialParams(target.search));
        return new Response(null, { status: 302, headers: { location: `/login?next=${next}`, "cache-control": "no-store" } });
      }
      return errorResponse(request, decision.status, decision.code, decision.message, decision.title ?? "Access denied");
    }

    if (!route.methodAllowed) {
      const allow = route.allowedMethods.length > 0 ? { allow: route.allowedMethods.join(", ") } : undefined;
      // OPTIONS never reaches ComfyUI: no CORS is offered, so the answer is just what is allowed.
      if (route.preflight) return new Response(null, { status: 204, headers: allow });
      return errorResponse(request, 405, "METHOD_NOT_ALLOWED", `${request.method} is not allowed on this route.`, "Method not allowed", allow);
    }

    const forwardSearch = withoutCredentialParams(target.search);
    const forwardTarget = target.forwardPath + forwardSearch;
    // A page opened with a credential in its address must not hand that address on as a Referer.
    const credentialInUrl = forwardSearch.length !== target.search.length;
    if (route.websocket && request.headers.get("upgrade")?.toLowerCase() === "websocket") {
      return openRelay(request, server, { upstream, forwardTarget, setHeaders: decision.upstreamHeaders, registry: options.relays, stillAllowed: decision.stillAllowed, policy: decision.socketPolicy });
    }
    // A declared body over the limit is refused before anyone (ComfyUI, an interceptor) reads a byte of it.
    const declaredLength = request.headers.get("content-length");
    if (declaredLength !== null && Number(declaredLength) > options.maxUploadBytes) return tooLarge(request, options.maxUploadBytes);
    server.timeout(request, forwardIdleSeconds);
    const forwardOptions = {
      upstream,
      forwardTarget,
      maxUploadBytes: options.maxUploadBytes,
      largeResponses: LARGE_RESPONSE_ROUTES.has(route.routeId),
      setHeaders: decision.upstreamHeaders,
      responseHeaders: USER_FILE_ROUTES.has(route.routeId) ? USER_FILE_HEADERS : undefined,
    };
    if (credentialInUrl) return noReferrer(forwardAllowed(request, decision, forwardOptions));
    return forwardAllowed(request, decision, forwardOptions);
  };
}

async function noReferrer(response: Promise<Response>): Promise<Response> {
  const answer = await response;
  answer.headers.set("referrer-policy", "no-referrer");
  return answer;
}

/** The forward itself: through the decision's interceptor or response filter when it has one. */
function forwardAllowed(request: Request, decision: Extract<AccessDecision, { allow: true }>, forwardOptions: ForwardOptions): Promise<Response> {
  if (decision.intercept) {
    return decision.intercept((changes = {}) =>
      forwardHttp(request, {
        ...forwardOptions,
        forwardTarget: changes.target ?? forwardOptions.forwardTarget,
        method: changes.method,
        setHeaders: changes.headers === undefined ? decision.upstreamHeaders : { ...decision.upstreamHeaders, ...changes.headers },
        dropHeaders: changes.dropHeaders,
        replacementBody: changes.body === undefined ? undefined : { body: changes.body, length: changes.body instanceof Uint8Array ? changes.body.byteLength : (changes.bodyLength ?? null), contentType: changes.contentType },
      }),
    );
  }
  const forwarded = forwardHttp(request, forwardOptions);
  return decision.filterResponse ? forwarded.then(decision.filterResponse) : forwarded;
}
