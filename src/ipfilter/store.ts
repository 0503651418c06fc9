/**
 * The IP rules, kept in memory for the per-request decision and re-read from the database
 * after every change here and every few seconds (another gateway instance may change them).
 */
import { eq } from "drizzle-orm";
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

export function createIpRuleStore(db: Db, now: () => number = Date.now) {
  let rules: StoredRule[] = [];
  let loadedAt = -Infinity;

  function load(): void {
    const rows = db.select().from(ipRules).all();
    const loaded: StoredRule[] = [];
    for (const row of rows) {
      const parsed = parseEntry(row.range);
      // Rows are validated when written; one that no longer parses is skipped, never widened.
      if (!parsed.ok || (row.kind !== "allow" && row.kind !== "deny")) continue;
      loaded.push({ kind: row.kind, range: parsed.range, text: parsed.text, expiresAt: row.expiresAt, reason: row.reason, createdAt: row.createdAt });
    }
    rules = loaded;
    loadedAt = now();
  }

  return {
    /** The rules in force (re-read when stale). */
    current(): readonly StoredRule[] {
      if (now() - loadedAt > RELOAD_MS) load();
      return rules;
    },

    /** Replaces every rule at once (all or nothing). */
    replaceAll(inputs: readonly RuleInput[], actorId: string | null): void {
      const at = now();
      db.transaction((tx) => {
        tx.delete(ipRules).run();
        for (const input of inputs) tx.insert(ipRules).values({ kind: input.kind, range: input.text, expiresAt: input.expiresAt, reason: input.reason, createdBy: actorId, createdAt: at }).run();
      });
      load();
    },

    /** Drops deny entries that have expired (the decision ignores them already). */
    pruneExpired(): void {
      const at = now();
      const expired = rules.filter((rule) => rule.kind === "deny" && rule.expiresAt !== null && rule.expiresAt <= at);
      if (expired.length === 0) return;
      for (const rule of expired) db.delete(ipRules).where(eq(ipRules.range, rule.text)).run();
      load();
    },
  };
}

export type IpRuleStore = ReturnType<typeof createIpRuleStore>;
