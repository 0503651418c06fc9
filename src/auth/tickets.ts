/**
 * Tickets: browsers cannot put headers on a WebSocket upgrade or an `<img>` request, and a
 * long-lived token in a URL ends up in logs and histories. A session or API token is exchanged
 * for a ticket valid 60 seconds, for one purpose, usable once.
 */
import { and, eq, gt, isNull, lt } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import { hashToken } from "./api-tokens.ts";
import { tickets } from "./tables.ts";

export const TICKET_PREFIX = "mst_";
export const TICKET_LIFETIME_MS = 60_000;
/** The second sign-in step (`mfa_temp_token` of the original's API) may take a little longer. */
export const MFA_TICKET_LIFETIME_MS = 300_000;
/**
 * `mfa-setup`: a role that requires a second factor signs in without one and must enrol first.
 * `password-reset`: a link an administrator hands to a user, who then chooses a new password.
 */
export type TicketPurpose = "ws" | "view" | "mfa" | "mfa-setup" | "password-reset";

/** A reset link is handed over by a person (chat, mail): it lasts a day, not a minute. */
export const PASSWORD_RESET_LIFETIME_MS = 24 * 3600_000;

function lifetimeOf(purpose: TicketPurpose): number {
  if (purpose === "password-reset") return PASSWORD_RESET_LIFETIME_MS;
  return purpose === "mfa" || purpose === "mfa-setup" ? MFA_TICKET_LIFETIME_MS : TICKET_LIFETIME_MS;
}

export type TicketRedemption =
  | { ok: true; userId: string; sessionJti: string | null; apiTokenId: string | null }
  | { ok: false; reason: "invalid" };

const TICKET_SHAPE = /^mst_[A-Za-z0-9_-]{43}$/;

export function createTicketStore(db: Db) {
  return {
    issue(input: { userId: string; purpose: TicketPurpose; sessionJti: string | null; apiTokenId: string | null; now: number }) {
      const ticket = TICKET_PREFIX + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
      const expiresAt = input.now + lifetimeOf(input.purpose);
      db.insert(tickets)
        .values({ ticketHash: hashToken(ticket), userId: input.userId, purpose: input.purpose, sessionJti: input.sessionJti, apiTokenId: input.apiTokenId, createdAt: input.now, expiresAt })
        .run();
      return { ticket, expiresAt };
    },

    /**
     * Uses a ticket up: one conditional UPDATE, so two concurrent uses cannot both succeed. The
     * caller must still check that the session or token it came from is alive.
     */
    redeem(ticket: string, purpose: TicketPurpose, now: number): TicketRedemption {
      if (!TICKET_SHAPE.test(ticket)) return { ok: false, reason: "invalid" };
      const used = db
        .update(tickets)
        .set({ usedAt: now })
        .where(and(eq(tickets.ticketHash, hashToken(ticket)), eq(tickets.purpose, purpose), isNull(tickets.usedAt), gt(tickets.expiresAt, now)))
        .returning({ userId: tickets.userId, sessionJti: tickets.sessionJti, apiTokenId: tickets.apiTokenId })
        .all();
      const row = used[0];
      return row ? { ok: true, ...row } : { ok: false, reason: "invalid" };
    },

    /** The user a ticket is for, without using it up (enrolment shows a QR code before the code is confirmed). */
    peek(ticket: string, purpose: TicketPurpose, now: number): string | null {
      if (!TICKET_SHAPE.test(ticket)) return null;
      const row = db
        .select({ userId: tickets.userId })
        .from(tickets)
        .where(and(eq(tickets.ticketHash, hashToken(ticket)), eq(tickets.purpose, purpose), isNull(tickets.usedAt), gt(tickets.expiresAt, now)))
        .get();
      return row?.userId ?? null;
    },

    /** Spends every open ticket of one purpose for a user (a new reset link replaces the old). */
    spendAll(userId: string, purpose: TicketPurpose, now: number): number {
      return db
        .update(tickets)
        .set({ usedAt: now })
        .where(and(eq(tickets.userId, userId), eq(tickets.purpose, purpose), isNull(tickets.usedAt)))
        .returning({ hash: tickets.ticketHash })
        .all().length;
    },

    /** Removes tickets that expired more than a minute ago. */
    prune(now: number): number {
      return db.delete(tickets).where(lt(tickets.expiresAt, now - MFA_TICKET_LIFETIME_MS)).returning({ hash: tickets.ticketHash }).all().length;
    },
  };
}

export type TicketStore = ReturnType<typeof createTicketStore>;
