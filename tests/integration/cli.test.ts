// Runs the real command line (`bun src/main.ts ...`) as a child process.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import packageJson from "../../package.json" with { type: "json" };
import { embeddedMigrations } from "../../src/db/index.ts";
import { cleanEnv, MAIN, runCommand, tempDirPerTest } from "../support/cli.ts";

const SECRET = "integration-secret-0123456789-abcdefghij";

const work = tempDirPerTest("mss-cli-").current;


const run = (args: string[], env: Record<string, string> = {}) => runCommand(args, { cwd: work(), env: cleanEnv(env) });

describe("version and help", () => {
  test("version prints name, version, bun and platform", async () => {
    const { stdout, stderr, code } = await run(["version"]);
    expect(code).toBe(0);
    expect(stderr).toBe("");
    expect(stdout).toBe(`mss-login ${packageJson.version} (bun ${Bun.version}, ${process.platform}-${process.arch})\n`);
  });

  test("--version is the same as version", async () => {
    const { stdout, code } = await run(["--version"]);
    expect(code).toBe(0);
    expect(stdout).toStartWith(`mss-login ${packageJson.version} (bun `);
  });

  test("help and --help", async () => {
    for (const args of [["help"], ["--help"], ["migrate", "--help"]]) {
      const { stdout, code } = await run(args);
      expect(code).toBe(0);
      expect(stdout).toContain("Usage:");
    }
    const settings = await run(["help", "config"]);
    expect(settings.stdout).toContain("listen.port = 8189");
    expect(settings.stdout).toContain("MSS_LOGIN_UPSTREAM__URL");
  });

  test("unknown command, unknown flag, stray argument: one line, exit 2", async () => {
    const cases: [string[], string][] = [
      [["frobnicate"], 'error: unknown command "frobnicate" (see "mss-login help")\n'],
      [["serve", "--prot", "1"], "config error: command line: unknown flag --prot (did you mean --port?)\n"],
      [["--frob"], "config error: command line: unknown flag --frob\n"],
      [["version", "extra"], 'error: version takes no arguments (got "extra")\n'],
      [["config"], "error: config needs a subcommand: print (got none)\n"],
    ];
    for (const [args, line] of cases) {
      const { stdout, stderr, code } = await run(args);
      expect({ args, code, stderr, stdout }).toEqual({ args, code: 2, stderr: line, stdout: "" });
    }
  });
});

describe("config print", () => {
  test("merges the data dir's config.json, env and flags; secrets redacted", async () => {
    const dataDir = join(work(), "data");
    mkdirSync(dataDir);
    writeFileSync(
      join(dataDir, "config.json"),
      JSON.stringify({ listen: { host: "127.0.0.1", port: 1111 }, secret_key: SECRET, trusted_proxies: ["10.0.0.0/8"] }),
      { mode: 0o600 },
    );
    const { stdout, stderr, code } = await run(["config", "print", "--port", "2222"], {
      MSS_LOGIN_UPSTREAM__URL: "http://127.0.0.1:9999/",
      MSS_LOGIN_LOG__LEVEL: "debug",
    });
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).not.toContain(SECRET);
    const printed = JSON.parse(stdout);
    expect(printed.data_dir).toBe(dataDir);
    expect(printed.listen).toEqual({ host: "127.0.0.1", port: 2222 });
    expect(printed.upstream.url).toBe("http://127.0.0.1:9999");
    expect(printed.log.level).toBe("debug");
    expect(printed.trusted_proxies).toEqual(["10.0.0.0/8"]);
    expect(printed.secret_key).toBe("<redacted>");
  });

  test("--sources says where each value came from; env secret redacted", async () => {
    const { stdout, code } = await run(["config", "print", "--sources", "--data-dir", "d"], {
      MSS_LOGIN_SECRET_KEY: SECRET,
    });
    expect(code).toBe(0);
    expect(stdout).not.toContain(SECRET);
    const report = JSON.parse(stdout);
    expect(report.secret_key).toEqual({ value: "<redacted>", source: "env MSS_LOGIN_SECRET_KEY" });
    expect(report.data_dir).toEqual({ value: join(work(), "d"), source: "flag --data-dir" });
    expect(report["listen.port"]).toEqual({ value: 8189, source: "default" });
  });

  test("a bad config file: exit 2 with one line naming the file and key", async () => {
    const file = join(work(), "bad.json");
    writeFileSync(file, JSON.stringify({ listen: { port: "abc" } }));
    const { stdout, stderr, code } = await run(["config", "print", "--config", file]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toBe(`config error: ${file}: listen.port must be an integer 0-65535 (got "abc")\n`);
  });

  test("a bad environment variable: exit 2 with one line", async () => {
    const { stderr, code } = await run(["config", "print"], { MSS_LOGIN_PUBLIC_ORIGINS: "https://x.example/path" });
    expect(code).toBe(2);
    expect(stderr).toBe(
      'config error: env MSS_LOGIN_PUBLIC_ORIGINS: public_origins[0] must be an origin only (scheme://host[:port], no path, query or credentials) (got "https://x.example/path")\n',
    );
  });
});

describe("migrate", () => {
  test("creates the data dir (0700), applies, then reports up to date", async () => {
    const dataDir = join(work(), "fresh", "data");
    const first = await run(["migrate"], { MSS_LOGIN_DATA_DIR: dataDir });
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toStartWith("applied 0000_");
    const count = embeddedMigrations().length;
    expect(first.stdout).toContain(`${join(dataDir, "mss-login.db")}: ${count} migration(s) applied`);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);

    const second = await run(["migrate", "--data-dir", dataDir]);
    expect(second.code).toBe(0);
    expect(second.stdout).toEndWith(`: up to date (schema ${embeddedMigrations().at(-1)!.tag})\n`);
  });

  test("a database that cannot be opened: exit 1 with one line", async () => {
    const dataDir = join(work(), "data");
    mkdirSync(join(dataDir, "mss-login.db"), { recursive: true, mode: 0o700 }); // a directory where the file should be
    const { stdout, stderr, code } = await run(["migrate", "--data-dir", dataDir]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toStartWith(`database error: cannot open database ${join(dataDir, "mss-login.db")}: `);
    expect(stderr.trimEnd().split("\n")).toHaveLength(1);
  });

  test("a failing migration: exit 1 with one line, database untouched", async () => {
    const dataDir = join(work(), "data");
    const first = await run(["migrate", "--data-dir", dataDir]);
    expect(first.code).toBe(0);
    // Pretend a newer mss-login migrated this database.
    const sqlite = new Database(join(dataDir, "mss-login.db"));
    sqlite.run(`INSERT INTO "__drizzle_migrations" (hash, created_at) VALUES ('x', 4102444800000)`);
    sqlite.close();
    const { stdout, stderr, code } = await run(["migrate", "--data-dir", dataDir]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toBe(
      "migration error: the database was migrated by a newer mss-login (unknown migration dated 2100-01-01T00:00:00.000Z); run that version or newer\n",
    );
  });

  test("a data dir that is a file: exit 2 (configuration)", async () => {
    const file = join(work(), "not-a-dir");
    writeFileSync(file, "");
    const { stderr, code } = await run(["migrate", "--data-dir", file]);
    expect(code).toBe(2);
    expect(stderr).toBe(`config error: ${file}: the data directory (from flag --data-dir) is not a directory\n`);
  });
});

describe("serve", () => {
  function freePort(): number {
    const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const port = probe.port ?? 0;
    probe.stop(true);
    return port;
  }

  /** Collects a stream's text, resolving `waitFor(text)` once it appears. */
  function collect(stream: ReadableStream<Uint8Array>) {
    let text = "";
    const waiters: { needle: string; resolve: () => void }[] = [];
    const done = (async () => {
      const decoder = new TextDecoder();
      const reader = stream.getReader();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        text += decoder.decode(chunk.value, { stream: true });
        for (const waiter of waiters.filter((w) => text.includes(w.needle))) waiter.resolve();
      }
    })();
    return {
      text: () => text,
      done,
      waitFor: (needle: string, timeoutMs = 10_000) =>
        new Promise<void>((resolve, reject) => {
          if (text.includes(needle)) return resolve();
          waiters.push({ needle, resolve });
          setTimeout(() => reject(new Error(`timed out waiting for ${JSON.stringify(needle)}; got:\n${text}`)), timeoutMs);
        }),
    };
  }

  test("starts, migrates, listens; SIGTERM stops it gracefully with exit 0", async () => {
    const port = freePort();
    const child = Bun.spawn([process.execPath, MAIN, "serve", "--host", "127.0.0.1", "--port", String(port)], {
      cwd: work(),
      env: cleanEnv({ MSS_LOGIN_UPSTREAM__URL: "http://127.0.0.1:9" }),
      stdout: "pipe",
      stderr: "pipe",
    });
    const stderr = collect(child.stderr);
    try {
      await stderr.waitFor("gateway listening");
      expect(stderr.text()).toContain("database migrated applied=0000_");
      const response = await fetch(`http://127.0.0.1:${port}/`);
      await response.body?.cancel();
      expect(response.status).toBeGreaterThanOrEqual(200);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await child.exited).toBe(0);
    await stderr.done;
    expect(stderr.text()).toContain("INFO stopping signal=SIGTERM");
    expect(stderr.text()).toContain("INFO stopped");
  });

  test("port in use: one clear line, exit 1", async () => {
    const holder = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    try {
      const { stdout, stderr, code } = await run(["serve", "--host", "127.0.0.1", "--port", String(holder.port)]);
      expect(code).toBe(1);
      expect(stdout).toBe("");
      expect(stderr.trimEnd().split("\n").at(-1)).toBe(
        `error: cannot listen on 127.0.0.1:${holder.port}: the address is already in use`,
      );
    } finally {
      holder.stop(true);
    }
  });

  test("bad config: exit 2 before anything starts (no data dir created)", async () => {
    const { stderr, code } = await run(["serve", "--port", "-5"]);
    expect(code).toBe(2);
    expect(stderr).toBe('config error: flag --port: listen.port must be an integer 0-65535 (got "-5")\n');
    expect(() => statSync(join(work(), "data"))).toThrow();
  });
});
