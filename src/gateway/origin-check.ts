/**
 * Cross-site request refusal. ComfyUI's own origin check cannot work behind a proxy (the
 * gateway rewrites Origin so that ComfyUI accepts it), so the gateway makes the same decision,
 * stricter, before anything is forwarded: a browser request that comes from another site may
 * navigate to the gateway, nothing more. Without this any web page a user visits could queue
 * prompts or open the WebSocket through the user's browser (CSRF, cross-site WebSocket hijacking).
 */

export type OriginVerdict = { ok: true } | { ok: false; code: string; message: string };

const OK: OriginVerdict = { ok: true };
const CROSS_SITE: OriginVerdict = {
  ok: false,
  code: "CROSS_SITE_REQUEST",
  message: "Requests from other web sites are refused; open the gateway's own address instead.",
};
const CROSS_ORIGIN: OriginVerdict = {
  ok: false,
  code: "CROSS_ORIGIN_REQUEST",
  message: "This request came from another origin and is refused.",
};

/** Another site may send the user here (a link, a bookmark page), but not embed or script us. */
function isTopLevelNavigation(request: Request): boolean {
  const mode = request.headers.get("sec-fetch-mode");
  const dest = request.headers.get("sec-fetch-dest");
  return mode === "navigate" && (request.method === "GET" || request.method === "HEAD") && dest !== "object" && dest !== "embed";
}

/**
 * `publicOrigins`: the origins users reach the gateway at (config `public_origins`); when empty,
 * an Origin must name the same host the request was sent to.
 */
const ORIGIN_REQUIRED: OriginVerdict = {
  ok: false,
  code: "ORIGIN_REQUIRED",
  message: "A change made with a session cookie must say where it comes from (Origin or Sec-Fetch-Site); use a current browser, or an API token.",
};

const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"]);

/** GET, HEAD, OPTIONS: methods that change nothing, which the cross-site defences let pass. */
export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method);
}

/**
 * `authenticatedByCookie`: a state-changing request it says yes to must show its origin: every
 * current browser sends Origin or Sec-Fetch-Site on such requests, so one with neither is not a
 * page of ours. (Passed in: `gateway/` does not know how callers are identified.)
 */
export function createOriginCheck(publicOrigins: readonly string[], authenticatedByCookie: (request: Request) => boolean = () => false): (request: Request) => OriginVerdict {
  const allowed = new Set(publicOrigins.map((origin) => new URL(origin).origin.toLowerCase()));

  return (request) => {
    // Fetch metadata, sent by every current browser: the cheapest and surest signal.
    const site = request.headers.get("sec-fetch-site");
    if (site === "cross-site" && !isTopLevelNavigation(request)) return CROSS_SITE;

    const origin = request.headers.get("origin");
    if (origin === null) {
      // Not a browser, or a same-origin GET/HEAD; but a cookie-borne change must show its origin.
      if (site === null && !isSafeMethod(request.method) && authenticatedByCookie(request)) return ORIGIN_REQUIRED;
      return OK;
    }
    // A form posted from a page with `Referrer-Policy: no-referrer` carries `Origin: null`; the
    // browser's own fetch metadata still says whether it came from this origin (an opaque
    // origin, such as a sandboxed frame, is reported as cross-site).
    if (origin === "null" && site === "same-origin") return OK;
    if (allowed.size > 0) return allowed.has(origin.toLowerCase()) ? OK : CROSS_ORIGIN;
    // "null" (sandboxed frames, file: pages) and anything unparsable cannot match.
    let originHost: string;
    try {
      originHost = new URL(origin).host.toLowerCase();
    } catch {
      return CROSS_ORIGIN;
    }
    // The scheme is not compared: TLS may end at a proxy in front of the gateway.
    return originHost === (request.headers.get("host") ?? "").toLowerCase() ? OK : CROSS_ORIGIN;
  };
}
