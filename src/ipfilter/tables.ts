// Tables owned by the IP filter. Importable by drizzle-kit under Node: drizzle-orm only.
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * One allow- or deny-list entry: an address or CIDR range in canonical form. A non-empty
 * allow list turns the filter into allow-list mode. Deny entries may expire (bans).
 */
export const ipRules = sqliteTable(
  "ip_rules",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** `allow` or `deny`. */
    kind: text("kind").notNull(),
    /** Canonical address or range, e.g. `10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`. */
    range: text("range").notNull(),
    /** Epoch ms after which a deny entry no longer applies; null = permanent. */
    expiresAt: integer("expires_at"),
    /** Why (e.g. "manual", "failed logins"). */
    reason: text("reason").notNull(),
    /** The gateway user id of who added it; null for the gateway itself (automatic bans). */
    createdBy: text("created_by"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("ip_rules_kind").on(t.kind, t.range)],
);
