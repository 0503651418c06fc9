// Tables owned by the isolation module: who owns which prompt and which file in ComfyUI's shared
// queue, history and output folders. Importable by drizzle-kit under Node: drizzle-orm only.
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Every prompt queued through the gateway, with its owner. The gateway mints the prompt_id, so
 * nobody can queue under (or overwrite) another user's id. Kept after ComfyUI forgets the prompt
 * (a restart empties its history), and after the user is deleted (then only admins see it).
 */
export const promptOwners = sqliteTable(
  "prompt_owners",
  {
    promptId: text("prompt_id").primaryKey(),
    userId: text("user_id").notNull(),
    /** For labels in admins' views (the account may be gone later). */
    username: text("username").notNull(),
    /** The upstream WebSocket sid the prompt's events go to (gateway-minted), or null. */
    clientId: text("client_id"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("prompt_owners_user").on(t.userId, t.createdAt)],
);

/**
 * Files ComfyUI reported for a user's prompt (`executed` events, history outputs) or a user
 * uploaded: `/view` serves a file outside the user's own folder only when a row says it is theirs
 * (PreviewImage writes temp files that no prefix rewrite can place).
 */
export const fileOwners = sqliteTable(
  "file_owners",
  {
    /** `output`, `temp` or `input`. */
    type: text("type").notNull(),
    /** Normalised: no leading or trailing '/', no '.' or '..' segments. */
    subfolder: text("subfolder").notNull(),
    filename: text("filename").notNull(),
    userId: text("user_id").notNull(),
    promptId: text("prompt_id"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.type, t.subfolder, t.filename] }), index("file_owners_user").on(t.userId)],
);

/**
 * Workflows an admin promoted for everyone (issue 4): every signed-in user sees them as
 * `workflows/shared/<name>` in their own workflow listings. Kept by the gateway rather than in
 * one ComfyUI user's folder, so no ComfyUI user has to be readable by all and nobody can
 * overwrite them through ComfyUI; only the admin API changes them.
 */
export const sharedWorkflows = sqliteTable("shared_workflows", {
  /** The file name under `workflows/shared/`, e.g. `portrait.json` (validated: one safe segment ending .json). */
  name: text("name").primaryKey(),
  /** The workflow JSON as the user saved it (UTF-8 text). */
  content: text("content").notNull(),
  /** UTF-8 length of `content`: listings report it without reading the content. */
  sizeBytes: integer("size_bytes").notNull(),
  /** The gateway user id of the admin who promoted it. */
  promotedBy: text("promoted_by").notNull(),
  promotedAt: integer("promoted_at").notNull(),
});
