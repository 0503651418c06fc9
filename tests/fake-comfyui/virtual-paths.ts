/**
 * Path rules of the real server, applied to a virtual directory tree. ComfyUI joins request
 * values onto its directories with `os.path.join` + `os.path.abspath` and then checks
 * `os.path.commonpath`; `path.posix.resolve` gives the same result for joining (an absolute part
 * restarts the path, `..` is folded), so the fake keeps the real directory names.
 */
import { posix } from "node:path";

export const COMFY_ROOT = "/srv/ComfyUI";
export const USER_ROOT = `${COMFY_ROOT}/user`;

export type FileType = "input" | "output" | "temp";
export const FILE_TYPES: readonly FileType[] = ["input", "output", "temp"];

export function typeDirectory(type: FileType): string {
  return `${COMFY_ROOT}/${type}`;
}

export function isFileType(value: unknown): value is FileType {
  return value === "input" || value === "output" || value === "temp";
}

/** `os.path.abspath(os.path.join(base, *parts))`. */
export function joinAbsolute(base: string, ...parts: string[]): string {
  return posix.resolve(base, ...parts);
}

/** `os.path.commonpath((root, path)) == root` for absolute, normalised paths. */
export function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith("/") ? root : root + "/");
}

/** Path of `absolute` relative to `root` with `/` separators ("" for the root itself). */
export function relativeTo(root: string, absolute: string): string {
  return absolute === root ? "" : absolute.slice(root.length + 1);
}

/** `os.path.basename`. */
export function basename(path: string): string {
  const index = path.lastIndexOf("/");
  return index === -1 ? path : path.slice(index + 1);
}

/** `os.path.dirname` of a relative path ("" at the top). */
export function dirname(path: string): string {
  const index = path.lastIndexOf("/");
  return index === -1 ? "" : path.slice(0, index);
}

/** Every ancestor directory of a relative path, outermost first: "a/b/c.json" → ["a", "a/b"]. */
export function ancestorDirectories(relativePath: string): string[] {
  const parts = relativePath.split("/").slice(0, -1);
  return parts.map((_, i) => parts.slice(0, i + 1).join("/"));
}

/** `os.path.splitext`. */
export function splitExtension(name: string): [string, string] {
  const dot = name.lastIndexOf(".");
  if (dot <= 0 || dot < name.lastIndexOf("/") + 1) return [name, ""];
  // Python keeps leading dots with the stem (".hidden" has no extension).
  const stem = name.slice(0, dot);
  if (/^\.*$/.test(basename(stem))) return [name, ""];
  return [stem, name.slice(dot)];
}

/**
 * `urllib.parse.unquote`: decode `%XX` runs as UTF-8 (bad bytes become U+FFFD) and leave
 * malformed escapes as they are. It does not turn `+` into a space.
 */
export function pyUnquote(text: string): string {
  if (!text.includes("%")) return text;
  return text.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
    const bytes = new Uint8Array(run.length / 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(run.slice(i * 3 + 1, i * 3 + 3), 16);
    return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  });
}
