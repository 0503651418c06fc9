/**
 * Step 2 of the request flow: the IP filter (issue 7). Refuses a client whose address the lists
 * refuse, or whose device id is locked, with a 403 page or JSON, before identity is looked at.
 * With no rules it costs nothing per request (the client's address is not even resolved).
 * Failed sign-ins are counted per address; past `ip_filter.ban_after_failures` within the
 * window the address (and the device id it sent, as the original did) is banned for a while.
 */
import type { Config } from "../config/index.ts";
import type { Db } from "../db/index.ts";
import type { ClientInfo } from "../gateway/client-address.ts";
import { errorResponse } from "../gateway/error-response.ts";
import type { Logger } from "../log.ts";
import { decide, parseEntry } from "./rules.ts";
import { createIpRuleStore } from "./store.ts";

/** Refusals logged at most this often per address (a flood must not become a log flood). */
const LOG_EVERY_MS = 60_000;
/** Addresses whose failures are remembered at once (the oldest go first). */
const MAX_TRACKED = 10_000;
const DEVICE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The original's device id: the `X-Device-ID` header or the `mss_login_device_id` cookie. */
export function deviceIdOf(request: Request): string | null {
  const header = request.headers.get("x-device-id");
  const cookie = /(?:^|;\s*)mss_login_device_id=([^;]*)/.exec(request.headers.get("cookie") ?? "")?.[1];
  const id = (header ?? cookie ?? "").trim();
  return DEVICE_ID.test(id) ? id : null;
}

/** What the IP filter reports to the audit log: refusals (sampled like the log lines) and bans. */
export type IpFilterEvent = { kind: "denied"; ip: string; reason: string; path: string } | { kind: "banned"; ip: string; failures: number; hours: number; deviceLocked: boolean };

export function createIpFilter(options: { db: Db; log: Logger; config: () => Config; now?: () => number; report?: (event: IpFilterEvent) => void }) {
  const { log } = options;
  const now = options.now ?? Date.now;
  const store = createIpRuleStore(options.db, now);
  const lastLogged = new Map<string, number>();
  /** Address → times of its recent failed sign-ins. */
  const failures = new Map<string, number[]>();

  /** Once a minute per address (or device): a flood of refusals must not flood the logs. */
  function logRefusal(key: string, fields: Record<string, string>, at: number): void {
    if ((lastLogged.get(key) ?? 0) >= at - LOG_EVERY_MS) return;
    if (lastLogged.size > MAX_TRACKED) lastLogged.clear();
    lastLogged.set(key, at);
    log.warn("ip filter: refused", fields);
    options.report?.({ kind: "denied", ip: fields.client ?? "", reason: fields.reason ?? "", path: fields.path ?? "" });
  }

  return {
    store,
    /** Whether any rule or lock exists (otherwise the filter is skipped). */
    active: (): boolean => store.current().length > 0 || store.lockedDevices().length > 0,

    /** The refusal for this client, or null when it may go on. */
    refuse(client: ClientInfo, request: Request): Response | null {
      const at = now();
      const decision = decide(client.ip, store.current(), at);
      const path = new URL(request.url).pathname;
      if (!decision.allowed) {
        logRefusal(client.ip, { client: client.ip, reason: decision.reason, ...(decision.rule === undefined ? {} : { rule: decision.rule }), path }, at);
        return errorResponse(request, 403, "IP_DENIED", "Access denied: this address is not allowed to use this gateway.", "Access denied");
      }
      const devices = store.lockedDevices();
      if (devices.length > 0 && decision.reason !== "loopback") {
        const deviceId = deviceIdOf(request);
        if (deviceId !== null && devices.some((lock) => lock.deviceId === deviceId && (lock.expiresAt === null || lock.expiresAt > at))) {
          logRefusal(`device:${deviceId}`, { client: client.ip, reason: "device locked", path }, at);
          return errorResponse(request, 403, "DEVICE_LOCKED", "Access denied: this device is locked out after too many failed sign-ins.", "Access denied");
        }
      }
      return null;
    },

    /** A failed sign-in from this client: counted, and a ban once there are too many. */
    signInFailed(client: ClientInfo, request: Request): void {
      const settings = options.config().ip_filter;
      if (settings.ban_after_failures === 0) return;
      const at = now();
      // An unreadable address is never written as a rule; allow-listed and loopback clients are never banned.
      const entry = parseEntry(client.ip);
      if (!entry.ok || decide(entry.text, store.current(), at).reason !== "no rule") return;
      const windowStart = at - settings.ban_window_hours * 3600_000;
      const recent = (failures.get(client.ip) ?? []).filter((time) => time > windowStart);
      recent.push(at);
      failures.delete(client.ip);
      if (failures.size >= MAX_TRACKED) failures.delete(failures.keys().next().value as string);
      if (recent.length < settings.ban_after_failures) {
        failures.set(client.ip, recent);
        return;
      }
      const expiresAt = at + settings.ban_hours * 3600_000;
      const deviceId = deviceIdOf(request);
      store.add({ kind: "deny", range: entry.range, text: entry.text, expiresAt, reason: "failed sign-ins" }, deviceId);
      options.report?.({ kind: "banned", ip: entry.text, failures: recent.length, hours: settings.ban_hours, deviceLocked: deviceId !== null });
      log.warn("ip filter: address banned after failed sign-ins", { client: entry.text, failures: String(recent.length), hours: String(settings.ban_hours), device: deviceId === null ? "none" : "locked too" });
    },
  };
}

export type IpFilter = ReturnType<typeof createIpFilter>;
