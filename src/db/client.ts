// Opens the gateway's SQLite database through drizzle.
//
// Everything outside src/db talks to storage through `OpenDatabase` and small typed
// functions (see ./meta.ts), so that a PostgreSQL client can later stand behind the same
// functions without touching callers.
import { Database } from "bun:sqlite";
import { chmodSync, closeSync, existsSync, openSync } from "node:fs";
import { join } from "node:path";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import * as schema from "./schema.ts";

export const DATABASE_FILE_NAME = "mss-login.db";
/** How long a writer waits for another connection's lock before SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;

/** The typed drizzle handle over the whole schema. */
export type Db = BunSQLiteDatabase<typeof schema>;

export interface OpenDatabase {
  readonly db: Db;
  /** The raw connection, for migrations, pragmas and health checks. */
  readonly sqlite: Database;
  /** Absolute path of the database file. */
  readonly path: string;
  /** Closes the connection (checkpointing the WAL). Safe to call twice. */
  close(): void;
}

export class DatabaseOpenError extends Error {
  override readonly name = "DatabaseOpenError";
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Opens (creating if needed) `<dataDir>/mss-login.db` with WAL, foreign keys and a busy
 * timeout. Does not apply migrations: call applyMigrations(database.sqlite) next.
 */
export function openDatabase(dataDir: string, options: { fileName?: string } = {}): OpenDatabase {
  const path = join(dataDir, options.fileName ?? DATABASE_FILE_NAME);
  let sqlite: Database | undefined;
  try {
    // Create the file ourselves so it is owner-only; SQLite gives the -wal and -shm files
    // the same permissions as the database file.
    closeSync(openSync(path, "a", 0o600));
    // An existing file keeps its mode otherwise: the database holds hashes and sessions.
    for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, 0o600);
    sqlite = new Database(path, { create: true, strict: true });
    sqlite.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const { journal_mode: journalMode } = sqlite.query("PRAGMA journal_mode = WAL").get() as {
      journal_mode: string;
    };
    if (journalMode.toLowerCase() !== "wal") {
      throw new Error(`the file system does not support WAL mode (journal_mode is ${journalMode})`);
    }
    // WAL makes NORMAL durable against application crashes; only a power loss may lose the
    // last transactions, never corrupt the file.
    sqlite.run("PRAGMA synchronous = NORMAL");
    sqlite.run("PRAGMA foreign_keys = ON");
  } catch (error) {
    sqlite?.close();
    throw new DatabaseOpenError(`cannot open database ${path}: ${messageOf(error)}`, {
      cause: error,
    });
  }
  const connection = sqlite;
  let closed = false;
  return {
    db: drizzle({ client: connection, schema }),
    sqlite: connection,
    path,
    close() {
      if (closed) return;
      closed = true;
      connection.close();
    },
  };
}
