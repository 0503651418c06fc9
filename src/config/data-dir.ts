// The data directory holds the database and config.json: created owner-only when missing.
import { mkdirSync, statSync } from "node:fs";
import { ConfigError } from "./errors.ts";

function reason(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === "string" ? `${code === "EACCES" ? "permission denied" : message} (${code})` : message;
}

/**
 * Creates `dir` (mode 0700) if missing. Throws ConfigError if it cannot be created or is not
 * a directory; returns warnings, e.g. when an existing directory is open to other users.
 */
export function ensureDataDir(dir: string): { warnings: readonly string[] } {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    if ((error as { code?: unknown }).code !== "EEXIST") {
      throw new ConfigError(dir, `cannot create the data directory: ${reason(error)}`, "data_dir", { cause: error });
    }
  }
  const stat = statSync(dir);
  if (!stat.isDirectory()) throw new ConfigError(dir, "the data directory path is not a directory", "data_dir");
  const mode = stat.mode & 0o777;
  const warnings =
    (mode & 0o077) !== 0
      ? [`data directory ${dir} is open to other users (mode ${mode.toString(8).padStart(4, "0")}); chmod 700 it`]
      : [];
  return { warnings };
}
