/**
 * One section of the admin app. A new section is one file in `sections/` exporting a
 * `AdminSection`, plus its line in `sections/index.ts`.
 */
import type { Me } from "../lib/api.ts";

export interface AdminContext {
  /** The signed-in admin (`GET /mss-login/api/me`). */
  me: Me;
  /** True inside ComfyUI's page (a dialog), false on the standalone /mss-login/admin page. */
  embedded: boolean;
  /**
   * The section says whether it holds unsaved changes ("3 unsaved changes"), or null when it
   * holds none. While a message is set, the app asks before leaving the section, closing the
   * panel or unloading the page.
   */
  setUnsaved(message: string | null): void;
  /** Loads the signed-in user again and re-renders the app (e.g. after handing over ownership). */
  reload(): Promise<void>;
}

export interface AdminSection {
  /** Stable id: used in the URL hash (#users) and by tests. */
  id: string;
  label: string;
  /** Sections are listed by order (built-ins 0-49; extension tabs default to 100). */
  order: number;
  /** Shown only when this returns true (e.g. owner-only sections). Default: every admin. */
  visible?: (context: AdminContext) => boolean;
  /** Renders into an empty container; called each time the section is opened. */
  render: (container: HTMLElement, context: AdminContext) => void | Promise<void>;
}
