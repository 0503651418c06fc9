/**
 * The stored ntfy settings (one row of notify_settings), read through a short cache: another
 * gateway instance sharing the database may change them, so they are read again every few
 * seconds, and at once after a change made here. The access token is sealed (AES-GCM, with a key
 * derived for this purpose only) and opened only into memory, for publishing.
 */
import { eq } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import { openSecretString, sealSecret } from "../auth/secret-box.ts";
import { defaultEventSettings, EVENT_CATALOGUE, isEventKey, PRIORITIES, type EventSettings, type PriorityName } from "./events.ts";
import { checkServerUrl, checkTopic, MAX_TAGS, TAG_PATTERN, type NotifySettingsValues, type TokenChange } from "./validate.ts";
import { notifySettings } from "./tables.ts";

export const DEFAULT_SERVER_URL = "https://ntfy.sh";
const RELOAD_MS = 5_000;
const ROW_ID = 1;
/** Bound into the sealed token: a sealed value copied from elsewhere does not open here. */
export const TOKEN_ASSOCIATED_DATA = "notify_settings:1:token";

export interface StoredSettings extends NotifySettingsValues {
  /** The sealed token, or null. */
  tokenSealed: string | null;
  updatedAt: number | null;
  updatedBy: string | null;
}

export function defaultSettings(): StoredSettings {
  return { enabled: false, serverUrl: DEFAULT_SERVER_URL, topic: "", attachImages: false, events: defaultEventSettings(), tokenSealed: null, updatedAt: null, updatedBy: null };
}

/**
 * The stored events over the defaults: an event added in a later version gets its default; a
 * stored value that no longer checks (edited by hand) falls back to the default, never wider.
 */
export function eventsFromJson(json: string): EventSettings {
  const events = defaultEventSettings();
  let stored: unknown;
  try {
    stored = JSON.parse(json);
  } catch {
    return events;
  }
  if (stored === null || typeof stored !== "object") return events;
  for (const [key, value] of Object.entries(stored as Record<string, unknown>)) {
    if (!isEventKey(key) || value === null || typeof value !== "object") continue;
    const item = value as Record<string, unknown>;
    if (typeof item.enabled === "boolean") events[key].enabled = item.enabled;
    if (typeof item.priority === "string" && (PRIORITIES as readonly string[]).includes(item.priority)) events[key].priority = item.priority as PriorityName;
    if (Array.isArray(item.tags) && item.tags.length <= MAX_TAGS && item.tags.every((tag) => typeof tag === "string" && TAG_PATTERN.test(tag))) events[key].tags = item.tags as string[];
  }
  return events;
}

export function eventsToJson(events: EventSettings): string {
  const out: Record<string, unknown> = {};
  for (const { key } of EVENT_CATALOGUE) out[key] = events[key];
  return JSON.stringify(out);
}

/** Whether two (checked) server addresses share scheme, host and port. */
function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

export function createSettingsStore(db: Db, key: Uint8Array, now: () => number = Date.now) {
  let cached: StoredSettings = defaultSettings();
  let loadedAt = -Infinity;
  /** The opened token, for the sealed text it came from. */
  let opened: { sealed: string; token: string | null } | null = null;

  function load(): StoredSettings {
    const row = db.select().from(notifySettings).where(eq(notifySettings.id, ROW_ID)).get();
    if (row === undefined) {
      cached = defaultSettings();
    } else {
      const url = checkServerUrl(row.serverUrl);
      const topic = checkTopic(row.topic);
      cached = {
        // A row edited into something invalid sends nothing.
        enabled: row.enabled === 1 && url.ok && topic.ok && topic.value !== "",
        serverUrl: url.ok ? url.value : DEFAULT_SERVER_URL,
        topic: topic.ok ? topic.value : "",
        attachImages: row.attachImages === 1,
        events: eventsFromJson(row.eventsJson),
        // An address that no longer checks is not the one the token was given for: as if unset.
        tokenSealed: url.ok ? row.tokenSealed : null,
        updatedAt: row.updatedAt,
        updatedBy: row.updatedBy,
      };
    }
    loadedAt = now();
    return cached;
  }

  return {
    /** The settings in force (read again when a few seconds old). */
    current(): StoredSettings {
      return now() - loadedAt > RELOAD_MS ? load() : cached;
    },

    /** Reads the row again now. */
    reload(): StoredSettings {
      return load();
    },

    /** The token in clear (null when none, or when it no longer opens: then it is as if unset). */
    async token(settings: StoredSettings): Promise<string | null> {
      const sealed = settings.tokenSealed;
      if (sealed === null) return null;
      if (opened !== null && opened.sealed === sealed) return opened.token;
      let token: string | null;
      try {
        token = await openSecretString(key, sealed, TOKEN_ASSOCIATED_DATA);
      } catch {
        // Another secret key (the key file was replaced): the owner sets the token again.
        token = null;
      }
      opened = { sealed, token };
      return token;
    },

    /**
     * Stores new settings (the token sealed first); returns them, with `tokenCleared` when a kept
     * token was dropped because the server changed. The row is read again and written in one
     * transaction: a kept token stays only when the stored row (not a cached or stale copy, which
     * another instance may have changed meanwhile) is for the same origin as the address saved.
     */
    async save(values: NotifySettingsValues, token: TokenChange, userId: string | null): Promise<StoredSettings & { tokenCleared: boolean }> {
      const sealedNew = token.kind === "set" ? await sealSecret(key, token.token, TOKEN_ASSOCIATED_DATA) : null;
      let tokenCleared = false;
      db.transaction(
        (tx) => {
          const previous = tx.select().from(notifySettings).where(eq(notifySettings.id, ROW_ID)).get();
          let tokenSealed: string | null = null;
          if (token.kind === "set") tokenSealed = sealedNew;
          else if (token.kind === "keep" && previous !== undefined && previous.tokenSealed !== null) {
            const stored = checkServerUrl(previous.serverUrl);
            if (stored.ok && sameOrigin(stored.value, values.serverUrl)) tokenSealed = previous.tokenSealed;
            else tokenCleared = true;
          }
          const row = {
            enabled: values.enabled ? 1 : 0,
            serverUrl: values.serverUrl,
            topic: values.topic,
            tokenSealed,
            eventsJson: eventsToJson(values.events),
            attachImages: values.attachImages ? 1 : 0,
            updatedAt: now(),
            updatedBy: userId,
          };
          tx.insert(notifySettings).values({ id: ROW_ID, ...row }).onConflictDoUpdate({ target: notifySettings.id, set: row }).run();
        },
        { behavior: "immediate" },
      );
      if (token.kind === "set") opened = { sealed: sealedNew!, token: token.token };
      return { ...load(), tokenCleared };
    },
  };
}

export type SettingsStore = ReturnType<typeof createSettingsStore>;
