// What a download request asks for, read and checked before anything is queued: a CivitAI
// model version (by id, or from a pasted page or download URL) or a Hugging Face file (repo,
// file, revision, or a pasted URL), and the ComfyUI model folder it goes to.
import { DownloadError } from "./safe-fetch.ts";

export const SOURCES = ["civitai", "huggingface"] as const;
export type Source = (typeof SOURCES)[number];

export const CIVITAI_HOSTS = ["civitai.com", "civitai.red"] as const;
export type CivitaiHost = (typeof CIVITAI_HOSTS)[number];
export const DEFAULT_CIVITAI_HOST: CivitaiHost = "civitai.com";
const HUGGINGFACE_HOSTS = ["huggingface.co", "hf.co"];

/** The file variant filters CivitAI's download endpoint takes (`type`, `format`, `size`, `fp`). */
export interface CivitaiFileQuery {
  type?: string;
  format?: string;
  size?: string;
  fp?: string;
}

export type DownloadTarget =
  | { source: "civitai"; host: CivitaiHost; modelId: number | null; versionId: number | null; query: CivitaiFileQuery }
  | { source: "huggingface"; repoId: string; filename: string; subfolder: string; revision: string };

export interface DownloadRequest {
  target: DownloadTarget;
  folder: string;
  /** A file name to use instead of the source's. */
  preferredFilename: string | null;
  /** Download for another user (needs can_manage_model_sharing). */
  targetUsername: string | null;
}

/** The file name extensions ComfyUI lists as models (folder_paths.supported_pt_extensions, plus GGUF). */
export const MODEL_EXTENSIONS = [".safetensors", ".sft", ".ckpt", ".pt", ".pt2", ".pth", ".bin", ".pkl", ".gguf"];

const FOLDER = /^[A-Za-z0-9_-]{1,64}$/;
const REPO_PART = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;
const REVISION = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/;
const ID = /^[1-9]\d{0,11}$/;

function bad(code: string, message: string): never {
  throw new DownloadError(code, message);
}

/** A model file name: one path segment, no control characters, a model extension. */
export function checkFilename(name: string, what = "filename"): string {
  // Bytes, not characters: file systems limit names to 255 bytes, and the temporary file adds 40.
  if (typeof name !== "string" || name.length === 0 || Buffer.byteLength(name, "utf8") > 200) bad("FILENAME_INVALID", `${what} must be 1-200 bytes long (as UTF-8).`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069/\\:*?"<>|]/.test(name) || name === "." || name === ".." || name.startsWith(".")) {
    bad("FILENAME_INVALID", `${what} must be a plain file name (no folders, no control or reserved characters, not hidden).`);
  }
  if (!MODEL_EXTENSIONS.some((extension) => name.toLowerCase().endsWith(extension))) {
    bad("FILENAME_INVALID", `${what} must end in one of ${MODEL_EXTENSIONS.join(", ")}.`);
  }
  return name;
}

function optionalText(body: Record<string, unknown>, key: string, pattern: RegExp): string | undefined {
  const value = body[key];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string" || !pattern.test(value)) bad("BAD_REQUEST", `${key} is not valid.`);
  return value;
}

function idFrom(value: unknown, key: string): number | null {
  if (value === undefined || value === null || value === "") return null;
  const text = typeof value === "number" ? String(value) : value;
  if (typeof text !== "string" || !ID.test(text)) bad("BAD_REQUEST", `${key} must be a positive whole number.`);
  return Number(text);
}

function civitaiHost(value: unknown): CivitaiHost | null {
  if (value === undefined || value === null || value === "") return null;
  if (typeof value !== "string" || !(CIVITAI_HOSTS as readonly string[]).includes(value.toLowerCase())) bad("BAD_CIVITAI_HOST", `civitai_host is one of ${CIVITAI_HOSTS.join(", ")}.`);
  return value.toLowerCase() as CivitaiHost;
}

/**
 * A pasted page or download URL as a target. Only the sources' own hosts over https, with no
 * user name, port or IP address, are read; anything else is refused here, before any network.
 */
export function targetFromUrl(raw: unknown): DownloadTarget {
  if (typeof raw !== "string" || raw.length > 2048 || !URL.canParse(raw)) bad("URL_INVALID", "url is not a URL.");
  const url = new URL(raw);
  if (url.protocol !== "https:") bad("URL_SCHEME", `Only https:// URLs of CivitAI or Hugging Face are accepted (not ${url.protocol}).`);
  if (url.username !== "" || url.password !== "") bad("URL_CREDENTIALS", "URLs with a user name or password are refused.");
  if (url.port !== "") bad("URL_PORT", "URLs with a port are refused.");
  const host = url.hostname.toLowerCase().replace(/^www\./, "");
  let segments: string[];
  try {
    segments = url.pathname.split("/").filter((segment) => segment !== "").map((segment) => decodeURIComponent(segment));
  } catch {
    bad("URL_INVALID", "The URL's path has a broken %-escape.");
  }
  if ((CIVITAI_HOSTS as readonly string[]).includes(host)) {
    const base = { source: "civitai" as const, host: host as CivitaiHost, query: {} };
    if (segments[0] === "models" && segments[1] !== undefined) {
      return { ...base, modelId: idFrom(segments[1], "the model id in the URL"), versionId: idFrom(url.searchParams.get("modelVersionId"), "modelVersionId") };
    }
    if (segments[0] === "api" && segments[1] === "download" && segments[2] === "models" && segments[3] !== undefined) {
      return { ...base, modelId: null, versionId: idFrom(segments[3], "the version id in the URL") };
    }
    if (segments[0] === "api" && segments[1] === "v1" && segments[2] === "model-versions" && segments[3] !== undefined) {
      return { ...base, modelId: null, versionId: idFrom(segments[3], "the version id in the URL") };
    }
    bad("URL_UNSUPPORTED", "A CivitAI URL is a model page (/models/ID?modelVersionId=VID) or a download link (/api/download/models/VID).");
  }
  if (HUGGINGFACE_HOSTS.includes(host)) {
    const [org, repo, kind, revision, ...path] = segments;
    if (org === undefined || repo === undefined || !REPO_PART.test(org) || !REPO_PART.test(repo) || ["datasets", "spaces", "api"].includes(org)) {
      bad("URL_UNSUPPORTED", "A Hugging Face URL names a model repository: https://huggingface.co/ORG/REPO/blob/REVISION/FILE.");
    }
    if (kind === undefined || !["blob", "resolve", "raw"].includes(kind) || revision === undefined || path.length === 0) {
      bad("FILENAME_REQUIRED", "Name the file: paste the file's link (…/blob/main/model.safetensors), or give repo_id and filename.");
    }
    const filename = path[path.length - 1]!;
    return { source: "huggingface", repoId: `${org}/${repo}`, filename: checkFilename(filename), subfolder: checkSubfolder(path.slice(0, -1).join("/")), revision: checkRevision(revision) };
  }
  return bad("URL_HOST_NOT_ALLOWED", `Downloads come from ${CIVITAI_HOSTS.join(", ")} or huggingface.co, not ${host}.`);
}

function checkSubfolder(subfolder: string): string {
  if (subfolder === "") return "";
  const segments = subfolder.split("/");
  // eslint-disable-next-line no-control-regex
  if (subfolder.length > 300 || segments.some((segment) => segment === "" || segment === "." || segment === ".." || /[\u0000-\u001f\u007f\\]/.test(segment))) {
    bad("SUBFOLDER_INVALID", "subfolder is a relative path inside the repository (no '..', no leading '/').");
  }
  return subfolder;
}

function checkRevision(revision: string): string {
  if (!REVISION.test(revision) || revision.includes("..")) bad("REVISION_INVALID", "revision is a branch, tag or commit name.");
  return revision;
}

/** Reads the body of `POST …/model-download/download` (the original's field names). */
export function parseDownloadRequest(body: unknown, civitaiHostPreference: CivitaiHost): DownloadRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) bad("BAD_REQUEST", "Send a JSON object.");
  const fields = body as Record<string, unknown>;
  const destination = fields.destination_type;
  if (destination !== undefined && destination !== null && destination !== "local") bad("DESTINATION_UNSUPPORTED", "destination_type is local (S3 destinations are not supported).");
  const folder = fields.folder_type ?? fields.folder ?? "checkpoints";
  if (typeof folder !== "string" || !FOLDER.test(folder)) bad("FOLDER_INVALID", "folder_type is a ComfyUI model folder name such as checkpoints or loras.");
  const preferred = fields.preferred_filename ?? fields.filename_override;
  const preferredFilename = preferred === undefined || preferred === null || preferred === "" ? null : checkFilename(preferred as string, "preferred_filename");
  const targetUsername = fields.target_username;
  if (targetUsername !== undefined && targetUsername !== null && (typeof targetUsername !== "string" || targetUsername.length === 0 || targetUsername.length > 64)) {
    bad("BAD_REQUEST", "target_username is a user name.");
  }
  const pasted = fields.url ?? fields.model_url;
  let target: DownloadTarget;
  if (pasted !== undefined && pasted !== null && pasted !== "") {
    target = targetFromUrl(pasted);
    if (fields.source !== undefined && fields.source !== target.source) bad("SOURCE_MISMATCH", `The URL is a ${target.source} URL, but source says ${String(fields.source)}.`);
    if (target.source === "civitai") {
      const explicit = civitaiHost(fields.civitai_host);
      if (explicit !== null) target = { ...target, host: explicit };
    }
  } else if (fields.source === "civitai") {
    const versionId = idFrom(fields.model_version_id ?? fields.version_id, "model_version_id");
    const modelId = idFrom(fields.model_id, "model_id");
    if (versionId === null && modelId === null) bad("VERSION_REQUIRED", "Give model_version_id (or a CivitAI URL).");
    target = { source: "civitai", host: civitaiHost(fields.civitai_host) ?? civitaiHostPreference, modelId, versionId, query: {} };
  } else if (fields.source === "huggingface") {
    const repoId = fields.repo_id;
    if (typeof repoId !== "string" || repoId.split("/").length !== 2 || !repoId.split("/").every((part) => REPO_PART.test(part))) bad("REPO_INVALID", "repo_id is ORG/REPO.");
    const filename = fields.filename;
    if (typeof filename !== "string") bad("FILENAME_REQUIRED", "filename names the file in the repository.");
    const revision = fields.revision ?? "main";
    if (typeof revision !== "string") bad("REVISION_INVALID", "revision is a branch, tag or commit name.");
    const subfolder = fields.subfolder ?? "";
    if (typeof subfolder !== "string") bad("SUBFOLDER_INVALID", "subfolder is a relative path inside the repository.");
    target = { source: "huggingface", repoId, filename: checkFilename(filename), subfolder: checkSubfolder(subfolder), revision: checkRevision(revision) };
  } else {
    bad("SOURCE_INVALID", `source is one of ${SOURCES.join(", ")} (or send url).`);
  }
  if (target.source === "civitai") {
    const query: CivitaiFileQuery = {};
    for (const key of ["type", "format", "size", "fp"] as const) {
      const value = optionalText(fields, key, /^[A-Za-z0-9 _.-]{1,40}$/);
      if (value !== undefined) query[key] = value;
    }
    target = { ...target, query };
  }
  return { target, folder, preferredFilename, targetUsername: (targetUsername as string | null | undefined) ?? null };
}

/** What the job list shows of a target (the original's job fields). */
export function describeTarget(target: DownloadTarget): Record<string, unknown> {
  return target.source === "civitai"
    ? { model_version_id: target.versionId, model_id: target.modelId, civitai_host: target.host }
    : { repo_id: target.repoId, filename: target.filename, subfolder: target.subfolder, revision: target.revision };
}

/** The source's public address of what a job fetches (for the audit log; never with a key). */
export function sourceUrl(target: DownloadTarget): string {
  if (target.source === "civitai") {
    return target.versionId === null ? `https://${target.host}/models/${target.modelId}` : `https://${target.host}/api/download/models/${target.versionId}`;
  }
  const path = [...(target.subfolder === "" ? [] : target.subfolder.split("/")), target.filename].map(encodeURIComponent).join("/");
  return `https://huggingface.co/${target.repoId}/resolve/${encodeURIComponent(target.revision)}/${path}`;
}
