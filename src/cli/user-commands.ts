// `mss-login user ...`: account management from the shell (the operator's way in when no
// owner exists yet, or when the web login is lost).
//
//   user add --username U --role R --password-stdin
//   user passwd --username U --password-stdin
//   user list [--json]
//   user disable --username U    /    user enable --username U
//   user unlock --username U     (lifts a brute-force ban on the account)
//   user reset-mfa --username U  (removes a lost second factor; the owner's way back in)
//   user role --username U --role R  (ownership moves when R is owner)
//
// Passwords come only from standard input: a command-line argument would be visible to every
// local user in `ps` and would land in the shell history. Configuration flags (--data-dir,
// --config, ...) are accepted after the subcommand, as for every other command.
import { passwordSettingsFrom } from "../auth/passwords.ts";
import { accountKey, Regulator } from "../auth/regulation.ts";
import { createApiTokenStore } from "../auth/api-tokens.ts";
import { resetMfa } from "../auth/mfa.ts";
import {
  AccountError,
  changeRole,
  createUser,
  endSessions,
  listUsers,
  ROLES,
  setDisabled,
  setPassword,
  type Role,
} from "../auth/users.ts";
import { EXIT_FAILURE, EXIT_OK, UsageError, type CliIo } from "../main.ts";
import { formatTable, formatTime, openStore, parseArguments, requiredValue, requireUserByName, type ParsedArguments, type Store, subcommandOf } from "./cli-support.ts";

export interface UserCliIo extends CliIo {
  /** All of standard input as text; default: the process's standard input. */
  readStdin?: () => Promise<string>;
}

const SUBCOMMANDS = ["add", "passwd", "list", "disable", "enable", "unlock", "reset-mfa", "role"] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

/** The flags each subcommand takes, besides configuration flags. */
const ALLOWED_FLAGS: Readonly<Record<Subcommand, readonly string[]>> = {
  add: ["--username", "--role", "--password-stdin"],
  passwd: ["--username", "--password-stdin"],
  list: ["--json"],
  disable: ["--username"],
  enable: ["--username"],
  unlock: ["--username"],
  "reset-mfa": ["--username"],
  role: ["--username", "--role"],
};
/** One line from standard input: the trailing line break (from `echo`) is not part of it. */
/**
 * At a terminal, the password is typed without being shown (raw mode, no echo) and ends with
 * Enter; piped input is read to its end as usual.
 */
function readFromTerminalOrPipe(io: UserCliIo): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return Bun.stdin.text();
  io.stderr("Password (not shown): ");
  return new Promise((resolve, reject) => {
    let typed = "";
    const finish = (result: () => void) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.removeListener("data", onData);
      io.stderr("\n");
      result();
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString("utf8")) {
        if (char === "\r" || char === "\n") return finish(() => resolve(typed));
        if (char === "\u0003") return finish(() => reject(new UsageError("cancelled")));
        if (char === "\u007f" || char === "\b") typed = [...typed].slice(0, -1).join("");
        else typed += char;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on("data", onData);
  });
}

async function readPassword(subcommand: Subcommand, io: UserCliIo): Promise<string> {
  const input = await (io.readStdin ?? (() => readFromTerminalOrPipe(io)))();
  const password = input.replace(/\r?\n$/, "");
  if (password === "") throw new UsageError(`user ${subcommand}: standard input is empty; pipe the password in`);
  if (/[\r\n]/.test(password)) {
    throw new UsageError(`user ${subcommand}: standard input holds several lines; give the password on one line`);
  }
  return password;
}

function requiredRole(options: ParsedArguments["options"], command = "user add"): Role {
  const role = requiredValue(command, options, "--role");
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new UsageError(`${command}: --role must be one of ${ROLES.join(", ")} (got ${JSON.stringify(role)})`);
  }
  return role as Role;
}


async function add(options: ParsedArguments["options"], password: string, store: Store, io: UserCliIo) {
  const username = requiredValue("user add", options, "--username");
  const user = await createUser(
    store.database.db,
    { username, password, role: requiredRole(options) },
    passwordSettingsFrom(store.config),
  );
  io.stdout(`created user ${user.username} (${user.role})\n`);
  return EXIT_OK;
}

async function passwd(options: ParsedArguments["options"], password: string, store: Store, io: UserCliIo) {
  const username = requiredValue("user passwd", options, "--username");
  const user = requireUserByName(store.database, username);
  await setPassword(store.database.db, user.id, password, passwordSettingsFrom(store.config));
  // A password reset from the shell is for a lost or leaked account: its tokens go as well.
  const tokens = createApiTokenStore(store.database.db).revokeAllForUser(user.id, Date.now());
  io.stdout(`password changed for ${user.username}; their sessions were ended and ${tokens} API token(s) revoked\n`);
  return EXIT_OK;
}

function list(options: ParsedArguments["options"], store: Store, io: UserCliIo) {
  const users = listUsers(store.database.db);
  if (options.has("--json")) {
    const shown = users.map((u) => ({
      username: u.username,
      role: u.role,
      groups: u.groups,
      disabled: u.disabled,
      sfw_check: u.sfwCheck,
      created_at: new Date(u.createdAt).toISOString(),
      last_login_at: u.lastLoginAt === null ? null : new Date(u.lastLoginAt).toISOString(),
    }));
    io.stdout(`${JSON.stringify(shown, null, 2)}\n`);
    return EXIT_OK;
  }
  if (users.length === 0) {
    io.stdout("no users yet (create the owner with: mss-login user add --role owner ...)\n");
    return EXIT_OK;
  }
  const header = ["USERNAME", "ROLE", "DISABLED", "CREATED", "LAST LOGIN"];
  const rows = users.map((u) => [
    u.username,
    u.role,
    u.disabled ? "yes" : "no",
    formatTime(u.createdAt),
    formatTime(u.lastLoginAt),
  ]);
  io.stdout(`${formatTable([header, ...rows])}\n`);
  return EXIT_OK;
}

function changeDisabled(
  subcommand: "disable" | "enable",
  options: ParsedArguments["options"],
  store: Store,
  io: UserCliIo,
) {
  const user = requireUserByName(store.database, requiredValue(`user ${subcommand}`, options, "--username"));
  setDisabled(store.database.db, user.id, subcommand === "disable");
  io.stdout(
    subcommand === "disable" ? `disabled ${user.username}; their sessions were ended\n` : `enabled ${user.username}\n`,
  );
  return EXIT_OK;
}

/**
 * Runs `user <subcommand> ...`. Usage and configuration errors are thrown (UsageError,
 * ConfigError) for runCli to report with exit code 2; refused account operations print
 * `error: <message>` and give exit code 1.
 */
export async function runUserCommand(args: readonly string[], io: UserCliIo): Promise<number> {
  const subcommand = subcommandOf<Subcommand>("user", SUBCOMMANDS, args);
  const parsed = parseArguments(`user ${subcommand}`, ALLOWED_FLAGS[subcommand], args.slice(1));
  const takesPassword = subcommand === "add" || subcommand === "passwd";
  if (takesPassword && !parsed.options.has("--password-stdin")) {
    throw new UsageError(`user ${subcommand} needs --password-stdin (the password is read from standard input)`);
  }
  // Usage (and standard input) is checked before anything touches the data directory.
  if (subcommand !== "list") requiredValue(`user ${subcommand}`, parsed.options, "--username");
  if (subcommand === "add") requiredRole(parsed.options);
  if (subcommand === "role") requiredRole(parsed.options, "user role");
  const password = takesPassword ? await readPassword(subcommand, io) : "";
  const store = openStore(parsed.configArgv, io);
  if (store === null) return EXIT_FAILURE;
  try {
    switch (subcommand) {
      case "add":
        return await add(parsed.options, password, store, io);
      case "passwd":
        return await passwd(parsed.options, password, store, io);
      case "list":
        return list(parsed.options, store, io);
      case "disable":
      case "enable":
        return changeDisabled(subcommand, parsed.options, store, io);
      case "reset-mfa": {
        const user = requireUserByName(store.database, requiredValue("user reset-mfa", parsed.options, "--username"));
        const removed = resetMfa(store.database.db, user.id);
        endSessions(store.database.db, user.id);
        io.stdout(removed ? `removed the second factor of ${user.username}; their sessions were ended (they enrol again at the next sign-in if their role requires it)\n` : `${user.username} had no second factor\n`);
        return EXIT_OK;
      }
      case "role": {
        const user = requireUserByName(store.database, requiredValue("user role", parsed.options, "--username"));
        const changed = changeRole(store.database.db, { kind: "system" }, user.id, requiredRole(parsed.options, "user role"));
        io.stdout(`${changed.username} is now ${changed.role}; their sessions were ended\n`);
        return EXIT_OK;
      }
      case "unlock": {
        // An owner locked out by strangers' guesses gets back in from the shell.
        const username = requiredValue("user unlock", parsed.options, "--username");
        const lifted = new Regulator(store.database.db).unban(accountKey(username));
        io.stdout(lifted ? `unlocked ${username}\n` : `${username} was not locked\n`);
        return EXIT_OK;
      }
    }
  } catch (error) {
    if (!(error instanceof AccountError)) throw error;
    io.stderr(`error: ${error.message}\n`);
    return EXIT_FAILURE;
  } finally {
    store.database.close();
  }
}
