// The shape of one migration, and how drizzle-kit's output becomes one.
//
// Kept free of bun:sqlite so tests and tools can build migrations without a database.
import { createHash } from "node:crypto";

/** drizzle-kit's separator between statements in a generated .sql file. */
const STATEMENT_BREAKPOINT = "--> statement-breakpoint";

export interface Migration {
  /** File name without `.sql`, e.g. `0000_init`. Used in messages. */
  readonly tag: string;
  /** The journal's `when` (ms). Recorded as `created_at`; identifies the migration in the db. */
  readonly createdAt: number;
  /** sha256 (hex) of the whole SQL text, computed exactly as drizzle's own migrator does. */
  readonly hash: string;
  /** The SQL split at drizzle-kit's breakpoints, blank pieces dropped. */
  readonly statements: readonly string[];
}

/** The parts of drizzle-kit's `meta/_journal.json` that matter here. */
export interface MigrationJournal {
  readonly entries: readonly { readonly tag: string; readonly when: number }[];
}

export function migrationFromSql(tag: string, createdAt: number, sqlText: string): Migration {
  return {
    tag,
    createdAt,
    hash: createHash("sha256").update(sqlText).digest("hex"),
    statements: sqlText
      .split(STATEMENT_BREAKPOINT)
      .map((statement) => statement.trim())
      .filter((statement) => statement.length > 0),
  };
}

/**
 * Pairs each journal entry with its SQL text. Throws if the journal names a migration whose
 * SQL was not embedded: shipping a binary that silently skips a migration is worse than
 * refusing to start.
 */
export function buildMigrations(
  journal: MigrationJournal,
  sqlByTag: Readonly<Record<string, string>>,
): Migration[] {
  return journal.entries.map((entry) => {
    const sqlText = sqlByTag[entry.tag];
    if (sqlText === undefined) {
      throw new Error(
        `migration ${entry.tag} is in drizzle/meta/_journal.json but not embedded in src/db/migrations.ts`,
      );
    }
    return migrationFromSql(entry.tag, entry.when, sqlText);
  });
}
