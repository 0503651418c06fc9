/**
 * The baseline the bench compares against in the same run: the gateway as issue 2 left it
 * (transparent forward and relay, no accounts, no per-user filtering), taken from git and run
 * from source exactly like the current one. Its source is extracted to a temporary directory
 * that borrows this checkout's node_modules.
 */
import { spawnSync } from "bun";
import { existsSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The last commit of issue 2 (before accounts): "Forward large-file routes (/view) through fetch…". */
export const BASELINE_REF = process.env.BENCH_BASELINE_REF ?? "048e02a";

/** The command that runs the baseline gateway, or null when git cannot provide it. */
export function baselineGatewayCommand(root: string): string[] | null {
  const directory = mkdtempSync(join(tmpdir(), "mss-bench-baseline-"));
  const archive = spawnSync(["git", "-C", root, "archive", "--format=tar", BASELINE_REF, "src", "drizzle", "static", "package.json"], { stdout: "pipe", stderr: "pipe" });
  if (archive.exitCode !== 0) {
    console.warn(`baseline ${BASELINE_REF} not available from git: ${archive.stderr.toString().trim()}`);
    return null;
  }
  const untar = spawnSync(["tar", "-x", "-C", directory], { stdin: archive.stdout, stderr: "pipe" });
  if (untar.exitCode !== 0 || !existsSync(join(directory, "src/main.ts"))) {
    console.warn(`baseline ${BASELINE_REF} could not be extracted: ${untar.stderr.toString().trim()}`);
    return null;
  }
  symlinkSync(join(root, "node_modules"), join(directory, "node_modules"));
  return [process.execPath, join(directory, "src/main.ts")];
}
