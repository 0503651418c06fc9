/**
 * The repository keeps a copy of the shared ComfyUI recordings so that a clone alone runs every
 * test. When the shared oracle is checked out beside the repository (as on developer machines
 * and in CI), the copy must match it file for file.
 */
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { RECORDINGS_DIR, SHARED_RECORDINGS_DIR } from "./replay/recordings.ts";

function listFiles(root: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name).slice(root.length + 1));
  }
  return out.sort();
}

test("the copy holds all 299 HTTP exchanges and 21 WebSocket transcripts", () => {
  const files = listFiles(RECORDINGS_DIR);
  expect(files.filter((f) => f.startsWith("http/")).length).toBe(299);
  expect(files.filter((f) => f.startsWith("ws/")).length).toBe(21);
});

test("the copy is identical to the shared recordings when they are checked out beside the repository", () => {
  const sharedPresent = existsSync(SHARED_RECORDINGS_DIR);
  if (!sharedPresent) {
    console.log(`shared recordings not found at ${SHARED_RECORDINGS_DIR}: only the copy's own completeness is checked`);
    return;
  }
  const ours = listFiles(RECORDINGS_DIR);
  expect(ours).toEqual(listFiles(SHARED_RECORDINGS_DIR));
  for (const file of ours) {
    expect(readFileSync(join(RECORDINGS_DIR, file)).equals(readFileSync(join(SHARED_RECORDINGS_DIR, file)))).toBe(true);
  }
});
