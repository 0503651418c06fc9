/**
 * A fresh data directory per test (created before each, removed after each with every database
 * opened in it closed), for unit tests of the stores.
 */
import { afterEach, beforeEach } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyMigrations, openDatabase, type OpenDatabase } from "../../src/db/index.ts";

export interface TempDataDir {
  /** The current test's directory. */
  dir(): string;
  /** Opens the directory's database (migrated unless told otherwise); closed after the test. */
  open(options?: { migrate?: boolean }): OpenDatabase;
}

export function useTempDataDir(prefix: string): TempDataDir {
  let dataDir = "";
  const opened: OpenDatabase[] = [];
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterEach(() => {
    for (const database of opened.splice(0)) database.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return {
    dir: () => dataDir,
    open(options = {}) {
      const database = openDatabase(dataDir);
      if (options.migrate !== false) applyMigrations(database.sqlite);
      opened.push(database);
      return database;
    },
  };
}
