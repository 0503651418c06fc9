// Public surface of the configuration module.
export { ensureDataDir } from "./data-dir.ts";
export { ConfigError } from "./errors.ts";
export { CONFIG_FLAGS, parseConfigFlags } from "./flags.ts";
export { formatIp, parseIp, parseIpRange } from "./ip.ts";
export type { IpAddress, IpRange, IpRangeResult } from "./ip.ts";
export { configSources, describeSource, loadConfig } from "./load.ts";
export type { ConfigSource, LoadConfigOptions, LoadedConfig } from "./load.ts";
export { describeSettings, redactedConfig, redactedSources } from "./print.ts";
export {
  CONFIG_FILE_ENV,
  CONFIG_FILE_NAME,
  CONFIG_SCHEMA,
  DATA_DIR_ENV,
  DEFAULT_DATA_DIR,
  SETTINGS,
} from "./schema.ts";
export type { Config, SettingEntry } from "./schema.ts";
