// Tables owned by the audit log. Importable by drizzle-kit under Node: drizzle-orm only.
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Security events, each chained to the one before by a SHA-256 hash: editing, deleting or
 * inserting a row by hand breaks the chain at that row (`mss-login audit verify`).
 */
export const auditEvents = sqliteTable(
  "audit_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    at: integer("at").notNull(),
    /** The acting account's id and name at the time (null: anonymous or the gateway itself). */
    actorId: text("actor_id"),
    actorName: text("actor_name"),
    clientIp: text("client_ip"),
    userAgent: text("user_agent"),
    /** e.g. `login.success`, `login.failure`, `ip.rules.replaced`, `ip.banned`, `nsfw.blocked`. */
    action: text("action").notNull(),
    target: text("target"),
    /** `success`, `failure` or `denied`. */
    outcome: text("outcome").notNull(),
    /** JSON object: what else is worth knowing (never a password, token, ticket or code). */
    details: text("details").notNull(),
    /** The previous row's hash (the anchor's after pruning; 64 zeros for the first). */
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [index("audit_events_at").on(t.at), index("audit_events_action").on(t.action, t.at)],
);

/** Where the chain starts after old rows were pruned: the last pruned row's id and hash. */
export const auditAnchor = sqliteTable("audit_anchor", {
  id: integer("id").primaryKey(),
  lastPrunedId: integer("last_pruned_id").notNull(),
  lastPrunedHash: text("last_pruned_hash").notNull(),
  prunedAt: integer("pruned_at").notNull(),
});
