/**
 * Dialogs and notices shared by the gateway's pages and the admin panel inside ComfyUI's page.
 * Everything is rendered under a `.mss-ui` root so that the theme's rules never touch the host
 * page, and every dialog is a real `<dialog>` (focus kept inside, Escape closes it).
 */
import { h, field } from "./dom.ts";

function host(): HTMLElement {
  let root = document.getElementById("mss-ui-overlay-root");
  if (!root) {
    root = h("div", { id: "mss-ui-overlay-root", class: "mss-ui" });
    document.body.appendChild(root);
  }
  return root;
}

/** A short notice at the top right; errors stay longer. */
export function notify(message: string, kind: "ok" | "error" | "info" = "info"): void {
  let list = document.getElementById("mss-ui-notices");
  if (!list) {
    list = h("div", { id: "mss-ui-notices", class: "mss-notices", role: "status", "aria-live": "polite" });
    host().appendChild(list);
  }
  const item = h("div", { class: `mss-notice mss-notice-${kind}` }, message);
  list.appendChild(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

/** Opens a modal dialog; resolves with what `body` settles on, or null when dismissed. */
export function modal<T>(title: string, body: (close: (value: T | null) => void) => Node[]): Promise<T | null> {
  return new Promise((resolve) => {
    const titleId = `mss-dialog-${Math.random().toString(36).slice(2)}`;
    const dialog = h("dialog", { class: "mss-dialog", "aria-labelledby": titleId });
    let settled = false;
    const close = (value: T | null) => {
      if (settled) return;
      settled = true;
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      close(null);
    });
    dialog.append(h("h2", { id: titleId }, title), ...body(close));
    host().appendChild(dialog);
    dialog.showModal();
  });
}

export function confirmAction(title: string, message: string, confirmLabel = "Confirm", danger = false, dismissLabel = "Cancel"): Promise<boolean> {
  return modal<boolean>(title, (close) => [
    h("p", {}, message),
    h(
      "div",
      { class: "mss-actions" },
      h("button", { type: "button", class: "mss-btn", onclick: () => close(false) }, dismissLabel),
      h("button", { type: "button", class: danger ? "mss-btn mss-danger" : "mss-btn mss-primary", onclick: () => close(true) }, confirmLabel),
    ),
  ]).then((value) => value === true);
}

export function askPassword(title: string, message: string): Promise<string | null> {
  return modal<string>(title, (close) => {
    const input = h("input", { type: "password", autocomplete: "current-password", required: true, maxlength: 1024 });
    const form = h(
      "form",
      {
        onsubmit: (event: Event) => {
          event.preventDefault();
          close(input.value);
        },
      },
      h("p", {}, message),
      field("Password", input),
      h("div", { class: "mss-actions" }, h("button", { type: "button", class: "mss-btn", onclick: () => close(null) }, "Cancel"), h("button", { type: "submit", class: "mss-btn mss-primary" }, "Confirm")),
    );
    queueMicrotask(() => input.focus());
    return [form];
  });
}

/** A button that copies `text` and says so. */
export function copyButton(text: string, label = "Copy"): HTMLButtonElement {
  const button = h("button", { type: "button", class: "mss-btn" }, label);
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      // Clipboard refused (plain HTTP, permissions): select the text for the user instead.
      button.textContent = "Select and copy it by hand";
    }
    setTimeout(() => (button.textContent = label), 2500);
  });
  return button;
}
