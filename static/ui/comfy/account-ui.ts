/**
 * The gateway's account panel (a sidebar tab in ComfyUI's page) and the admin panel, which
 * opens over ComfyUI's page as a modal dialog holding the same admin app as /mss-login/admin,
 * so that extension tabs registered in this page appear in it.
 */
import type { Me } from "../lib/api.ts";
import { h, replace } from "../lib/dom.ts";

const THEME_URL = "/mss-login/ui/theme.css";

function ensureTheme(): void {
  if (document.querySelector(`link[href="${THEME_URL}"]`)) return;
  document.head.appendChild(h("link", { rel: "stylesheet", href: THEME_URL }));
}

export function accountPanel(element: HTMLElement, me: Me, signOut: () => Promise<void>): void {
  ensureTheme();
  element.classList.add("mss-ui");
  replace(
    element,
    h(
      "div",
      { class: "mss-account-panel" },
      h("h2", {}, "Account"),
      h("p", {}, "Signed in as ", h("strong", {}, me.username), " ", h("span", { class: "mss-badge" }, me.role)),
      h(
        "div",
        { class: "mss-account-actions" },
        h("a", { class: "mss-btn", href: "/mss-login/me", target: "_blank", rel: "noopener" }, "My account"),
        me.is_admin ? h("button", { type: "button", class: "mss-btn", onclick: () => void openAdminPanel() }, "Admin panel") : null,
        h("button", { type: "button", class: "mss-btn", onclick: () => void signOut() }, "Sign out"),
      ),
    ),
  );
}

let openPanel: HTMLDialogElement | null = null;

export async function openAdminPanel(): Promise<void> {
  if (openPanel) return;
  ensureTheme();
  const container = h("div", { class: "mss-admin-embedded" });
  const dialog = h("dialog", { class: "mss-ui mss-admin-dialog", "aria-label": "MSS-Login admin" }, container);
  const close = () => {
    dialog.close();
    dialog.remove();
    openPanel = null;
  };
  // Escape goes through the app's own Close, which asks first when changes are unsaved. The
  // key is handled on the dialog itself: ComfyUI's page has its own key handlers further up,
  // and a page handler that swallows Escape would stop the dialog's own "cancel".
  const requestClose = () => {
    const closeButton = container.querySelector<HTMLButtonElement>("[data-mss-close]");
    if (closeButton) closeButton.click();
    else close();
  };
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    requestClose();
  });
  dialog.addEventListener("keydown", (event) => {
    event.stopPropagation();
    if (event.key !== "Escape" || event.defaultPrevented) return;
    // An inner dialog (a confirmation) handles its own Escape.
    if (event.target instanceof Element && event.target.closest("dialog") !== dialog) return;
    event.preventDefault();
    requestClose();
  });
  document.body.appendChild(dialog);
  openPanel = dialog;
  dialog.showModal();
  replace(container, h("p", { class: "mss-muted" }, "Loading…"));
  const { mountAdmin } = await import("../admin/app.ts");
  await mountAdmin(container, { embedded: true, onClose: close });
}
