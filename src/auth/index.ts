/**
 * The auth module's stores, built from the configuration: sessions, API tokens, tickets,
 * regulation and the identity resolver that reads them. The composition root wires them to the
 * request flow and to the sign-in routes.
 */
import type { Config } from "../config/index.ts";
import type { OpenDatabase } from "../db/index.ts";
import type { Logger } from "../log.ts";
import { createApiTokenStore } from "./api-tokens.ts";
import { createIdentityResolver } from "./identity.ts";
import { passwordSettingsFrom, prepareDummyHash } from "./passwords.ts";
import { Regulator } from "./regulation.ts";
import { deriveKey, resolveSecretKey } from "./secret-key.ts";
import { createSessionStore } from "./sessions.ts";
import { createTicketStore } from "./tickets.ts";

const HOUR_MS = 3600_000;

export async function createAuthentication(config: Config, database: OpenDatabase, log: Logger) {
  const secret = resolveSecretKey(config);
  if (secret.source === "generated") log.info("generated a new secret key", { path: secret.path });
  const passwordSettings = passwordSettingsFrom(config);
  // Unknown users are verified against a dummy hash of the same cost: made once, up front.
  await prepareDummyHash(passwordSettings);
  // Each use of the secret gets its own derived key: a session signature says nothing about the MFA key.
  const sessionSigningKey = Buffer.from(deriveKey(secret.key, "session-signing")).toString("base64url");
  const sessions = createSessionStore(database.db, sessionSigningKey, {
    idleMs: config.sessions.idle_hours * HOUR_MS,
    absoluteMs: config.sessions.absolute_days * 24 * HOUR_MS,
    rememberMs: config.sessions.remember_days * 24 * HOUR_MS,
    adminIdleMs: config.sessions.admin_idle_minutes * 60_000,
    stepUpMs: config.sessions.step_up_minutes * 60_000,
  });
  const apiTokens = createApiTokenStore(database.db);
  const tickets = createTicketStore(database.db);
  const regulator = new Regulator(database.db, {
    profile: config.regulation.profile,
    accountMaxFailures: config.regulation.account_max_failures,
    accountWindowSeconds: config.regulation.account_window_seconds,
    accountBanSeconds: config.regulation.account_ban_seconds,
    ipAttemptsPerMinute: config.regulation.ip_attempts_per_minute,
  });
  const resolveIdentity = createIdentityResolver({ sessions, apiTokens, tickets }, undefined, config.auth.allow_query_token);
  return { secret, passwordSettings, sessions, apiTokens, tickets, regulator, resolveIdentity };
}
