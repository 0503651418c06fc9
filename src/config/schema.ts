// Every configuration setting, in one place: its kind, default, one-line documentation, and
// whether it is a secret or has a command-line flag. The `Config` type, the environment
// variable names, the flags and `config print` are all derived from this table, so adding a
// setting is one entry here.
//
// Keys are snake_case, as in config.json. Environment variables are MSS_LOGIN_ + the key path
// in upper case joined by `__` (listen.port -> MSS_LOGIN_LISTEN__PORT).
import { LOG_LEVELS } from "../log.ts";
import {
  boolean,
  integer,
  hostPattern,
  ipOrCidr,
  list,
  listenHost,
  loopbackSource,
  oneOf,
  optional,
  origin,
  routePrefix,
  secretText,
  text,
  upstreamUrl,
  type Kind,
} from "./kinds.ts";

export class Setting<T> {
  constructor(
    readonly kind: Kind<T>,
    readonly defaultValue: T,
    /** One line for operators (shown by `mss-login help config`). */
    readonly doc: string,
    /** Secrets are shown as "<redacted>" by `config print` and never echoed in errors. */
    readonly secret: boolean,
    /** Command-line flag, e.g. "--port". */
    readonly flag: string | null,
  ) {}
}

function setting<T>(
  kind: Kind<T>,
  defaultValue: NoInfer<T>,
  doc: string,
  options: { secret?: boolean; flag?: string } = {},
): Setting<T> {
  return new Setting(kind, defaultValue, doc, options.secret ?? false, options.flag ?? null);
}

const MILLISECONDS = integer(1, 86_400_000, "milliseconds");
const NONE: readonly never[] = Object.freeze([]);

export const CONFIG_SCHEMA = {
  listen: {
    host: setting(listenHost, "0.0.0.0", "Address the gateway listens on (0.0.0.0 = all IPv4, :: = all).", {
      flag: "--host",
    }),
    port: setting(integer(0, 65535), 8189, "TCP port the gateway listens on (0: any free port, printed at start).", { flag: "--port" }),
  },
  upstream: {
    url: setting(
      upstreamUrl,
      "http://127.0.0.1:8188",
      "ComfyUI's address, http(s)://host:port[/base-path]; keep it on loopback.",
      { flag: "--upstream" },
    ),
    connect_timeout_ms: setting(MILLISECONDS, 5_000, "Give up connecting to ComfyUI after this many ms."),
    response_timeout_ms: setting(
      MILLISECONDS,
      120_000,
      "Give up waiting for ComfyUI's response headers after this many ms.",
    ),
    ws_open_timeout_ms: setting(MILLISECONDS, 10_000, "Give up opening ComfyUI's WebSocket after this many ms."),
  },
  queue: {
    // Pending prompts one user may have at a time, per role (0 = no limit); none of the peers has this.
    max_pending: {
      owner: setting(integer(0, 1_000_000), 0, "Pending prompts an owner may have queued at once (0 = no limit)."),
      admin: setting(integer(0, 1_000_000), 0, "Pending prompts an admin may have queued at once (0 = no limit)."),
      power: setting(integer(0, 1_000_000), 50, "Pending prompts a power user may have queued at once (0 = no limit)."),
      user: setting(integer(0, 1_000_000), 20, "Pending prompts a user may have queued at once (0 = no limit)."),
      guest: setting(integer(0, 1_000_000), 2, "Pending prompts a guest may have queued at once (0 = no limit)."),
    },
  },
  limits: {
    max_upload_bytes: setting(
      integer(1, Number.MAX_SAFE_INTEGER, "bytes"),
      100 * 1024 * 1024,
      "Largest request body accepted, in bytes (ComfyUI's own limit is 100 MiB).",
    ),
  },
  trusted_proxies: setting(
    list(ipOrCidr, "IP addresses or CIDR ranges"),
    NONE,
    "Reverse proxies (IPs/CIDRs) whose X-Forwarded-For is believed; empty = trust none.",
  ),
  client_ip_header: setting(
    oneOf(["x-forwarded-for", "x-real-ip", "cf-connecting-ip"] as const),
    "x-forwarded-for",
    "The header trusted_proxies put the client's address in (read from them only): x-forwarded-for (right to left), x-real-ip, or cf-connecting-ip (Cloudflare).",
  ),
  public_origins: setting(
    list(origin, "origins like https://comfy.example.com"),
    NONE,
    "Origins users reach the gateway at (https://host[:port]), for Host/Origin checks; empty = not checked.",
  ),
  gateway: {
    allowed_unknown_routes: setting(
      list(routePrefix, "path prefixes starting with /"),
      NONE,
      "Path prefixes of custom-node routes opened to every role (other unknown routes: owner/admin only).",
    ),
  },
  log: {
    level: setting(oneOf(LOG_LEVELS), "info", "Least severe log level written: debug, info, warn or error.", {
      flag: "--log-level",
    }),
  },
  password: {
    min_length: setting(
      integer(8, 256, "characters"),
      12,
      "Shortest password accepted, in characters (never below 8; 15 is a strict choice).",
    ),
    argon2_memory_kib: setting(
      integer(7168, 4_194_304, "KiB"),
      19456,
      "argon2id memory per hash in KiB (OWASP: 19456 with time cost 2); changing it re-hashes at next login.",
    ),
    argon2_time_cost: setting(
      integer(1, 20, "passes"),
      2,
      "argon2id passes over memory; raise it when lowering the memory (OWASP: 7168 KiB needs 5).",
    ),
  },
  sessions: {
    idle_hours: setting(
      integer(1, 720, "hours"),
      12,
      "A session unused for this many hours ends (WebSocket activity counts).",
    ),
    absolute_days: setting(integer(1, 365, "days"), 7, "A session ends this many days after login, used or not."),
    remember_days: setting(
      integer(1, 365, "days"),
      30,
      "Absolute lifetime of a session when \"remember me\" was ticked.",
    ),
    admin_idle_minutes: setting(
      integer(1, 1440, "minutes"),
      30,
      "Owner and admin sessions unused for this many minutes end.",
    ),
    step_up_minutes: setting(
      integer(1, 60, "minutes"),
      5,
      "After re-entering the password, admin writes are allowed for this many minutes.",
    ),
  },
  regulation: {
    profile: setting(
      oneOf(["default", "original"] as const),
      "default",
      "Login lockout: default (per-account ban below) or original (3 -> 60 s, 6 -> 90 s, 9 -> 300 s).",
    ),
    account_max_failures: setting(
      integer(1, 100, "failures"),
      3,
      "Failed logins within the window that ban an account (default profile).",
    ),
    account_window_seconds: setting(
      integer(1, 86_400, "seconds"),
      120,
      "Window in which account failures are counted.",
    ),
    account_ban_seconds: setting(
      integer(1, 86_400, "seconds"),
      300,
      "How long a banned account refuses every login.",
    ),
    ip_attempts_per_minute: setting(
      integer(1, 1000, "attempts"),
      5,
      "Login attempts per minute from one client address (token bucket).",
    ),
  },
  auth: {
    allow_guest: setting(boolean(), false, "Offer a password-less guest login with the guest role."),
    allow_query_token: setting(
      boolean(),
      false,
      "Accept long-lived API tokens as ?token= (the original's compatibility; tokens end up in URLs and logs).",
    ),
  },
  ip_filter: {
    ban_after_failures: setting(integer(0, 10_000, "failures"), 10, "Failed sign-ins from one address within the window that ban it (0: no automatic bans); allow-listed addresses are never banned."),
    ban_window_hours: setting(integer(1, 720, "hours"), 24, "Window over which an address's failed sign-ins are counted."),
    ban_hours: setting(integer(1, 8760, "hours"), 24, "How long an automatic ban of an address (and of the device id it sent) lasts."),
  },
  audit: {
    retention_days: setting(integer(1, 36_500, "days"), 180, "Audit events older than this are pruned (the chain of the rest still verifies)."),
  },
  nsfw: {
    load: setting(
      oneOf(["startup", "on_demand"] as const),
      "startup",
      "Load the NSFW classifier at start (verdicts are ready before anyone looks) or on first need (saves ~150 MB until then).",
    ),
    workers: setting(integer(0, 16, "workers"), 0, "Classifier worker threads, each with its own model (0: one per CPU core, at most 4)."),
    porn_percent: setting(integer(1, 100, "percent"), 50, "An image whose Porn score is above this percentage is blocked for checked users."),
    hentai_percent: setting(integer(1, 100, "percent"), 50, "An image whose Hentai score is above this percentage is blocked; Porn + Hentai together above the lower of the two thresholds also blocks."),
    sexy_percent: setting(integer(0, 100, "percent"), 0, "An image whose Sexy score is above this percentage is blocked too (0: the Sexy class never blocks)."),
    previews: setting(
      oneOf(["withhold", "classify", "pass"] as const),
      "withhold",
      "Live sampling previews over the WebSocket for checked users: withhold them, classify a few per second (the rest are dropped), or pass them.",
    ),
    preview_rate_per_second: setting(integer(1, 10, "previews"), 2, "Previews classified per second and socket when previews = classify."),
    view_wait_ms: setting(MILLISECONDS, 15_000, "How long /view waits for a verdict that does not exist yet; past it the image is blocked for checked users."),
    max_image_bytes: setting(integer(1024, 1024 * 1024 * 1024, "bytes"), 64 * 1024 * 1024, "Largest file the classifier reads; a bigger image is blocked for checked users."),
    max_megapixels: setting(integer(1, 1000, "megapixels"), 64, "Largest image (width x height) the classifier decodes; a bigger one is blocked (decompression bombs)."),
  },
  downloads: {
    models_dir: setting(
      optional(text("an absolute directory path", (value) => (value.startsWith("/") || /^[A-Za-z]:[\\/]/.test(value) ? { value } : { problem: "must be an absolute path" }))),
      null,
      "ComfyUI's models directory (holding checkpoints/, loras/, ...); model downloads are off until it is set.",
    ),
    max_active: setting(integer(1, 50, "downloads"), 5, "Downloads running at once, all sources together."),
    max_civitai: setting(integer(1, 50, "downloads"), 3, "CivitAI downloads running at once."),
    max_huggingface: setting(integer(1, 50, "downloads"), 2, "Hugging Face downloads running at once."),
    max_per_user: setting(integer(1, 1000, "downloads"), 20, "Downloads one user may have queued or running at once."),
    max_bytes: setting(integer(1024 * 1024, Number.MAX_SAFE_INTEGER, "bytes"), 64 * 1024 ** 3, "Largest model file downloaded, in bytes (checked on the announced size and on the bytes received)."),
    read_timeout_ms: setting(MILLISECONDS, 300_000, "A download that receives nothing for this long is retried (then failed)."),
    allowed_hosts: setting(
      list(hostPattern, "host names or *.domains"),
      ["civitai.com", "civitai.red", "*.civitai.com", "huggingface.co", "hf.co", "*.huggingface.co", "*.hf.co", "*.r2.cloudflarestorage.com", "*.backblazeb2.com"],
      "Hosts downloads may contact, including redirect targets (the sources' API hosts and their download CDNs).",
    ),
    test_sources: setting(
      list(loopbackSource, "name=loopback origin pairs"),
      NONE,
      "Tests only: civitai=, huggingface= or cdn=http://127.0.0.1:port points a source at a local fake (loopback only).",
    ),
  },
  secret_key: setting(
    optional(secretText(32)),
    null,
    "Key for signing and encryption, at least 32 characters; better set in the environment than in a file.",
    { secret: true },
  ),
} as const;

/** A node of the schema: a setting or a group of nodes. */
export interface SchemaGroup {
  readonly [name: string]: Setting<unknown> | SchemaGroup;
}

type ValuesOf<Group> = {
  readonly [Name in keyof Group]: Group[Name] extends Setting<infer T> ? T : ValuesOf<Group[Name]>;
};

/** The effective configuration: read-only, fully typed, keys as in config.json. */
export type Config = ValuesOf<typeof CONFIG_SCHEMA> & {
  /** Absolute data directory (from --data-dir, MSS_LOGIN_DATA_DIR or ./data). */
  readonly data_dir: string;
};

export const ENV_PREFIX = "MSS_LOGIN_";
/** Not config.json keys: they say where config.json is. */
export const DATA_DIR_ENV = "MSS_LOGIN_DATA_DIR";
export const CONFIG_FILE_ENV = "MSS_LOGIN_CONFIG";
export const DATA_DIR_FLAG = "--data-dir";
export const CONFIG_FILE_FLAG = "--config";
export const DEFAULT_DATA_DIR = "./data";
export const CONFIG_FILE_NAME = "config.json";

export interface SettingEntry {
  /** Dotted key, e.g. "listen.port". */
  readonly key: string;
  readonly path: readonly string[];
  /** e.g. "MSS_LOGIN_LISTEN__PORT". */
  readonly envName: string;
  readonly setting: Setting<unknown>;
}

function flatten(group: SchemaGroup, prefix: readonly string[]): SettingEntry[] {
  return Object.entries(group).flatMap(([name, node]) => {
    const path = [...prefix, name];
    if (node instanceof Setting) {
      const envName = ENV_PREFIX + path.map((p) => p.toUpperCase()).join("__");
      return [{ key: path.join("."), path, envName, setting: node }];
    }
    return flatten(node, path);
  });
}

/** Every setting, in schema order. */
export const SETTINGS: readonly SettingEntry[] = Object.freeze(flatten(CONFIG_SCHEMA, []));
