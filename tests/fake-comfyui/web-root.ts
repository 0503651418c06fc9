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

/**
 * A tiny stand-in for ComfyUI's app, enough to try the gateway by hand (`npm run demo`): it
 * talks to the server the way the real front end does (`api_base + "/api/..."`, the WebSocket at
 * `api_base + "/ws"`, the `clientId` from the first status frame) and shows the run's events and
 * its output image.
 */
const APP_JS = `// fake ComfyUI frontend bundle
window.__FAKE_COMFYUI__ = true;
const base = location.pathname.replace(/[^/]*$/, "").replace(/[/]$/, "");
const root = document.getElementById("vue-app");
root.innerHTML = \`
  <main style="font:15px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#ddd">
    <h1 style="font-size:1.3rem;color:#fff">Fake ComfyUI <small style="color:#999;font-weight:normal">(no GPU, scripted runs)</small></h1>
    <p>Socket: <b id="socket">connecting…</b></p>
    <p><button id="run" disabled style="padding:.5rem 1rem;font:inherit">Queue prompt</button>
       <button id="save" style="padding:.5rem 1rem;font:inherit">Save workflow</button> <span id="saved"></span></p>
    <ol id="events" style="color:#bbb;font-family:ui-monospace,monospace;font-size:13px"></ol>
    <div id="images"></div>
  </main>\`;
document.body.style.background = "#202020";
let clientId = sessionStorage.getItem("clientId") || "";
const socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + base + "/ws" + (clientId ? "?clientId=" + clientId : ""));
socket.binaryType = "arraybuffer";
const show = (text) => { const li = document.createElement("li"); li.textContent = text; document.getElementById("events").append(li); };
socket.onopen = () => { socket.send(JSON.stringify({ type: "feature_flags", data: { supports_preview_metadata: true } })); };
socket.onclose = (event) => { document.getElementById("socket").textContent = "closed (" + event.code + ")"; };
socket.onmessage = (event) => {
  if (typeof event.data !== "string") { show("binary frame, " + event.data.byteLength + " bytes"); return; }
  const message = JSON.parse(event.data);
  if (message.type === "status" && message.data.sid) {
    clientId = message.data.sid;
    sessionStorage.setItem("clientId", clientId);
    document.getElementById("socket").textContent = "connected as " + clientId;
    document.getElementById("run").disabled = false;
  }
  if (message.type !== "status" && message.type !== "progress_state") show(message.type + (message.data.node ? " node " + message.data.node : ""));
  if (message.type === "executed") {
    for (const image of message.data.output.images || []) {
      const img = document.createElement("img");
      img.alt = image.filename;
      img.style.cssText = "width:128px;height:128px;margin:.25rem;border:1px solid #444;image-rendering:pixelated";
      img.src = base + "/api/view?" + new URLSearchParams({ filename: image.filename, subfolder: image.subfolder, type: image.type });
      document.getElementById("images").append(img);
    }
  }
};
document.getElementById("run").onclick = async () => {
  const color = Math.floor(Math.random() * 0xffffff);
  const prompt = {
    "1": { class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: 1, color } },
    "9": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "demo" } },
  };
  const response = await fetch(base + "/api/prompt", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ client_id: clientId, prompt }) });
  show("POST /api/prompt → " + response.status);
};
document.getElementById("save").onclick = async () => {
  const response = await fetch(base + "/api/userdata/workflows%2Fdemo.json?overwrite=true&full_info=true", { method: "POST", body: JSON.stringify({ nodes: [] }) });
  document.getElementById("saved").textContent = response.ok ? "saved as " + (await response.json()).path : "save failed: " + response.status;
};
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
