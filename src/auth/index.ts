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
import { passwordSettingsFrom, prepareDummyHash, type PasswordSettings } from "./passwords.ts";
import { Regulator, type RegulationSettings } from "./regulation.ts";
import { deriveKey, resolveSecretKey } from "./secret-key.ts";
import { createSessionStore, type SessionSettings } from "./sessions.ts";
import { createTicketStore } from "./tickets.ts";

const HOUR_MS = 3600_000;

/** The same derived object for the same configuration object (the live configuration changes as a whole). */
function derived<T extends object>(from: (config: Config) => T): (config: Config) => T {
  let last: { config: Config; value: T } | null = null;
  return (config) => {
    if (last === null || last.config !== config) last = { config, value: from(config) };
    return last.value;
  };
}

const regulationFrom = derived((config: Config): RegulationSettings => ({
  profile: config.regulation.profile,
  accountMaxFailures: config.regulation.account_max_failures,
  accountWindowSeconds: config.regulation.account_window_seconds,
  accountBanSeconds: config.regulation.account_ban_seconds,
  ipAttemptsPerMinute: config.regulation.ip_attempts_per_minute,
}));

/**
 * `live` gives the configuration in force now (the administrator's run-time settings included):
 * session lifetimes, the password minimum and regulation are read from it at each use, so a
 * change applies to the next request. What is fixed at start (the secret key, the argon2 cost
 * of the dummy hash prepared up front) comes from `config`.
 */
export async function createAuthentication(config: Config, database: OpenDatabase, log: Logger, live: () => Config = () => config) {
  const secret = resolveSecretKey(config);
  if (secret.source === "generated") log.info("generated a new secret key", { path: secret.path });
  const passwordSettings: PasswordSettings = {
    get minLength() {
      return live().password.min_length;
    },
    get argon2MemoryKib() {
      return live().password.argon2_memory_kib;
    },
    get argon2TimeCost() {
      return live().password.argon2_time_cost;
    },
  };
  // Unknown users are verified against a dummy hash of the same cost: made once, up front.
  await prepareDummyHash(passwordSettingsFrom(config));
  // Each use of the secret gets its own derived key: a session signature says nothing about the MFA key.
  const sessionSigningKey = Buffer.from(deriveKey(secret.key, "session-signing")).toString("base64url");
  const sessionSettings: SessionSettings = {
    get idleMs() {
      return live().sessions.idle_hours * HOUR_MS;
    },
    get absoluteMs() {
      return live().sessions.absolute_days * 24 * HOUR_MS;
    },
    get rememberMs() {
      return live().sessions.remember_days * 24 * HOUR_MS;
    },
    get adminIdleMs() {
      return live().sessions.admin_idle_minutes * 60_000;
    },
    get stepUpMs() {
      return live().sessions.step_up_minutes * 60_000;
    },
  };
  const sessions = createSessionStore(database.db, sessionSigningKey, sessionSettings);
  const apiTokens = createApiTokenStore(database.db);
  const tickets = createTicketStore(database.db);
  const regulator = new Regulator(database.db, () => regulationFrom(live()));
  const resolveIdentity = createIdentityResolver({ sessions, apiTokens, tickets }, undefined, config.auth.allow_query_token);
  return { secret, passwordSettings, sessions, apiTokens, tickets, regulator, resolveIdentity };
}
