// `mss-login user ...` run as a child process, the password piped on standard input.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { compiledGateway } from "../support/compiled-binary.ts";
import { cleanEnv, runCommand, tempDirPerTest } from "../support/cli.ts";
import { TEST_ENV } from "../support/gateway.ts";

const PASSWORD = "correct horse battery";

const work = tempDirPerTest("mss-cli-user-").current;

/** A clean environment with the cheapest argon2 the config allows. */
function env(extra: Record<string, string> = {}): Record<string, string> {
  return cleanEnv({ ...TEST_ENV, ...extra });
}

const run = (args: string[], stdin = "", options: { command?: string[]; extraEnv?: Record<string, string> } = {}) =>
  runCommand(args, { cwd: work(), env: env(options.extraEnv), stdin, ...(options.command ? { command: options.command } : {}) });

const add = (username: string, role: string, password = `${PASSWORD}\n`) =>
  run(["user", "add", "--username", username, "--role", role, "--password-stdin"], password);

/** The users table, read directly (the CLI has closed the database). */
function storedUsers(): { username: string; role: string; disabled: number; password_hash: string }[] {
  const db = new Database(join(work(), "data", "mss-login.db"), { readonly: true });
  try {
    return db.query("SELECT username, role, disabled, password_hash FROM users ORDER BY username_key").all() as never;
  } finally {
    db.close();
  }
}

describe("user add", () => {
  test("creates the owner from piped input, migrating a fresh data directory", async () => {
    const result = await add("Alice", "owner");
    expect(result).toEqual({ stdout: "created user Alice (owner)\n", stderr: "", code: 0 });
    const [alice] = storedUsers();
    expect(alice).toMatchObject({ username: "Alice", role: "owner", disabled: 0 });
    expect(alice?.password_hash).toStartWith("$argon2id$v=19$m=7168,t=1,p=1$");
    expect(alice?.password_hash).not.toContain(PASSWORD);
  });

  test("a trailing CRLF is not part of the password; several lines are refused", async () => {
    expect((await add("bob", "user", `${PASSWORD}\r\n`)).code).toBe(0);
    const twoLines = await add("carol", "user", `${PASSWORD}\nsecond line\n`);
    expect(twoLines.code).toBe(2);
    expect(twoLines.stderr).toBe("error: user add: standard input holds several lines; give the password on one line\n");
  });

  test("refusals: exit 1 with the account error's message, nothing stored", async () => {
    expect((await add("alice", "owner")).code).toBe(0);
    const cases: [string, string, string, string][] = [
      ["ALICE", "user", `${PASSWORD}\n`, 'error: The username "ALICE" is already taken.\n'],
      ["bob", "owner", `${PASSWORD}\n`, "error: There is already an owner; an installation has exactly one.\n"],
      ["bob", "user", "short\n", "error: Use at least 12 characters.\n"],
      ["bob", "user", "password1234\n", "error: This password is on a list of commonly used passwords; choose another.\n"],
      ["bob", "user", "bob likes long walks\n", "error: The password must not contain the username.\n"],
      ["admin", "user", `${PASSWORD}\n`, 'error: The username "admin" is reserved; choose another.\n'],
      ["b", "user", `${PASSWORD}\n`, "error: Use 3 to 64 characters for the username: letters A-Z, digits and underscores.\n"],
    ];
    for (const [username, role, stdin, message] of cases) {
      expect(await add(username, role, stdin)).toEqual({ stdout: "", stderr: message, code: 1 });
    }
    expect(storedUsers().map((u) => u.username)).toEqual(["alice"]);
  });

  test("usage errors: exit 2, and the data directory is not touched", async () => {
    const cases: [string[], string, string][] = [
      [["user"], "", "error: user needs a subcommand: add, passwd, list, disable, enable, unlock, reset-mfa, role (got none)\n"],
      [["user", "remove"], "", 'error: user needs a subcommand: add, passwd, list, disable, enable, unlock, reset-mfa, role (got "remove")\n'],
      [["user", "add", "--username", "bob", "--role", "user"], PASSWORD, "error: user add needs --password-stdin (the password is read from standard input)\n"],
      [
        ["user", "add", "--username", "bob", "--role", "user", "--password", PASSWORD],
        "",
        "error: user add: passwords are never taken from the command line; use --password-stdin\n",
      ],
      [["user", "add", "--role", "user", "--password-stdin"], PASSWORD, "error: user add needs --username\n"],
      [["user", "add", "--username", "bob", "--password-stdin"], PASSWORD, "error: user add needs --role\n"],
      [
        ["user", "add", "--username", "bob", "--role", "god", "--password-stdin"],
        PASSWORD,
        'error: user add: --role must be one of owner, admin, power, user, guest (got "god")\n',
      ],
      [["user", "add", "--username", "bob", "--role", "user", "--password-stdin"], "", "error: user add: standard input is empty; pipe the password in\n"],
      [["user", "add", "--username", "bob", "--role", "user", "--password-stdin"], "\n", "error: user add: standard input is empty; pipe the password in\n"],
      [["user", "list", "--username", "bob"], "", "error: user list: unknown flag --username; it takes --json\n"],
      [["user", "list", "stray"], "", 'error: user list: unexpected argument "stray"\n'],
      [["user", "disable"], "", "error: user disable needs --username\n"],
    ];
    for (const [args, stdin, message] of cases) {
      const result = await run(args, stdin);
      expect({ args, ...result }).toEqual({ args, stdout: "", stderr: message, code: 2 });
    }
    expect(await Bun.file(join(work(), "data", "mss-login.db")).exists()).toBe(false);
  });

  test("configuration flags after the subcommand; a bad setting is a configuration error", async () => {
    const result = await run(
      ["user", "add", "--data-dir", "elsewhere", "--username", "bob", "--role", "user", "--password-stdin"],
      PASSWORD,
    );
    expect(result.code).toBe(0);
    expect(await Bun.file(join(work(), "elsewhere", "mss-login.db")).exists()).toBe(true);
    const bad = await run(["user", "list"], "", { extraEnv: { MSS_LOGIN_PASSWORD__MIN_LENGTH: "6" } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toStartWith("config error: env MSS_LOGIN_PASSWORD__MIN_LENGTH: password.min_length must be");
  });
});

describe("user passwd, disable, enable, list", () => {
  test("the whole life of an account", async () => {
    expect((await add("owner_1", "owner")).code).toBe(0);
    expect((await add("bob", "power")).code).toBe(0);
    const before = storedUsers().find((u) => u.username === "bob")?.password_hash;

    const passwd = await run(["user", "passwd", "--username", "BOB", "--password-stdin"], "a different passphrase\n");
    expect(passwd).toEqual({ stdout: "password changed for bob; their sessions were ended and 0 API token(s) revoked\n", stderr: "", code: 0 });
    expect(storedUsers().find((u) => u.username === "bob")?.password_hash).not.toBe(before);

    const weak = await run(["user", "passwd", "--username", "bob", "--password-stdin"], "short\n");
    expect(weak).toEqual({ stdout: "", stderr: "error: Use at least 12 characters.\n", code: 1 });
    const missing = await run(["user", "passwd", "--username", "nobody_x", "--password-stdin"], `${PASSWORD}\n`);
    expect(missing).toEqual({ stdout: "", stderr: 'error: No user named "nobody_x".\n', code: 1 });

    expect(await run(["user", "disable", "--username", "bob"])).toEqual({
      stdout: "disabled bob; their sessions were ended\n",
      stderr: "",
      code: 0,
    });
    expect(storedUsers().find((u) => u.username === "bob")?.disabled).toBe(1);
    const ownerDisable = await run(["user", "disable", "--username", "owner_1"]);
    expect(ownerDisable).toEqual({ stdout: "", stderr: "error: The owner account cannot be disabled.\n", code: 1 });

    const table = await run(["user", "list"]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^USERNAME\s+ROLE\s+DISABLED\s+CREATED\s+LAST LOGIN$/);
    expect(lines[1]).toMatch(/^bob\s+power\s+yes\s+\d{4}-\d\d-\d\d \d\d:\d\dZ\s+never$/);
    expect(lines[2]).toMatch(/^owner_1\s+owner\s+no\s+/);

    expect((await run(["user", "enable", "--username", "bob"])).stdout).toBe("enabled bob\n");
    const json = JSON.parse((await run(["user", "list", "--json"])).stdout) as { username: string; disabled: boolean }[];
    expect(json.map((u) => [u.username, u.disabled])).toEqual([
      ["bob", false],
      ["owner_1", false],
    ]);
    expect(JSON.stringify(json)).not.toContain("argon2");
  });

  test("an empty installation says how to begin", async () => {
    const result = await run(["user", "list"]);
    expect(result).toEqual({
      stdout: "no users yet (create the owner with: mss-login user add --role owner ...)\n",
      stderr: "",
      code: 0,
    });
  });
});

describe("the compiled binary", () => {
  test("carries the command and the common-password list", async () => {
    const { binary } = await compiledGateway();
    const common = await run(["user", "add", "--username", "bob", "--role", "user", "--password-stdin"], "qwertyuiop123\n", {
      command: [binary],
    });
    expect(common).toEqual({
      stdout: "",
      stderr: "error: This password is on a list of commonly used passwords; choose another.\n",
      code: 1,
    });
    const ok = await run(["user", "add", "--username", "bob", "--role", "user", "--password-stdin"], `${PASSWORD}\n`, {
      command: [binary],
    });
    expect(ok).toEqual({ stdout: "created user bob (user)\n", stderr: "", code: 0 });
  }, 60_000);
});

test("user unlock lifts a brute-force ban from the shell", async () => {
  expect((await run(["user", "add", "--username", "carol", "--role", "owner", "--password-stdin"], PASSWORD)).code).toBe(0);
  const { Regulator } = await import("../../src/auth/regulation.ts");
  const { applyMigrations, openDatabase } = await import("../../src/db/index.ts");
  const database = openDatabase(join(work(), "data"));
  applyMigrations(database.sqlite);
  const regulator = new Regulator(database.db);
  for (let i = 0; i < 3; i++) regulator.recordFailure("carol", Date.now());
  expect(regulator.accountBanned("carol", Date.now())).toBe(true);
  database.close();
  const unlocked = await run(["user", "unlock", "--username", "carol"]);
  expect(unlocked.stdout).toBe("unlocked carol\n");
  const again = openDatabase(join(work(), "data"));
  expect(new Regulator(again.db).accountBanned("carol", Date.now())).toBe(false);
  again.close();
});

describe("the shell's way back in: reset-mfa, role, passwd", () => {
  function table(sql: string): Record<string, unknown>[] {
    const db = new Database(join(work(), "data", "mss-login.db"), { readonly: true });
    try {
      return db.query(sql).all() as Record<string, unknown>[];
    } finally {
      db.close();
    }
  }
  function write(sql: string, ...params: string[]): void {
    const db = new Database(join(work(), "data", "mss-login.db"));
    try {
      db.query(sql).run(...params);
    } finally {
      db.close();
    }
  }

  test("reset-mfa removes a lost second factor and ends the sessions", async () => {
    await add("olga", "owner");
    const [{ id }] = table("SELECT id FROM users WHERE username = 'olga'") as [{ id: string }];
    write("INSERT INTO mfa_enrolments (user_id, secret_ciphertext, enabled, created_at, enabled_at) VALUES (?, 'x', 1, 1, 1)", id);
    write("INSERT INTO sessions (jti, user_id, created_at, last_seen_at, expires_at) VALUES ('s1', ?, 1, 1, 99999999999999)", id);
    const result = await run(["user", "reset-mfa", "--username", "olga"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("removed the second factor of olga");
    expect(table("SELECT * FROM mfa_enrolments")).toEqual([]);
    expect(table("SELECT revoked_at FROM sessions")[0]!.revoked_at).not.toBeNull();
    expect((await run(["user", "reset-mfa", "--username", "olga"])).stdout).toContain("had no second factor");
    expect((await run(["user", "reset-mfa", "--username", "nobody"])).code).toBe(1);
  });

  test("role hands ownership over from the shell; bad roles are usage errors", async () => {
    await add("olga", "owner");
    await add("adam", "admin");
    const result = await run(["user", "role", "--username", "adam", "--role", "owner"]);
    expect(result.stdout).toBe("adam is now owner; their sessions were ended\n");
    expect(storedUsers().map((u) => [u.username, u.role])).toEqual([["adam", "owner"], ["olga", "admin"]]);
    expect((await run(["user", "role", "--username", "adam", "--role", "wizard"])).code).toBe(2);
    expect((await run(["user", "role", "--username", "adam", "--role", "user"])).stderr).toContain("handing ownership");
  });

  test("passwd also revokes the account's API tokens", async () => {
    await add("bob", "power");
    const [{ id }] = table("SELECT id FROM users WHERE username = 'bob'") as [{ id: string }];
    write("INSERT INTO api_tokens (id, user_id, token_hash, label, scopes, created_at) VALUES ('t1', ?, 'h', 'x', '[\"read\"]', 1)", id);
    const result = await run(["user", "passwd", "--username", "bob", "--password-stdin"], "a different passphrase\n");
    expect(result.stdout).toContain("1 API token(s) revoked");
    expect(table("SELECT revoked_at FROM api_tokens")[0]!.revoked_at).not.toBeNull();
  });
});
