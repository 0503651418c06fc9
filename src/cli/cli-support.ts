// Helpers shared by the command groups that manage accounts and credentials (`user`, `token`).
import { AccountError, getUserByUsername, type User } from "../auth/users.ts";
import { CONFIG_FLAGS, ensureDataDir, loadConfig, type Config, type LoadedConfig } from "../config/index.ts";
import { createGatewaySettings } from "../settings/service.ts";
import type { OpenDatabase } from "../db/index.ts";
import { openAndMigrate, UsageError, type CliIo } from "../main.ts";

/** Flags that take no value. */
const SWITCHES = new Set(["--password-stdin", "--json"]);

export interface ParsedArguments {
  readonly options: ReadonlyMap<string, string | true>;
  /** Configuration flags, passed on to loadConfig as written. */
  readonly configArgv: readonly string[];
}

/** Parses `--name value` / `--name=value` flags of one subcommand (`command` is e.g. "user add"). */
export function parseArguments(command: string, allowed: readonly string[], args: readonly string[]): ParsedArguments {
  const options = new Map<string, string | true>();
  const configArgv: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (!arg.startsWith("--")) throw new UsageError(`${command}: unexpected argument ${JSON.stringify(arg)}`);
    const equals = arg.indexOf("=");
    const name = equals < 0 ? arg : arg.slice(0, equals);
    if (CONFIG_FLAGS.includes(name)) {
      configArgv.push(arg);
      if (equals < 0 && args[i + 1] !== undefined) configArgv.push(args[++i] ?? "");
      continue;
    }
    if (!allowed.includes(name)) {
      const takes = allowed.length > 0 ? `; it takes ${allowed.join(", ")}` : "";
      if (name === "--password") {
        throw new UsageError(`${command}: passwords are never taken from the command line; use --password-stdin`);
      }
      throw new UsageError(`${command}: unknown flag ${name}${takes}`);
    }
    if (SWITCHES.has(name)) {
      if (equals >= 0) throw new UsageError(`${command}: ${name} takes no value`);
      options.set(name, true);
      continue;
    }
    const value = equals >= 0 ? arg.slice(equals + 1) : args[++i];
    if (value === undefined || (equals < 0 && value.startsWith("--"))) {
      throw new UsageError(`${command}: ${name} needs a value`);
    }
    options.set(name, value);
  }
  return { options, configArgv };
}

/** The subcommand of a command group (`user add` → "add"), or a usage error naming the choices. */
export function subcommandOf<T extends string>(group: string, subcommands: readonly T[], args: readonly string[]): T {
  const first = args[0];
  if (first === undefined || !(subcommands as readonly string[]).includes(first)) {
    const got = first === undefined ? "none" : JSON.stringify(first);
    throw new UsageError(`${group} needs a subcommand: ${subcommands.join(", ")} (got ${got})`);
  }
  return first as T;
}

export function requiredValue(command: string, options: ParsedArguments["options"], name: string): string {
  const value = options.get(name);
  if (typeof value !== "string" || value === "") throw new UsageError(`${command} needs ${name}`);
  return value;
}

export type Store = {
  /** The configuration in force: the stored run-time settings (`mss-login settings`) included. */
  readonly config: Config;
  /** As loaded from defaults, config.json, env and flags, and where each value came from. */
  readonly loadedConfig: Config;
  readonly sources: LoadedConfig["sources"];
  readonly database: OpenDatabase;
};

/** Loads the configuration and opens the migrated database; null (message printed) on failure. */
export function openStore(configArgv: readonly string[], io: CliIo): Store | null {
  const { config, sources, warnings } = loadConfig({ argv: configArgv, env: io.env, cwd: io.cwd });
  const dataDir = ensureDataDir(config.data_dir);
  for (const warning of [...warnings, ...dataDir.warnings]) io.stderr(`warning: ${warning}\n`);
  const opened = openAndMigrate(config.data_dir, io);
  if (opened === null) return null;
  const effective = createGatewaySettings({ db: opened.database.db, config, sources }).current();
  return { config: effective, loadedConfig: config, sources, database: opened.database };
}

export function requireUserByName(database: OpenDatabase, username: string): User {
  const user = getUserByUsername(database.db, username);
  if (user === null) throw new AccountError("USER_NOT_FOUND", `No user named "${username}".`);
  return user;
}

export function formatTime(ms: number | null): string {
  if (ms === null) return "never";
  return new Date(ms).toISOString().slice(0, 16).replace("T", " ") + "Z";
}

export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd()).join("\n");
}

