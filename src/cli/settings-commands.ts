// `mss-login settings ...`: the run-time settings of the admin app, from the shell.
//
//   settings list [--json]
//   settings set KEY VALUE      (VALUE as in an environment variable: 30, true, http://...)
//   settings reset KEY          (drop the stored value: config.json or the default applies)
//
// Stored in the database, like a change made in the admin app: a running gateway follows it
// within a few seconds (settings that apply at restart: at its next start). A key that this
// command's environment or flags set is locked here too.
import { EXIT_FAILURE, EXIT_OK, UsageError, type CliIo } from "../main.ts";
import { createGatewaySettings, REFRESH_MS, type SettingView } from "../settings/service.ts";
import { formatTable, openStore, parseArguments, subcommandOf } from "./cli-support.ts";

const SUBCOMMANDS = ["list", "set", "reset"] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

/** How many words follow the subcommand before the flags. */
const POSITIONALS: Readonly<Record<Subcommand, readonly string[]>> = { list: [], set: ["KEY", "VALUE"], reset: ["KEY"] };

function shown(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function table(views: readonly SettingView[]): string {
  const rows = views.map((v) => [v.key, shown(v.value) + (v.unit === undefined ? "" : ` ${v.unit}`), v.source + (v.locked ? " (locked)" : ""), v.applies]);
  return formatTable([["KEY", "VALUE", "SOURCE", "APPLIES"], ...rows]);
}

export async function runSettingsCommand(args: readonly string[], io: CliIo): Promise<number> {
  const subcommand = subcommandOf<Subcommand>("settings", SUBCOMMANDS, args);
  const command = `settings ${subcommand}`;
  const names = POSITIONALS[subcommand];
  const words = args.slice(1, 1 + names.length);
  if (words.length < names.length || words.some((word) => word.startsWith("--"))) {
    throw new UsageError(`${command} needs ${names.join(" ")}`);
  }
  const { options, configArgv } = parseArguments(command, subcommand === "list" ? ["--json"] : [], args.slice(1 + names.length));

  const store = openStore(configArgv, io);
  if (store === null) return EXIT_FAILURE;
  try {
    // openStore's configuration already carries the stored values; the layers need the loaded one.
    const settings = createGatewaySettings({ db: store.database.db, config: store.loadedConfig, sources: store.sources });
    if (subcommand === "list") {
      const views = settings.describe();
      io.stdout(options.has("--json") ? `${JSON.stringify(views, null, 2)}\n` : `${table(views)}\n`);
      return EXIT_OK;
    }
    const [key = ""] = words;
    const outcome =
      subcommand === "set"
        ? settings.change({ values: { [key]: words[1] ?? "" }, text: true }, { kind: "system" })
        : settings.change({ reset: [key] }, { kind: "system" });
    if (!outcome.ok) {
      io.stderr(`error: ${outcome.error}\n`);
      return EXIT_FAILURE;
    }
    const view = settings.describe().find((v) => v.key === key);
    const when = view?.applies === "restart" ? "at the gateway's next start" : `by a running gateway within ${REFRESH_MS / 1000} seconds`;
    io.stdout(`${key} = ${shown(view?.value)} (${view?.source ?? "default"}); applies ${when}\n`);
    return EXIT_OK;
  } finally {
    store.database.close();
  }
}
