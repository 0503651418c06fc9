// `mss-login audit verify`: proves the audit log's hash chain is intact, or names the first
// entry where it breaks (an edited, deleted or inserted row). Exit 0 when intact, 1 otherwise.
import { createAuditLog } from "../audit/log.ts";
import { EXIT_FAILURE, EXIT_OK, type CliIo } from "../main.ts";
import { openStore, parseArguments, subcommandOf } from "./cli-support.ts";

const SUBCOMMANDS = ["verify"] as const;

export async function runAuditCommand(args: readonly string[], io: CliIo): Promise<number> {
  const subcommand = subcommandOf("audit", SUBCOMMANDS, args);
  const { configArgv } = parseArguments(`audit ${subcommand}`, [], args.slice(1));
  const store = openStore(configArgv, io);
  if (store === null) return EXIT_FAILURE;
  try {
    const result = createAuditLog(store.database.db).verify();
    if (result.ok) {
      io.stdout(`audit log intact: ${result.rows} entries verified${result.from > 1 ? ` (from entry ${result.from}; older ones were pruned)` : ""}; head hash ${result.head}\n`);
      return EXIT_OK;
    }
    io.stderr(`audit log BROKEN at entry ${result.brokenId}: ${result.problem} (${result.rows} entries before it verified)\n`);
    return EXIT_FAILURE;
  } finally {
    store.database.close();
  }
}
