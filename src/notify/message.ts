/**
 * From an event and its facts to an ntfy publish request. Names and file names are chosen by
 * users, so every piece of them is cleaned before it goes into a title, a message or a header:
 * control characters (CR, LF, ANSI escapes), Unicode line separators and direction overrides
 * are removed and the length is bounded. Header values that carry text (`Title`, `Message`) are
 * always sent as RFC 2047 encoded words (UTF-8, base64), which ntfy (2.4 and later) decodes
 * exactly once: text that itself looks like an encoded word (`=?UTF-8?Q?=0A?=`) stays literal.
 * Messages are plain text (no Markdown), so a name cannot turn into a link.
 */
import { eventDefinition, priorityNumber, type EventFacts, type NotifyEventKey, type PriorityName } from "./events.ts";

/** Characters that never travel: C0/C1 controls, DEL, zero-width and direction controls, line/paragraph separators. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** One line of user-supplied text: unsafe characters become spaces, runs of spaces one, at most `max` characters. */
export function cleanText(text: string | null | undefined, max = 120): string {
  if (text === null || text === undefined) return "";
  const single = text.replace(UNSAFE, " ").replace(/\s+/g, " ").trim();
  const chars = Array.from(single);
  return chars.length <= max ? single : `${chars.slice(0, max - 1).join("")}…`;
}

/** Bytes of UTF-8 text per encoded word: 45 bytes are 60 base64 characters, 72 with `=?UTF-8?B?` and `?=` (RFC 2047: at most 75). */
const WORD_BYTES = 45;
/** Stands in for a backslash before "n" in header text (U+29F5 REVERSE SOLIDUS OPERATOR, which looks the same). */
const BACKSLASH_STAND_IN = "\u29f5";

/**
 * A header value that carries text: always RFC 2047 encoded words (UTF-8, base64), split at
 * character boundaries so that no word is longer than 75 characters, separated by single spaces
 * (a decoder drops the space between two words, as Go's mime.WordDecoder does in ntfy). Sending
 * plain ASCII as it is would let text shaped like an encoded word (`=?UTF-8?Q?=0A?=`) decode
 * into a line break, an ESC or a direction override on the phone; inside a word it stays
 * literal, since ntfy decodes once.
 *
 * ntfy turns the two characters `\n` of a `Message` header into a line break after decoding
 * it, so a backslash before "n" becomes U+29F5 (⧵), which looks alike and means nothing to ntfy.
 */
export function headerValue(text: string): string {
  const clean = text.replace(UNSAFE, " ").replace(/\\(?=n)/g, BACKSLASH_STAND_IN);
  const words: string[] = [];
  let chunk = "";
  let chunkBytes = 0;
  const encoder = new TextEncoder();
  for (const char of clean) {
    const bytes = encoder.encode(char).byteLength;
    if (chunkBytes + bytes > WORD_BYTES) {
      words.push(chunk);
      chunk = "";
      chunkBytes = 0;
    }
    chunk += char;
    chunkBytes += bytes;
  }
  if (chunk !== "") words.push(chunk);
  return words.map((word) => `=?UTF-8?B?${Buffer.from(word, "utf8").toString("base64")}?=`).join(" ");
}

/**
 * A file name for the `Filename` header: letters, digits, `.`, `_`, `-` only. It is sent as it
 * is: without `=`, `?` or `\\` it can neither form an encoded word nor an escaped line break.
 */
export function safeFilename(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? "";
  const cleaned = base.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "").slice(-100);
  return cleaned === "" ? "image" : cleaned;
}

export interface NotificationText {
  title: string;
  message: string;
}

const from = (ip: string | null | undefined): string => (ip ? ` from ${cleanText(ip, 60)}` : "");
const byWhom = (by: string | null | undefined): string => (by ? ` by ${cleanText(by, 64)}` : "");
const name = (text: string | null | undefined, fallback = "someone"): string => cleanText(text, 64) || fallback;

function sizeText(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1024))} kB`;
}

/** The title and message of one event (plain text; never a secret: the facts carry none). */
export function describe<K extends NotifyEventKey>(key: K, facts: EventFacts[K]): NotificationText {
  const f: unknown = facts;
  switch (key) {
    case "login_failure": {
      const x = f as EventFacts["login_failure"];
      const who = x.username === null ? "with a name that is no account" : `as "${cleanText(x.username, 64)}"`;
      return { title: "Failed sign-in", message: `A sign-in ${who} failed${from(x.ip)}.` };
    }
    case "user_login": {
      const x = f as EventFacts["user_login"];
      return { title: "Sign-in", message: `${name(x.username)} signed in${from(x.ip)}.` };
    }
    case "user_logout": {
      const x = f as EventFacts["user_logout"];
      return { title: "Sign-out", message: `${name(x.username)} signed out${from(x.ip)}.` };
    }
    case "ip_banned": {
      const x = f as EventFacts["ip_banned"];
      const after = x.failures === null ? "" : ` after ${x.failures} failed sign-ins`;
      const hours = x.hours === null ? "" : ` for ${x.hours} hour${x.hours === 1 ? "" : "s"}`;
      return { title: "Address banned", message: `${cleanText(x.ip, 60)} was banned${hours}${after}.` };
    }
    case "user_created": {
      const x = f as EventFacts["user_created"];
      return { title: "Account created", message: `Account "${cleanText(x.username, 64)}" was created${byWhom(x.by)}${from(x.ip)}.` };
    }
    case "user_deleted": {
      const x = f as EventFacts["user_deleted"];
      return { title: "Account deleted", message: `Account "${cleanText(x.username, 64)}" was deleted${byWhom(x.by)}${from(x.ip)}.` };
    }
    case "user_role_changed": {
      const x = f as EventFacts["user_role_changed"];
      const change = x.from === null ? `is now ${cleanText(x.to, 20)}` : `changed from ${cleanText(x.from, 20)} to ${cleanText(x.to, 20)}`;
      return { title: "Role changed", message: `The role of "${cleanText(x.username, 64)}" ${change}${byWhom(x.by)}${from(x.ip)}.` };
    }
    case "api_token_created": {
      const x = f as EventFacts["api_token_created"];
      return { title: "API token created", message: `${name(x.username)} created an API token${from(x.ip)}.` };
    }
    case "mfa_enabled": {
      const x = f as EventFacts["mfa_enabled"];
      return { title: "Two-factor enabled", message: `${x.username ? `${name(x.username)} enrolled` : "An account enrolled"} two-factor sign-in${from(x.ip)}.` };
    }
    case "mfa_disabled": {
      const x = f as EventFacts["mfa_disabled"];
      if (x.by !== null && x.username !== null && x.by !== x.username) {
        return { title: "Two-factor reset", message: `Two-factor sign-in of "${cleanText(x.username, 64)}" was reset${byWhom(x.by)}${from(x.ip)}.` };
      }
      return { title: "Two-factor disabled", message: `${name(x.username ?? x.by)} turned two-factor sign-in off${from(x.ip)}.` };
    }
    case "settings_changed": {
      const x = f as EventFacts["settings_changed"];
      return { title: "Settings changed", message: `${cleanText(x.what, 200) || "Settings"} changed${byWhom(x.by)}${from(x.ip)}.` };
    }
    case "nsfw_block": {
      const x = f as EventFacts["nsfw_block"];
      const detail = x.detail ? ` (${cleanText(x.detail, 80)})` : "";
      return { title: "Image blocked", message: `An image was withheld from ${name(x.username)}${x.file ? `: ${cleanText(x.file, 150)}` : ""}${detail}.` };
    }
    case "image_generated": {
      const x = f as EventFacts["image_generated"];
      const names = x.filenames.map((n) => cleanText(n, 80)).filter((n) => n !== "");
      const listed = names.length === 0 ? "" : `: ${names.join(", ")}${x.count > names.length ? `, … (${x.count - names.length} more)` : ""}`;
      return { title: x.count === 1 ? "New image" : `${x.count} new images`, message: `${name(x.username)} generated ${x.count === 1 ? "an image" : `${x.count} images`}${listed}.` };
    }
    case "download_completed": {
      const x = f as EventFacts["download_completed"];
      const where = x.folder ? ` into ${cleanText(x.folder, 60)}` : "";
      const source = x.source ? ` from ${cleanText(x.source, 40)}` : "";
      const size = typeof x.bytes === "number" && x.bytes > 0 ? ` (${sizeText(x.bytes)})` : "";
      return { title: "Download finished", message: `${cleanText(x.name, 150)}${size} was downloaded${source}${where}${byWhom(x.by)}.` };
    }
    case "download_failed": {
      const x = f as EventFacts["download_failed"];
      const source = x.source ? ` from ${cleanText(x.source, 40)}` : "";
      return { title: "Download failed", message: `The download of ${cleanText(x.name, 150)}${source}${byWhom(x.by)} failed: ${cleanText(x.error, 200)}.` };
    }
    case "server_started": {
      const x = f as EventFacts["server_started"];
      return { title: "Gateway started", message: `MSS-Login ${cleanText(x.version, 40)} started${x.address ? ` at ${cleanText(x.address, 200)}` : ""}.` };
    }
    case "server_stopped": {
      const x = f as EventFacts["server_stopped"];
      return { title: "Gateway stopping", message: `MSS-Login ${cleanText(x.version, 40)} is stopping.` };
    }
  }
  const definition = eventDefinition(key);
  return { title: definition.label, message: definition.description };
}

/** One message ready to publish (text; optionally a picture). */
export interface Publication {
  title: string;
  message: string;
  priority: PriorityName;
  tags: readonly string[];
  attachment?: { bytes: Uint8Array; filename: string };
}

export interface Destination {
  serverUrl: string;
  topic: string;
  token: string | null;
}

/**
 * The request for ntfy: `POST <server>/<topic>` with the message as the body, or, with a
 * picture, `PUT` with the picture as the body, its name in `Filename` and the message in
 * `Message` (header values cleaned and encoded).
 */
export function buildRequest(destination: Destination, publication: Publication): { url: string; init: RequestInit & { headers: Record<string, string> } } {
  const headers: Record<string, string> = {};
  const title = cleanText(publication.title, 200);
  if (title !== "") headers.Title = headerValue(title);
  const priority = priorityNumber(publication.priority);
  if (priority !== 3) headers.Priority = String(priority);
  const tags = publication.tags.filter((tag) => /^[A-Za-z0-9_+-]{1,32}$/.test(tag));
  if (tags.length > 0) headers.Tags = tags.join(",");
  if (destination.token !== null) headers.Authorization = `Bearer ${destination.token}`;
  const url = `${destination.serverUrl}/${encodeURIComponent(destination.topic)}`;
  const message = publication.message.replace(/\r\n?/g, "\n").replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, " ").slice(0, 3500);
  if (publication.attachment !== undefined) {
    headers.Filename = safeFilename(publication.attachment.filename);
    // A header holds one line: lines are joined.
    headers.Message = headerValue(cleanText(message.replace(/\n+/g, " - "), 1000));
    headers["Content-Type"] = "application/octet-stream";
    return { url, init: { method: "PUT", headers, body: new Uint8Array(publication.attachment.bytes), redirect: "manual" } };
  }
  headers["Content-Type"] = "text/plain; charset=utf-8";
  return { url, init: { method: "POST", headers, body: message, redirect: "manual" } };
}
