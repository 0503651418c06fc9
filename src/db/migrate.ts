// Applies migrations at start-up (and for `mss-login migrate`).
//
// Bookkeeping uses drizzle's `__drizzle_migrations` layout (hash, created_at = the journal's
// `when`), so drizzle-kit and the gateway agree on what has been applied. Unlike drizzle's
// own migrator, everything happens in ONE `BEGIN IMMEDIATE` transaction, including creating
// the bookkeeping table: if any migration fails, the database is left exactly as it was.
import type { Database } from "bun:sqlite";
import type { Migration } from "./migration.ts";
import { embeddedMigrations } from "./migrations.ts";

export const MIGRATIONS_TABLE = "__drizzle_migrations";

export class MigrationError extends Error {
  override readonly name = "MigrationError";
  /** The migration that failed, or null when the failure is not tied to one. */
  readonly tag: string | null;

  constructor(message: string, tag: string | null, options?: ErrorOptions) {
    super(message, options);
    this.tag = tag;
  }
}

export interface MigrationResult {
  /** Tags applied by this call, oldest first; empty when the database was up to date. */
  readonly applied: readonly string[];
}

export interface MigrationStatus {
  readonly applied: readonly string[];
  readonly pending: readonly string[];
  /** The newest applied migration's tag: the database's schema version. */
  readonly latest: string | null;
}

interface AppliedRow {
  readonly hash: string;
  readonly created_at: number;
}

function tableExists(sqlite: Database, name: string): boolean {
  return (
    sqlite.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1").get(name) !==
    null
  );
}

function readAppliedRows(sqlite: Database): AppliedRow[] {
  if (!tableExists(sqlite, MIGRATIONS_TABLE)) return [];
  return sqlite
    .query(`SELECT hash, CAST(created_at AS INTEGER) AS created_at FROM "${MIGRATIONS_TABLE}" ORDER BY created_at`)
    .all() as AppliedRow[];
}

function byAge(migrations: readonly Migration[]): Migration[] {
  return [...migrations].sort((a, b) => a.createdAt - b.createdAt);
}

/**
 * Refuses a history this binary cannot vouch for: a migration it does not know (usually a
 * newer mss-login ran against this database) or one whose SQL changed after it was applied.
 */
function checkHistory(applied: readonly AppliedRow[], known: readonly Migration[]): void {
  const newestKnown = known.at(-1)?.createdAt ?? 0;
  for (const row of applied) {
    const migration = known.find((m) => m.createdAt === row.created_at);
    if (migration === undefined) {
      const when = new Date(row.created_at).toISOString();
      throw new MigrationError(
        row.created_at > newestKnown
          ? `the database was migrated by a newer mss-login (unknown migration dated ${when}); run that version or newer`
          : `the database records a migration dated ${when} that this mss-login does not know`,
        null,
      );
    }
    if (migration.hash !== row.hash) {
      throw new MigrationError(
        `migration ${migration.tag} was changed after it was applied to this database (hash differs)`,
        migration.tag,
      );
    }
  }
}

function pendingOf(applied: readonly AppliedRow[], known: readonly Migration[]): Migration[] {
  const done = new Set(applied.map((row) => row.created_at));
  return known.filter((m) => !done.has(m.createdAt));
}

/** Read-only view of which migrations are applied and pending. */
export function migrationStatus(
  sqlite: Database,
  migrations: readonly Migration[] = embeddedMigrations(),
): MigrationStatus {
  const known = byAge(migrations);
  const rows = readAppliedRows(sqlite);
  const appliedSet = new Set(rows.map((row) => row.created_at));
  const applied = known.filter((m) => appliedSet.has(m.createdAt)).map((m) => m.tag);
  return {
    applied,
    pending: pendingOf(rows, known).map((m) => m.tag),
    latest: applied.at(-1) ?? null,
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Applies every pending migration, oldest first, in one transaction.
 * `migrations` defaults to the ones embedded in the binary; tests inject their own.
 * Throws MigrationError (after rolling back) naming the migration that failed.
 */
export function applyMigrations(
  sqlite: Database,
  migrations: readonly Migration[] = embeddedMigrations(),
): MigrationResult {
  const known = byAge(migrations);
  // drizzle-kit rebuilds SQLite tables with `PRAGMA foreign_keys=OFF` inside the migration,
  // which is a no-op inside a transaction. So, as SQLite's documentation recommends for
  // schema changes: turn enforcement off outside the transaction, check before committing.
  const foreignKeysWereOn =
    (sqlite.query("PRAGMA foreign_keys").get() as { foreign_keys: number }).foreign_keys === 1;
  sqlite.run("PRAGMA foreign_keys = OFF");
  // Where we are, for the error message (an object: TypeScript does not track `let`s into catch).
  const progress: { migration: Migration | null; statement: number } = { migration: null, statement: 0 };
  try {
    sqlite.run("BEGIN IMMEDIATE");
    try {
      // Inside the transaction, so a failed first run leaves no bookkeeping table behind.
      // INTEGER PRIMARY KEY (drizzle writes `SERIAL`, which SQLite leaves NULL); the columns
      // drizzle reads are the same.
      sqlite.run(
        `CREATE TABLE IF NOT EXISTS "${MIGRATIONS_TABLE}" (id INTEGER PRIMARY KEY, hash text NOT NULL, created_at numeric)`,
      );
      const rows = readAppliedRows(sqlite);
      checkHistory(rows, known);
      const pending = pendingOf(rows, known);
      const record = sqlite.query(
        `INSERT INTO "${MIGRATIONS_TABLE}" (hash, created_at) VALUES (?1, ?2)`,
      );
      for (const migration of pending) {
        progress.migration = migration;
        progress.statement = 0;
        for (const statement of migration.statements) {
          progress.statement++;
          sqlite.run(statement);
          if (!sqlite.inTransaction) {
            // Its earlier statements are already committed: we cannot promise "unchanged".
            throw new MigrationError(
              `migration ${migration.tag} ended the transaction itself at statement ${progress.statement} ` +
                "(COMMIT, END or ROLLBACK in its SQL); the database may be partly migrated",
              migration.tag,
            );
          }
        }
        record.run(migration.hash, migration.createdAt);
      }
      progress.migration = null;
      // Only what the migrations did is ours to judge: nothing pending, nothing to check.
      const violations = pending.length === 0 ? [] : sqlite.query("PRAGMA foreign_key_check").all();
      if (violations.length > 0) {
        throw new MigrationError(
          `migrations would leave ${violations.length} foreign key violation(s); the database was left unchanged`,
          pending.at(-1)?.tag ?? null,
        );
      }
      sqlite.run("COMMIT");
      return { applied: pending.map((m) => m.tag) };
    } catch (error) {
      if (sqlite.inTransaction) sqlite.run("ROLLBACK");
      throw error;
    }
  } catch (error) {
    if (error instanceof MigrationError) throw error;
    const failed = progress.migration;
    if (failed !== null) {
      throw new MigrationError(
        `migration ${failed.tag} failed at statement ${progress.statement}: ${messageOf(error)}; ` +
          "the database was left unchanged",
        failed.tag,
        { cause: error },
      );
    }
    throw new MigrationError(`cannot apply migrations: ${messageOf(error)}`, null, { cause: error });
  } finally {
    if (foreignKeysWereOn) sqlite.run("PRAGMA foreign_keys = ON");
  }
}
