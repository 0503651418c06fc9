/**
 * The frontend files the fake serves, read from `frontend/` next to this file: an `index.html`
 * with the landmarks a gateway's page rewrite looks for (`<head>`, `<div id="vue-app">`), the
 * stand-in for ComfyUI's front end 1.27.10 (`assets/`, see README.md), the legacy module shims
 * extensions import (`scripts/app.js`, `scripts/api.js`, …), a core extension shim and one
 * custom-node extension (`/extensions/demo_node/demo.js`).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative as relativePath, sep } from "node:path";
import { fileResponse, guessContentType, inMemory } from "./file-response.ts";
import { staticNotFound } from "./http-responses.ts";
import type { Profile } from "./options.ts";

/** The web root on disk (the stand-in front end). */
export const FRONTEND_DIR = join(import.meta.dir, "frontend");

/** Paths under the web root (without the leading slash, `/` separators) → content. */
function readWebRoot(dir: string): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files[relativePath(dir, path).split(sep).join("/")] = new Uint8Array(readFileSync(path));
  }
  return files;
}

export const INDEX_HTML = readFileSync(join(FRONTEND_DIR, "index.html"), "utf8");

/**
 * `GET /extensions`: core shims first, then each custom node's JS files. Files under
 * `frontend/extensions/` that are not listed here (e.g. `standin_probe/`) are served but not
 * loaded unless a test adds their URL to the list.
 */
export const EXTENSION_URLS = ["/extensions/core/dummy.js", "/extensions/demo_node/demo.js"];

export class WebRoot {
  /** Read once per fake, so edits to `frontend/` show after a restart of the fake. */
  private readonly files = readWebRoot(FRONTEND_DIR);
  /** `/api/extensions`: the fixed list, then each custom node's `.js` files. */
  readonly extensionUrls: string[] = [...EXTENSION_URLS];

  /** All files share one modification time: the server's start on the fake's clock. */
  constructor(
    private readonly mtimeMs: number,
    customNodeWebDirs: Record<string, string> = {},
  ) {
    for (const [module, dir] of Object.entries(customNodeWebDirs)) {
      for (const [path, bytes] of Object.entries(readWebRoot(dir))) {
        this.files[`extensions/${module}/${path}`] = bytes;
        if (path.endsWith(".js")) this.extensionUrls.push(`/extensions/${encodeURIComponent(module)}/${path}`);
      }
    }
  }

  /** `GET /`: index.html with the no-cache headers of the root route. */
  index(req: Request, profile: Profile): Response {
    return fileResponse(req, {
      ...inMemory(this.files["index.html"] as Uint8Array),
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
    const bytes = this.files[relative];
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
