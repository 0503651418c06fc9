// Tables owned by the auth module (accounts, sessions, API tokens, tickets, MFA, regulation).
// Importable by drizzle-kit under Node: drizzle-orm only. Times are Unix milliseconds.
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(), // UUID
    username: text("username").notNull(),
    /** Lower-cased username: uniqueness and look-ups ignore case. */
    usernameKey: text("username_key").notNull(),
    /** argon2id (or an imported bcrypt hash until the next login re-hashes it). */
    passwordHash: text("password_hash").notNull(),
    role: text("role", { enum: ["owner", "admin", "power", "user", "guest"] }).notNull(),
    /** Extra groups of the original groups file (JSON array of names); the role is the main one. */
    groups: text("groups").notNull().default("[]"),
    disabled: integer("disabled", { mode: "boolean" }).notNull().default(false),
    /** NSFW check applies to this user's images (default on). */
    sfwCheck: integer("sfw_check", { mode: "boolean" }).notNull().default(true),
    createdAt: integer("created_at").notNull(),
    lastLoginAt: integer("last_login_at"),
    passwordChangedAt: integer("password_changed_at").notNull(),
  },
  (t) => [uniqueIndex("users_username_key").on(t.usernameKey)],
);

/** Browser sessions: the JWT carries the jti; a row must exist and be unrevoked on every request. */
export const sessions = sqliteTable(
  "sessions",
  {
    jti: text("jti").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
    lastSeenAt: integer("last_seen_at").notNull(),
    /** Absolute end (7 days, or 30 with remember-me, by default). */
    expiresAt: integer("expires_at").notNull(),
    rememberMe: integer("remember_me", { mode: "boolean" }).notNull().default(false),
    /** Last password re-entry, for admin writes (step-up). */
    stepUpAt: integer("step_up_at"),
    revokedAt: integer("revoked_at"),
    clientIp: text("client_ip"),
    userAgent: text("user_agent"),
  },
  (t) => [index("sessions_user").on(t.userId)],
);

/** Long-lived API tokens (`mss_…`), stored as SHA-256 of the token; shown once. */
export const apiTokens = sqliteTable(
  "api_tokens",
  {
    id: text("id").primaryKey(), // UUID
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull(),
    label: text("label").notNull(),
    /** JSON array of scopes: "read", "run", "admin". */
    scopes: text("scopes").notNull(),
    createdAt: integer("created_at").notNull(),
    /** Null: never expires (only for roles with can_have_non_expiring_jwt). */
    expiresAt: integer("expires_at"),
    lastUsedAt: integer("last_used_at"),
    lastUsedIp: text("last_used_ip"),
    revokedAt: integer("revoked_at"),
  },
  (t) => [uniqueIndex("api_tokens_hash").on(t.tokenHash), index("api_tokens_user").on(t.userId)],
);

/** Single-use, 60-second tickets for the WebSocket upgrade and `<img>` requests (no headers there). */
export const tickets = sqliteTable("tickets", {
  ticketHash: text("ticket_hash").primaryKey(),
  userId: text("user_id")
    .notNull()
    .references(() => users.id, { onDelete: "cascade" }),
  purpose: text("purpose", { enum: ["ws", "view", "mfa", "mfa-setup", "password-reset"] }).notNull(),
  /** What the ticket was exchanged for, so revoking that ends the ticket too. */
  sessionJti: text("session_jti"),
  apiTokenId: text("api_token_id"),
  createdAt: integer("created_at").notNull(),
  expiresAt: integer("expires_at").notNull(),
  usedAt: integer("used_at"),
});

/** One TOTP enrolment per user; the secret is encrypted (AES-256-GCM, user id as associated data). */
export const mfaEnrolments = sqliteTable("mfa_enrolments", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  secretCiphertext: text("secret_ciphertext").notNull(),
  enabled: integer("enabled", { mode: "boolean" }).notNull().default(false),
  createdAt: integer("created_at").notNull(),
  enabledAt: integer("enabled_at"),
  /** Last accepted TOTP time step: the same code is never accepted twice. */
  lastUsedStep: integer("last_used_step"),
});

/** Ten single-use recovery codes per enrolment, stored hashed. */
export const recoveryCodes = sqliteTable(
  "recovery_codes",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    codeHash: text("code_hash").notNull(),
    usedAt: integer("used_at"),
  },
  (t) => [primaryKey({ columns: [t.userId, t.codeHash] })],
);

/** Failed attempts, per regulation key (`account:<username_key>`, `ip:<address>`), for sliding windows. */
export const authFailures = sqliteTable(
  "auth_failures",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    key: text("key").notNull(),
    at: integer("at").notNull(),
  },
  (t) => [index("auth_failures_key_at").on(t.key, t.at)],
);

/** Active bans and token buckets, per regulation key; stored so that a restart forgets nothing. */
export const authRegulation = sqliteTable("auth_regulation", {
  key: text("key").primaryKey(),
  bannedUntil: integer("banned_until"),
  /** Token bucket for per-address attempt rate. */
  tokens: real("tokens"),
  tokensUpdatedAt: integer("tokens_updated_at"),
});

/** The one-time first-run setup link (hashed), valid 30 minutes. */
export const setupTokens = sqliteTable("setup_tokens", {
  tokenHash: text("token_hash").primaryKey(),
  createdAt: integer("created_at").notNull(),
  expiresAt: integer("expires_at").notNull(),
  usedAt: integer("used_at"),
});
