// Tables owned by ntfy notifications. Importable by drizzle-kit under Node: drizzle-orm only.
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * The ntfy configuration: one row (id 1), edited from the admin app. The access token is
 * sealed with the gateway's secret key (src/auth/secret-box.ts) and never shown back.
 */
export const notifySettings = sqliteTable("notify_settings", {
  id: integer("id").primaryKey(),
  /** Master switch: nothing is sent while 0. */
  enabled: integer("enabled").notNull(),
  /** ntfy server, e.g. `https://ntfy.sh`: https, or any scheme on loopback. */
  serverUrl: text("server_url").notNull(),
  topic: text("topic").notNull(),
  /** The access token, sealed; null when none. */
  tokenSealed: text("token_sealed"),
  /** Per event key: `{ enabled, priority, tags }`, as JSON. */
  eventsJson: text("events_json").notNull(),
  /** Attach the picture to `image_generated` (only when the NSFW guard judged it safe). */
  attachImages: integer("attach_images").notNull(),
  updatedAt: integer("updated_at").notNull(),
  /** Gateway user id of who saved it last. */
  updatedBy: text("updated_by"),
});
