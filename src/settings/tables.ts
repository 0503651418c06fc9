// Tables owned by the settings module. Must stay importable by drizzle-kit under Node:
// import drizzle-orm only.
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Settings changed at run time by an administrator (or `mss-login settings set`): one row per
 * dotted config key, its value as JSON. They sit between config.json and the environment:
 * defaults < config.json < these < MSS_LOGIN_* env < flags. `updated_at` is Unix ms.
 */
export const gatewaySettings = sqliteTable("gateway_settings", {
  key: text("key").primaryKey(),
  valueJson: text("value_json").notNull(),
  /** Username of the administrator, or "command line". */
  updatedBy: text("updated_by"),
  updatedAt: integer("updated_at").notNull(),
});
