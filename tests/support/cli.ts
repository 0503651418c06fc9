// Shared set-up of the tests that run the real command line as a child process.
import { afterAll, beforeEach } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const MAIN = join(import.meta.dir, "../../src/main.ts");

/** A fresh temp directory per test (removed after the file's tests), read through `current()`. */
export function tempDirPerTest(prefix: string): { current(): string } {
  const temps: string[] = [];
  let work = "";
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), prefix));
    temps.push(work);
  });
  afterAll(() => {
    for (const dir of temps) rmSync(dir, { recursive: true, force: true });
  });
  return { current: () => work };
}

/** The parent's environment without any MSS_LOGIN_* variable, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("MSS_LOGIN_") && value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}
