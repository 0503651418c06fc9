// Tables owned by the models module: who may see and use which ComfyUI model. Importable by
// drizzle-kit under Node: drizzle-orm only.
import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Model grants (the original's "shared items"): one row lets a user (`user:<id>`) or every
 * user of a role (`role:<role>`) see and use one model, every model of a folder
 * (`item_name` `*`), or everything (`folder` `*`, `item_name` `*`). Owners, admins and
 * holders of `can_view_all_comfyui_items` need none.
 *
 * The migration that creates this table also grants `*`/`*` to the roles power, user and
 * guest, so that a fresh install (or one upgrading to this version) keeps showing every model
 * until an admin narrows it. It runs once: a removed default stays removed.
 */
export const modelGrants = sqliteTable(
  "model_grants",
  {
    /** `user:<user id>` or `role:<role name>`. */
    grantee: text("grantee").notNull(),
    /** A ComfyUI model folder (`checkpoints`, `loras`, …) or `*`. */
    folder: text("folder").notNull(),
    /** A file name relative to the folder, with `/` between subfolders, or `*`. */
    itemName: text("item_name").notNull(),
    /** Who granted it; null for the defaults the migration seeded. */
    grantedBy: text("granted_by"),
    /** Their role at the time, for the original's answer shape. */
    grantedByRole: text("granted_by_role"),
    /** Unix milliseconds. */
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.grantee, t.folder, t.itemName] })],
);
