/**
 * Checks what an owner sends to `PUT /mss-login/api/notifications`, whole: any problem refuses
 * the request and nothing changes. The server address is where the access token goes, so it is
 * held to https (plain http only on this machine's loopback), without credentials, query or
 * fragment.
 */
import { isLoopback, parseIp } from "../config/ip.ts";
import { EVENT_KEYS, isEventKey, PRIORITIES, type EventSetting, type EventSettings, type NotifyEventKey, type PriorityName } from "./events.ts";

/** ntfy's own rule for topic names. */
export const TOPIC_PATTERN = /^[-_A-Za-z0-9]{1,64}$/;
/** A tag: an emoji short code or a short word (it travels in a comma-separated header). */
export const TAG_PATTERN = /^[A-Za-z0-9_+-]{1,32}$/;
export const MAX_TAGS = 5;
/** An access token travels in a header: printable ASCII without spaces. */
export const TOKEN_PATTERN = /^[\x21-\x7e]{1,512}$/;
const MAX_URL_LENGTH = 500;

export type Checked<T> = { ok: true; value: T } | { ok: false; code: string; error: string };

/** 127.0.0.0/8, ::1 (any spelling, IPv4-mapped too) or localhost. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  if (host === "localhost") return true;
  const address = parseIp(host);
  return address !== null && isLoopback(address);
}

/** The ntfy server's address, normalised (no trailing slash), or why it is refused. */
export function checkServerUrl(raw: unknown): Checked<string> {
  const bad = (error: string): Checked<string> => ({ ok: false, code: "BAD_SERVER_URL", error });
  if (typeof raw !== "string" || raw.trim() === "") return bad("server_url must be the ntfy server's address, e.g. https://ntfy.sh.");
  const text = raw.trim();
  if (text.length > MAX_URL_LENGTH) return bad(`server_url is longer than ${MAX_URL_LENGTH} characters.`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f-\u009f]/.test(text)) return bad("server_url must not contain spaces or control characters.");
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return bad("server_url is not a valid address; write it in full, e.g. https://ntfy.example.com.");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return bad("server_url must start with https://.");
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname)) {
    return bad("server_url must use https:// (plain http:// only for a server on this machine: 127.0.0.1, ::1 or localhost), so that the access token and messages are not sent in clear.");
  }
  if (url.username !== "" || url.password !== "") return bad("server_url must not carry a user name or password; set the access token instead.");
  if (url.search !== "" || text.includes("?")) return bad("server_url must not have a query (?...).");
  if (url.hash !== "" || text.includes("#")) return bad("server_url must not have a fragment (#...).");
  const path = url.pathname.replace(/\/+$/, "");
  return { ok: true, value: `${url.origin}${path}` };
}

export function checkTopic(raw: unknown): Checked<string> {
  if (raw === "") return { ok: true, value: "" };
  if (typeof raw !== "string" || !TOPIC_PATTERN.test(raw)) {
    return { ok: false, code: "BAD_TOPIC", error: "topic must be 1 to 64 letters, digits, - or _ (as ntfy allows); pick one that is hard to guess, anyone who knows it can read it." };
  }
  return { ok: true, value: raw };
}

function checkEvent(key: string, raw: unknown, current: EventSetting): Checked<EventSetting> {
  const bad = (error: string): Checked<EventSetting> => ({ ok: false, code: "BAD_EVENT", error: `events.${key}: ${error}` });
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return bad("must be an object {enabled, priority, tags}.");
  const fields = raw as Record<string, unknown>;
  for (const name of Object.keys(fields)) if (name !== "enabled" && name !== "priority" && name !== "tags") return bad(`unknown field "${name.slice(0, 40)}" (enabled, priority, tags).`);
  const next: EventSetting = { ...current, tags: [...current.tags] };
  if (fields.enabled !== undefined) {
    if (typeof fields.enabled !== "boolean") return bad("enabled must be true or false.");
    next.enabled = fields.enabled;
  }
  if (fields.priority !== undefined) {
    if (typeof fields.priority !== "string" || !(PRIORITIES as readonly string[]).includes(fields.priority)) return bad(`priority must be one of ${PRIORITIES.join(", ")}.`);
    next.priority = fields.priority as PriorityName;
  }
  if (fields.tags !== undefined) {
    if (!Array.isArray(fields.tags)) return bad("tags must be a list of words.");
    if (fields.tags.length > MAX_TAGS) return bad(`at most ${MAX_TAGS} tags.`);
    const tags: string[] = [];
    for (const tag of fields.tags) {
      if (typeof tag !== "string" || !TAG_PATTERN.test(tag)) return bad("each tag is a word of 1 to 32 letters, digits, _, + or - (emoji short codes such as warning or lock).");
      if (!tags.includes(tag)) tags.push(tag);
    }
    next.tags = tags;
  }
  return { ok: true, value: next };
}

/** The stored settings an update may change (the token is handled apart: it is sealed). */
export interface NotifySettingsValues {
  enabled: boolean;
  serverUrl: string;
  topic: string;
  attachImages: boolean;
  events: EventSettings;
}

/** What to do with the access token: keep it, set a new one, or clear it. */
export type TokenChange = { kind: "keep" } | { kind: "set"; token: string } | { kind: "clear" };

export interface SettingsUpdate {
  values: NotifySettingsValues;
  token: TokenChange;
  /** The server's origin changed and no token came with it: the stored one (the old server's) is forgotten. */
  serverChanged: boolean;
}

const FIELDS = new Set(["enabled", "server_url", "topic", "token", "attach_images", "events"]);

/**
 * A PUT body applied to the current settings: fields left out keep their value, `events` may
 * name only some events (and only some of their fields); `token` is a string (set), null or ""
 * (clear), or left out (keep; but a change of the server's origin forgets it).
 */
export function parseSettingsUpdate(body: Record<string, unknown>, current: NotifySettingsValues): Checked<SettingsUpdate> {
  for (const name of Object.keys(body)) {
    if (!FIELDS.has(name)) return { ok: false, code: "UNKNOWN_FIELD", error: `Unknown field "${name.slice(0, 40)}"; send enabled, server_url, topic, token, attach_images, events.` };
  }
  const values: NotifySettingsValues = { ...current, events: { ...current.events } };
  if (body.enabled !== undefined) {
    if (typeof body.enabled !== "boolean") return { ok: false, code: "BAD_ENABLED", error: "enabled must be true or false." };
    values.enabled = body.enabled;
  }
  if (body.attach_images !== undefined) {
    if (typeof body.attach_images !== "boolean") return { ok: false, code: "BAD_ATTACH_IMAGES", error: "attach_images must be true or false." };
    values.attachImages = body.attach_images;
  }
  if (body.server_url !== undefined) {
    const url = checkServerUrl(body.server_url);
    if (!url.ok) return url;
    values.serverUrl = url.value;
  }
  if (body.topic !== undefined) {
    const topic = checkTopic(body.topic);
    if (!topic.ok) return topic;
    values.topic = topic.value;
  }
  if (body.events !== undefined) {
    if (body.events === null || typeof body.events !== "object" || Array.isArray(body.events)) {
      return { ok: false, code: "BAD_EVENT", error: "events must be an object: {event_key: {enabled, priority, tags}}." };
    }
    for (const [key, raw] of Object.entries(body.events as Record<string, unknown>)) {
      if (!isEventKey(key)) return { ok: false, code: "UNKNOWN_EVENT", error: `Unknown event "${key.slice(0, 60)}"; the events are ${EVENT_KEYS.join(", ")}.` };
      const checked = checkEvent(key, raw, values.events[key as NotifyEventKey]);
      if (!checked.ok) return checked;
      values.events[key as NotifyEventKey] = checked.value;
    }
  }
  let token: TokenChange = { kind: "keep" };
  if (body.token !== undefined) {
    if (body.token === null || body.token === "") token = { kind: "clear" };
    else if (typeof body.token === "string" && TOKEN_PATTERN.test(body.token.trim())) token = { kind: "set", token: body.token.trim() };
    else return { ok: false, code: "BAD_TOKEN", error: "token must be the ntfy access token (printable characters, no spaces, at most 512), or null to remove it." };
  }
  if (values.enabled && values.topic === "") return { ok: false, code: "TOPIC_REQUIRED", error: "Set a topic before switching notifications on." };
  // A token belongs to its server: it is never sent to another one the owner switches to.
  const serverChanged = new URL(values.serverUrl).origin !== new URL(current.serverUrl).origin;
  if (serverChanged && token.kind === "keep") token = { kind: "clear" };
  return { ok: true, value: { values, token, serverChanged } };
}
