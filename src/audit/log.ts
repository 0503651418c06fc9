/**
 * The tamper-evident audit log (issue 7, part 2): append, verify, prune. Each row's hash covers
 * its fields and the previous row's hash; verification recomputes the whole chain from the
 * anchor (where pruning left it) and names the first row that does not match. Someone able to
 * rewrite every later row too could forge a consistent chain: `audit verify` prints the head
 * hash, which an operator can note elsewhere to rule that out.
 */
import { and, asc, desc, eq, gt, gte, like, lt, lte } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import { auditAnchor, auditEvents } from "./tables.ts";

export const GENESIS_HASH = "0".repeat(64);

export interface AuditEvent {
  action: string;
  outcome: "success" | "failure" | "denied";
  actorId?: string | null;
  actorName?: string | null;
  clientIp?: string | null;
  userAgent?: string | null;
  target?: string | null;
  details?: Record<string, string | number | boolean | null>;
}

type Row = typeof auditEvents.$inferSelect;
export type AuditRow = Row;

/** Filters of the admin view and exports (all optional, combined with "and"). */
export interface AuditFilter {
  /** A prefix of the action, e.g. `login.` or `POST /mss-login/api/users`. */
  action?: string;
  outcome?: string;
  /** The actor's name, exactly. */
  actor?: string;
  ip?: string;
  since?: number;
  until?: number;
}

/** Field names whose values are never written, wherever they appear in details. */
const SECRET_KEYS = /pass(word)?|token|ticket|secret|code|cookie|authorization|api[_-]?key/i;

export function scrubbed(details: Record<string, string | number | boolean | null> = {}): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  for (const [key, value] of Object.entries(details)) out[key] = SECRET_KEYS.test(key) ? "[not recorded]" : typeof value === "string" ? value.slice(0, 500) : value;
  return out;
}

/** The hash of one row: every field, in a fixed order, with the previous hash. */
export function rowHash(row: Omit<Row, "hash">): string {
  const canonical = JSON.stringify([row.id, row.at, row.actorId, row.actorName, row.clientIp, row.userAgent, row.action, row.target, row.outcome, row.details, row.prevHash]);
  return new Bun.CryptoHasher("sha256").update(canonical).digest("hex");
}

export type VerifyResult = { ok: true; rows: number; from: number; head: string } | { ok: false; rows: number; brokenId: number; problem: string };

export function createAuditLog(db: Db, now: () => number = Date.now) {
  return {
    /** Appends one event (in one transaction: the chain never forks). Returns its id. */
    append(event: AuditEvent): number {
      return db.transaction((tx) => {
        const previous = tx.select({ id: auditEvents.id, hash: auditEvents.hash }).from(auditEvents).orderBy(desc(auditEvents.id)).limit(1).get();
        const anchor = tx.select().from(auditAnchor).where(eq(auditAnchor.id, 1)).get();
        const prevHash = previous?.hash ?? anchor?.lastPrunedHash ?? GENESIS_HASH;
        const id = (previous?.id ?? anchor?.lastPrunedId ?? 0) + 1;
        const row = {
          id,
          at: now(),
          actorId: event.actorId ?? null,
          actorName: event.actorName ?? null,
          clientIp: event.clientIp ?? null,
          userAgent: event.userAgent === undefined || event.userAgent === null ? null : event.userAgent.slice(0, 300),
          action: event.action,
          target: event.target ?? null,
          outcome: event.outcome,
          details: JSON.stringify(scrubbed(event.details)),
          prevHash,
        };
        tx.insert(auditEvents).values({ ...row, hash: rowHash(row) }).run();
        return id;
      });
    },

    /** Recomputes the chain from its start (or the pruning anchor). */
    verify(): VerifyResult {
      const anchor = db.select().from(auditAnchor).where(eq(auditAnchor.id, 1)).get();
      let expectedPrev = anchor?.lastPrunedHash ?? GENESIS_HASH;
      let expectedId = (anchor?.lastPrunedId ?? 0) + 1;
      let rows = 0;
      let after = anchor?.lastPrunedId ?? 0;
      for (;;) {
        const batch = db.select().from(auditEvents).where(gt(auditEvents.id, after)).orderBy(asc(auditEvents.id)).limit(1000).all();
        if (batch.length === 0) break;
        for (const row of batch) {
          if (row.id !== expectedId) return { ok: false, rows, brokenId: row.id, problem: `row ${expectedId} is missing (the next one is ${row.id})` };
          if (row.prevHash !== expectedPrev) return { ok: false, rows, brokenId: row.id, problem: "its link to the row before does not match" };
          const { hash, ...fields } = row;
          if (rowHash(fields) !== hash) return { ok: false, rows, brokenId: row.id, problem: "its content does not match its hash (edited)" };
          expectedPrev = hash;
          expectedId++;
          rows++;
          after = row.id;
        }
      }
      return { ok: true, rows, from: (anchor?.lastPrunedId ?? 0) + 1, head: expectedPrev };
    },

    /** Deletes rows older than `before`, moving the anchor so the rest still verifies. Returns how many went. */
    prune(before: number): number {
      return db.transaction((tx) => {
        const last = tx.select({ id: auditEvents.id, hash: auditEvents.hash }).from(auditEvents).where(lte(auditEvents.at, before)).orderBy(desc(auditEvents.id)).limit(1).get();
        if (last === undefined) return 0;
        const removed = tx.delete(auditEvents).where(lte(auditEvents.id, last.id)).returning({ id: auditEvents.id }).all().length;
        tx.insert(auditAnchor)
          .values({ id: 1, lastPrunedId: last.id, lastPrunedHash: last.hash, prunedAt: now() })
          .onConflictDoUpdate({ target: auditAnchor.id, set: { lastPrunedId: last.id, lastPrunedHash: last.hash, prunedAt: now() } })
          .run();
        return removed;
      });
    },

    /** Newest first, filtered, in pages (admin views, exports). */
    page(options: AuditFilter & { limit: number; beforeId?: number }): Row[] {
      const conditions = [];
      if (options.beforeId !== undefined) conditions.push(lt(auditEvents.id, options.beforeId));
      if (options.action !== undefined) conditions.push(like(auditEvents.action, `${options.action.replace(/[%_\\]/g, "")}%`));
      if (options.outcome !== undefined) conditions.push(eq(auditEvents.outcome, options.outcome));
      if (options.actor !== undefined) conditions.push(eq(auditEvents.actorName, options.actor));
      if (options.ip !== undefined) conditions.push(eq(auditEvents.clientIp, options.ip));
      if (options.since !== undefined) conditions.push(gte(auditEvents.at, options.since));
      if (options.until !== undefined) conditions.push(lte(auditEvents.at, options.until));
      return db.select().from(auditEvents).where(and(...conditions)).orderBy(desc(auditEvents.id)).limit(options.limit).all();
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;
