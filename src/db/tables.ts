// Tables owned by the storage module itself. Other modules keep their tables in their own
// folder (e.g. src/auth/tables.ts) and add one re-export line to ./schema.ts.
//
// This file must stay importable by drizzle-kit under Node: import drizzle-orm only, never
// bun:sqlite or other Bun built-ins.
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Small key/value store for facts about this installation (e.g. `instance_id`).
 * `updated_at` is Unix time in milliseconds.
 */
export const appMeta = sqliteTable("app_meta", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  updatedAt: integer("updated_at").notNull(),
});
