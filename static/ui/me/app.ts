/** The user's own page: password, two-factor, API tokens, sessions. (Being written.) */
import { h, replace } from "../lib/dom.ts";

export async function mountMe(container: HTMLElement): Promise<void> {
  replace(container, h("main", { class: "mss-page-main" }, h("h1", {}, "My account")));
}
