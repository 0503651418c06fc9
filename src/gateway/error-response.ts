/**
 * Error answers of the gateway itself: JSON `{ error, code }` for API callers, a small readable
 * page for browser navigations. One place, so every refusal looks the same.
 */

export type GatewayErrorCode = string;

/** A browser navigating (address bar, link, form) wants a page; everything else gets JSON. */
export function wantsHtml(request: Request): boolean {
  const mode = request.headers.get("sec-fetch-mode");
  if (mode !== null) return mode === "navigate";
  if (request.method !== "GET" && request.method !== "HEAD") return false;
  const accept = request.headers.get("accept") ?? "";
  return accept.includes("text/html");
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch] ?? ch);
}

const NO_STORE = "no-store";

export function jsonError(status: number, code: GatewayErrorCode, error: string, extraHeaders?: HeadersInit): Response {
  const headers = new Headers(extraHeaders);
  headers.set("content-type", "application/json; charset=utf-8");
  headers.set("cache-control", NO_STORE);
  return new Response(JSON.stringify({ error, code }), { status, headers });
}

/** The page shown to a person; `detail` is plain text and escaped here. */
export function htmlErrorPage(status: number, code: GatewayErrorCode, title: string, detail: string, extraHeaders?: HeadersInit): Response {
  const headers = new Headers(extraHeaders);
  headers.set("content-type", "text/html; charset=utf-8");
  headers.set("cache-control", NO_STORE);
  headers.set("x-content-type-options", "nosniff");
  headers.set("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
  headers.set("x-frame-options", "DENY");
  const retry = status === 502 || status === 503 || status === 504;
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · MSS-Login</title>
<style>
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:#202020;color:#ddd;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:34rem;padding:2rem;margin:1rem;background:#2b2b2b;border:1px solid #3a3a3a;border-radius:10px}
h1{margin:0 0 .5rem;font-size:1.35rem;color:#fff}p{margin:.5rem 0}code{color:#9cdcfe}
.status{color:#999;font-size:.85rem}a{color:#7ab7ff}
</style></head>
<body><main>
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(detail)}</p>
${retry ? '<p><a href="">Try again</a> · <a href="/mss-login/">Gateway status</a></p>' : ""}
<p class="status">HTTP ${status} · <code>${escapeHtml(code)}</code></p>
</main></body></html>
`;
  return new Response(body, { status, headers });
}

/** JSON or page, depending on who asked. `title` is the page heading, `message` the JSON error. */
export function errorResponse(request: Request, status: number, code: GatewayErrorCode, message: string, title?: string, extraHeaders?: HeadersInit): Response {
  if (wantsHtml(request)) return htmlErrorPage(status, code, title ?? message, message, extraHeaders);
  return jsonError(status, code, message, extraHeaders);
}
