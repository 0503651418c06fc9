/**
 * The `comfy-user` the gateway sends for each principal. In `--multi-user` mode ComfyUI keeps
 * workflows and settings per user id and refuses unknown ids, so the gateway creates one
 * ComfyUI user per principal on first use (`POST /users`), stores the id, and sets the header
 * itself on every forwarded request. A single-user ComfyUI ignores the header, so nothing is
 * created there (creating a user would flip its storage to multi-user, fixture finding 13).
 */
import { eq } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import { upstreamUsers } from "./tables.ts";
import type { Upstream } from "./upstream.ts";

export type UpstreamMode = "multi-user" | "single-user";

/** How long a detected upstream mode is trusted before asking again (ComfyUI may restart). */
const MODE_TTL_MS = 30_000;

export interface UpstreamUserDirectory {
  /** The id to send as `comfy-user`, or null when ComfyUI is single-user (no header needed). */
  comfyUserFor(principalKey: string, displayName: string): Promise<string | null>;
  /** The same answer without waiting when it is already known; undefined when it is not. */
  known(principalKey: string): string | null | undefined;
  /** Whether ComfyUI has a user of that id (as last listed): a `comfy-user` naming one is someone's. */
  isUpstreamUser(comfyUserId: string): boolean;
}

interface UsersListing {
  storage?: string;
  users?: Record<string, string>;
}

export function createUpstreamUserDirectory(db: Db, upstream: Upstream): UpstreamUserDirectory {
  const base = upstream.origin + upstream.basePath;
  let mode: { value: UpstreamMode; at: number; users: Record<string, string> } | null = null;
  /** Principal → id confirmed to exist upstream since the mode was last read (the fast path). */
  const confirmed = new Map<string, string>();
  const inFlight = new Map<string, Promise<string | null>>();

  async function listUsers(): Promise<{ value: UpstreamMode; at: number; users: Record<string, string> }> {
    const response = await fetch(`${base}/api/users`, { signal: AbortSignal.timeout(upstream.connectTimeoutMs) });
    const body = (await response.json().catch(() => null)) as UsersListing | null;
    // Anything but ComfyUI's own answer (an error page, another server on that address) must
    // not be taken for "single-user, no header needed": fail closed.
    if (!response.ok || body === null || typeof body.storage !== "string") {
      throw new Error(`unexpected answer from ComfyUI's GET /api/users (HTTP ${response.status})`);
    }
    const users = body.users;
    return { value: users ? "multi-user" : "single-user", at: Date.now(), users: users ?? {} };
  }

  async function currentMode() {
    if (mode === null || Date.now() - mode.at > MODE_TTL_MS) {
      mode = await listUsers();
      confirmed.clear();
    }
    return mode;
  }

  async function createUser(displayName: string): Promise<string> {
    const response = await fetch(`${base}/api/users`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: displayName }),
      signal: AbortSignal.timeout(upstream.connectTimeoutMs),
    });
    if (response.ok) return (await response.json()) as string;
    // "Duplicate username.": ComfyUI already has one by that name (e.g. our database was reset).
    const listing = await listUsers();
    const existing = Object.entries(listing.users).find(([, name]) => name === displayName);
    if (existing) return existing[0];
    throw new Error(`ComfyUI refused to create user ${displayName} (HTTP ${response.status})`);
  }

  async function resolve(principalKey: string, displayName: string): Promise<string | null> {
    const current = await currentMode();
    if (current.value === "single-user") return null;
    const stored = db.select().from(upstreamUsers).where(eq(upstreamUsers.principalKey, principalKey)).get();
    if (stored && stored.comfyUserId in current.users) {
      confirmed.set(principalKey, stored.comfyUserId);
      return stored.comfyUserId;
    }
    const comfyUserId = await createUser(displayName);
    db.insert(upstreamUsers)
      .values({ principalKey, comfyUserId, displayName, createdAt: Date.now() })
      .onConflictDoUpdate({ target: upstreamUsers.principalKey, set: { comfyUserId, displayName } })
      .run();
    current.users[comfyUserId] = displayName;
    confirmed.set(principalKey, comfyUserId);
    return comfyUserId;
  }

  function known(principalKey: string): string | null | undefined {
    if (mode === null || Date.now() - mode.at > MODE_TTL_MS) return undefined;
    return mode.value === "single-user" ? null : confirmed.get(principalKey);
  }

  return {
    known,
    isUpstreamUser: (comfyUserId) => mode !== null && Object.hasOwn(mode.users, comfyUserId),
    comfyUserFor(principalKey, displayName) {
      const answer = known(principalKey);
      if (answer !== undefined) return Promise.resolve(answer);
      // One creation per principal even when its first requests arrive together.
      const pending = inFlight.get(principalKey);
      if (pending) return pending;
      const work = resolve(principalKey, displayName).finally(() => inFlight.delete(principalKey));
      inFlight.set(principalKey, work);
      return work;
    },
  };
}
