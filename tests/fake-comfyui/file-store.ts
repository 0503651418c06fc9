/**
 * ComfyUI's `input/`, `output/` and `temp/` directories. They are global, whatever the user
 * (spec §5.2): uploads, saved images and PreviewImage temp files all land here and `/view`,
 * `/internal/files` and LoadImage's options read from here.
 *
 * Small files live in memory. Files of SPILL_THRESHOLD bytes or more go to a private temporary
 * directory and are served with `Bun.file` (sendfile): Bun copies an in-memory body for every
 * response, which a benchmark streaming 200 MB several times at once would feel.
 */
import { createHash } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeSolidPng } from "./png.ts";
import { ancestorDirectories, dirname, FILE_TYPES, type FileType } from "./virtual-paths.ts";

export const SPILL_THRESHOLD = 4 * 1024 * 1024;

export interface StoredFile {
  size: number;
  mtimeMs: number;
  /** Orders files written in the same millisecond (newest-first listings). */
  sequence: number;
  /** In-memory content, or null when the file lives on disk. */
  bytes: Uint8Array | null;
  diskPath: string | null;
  /** sha-256 hex, computed on first use. */
  sha256?: string;
}

export interface FileEntry {
  type: FileType;
  /** Relative path inside the type directory, `/`-separated. */
  path: string;
  file: StoredFile;
}

/** The content as bytes (read from disk for spilled files; rarely needed for those). */
export function fileBytes(file: StoredFile): Uint8Array {
  if (file.bytes !== null) return file.bytes;
  return new Uint8Array(readFileSync(file.diskPath as string));
}

/** A response body for bytes [start, end) without copying. */
export function fileBody(file: StoredFile, start = 0, end = file.size): Uint8Array<ArrayBuffer> | Blob {
  if (file.bytes !== null) return file.bytes.subarray(start, end) as Uint8Array<ArrayBuffer>;
  return Bun.file(file.diskPath as string).slice(start, end);
}

export function fileSha256(file: StoredFile): string {
  file.sha256 ??= createHash("sha256").update(fileBytes(file)).digest("hex");
  return file.sha256;
}

/** `size` bytes where byte i is `i % 251`: easy to verify anywhere in a range response. */
const PATTERN_BLOCK = (() => {
  const block = new Uint8Array(251 * 4096);
  for (let i = 0; i < block.length; i++) block[i] = i % 251;
  return block;
})();

export function deterministicBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += PATTERN_BLOCK.length) {
    bytes.set(PATTERN_BLOCK.subarray(0, Math.min(PATTERN_BLOCK.length, size - offset)), offset);
  }
  return bytes;
}

/** The recorded server started with `input/example.png` and the repository's output placeholder. */
const EXAMPLE_INPUT = "example.png";
const OUTPUT_PLACEHOLDER = "_output_images_will_be_put_here";

export class FileStore {
  private readonly files = new Map<FileType, Map<string, StoredFile>>();
  private readonly directories = new Map<FileType, Set<string>>();
  private sequence = 0;
  private spillDirectory: string | null = null;
  private spillCounter = 0;

  constructor(private readonly now: () => number) {
    this.reset();
  }

  reset(): void {
    this.dispose();
    for (const type of FILE_TYPES) {
      this.files.set(type, new Map());
      this.directories.set(type, new Set());
    }
    this.write("input", EXAMPLE_INPUT, encodeSolidPng({ width: 32, height: 32, color: 0x4080c0 }));
    this.write("output", OUTPUT_PLACEHOLDER, new Uint8Array(0));
  }

  /** Removes the spilled files from disk. */
  dispose(): void {
    if (this.spillDirectory !== null) rmSync(this.spillDirectory, { recursive: true, force: true });
    this.spillDirectory = null;
  }

  private filesOf(type: FileType): Map<string, StoredFile> {
    return this.files.get(type) as Map<string, StoredFile>;
  }

  private directoriesOf(type: FileType): Set<string> {
    return this.directories.get(type) as Set<string>;
  }

  private nextSpillPath(): string {
    this.spillDirectory ??= mkdtempSync(join(tmpdir(), "fake-comfyui-"));
    return join(this.spillDirectory, `file-${++this.spillCounter}`);
  }

  get(type: FileType, path: string): StoredFile | undefined {
    return this.filesOf(type).get(path);
  }

  isFile(type: FileType, path: string): boolean {
    return this.filesOf(type).has(path);
  }

  /** "" is the type directory itself, which always exists. */
  isDirectory(type: FileType, path: string): boolean {
    return path === "" || this.directoriesOf(type).has(path);
  }

  exists(type: FileType, path: string): boolean {
    return this.isFile(type, path) || this.isDirectory(type, path);
  }

  /** `os.makedirs(dir, exist_ok=True)`. */
  makeDirectories(type: FileType, path: string): void {
    if (path === "") return;
    const set = this.directoriesOf(type);
    for (const dir of ancestorDirectories(path + "/x")) set.add(dir);
  }

  private store(type: FileType, path: string, content: Pick<StoredFile, "size" | "bytes" | "diskPath">): StoredFile {
    this.makeDirectories(type, dirname(path));
    const file: StoredFile = { ...content, mtimeMs: this.now(), sequence: ++this.sequence };
    this.filesOf(type).set(path, file);
    return file;
  }

  write(type: FileType, path: string, bytes: Uint8Array): StoredFile {
    if (bytes.length < SPILL_THRESHOLD) return this.store(type, path, { size: bytes.length, bytes, diskPath: null });
    const diskPath = this.nextSpillPath();
    writeFileSync(diskPath, bytes);
    return this.store(type, path, { size: bytes.length, bytes: null, diskPath });
  }

  /** A file of `size` deterministic bytes (see deterministicBytes), written block by block. */
  writeDeterministic(type: FileType, path: string, size: number): StoredFile {
    if (size < SPILL_THRESHOLD) return this.write(type, path, deterministicBytes(size));
    const diskPath = this.nextSpillPath();
    const fd = openSync(diskPath, "w");
    try {
      for (let offset = 0; offset < size; offset += PATTERN_BLOCK.length) {
        writeSync(fd, PATTERN_BLOCK, 0, Math.min(PATTERN_BLOCK.length, size - offset));
      }
    } finally {
      closeSync(fd);
    }
    return this.store(type, path, { size, bytes: null, diskPath });
  }

  /** Names directly inside a directory: files and sub-directories. */
  namesIn(type: FileType, directory: string): string[] {
    const prefix = directory === "" ? "" : directory + "/";
    const names = new Set<string>();
    const collect = (path: string): void => {
      if (!path.startsWith(prefix)) return;
      const rest = path.slice(prefix.length);
      if (rest === "") return;
      names.add(rest.split("/")[0] as string);
    };
    for (const path of this.filesOf(type).keys()) collect(path);
    for (const path of this.directoriesOf(type)) collect(path);
    return [...names];
  }

  /** `/internal/files/{type}`: top-level files only, newest first (finding 23). */
  topLevelFilesNewestFirst(type: FileType): string[] {
    return [...this.filesOf(type).entries()]
      .filter(([path]) => !path.includes("/"))
      .sort(([, a], [, b]) => b.mtimeMs - a.mtimeMs || b.sequence - a.sequence)
      .map(([path]) => path);
  }

  /** Every file of every type (the v0.38 asset list shows them all). */
  allFiles(): FileEntry[] {
    const entries: FileEntry[] = [];
    for (const type of FILE_TYPES) {
      for (const [path, file] of this.filesOf(type)) entries.push({ type, path, file });
    }
    return entries;
  }
}
