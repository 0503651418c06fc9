/**
 * v0.38's `GET /api/assets` (spec §2.7): every input, output and temp file of every user, with
 * a `/api/view` preview URL. It exists so that gateway tests can check the route is blocked or
 * filtered. Added straight onto the app: no `/api` mirror.
 */
import { createHash } from "node:crypto";
import { guessContentType } from "./file-response.ts";
import { fileSha256, type FileEntry } from "./file-store.ts";
import { jsonResponse } from "./http-responses.ts";
import type { RequestContext } from "./request-context.ts";
import type { RouteSpec } from "./router.ts";
import { basename, dirname } from "./virtual-paths.ts";

/** A stable id per file, shaped like a uuid. */
function assetId(entry: FileEntry): string {
  const hex = createHash("sha256").update(`${entry.type}/${entry.path}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function assetView(entry: FileEntry): Record<string, unknown> {
  const name = basename(entry.path);
  const subfolder = dirname(entry.path);
  const time = new Date(entry.file.mtimeMs).toISOString();
  const query = new URLSearchParams({ filename: name, type: entry.type, subfolder });
  return {
    id: assetId(entry),
    name,
    // The fake has no blake3; a sha-256 digest stands in for the hash.
    asset_hash: `blake3:${fileSha256(entry.file)}`,
    size: entry.file.size,
    mime_type: guessContentType(name) ?? "application/octet-stream",
    tags: [entry.type],
    preview_url: `/api/view?${query.toString()}`,
    created_at: time,
    updated_at: time,
    last_access_time: time,
  };
}

function listAssets(ctx: RequestContext): Response {
  const { query } = ctx;
  const nameContains = query.get("name_contains")?.toLowerCase() ?? null;
  const tags = (query.get("include_tags") ?? query.get("tags_any") ?? "").split(",").filter((t) => t !== "");
  const limit = Math.min(500, Math.max(1, Number(query.get("limit") ?? "20") || 20));
  const offset = Math.max(0, Number(query.get("offset") ?? "0") || 0);
  const assets = ctx.state.files
    .allFiles()
    .filter((entry) => nameContains === null || basename(entry.path).toLowerCase().includes(nameContains))
    .filter((entry) => tags.length === 0 || tags.includes(entry.type))
    .sort((a, b) => b.file.mtimeMs - a.file.mtimeMs || b.file.sequence - a.file.sequence)
    .map(assetView);
  const page = assets.slice(offset, offset + limit);
  return jsonResponse({ assets: page, total: assets.length, has_more: offset + page.length < assets.length });
}

export const ASSET_ROUTES: RouteSpec[] = [{ method: "GET", path: "/api/assets", handler: listAssets }];
