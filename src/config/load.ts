// Loads the effective configuration:
//   embedded defaults < config.json < MSS_LOGIN_* environment variables < command-line flags
// Everything comes in through the arguments (no process.env, no process.cwd()), so tests can
// call it directly. The first problem found stops loading with a ConfigError.
import { readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { closestMatch, ConfigError } from "./errors.ts";
import { parseConfigFlags } from "./flags.ts";
import type { Checked } from "./kinds.ts";
import {
  CONFIG_FILE_ENV,
  CONFIG_FILE_FLAG,
  CONFIG_FILE_NAME,
  CONFIG_SCHEMA,
  DATA_DIR_ENV,
  DATA_DIR_FLAG,
  DEFAULT_DATA_DIR,
  ENV_PREFIX,
  Setting,
  SETTINGS,
  type Config,
  type SchemaGroup,
  type SettingEntry,
} from "./schema.ts";

export interface LoadConfigOptions {
  /** The flags after the command word, e.g. ["--port", "9000"]. */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Relative paths (--data-dir, --config and their env variables) resolve against this. */
  readonly cwd: string;
}

export type ConfigSource =
  | { readonly kind: "default" }
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "env"; readonly name: string }
  | { readonly kind: "flag"; readonly name: string };

export interface LoadedConfig {
  readonly config: Config;
  /** Where each value came from, by dotted key; also "data_dir". */
  readonly sources: Readonly<Record<string, ConfigSource>>;
  /** The config file that was read, or null when there was none. */
  readonly configFile: string | null;
  /** Findings worth a log line that do not stop start-up. */
  readonly warnings: readonly string[];
}

/** How a source is named in messages: "/data/config.json", "env MSS_LOGIN_X", "flag --x", "default". */
export function describeSource(source: ConfigSource): string {
  switch (source.kind) {
    case "default":
      return "default";
    case "file":
      return source.path;
    case "env":
      return `env ${source.name}`;
    case "flag":
      return `flag ${source.name}`;
  }
}

const ENTRY_BY_KEY = new Map(SETTINGS.map((entry) => [entry.key, entry]));
const ENTRY_BY_ENV = new Map(SETTINGS.map((entry) => [entry.envName, entry]));
const ENTRY_BY_FLAG = new Map(
  SETTINGS.flatMap((entry) => (entry.setting.flag === null ? [] : [[entry.setting.flag, entry] as const])),
);

/** A value for an error message; secrets are described, never shown. */
function showValue(value: unknown, secret: boolean): string {
  if (secret) {
    if (typeof value === "string") return `${value.length} characters`;
    return value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
  }
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 80 ? `${json.slice(0, 77)}...` : json;
}

/** Unwraps a checked value or throws the one-line error naming key and source. */
function accept<T>(result: Checked<T>, entry: SettingEntry, source: ConfigSource): T {
  if (result.ok) return result.value;
  // A value with credentials in it (a URL with user:password) is treated as a secret.
  const got = showValue(result.got, entry.setting.secret || hasUrlCredentials(result.got));
  const detail = `${entry.key}${result.at ?? ""} ${result.problem} (got ${got})`;
  throw new ConfigError(describeSource(source), detail, entry.key);
}

function hasUrlCredentials(value: unknown): boolean {
  const texts = Array.isArray(value) ? value : [value];
  return texts.some((text) => typeof text === "string" && /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(text));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Error text for a failed read, e.g. "is a directory (EISDIR)". */
function describeFsError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const known: Record<string, string> = {
    ENOENT: "no such file",
    EACCES: "permission denied",
    EISDIR: "is a directory",
    ENOTDIR: "a parent is not a directory",
  };
  if (typeof code === "string") return `${known[code] ?? (error as Error).message} (${code})`;
  return error instanceof Error ? error.message : String(error);
}

/** Parsed contents of the config file, or null if it is absent and was not asked for. */
function readConfigFile(path: string, explicit: boolean): Record<string, unknown> | null {
  let textContent: string;
  try {
    textContent = readFileSync(path, "utf8");
  } catch (error) {
    if (!explicit && (error as { code?: unknown }).code === "ENOENT") return null;
    throw new ConfigError(path, `cannot read config file: ${describeFsError(error)}`, null, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(textContent.replace(/^\uFEFF/, "")); // tolerate a byte-order mark
  } catch (error) {
    // The parser's message quotes the offending text, which may be a secret: it is not repeated.
    throw new ConfigError(path, "not valid JSON (check quotes, commas and braces)", null, { cause: error });
  }
  if (!isPlainObject(parsed)) {
    throw new ConfigError(path, `must contain a JSON object (got ${showValue(parsed, false)})`);
  }
  return parsed;
}

function applyFile(
  object: Record<string, unknown>,
  group: SchemaGroup,
  prefix: readonly string[],
  file: ConfigSource,
  values: Map<string, unknown>,
  sources: Record<string, ConfigSource>,
): void {
  const where = describeSource(file);
  for (const [name, raw] of Object.entries(object)) {
    const path = [...prefix, name];
    const key = path.join(".");
    const node = Object.hasOwn(group, name) ? group[name] : undefined;
    if (node === undefined) {
      if (key === "data_dir") {
        const instead = `use ${DATA_DIR_FLAG} or ${DATA_DIR_ENV}`;
        throw new ConfigError(where, `data_dir cannot be set in config.json (${instead})`, key);
      }
      const guess = closestMatch(key, ENTRY_BY_KEY.keys());
      const hint = guess ? ` (did you mean "${guess}"?)` : "";
      throw new ConfigError(where, `unknown key ${JSON.stringify(key)}${hint}`, key);
    }
    if (node instanceof Setting) {
      const entry = ENTRY_BY_KEY.get(key);
      if (entry === undefined) throw new Error(`schema has no entry for ${key}`);
      values.set(key, accept(node.kind.fromJson(raw), entry, file));
      sources[key] = file;
    } else if (isPlainObject(raw)) {
      applyFile(raw, node, path, file, values, sources);
    } else {
      throw new ConfigError(where, `${key} must be an object (got ${showValue(raw, false)})`, key);
    }
  }
}

function applyEnv(
  env: Readonly<Record<string, string | undefined>>,
  values: Map<string, unknown>,
  sources: Record<string, ConfigSource>,
): void {
  // Sorted, so that with several bad variables the same one is always reported.
  const names = Object.keys(env).filter((name) => name.startsWith(ENV_PREFIX)).sort();
  for (const name of names) {
    const value = env[name];
    // Empty means unset: `MSS_LOGIN_X=${X:-}` in a compose file should not be an error.
    if (value === undefined || value === "" || name === DATA_DIR_ENV || name === CONFIG_FILE_ENV) continue;
    const source: ConfigSource = { kind: "env", name };
    const entry = ENTRY_BY_ENV.get(name);
    if (entry === undefined) {
      const guess = closestMatch(name, [...ENTRY_BY_ENV.keys(), DATA_DIR_ENV, CONFIG_FILE_ENV]);
      throw new ConfigError(describeSource(source), `not a known setting${guess ? ` (did you mean ${guess}?)` : ""}`);
    }
    values.set(entry.key, accept(entry.setting.kind.fromText(value), entry, source));
    sources[entry.key] = source;
  }
}

function applyFlags(
  flags: ReadonlyMap<string, string>,
  values: Map<string, unknown>,
  sources: Record<string, ConfigSource>,
): void {
  for (const [flag, value] of flags) {
    const entry = ENTRY_BY_FLAG.get(flag);
    if (entry === undefined) continue; // --data-dir and --config were handled before
    const source: ConfigSource = { kind: "flag", name: flag };
    values.set(entry.key, accept(entry.setting.kind.fromText(value), entry, source));
    sources[entry.key] = source;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** The first of flag, env, default that is set; empty env values count as unset. */
function pick(
  flags: ReadonlyMap<string, string>,
  flag: string,
  env: Readonly<Record<string, string | undefined>>,
  envName: string,
): { text: string; source: ConfigSource } | null {
  const fromFlag = flags.get(flag);
  if (fromFlag !== undefined) return { text: fromFlag, source: { kind: "flag", name: flag } };
  const fromEnv = env[envName];
  if (fromEnv !== undefined && fromEnv !== "") return { text: fromEnv, source: { kind: "env", name: envName } };
  return null;
}

/** Where each value of a configuration made by loadConfig came from (see configSources). */
const LOADED_SOURCES = new WeakMap<Config, Readonly<Record<string, ConfigSource>>>();

/**
 * The sources of a configuration that loadConfig returned (whoever holds only the Config, such
 * as the composition root, can still tell which keys the environment or a flag pinned); null
 * for a configuration built some other way.
 */
export function configSources(config: Config): Readonly<Record<string, ConfigSource>> | null {
  return LOADED_SOURCES.get(config) ?? null;
}

export function loadConfig({ argv, env, cwd }: LoadConfigOptions): LoadedConfig {
  const flags = parseConfigFlags(argv);

  const dataDirChoice = pick(flags, DATA_DIR_FLAG, env, DATA_DIR_ENV) ?? {
    text: DEFAULT_DATA_DIR,
    source: { kind: "default" } as const,
  };
  if (dataDirChoice.text.trim() === "") {
    throw new ConfigError(describeSource(dataDirChoice.source), "the data directory must not be empty", "data_dir");
  }
  const dataDir = resolve(cwd, dataDirChoice.text);
  // Said plainly here; otherwise it would surface as "cannot read <dir>/config.json: ENOTDIR".
  let dataDirStat: ReturnType<typeof statSync>;
  try {
    dataDirStat = statSync(dataDir, { throwIfNoEntry: false });
  } catch (error) {
    // e.g. ENOTDIR: a path that runs through a file.
    throw new ConfigError(dataDir, `the data directory (from ${describeSource(dataDirChoice.source)}) cannot be used: ${(error as { code?: string }).code ?? "error"}`, "data_dir", { cause: error });
  }
  if (dataDirStat?.isDirectory() === false) {
    const from = describeSource(dataDirChoice.source);
    throw new ConfigError(dataDir, `the data directory (from ${from}) is not a directory`, "data_dir");
  }

  const fileChoice = pick(flags, CONFIG_FILE_FLAG, env, CONFIG_FILE_ENV);
  if (fileChoice !== null && fileChoice.text.trim() === "") {
    throw new ConfigError(describeSource(fileChoice.source), "the config file path must not be empty");
  }
  const filePath = fileChoice !== null ? resolve(cwd, fileChoice.text) : join(dataDir, CONFIG_FILE_NAME);

  const values = new Map<string, unknown>();
  const sources: Record<string, ConfigSource> = { data_dir: dataDirChoice.source };
  for (const entry of SETTINGS) {
    values.set(entry.key, entry.setting.defaultValue);
    sources[entry.key] = { kind: "default" };
  }

  const warnings: string[] = [];
  const fileContents = readConfigFile(filePath, fileChoice !== null);
  if (fileContents !== null) {
    const fileSource: ConfigSource = { kind: "file", path: filePath };
    applyFile(fileContents, CONFIG_SCHEMA, [], fileSource, values, sources);
    const secretsInFile = SETTINGS.filter((e) => e.setting.secret && sources[e.key]?.kind === "file");
    const mode = statSync(filePath).mode & 0o777;
    if (secretsInFile.length > 0 && (mode & 0o077) !== 0) {
      const keys = secretsInFile.map((e) => e.key).join(", ");
      const octal = mode.toString(8).padStart(4, "0");
      warnings.push(`${filePath} holds ${keys} but other users may read it (mode ${octal}); chmod 600 it`);
    }
  }
  applyEnv(env, values, sources);
  applyFlags(flags, values, sources);

  const root: Record<string, unknown> = { data_dir: dataDir };
  for (const entry of SETTINGS) {
    let node = root;
    for (const name of entry.path.slice(0, -1)) {
      node = (node[name] ??= {}) as Record<string, unknown>;
    }
    node[entry.path.at(-1) ?? entry.key] = values.get(entry.key);
  }
  // Every value passed its setting's kind, so the object has the Config shape.
  const config = deepFreeze(root) as unknown as Config;
  const frozenSources = Object.freeze(sources);
  LOADED_SOURCES.set(config, frozenSources);
  return {
    config,
    sources: frozenSources,
    configFile: fileContents !== null ? filePath : null,
    warnings,
  };
}
