/**
 * The gateway's browser front end: the bundled scripts and theme (`/mss-login/ui/<file>`), the
 * admin app (`/mss-login/admin`) and the user's own page (`/mss-login/me`). The pages are thin
 * shells; everything they show comes from the JSON API, which checks the caller on every call.
 */
import { Elysia } from "elysia";
import { jsonError, wantsHtml } from "../gateway/error-response.ts";
import type { AdminGuard } from "../auth/admin-guard.ts";
import { bundleWebUi } from "./web-bundle.ts" with { type: "macro" };

/** Embedded at build time (a macro): file name → content. */
const WEB_FILES: Record<string, string> = bundleWebUi();

const CONTENT_TYPES: Record<string, string> = { js: "text/javascript; charset=utf-8", css: "text/css; charset=utf-8" };

interface WebFile {
  body: string;
  type: string;
  etag: string;
}

const FILES = new Map<string, WebFile>(
  Object.entries(WEB_FILES).map(([name, body]) => [name, { body, type: CONTENT_TYPES[name.split(".").pop() ?? ""] ?? "application/octet-stream", etag: `"${Bun.hash(body).toString(36)}"` }]),
);

/** Headers of the gateway's own pages: nothing from elsewhere, no framing by other sites. */
export const APP_PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  // Scripts and styles strictly from the gateway; images also as data: URLs (the QR code).
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "referrer-policy": "same-origin",
};

function shell(title: string, entry: string): Response {
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · MSS-Login</title>
<link rel="stylesheet" href="/mss-login/ui/theme.css">
<script type="module" src="/mss-login/ui/${entry}"></script>
</head>
<body class="mss-ui">
<div id="mss-app"><p class="mss-page-main mss-muted">Loading…</p></div>
<noscript><p class="mss-page-main">This page needs JavaScript.</p></noscript>
</body>
</html>
`;
  return new Response(html, { headers: APP_PAGE_HEADERS });
}

function messagePage(status: number, title: string, message: string, link: { href: string; label: string }): Response {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title} · MSS-Login</title>
<link rel="stylesheet" href="/mss-login/ui/theme.css"></head>
<body class="mss-ui"><main class="mss-page-main"><div class="mss-card"><h1>${title}</h1><p>${message}</p><p><a href="${link.href}">${link.label}</a></p></div></main></body></html>
`;
  return new Response(html, { status, headers: APP_PAGE_HEADERS });
}

export interface UiRouteDeps {
  guard: AdminGuard;
}

export function uiRoutes(deps: UiRouteDeps) {
  const toLogin = (request: Request, path: string): Response =>
    wantsHtml(request) ? new Response(null, { status: 302, headers: { location: `/login?next=${encodeURIComponent(path)}` } }) : jsonError(401, "AUTH_REQUIRED", "Sign in first.");

  async function adminPage(request: Request): Promise<Response> {
    const caller = await deps.guard.admin(request, { write: false });
    if (caller instanceof Response) {
      if (caller.status === 401) return toLogin(request, "/mss-login/admin");
      return wantsHtml(request) ? messagePage(403, "Administrators only", "Your account cannot manage the gateway. Your own settings are on your account page.", { href: "/mss-login/me", label: "My account" }) : caller;
    }
    return shell("Admin", "admin-page.js");
  }

  async function mePage(request: Request): Promise<Response> {
    const identity = await deps.guard.signedIn(request, "read");
    if (identity instanceof Response) return identity.status === 401 ? toLogin(request, "/mss-login/me") : identity;
    return shell("My account", "me-page.js");
  }

  function file(request: Request, name: string): Response {
    const found = FILES.get(name);
    if (found === undefined) return jsonError(404, "NOT_FOUND", "No such file.");
    const headers = { "content-type": found.type, "cache-control": "no-cache", etag: found.etag, "x-content-type-options": "nosniff" };
    if (request.headers.get("if-none-match") === found.etag) return new Response(null, { status: 304, headers });
    return new Response(found.body, { headers });
  }

  return new Elysia()
    .get("/mss-login/admin", ({ request }) => adminPage(request))
    .get("/mss-login/me", ({ request }) => mePage(request))
    .get("/mss-login/ui/:file", ({ request, params }) => file(request, params.file));
}

/** The URL ComfyUI's page imports the gateway's extension from (appended to /api/extensions). */
export const COMFY_EXTENSION_URL = "/mss-login/ui/comfy-extension.js";
export const COMFY_EARLY_SCRIPT_URL = "/mss-login/ui/comfy-early.js";
