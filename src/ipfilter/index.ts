/**
 * Step 2 of the request flow: the IP filter (issue 7, part 1). Refuses a client whose address
 * the lists refuse, with a 403 page or JSON, before identity is looked at. With no rules it
 * costs nothing per request (the client's address is not even resolved).
 */
import type { Db } from "../db/index.ts";
import type { ClientInfo } from "../gateway/client-address.ts";
import { errorResponse } from "../gateway/error-response.ts";
import type { Logger } from "../log.ts";
import { decide } from "./rules.ts";
import { createIpRuleStore } from "./store.ts";

/** Refusals logged at most this often per address (a flood must not become a log flood). */
const LOG_EVERY_MS = 60_000;

export function createIpFilter(db: Db, log: Logger, now: () => number = Date.now) {
  const store = createIpRuleStore(db, now);
  const lastLogged = new Map<string, number>();
  return {
    store,
    /** Whether any rule exists (otherwise the filter is skipped). */
    active: (): boolean => store.current().length > 0,
    /** The refusal for this client, or null when it may go on. */
    refuse(client: ClientInfo, request: Request): Response | null {
      const at = now();
      const decision = decide(client.ip, store.current(), at);
      if (decision.allowed) return null;
      if ((lastLogged.get(client.ip) ?? 0) < at - LOG_EVERY_MS) {
        if (lastLogged.size > 10_000) lastLogged.clear();
        lastLogged.set(client.ip, at);
        log.warn("ip filter: refused", { client: client.ip, reason: decision.reason, ...(decision.rule === undefined ? {} : { rule: decision.rule }), path: new URL(request.url).pathname });
      }
      return errorResponse(request, 403, "IP_DENIED", "Access denied: this address is not allowed to use this gateway.", "Access denied");
    },
  };
}

export type IpFilter = ReturnType<typeof createIpFilter>;
