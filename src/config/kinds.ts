// Value kinds for configuration settings: how a value is read from config.json (already
// JSON-typed, so no coercion) and from text (environment variables and flags, coerced), and
// what a valid value is, in words, for error messages.
import { isLoopback, parseIp, parseIpRange } from "./ip.ts";

export type Checked<T> =
  | { readonly ok: true; readonly value: T }
  | {
      readonly ok: false;
      /** Completes "<key> ...", e.g. "must be an integer 1-65535". */
      readonly problem: string;
      /** Suffix pointing inside the value, e.g. "[2]" for a list item. */
      readonly at?: string;
      /** The offending value, shown in the message (redacted for secrets). */
      readonly got: unknown;
    };

export interface Kind<T> {
  /** What a valid value is, e.g. "an integer 1-65535". */
  readonly expected: string;
  /** Bounds of an integer kind (shown by the admin app's settings). */
  readonly min?: number;
  readonly max?: number;
  /** The allowed values of a one-of kind (shown by the admin app as a choice). */
  readonly options?: readonly string[];
  fromJson(raw: unknown): Checked<T>;
  fromText(text: string): Checked<T>;
}

const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const bad = <T>(problem: string, got: unknown, at?: string): Checked<T> =>
  at === undefined ? { ok: false, problem, got } : { ok: false, problem, got, at };

export function integer(min: number, max: number, unit = ""): Kind<number> {
  const expected = `an integer ${min}-${max}${unit ? ` (${unit})` : ""}`;
  const check = (value: number, got: unknown): Checked<number> =>
    Number.isSafeInteger(value) && value >= min && value <= max ? ok(value) : bad(`must be ${expected}`, got);
  return {
    expected,
    min,
    max,
    fromJson: (raw) => (typeof raw === "number" ? check(raw, raw) : bad(`must be ${expected}`, raw)),
    fromText: (text) =>
      /^[+-]?\d+$/.test(text.trim()) ? check(Number(text.trim()), text) : bad(`must be ${expected}`, text),
  };
}

const TRUE_WORDS = new Set(["true", "1", "yes", "on"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off"]);

export function boolean(): Kind<boolean> {
  const expected = "true or false";
  return {
    expected,
    fromJson: (raw) => (typeof raw === "boolean" ? ok(raw) : bad(`must be ${expected}`, raw)),
    fromText: (text) => {
      const word = text.trim().toLowerCase();
      if (TRUE_WORDS.has(word)) return ok(true);
      if (FALSE_WORDS.has(word)) return ok(false);
      return bad(`must be ${expected}`, text);
    },
  };
}

/**
 * A string checked (and possibly normalised) by `parse`, which returns the value or a
 * problem. `fromText` and `fromJson` agree: text from env/flags is the string itself.
 */
export function text<T extends string = string>(
  expected: string,
  parse: (value: string) => { value: T } | { problem: string },
): Kind<T> {
  const fromString = (value: string): Checked<T> => {
    const result = parse(value);
    return "value" in result ? ok(result.value) : bad(result.problem, value);
  };
  return {
    expected,
    fromJson: (raw) => (typeof raw === "string" ? fromString(raw) : bad(`must be ${expected}`, raw)),
    fromText: fromString,
  };
}

export function oneOf<const V extends readonly string[]>(values: V): Kind<V[number]> {
  const expected = `one of ${values.join(", ")}`;
  const kind = text<V[number]>(expected, (value) =>
    (values as readonly string[]).includes(value) ? { value: value as V[number] } : { problem: `must be ${expected}` },
  );
  return { ...kind, options: values };
}

/** Allows `null` in config.json for "not set"; the default is usually null too. */
export function optional<T>(kind: Kind<T>): Kind<T | null> {
  return {
    expected: `${kind.expected} or null`,
    fromJson: (raw) => (raw === null ? ok(null) : kind.fromJson(raw)),
    fromText: (value) => kind.fromText(value),
  };
}

/**
 * A list. In config.json a JSON array; in env/flags either a JSON array (`["a","b"]`) or
 * comma-separated text (`a, b`); empty items are dropped.
 */
export function list<T>(item: Kind<T>, itemsInWords: string): Kind<readonly T[]> {
  const expected = `a list of ${itemsInWords}`;
  const items = (raws: readonly unknown[], read: (raw: unknown) => Checked<T>): Checked<readonly T[]> => {
    const values: T[] = [];
    for (const [index, raw] of raws.entries()) {
      const result = read(raw);
      if (!result.ok) return bad(result.problem, result.got, `[${index}]${result.at ?? ""}`);
      values.push(result.value);
    }
    return ok(Object.freeze(values));
  };
  const fromJson = (raw: unknown): Checked<readonly T[]> =>
    Array.isArray(raw) ? items(raw, (x) => item.fromJson(x)) : bad(`must be ${expected}`, raw);
  return {
    expected,
    fromJson,
    fromText: (value) => {
      const trimmed = value.trim();
      if (trimmed.startsWith("[")) {
        try {
          return fromJson(JSON.parse(trimmed));
        } catch {
          return bad("must be a JSON array or a comma-separated list", value);
        }
      }
      const parts = trimmed.split(",").map((part) => part.trim()).filter((part) => part.length > 0);
      return items(parts, (x) => item.fromText(x as string));
    },
  };
}

// ---- Domain kinds ---------------------------------------------------------------------------

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** An address to listen on: IPv4, IPv6 (brackets tolerated and removed) or a host name. */
export const listenHost = text("an IP address or host name", (value) => {
  const bare = value.startsWith("[") && value.endsWith("]") ? value.slice(1, -1) : value;
  if (parseIp(bare) !== null) return { value: bare };
  if (HOSTNAME.test(bare)) return { value: bare.toLowerCase() };
  return { problem: "must be an IP address or host name" };
});

/** An IP address or CIDR range (v4 or v6); kept as written. */
export const ipOrCidr = text("an IP address or CIDR range", (value) => {
  const result = parseIpRange(value);
  return result.ok ? { value } : { problem: result.problem };
});

function parseHttpUrl(value: string): URL | null {
  if (!/^https?:\/\//i.test(value) || !URL.canParse(value)) return null;
  const url = new URL(value);
  return url.hostname === "" ? null : url;
}

/**
 * http(s) URL of the upstream, optionally with a base path; no credentials, query or
 * fragment. Normalised to `scheme://host[:port][/base]` without a trailing slash.
 */
export const upstreamUrl = text("an http(s) URL with an optional base path", (value) => {
  const url = parseHttpUrl(value);
  if (url === null) return { problem: "must be an http:// or https:// URL" };
  if (url.username !== "" || url.password !== "") return { problem: "must not contain a user name or password" };
  if (value.includes("?") || value.includes("#")) return { problem: "must not have a query or fragment" };
  const basePath = url.pathname.replace(/\/+$/, "");
  return { value: `${url.protocol}//${url.host}${basePath}` };
});

/** A browser origin, `scheme://host[:port]`; normalised (lower case, default port dropped). */
export const origin = text("an origin like https://comfy.example.com", (value) => {
  const url = parseHttpUrl(value);
  if (url === null) return { problem: "must be an origin like https://comfy.example.com" };
  const hasCredentials = url.username !== "" || url.password !== "";
  if (hasCredentials || value.includes("?") || value.includes("#") || url.pathname !== "/") {
    return { problem: "must be an origin only (scheme://host[:port], no path, query or credentials)" };
  }
  return { value: url.origin };
});

/** A URL path prefix such as `/my-node/`; must not be `/` (that would open everything). */
export const routePrefix = text("a path prefix starting with /", (value) => {
  if (!value.startsWith("/")) return { problem: "must start with /" };
  if (value === "/") return { problem: "must not be / alone (that would open every unknown route)" };
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f?#\\]/.test(value)) {
    return { problem: "must not contain spaces, control characters, ?, # or \\" };
  }
  if (value.split("/").some((segment) => segment === "." || segment === "..")) {
    return { problem: "must not contain . or .. segments" };
  }
  if (value.includes("//")) return { problem: "must not contain //" };
  return { value };
});

/** A secret string of at least `minLength` characters. */
export function secretText(minLength: number): Kind<string> {
  return text(`a string of at least ${minLength} characters`, (value) =>
    value.length >= minLength ? { value } : { problem: `must be at least ${minLength} characters` },
  );
}

/** A host name to allow, or `*.` and a domain (any host under it, not the domain itself). */
export const hostPattern = text("a host name or *.domain", (value) => {
  const lower = value.trim().toLowerCase();
  const bare = lower.startsWith("*.") ? lower.slice(2) : lower;
  if (!HOSTNAME.test(bare) || parseIp(bare) !== null || !bare.includes(".")) {
    return { problem: "must be a host name with a dot (civitai.com) or *.domain (*.hf.co); IP addresses are not allowed" };
  }
  return { value: lower };
});

/**
 * `name=origin` with a loopback origin, e.g. `civitai=http://127.0.0.1:4001`: for tests that
 * point a download source at a local fake. Only loopback is accepted, so the setting cannot
 * open a path into the rest of the network.
 */
export const loopbackSource = text("name=http://127.0.0.1:port", (value) => {
  const match = /^([a-z][a-z0-9_-]{0,31})=(.+)$/.exec(value.trim());
  if (match === null) return { problem: "must be name=origin, e.g. civitai=http://127.0.0.1:4001" };
  const parsed = origin.fromText(match[2]!);
  if (!parsed.ok) return { problem: parsed.problem };
  const host = new URL(parsed.value).hostname.replace(/^\[|\]$/g, "");
  const address = parseIp(host);
  if (address === null || !isLoopback(address)) {
    return { problem: "must be a loopback origin (127.0.0.0/8 or [::1]) given as an IP address" };
  }
  return { value: `${match[1]}=${parsed.value}` };
});
