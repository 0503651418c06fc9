/**
 * The IP rules, kept in memory for the per-request decision and re-read from the database
 * after every change here and every few seconds (another gateway instance may change them).
 */
import { and, lte, ne } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import { parseEntry, type IpRule } from "./rules.ts";
import { ipRules } from "./tables.ts";

const RELOAD_MS = 5_000;

export interface RuleInput extends IpRule {
  readonly reason: string;
}

export interface StoredRule extends IpRule {
  readonly reason: string;
  readonly createdAt: number;
}

export interface DeviceLockInput {
  readonly deviceId: string;
  readonly expiresAt: number | null;
}

/** A device id (the original's `X-Device-ID` / `mss_login_device_id`) that is locked out. */
export interface DeviceLock {
  readonly deviceId: string;
  readonly expiresAt: number | null;
  readonly reason: string;
}

export function createIpRuleStore(db: Db, now: () => number = Date.now) {
  let rules: StoredRule[] = [];
  let devices: DeviceLock[] = [];
  let loadedAt = -Infinity;

  function load(): void {
    const rows = db.select().from(ipRules).all();
    const loaded: StoredRule[] = [];
    const locked: DeviceLock[] = [];
    for (const row of rows) {
      if (row.kind === "device") {
        locked.push({ deviceId: row.range, expiresAt: row.expiresAt, reason: row.reason });
        continue;
      }
      const parsed = parseEntry(row.range);
      // Rows are validated when written; one that no longer parses is skipped, never widened.
      if (!parsed.ok || (row.kind !== "allow" && row.kind !== "deny")) continue;
      loaded.push({ kind: row.kind, range: parsed.range, text: parsed.text, expiresAt: row.expiresAt, reason: row.reason, createdAt: row.createdAt });
    }
    rules = loaded;
    devices = locked;
    loadedAt = now();
  }

  return {
    /** The rules in force (re-read when stale). */
    current(): readonly StoredRule[] {
      if (now() - loadedAt > RELOAD_MS) load();
      return rules;
    },

    /** Device ids locked out now (re-read when stale). */
    lockedDevices(): readonly DeviceLock[] {
      if (now() - loadedAt > RELOAD_MS) load();
      return devices;
    },

    /** Adds one rule (an automatic ban), and locks a device id with it when given. */
    add(input: RuleInput, deviceId: string | null): void {
      const at = now();
      db.transaction((tx) => {
        tx.insert(ipRules).values({ kind: input.kind, range: input.text, expiresAt: input.expiresAt, reason: input.reason, createdBy: null, createdAt: at }).run();
        if (deviceId !== null) tx.insert(ipRules).values({ kind: "device", range: deviceId, expiresAt: input.expiresAt, reason: input.reason, createdBy: null, createdAt: at }).run();
      });
      load();
    },

    /** Replaces every address rule at once (all or nothing); device locks are replaced too when given. */
    replaceAll(inputs: readonly RuleInput[], actorId: string | null, devices?: readonly DeviceLockInput[]): void {
      const at = now();
      db.transaction((tx) => {
        if (devices === undefined) tx.delete(ipRules).where(ne(ipRules.kind, "device")).run();
        else {
          tx.delete(ipRules).run();
          for (const device of devices) tx.insert(ipRules).values({ kind: "device", range: device.deviceId, expiresAt: device.expiresAt, reason: "manual", createdBy: actorId, createdAt: at }).run();
        }
        for (const input of inputs) tx.insert(ipRules).values({ kind: input.kind, range: input.text, expiresAt: input.expiresAt, reason: input.reason, createdBy: actorId, createdAt: at }).run();
      });
      load();
    },

    /** Drops deny entries that have expired (the decision ignores them already). */
    pruneExpired(): void {
      const at = now();
      db.delete(ipRules).where(and(ne(ipRules.kind, "allow"), lte(ipRules.expiresAt, at))).run();
      load();
    },
  };
}

export type IpRuleStore = ReturnType<typeof createIpRuleStore>;
