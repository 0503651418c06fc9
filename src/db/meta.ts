// Typed access to `app_meta`: facts about this installation, shared by every gateway
// process that uses the same database.
import { eq } from "drizzle-orm";
import type { Db } from "./client.ts";
import { appMeta } from "./tables.ts";

/** Keys this module writes. Other modules should prefer their own tables over app_meta. */
export const META_KEYS = {
  /** Random UUID naming this installation (the database, not one process). */
  instanceId: "instance_id",
} as const;

export function getMeta(db: Db, key: string): string | null {
  const row = db.select({ value: appMeta.value }).from(appMeta).where(eq(appMeta.key, key)).get();
  return row?.value ?? null;
}

export function setMeta(db: Db, key: string, value: string, now: number = Date.now()): void {
  db.insert(appMeta)
    .values({ key, value, updatedAt: now })
    .onConflictDoUpdate({ target: appMeta.key, set: { value, updatedAt: now } })
    .run();
}

/** Returns the installation's id, creating it on first use. Safe when several processes race. */
export function ensureInstanceId(db: Db, now: number = Date.now()): string {
  db.insert(appMeta)
    .values({ key: META_KEYS.instanceId, value: crypto.randomUUID(), updatedAt: now })
    .onConflictDoNothing()
    .run();
  const id = getMeta(db, META_KEYS.instanceId);
  if (id === null) throw new Error("app_meta.instance_id missing right after it was written");
  return id;
}
