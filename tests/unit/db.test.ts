import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { drizzle } from "drizzle-orm/bun-sqlite";
import { migrate as drizzleMigrate } from "drizzle-orm/bun-sqlite/migrator";
import { applyMigrations, BUSY_TIMEOUT_MS, DatabaseOpenError, embeddedMigrations, ensureInstanceId, getMeta, MigrationError, migrationFromSql, migrationStatus, MIGRATIONS_TABLE, openDatabase, setMeta, type Migration, type OpenDatabase } from "../../src/db/index.ts";
import { useTempDataDir } from "../support/temp-database.ts";

const DRIZZLE_DIR = join(import.meta.dir, "../../drizzle");

const temp = useTempDataDir("mss-db-");
const open = (): OpenDatabase => temp.open({ migrate: false });

/** Everything in the schema plus every row of the bookkeeping table: "the database as it was". */
function snapshot(sqlite: Database): unknown {
  const objects = sqlite.query("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").all();
  const hasTable = objects.some((o) => (o as { name: string }).name === MIGRATIONS_TABLE);
  const rows = hasTable ? sqlite.query(`SELECT * FROM "${MIGRATIONS_TABLE}" ORDER BY created_at`).all() : null;
  return { objects, rows };
}

function foreignKeysOn(sqlite: Database): boolean {
  return (sqlite.query("PRAGMA foreign_keys").get() as { foreign_keys: number }).foreign_keys === 1;
}

// Test migrations live far in the future so they sort after every real one.
const FUTURE = 4_102_444_800_000; // 2100-01-01
const addUsers = migrationFromSql(
  "9001_users",
  FUTURE + 1,
  "CREATE TABLE `t_users` (`id` integer PRIMARY KEY);\n--> statement-breakpoint\nINSERT INTO `t_users` VALUES (1);",
);
const addPosts = migrationFromSql(
  "9002_posts",
  FUTURE + 2,
  "CREATE TABLE `t_posts` (`id` integer PRIMARY KEY, `user_id` integer NOT NULL REFERENCES `t_users`(`id`));",
);
const broken = migrationFromSql(
  "9003_broken",
  FUTURE + 3,
  "CREATE TABLE `t_half_done` (`id` integer);\n--> statement-breakpoint\nALTER TABLE `no_such_table` ADD `x` integer;",
);

describe("openDatabase", () => {
  test("WAL, foreign keys, busy timeout; owner-only file at <data-dir>/mss-login.db", () => {
    const { sqlite, path } = open();
    expect(path).toBe(join(temp.dir(), "mss-login.db"));
    expect(sqlite.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    expect(foreignKeysOn(sqlite)).toBe(true);
    expect(sqlite.query("PRAGMA busy_timeout").get()).toEqual({ timeout: BUSY_TIMEOUT_MS });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  test("foreign keys are enforced", () => {
    const { sqlite } = open();
    applyMigrations(sqlite, [addUsers, addPosts]);
    expect(() => sqlite.run("INSERT INTO t_posts VALUES (1, 42)")).toThrow(/FOREIGN KEY/);
  });

  test("a missing directory or a file that is not a database is one clear error", () => {
    const missing = join(temp.dir(), "nope");
    expect(() => openDatabase(missing)).toThrow(DatabaseOpenError);
    expect(() => openDatabase(missing)).toThrow(`cannot open database ${join(missing, "mss-login.db")}: `);
    writeFileSync(join(temp.dir(), "mss-login.db"), "this is not an SQLite database, just some text ".repeat(20));
    expect(() => openDatabase(temp.dir())).toThrow(`cannot open database ${join(temp.dir(), "mss-login.db")}: file is not a database`);
  });

  test("close is idempotent", () => {
    const database = openDatabase(temp.dir());
    database.close();
    database.close();
    expect(() => database.sqlite.query("SELECT 1").get()).toThrow();
  });
});

describe("applyMigrations with the embedded migrations", () => {
  test("applies all once, then is up to date", () => {
    const { sqlite } = open();
    const all = embeddedMigrations().map((m) => m.tag);
    expect(all.length).toBeGreaterThan(0);
    expect(applyMigrations(sqlite).applied).toEqual(all);
    expect(applyMigrations(sqlite).applied).toEqual([]);
    expect(migrationStatus(sqlite)).toEqual({ applied: all, pending: [], latest: all.at(-1) ?? null });
    const tables = sqlite.query("SELECT name FROM sqlite_master WHERE type = 'table'").all();
    expect(tables).toContainEqual({ name: "app_meta" });
    expect(foreignKeysOn(sqlite)).toBe(true);
  });

  test("records hash and created_at exactly as drizzle does", () => {
    const { sqlite } = open();
    applyMigrations(sqlite);
    const journal = JSON.parse(readFileSync(join(DRIZZLE_DIR, "meta/_journal.json"), "utf8")) as {
      entries: { tag: string; when: number }[];
    };
    const expected = journal.entries.map((entry) => ({
      hash: createHash("sha256").update(readFileSync(join(DRIZZLE_DIR, `${entry.tag}.sql`))).digest("hex"),
      created_at: entry.when,
    }));
    expect(sqlite.query(`SELECT hash, created_at FROM "${MIGRATIONS_TABLE}" ORDER BY created_at`).all()).toEqual(expected);
  });

  test("agrees with drizzle's own migrator in both directions", () => {
    // Ours first: drizzle's migrator then finds nothing to do.
    const ours = open();
    applyMigrations(ours.sqlite);
    const before = snapshot(ours.sqlite);
    drizzleMigrate(ours.db, { migrationsFolder: DRIZZLE_DIR });
    expect(snapshot(ours.sqlite)).toEqual(before);

    // Drizzle's first (as `drizzle-kit migrate` would): ours then finds nothing to do.
    const other = new Database(join(temp.dir(), "drizzle-first.db"));
    drizzleMigrate(drizzle({ client: other }), { migrationsFolder: DRIZZLE_DIR });
    expect(applyMigrations(other).applied).toEqual([]);
    other.close();
  });
});

describe("applyMigrations failure leaves the database exactly as it was", () => {
  test("on a fresh database: no tables, not even the bookkeeping table", () => {
    const { sqlite } = open();
    const before = snapshot(sqlite);
    let caught: unknown;
    try {
      applyMigrations(sqlite, [addUsers, addPosts, broken]);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(MigrationError);
    expect((caught as MigrationError).tag).toBe("9003_broken");
    expect((caught as MigrationError).message).toBe(
      "migration 9003_broken failed at statement 2: no such table: no_such_table; the database was left unchanged",
    );
    expect(snapshot(sqlite)).toEqual(before);
    expect(sqlite.inTransaction).toBe(false);
    expect(foreignKeysOn(sqlite)).toBe(true);
  });

  test("on a migrated database: earlier pending migrations and their rows are rolled back too", () => {
    const { sqlite } = open();
    applyMigrations(sqlite);
    const before = snapshot(sqlite);
    expect(() => applyMigrations(sqlite, [...embeddedMigrations(), addUsers, broken])).toThrow(MigrationError);
    expect(snapshot(sqlite)).toEqual(before);
    // ...and the database still works and can be migrated once the bad migration is fixed.
    expect(applyMigrations(sqlite, [...embeddedMigrations(), addUsers]).applied).toEqual(["9001_users"]);
    expect(sqlite.query("SELECT id FROM t_users").all()).toEqual([{ id: 1 }]);
  });

  test("a migration that ends the transaction itself is refused", () => {
    const { sqlite } = open();
    const sneaky = migrationFromSql("9004_commit", FUTURE + 4, "CREATE TABLE t_x (id integer); COMMIT;");
    expect(() => applyMigrations(sqlite, [sneaky])).toThrow(
      "migration 9004_commit ended the transaction itself at statement 1 (COMMIT, END or ROLLBACK in its SQL); the database may be partly migrated",
    );
  });

  test("foreign key violations left by migrations are refused", () => {
    const { sqlite } = open();
    const orphan = migrationFromSql("9005_orphan", FUTURE + 5, "INSERT INTO t_posts VALUES (1, 999);");
    expect(() => applyMigrations(sqlite, [addUsers, addPosts, orphan])).toThrow(
      "migrations would leave 1 foreign key violation(s); the database was left unchanged",
    );
    expect(snapshot(sqlite)).toEqual({ objects: [], rows: null });
  });
});

describe("applyMigrations refuses a history it cannot vouch for", () => {
  test("an applied migration whose SQL changed", () => {
    const { sqlite } = open();
    applyMigrations(sqlite, [addUsers]);
    const edited: Migration = migrationFromSql(addUsers.tag, addUsers.createdAt, "CREATE TABLE t_users (id integer, extra text);");
    expect(() => applyMigrations(sqlite, [edited])).toThrow(
      "migration 9001_users was changed after it was applied to this database (hash differs)",
    );
  });

  test("a database migrated by a newer mss-login", () => {
    const { sqlite } = open();
    applyMigrations(sqlite, [addUsers, addPosts]);
    expect(() => applyMigrations(sqlite, [addUsers])).toThrow(/migrated by a newer mss-login \(unknown migration dated 2100-01-01T00:00:00\.002Z\)/);
  });
});

describe("app_meta", () => {
  test("instance id is created once and then stable", () => {
    const { sqlite, db } = open();
    applyMigrations(sqlite);
    const id = ensureInstanceId(db);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(ensureInstanceId(db)).toBe(id);
    expect(getMeta(db, "instance_id")).toBe(id);
  });

  test("setMeta upserts with updated_at", () => {
    const { sqlite, db } = open();
    applyMigrations(sqlite);
    expect(getMeta(db, "k")).toBeNull();
    setMeta(db, "k", "v1", 1000);
    setMeta(db, "k", "v2", 2000);
    expect(getMeta(db, "k")).toBe("v2");
    expect(sqlite.query("SELECT * FROM app_meta WHERE key = 'k'").get()).toEqual({ key: "k", value: "v2", updated_at: 2000 });
  });
});

test("the database directory may be created by the caller first (openDatabase does not create it)", () => {
  const nested = join(temp.dir(), "a", "b");
  mkdirSync(nested, { recursive: true });
  const database = openDatabase(nested);
  database.close();
});
