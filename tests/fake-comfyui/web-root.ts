/**
 * The frontend files the fake serves: a small `index.html` with the landmarks a gateway's page
 * rewrite looks for (`<head>`, `<div id="vue-app">`), a bundle, a core extension shim and one
 * custom-node extension (`/extensions/demo_node/demo.js`).
 */
import { fileResponse, guessContentType, inMemory } from "./file-response.ts";
import { staticNotFound } from "./http-responses.ts";
import type { Profile } from "./options.ts";

export const INDEX_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <title>ComfyUI</title>
    <meta name="viewport" content="width=device-width, initial-scale=1.0, maximum-scale=1.0, user-scalable=no" />
    <link rel="stylesheet" type="text/css" href="./user.css" />
    <script type="module" crossorigin src="./assets/app.js"></script>
  </head>
  <body class="litegraph grid">
    <div id="vue-app"></div>
  </body>
</html>
`;

const APP_JS = `// fake ComfyUI frontend bundle
window.__FAKE_COMFYUI__ = true;
`;

const CORE_EXTENSION_JS = `// core extension shim (bundled in the real frontend)
`;

const DEMO_EXTENSION_JS = `// custom-node extension served from WEB_DIRECTORY
export const name = "demo_node.demo";
`;

const encoder = new TextEncoder();

/** Paths under the web root (without the leading slash) → content. */
const FILES: Record<string, Uint8Array> = {
  "index.html": encoder.encode(INDEX_HTML),
  "user.css": encoder.encode("/* user.css */\n"),
  "assets/app.js": encoder.encode(APP_JS),
  "extensions/core/dummy.js": encoder.encode(CORE_EXTENSION_JS),
  "extensions/demo_node/demo.js": encoder.encode(DEMO_EXTENSION_JS),
};

/** `GET /extensions`: core shims first, then each custom node's JS files. */
export const EXTENSION_URLS = ["/extensions/core/dummy.js", "/extensions/demo_node/demo.js"];

export class WebRoot {
  /** All files share one modification time: the server's start on the fake's clock. */
  constructor(private readonly mtimeMs: number) {}

  /** `GET /`: index.html with the no-cache headers of the root route. */
  index(req: Request, profile: Profile): Response {
    return fileResponse(req, {
      ...inMemory(FILES["index.html"] as Uint8Array),
      mtimeMs: this.mtimeMs,
      contentType: "text/html",
      headers: {
        "Cache-Control": profile === "v0.38" ? "no-store, must-revalidate" : "no-cache",
        Pragma: "no-cache",
        Expires: "0",
      },
    });
  }

  /** `web.static('/', web_root)` plus the cache-control middleware for `.js`/`.css`. */
  serve(req: Request, decodedPath: string): Response {
    const relative = decodedPath.replace(/^\/+/, "");
    const bytes = FILES[relative];
    if (bytes === undefined) return staticNotFound();
    const headers: Record<string, string> = {};
    if (/\.(js|css)$/.test(relative) || /(^|\/)index.*\.json$/.test(relative)) headers["Cache-Control"] = "no-cache";
    return fileResponse(req, {
      ...inMemory(bytes),
      mtimeMs: this.mtimeMs,
      contentType: guessContentType(relative) ?? "application/octet-stream",
      headers,
    });
  }
}
