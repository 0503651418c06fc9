/**
 * The IP lists on the original's admin API shape (each path also under `/api/mss-login/...`):
 * `GET /mss-login/api/ip-lists` → `{whitelist: [entry], blacklist: [{ip, permanent, expires_at?,
 * reason}], locked_devices: [{device_id, permanent, expires_at?, reason}], your_ip}` and `PUT`
 * with `{whitelist: [ip|cidr], blacklist: [ip | {ip, permanent, expires_in_hours | expires_at,
 * reason?}], locked_devices?: [id | {device_id, expires_at?}]}` (expires_at in epoch seconds, as
 * GET answers, so a saved ban keeps its end), a full replace, effective at once. Unlike the original, an invalid entry refuses the whole
 * set (400, every problem named) instead of being dropped silently, CIDR ranges work in both
 * lists, and a set that would refuse the administrator's own address is refused (409).
 */
import { Elysia } from "elysia";
import { jsonError } from "../gateway/error-response.ts";
import type { Logger } from "../log.ts";
import { bothSpellings, json, readBody, type AdminGuard } from "../auth/admin-guard.ts";
import { decide, parseEntry } from "./rules.ts";
import type { DeviceLockInput, IpRuleStore, RuleInput } from "./store.ts";

export interface IpFilterRouteDeps {
  store: IpRuleStore;
  guard: AdminGuard;
  clientIp(request: Request): string;
  log: Logger;
  /** The lists were replaced (the audit log records who and how many). */
  replaced?: (event: { request: Request; actorId: string; actorName: string; allow: number; deny: number; devices: number | null }) => void;
  now?: () => number;
}

const MAX_ENTRIES = 10_000;
/** The fields of a PUT; `your_ip` is accepted back from a GET and ignored. */
const LIST_KEYS: ReadonlySet<string> = new Set(["whitelist", "blacklist", "locked_devices", "your_ip"]);
const MAX_HOURS = 24 * 365 * 10;

/** The request's lists, validated whole: the rules, or every problem found. */
export function parseLists(body: Record<string, unknown>, now: number): { ok: true; rules: RuleInput[] } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const rules: RuleInput[] = [];
  // A misspelt key ("allowlist") must not pass as "no rules": that would clear them.
  const unknown = Object.keys(body).filter((key) => !LIST_KEYS.has(key));
  if (unknown.length > 0) return { ok: false, problems: [`unknown field${unknown.length > 1 ? "s" : ""} ${unknown.map((key) => JSON.stringify(key.slice(0, 40))).join(", ")} (send whitelist, blacklist, locked_devices)`] };
  if (body.whitelist === undefined && body.blacklist === undefined) return { ok: false, problems: ["send whitelist and/or blacklist (the lists replace the current ones)"] };
  const whitelist = body.whitelist ?? [];
  const blacklist = body.blacklist ?? [];
  if (!Array.isArray(whitelist) || !Array.isArray(blacklist)) return { ok: false, problems: ["whitelist and blacklist must be lists"] };
  if (whitelist.length + blacklist.length > MAX_ENTRIES) return { ok: false, problems: [`at most ${MAX_ENTRIES} entries`] };
  for (const [index, entry] of whitelist.entries()) {
    if (typeof entry !== "string") {
      problems.push(`whitelist[${index}] must be an IP address or CIDR range`);
      continue;
    }
    const parsed = parseEntry(entry);
    if (parsed.ok) rules.push({ kind: "allow", range: parsed.range, text: parsed.text, expiresAt: null, reason: "manual" });
    else problems.push(`whitelist[${index}]: ${parsed.problem}`);
  }
  for (const [index, entry] of blacklist.entries()) {
    const item = typeof entry === "string" ? { ip: entry, permanent: true } : (entry as Record<string, unknown> | null);
    if (item === null || typeof item !== "object" || typeof item.ip !== "string") {
      problems.push(`blacklist[${index}] must be an address, or {ip, permanent, expires_in_hours}`);
      continue;
    }
    const parsed = parseEntry(item.ip);
    if (!parsed.ok) {
      problems.push(`blacklist[${index}]: ${parsed.problem}`);
      continue;
    }
    let expiresAt: number | null = null;
    if (item.expires_at !== undefined) {
      const seconds = item.expires_at;
      if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds * 1000 <= now || seconds * 1000 > now + MAX_HOURS * 3600_000) {
        problems.push(`blacklist[${index}] (${parsed.text}).expires_at must be a time in the future (epoch seconds)`);
        continue;
      }
      expiresAt = Math.round(seconds * 1000);
    } else if (item.permanent === false || item.expires_in_hours !== undefined) {
      const hours = item.expires_in_hours;
      if (typeof hours !== "number" || !Number.isFinite(hours) || hours <= 0 || hours > MAX_HOURS) {
        problems.push(`blacklist[${index}] (${parsed.text}).expires_in_hours must be a number of hours above 0 (at most ${MAX_HOURS})`);
        continue;
      }
      expiresAt = now + Math.round(hours * 3600_000);
    }
    rules.push({ kind: "deny", range: parsed.range, text: parsed.text, expiresAt, reason: typeof item.reason === "string" ? item.reason.slice(0, 200) : "manual" });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, rules };
}

/** Device locks as sent: an id (permanent) or `{device_id, expires_at}`; null when any is malformed. */
export function parseDeviceLocks(value: unknown, now: number): DeviceLockInput[] | null {
  if (!Array.isArray(value) || value.length > MAX_ENTRIES) return null;
  const locks: DeviceLockInput[] = [];
  for (const item of value) {
    const entry = typeof item === "string" ? { device_id: item } : (item as Record<string, unknown> | null);
    if (entry === null || typeof entry !== "object" || typeof entry.device_id !== "string" || !/^[A-Za-z0-9._:-]{1,128}$/.test(entry.device_id)) return null;
    let expiresAt: number | null = null;
    if (entry.expires_at !== undefined && entry.expires_at !== null) {
      if (typeof entry.expires_at !== "number" || !Number.isFinite(entry.expires_at) || entry.expires_at * 1000 <= now) return null;
      expiresAt = Math.round(entry.expires_at * 1000);
    }
    locks.push({ deviceId: entry.device_id, expiresAt });
  }
  return locks;
}

export function ipFilterRoutes(deps: IpFilterRouteDeps) {
  const now = deps.now ?? Date.now;

  const list = async ({ request }: { request: Request }) => {
    const caller = await deps.guard.admin(request, { write: false });
    if (caller instanceof Response) return caller;
    const at = now();
    const rules = deps.store.current();
    return json({
      whitelist: rules.filter((rule) => rule.kind === "allow").map((rule) => rule.text),
      blacklist: rules
        .filter((rule) => rule.kind === "deny" && (rule.expiresAt === null || rule.expiresAt > at))
        .map((rule) => ({ ip: rule.text, permanent: rule.expiresAt === null, ...(rule.expiresAt === null ? {} : { expires_at: Math.floor(rule.expiresAt / 1000) }), reason: rule.reason })),
      locked_devices: deps.store
        .lockedDevices()
        .filter((lock) => lock.expiresAt === null || lock.expiresAt > at)
        .map((lock) => ({ device_id: lock.deviceId, permanent: lock.expiresAt === null, ...(lock.expiresAt === null ? {} : { expires_at: Math.floor(lock.expiresAt / 1000) }), reason: lock.reason })),
      your_ip: deps.clientIp(request),
    });
  };

  const replace = async ({ request }: { request: Request }) => {
    const caller = await deps.guard.admin(request, { write: true });
    if (caller instanceof Response) return caller;
    const body = await readBody(request);
    if (body === null) return jsonError(400, "BAD_BODY", "Send JSON: {whitelist: [ip|cidr], blacklist: [ip | {ip, permanent, expires_in_hours}]}.");
    const at = now();
    const parsed = parseLists(body, at);
    if (!parsed.ok) return new Response(JSON.stringify({ error: `The lists were not saved: ${parsed.problems.join("; ")}.`, code: "BAD_IP_RULE", problems: parsed.problems }), { status: 400, headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" } });
    const ip = deps.clientIp(request);
    const own = decide(ip, parsed.rules, at);
    if (!own.allowed) {
      return jsonError(409, "WOULD_LOCK_YOU_OUT", `These lists would refuse your own address (${ip}, ${own.reason}); add it to the whitelist first. (From the machine itself, 127.0.0.1 is never refused.)`);
    }
    // `locked_devices` replaces the device locks when sent; left out, they stay.
    let devices: DeviceLockInput[] | undefined;
    if (body.locked_devices !== undefined) {
      devices = parseDeviceLocks(body.locked_devices, at) ?? undefined;
      if (devices === undefined) return jsonError(400, "BAD_DEVICE_ID", "locked_devices must be a list of device ids (letters, digits, . _ : -; up to 128), or {device_id, expires_at} with a future time.");
    }
    deps.store.replaceAll(parsed.rules, caller.identity.userId, devices);
    deps.replaced?.({ request, actorId: caller.identity.userId, actorName: caller.identity.username, allow: parsed.rules.filter((r) => r.kind === "allow").length, deny: parsed.rules.filter((r) => r.kind === "deny").length, devices: devices === undefined ? null : devices.length });
    deps.log.warn("ip filter: lists replaced", { user: caller.identity.username, allow: parsed.rules.filter((r) => r.kind === "allow").length, deny: parsed.rules.filter((r) => r.kind === "deny").length });
    return json({ status: "success", whitelist: parsed.rules.filter((r) => r.kind === "allow").length, blacklist: parsed.rules.filter((r) => r.kind === "deny").length });
  };

  const [path, apiPath] = bothSpellings("/mss-login/api/ip-lists");
  return new Elysia({ name: "ip-filter" }).get(path, list).get(apiPath, list).put(path, replace).put(apiPath, replace);
}
