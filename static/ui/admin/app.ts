/** The admin app shell: navigation between sections and extension tabs. (Being written.) */
import { h, replace } from "../lib/dom.ts";

export interface MountOptions {
  embedded: boolean;
  onClose?: () => void;
}

export async function mountAdmin(container: HTMLElement, options: MountOptions): Promise<void> {
  replace(container, h("main", { class: "mss-page-main" }, h("h1", {}, options.embedded ? "MSS-Login admin" : "Admin")));
}
