// `mss-login groups ...`: the permission matrix as the original's `mss_login_groups.json`
// (`{"<role>": {"<key>": true|false}}`), for moving an installation over or keeping a copy.
//
//   groups export [FILE]    the matrix as the gateway applies it (defaults merged, owner row computed)
//   groups import FILE      merge a groups file in (all or nothing; owner entries are ignored)
import { readFileSync, writeFileSync } from "node:fs";
import { createGroupsStore, GroupsError } from "../rbac/groups-store.ts";
import { EXIT_FAILURE, EXIT_OK, UsageError, type CliIo } from "../main.ts";
import { openStore, parseArguments, subcommandOf } from "./cli-support.ts";
import { isAbsolute, resolve } from "node:path";

const SUBCOMMANDS = ["import", "export"] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

/** A groups file is small; anything much bigger is not one. */
const MAX_FILE_BYTES = 4 * 1024 * 1024;

export async function runGroupsCommand(args: readonly string[], io: CliIo): Promise<number> {
  const subcommand = subcommandOf<Subcommand>("groups", SUBCOMMANDS, args);
  const command = `groups ${subcommand}`;
  const fileArg = args[1] !== undefined && !args[1].startsWith("--") ? args[1] : undefined;
  const { configArgv } = parseArguments(command, [], args.slice(fileArg === undefined ? 1 : 2));
  if (subcommand === "import" && fileArg === undefined) throw new UsageError("groups import needs a FILE (the original's mss_login_groups.json shape)");
  const file = fileArg === undefined ? undefined : isAbsolute(fileArg) ? fileArg : resolve(io.cwd, fileArg);

  let document: unknown;
  if (subcommand === "import") {
    try {
      const text = readFileSync(file!, "utf8");
      if (text.length > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
      document = JSON.parse(text);
    } catch (error) {
      io.stderr(`error: cannot read ${fileArg}: ${error instanceof Error ? error.message : String(error)}\n`);
      return EXIT_FAILURE;
    }
    // Also accept the API's `{groups: {...}}` wrapper.
    if (typeof document === "object" && document !== null && "groups" in document && Object.keys(document).length === 1) document = (document as { groups: unknown }).groups;
  }

  const store = openStore(configArgv, io);
  if (store === null) return EXIT_FAILURE;
  try {
    const groups = createGroupsStore(store.database.db);
    if (subcommand === "export") {
      const text = `${JSON.stringify(groups.view(), null, 2)}\n`;
      if (file === undefined) io.stdout(text);
      else {
        writeFileSync(file, text);
        io.stderr(`wrote the permission matrix to ${fileArg}\n`);
      }
      return EXIT_OK;
    }
    const written = groups.update(document, { callerIsOwner: true });
    const ignoredOwner = typeof document === "object" && document !== null && "owner" in document;
    io.stdout(`imported ${written} permission values from ${fileArg}${ignoredOwner ? " (the owner row is computed, so its entries were ignored)" : ""}\n`);
    return EXIT_OK;
  } catch (error) {
    if (!(error instanceof GroupsError)) throw error;
    io.stderr(`error: ${error.message} Nothing was imported.\n`);
    return EXIT_FAILURE;
  } finally {
    store.database.close();
  }
}
