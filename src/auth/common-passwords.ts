// The bundled list of common passwords (about 49 000 entries, all lower case) from
// @zxcvbn-ts/language-common. A static import, so `bun build --compile` embeds the list in
// the binary: no file to ship next to it, no network at run time.
import { dictionary } from "@zxcvbn-ts/language-common";

let commonPasswords: ReadonlySet<string> | null = null;

/** The list as a set, built on first use (the package decompresses it when imported). */
function commonPasswordSet(): ReadonlySet<string> {
  commonPasswords ??= new Set(dictionary["passwords-common"].map((entry) => entry.toLowerCase()));
  return commonPasswords;
}

/** True when `password`, ignoring case, is on the common-password list. */
export function isCommonPassword(password: string): boolean {
  return commonPasswordSet().has(password.toLowerCase());
}

/** How many entries the list holds (for tests and `help`). */
export function commonPasswordCount(): number {
  return commonPasswordSet().size;
}
