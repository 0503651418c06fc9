/**
 * Bundles the gateway's browser code (static/ui) with Bun's bundler. Imported as a macro
 * (`with { type: "macro" }`), so it runs when the gateway's code is transpiled: at start-up
 * from source, and once at `bun build --compile`, which puts the result inside the binary.
 * A macro cannot call `Bun.build` (the bundler is busy running it), so it runs the `bun build`
 * command, as Bun's own error message advises.
 *
 * Output: file name → content. Page and extension entries are ES modules sharing chunks; the
 * early script that goes into ComfyUI's <head> is a classic script (it must run before the
 * page's modules, synchronously).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const UI_DIR = join(import.meta.dir, "../../static/ui");
const MODULE_ENTRIES = ["admin-page.ts", "me-page.ts", "comfy-extension.ts"];
const CLASSIC_ENTRIES = ["comfy-early.ts"];

function bunBuild(args: string[]): void {
  const run = Bun.spawnSync([process.execPath, "build", ...args, "--target=browser", "--minify", "--sourcemap=none"], { cwd: UI_DIR, stderr: "pipe", stdout: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  if (run.exitCode !== 0) throw new Error(`bundling static/ui failed:\n${run.stderr.toString()}${run.stdout.toString()}`);
}

export function bundleWebUi(): Record<string, string> {
  const outDir = mkdtempSync(join(tmpdir(), "mss-ui-"));
  try {
    bunBuild([...MODULE_ENTRIES, "--format=esm", "--splitting", `--outdir=${outDir}`, "--entry-naming=[name].js", "--chunk-naming=chunk-[hash].js"]);
    bunBuild([...CLASSIC_ENTRIES, "--format=iife", `--outdir=${outDir}`, "--entry-naming=[name].js"]);
    const files: Record<string, string> = {};
    for (const name of readdirSync(outDir)) files[name] = readFileSync(join(outDir, name), "utf8");
    files["theme.css"] = readFileSync(join(UI_DIR, "theme.css"), "utf8");
    return files;
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}
