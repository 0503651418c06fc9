// Local fakes of CivitAI, Hugging Face and their download CDN, on loopback, for download
// tests. They answer with the shapes the real services use (CivitAI's /api/v1 version JSON
// with SHA256 hashes and sizeKB, Hugging Face's resolve redirect with X-Linked-Etag and
// X-Linked-Size) and can misbehave on demand: a wrong hash, a dropped connection, a redirect
// to a host downloads may not reach.
import { createHash } from "node:crypto";
import { createServer } from "node:http";

export interface FakeModelFile {
  /** Bytes served. */
  content: Uint8Array<ArrayBuffer>;
  /** What the source publishes as the SHA-256 (defaults to the real one; set to tamper). */
  publishedSha256?: string;
  /** Serve this many bytes, then drop the connection, this many times. */
  dropAfterBytes?: number;
  drops?: number;
  /** Serve slowly: this many bytes every 50 ms. */
  bytesPer50Ms?: number;
  /** What Hugging Face announces as X-Linked-Size (defaults to the real size). */
  announcedSize?: number;
}

export interface RecordedRequest {
  server: "civitai" | "huggingface" | "cdn";
  method: string;
  path: string;
  authorization: string | null;
  range: string | null;
  cookie: string | null;
}

/** CivitAI version id → file. */
export type CivitaiVersions = Record<number, { name: string; file: FakeModelFile }>;
/** Hugging Face `org/repo/path` → file. */
export type HuggingFaceFiles = Record<string, FakeModelFile>;

export interface FakeModelSources {
  civitaiOrigin: string;
  huggingfaceOrigin: string;
  cdnOrigin: string;
  requests: RecordedRequest[];
  civitai: CivitaiVersions;
  huggingface: HuggingFaceFiles;
  /** The CivitAI key the fake accepts. */
  civitaiKey: string;
  /** Where CivitAI's download redirects go instead of the CDN (e.g. a host not allowed). */
  redirectOverride: string | null;
  /** The test_sources setting pointing the gateway at these fakes. */
  testSources: string;
  stop(): void;
}

export const sha256Hex = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Deterministic bytes that look like nothing in particular. */
export function modelBytes(size: number, seed = 1): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    state = (state * 1664525 + 1013904223) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

export function startFakeModelSources(options: { civitai?: CivitaiVersions; huggingface?: HuggingFaceFiles } = {}): FakeModelSources {
  const requests: RecordedRequest[] = [];
  const blobs = new Map<string, FakeModelFile>();
  const note = (server: RecordedRequest["server"], request: Request) =>
    requests.push({
      server,
      method: request.method,
      path: new URL(request.url).pathname + new URL(request.url).search,
      authorization: request.headers.get("authorization"),
      range: request.headers.get("range"),
      cookie: request.headers.get("cookie"),
    });

  // The CDN is a node:http server: it keeps Content-Length on a body written bit by bit (Bun.serve
  // sends a streamed body chunked), as a real CDN does, so that throttled downloads have a size.
  // Under Bun, listen() binds at once, so the port is known synchronously.
  const cdn = createServer((request, response) => {
    const header = (name: string): string | null => {
      const value = request.headers[name];
      return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
    };
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    requests.push({ server: "cdn", method: request.method ?? "GET", path: url.pathname + url.search, authorization: header("authorization"), range: header("range"), cookie: header("cookie") });
    const id = url.pathname.replace(/^\/blobs\//, "");
    const file = blobs.get(id);
    if (file === undefined) return void response.writeHead(404, { "content-type": "text/plain" }).end("no such blob");
    const total = file.content.length;
    const range = /^bytes=(\d+)-$/.exec(header("range") ?? "");
    const start = range === null ? 0 : Number(range[1]);
    if (start > total) return void response.writeHead(416, { "content-range": `bytes */${total}` }).end();
    const body = file.content.subarray(start);
    const headers: Record<string, string> = { "content-type": "application/octet-stream", "content-length": String(body.length), "accept-ranges": "bytes" };
    if (range !== null) headers["content-range"] = `bytes ${start}-${total - 1}/${total}`;
    const status = range === null ? 200 : 206;
    if (file.dropAfterBytes !== undefined && (file.drops ?? 0) > 0 && body.length > file.dropAfterBytes) {
      file.drops = (file.drops ?? 0) - 1;
      // Send part of the body, then drop the connection: it ends before Content-Length.
      response.writeHead(status, headers);
      response.write(body.subarray(0, file.dropAfterBytes));
      setTimeout(() => response.destroy(), 20);
      return;
    }
    if (file.bytesPer50Ms !== undefined) {
      const step = file.bytesPer50Ms;
      let offset = 0;
      response.writeHead(status, headers);
      const timer = setInterval(() => {
        if (response.destroyed) return clearInterval(timer);
        if (offset >= body.length) {
          clearInterval(timer);
          return void response.end();
        }
        response.write(body.subarray(offset, offset + step));
        offset += step;
      }, 50);
      response.on("close", () => clearInterval(timer));
      return;
    }
    response.writeHead(status, headers).end(body);
  });
  cdn.listen(0, "127.0.0.1");
  const address = cdn.address();
  if (address === null || typeof address === "string") throw new Error("the fake CDN did not bind a port");
  const cdnOrigin = `http://127.0.0.1:${address.port}`;
  const blobOf = (id: string, file: FakeModelFile) => {
    blobs.set(id, file);
    return `${cdnOrigin}/blobs/${id}`;
  };

  const state: FakeModelSources = {
    civitaiOrigin: "",
    huggingfaceOrigin: "",
    cdnOrigin,
    requests,
    civitai: options.civitai ?? {},
    huggingface: options.huggingface ?? {},
    civitaiKey: "civitai-test-key-0123456789",
    redirectOverride: null,
    testSources: "",
    stop() {
      civitai.stop(true);
      huggingface.stop(true);
      cdn.closeAllConnections();
      cdn.close();
    },
  };

  const civitai = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      note("civitai", request);
      const path = new URL(request.url).pathname;
      const version = /^\/api\/v1\/model-versions\/(\d+)$/.exec(path);
      if (version !== null) {
        const entry = state.civitai[Number(version[1])];
        if (entry === undefined) return Response.json({ error: "Model not found" }, { status: 404 });
        return Response.json({
          id: Number(version[1]),
          modelId: 1000 + Number(version[1]),
          name: "v1.0",
          files: [
            { id: 1, name: "config.yaml", sizeKB: 1, type: "Config", primary: false, metadata: { format: "Other" }, hashes: {} },
            {
              id: 2,
              name: entry.name,
              sizeKB: entry.file.content.length / 1024,
              type: "Model",
              primary: true,
              metadata: { format: "SafeTensor", size: "pruned", fp: "fp16" },
              hashes: { SHA256: (entry.file.publishedSha256 ?? sha256Hex(entry.file.content)).toUpperCase() },
              downloadUrl: `${state.civitaiOrigin}/api/download/models/${version[1]}`,
            },
          ],
        });
      }
      if (path === "/api/v1/models") {
        // CivitAI refuses a text query together with page (it pages a query by cursor).
        const params = new URL(request.url).searchParams;
        if (params.has("query") && params.has("page")) return Response.json({ error: "Cannot use page param with query search. Use cursor-based pagination." }, { status: 400 });
        const query = (params.get("query") ?? "").toLowerCase();
        const items = Object.entries(state.civitai)
          .filter(([, entry]) => entry.name.toLowerCase().includes(query))
          .map(([id, entry]) => ({ id: 1000 + Number(id), name: entry.name.replace(/\.[^.]+$/, ""), type: "Checkpoint", nsfw: false, modelVersions: [{ id: Number(id), name: "v1.0" }] }));
        return Response.json({ items: items.slice(0, Number(params.get("limit") ?? 20)), metadata: { totalItems: items.length, ...(params.has("query") ? { nextCursor: null } : { currentPage: Number(params.get("page") ?? 1) }) } });
      }
      const model = /^\/api\/v1\/models\/(\d+)$/.exec(path);
      if (model !== null) {
        const ids = Object.keys(state.civitai).map(Number).filter((id) => 1000 + id === Number(model[1]));
        if (ids.length === 0) return Response.json({ error: "Model not found" }, { status: 404 });
        return Response.json({ id: Number(model[1]), name: "fake", modelVersions: ids.map((id) => ({ id })) });
      }
      const download = /^\/api\/download\/models\/(\d+)$/.exec(path);
      if (download !== null) {
        if (request.headers.get("authorization") !== `Bearer ${state.civitaiKey}`) return Response.json({ error: "Unauthorized" }, { status: 401 });
        const entry = state.civitai[Number(download[1])];
        if (entry === undefined) return Response.json({ error: "Model not found" }, { status: 404 });
        const location = state.redirectOverride ?? blobOf(`civitai-${download[1]}`, entry.file);
        return new Response(null, { status: 307, headers: { location, "content-disposition": `attachment; filename="${entry.name}"` } });
      }
      return Response.json({ error: "Not found" }, { status: 404 });
    },
  });
  state.civitaiOrigin = `http://127.0.0.1:${civitai.port}`;

  const huggingface = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      note("huggingface", request);
      const url = new URL(request.url);
      if (url.pathname === "/api/models") {
        const search = (url.searchParams.get("search") ?? "").toLowerCase();
        const repos = [...new Set(Object.keys(state.huggingface).map((key) => key.split("/").slice(0, 2).join("/")))].filter((repo) => repo.toLowerCase().includes(search));
        return Response.json(repos.map((repo) => ({ _id: "0", id: repo, modelId: repo, likes: 3, downloads: 42, private: false, pipeline_tag: "text-to-image", tags: ["diffusers", "safetensors"], secret_field: "not for clients" })));
      }
      const match = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(new URL(request.url).pathname);
      if (match === null) return new Response("Not found", { status: 404 });
      const key = `${match[1]}/${decodeURIComponent(match[3]!)}`;
      const file = state.huggingface[key];
      if (file === undefined) return new Response("Entry not found", { status: 404, headers: { "x-error-code": "EntryNotFound" } });
      return new Response(null, {
        status: 302,
        headers: {
          location: blobOf(`hf-${sha256Hex(new TextEncoder().encode(key))}`, file),
          "x-linked-etag": `"${file.publishedSha256 ?? sha256Hex(file.content)}"`,
          "x-linked-size": String(file.announcedSize ?? file.content.length),
          "x-repo-commit": "0123456789abcdef0123456789abcdef01234567",
        },
      });
    },
  });
  state.huggingfaceOrigin = `http://127.0.0.1:${huggingface.port}`;
  state.testSources = `civitai=${state.civitaiOrigin},huggingface=${state.huggingfaceOrigin},cdn=${cdnOrigin}`;
  return state;
}
