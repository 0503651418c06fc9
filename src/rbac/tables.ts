// Tables owned by the rbac module. Importable by drizzle-kit under Node: drizzle-orm only.
import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * The permission matrix (the original's `mss_login_groups.json`): one row per role and key.
 * The owner's row is computed, never stored; missing keys take their defaults (permissions.ts).
 */
export const rolePermissions = sqliteTable(
  "role_permissions",
  {
    role: text("role").notNull(),
    key: text("key").notNull(),
    allowed: integer("allowed", { mode: "boolean" }).notNull(),
    /** Unix milliseconds of the last change. */
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.role, t.key] })],
);
