/**
 * The notification events: their keys (the original's, section 11.1 of the reference, plus
 * `ip_banned` and the download events), what each is about, and its defaults (switched on or
 * not, ntfy priority, tags). The administrator overrides any of these per event; what is stored
 * is validated against this list, so an unknown key never reaches ntfy.
 */

export const PRIORITIES = ["min", "low", "default", "high", "urgent"] as const;
export type PriorityName = (typeof PRIORITIES)[number];

/** ntfy's number for a priority name (1 = min ... 5 = urgent). */
export function priorityNumber(priority: PriorityName): number {
  return PRIORITIES.indexOf(priority) + 1;
}

export interface EventDefinition {
  readonly key: string;
  /** Short name for the admin app. */
  readonly label: string;
  /** When it is sent, in a sentence. */
  readonly description: string;
  readonly enabled: boolean;
  readonly priority: PriorityName;
  /** ntfy tags; emoji short codes show as emoji in the apps (warning, lock, ...). */
  readonly tags: readonly string[];
}

export const EVENT_CATALOGUE = [
  { key: "login_failure", label: "Failed sign-in", description: "A sign-in failed; with the account (when the name typed is one) and the address.", enabled: true, priority: "high", tags: ["warning", "key"] },
  { key: "user_login", label: "Sign-in", description: "Someone signed in; with the name and the address.", enabled: false, priority: "default", tags: ["bust_in_silhouette"] },
  { key: "user_logout", label: "Sign-out", description: "Someone signed out.", enabled: false, priority: "low", tags: ["wave"] },
  { key: "ip_banned", label: "Address banned", description: "An address was banned after too many failed sign-ins.", enabled: true, priority: "high", tags: ["no_entry"] },
  { key: "user_created", label: "Account created", description: "An account was created (first-run setup, registration or the admin app).", enabled: true, priority: "default", tags: ["new"] },
  { key: "user_deleted", label: "Account deleted", description: "An account was deleted.", enabled: true, priority: "high", tags: ["wastebasket"] },
  { key: "user_role_changed", label: "Role changed", description: "An account's role was changed.", enabled: true, priority: "default", tags: ["busts_in_silhouette"] },
  { key: "api_token_created", label: "API token created", description: "Someone created an API token for their account.", enabled: true, priority: "default", tags: ["key"] },
  { key: "mfa_enabled", label: "Two-factor enabled", description: "Two-factor sign-in (TOTP) was enrolled.", enabled: true, priority: "default", tags: ["lock"] },
  { key: "mfa_disabled", label: "Two-factor disabled", description: "Two-factor sign-in was turned off, or reset by an administrator.", enabled: true, priority: "high", tags: ["unlock", "warning"] },
  { key: "settings_changed", label: "Settings changed", description: "Gateway settings, permissions, IP rules or these notification settings were changed.", enabled: true, priority: "low", tags: ["gear"] },
  { key: "nsfw_block", label: "Image blocked", description: "The NSFW guard refused an image to a checked user.", enabled: true, priority: "high", tags: ["no_entry_sign"] },
  { key: "image_generated", label: "Image generated", description: "ComfyUI saved new output images (grouped: at most one notification per user and minute).", enabled: false, priority: "low", tags: ["frame_with_picture"] },
  { key: "download_completed", label: "Download finished", description: "A model download finished.", enabled: true, priority: "default", tags: ["white_check_mark", "inbox_tray"] },
  { key: "download_failed", label: "Download failed", description: "A model download failed.", enabled: true, priority: "high", tags: ["x", "inbox_tray"] },
  { key: "server_started", label: "Gateway started", description: "The gateway started.", enabled: true, priority: "default", tags: ["rocket"] },
  { key: "server_stopped", label: "Gateway stopped", description: "The gateway is stopping (sent on an orderly stop only).", enabled: true, priority: "high", tags: ["stop_sign"] },
] as const satisfies readonly EventDefinition[];

export type NotifyEventKey = (typeof EVENT_CATALOGUE)[number]["key"];

export const EVENT_KEYS: readonly NotifyEventKey[] = EVENT_CATALOGUE.map((event) => event.key);

const BY_KEY = new Map<string, EventDefinition>(EVENT_CATALOGUE.map((event) => [event.key, event]));

export function isEventKey(key: string): key is NotifyEventKey {
  return BY_KEY.has(key);
}

export function eventDefinition(key: NotifyEventKey): EventDefinition {
  return BY_KEY.get(key)!;
}

/** One event's switch, priority and tags as stored (and as the API shows them). */
export interface EventSetting {
  enabled: boolean;
  priority: PriorityName;
  tags: string[];
}

export type EventSettings = Record<NotifyEventKey, EventSetting>;

export function defaultEventSettings(): EventSettings {
  const settings = {} as EventSettings;
  for (const event of EVENT_CATALOGUE) settings[event.key] = { enabled: event.enabled, priority: event.priority, tags: [...event.tags] };
  return settings;
}

/**
 * The facts each event carries. Text that users chose (names, file names) is cleaned where the
 * message is built (./message.ts), so callers pass it as it is.
 */
export interface EventFacts {
  /** `username`: the account tried, null when the name typed is no account's (it may be a mistyped password). */
  login_failure: { username: string | null; ip: string | null };
  user_login: { username: string; ip: string | null };
  user_logout: { username: string | null; ip: string | null };
  ip_banned: { ip: string; failures: number | null; hours: number | null };
  user_created: { username: string; by: string | null; ip: string | null };
  user_deleted: { username: string; by: string | null; ip: string | null };
  user_role_changed: { username: string; from: string | null; to: string; by: string | null; ip: string | null };
  api_token_created: { username: string | null; ip: string | null };
  mfa_enabled: { username: string | null; ip: string | null };
  mfa_disabled: { username: string | null; by: string | null; ip: string | null };
  settings_changed: { what: string; by: string | null; ip: string | null };
  nsfw_block: { username: string | null; file: string | null; detail: string | null };
  image_generated: { username: string; count: number; filenames: string[] };
  download_completed: { name: string; folder?: string | null; source?: string | null; by?: string | null; bytes?: number | null };
  download_failed: { name: string; folder?: string | null; source?: string | null; by?: string | null; error: string };
  server_started: { version: string; address: string | null };
  server_stopped: { version: string };
}
