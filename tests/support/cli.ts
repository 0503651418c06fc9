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

export interface CliResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs `command` (default: the gateway from source) with `args`, collecting both outputs and the exit code. */
export async function runCommand(args: readonly string[], options: { cwd: string; env: Record<string, string>; stdin?: string; command?: readonly string[] }): Promise<CliResult> {
  const child = Bun.spawn([...(options.command ?? [process.execPath, MAIN]), ...args], {
    cwd: options.cwd,
    env: options.env,
    stdin: options.stdin === undefined ? "ignore" : new Blob([options.stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { stdout, stderr, code };
}
