// The version comes from package.json at build time: `bun build --compile` inlines the
// imported field, so the binary needs no package.json next to it.
import { version as packageVersion } from "../package.json" with { type: "json" };

export const PRODUCT_NAME = "mss-login";
export const VERSION: string = packageVersion;

/** One line for `mss-login version`, e.g. `mss-login 0.1.0 (bun 1.4.5, linux-x64)`. */
export function versionLine(): string {
  return `${PRODUCT_NAME} ${VERSION} (bun ${Bun.version}, ${process.platform}-${process.arch})`;
}
