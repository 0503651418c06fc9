/**
 * Who owns what in ComfyUI's shared state: prompts (recorded when the gateway queues them) and
 * files (each user's own folder, plus files ComfyUI reported for their prompts). Look-ups are
 * cached: every queue, history and WebSocket message asks.
 */
import { and, desc, eq, gte } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import { fileOwners, promptOwners } from "./tables.ts";

export interface Owner {
  readonly userId: string;
  readonly username: string;
}

/** The folder (under output/, temp/ and input/) that belongs to one user. */
export function userFolder(userId: string): string {
  return `u-${userId}`;
}

const USER_FOLDER_PATTERN = /^u-[0-9a-f-]{36}$/;

/** Whether a folder name is some user's own folder. */
export function isUserFolder(segment: string): boolean {
  return USER_FOLDER_PATTERN.test(segment);
}

/**
 * A subfolder as ComfyUI will resolve it: `\` and `/` separate, `.` goes, `..` climbs. Null
 * when it climbs out of the root (ComfyUI refuses those too).
 */
export function normaliseSubfolder(subfolder: string): string | null {
  // An absolute path (or a drive) makes Python's os.path.join drop the base folder: never a user's.
  if (isAbsolutePath(subfolder)) return null;
  const parts: string[] = [];
  for (const segment of subfolder.split(/[\\/]+/)) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (parts.length === 0) return null;
      parts.pop();
      continue;
    }
    parts.push(segment);
  }
  return parts.join("/");
}

/** `/x`, `\\x`, `C:` or `C:\\x`: a path Python joins as absolute (on Linux or on Windows). */
export function isAbsolutePath(path: string): boolean {
  return path.startsWith("/") || path.startsWith("\\") || /^[A-Za-z]:/.test(path);
}

export type FileType = "output" | "temp" | "input";

/**
 * ComfyUI's `folder_paths.annotated_filepath`, to the letter: a name ending in `[output]`,
 * `[input]` or `[temp]` is in that folder, and the tag plus ONE character before it (usually a
 * space, but any character) is cut off. The gateway must read names as ComfyUI will.
 */
export function splitAnnotation(name: string): { name: string; type: FileType | null } {
  if (name.endsWith("[output]")) return { name: name.slice(0, -9), type: "output" };
  if (name.endsWith("[input]")) return { name: name.slice(0, -8), type: "input" };
  if (name.endsWith("[temp]")) return { name: name.slice(0, -7), type: "temp" };
  return { name, type: null };
}

export interface FileRef {
  type: FileType;
  subfolder: string;
  filename: string;
}

/** What a `/view` query asks for, read as ComfyUI reads it. */
export type ViewTarget =
  | { readonly kind: "file"; readonly file: FileRef }
  /** A `type` ComfyUI answers 400 for. */
  | { readonly kind: "bad-type" }
  /** A leading `/` or a `..`: ComfyUI refuses those too. */
  | { readonly kind: "bad-name" }
  /** Newer ComfyUI resolves `blake3:<hash>` across every user's files (its asset store). */
  | { readonly kind: "hash"; readonly filename: string };

export function viewTarget(search: string): ViewTarget {
  const params = new URLSearchParams(search);
  // A trailing [output]/[input]/[temp] tag (with any one character before it) picks the folder, whatever `type` says.
  const annotated = splitAnnotation(params.get("filename") ?? "");
  const filename = annotated.name;
  const type = annotated.type ?? params.get("type") ?? "output";
  if (type !== "output" && type !== "input" && type !== "temp") return { kind: "bad-type" };
  if (filename.startsWith("/") || filename.includes("..")) return { kind: "bad-name" };
  if (filename.startsWith("blake3:")) return { kind: "hash", filename };
  return { kind: "file", file: { type, subfolder: params.get("subfolder") ?? "", filename: filename.split(/[\\/]/).pop() ?? "" } };
}

const CACHE_SIZE = 50_000;

/** Bounded map: the oldest entry goes when full. */
function remember<K, V>(map: Map<K, V>, key: K, value: V): V {
  if (map.size >= CACHE_SIZE) map.delete(map.keys().next().value as K);
  map.set(key, value);
  return value;
}

export interface OwnershipOptions {
  /** A file became known for the first time (an output ComfyUI reported, an upload): the NSFW guard scans it. */
  onNewFile?: (file: FileRef) => void;
}

export function createOwnershipStore(db: Db, options: OwnershipOptions = {}) {
  const promptCache = new Map<string, Owner | null>();

  function ownerOfPrompt(promptId: string): Owner | null {
    const cached = promptCache.get(promptId);
    if (cached !== undefined) return cached;
    const row = db.select({ userId: promptOwners.userId, username: promptOwners.username }).from(promptOwners).where(eq(promptOwners.promptId, promptId)).get();
    return remember(promptCache, promptId, row ?? null);
  }

  function recordFile(file: FileRef, userId: string, promptId: string | null, now: number): void {
    const subfolder = normaliseSubfolder(file.subfolder);
    if (subfolder === null || file.filename === "") return;
    // The first owner stays: a later prompt that reports the same file (a cached output) does not take it over.
    const inserted = db
      .insert(fileOwners)
      .values({ type: file.type, subfolder, filename: file.filename, userId, promptId, createdAt: now })
      .onConflictDoNothing()
      .returning({ type: fileOwners.type })
      .all();
    if (inserted.length > 0) options.onNewFile?.({ type: file.type, subfolder, filename: file.filename });
  }

  return {
    ownerOfPrompt,

    /** Before the prompt goes to ComfyUI, so that its first events already find their owner. */
    recordPrompt(input: { promptId: string; owner: Owner; clientId: string | null; now: number }): void {
      db.insert(promptOwners).values({ promptId: input.promptId, userId: input.owner.userId, username: input.owner.username, clientId: input.clientId, createdAt: input.now }).run();
      remember(promptCache, input.promptId, input.owner);
    },

    /** ComfyUI refused the prompt: nothing of it exists upstream. */
    forgetPrompt(promptId: string): void {
      db.delete(promptOwners).where(eq(promptOwners.promptId, promptId)).run();
      promptCache.delete(promptId);
    },

    recordFile,

    /**
     * Files in a ComfyUI `outputs`/`output` object (`{images: [{filename, subfolder, type}], gifs: …}`)
     * belong to the prompt's owner.
     */
    recordOutputs(promptId: string, output: unknown, now: number): void {
      const owner = ownerOfPrompt(promptId);
      if (owner === null || typeof output !== "object" || output === null) return;
      for (const items of Object.values(output as Record<string, unknown>)) {
        if (!Array.isArray(items)) continue;
        for (const item of items) {
          if (typeof item !== "object" || item === null) continue;
          const { filename, subfolder, type } = item as Record<string, unknown>;
          if (typeof filename !== "string" || (type !== "output" && type !== "temp" && type !== "input")) continue;
          recordFile({ type, subfolder: typeof subfolder === "string" ? subfolder : "", filename }, owner.userId, promptId, now);
        }
      }
    },

    /** A history entry's `outputs`: node id → that node's output object (as in an `executed` message). */
    recordHistoryOutputs(promptId: string, outputs: unknown, now: number): void {
      if (typeof outputs !== "object" || outputs === null) return;
      for (const nodeOutput of Object.values(outputs as Record<string, unknown>)) this.recordOutputs(promptId, nodeOutput, now);
    },

    ownerOfFile(file: FileRef): string | null {
      const subfolder = normaliseSubfolder(file.subfolder);
      if (subfolder === null) return null;
      const row = db
        .select({ userId: fileOwners.userId })
        .from(fileOwners)
        .where(and(eq(fileOwners.type, file.type), eq(fileOwners.subfolder, subfolder), eq(fileOwners.filename, file.filename)))
        .get();
      return row?.userId ?? null;
    },

    /** Files recorded under this bare name (any folder), newest first, with their owners. */
    filesNamed(filename: string): { file: FileRef; userId: string }[] {
      return db
        .select({ type: fileOwners.type, subfolder: fileOwners.subfolder, filename: fileOwners.filename, userId: fileOwners.userId })
        .from(fileOwners)
        .where(eq(fileOwners.filename, filename))
        .orderBy(desc(fileOwners.createdAt))
        .limit(100)
        .all()
        .map((row) => ({ file: { type: row.type as FileType, subfolder: row.subfolder, filename: row.filename }, userId: row.userId }));
    },

    /** Files recorded at or after `since` (ms), oldest first. */
    filesSince(since: number, limit: number): FileRef[] {
      return db
        .select({ type: fileOwners.type, subfolder: fileOwners.subfolder, filename: fileOwners.filename })
        .from(fileOwners)
        .where(gte(fileOwners.createdAt, since))
        .orderBy(fileOwners.createdAt)
        .limit(limit)
        .all() as FileRef[];
    },

    /** Uploads a user made (for the LoadImage list in /object_info). */
    uploadsOf(userId: string): FileRef[] {
      return db
        .select({ type: fileOwners.type, subfolder: fileOwners.subfolder, filename: fileOwners.filename })
        .from(fileOwners)
        .where(and(eq(fileOwners.userId, userId), eq(fileOwners.type, "input")))
        .all() as FileRef[];
    },
  };
}

export type OwnershipStore = ReturnType<typeof createOwnershipStore>;
