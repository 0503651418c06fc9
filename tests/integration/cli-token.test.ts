// `mss-login token ...` as a child process: a token created on the shell works against the
// gateway's store, is listed without its secret, and can be revoked.
import { expect, test } from "bun:test";
import { createApiTokenStore } from "../../src/auth/api-tokens.ts";
import { applyMigrations, openDatabase } from "../../src/db/index.ts";
import { cleanEnv, runCommand, tempDirPerTest } from "../support/cli.ts";
import { createTestAccount, TEST_ENV } from "../support/gateway.ts";

const work = tempDirPerTest("mss-cli-token-").current;

const run = (args: string[]) => runCommand([...args, "--data-dir", work()], { cwd: work(), env: cleanEnv(TEST_ENV) });

test("create prints the token once on stdout; list shows it without the secret; revoke ends it", async () => {
  const account = await createTestAccount(work(), "alice", "user");
  const created = await run(["token", "create", "--username", "alice", "--label", "backup script", "--hours", "48", "--scope", "read"]);
  expect(created.code).toBe(0);
  const token = created.stdout.trim();
  expect(token).toMatch(/^mss_[A-Za-z0-9_-]{43}$/);
  expect(created.stderr).toContain("scopes read");

  const database = openDatabase(work());
  applyMigrations(database.sqlite);
  const checked = createApiTokenStore(database.db).check(token, Date.now(), null);
  database.close();
  expect(checked).toMatchObject({ ok: true, userId: account.userId, scopes: ["read"] });

  const listed = await run(["token", "list", "--username", "alice"]);
  expect(listed.stdout).toContain("backup script");
  expect(listed.stdout).not.toContain(token.slice(4));
  const id = checked.ok ? checked.tokenId : "";
  expect((await run(["token", "revoke", "--username", "alice", "--id", id])).code).toBe(0);
  expect((await run(["token", "revoke", "--username", "alice", "--id", id])).code).toBe(1);
});

test("bad input: unknown user, bad scope, a non-expiring token for a non-owner, missing flags", async () => {
  await createTestAccount(work(), "bob", "user");
  expect((await run(["token", "create", "--username", "nobody", "--label", "x"])).code).toBe(1);
  expect((await run(["token", "create", "--username", "bob", "--label", "x", "--scope", "root"])).stderr).toContain("Scopes are one or more of");
  expect((await run(["token", "create", "--username", "bob", "--label", "x", "--hours", "0"])).stderr).toContain("never expire");
  for (const hours of ["--hours=", "--hours=0x10", "--hours=1e3"]) expect((await run(["token", "create", "--username", "bob", "--label", "x", hours])).stderr).toContain("lifetime must be");
  expect((await run(["token", "create", "--label", "x"])).code).toBe(2);
  expect((await run(["token"])).code).toBe(2);
});
