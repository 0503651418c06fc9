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
