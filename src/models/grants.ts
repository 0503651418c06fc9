/**
 * The model grants store (reference §10.4): which models a user, or every user of a role, may
 * see and use. Grants are few (dozens to thousands of rows), so the whole table is held as an
 * index, rebuilt after every change here and at most CACHE_MS after a change made by another
 * gateway process sharing the database.
 *
 * Defaults: the migration that creates the table grants `*`/`*` to power, user and guest, so
 * everything stays visible until an admin removes a role's `*` grant and grants models one by
 * one. Owners, admins and holders of `can_view_all_comfyui_items` are never filtered.
 */
import { and, asc, eq } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import { MAX_MODEL_NAME_LENGTH, type ModelPredicate } from "./filters.ts";
import { modelGrants } from "./tables.ts";

/** The wildcard: every model of a folder (as item name), every folder (as folder). */
export const EVERY = "*";

/** How long the index is trusted when nothing changed it here (other gateway processes may). */
const CACHE_MS = 5_000;

export type Grantee = { kind: "user"; userId: string } | { kind: "role"; role: string };

export interface ModelGrant {
  grantee: string;
  folder: string;
  itemName: string;
  grantedBy: string | null;
  grantedByRole: string | null;
  /** Unix milliseconds. */
  createdAt: number;
}

/** Who is looking: `seesAll` is owner, admin or `can_view_all_comfyui_items`. */
export interface ModelViewer {
  userId: string;
  role: string;
  seesAll: boolean;
}

/** What a viewer may see; `everything` lets callers skip filtering altogether. */
export type ModelVisibility = ModelPredicate & { readonly everything: boolean };

export class ModelGrantError extends Error {
  constructor(
    readonly status: 400 | 404,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ModelGrantError";
  }
}

export function granteeKey(grantee: Grantee): string {
  return grantee.kind === "user" ? `user:${grantee.userId}` : `role:${grantee.role.toLowerCase()}`;
}

/** ComfyUI folder names: letters, digits, `_`, `-`, `.` (not first); or `*`. */
const FOLDER_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;

/** A folder as stored, or a ModelGrantError saying what is wrong with it. */
export function parseFolder(folder: unknown): string {
  if (folder === EVERY) return EVERY;
  if (typeof folder !== "string" || !FOLDER_PATTERN.test(folder)) {
    throw new ModelGrantError(400, "FOLDER_INVALID", "folder is a ComfyUI model folder name (letters, digits, '_', '-', '.'; e.g. checkpoints) or \"*\".");
  }
  return folder;
}

/**
 * An item name as stored: a path relative to the folder with `/` between segments, or `*`.
 * Names that leave the folder or are absolute are refused, not repaired: a grant must say
 * exactly what it grants.
 */
export function parseItemName(itemName: unknown): string {
  if (itemName === EVERY) return EVERY;
  if (typeof itemName !== "string" || itemName.length === 0 || itemName.length > MAX_MODEL_NAME_LENGTH) {
    throw new ModelGrantError(400, "ITEM_NAME_INVALID", `item_name is a file name relative to the folder (at most ${MAX_MODEL_NAME_LENGTH} characters) or "*".`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(itemName)) throw new ModelGrantError(400, "ITEM_NAME_INVALID", "item_name must not contain control characters.");
  if (/^[\\/]/.test(itemName) || /^[A-Za-z]:/.test(itemName)) throw new ModelGrantError(400, "ITEM_NAME_UNSAFE", "item_name is relative to the folder: no leading '/' or '\\', no drive letter.");
  const segments = itemName.split(/[\\/]/);
  if (segments.some((segment) => segment === "" || segment === "." || segment === "..")) {
    throw new ModelGrantError(400, "ITEM_NAME_UNSAFE", "item_name must not contain '.', '..' or empty path segments.");
  }
  return segments.join("/");
}

interface GrantIndex {
  /** grantee → folder → item names (`*` included). */
  byGrantee: Map<string, Map<string, Set<string>>>;
  loadedAt: number;
}

export interface ModelGrantStore {
  /** Adds a grant (validating folder and item name); ModelGrantError when invalid or already there. */
  grant(input: { grantee: Grantee; folder: unknown; itemName: unknown; grantedBy: { userId: string; role: string } | null; now?: number }): ModelGrant;
  /** Removes one grant (exact folder and item name, wildcards included); false when there was none. */
  revoke(grantee: Grantee, folder: unknown, itemName: unknown): boolean;
  /** The grantee's own grants (for a user: not those of their role), by folder and name. */
  listFor(grantee: Grantee): ModelGrant[];
  /** What a viewer may see now: their own grants and their role's. */
  visibleTo(viewer: ModelViewer): ModelVisibility;
  /** Forget the cached index (tests; another process wrote the table). */
  reload(): void;
}

const SEES_EVERYTHING: ModelVisibility = Object.assign(() => true, { everything: true });

export function createModelGrantStore(db: Db, options: { now?: () => number } = {}): ModelGrantStore {
  const clock = options.now ?? Date.now;
  let index: GrantIndex | null = null;

  function load(): GrantIndex {
    if (index !== null && clock() - index.loadedAt < CACHE_MS) return index;
    const byGrantee = new Map<string, Map<string, Set<string>>>();
    for (const row of db.select({ grantee: modelGrants.grantee, folder: modelGrants.folder, itemName: modelGrants.itemName }).from(modelGrants).all()) {
      let folders = byGrantee.get(row.grantee);
      if (folders === undefined) byGrantee.set(row.grantee, (folders = new Map()));
      let items = folders.get(row.folder);
      if (items === undefined) folders.set(row.folder, (items = new Set()));
      items.add(row.itemName);
    }
    index = { byGrantee, loadedAt: clock() };
    return index;
  }

  const toGrant = (row: typeof modelGrants.$inferSelect): ModelGrant => ({
    grantee: row.grantee,
    folder: row.folder,
    itemName: row.itemName,
    grantedBy: row.grantedBy,
    grantedByRole: row.grantedByRole,
    createdAt: row.createdAt,
  });

  function where(grantee: Grantee, folder: string, itemName: string) {
    return and(eq(modelGrants.grantee, granteeKey(grantee)), eq(modelGrants.folder, folder), eq(modelGrants.itemName, itemName));
  }

  return {
    grant({ grantee, folder, itemName, grantedBy, now = clock() }) {
      const row = {
        grantee: granteeKey(grantee),
        folder: parseFolder(folder),
        itemName: parseItemName(itemName),
        grantedBy: grantedBy?.userId ?? null,
        grantedByRole: grantedBy?.role ?? null,
        createdAt: now,
      };
      const inserted = db.insert(modelGrants).values(row).onConflictDoNothing().returning().all();
      if (inserted.length === 0) throw new ModelGrantError(400, "ALREADY_GRANTED", `${row.folder}/${row.itemName} is already granted.`);
      index = null;
      return toGrant(inserted[0]!);
    },

    revoke(grantee, folder, itemName) {
      const removed = db.delete(modelGrants).where(where(grantee, parseFolder(folder), parseItemName(itemName))).returning().all();
      if (removed.length > 0) index = null;
      return removed.length > 0;
    },

    listFor(grantee) {
      return db
        .select()
        .from(modelGrants)
        .where(eq(modelGrants.grantee, granteeKey(grantee)))
        .orderBy(asc(modelGrants.folder), asc(modelGrants.itemName))
        .all()
        .map(toGrant);
    },

    visibleTo(viewer) {
      if (viewer.seesAll) return SEES_EVERYTHING;
      const { byGrantee } = load();
      const sources = [byGrantee.get(granteeKey({ kind: "user", userId: viewer.userId })), byGrantee.get(granteeKey({ kind: "role", role: viewer.role }))].filter(
        (folders): folders is Map<string, Set<string>> => folders !== undefined,
      );
      if (sources.some((folders) => folders.get(EVERY)?.has(EVERY) === true)) return SEES_EVERYTHING;
      // A grant of folder `*` with a name matches that name in any folder; asking for the name
      // `*` asks whether the whole folder is granted.
      const sees = (folder: string, name: string): boolean =>
        sources.some((folders) => {
          const inFolder = folders.get(folder);
          if (inFolder !== undefined && (inFolder.has(EVERY) || inFolder.has(name))) return true;
          return name !== EVERY && folders.get(EVERY)?.has(name) === true;
        });
      return Object.assign(sees, { everything: false });
    },

    reload() {
      index = null;
    },
  };
}
