// `mss-login groups export|import` as a child process: the original's mss_login_groups.json
// shape goes in and out; a bad file changes nothing.
import { expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { applyMigrations, openDatabase } from "../../src/db/index.ts";
import { createGroupsStore } from "../../src/rbac/groups-store.ts";
import { cleanEnv, runCommand, tempDirPerTest } from "../support/cli.ts";

const work = tempDirPerTest("mss-cli-groups-").current;
const run = (args: string[]) => runCommand([...args, "--data-dir", work()], { cwd: work(), env: cleanEnv() });

function allows(role: string, key: string): boolean {
  const database = openDatabase(work());
  try {
    applyMigrations(database.sqlite);
    return createGroupsStore(database.db).allows(role, key);
  } finally {
    database.close();
  }
}

test("export prints the matrix as the original's file; import merges a file in", async () => {
  const exported = await run(["groups", "export"]);
  expect(exported.code).toBe(0);
  const matrix = JSON.parse(exported.stdout) as Record<string, Record<string, boolean>>;
  expect(Object.keys(matrix).sort()).toEqual(["admin", "guest", "owner", "power", "user"]);
  expect(matrix.user).toMatchObject({ can_run: true, can_access_manager: false });

  // A file as the original writes it: lower-case roles, extra keys, an owner row (ignored).
  writeFileSync(join(work(), "mss_login_groups.json"), JSON.stringify({ owner: { can_run: false }, user: { can_access_manager: true, cat_Appearance: false }, guest: { can_run: false } }));
  const imported = await run(["groups", "import", "mss_login_groups.json"]);
  expect(imported.code).toBe(0);
  expect(imported.stdout).toContain("imported 3 permission values");
  expect(imported.stdout).toContain("owner row is computed");
  expect([allows("user", "can_access_manager"), allows("guest", "can_run"), allows("owner", "can_run"), allows("user", "cat_Appearance")]).toEqual([true, false, true, false]);

  expect((await run(["groups", "export", "copy.json"])).code).toBe(0);
  expect(JSON.parse(readFileSync(join(work(), "copy.json"), "utf8")).user.cat_Appearance).toBe(false);
});

test("a bad file is refused whole, with the reason; missing arguments are usage errors", async () => {
  writeFileSync(join(work(), "bad.json"), JSON.stringify({ user: { can_upload: false, can_run: "sometimes" } }));
  const refused = await run(["groups", "import", "bad.json"]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain("can_run: expected true or false");
  expect(allows("user", "can_upload")).toBe(true);
  writeFileSync(join(work(), "broken.json"), "{ not json");
  expect((await run(["groups", "import", "broken.json"])).code).toBe(1);
  expect((await run(["groups", "import", "missing.json"])).stderr).toContain("cannot read missing.json");
  expect((await run(["groups", "import"])).code).toBe(2);
  expect((await run(["groups"])).code).toBe(2);
});
