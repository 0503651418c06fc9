/**
 * What node validation needs to know about `input/`: LoadImage's option list and whether an
 * (optionally annotated) input file exists.
 */
import { isImageFilename } from "./file-response.ts";
import type { FileStore } from "./file-store.ts";
import { isFileType } from "./virtual-paths.ts";

/** Top-level image files of `input/`, sorted: LoadImage's options (su-106, mu-074). */
export function loadImageOptions(files: FileStore): string[] {
  return files
    .namesIn("input", "")
    .filter((name) => files.isFile("input", name) && isImageFilename(name))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** `folder_paths.exists_annotated_filepath`: "name.png [output]" looks in output/. */
export function inputFileExists(files: FileStore, annotated: string): boolean {
  const match = / \[(input|output|temp)\]$/.exec(annotated);
  const type = match !== null && isFileType(match[1]) ? match[1] : "input";
  const name = match === null ? annotated : annotated.slice(0, match.index);
  return files.isFile(type, name);
}
