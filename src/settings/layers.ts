// Where a stored (admin) setting sits among the configuration's layers, as pure functions:
//   defaults < config.json < stored admin settings < MSS_LOGIN_* env < flags
// A key the environment or a flag set is "locked": a stored value for it is kept but unused.
import type { Config, ConfigSource } from "../config/index.ts";
import { EDITABLE_SETTINGS, editableSetting, type EditableSetting } from "./catalogue.ts";

export type SettingSource = "default" | "config" | "admin" | "env" | "flag";

/** A stored override as read from the database. */
export interface StoredSetting {
  readonly key: string;
  readonly valueJson: string;
}

export interface LayeredConfig {
  readonly config: Config;
  /** Source of each editable key. */
  readonly sources: Readonly<Record<string, SettingSource>>;
  /** Stored values that were not used, and why (a key no longer editable, a value out of range). */
  readonly ignored: readonly { readonly key: string; readonly problem: string }[];
}

export function sourceName(source: ConfigSource | undefined): SettingSource {
  switch (source?.kind) {
    case undefined:
    case "default":
      return "default";
    case "file":
      return "config";
    case "env":
      return "env";
    case "flag":
      return "flag";
  }
}

/** Set by the environment or a flag: the app may not change it. */
export function isLocked(source: SettingSource): boolean {
  return source === "env" || source === "flag";
}

export function valueAt(config: Config, path: readonly string[]): unknown {
  let node: unknown = config;
  for (const name of path) node = (node as Record<string, unknown>)[name];
  return node;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** Checks a stored or submitted value against the setting's own kind (the config schema's rule). */
export function checkValue(setting: EditableSetting, raw: unknown): { ok: true; value: unknown } | { ok: false; problem: string } {
  const checked = setting.entry.setting.kind.fromJson(raw);
  return checked.ok ? { ok: true, value: checked.value } : { ok: false, problem: `${setting.key} ${checked.problem}` };
}

/** Same JSON: values here are booleans, numbers, strings (and frozen lists), never cyclic. */
export function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The effective configuration: `base` (as loaded: defaults, config.json, env, flags) with the
 * stored overrides applied to every editable key that neither the environment nor a flag set.
 */
export function layerSettings(
  base: Config,
  baseSources: Readonly<Record<string, ConfigSource>> | null,
  stored: readonly StoredSetting[],
): LayeredConfig {
  const root = structuredClone(base) as unknown as Record<string, unknown>;
  const sources: Record<string, SettingSource> = {};
  for (const setting of EDITABLE_SETTINGS) sources[setting.key] = sourceName(baseSources?.[setting.key]);
  const ignored: { key: string; problem: string }[] = [];
  for (const row of stored) {
    const setting = editableSetting(row.key);
    if (setting === undefined) {
      ignored.push({ key: row.key, problem: "is not a setting that can be changed at run time" });
      continue;
    }
    if (isLocked(sources[row.key] ?? "default")) continue;
    let raw: unknown;
    try {
      raw = JSON.parse(row.valueJson);
    } catch {
      ignored.push({ key: row.key, problem: "is stored as invalid JSON" });
      continue;
    }
    const checked = checkValue(setting, raw);
    if (!checked.ok) {
      ignored.push({ key: row.key, problem: checked.problem });
      continue;
    }
    const path = setting.entry.path;
    let node = root;
    for (const name of path.slice(0, -1)) node = node[name] as Record<string, unknown>;
    node[path.at(-1) ?? setting.key] = checked.value;
    sources[row.key] = "admin";
  }
  return { config: deepFreeze(root) as unknown as Config, sources, ignored };
}
