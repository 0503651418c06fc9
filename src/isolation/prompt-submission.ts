/**
 * `POST /prompt` made private (comfyui-api.md §3.1, §8): the gateway decides the prompt_id,
 * stamps the owner into `extra_data`, binds `client_id` to one of the caller's own sockets,
 * puts every output into the caller's folder (`filename_prefix`), and refuses references to
 * files of other users. Pure: the caller supplies ownership look-ups and socket ids.
 */
import { isAbsolutePath, isUserFolder, normaliseSubfolder, splitAnnotation, userFolder, type FileRef, type FileType } from "./ownership.ts";

export interface PromptCaller {
  userId: string;
  username: string;
  /** Owner, admin or `can_view_all_comfyui_items`: may reference anyone's files. */
  seesAll: boolean;
}

export interface PromptSubmissionDeps {
  /** Whether a prompt id is already known (to anyone). */
  promptIdTaken(promptId: string): boolean;
  /** The upstream sid behind one of the caller's own client ids, or null when it is not theirs. */
  upstreamSidFor(clientId: string): string | null;
  /** The caller's most recent open socket, for prompts sent without (a valid) client_id. */
  latestSid(): string | null;
  /** A sid nobody is connected to: events of a prompt bound to it go nowhere (never broadcast). */
  sinkSid: string;
  /** Who owns a file outside any user folder (ComfyUI reported it for their prompt), if known. */
  ownerOfFile(file: FileRef): string | null;
}

export type PromptSubmission =
  | { ok: true; body: Record<string, unknown>; promptId: string; upstreamClientId: string }
  | { ok: false; status: 400 | 403; code: string; message: string; details?: Record<string, unknown> };

/** The key in `extra_data` that carries the owner (round-trips into queue and history items). */
export const OWNER_KEY = "x_mss_owner";

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A combo value as ComfyUI reads a file reference: `sub/name.png`, optionally tagged `[output]` (see splitAnnotation). */
export function parseFileReference(value: string): FileRef {
  const annotated = splitAnnotation(value);
  const path = annotated.name;
  const type: FileType = annotated.type ?? "input";
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return { type, subfolder: slash < 0 ? "" : path.slice(0, slash), filename: slash < 0 ? path : path.slice(slash + 1) };
}

/**
 * Whether `userId` may read a file: their own folder; a file ComfyUI reported for their prompt;
 * a shared input (outside every user folder). Other users' folders, and outputs or temp files
 * nobody recorded for them, are not theirs.
 */
export function mayReadFile(file: FileRef, userId: string, ownerOfFile: (file: FileRef) => string | null): boolean {
  const subfolder = normaliseSubfolder(file.subfolder);
  if (subfolder === null) return false;
  const top = subfolder.split("/", 1)[0]!;
  if (top === userFolder(userId)) return true;
  if (isUserFolder(top)) return false;
  if (file.type === "input") return true;
  return ownerOfFile({ ...file, subfolder }) === userId;
}

/**
 * A save node's prefix, placed under the caller's folder. Leading slashes, `.` and `..` go, and
 * so does a leading user folder (a prompt re-queued from history already carries its owner's).
 */
export function prefixIntoUserFolder(prefix: string, userId: string): string {
  const segments = prefix.split(/[\\/]+/).filter((segment) => segment !== "" && segment !== "." && segment !== "..");
  if (segments.length > 0 && isUserFolder(segments[0]!)) segments.shift();
  return `${userFolder(userId)}/${segments.length === 0 ? "ComfyUI" : segments.join("/")}`;
}

function refuse(status: 400 | 403, code: string, message: string, details?: Record<string, unknown>): PromptSubmission {
  return details === undefined ? { ok: false, status, code, message } : { ok: false, status, code, message, details };
}

export function preparePromptSubmission(body: unknown, caller: PromptCaller, deps: PromptSubmissionDeps): PromptSubmission {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return refuse(400, "PROMPT_INVALID", "Send a JSON object with a \"prompt\" graph.");
  const submission = { ...(body as Record<string, unknown>) };
  const graph = submission.prompt;
  if (typeof graph !== "object" || graph === null || Array.isArray(graph)) return refuse(400, "PROMPT_INVALID", "The \"prompt\" field must be an object of nodes.");

  // The prompt id: a client may choose one only if it is a new canonical UUID nobody has used.
  let promptId: string;
  if (submission.prompt_id === undefined || submission.prompt_id === null) {
    promptId = crypto.randomUUID();
  } else if (typeof submission.prompt_id !== "string" || !CANONICAL_UUID.test(submission.prompt_id)) {
    return refuse(400, "PROMPT_ID_INVALID", "prompt_id must be a new lowercase UUID (or leave it out and the gateway picks one).");
  } else if (deps.promptIdTaken(submission.prompt_id)) {
    return refuse(400, "PROMPT_ID_TAKEN", "That prompt_id is already in use; leave it out and the gateway picks one.");
  } else {
    promptId = submission.prompt_id;
  }
  submission.prompt_id = promptId;

  // Jumping the shared queue (`front`, a low `number`) pushes everyone else back: admins only.
  if (!caller.seesAll) {
    delete submission.front;
    delete submission.number;
  }

  // Events go to one of the caller's own sockets, or to a sink: never broadcast to everyone.
  const requested = typeof submission.client_id === "string" ? deps.upstreamSidFor(submission.client_id) : null;
  const upstreamClientId = requested ?? deps.latestSid() ?? deps.sinkSid;
  submission.client_id = upstreamClientId;

  const extra = submission.extra_data;
  if (extra !== undefined && (typeof extra !== "object" || extra === null || Array.isArray(extra))) return refuse(400, "PROMPT_INVALID", "extra_data must be an object.");
  submission.extra_data = { ...(extra as Record<string, unknown> | undefined), [OWNER_KEY]: { user_id: caller.userId, username: caller.username } };

  const rewritten: Record<string, unknown> = {};
  for (const [nodeId, node] of Object.entries(graph as Record<string, unknown>)) {
    if (typeof node !== "object" || node === null || Array.isArray(node)) {
      rewritten[nodeId] = node;
      continue;
    }
    const inputs = (node as { inputs?: unknown }).inputs;
    if (typeof inputs !== "object" || inputs === null || Array.isArray(inputs)) {
      rewritten[nodeId] = node;
      continue;
    }
    const classType = String((node as { class_type?: unknown }).class_type ?? "");
    const newInputs: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(inputs as Record<string, unknown>)) {
      if (name === "filename_prefix") {
        if (typeof value !== "string") {
          // A linked prefix is computed while the prompt runs, beyond the gateway's reach.
          return refuse(400, "FILENAME_PREFIX_LINKED", `Node ${nodeId} (${classType}): filename_prefix must be typed in, not linked from another node, so that outputs stay in your folder.`, { node_id: nodeId });
        }
        newInputs[name] = prefixIntoUserFolder(value, caller.userId);
        continue;
      }
      if (typeof value === "string" && !caller.seesAll && looksLikeFileReference(value) && refersToOthersFile(value, caller.userId, deps.ownerOfFile)) {
        return refuse(403, "FILE_NOT_ALLOWED", `Node ${nodeId} (${classType}) uses a file that is not yours: ${name}.`, { node_id: nodeId, input: name });
      }
      newInputs[name] = value;
    }
    rewritten[nodeId] = { ...(node as Record<string, unknown>), inputs: newInputs };
  }
  submission.prompt = rewritten;
  return { ok: true, body: submission, promptId, upstreamClientId };
}

/** `/srv/x.png`, `C:\\x.png`: ComfyUI's joins would read that file wherever it is. (`/imagine a cat` is text.) */
function namesAbsoluteFile(value: string): boolean {
  const path = splitAnnotation(value).name;
  return isAbsolutePath(path) && !/\s/.test(path) && /\.[A-Za-z0-9]{1,8}$/.test(path);
}

/**
 * Whether a string input would make ComfyUI read a file that is not the caller's. An absolute
 * path counts only when it looks like a file (`/imagine a cat / f1.8` is prompt text).
 */
function refersToOthersFile(value: string, userId: string, ownerOfFile: (file: FileRef) => string | null): boolean {
  if (isAbsolutePath(splitAnnotation(value).name)) return namesAbsoluteFile(value);
  return !mayReadFile(parseFileReference(value), userId, ownerOfFile);
}

/** Only values that could name a file in someone's folder, or an annotated output/temp file, need a check. */
function looksLikeFileReference(value: string): boolean {
  if (value.length > 4096) return false;
  if (splitAnnotation(value).type !== null) return true;
  return value.includes("/") || value.includes("\\") || /^[A-Za-z]:/.test(value);
}
