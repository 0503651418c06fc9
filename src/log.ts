// A tiny leveled logger shared by every module: one line per event,
//   2026-01-31T12:00:00.000Z INFO gateway listening url=http://0.0.0.0:8189 port=8189
// Fields whose name suggests a secret are replaced by "<redacted>" (nested ones too), and
// every value is quoted/escaped so that user-controlled text cannot forge a log line.

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  readonly level: LogLevel;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** True when a line at `level` would be written (to skip building costly fields). */
  enabled(level: LogLevel): boolean;
  /** A logger that adds `fields` to every line (e.g. a component or request id). */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  /** Where finished lines go (without newline). Default: standard error. */
  write?: (line: string) => void;
  /** Clock, for tests. */
  now?: () => Date;
}

export const REDACTED = "<redacted>";

// Matched against the field name lower-cased with `_` and `-` removed. Over-redacting a
// harmless field (say `token_count`) is the cheap mistake; leaking a secret is not.
const SECRET_NAME_PARTS = [
  "password",
  "passwd",
  "secret",
  "token",
  "authorization",
  "cookie",
  "apikey",
  "privatekey",
  "credential",
  "totp",
  "backupcode",
  "sessionid",
] as const;

export function isSecretFieldName(name: string): boolean {
  const squashed = name.toLowerCase().replace(/[_-]/g, "");
  return SECRET_NAME_PARTS.some((part) => squashed.includes(part));
}

/** Deep copy with secret-named fields replaced; errors become {name, message}. */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 8) return "[too deep]";
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, depth + 1));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      out[key] = isSecretFieldName(key) ? REDACTED : redactSecrets(inner, depth + 1);
    }
    return out;
  }
  return value;
}

// Bare words stay bare; anything with spaces, quotes, `=` or control characters is JSON-quoted.
const BARE_VALUE = /^[A-Za-z0-9_.,:/@+\-[\]()<>*~^%!?]+$/;
const BARE_KEY = /^[A-Za-z0-9_.\-]+$/;

/**
 * Credentials that can hide inside ordinary values (a URL with `?token=`, a header copied into
 * a message): the gateway's own token formats and query credentials are masked wherever they
 * appear, whatever the field is called.
 */
const CREDENTIAL_PATTERNS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bms[st]_[A-Za-z0-9_-]{20,}/g, REDACTED], // API tokens and tickets
  [/\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*/g, REDACTED], // JWTs
  [/([?&](?:token|access_token|ticket)=)[^&\s"]+/gi, `$1${REDACTED}`], // query credentials
  [/(Bearer\s+)[^\s"]+/gi, `$1${REDACTED}`],
];

export function maskCredentials(text: string): string {
  let masked = text;
  for (const [pattern, replacement] of CREDENTIAL_PATTERNS) masked = masked.replace(pattern, replacement);
  return masked;
}

function formatValue(value: unknown): string {
  if (value === undefined) return "undefined";
  if (value === null || typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "string") {
    const masked = maskCredentials(value);
    return BARE_VALUE.test(masked) ? masked : JSON.stringify(masked);
  }
  if (value instanceof Error) return JSON.stringify(maskCredentials(`${value.name}: ${value.message}`));
  return JSON.stringify(maskCredentials(JSON.stringify(redactSecrets(value)) ?? String(value)));
}

/** Messages are written bare, so neutralise line breaks and other control characters. */
function sanitiseMessage(message: string): string {
  // eslint-disable-next-line no-control-regex
  return message.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

export function formatLogLine(time: Date, level: LogLevel, message: string, fields: LogFields): string {
  let line = `${time.toISOString()} ${level.toUpperCase()} ${sanitiseMessage(maskCredentials(message))}`;
  for (const [name, value] of Object.entries(fields)) {
    const key = BARE_KEY.test(name) ? name : JSON.stringify(name);
    line += ` ${key}=${isSecretFieldName(name) ? REDACTED : formatValue(value)}`;
  }
  return line;
}

export function createLogger(level: LogLevel, options: LoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const now = options.now ?? (() => new Date());
  const threshold = LOG_LEVELS.indexOf(level);

  function make(context: LogFields): Logger {
    const emit = (at: LogLevel, message: string, fields?: LogFields): void => {
      if (LOG_LEVELS.indexOf(at) < threshold) return;
      write(formatLogLine(now(), at, message, fields ? { ...context, ...fields } : context));
    };
    return {
      level,
      debug: (message, fields) => emit("debug", message, fields),
      info: (message, fields) => emit("info", message, fields),
      warn: (message, fields) => emit("warn", message, fields),
      error: (message, fields) => emit("error", message, fields),
      enabled: (at) => LOG_LEVELS.indexOf(at) >= threshold,
      child: (fields) => make({ ...context, ...fields }),
    };
  }
  return make({});
}
