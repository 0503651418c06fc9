// Guards the embedding of drizzle-kit's migrations in the binary: every migration in the
// journal must be imported in src/db/migrations.ts, with the same text as on disk.
import { expect, test } from "bun:test";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EMBEDDED_JOURNAL, EMBEDDED_SQL, embeddedMigrations } from "../../src/db/migrations.ts";

const ROOT = join(import.meta.dir, "../..");
const DRIZZLE_DIR = join(ROOT, "drizzle");
const journal = JSON.parse(readFileSync(join(DRIZZLE_DIR, "meta/_journal.json"), "utf8")) as {
  entries: { tag: string; when: number }[];
};

test("the embedded journal is the journal on disk", () => {
  expect(EMBEDDED_JOURNAL).toEqual(journal as typeof EMBEDDED_JOURNAL);
});

test("every journal entry has an embedded SQL import (add it to src/db/migrations.ts)", () => {
  const missing = journal.entries.map((e) => e.tag).filter((tag) => !(tag in EMBEDDED_SQL));
  expect(missing).toEqual([]);
  expect(Object.keys(EMBEDDED_SQL).sort()).toEqual(journal.entries.map((e) => e.tag).sort());
});

test("each embedded SQL text is the file on disk", () => {
  for (const { tag } of journal.entries) {
    expect(EMBEDDED_SQL[tag]).toBe(readFileSync(join(DRIZZLE_DIR, `${tag}.sql`), "utf8"));
  }
});

test("every .sql file in drizzle/ is in the journal", () => {
  const files = readdirSync(DRIZZLE_DIR).filter((name) => name.endsWith(".sql")).map((name) => name.slice(0, -4));
  expect(files.sort()).toEqual(journal.entries.map((e) => e.tag).sort());
});

test("migrations are ordered by date, with distinct dates", () => {
  const dates = embeddedMigrations().map((m) => m.createdAt);
  expect(dates).toEqual([...new Set(dates)].sort((a, b) => a - b));
});

// drizzle-kit runs under Node; on a machine without it this check is skipped.
test.skipIf(Bun.which("node") === null)(
  "the schema and the migrations agree: drizzle-kit generate finds nothing to do",
  async () => {
    const work = mkdtempSync(join(tmpdir(), "mss-drizzle-"));
    try {
      cpSync(DRIZZLE_DIR, join(work, "drizzle"), { recursive: true });
      const kit = Bun.spawn(
        ["node", join(ROOT, "node_modules/drizzle-kit/bin.cjs"), "generate", "--dialect", "sqlite",
          "--schema", join(ROOT, "src/db/schema.ts"), "--out", "./drizzle"],
        { cwd: work, stdout: "pipe", stderr: "pipe" },
      );
      const [stdout, stderr, code] = await Promise.all([
        new Response(kit.stdout).text(),
        new Response(kit.stderr).text(),
        kit.exited,
      ]);
      expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
      // If this fails: a table changed without `npx drizzle-kit generate` (then embed the new file).
      expect(stdout).toContain("No schema changes");
      expect(readdirSync(join(work, "drizzle")).sort()).toEqual(readdirSync(DRIZZLE_DIR).sort());
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
  30_000,
);
