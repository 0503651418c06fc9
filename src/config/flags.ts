// Command-line flags that set configuration: `--port 9000` or `--port=9000`.
import { closestMatch, ConfigError } from "./errors.ts";
import { CONFIG_FILE_FLAG, DATA_DIR_FLAG, SETTINGS } from "./schema.ts";

export const COMMAND_LINE = "command line";

/** Every flag that loadConfig understands. */
export const CONFIG_FLAGS: readonly string[] = Object.freeze([
  DATA_DIR_FLAG,
  CONFIG_FILE_FLAG,
  ...SETTINGS.flatMap((entry) => (entry.setting.flag === null ? [] : [entry.setting.flag])),
]);

/** Flag name -> value; a flag given twice keeps its last value. */
export function parseConfigFlags(argv: readonly string[]): ReadonlyMap<string, string> {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (!arg.startsWith("--")) {
      throw new ConfigError(COMMAND_LINE, `unexpected argument ${JSON.stringify(arg)}`);
    }
    const equals = arg.indexOf("=");
    const name = equals < 0 ? arg : arg.slice(0, equals);
    if (!CONFIG_FLAGS.includes(name)) {
      const guess = closestMatch(name, CONFIG_FLAGS);
      throw new ConfigError(COMMAND_LINE, `unknown flag ${name}${guess ? ` (did you mean ${guess}?)` : ""}`);
    }
    let value: string | undefined;
    if (equals >= 0) {
      value = arg.slice(equals + 1);
    } else {
      value = argv[i + 1];
      if (value === undefined || value.startsWith("--")) {
        throw new ConfigError(COMMAND_LINE, `flag ${name} needs a value`);
      }
      i++;
    }
    values.set(name, value);
  }
  return values;
}
