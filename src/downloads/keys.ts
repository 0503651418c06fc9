// Each user's API keys for the download sources, sealed with a key derived from the gateway's
// secret (AES-256-GCM, bound to the user and the source) and never returned by any route.
import { and, eq } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import { openSecret, sealSecret } from "../auth/secret-box.ts";
import { SOURCES, type Source } from "./sources.ts";
import { downloadApiKeys } from "./tables.ts";

const associatedData = (userId: string, source: Source) => `download-api-key:${userId}:${source}`;

export function createApiKeyStore(db: Db, key: Uint8Array, now: () => number = Date.now) {
  return {
    /** The sources this user has a key for. */
    sourcesWithKeys(userId: string): Source[] {
      const stored = new Set(db.select({ source: downloadApiKeys.source }).from(downloadApiKeys).where(eq(downloadApiKeys.userId, userId)).all().map((row) => row.source));
      return SOURCES.filter((source) => stored.has(source));
    },
    async set(userId: string, source: Source, apiKey: string): Promise<void> {
      const sealed = await sealSecret(key, apiKey, associatedData(userId, source));
      db.insert(downloadApiKeys)
        .values({ userId, source, keySealed: sealed, updatedAt: now() })
        .onConflictDoUpdate({ target: [downloadApiKeys.userId, downloadApiKeys.source], set: { keySealed: sealed, updatedAt: now() } })
        .run();
    },
    /** Every key of a user (their account is gone). */
    forget(userId: string): void {
      db.delete(downloadApiKeys).where(eq(downloadApiKeys.userId, userId)).run();
    },
    clear(userId: string, source: Source): void {
      db.delete(downloadApiKeys).where(and(eq(downloadApiKeys.userId, userId), eq(downloadApiKeys.source, source))).run();
    },
    /** The key in clear, for a download's request only; null when none (or it no longer opens). */
    async open(userId: string, source: Source): Promise<string | null> {
      const row = db.select().from(downloadApiKeys).where(and(eq(downloadApiKeys.userId, userId), eq(downloadApiKeys.source, source))).get();
      if (row === undefined) return null;
      try {
        return new TextDecoder().decode(await openSecret(key, row.keySealed, associatedData(userId, source)));
      } catch {
        return null; // the secret key changed: the user sets the key again
      }
    },
  };
}

export type ApiKeyStore = ReturnType<typeof createApiKeyStore>;
