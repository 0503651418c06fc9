// Public surface of the storage module.
export { BUSY_TIMEOUT_MS, DATABASE_FILE_NAME, DatabaseOpenError, openDatabase } from "./client.ts";
export type { Db, OpenDatabase } from "./client.ts";
export { ensureInstanceId, getMeta, META_KEYS, setMeta } from "./meta.ts";
export { applyMigrations, MigrationError, migrationStatus, MIGRATIONS_TABLE } from "./migrate.ts";
export type { MigrationResult, MigrationStatus } from "./migrate.ts";
export { buildMigrations, migrationFromSql } from "./migration.ts";
export type { Migration, MigrationJournal } from "./migration.ts";
export { embeddedMigrations } from "./migrations.ts";
