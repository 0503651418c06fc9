/**
 * Each user's data directory (`user/<id>/`: settings, workflows, …) as an in-memory tree.
 * Listings reproduce the orders the real server showed: `GET /userdata` follows Python's
 * `glob('**')` walk (a directory's files, then each sub-directory in turn) and `/v2/userdata`
 * is flattened with all directories first, then all files, each sorted by name (finding 16).
 * Real directory order is the file system's; the fake uses name order for both.
 */
import { ancestorDirectories, basename, dirname } from "./virtual-paths.ts";

export interface UserFile {
  bytes: Uint8Array;
  mtimeMs: number;
  /** Linux ctime: changes on write and on rename (a moved file gets a new "created"). */
  ctimeMs: number;
}

export type V2Entry =
  | { name: string; path: string; type: "directory" }
  | { name: string; path: string; type: "file"; size: number; modified: number };

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export class UserTree {
  readonly files = new Map<string, UserFile>();
  readonly directories = new Set<string>();

  isFile(path: string): boolean {
    return this.files.has(path);
  }

  isDirectory(path: string): boolean {
    return path === "" || this.directories.has(path);
  }

  exists(path: string): boolean {
    return this.isFile(path) || this.isDirectory(path);
  }

  makeDirectories(path: string): void {
    if (path !== "") for (const dir of ancestorDirectories(path + "/x")) this.directories.add(dir);
  }

  write(path: string, bytes: Uint8Array, now: number): UserFile {
    this.makeDirectories(dirname(path));
    const file: UserFile = { bytes, mtimeMs: now, ctimeMs: now };
    this.files.set(path, file);
    return file;
  }

  delete(path: string): boolean {
    return this.files.delete(path);
  }

  /** `shutil.move` of a file: content and mtime kept, ctime set to now. */
  move(source: string, destination: string, now: number): UserFile | undefined {
    const file = this.files.get(source);
    if (file === undefined) return undefined;
    this.files.delete(source);
    this.makeDirectories(dirname(destination));
    const moved: UserFile = { ...file, ctimeMs: now };
    this.files.set(destination, moved);
    return moved;
  }

  private childrenOf(directory: string): { files: string[]; directories: string[] } {
    const prefix = directory === "" ? "" : directory + "/";
    const isChild = (path: string): boolean => path.startsWith(prefix) && !path.slice(prefix.length).includes("/");
    return {
      files: [...this.files.keys()].filter(isChild).sort(byCodePoint),
      directories: [...this.directories].filter((d) => d !== directory && isChild(d)).sort(byCodePoint),
    };
  }

  /** Files under `directory` in `glob` order, as paths relative to `directory`. */
  listFiles(directory: string, recurse: boolean): string[] {
    const prefix = directory === "" ? "" : directory + "/";
    const out: string[] = [];
    const addFilesOf = (dir: string): void => {
      out.push(...this.childrenOf(dir).files.map((path) => path.slice(prefix.length)));
    };
    // glob lists a directory's own entries, then walks the sub-directories depth first.
    const walk = (dir: string): void => {
      for (const sub of this.childrenOf(dir).directories) {
        addFilesOf(sub);
        walk(sub);
      }
    };
    addFilesOf(directory);
    if (recurse) walk(directory);
    return out;
  }

  /**
   * `/v2/userdata` listing of everything below `directory`; paths relative to the user root,
   * `modified` in float seconds (in every profile).
   */
  listV2(directory: string): V2Entry[] {
    const prefix = directory === "" ? "" : directory + "/";
    const below = (path: string): boolean => path.startsWith(prefix) && path !== directory;
    const directories: V2Entry[] = [...this.directories]
      .filter(below)
      .map((path) => ({ name: basename(path), path, type: "directory" as const }));
    const files: V2Entry[] = [...this.files.entries()]
      .filter(([path]) => below(path))
      .map(([path, file]) => ({
        name: basename(path),
        path,
        type: "file" as const,
        size: file.bytes.length,
        modified: file.mtimeMs / 1000,
      }));
    const byName = (a: V2Entry, b: V2Entry): number => byCodePoint(a.name, b.name);
    return [...directories.sort(byName), ...files.sort(byName)];
  }
}

export class UserDataStore {
  private readonly trees = new Map<string, UserTree>();

  /** The user's tree; ComfyUI creates the user directory on first access (`create_dir=True`). */
  tree(userId: string): UserTree {
    let tree = this.trees.get(userId);
    if (tree === undefined) {
      tree = new UserTree();
      this.trees.set(userId, tree);
    }
    return tree;
  }

  clear(): void {
    this.trees.clear();
  }

  /** Every user's files, e.g. to seed another fake (the recorded restart of finding 13). */
  snapshot(): Record<string, Record<string, Uint8Array>> {
    const out: Record<string, Record<string, Uint8Array>> = {};
    for (const [user, tree] of this.trees) {
      out[user] = Object.fromEntries([...tree.files].map(([path, file]) => [path, file.bytes]));
    }
    return out;
  }
}
