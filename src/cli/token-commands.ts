// `mss-login token ...`: API tokens from the shell, for setting up an integration on the machine
// itself. The new token is printed once, on standard output only.
//
//   token create --username U --label L [--hours N] [--scope read,run,admin]
//   token list --username U [--json]
//   token revoke --username U --id ID
import { ApiTokenError, createApiTokenStore, SCOPES } from "../auth/api-tokens.ts";
import { AccountError } from "../auth/users.ts";
import { EXIT_FAILURE, EXIT_OK, type CliIo } from "../main.ts";
import { formatTable, formatTime, openStore, parseArguments, requiredValue, requireUserByName, subcommandOf } from "./cli-support.ts";

const SUBCOMMANDS = ["create", "list", "revoke"] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

const ALLOWED_FLAGS: Readonly<Record<Subcommand, readonly string[]>> = {
  create: ["--username", "--label", "--hours", "--scope"],
  list: ["--username", "--json"],
  revoke: ["--username", "--id"],
};

/** The original's default lifetime for a new token. */
const DEFAULT_HOURS = 720;

export async function runTokenCommand(args: readonly string[], io: CliIo): Promise<number> {
  const subcommand = subcommandOf<Subcommand>("token", SUBCOMMANDS, args);
  const command = `token ${subcommand}`;
  const { options, configArgv } = parseArguments(command, ALLOWED_FLAGS[subcommand], args.slice(1));
  const username = requiredValue(command, options, "--username");
  const hoursText = options.get("--hours");
  // Whole hours only: "" or "0x10" are not hours (and "" must not become 0, "never expires").
  const hours = typeof hoursText === "string" ? (/^\d{1,5}$/.test(hoursText) ? Number(hoursText) : Number.NaN) : DEFAULT_HOURS;
  const scopeText = options.get("--scope");
  const scopes = typeof scopeText === "string" ? scopeText.split(",").map((s) => s.trim()).filter((s) => s !== "") : [...SCOPES];
  const id = subcommand === "revoke" ? requiredValue(command, options, "--id") : "";

  const store = openStore(configArgv, io);
  if (store === null) return EXIT_FAILURE;
  try {
    const user = requireUserByName(store.database, username);
    const tokens = createApiTokenStore(store.database.db);
    switch (subcommand) {
      case "create": {
        const label = requiredValue(command, options, "--label");
        const created = tokens.create({ userId: user.id, label, hours, scopes, allowNonExpiring: user.role === "owner", now: Date.now() });
        io.stderr(`created token ${created.id} for ${user.username} (scopes ${created.scopes.join(", ")}; expires ${formatTime(created.expiresAt)}); it is shown once:\n`);
        io.stdout(`${created.token}\n`);
        return EXIT_OK;
      }
      case "list": {
        const list = tokens.listForUser(user.id);
        if (options.has("--json")) {
          io.stdout(`${JSON.stringify(list.map((t) => ({ ...t, createdAt: new Date(t.createdAt).toISOString() })), null, 2)}\n`);
          return EXIT_OK;
        }
        const rows = list.map((t) => [t.id, t.label, t.scopes.join(","), formatTime(t.createdAt), formatTime(t.expiresAt), formatTime(t.lastUsedAt)]);
        io.stdout(`${formatTable([["ID", "LABEL", "SCOPES", "CREATED", "EXPIRES", "LAST USED"], ...rows])}\n`);
        return EXIT_OK;
      }
      case "revoke":
        if (!tokens.revoke(user.id, id, Date.now())) {
          io.stderr(`error: ${user.username} has no live token ${id}.\n`);
          return EXIT_FAILURE;
        }
        io.stdout(`revoked token ${id}\n`);
        return EXIT_OK;
    }
  } catch (error) {
    if (!(error instanceof AccountError) && !(error instanceof ApiTokenError)) throw error;
    io.stderr(`error: ${error.message}\n`);
    return EXIT_FAILURE;
  } finally {
    store.database.close();
  }
}
