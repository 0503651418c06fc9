// `mss-login settings list|set|reset` (src/cli/settings-commands.ts), run in-process against a
// data directory of its own.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runSettingsCommand } from "../../src/cli/settings-commands.ts";
import { openStore } from "../../src/cli/cli-support.ts";
import type { SettingView } from "../../src/settings/service.ts";

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "mss-settings-cli-"));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

async function run(args: string[], env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await runSettingsCommand([...args, "--data-dir", dataDir], {
    env,
    cwd: dataDir,
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
  });
  return { code, stdout, stderr };
}

test("set, list and reset; the stored value reaches the other commands' configuration", async () => {
  const set = await run(["set", "password.min_length", "16"]);
  expect(set).toMatchObject({ code: 0, stderr: "" });
  expect(set.stdout).toContain("password.min_length = 16 (admin)");

  const listed = await run(["list", "--json"]);
  const views = JSON.parse(listed.stdout) as SettingView[];
  expect(views.find((v) => v.key === "password.min_length")).toMatchObject({ value: 16, source: "admin" });
  expect((await run(["list"])).stdout).toMatch(/password\.min_length\s+16 characters\s+admin\s+now/);

  // `user add` and friends open the store through openStore: the stored value applies there.
  const store = openStore(["--data-dir", dataDir], { env: {}, cwd: dataDir, stdout: () => {}, stderr: () => {} });
  expect(store!.config.password.min_length).toBe(16);
  expect(store!.loadedConfig.password.min_length).toBe(12);
  store!.database.close();

  expect((await run(["set", "upstream.url", "http://127.0.0.1:9999"])).stdout).toContain("at the gateway's next start");
  expect((await run(["reset", "password.min_length"])).code).toBe(0);
  const after = JSON.parse((await run(["list", "--json"])).stdout) as SettingView[];
  expect(after.find((v) => v.key === "password.min_length")).toMatchObject({ value: 12, source: "default" });
});

test("bad values, unknown and locked keys are refused with one line", async () => {
  expect(await run(["set", "sessions.idle_hours", "0"])).toMatchObject({ code: 1, stderr: "error: sessions.idle_hours must be an integer 1-720 (hours).\n" });
  expect((await run(["set", "listen.port", "80"])).stderr).toContain("not a setting that can be changed");
  const locked = await run(["set", "sessions.idle_hours", "3"], { MSS_LOGIN_SESSIONS__IDLE_HOURS: "6" });
  expect(locked.code).toBe(1);
  expect(locked.stderr).toContain("MSS_LOGIN_SESSIONS__IDLE_HOURS");
  await expect(run(["set", "sessions.idle_hours"])).rejects.toThrow("needs KEY VALUE");
  await expect(run(["bogus"])).rejects.toThrow("list, set, reset");
});
