// What `mss-login config print` shows: the effective configuration with secrets redacted,
// and optionally where each value came from.
import { REDACTED } from "../log.ts";
import { describeSource, type LoadedConfig } from "./load.ts";
import { DATA_DIR_ENV, DATA_DIR_FLAG, SETTINGS, type Config } from "./schema.ts";

function valueAt(config: Config, path: readonly string[]): unknown {
  let node: unknown = config;
  for (const name of path) node = (node as Record<string, unknown>)[name];
  return node;
}

/** A set secret shows as "<redacted>"; an unset one as null, so "is it configured?" is visible. */
function printable(value: unknown, secret: boolean): unknown {
  return secret && value !== null ? REDACTED : value;
}

/** The configuration as a plain JSON-able object, secrets redacted. */
export function redactedConfig(config: Config): Record<string, unknown> {
  const root: Record<string, unknown> = { data_dir: config.data_dir };
  for (const entry of SETTINGS) {
    let node = root;
    for (const name of entry.path.slice(0, -1)) node = (node[name] ??= {}) as Record<string, unknown>;
    node[entry.path.at(-1) ?? entry.key] = printable(valueAt(config, entry.path), entry.setting.secret);
  }
  return root;
}

/** Dotted key -> {value, source}, secrets redacted. */
export function redactedSources(loaded: LoadedConfig): Record<string, { value: unknown; source: string }> {
  const describe = (key: string) => {
    const source = loaded.sources[key];
    return source === undefined ? "default" : describeSource(source);
  };
  const report: Record<string, { value: unknown; source: string }> = {
    data_dir: { value: loaded.config.data_dir, source: describe("data_dir") },
  };
  for (const entry of SETTINGS) {
    report[entry.key] = {
      value: printable(valueAt(loaded.config, entry.path), entry.setting.secret),
      source: describe(entry.key),
    };
  }
  return report;
}

/** One block per setting, for `mss-login help config`. */
export function describeSettings(): string {
  const lines = [
    `data_dir = "./data"`,
    `    Where the database and config.json live (not a config.json key). (${DATA_DIR_FLAG}, ${DATA_DIR_ENV})`,
  ];
  for (const entry of SETTINGS) {
    const { setting } = entry;
    const shown = setting.secret ? "(unset)" : JSON.stringify(setting.defaultValue);
    const where = [setting.flag, entry.envName].filter((x) => x !== null).join(", ");
    lines.push(`${entry.key} = ${shown}`, `    ${setting.doc} (${where})`);
  }
  return lines.join("\n");
}
