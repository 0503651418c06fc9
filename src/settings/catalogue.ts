// The settings an administrator may change at run time (the admin app's Settings section and
// `mss-login settings`): a subset of the configuration schema, each with the words the app
// shows and whether a change takes effect at once. Kind, default and bounds come from the
// schema itself (src/config/schema.ts), so validation is the configuration's own.
import { SETTINGS, type SettingEntry } from "../config/index.ts";

export type SettingType = "boolean" | "integer" | "string";
export type SettingUnit = "minutes" | "hours" | "days" | "seconds" | "characters" | "attempts" | "prompts" | "percent" | "per second";

export interface EditableSetting {
  /** Dotted config key, e.g. "auth.allow_guest". */
  readonly key: string;
  readonly group: string;
  readonly label: string;
  /** One line: what the value does. */
  readonly description: string;
  readonly type: SettingType;
  readonly unit?: SettingUnit;
  /** "now": the next request sees a change; "restart": the next start of the gateway does. */
  readonly applies: "now" | "restart";
  /**
   * Only the owner may change it. That is every setting that protects accounts (sign-in,
   * sessions, brute-force limits, passwords) or sends traffic elsewhere: an administrator must
   * not be able to weaken the owner's own protection. Administrators change the queue caps.
   */
  readonly ownerOnly: boolean;
  /** The schema entry: kind (validation), default, env variable name. */
  readonly entry: SettingEntry;
}

type Spec = Omit<EditableSetting, "entry" | "type" | "ownerOnly" | "applies"> & {
  type?: SettingType;
  ownerOnly?: boolean;
  applies?: "now" | "restart";
};

const SPECS: readonly Spec[] = [
  {
    key: "auth.allow_guest",
    group: "Sign-in",
    label: "Guest sign-in",
    description: "Offers a password-less \"Continue as guest\" sign-in with the guest role (guest sessions already open are not ended).",
    type: "boolean",
  },
  {
    key: "sessions.idle_hours",
    group: "Sessions",
    label: "Idle timeout",
    description: "A session unused for this long ends (open WebSockets count as use).",
    unit: "hours",
  },
  {
    key: "sessions.admin_idle_minutes",
    group: "Sessions",
    label: "Idle timeout for owner and admins",
    description: "An owner or admin session unused for this long ends.",
    unit: "minutes",
  },
  {
    key: "sessions.absolute_days",
    group: "Sessions",
    label: "Session lifetime",
    description: "A new session ends this long after sign-in, used or not (sessions already open keep their end).",
    unit: "days",
  },
  {
    key: "sessions.remember_days",
    group: "Sessions",
    label: "Lifetime with \"remember me\"",
    description: "A new session signed in with \"remember me\" ends this long after sign-in (sessions already open keep their end).",
    unit: "days",
  },
  {
    key: "sessions.step_up_minutes",
    group: "Sessions",
    label: "Password confirmation lasts",
    description: "After re-entering their password, an administrator may make changes for this long.",
    unit: "minutes",
  },
  {
    key: "regulation.profile",
    group: "Brute-force protection",
    label: "Lockout profile",
    description: "default: the account ban below; original: cool-downs of 60 s after 3, 90 s after 6 and 300 s after 9 failures.",
    type: "string",
  },
  {
    key: "regulation.account_max_failures",
    group: "Brute-force protection",
    label: "Failures before a ban",
    description: "This many failed sign-ins to one account within the window ban the account (default profile).",
    unit: "attempts",
  },
  {
    key: "regulation.account_window_seconds",
    group: "Brute-force protection",
    label: "Failure window",
    description: "Failed sign-ins to one account are counted over this span (default profile).",
    unit: "seconds",
  },
  {
    key: "regulation.account_ban_seconds",
    group: "Brute-force protection",
    label: "Ban length",
    description: "A banned account refuses every sign-in for this long, even with the right password (default profile).",
    unit: "seconds",
  },
  {
    key: "regulation.ip_attempts_per_minute",
    group: "Brute-force protection",
    label: "Attempts per minute per address",
    description: "Sign-in attempts allowed per minute from one client address; more are refused with 429.",
    unit: "attempts",
  },
  {
    key: "password.min_length",
    group: "Passwords",
    label: "Minimum password length",
    description: "New passwords shorter than this are refused (existing passwords keep working).",
    unit: "characters",
  },
  ...(["owner", "admin", "power", "user", "guest"] as const).map(
    (role): Spec => ({
      key: `queue.max_pending.${role}`,
      group: "Queue",
      label: `Pending prompts per ${role === "power" ? "power user" : role}`,
      description: `Prompts one ${role === "power" ? "power user" : role} may have waiting at once; more are refused with 429 (0 = no limit).`,
      unit: "prompts",
    }),
  ),
  {
    key: "ip_filter.ban_after_failures",
    group: "IP filter",
    label: "Failed sign-ins before an address is banned",
    description: "This many failed sign-ins from one address within the window ban it (and the device id it sent); 0 turns automatic bans off. Allow-listed addresses are never banned.",
    unit: "attempts",
  },
  {
    key: "ip_filter.ban_window_hours",
    group: "IP filter",
    label: "Counted over",
    description: "An address's failed sign-ins are counted over this span.",
    unit: "hours",
  },
  {
    key: "ip_filter.ban_hours",
    group: "IP filter",
    label: "Ban length",
    description: "An automatic ban lasts this long (the IP rules section lifts it sooner).",
    unit: "hours",
  },
  {
    key: "nsfw.porn_percent",
    group: "NSFW guard",
    label: "Porn threshold",
    description: "An image scored Porn above this is hidden from users with the NSFW check (and guests).",
    unit: "percent",
  },
  {
    key: "nsfw.hentai_percent",
    group: "NSFW guard",
    label: "Hentai threshold",
    description: "An image scored Hentai above this is hidden; Porn and Hentai together above the lower threshold too.",
    unit: "percent",
  },
  {
    key: "nsfw.sexy_percent",
    group: "NSFW guard",
    label: "Sexy threshold",
    description: "An image scored Sexy above this is hidden as well (0: the Sexy class hides nothing).",
    unit: "percent",
  },
  {
    key: "nsfw.previews",
    group: "NSFW guard",
    label: "Live previews",
    description: "Sampling previews for checked users: withhold them, classify a few per second and show only safe ones, or pass them unchecked.",
    type: "string",
  },
  {
    key: "nsfw.preview_rate_per_second",
    group: "NSFW guard",
    label: "Previews classified per second",
    description: "With previews classified: how many per second and browser tab; the others are dropped.",
    unit: "per second",
  },
  {
    key: "upstream.url",
    group: "ComfyUI",
    label: "ComfyUI address",
    description: "Where ComfyUI listens, http(s)://host:port[/base-path], best on loopback; takes effect when the gateway restarts.",
    type: "string",
    applies: "restart",
    ownerOnly: true,
  },
];

function build(spec: Spec): EditableSetting {
  const entry = SETTINGS.find((candidate) => candidate.key === spec.key);
  if (entry === undefined) throw new Error(`settings catalogue names ${spec.key}, which is not a config key`);
  if (entry.setting.secret) throw new Error(`settings catalogue names the secret ${spec.key}`);
  const type = spec.type ?? "integer";
  return Object.freeze({ ...spec, type, applies: spec.applies ?? "now", ownerOnly: spec.ownerOnly ?? !spec.key.startsWith("queue."), entry });
}

/** Every editable setting, in the order the app shows them. */
export const EDITABLE_SETTINGS: readonly EditableSetting[] = Object.freeze(SPECS.map(build));

const BY_KEY = new Map(EDITABLE_SETTINGS.map((setting) => [setting.key, setting]));

export function editableSetting(key: string): EditableSetting | undefined {
  return BY_KEY.get(key);
}
