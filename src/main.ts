// The `mss-login` command line: serve (default), migrate, user, token, groups, policy, config print, version, help.
//
// Exit codes: 0 success; 1 a run-time failure (database, migration, port in use); 2 a usage
// or configuration error. Every failure is one line on standard error.
import type { RunningGateway } from "./app.ts";
import {
  ConfigError,
  describeSettings,
  ensureDataDir,
  loadConfig,
  redactedConfig,
  redactedSources,
  type LoadedConfig,
} from "./config/index.ts";
import {
  applyMigrations,
  DatabaseOpenError,
  ensureInstanceId,
  MigrationError,
  migrationStatus,
  openDatabase,
  type OpenDatabase,
} from "./db/index.ts";
import { createLogger } from "./log.ts";
import { PRODUCT_NAME, VERSION, versionLine } from "./version.ts";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** How long `serve` waits for in-flight work after SIGINT/SIGTERM before giving up. */
const STOP_GRACE_MS = 10_000;

/** Everything the CLI touches from the outside world, passed in so it can be tested. */
export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  stdout(text: string): void;
  stderr(text: string): void;
}

const HELP = `${PRODUCT_NAME} ${VERSION}: security gateway for ComfyUI

Usage:
  ${PRODUCT_NAME} [serve] [flags]        start the gateway (the default command)
  ${PRODUCT_NAME} migrate [flags]        apply pending database migrations, then exit
  ${PRODUCT_NAME} user add --username U --role owner|admin|power|user|guest --password-stdin
  ${PRODUCT_NAME} user passwd --username U --password-stdin
  ${PRODUCT_NAME} user list [--json]
  ${PRODUCT_NAME} user disable|enable|unlock|reset-mfa --username U   |   user role --username U --role R
  ${PRODUCT_NAME} token create --username U --label L [--hours N] [--scope read,run,admin]
  ${PRODUCT_NAME} token list --username U [--json]   |   token revoke --username U --id ID
                                  manage accounts (the password is read from standard input,
                                  never from the command line)
  ${PRODUCT_NAME} groups export [FILE]   |   groups import FILE   (the original's mss_login_groups.json)
  ${PRODUCT_NAME} audit verify            proves the audit log's hash chain intact, or names the first broken entry
  ${PRODUCT_NAME} settings list [--json]   |   settings set KEY VALUE   |   settings reset KEY
                                  the settings an administrator can change at run time (also in
                                  the admin web app); env and flags still win over them
  ${PRODUCT_NAME} policy explain --role owner|admin|power|user|guest|anonymous METHOD PATH
  ${PRODUCT_NAME} policy list
                                  how the gateway decides on one request; the whole route
                                  permission table
  ${PRODUCT_NAME} config print [flags] [--sources]
                                  print the effective configuration (secrets redacted);
                                  --sources shows where each value came from
  ${PRODUCT_NAME} version                print the version
  ${PRODUCT_NAME} help [config]          this help, or every configuration setting

Flags (all commands that read the configuration):
  --data-dir DIR     data directory (default ./data; env MSS_LOGIN_DATA_DIR)
  --config FILE      config file (default DIR/config.json; env MSS_LOGIN_CONFIG)
  --host H           listen.host          --port N          listen.port
  --upstream URL     upstream.url         --log-level L     log.level

Configuration precedence: defaults < config.json < stored settings (admin app, "settings set") < MSS_LOGIN_* environment variables < flags.
Exit codes: 0 ok, 1 failure, 2 usage or configuration error.
`;

/** A command line that cannot be run as written (exit code 2). */
export class UsageError extends Error {}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isHelpFlag(arg: string): boolean {
  return arg === "--help" || arg === "-h";
}

function load(flags: readonly string[], io: CliIo): LoadedConfig {
  return loadConfig({ argv: flags, env: io.env, cwd: io.cwd });
}

function configPrint(flags: readonly string[], io: CliIo): number {
  const withSources = flags.includes("--sources");
  const loaded = load(flags.filter((flag) => flag !== "--sources"), io);
  const shown = withSources ? redactedSources(loaded) : redactedConfig(loaded.config);
  io.stdout(`${JSON.stringify(shown, null, 2)}\n`);
  return EXIT_OK;
}

/** Opens the database and applies migrations; on failure prints one line and returns null. */
export function openAndMigrate(
  dataDir: string,
  io: CliIo,
): { database: OpenDatabase; applied: readonly string[] } | null {
  let database: OpenDatabase;
  try {
    database = openDatabase(dataDir);
  } catch (error) {
    io.stderr(`database error: ${messageOf(error)}\n`);
    return null;
  }
  try {
    return { database, applied: applyMigrations(database.sqlite).applied };
  } catch (error) {
    database.close();
    io.stderr(`${error instanceof MigrationError ? "migration error" : "database error"}: ${messageOf(error)}\n`);
    return null;
  }
}

function migrate(flags: readonly string[], io: CliIo): number {
  const { config, warnings } = load(flags, io);
  const dataDir = ensureDataDir(config.data_dir);
  for (const warning of [...warnings, ...dataDir.warnings]) io.stderr(`warning: ${warning}\n`);
  const opened = openAndMigrate(config.data_dir, io);
  if (opened === null) return EXIT_FAILURE;
  const { database, applied } = opened;
  try {
    for (const tag of applied) io.stdout(`applied ${tag}\n`);
    const { latest } = migrationStatus(database.sqlite);
    io.stdout(
      applied.length === 0
        ? `${database.path}: up to date (schema ${latest ?? "empty"})\n`
        : `${database.path}: ${applied.length} migration(s) applied (schema ${latest ?? "empty"})\n`,
    );
  } finally {
    database.close();
  }
  return EXIT_OK;
}

function describeListenError(error: unknown, host: string, port: number): string {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  const message = messageOf(error);
  if (code === "EADDRINUSE" || /EADDRINUSE|in use/i.test(message)) {
    return `cannot listen on ${host}:${port}: the address is already in use`;
  }
  if (code === "EACCES") return `cannot listen on ${host}:${port}: permission denied`;
  return `cannot start the gateway on ${host}:${port}: ${message}`;
}

/** Resolves with the first SIGINT/SIGTERM; a second one ends the process at once. */
function waitForStopSignal(onSecond: () => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const handler = (signal: NodeJS.Signals) => {
      if (received) return onSecond();
      received = true;
      resolve(signal);
    };
    process.on("SIGINT", handler);
    process.on("SIGTERM", handler);
  });
}

async function serve(flags: readonly string[], io: CliIo): Promise<number> {
  const loaded = load(flags, io);
  const { config } = loaded;
  const dataDir = ensureDataDir(config.data_dir);
  const log = createLogger(config.log.level);
  for (const warning of [...loaded.warnings, ...dataDir.warnings]) log.warn(warning);
  log.info("starting", { version: VERSION, data_dir: config.data_dir, config_file: loaded.configFile ?? "none" });

  const opened = openAndMigrate(config.data_dir, io);
  if (opened === null) return EXIT_FAILURE;
  const { database, applied } = opened;
  if (applied.length > 0) log.info("database migrated", { applied: applied.join(",") });
  log.info("database ready", { path: database.path, instance_id: ensureInstanceId(database.db) });

  let gateway: RunningGateway;
  try {
    // Loaded only here, so that `version`, `migrate` and `config` do not load the web stack.
    const { startGateway } = await import("./app.ts");
    gateway = await startGateway({ config, database, log });
  } catch (error) {
    database.close();
    // Only a failure to take the address is described as one (app.ts wraps it as ListenError).
    const listenFailure = error instanceof Error && error.name === "ListenError";
    const message = listenFailure ? describeListenError(error.cause, config.listen.host, config.listen.port) : `cannot start the gateway: ${messageOf(error)}`;
    io.stderr(`error: ${message}\n`);
    return EXIT_FAILURE;
  }

  const signal = await waitForStopSignal(() => {
    log.warn("second stop signal: exiting without waiting");
    process.exit(EXIT_FAILURE);
  });
  log.info("stopping", { signal });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stopped = await Promise.race([
    gateway.stop().then(() => true),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), STOP_GRACE_MS))),
  ]);
  clearTimeout(timer);
  database.close();
  if (!stopped) {
    log.error("gateway did not stop in time", { grace_ms: STOP_GRACE_MS });
    return EXIT_FAILURE;
  }
  log.info("stopped");
  return EXIT_OK;
}

function noArguments(command: string, rest: readonly string[]): void {
  if (rest.length > 0) throw new UsageError(`${command} takes no arguments (got ${JSON.stringify(rest[0])})`);
}

/** Runs one command line (without the program name) and returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const first = argv[0];
  // A leading flag (or nothing) means the default command, except the flags that are commands.
  const isCommandFlag = first !== undefined && (isHelpFlag(first) || first === "--version");
  const command = first === undefined || (first.startsWith("-") && !isCommandFlag) ? "serve" : first;
  const rest = command === first ? argv.slice(1) : argv;
  try {
    if (isHelpFlag(command) || command === "help" || rest.some(isHelpFlag)) {
      if (command === "help" && rest[0] === "config") {
        io.stdout(`Configuration settings (key = default):\n${describeSettings()}\n`);
        return EXIT_OK;
      }
      io.stdout(HELP);
      return EXIT_OK;
    }
    switch (command) {
      case "serve":
        return await serve(rest, io);
      case "migrate":
        return migrate(rest, io);
      case "user": {
        // Loaded on demand, like the web stack: other commands skip the password list.
        const { runUserCommand } = await import("./cli/user-commands.ts");
        return await runUserCommand(rest, io);
      }
      case "token": {
        const { runTokenCommand } = await import("./cli/token-commands.ts");
        return await runTokenCommand(rest, io);
      }
      case "groups": {
        const { runGroupsCommand } = await import("./cli/groups-commands.ts");
        return await runGroupsCommand(rest, io);
      }
      case "policy": {
        const { runPolicyCommand } = await import("./cli/policy-commands.ts");
        return await runPolicyCommand(rest, io);
      }
      case "settings": {
        const { runSettingsCommand } = await import("./cli/settings-commands.ts");
        return await runSettingsCommand(rest, io);
      }
      case "audit": {
        const { runAuditCommand } = await import("./cli/audit-commands.ts");
        return await runAuditCommand(rest, io);
      }
      case "config":
        if (rest[0] !== "print") {
          const got = rest[0] === undefined ? "none" : JSON.stringify(rest[0]);
          throw new UsageError(`config needs a subcommand: print (got ${got})`);
        }
        return configPrint(rest.slice(1), io);
      case "version":
      case "--version":
        noArguments(command, rest);
        io.stdout(`${versionLine()}\n`);
        return EXIT_OK;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)} (see "${PRODUCT_NAME} help")`);
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`config error: ${error.message}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof UsageError) {
      io.stderr(`error: ${error.message}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof DatabaseOpenError || error instanceof MigrationError) {
      io.stderr(`database error: ${error.message}\n`);
      return EXIT_FAILURE;
    }
    io.stderr(`error: ${messageOf(error)}\n`);
    return EXIT_FAILURE;
  }
}

if (import.meta.main) {
  const code = await runCli(Bun.argv.slice(2), {
    env: process.env,
    cwd: process.cwd(),
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
  });
  // Explicit exit: after `serve`, lingering upstream keep-alive sockets must not hold us up.
  process.exit(code);
}
