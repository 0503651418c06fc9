// Tables owned by the gateway module. Importable by drizzle-kit under Node: drizzle-orm only.
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Which ComfyUI user id (`comfy-user`) the gateway uses for each of its principals. ComfyUI in
 * `--multi-user` mode only knows users created through `POST /users`; the gateway creates them
 * on first use and remembers the id, so a user's workflows and settings survive restarts.
 */
export const upstreamUsers = sqliteTable("upstream_users", {
  /** `anonymous` until accounts exist; later `user:<id>`. */
  principalKey: text("principal_key").primaryKey(),
  comfyUserId: text("comfy_user_id").notNull().unique(),
  displayName: text("display_name").notNull(),
  /** Unix time in milliseconds. */
  createdAt: integer("created_at").notNull(),
});
