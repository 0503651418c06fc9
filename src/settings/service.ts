// The live settings: the configuration as loaded, with the administrator's stored overrides on
// top (see layers.ts). Consumers that must follow a change without a restart read
// `current()` when they need a value instead of copying it at start.
//
// The stored overrides live in the database, so every gateway process sharing it follows a
// change: the process that made it at once, the others (and a change made with
// `mss-login settings`) within REFRESH_MS.
import { eq } from "drizzle-orm";
import { configSources, type Config, type ConfigSource } from "../config/index.ts";
import type { Db } from "../db/index.ts";
import type { Logger } from "../log.ts";
import { EDITABLE_SETTINGS, editableSetting } from "./catalogue.ts";
import { checkValue, isLocked, layerSettings, sameValue, valueAt, type LayeredConfig, type SettingSource, type StoredSetting } from "./layers.ts";
import { gatewaySettings } from "./tables.ts";

/** How stale another process's change may be seen here. */
export const REFRESH_MS = 5_000;

/** One setting as the admin API shows it. */
export interface SettingView {
  key: string;
  group: string;
  label: string;
  description: string;
  type: "boolean" | "integer" | "string";
  value: unknown;
  default: unknown;
  min?: number;
  max?: number;
  unit?: string;
  /** The allowed values, when the setting is a choice. */
  options?: readonly string[];
  source: SettingSource;
  locked: boolean;
  applies: "now" | "restart";
  owner_only: boolean;
}

/** Who changes settings: an administrator (owner-only keys need the owner) or the command line. */
export type SettingsActor = { kind: "user"; username: string; role: string } | { kind: "system" };

export interface SettingsChange {
  /** Key -> new value (JSON-typed, or text as from the environment when `text` is set). */
  values?: Readonly<Record<string, unknown>>;
  /** Keys whose stored override is dropped. */
  reset?: readonly string[];
  /** Values are text, read like environment variables (`30`, `true`): the command line. */
  text?: boolean;
}

export type SettingsRefusal = { status: 400 | 403; code: "UNKNOWN_SETTING" | "SETTING_LOCKED" | "INVALID_SETTING" | "OWNER_ONLY"; error: string; field: string };

export interface GatewaySettings {
  /** The effective configuration now (stored overrides included). */
  current(): Config;
  /** The editable settings with value, source and lock, in display order. */
  describe(): SettingView[];
  /** All or nothing: the first refusal changes nothing. */
  change(change: SettingsChange, actor: SettingsActor, now?: number): { ok: true; changed: string[] } | ({ ok: false } & SettingsRefusal);
}

export interface GatewaySettingsOptions {
  db: Db;
  /** The configuration as loaded (defaults, config.json, env, flags). */
  config: Config;
  /** Where each loaded value came from; defaults to what loadConfig recorded for `config`. */
  sources?: Readonly<Record<string, ConfigSource>> | null;
  log?: Logger;
  refreshMs?: number;
  clock?: () => number;
}

function readStored(db: Db): StoredSetting[] {
  return db.select({ key: gatewaySettings.key, valueJson: gatewaySettings.valueJson }).from(gatewaySettings).orderBy(gatewaySettings.key).all();
}

export function createGatewaySettings(options: GatewaySettingsOptions): GatewaySettings {
  const { db, config: base, log } = options;
  const baseSources = options.sources === undefined ? configSources(base) : options.sources;
  const refreshMs = options.refreshMs ?? REFRESH_MS;
  const clock = options.clock ?? Date.now;
  const reported = new Set<string>();

  function load(): LayeredConfig {
    const layered = layerSettings(base, baseSources, readStored(db));
    for (const { key, problem } of layered.ignored) {
      const line = `${key} ${problem}`;
      if (reported.has(line)) continue;
      reported.add(line);
      log?.warn("stored setting ignored", { key, problem });
    }
    return layered;
  }

  let layered = load();
  let loadedAt = clock();

  function fresh(): LayeredConfig {
    const now = clock();
    if (now - loadedAt >= refreshMs) {
      loadedAt = now;
      try {
        layered = load();
      } catch (error) {
        // The database is busy or closing: keep what we have, try again later.
        log?.warn("cannot re-read stored settings", { error: error instanceof Error ? error.message : String(error) });
      }
    }
    return layered;
  }

  function describe(): SettingView[] {
    const { config, sources } = fresh();
    return EDITABLE_SETTINGS.map((setting) => {
      const kind = setting.entry.setting.kind;
      const source = sources[setting.key] ?? "default";
      return {
        key: setting.key,
        group: setting.group,
        label: setting.label,
        description: setting.description,
        type: setting.type,
        value: valueAt(config, setting.entry.path),
        default: setting.entry.setting.defaultValue,
        ...(kind.min === undefined ? {} : { min: kind.min }),
        ...(kind.max === undefined ? {} : { max: kind.max }),
        ...(setting.unit === undefined ? {} : { unit: setting.unit }),
        ...(kind.options === undefined ? {} : { options: kind.options }),
        source,
        locked: isLocked(source),
        applies: setting.applies,
        owner_only: setting.ownerOnly,
      };
    });
  }

  function change(request: SettingsChange, actor: SettingsActor, now = clock()) {
    const { sources } = fresh();
    const refuse = (status: 400 | 403, code: SettingsRefusal["code"], field: string, error: string) => ({ ok: false as const, status, code, field, error });
    /** Key -> value to store, or null to drop the stored override. */
    const writes = new Map<string, unknown>();
    const entries: [string, unknown, "set" | "reset"][] = [
      ...Object.entries(request.values ?? {}).map(([key, value]): [string, unknown, "set"] => [key, value, "set"]),
      ...(request.reset ?? []).map((key): [string, unknown, "reset"] => [key, null, "reset"]),
    ];
    for (const [key, raw, action] of entries) {
      const setting = editableSetting(key);
      if (setting === undefined) return refuse(400, "UNKNOWN_SETTING", key, `${key} is not a setting that can be changed here.`);
      if (setting.ownerOnly && actor.kind === "user" && actor.role !== "owner") return refuse(403, "OWNER_ONLY", key, `Only the owner may change ${key}.`);
      const source = sources[key] ?? "default";
      if (isLocked(source)) {
        const where = source === "env" ? `the environment variable ${setting.entry.envName}` : `the command-line flag ${setting.entry.setting.flag ?? ""}`.trim();
        return refuse(400, "SETTING_LOCKED", key, `${key} is set by ${where}; change it there.`);
      }
      if (writes.has(key)) return refuse(400, "INVALID_SETTING", key, `${key} is named twice (set and reset in one request).`);
      if (action === "reset") {
        writes.set(key, null);
        continue;
      }
      let candidate = raw;
      if (request.text === true) {
        if (typeof raw !== "string") return refuse(400, "INVALID_SETTING", key, `${key} must be given as text.`);
        const parsed = setting.entry.setting.kind.fromText(raw);
        if (!parsed.ok) return refuse(400, "INVALID_SETTING", key, `${key} ${parsed.problem}.`);
        candidate = parsed.value;
      }
      const checked = checkValue(setting, candidate);
      if (!checked.ok) return refuse(400, "INVALID_SETTING", key, `${checked.problem}.`);
      // The value config.json (or the default) gives already: no override needed.
      writes.set(key, sameValue(checked.value, valueAt(base, setting.entry.path)) ? null : checked.value);
    }
    const updatedBy = actor.kind === "user" ? actor.username : "command line";
    db.transaction((tx) => {
      for (const [key, value] of writes) {
        if (value === null) {
          tx.delete(gatewaySettings).where(eq(gatewaySettings.key, key)).run();
          continue;
        }
        const valueJson = JSON.stringify(value);
        tx.insert(gatewaySettings)
          .values({ key, valueJson, updatedBy, updatedAt: now })
          .onConflictDoUpdate({ target: gatewaySettings.key, set: { valueJson, updatedBy, updatedAt: now } })
          .run();
      }
    });
    layered = load();
    loadedAt = clock();
    return { ok: true as const, changed: [...writes.keys()] };
  }

  return { current: () => fresh().config, describe, change };
}
