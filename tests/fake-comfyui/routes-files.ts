/**
 * Uploads and `/view` (spec §2.2, §3.5, §3.6; findings 18 and 19).
 */
import { createHash } from "node:crypto";
import { posix } from "node:path";
import { bodyBytes, emptyResponse, jsonResponse, pythonException } from "./http-responses.ts";
import { fileResponse, guessContentType } from "./file-response.ts";
import { fileBody, fileBytes, fileSha256 } from "./file-store.ts";
import { parseForm, type FormPart, type ParsedForm } from "./multipart.ts";
import { readBody, type RequestContext } from "./request-context.ts";
import type { RouteSpec } from "./router.ts";
import {
  basename,
  dirname,
  isFileType,
  isInside,
  joinAbsolute,
  relativeTo,
  splitExtension,
  typeDirectory,
  type FileType,
} from "./virtual-paths.ts";

async function readForm(ctx: RequestContext): Promise<ParsedForm> {
  return parseForm(ctx.req.headers.get("content-type"), await readBody(ctx));
}

/** `get_dir_by_type`: unknown types are a Python error (an unbound local). */
function uploadType(value: string | undefined): FileType {
  const type = value ?? "input";
  if (!isFileType(type)) throw pythonException(`unknown upload type ${type}`);
  return type;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

interface UploadTarget {
  type: FileType;
  /** Path inside the type directory. */
  path: string;
  name: string;
  subfolder: string;
  duplicate: boolean;
}

/**
 * `image_upload`: the file goes to `<type>/<subfolder>/<filename>`; a name already taken by the
 * same bytes is reused, other bytes get ` (1)`, ` (2)`, … unless `overwrite` is "true" or "1".
 * Leaving the type directory is a 400.
 */
function chooseUploadTarget(ctx: RequestContext, form: ParsedForm, image: FormPart): UploadTarget | Response {
  const { files } = ctx.state;
  const type = uploadType(form.text("type"));
  const root = typeDirectory(type);
  const subfolder = form.text("subfolder") ?? "";
  const folder = joinAbsolute(root, posix.normalize(subfolder));
  let name = image.filename ?? "";
  let path = joinAbsolute(folder, name);
  if (!isInside(root, path)) return emptyResponse(400);
  files.makeDirectories(type, relativeTo(root, folder));
  const overwrite = form.text("overwrite");
  let duplicate = false;
  if (overwrite !== "true" && overwrite !== "1") {
    const [stem, extension] = splitExtension(name);
    const uploadHash = sha256(image.data);
    for (let i = 1; files.exists(type, relativeTo(root, path)); i++) {
      const existing = files.get(type, relativeTo(root, path));
      if (existing !== undefined && fileSha256(existing) === uploadHash) {
        duplicate = true;
        break;
      }
      name = `${stem} (${i})${extension}`;
      path = joinAbsolute(folder, name);
    }
  }
  const relative = relativeTo(root, path);
  // open(filepath, "wb") fails when the name points into a missing folder or at a folder.
  if (!files.isDirectory(type, dirname(relative)) || files.isDirectory(type, relative)) {
    throw pythonException(`cannot write ${relative}`);
  }
  return { type, path: relative, name, subfolder, duplicate };
}

function uploadAnswer(ctx: RequestContext, target: UploadTarget): Response {
  const answer: Record<string, unknown> = { name: target.name, subfolder: target.subfolder, type: target.type };
  if (ctx.state.options.profile === "v0.38") {
    const file = ctx.state.files.get(target.type, target.path);
    if (file !== undefined) {
      answer.asset = {
        id: ctx.state.ids.uuid(),
        name: target.name,
        // The fake has no blake3; a sha-256 digest stands in for the hash.
        asset_hash: `blake3:${fileSha256(file)}`,
        size: file.size,
        mime_type: guessContentType(target.name) ?? "application/octet-stream",
        tags: [target.type],
      };
    }
  }
  return jsonResponse(answer);
}

/** The form and where its `image` goes, or the answer aiohttp gives for a bad upload. */
async function readUpload(ctx: RequestContext) {
  const form = await readForm(ctx);
  const image = form.part("image");
  if (image === undefined) return emptyResponse(400);
  if (image.filename === null) throw pythonException("'str' object has no attribute 'file'");
  if (image.filename === "") return emptyResponse(400);
  const target = chooseUploadTarget(ctx, form, image);
  if (target instanceof Response) return target;
  return { form, image, target };
}

async function uploadImage(ctx: RequestContext): Promise<Response> {
  const upload = await readUpload(ctx);
  if (upload instanceof Response) return upload;
  const { image, target } = upload;
  if (!target.duplicate) ctx.state.files.write(target.type, target.path, image.data);
  return uploadAnswer(ctx, target);
}

/**
 * `/upload/mask`: the mask's alpha goes onto the original (`original_ref`) and the result is
 * saved under the upload's name. Errors about the original are swallowed: 200 with a name and
 * nothing written (finding 18). The fake cannot composite, so it stores the original's bytes.
 */
async function uploadMask(ctx: RequestContext): Promise<Response> {
  const upload = await readUpload(ctx);
  if (upload instanceof Response) return upload;
  const { form, target } = upload;
  if (!target.duplicate) {
    // `original_ref` is only read by the save step, which a duplicate skips.
    let originalRef: unknown;
    try {
      originalRef = JSON.parse(form.text("original_ref") ?? "");
    } catch {
      throw pythonException("original_ref is not JSON");
    }
    if (originalRef === null || typeof originalRef !== "object") throw pythonException("original_ref is not a dict");
    const original = resolveOriginal(ctx, originalRef as Record<string, unknown>);
    if (original !== null) ctx.state.files.write(target.type, target.path, original);
  }
  return uploadAnswer(ctx, target);
}

function resolveOriginal(ctx: RequestContext, ref: Record<string, unknown>): Uint8Array | null {
  if (!Object.hasOwn(ref, "filename")) throw pythonException("KeyError: 'filename'");
  const [filename, annotatedType] = annotatedFilepath(String(ref.filename));
  if (filename === "" || filename.startsWith("/") || filename.includes("..")) return null;
  const type = annotatedType ?? String(ref.type ?? "output");
  if (!isFileType(type)) return null;
  const root = typeDirectory(type);
  let folder = root;
  const subfolder = ref.subfolder === undefined ? "" : String(ref.subfolder);
  if (subfolder !== "") {
    folder = joinAbsolute(root, subfolder);
    if (!isInside(root, folder)) return null;
  }
  const file = ctx.state.files.get(type, relativeTo(root, joinAbsolute(folder, filename)));
  return file === undefined ? null : fileBytes(file);
}

/** `folder_paths.annotated_filepath`: "name.png [input]" selects the directory. */
function annotatedFilepath(name: string): [string, FileType | null] {
  for (const type of ["output", "input", "temp"] as const) {
    if (name.endsWith(`[${type}]`)) return [name.slice(0, -(type.length + 3)), type];
  }
  return [name, null];
}

const FORCED_DOWNLOAD_TYPES = new Set(["text/html", "text/html-sandboxed", "application/xhtml+xml", "text/javascript", "text/css"]);
/** v0.38 forces these to download unless the browser asked for an image. */
const DANGEROUS_TYPES = new Set([...FORCED_DOWNLOAD_TYPES, "image/svg+xml", "application/javascript", "text/xml", "application/xml"]);

async function reencode(bytes: Uint8Array, format: "webp" | "jpeg" | "png", quality: number): Promise<Uint8Array> {
  try {
    const image = new Bun.Image(bytes);
    if (format === "webp") return await image.webp({ quality }).bytes();
    if (format === "jpeg") return await image.jpeg({ quality }).bytes();
    return await image.png().bytes();
  } catch {
    throw pythonException("PIL.UnidentifiedImageError");
  }
}

async function view(ctx: RequestContext): Promise<Response> {
  const { query, state } = ctx;
  const requested = query.get("filename");
  if (requested === null) return emptyResponse(404);
  const [annotatedName, annotatedType] = annotatedFilepath(requested);
  if (annotatedName === "") return emptyResponse(400);
  if (annotatedName.startsWith("/") || annotatedName.includes("..")) return emptyResponse(400);
  const type = annotatedType ?? query.get("type") ?? "output";
  if (!isFileType(type)) return emptyResponse(400);
  const root = typeDirectory(type);
  let folder = root;
  const subfolder = query.get("subfolder");
  if (subfolder !== null) {
    folder = joinAbsolute(root, subfolder);
    if (!isInside(root, folder)) return emptyResponse(403);
  }
  const filename = basename(annotatedName);
  const file = state.files.get(type, relativeTo(root, joinAbsolute(folder, filename)));
  if (file === undefined) return emptyResponse(404);
  const disposition = `filename="${filename}"`;

  const preview = query.get("preview");
  if (preview !== null) {
    const parts = preview.split(";");
    let format = parts[0] ?? "";
    if ((format !== "webp" && format !== "jpeg") || (query.get("channel") ?? "").includes("a")) format = "webp";
    const last = parts[parts.length - 1] ?? "";
    const quality = /^\d+$/.test(last) ? Number(last) : 90;
    const body = await reencode(fileBytes(file), format as "webp" | "jpeg", Math.min(100, Math.max(1, quality)));
    return new Response(bodyBytes(body), { headers: { "Content-Type": `image/${format}`, "Content-Disposition": disposition } });
  }
  const channel = query.get("channel") ?? "rgba";
  if (channel === "rgb" || channel === "a") {
    // The fake does not split channels; it answers with the image as PNG, like the real one.
    const body = await reencode(fileBytes(file), "png", 90);
    return new Response(bodyBytes(body), { headers: { "Content-Type": "image/png", "Content-Disposition": disposition } });
  }
  let contentType = guessContentType(filename) ?? "application/octet-stream";
  if (FORCED_DOWNLOAD_TYPES.has(contentType)) contentType = "application/octet-stream";
  const headers: Record<string, string> = { "Content-Disposition": disposition };
  if (state.options.profile === "v0.38") {
    headers["X-Content-Type-Options"] = "nosniff";
    const guessed = guessContentType(filename) ?? "";
    if (DANGEROUS_TYPES.has(guessed) && ctx.req.headers.get("sec-fetch-dest") !== "image") {
      headers["Content-Disposition"] = `attachment; ${disposition}`;
    }
  }
  return fileResponse(ctx.req, {
    size: file.size,
    body: (start, end) => fileBody(file, start, end),
    mtimeMs: file.mtimeMs,
    contentType,
    headers,
  });
}

/** No model files exist in the fake, so every lookup is a 404. */
function viewMetadata(): Response {
  return emptyResponse(404);
}

export const FILE_ROUTES: RouteSpec[] = [
  { method: "POST", path: "/upload/image", handler: uploadImage },
  { method: "POST", path: "/upload/mask", handler: uploadMask },
  { method: "GET", path: "/view", handler: view },
  { method: "GET", path: "/view_metadata/{folder_name}", handler: viewMetadata },
];
