/**
 * The compiled gateway, built once per test run into a temp directory (`bun build --compile`
 * takes about a second), for tests that must prove the single file carries everything.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
let building: Promise<{ binary: string; dir: string }> | null = null;

export function compiledGateway(): Promise<{ binary: string; dir: string }> {
  building ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "mss-compiled-"));
    const binary = join(dir, "mss-login");
    // About 100 MB: gone with the test run.
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    const build = Bun.spawn([process.execPath, "build", "--compile", "--minify", "src/main.ts", "src/nsfw/classifier/worker.ts", "--outfile", binary], {
      cwd: ROOT,
      stdout: "ignore",
      stderr: "pipe",
    });
    if ((await build.exited) !== 0) throw new Error(`bun build failed: ${await new Response(build.stderr).text()}`);
    return { binary, dir };
  })();
  return building;
}
