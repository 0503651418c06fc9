// The compiled executable must carry everything it needs: the migrations (read from drizzle/
// only at build time), the version and the gateway (loaded with a dynamic import). Build it
// into a temp dir and run it from a directory with no repository around it.
import { beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import packageJson from "../../package.json" with { type: "json" };
import { embeddedMigrations } from "../../src/db/migrations.ts";
import { compiledGateway } from "../support/compiled-binary.ts";

let dir: string;
let binary: string;

beforeAll(async () => {
  ({ binary, dir } = await compiledGateway());
}, 120_000);

/** The parent's environment without MSS_LOGIN_* variables. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("MSS_LOGIN_") && value !== undefined) env[name] = value;
  }
  return env;
}

async function run(args: string[]) {
  const child = Bun.spawn([binary, ...args], { cwd: dir, env: cleanEnv(), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { stdout, stderr, code };
}

test("version comes from package.json at build time", async () => {
  const { stdout, code } = await run(["version"]);
  expect(code).toBe(0);
  expect(stdout).toStartWith(`mss-login ${packageJson.version} (bun `);
});

test("migrations are embedded: migrate works away from the repository", async () => {
  const { stdout, stderr, code } = await run(["migrate", "--data-dir", "data"]);
  expect(stderr).toBe("");
  expect(code).toBe(0);
  const applied = stdout.split("\n").filter((line) => line.startsWith("applied ")).map((line) => line.slice(8));
  expect(applied).toEqual(embeddedMigrations().map((m) => m.tag));
});

test("the gateway module is bundled: serve starts and stops", async () => {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = String(probe.port);
  probe.stop(true);
  const child = Bun.spawn([binary, "serve", "--data-dir", "data", "--host", "127.0.0.1", "--port", port], {
    cwd: dir,
    env: cleanEnv(),
    stdout: "ignore",
    stderr: "pipe",
  });
  const stderrText = new Response(child.stderr).text();
  // Poll until it answers (any status) or give up after 10 s.
  let answered = false;
  for (let attempt = 0; attempt < 100 && !answered; attempt++) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/`);
      await response.body?.cancel();
      answered = true;
    } catch {
      await Bun.sleep(100);
    }
  }
  child.kill("SIGTERM");
  expect(await child.exited).toBe(0);
  expect(answered).toBe(true);
  expect(await stderrText).toContain("INFO stopped");
});
