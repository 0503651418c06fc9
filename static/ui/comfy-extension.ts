/**
 * The gateway's extension inside ComfyUI's page (the gateway appends this module to
 * `/api/extensions`). It hides what the caller's role may not use through the front end's own
 * APIs (commands, keybindings, sidebar tabs, the menu store; CSS only where no API reaches,
 * see comfy/ui-rules.ts), explains the server's refusals in a toast, and adds an account menu
 * and the admin panel. Hiding is cosmetic: the gateway refuses all of it on the server anyway.
 */
import { api, loadMe, type Me } from "./lib/api.ts";
import { notify } from "./lib/ui.ts";
import { installAdminTabs } from "./admin/extension-tabs.ts";
import { comfyApp, type ComfyApp, type ComfyMenuItem } from "./comfy/comfy-api.ts";
import { readPageState } from "./comfy/page-state.ts";
import { hidingCss, rulesFor, type UiRule } from "./comfy/ui-rules.ts";
import { accountPanel, openAdminPanel } from "./comfy/account-ui.ts";

export const EXTENSION_NAME = "mss-login.enforcement";

/** Codes of the gateway's refusals that deserve a word to the user (any JSON `code` does). */
const REFUSAL_STATUSES = new Set([403, 413, 429]);

function toast(app: ComfyApp, severity: "warn" | "error", summary: string, detail: string): void {
  const toasts = app.extensionManager?.toast;
  if (toasts) toasts.add({ severity, summary, detail, life: 6000 });
  else notify(`${summary}: ${detail}`, "error");
}

/** Replaces the function of each denied command: running it (menu, key, palette) only explains. */
function neutraliseCommands(app: ComfyApp, rules: UiRule[]): void {
  const store = app.extensionManager?._p?._s?.get("command");
  const all = store?.commands ?? app.extensionManager?.command?.commands ?? [];
  for (const rule of rules) {
    for (const id of rule.commands ?? []) {
      const command = store?.getCommand?.(id) ?? all.find((candidate) => candidate.id === id);
      if (command === undefined || (command as { __mssDenied?: true }).__mssDenied) continue;
      command.function = () => toast(app, "warn", "Not allowed", rule.refusal);
      (command as { __mssDenied?: true }).__mssDenied = true;
    }
  }
}

/** Unsets the keybindings of denied commands (the front end does not persist this: done on every load). */
function unsetKeybindings(app: ComfyApp, rules: UiRule[]): void {
  const store = app.extensionManager?._p?._s?.get("keybinding");
  if (!store?.getKeybindingByCommandId || !store.unsetKeybinding) return;
  for (const rule of rules) {
    for (const id of rule.keybindings ?? []) {
      // A command may have several bindings; stop if the store does not drop one (no endless loop).
      for (let i = 0; i < 8; i++) {
        const binding = store.getKeybindingByCommandId(id);
        if (binding === undefined) break;
        store.unsetKeybinding(binding);
      }
    }
  }
}

function removeSidebarTabs(app: ComfyApp, rules: UiRule[]): void {
  const manager = app.extensionManager;
  if (!manager?.unregisterSidebarTab) return;
  const present = new Set((manager.getSidebarTabs?.() ?? []).map((tab) => tab.id));
  for (const rule of rules) for (const id of rule.sidebarTabs ?? []) if (present.has(id)) manager.unregisterSidebarTab(id);
}

/** Removes menu entries of denied commands from the menu store (the fixed root entries need the CSS). */
function pruneMenu(app: ComfyApp, rules: UiRule[]): void {
  const store = app.extensionManager?._p?._s?.get("menuItem");
  if (!store?.menuItems) return;
  const denied = new Set(rules.flatMap((rule) => rule.commands ?? []));
  const prune = (items: ComfyMenuItem[]) => {
    for (let i = items.length - 1; i >= 0; i--) {
      const item = items[i]!;
      if (item.commandId !== undefined && denied.has(item.commandId)) items.splice(i, 1);
      else if (item.items) prune(item.items);
    }
    // No separator left at either end or next to another one.
    for (let i = items.length - 1; i >= 0; i--) {
      if (items[i]!.separator && (i === 0 || i === items.length - 1 || items[i - 1]!.separator)) items.splice(i, 1);
    }
  };
  prune(store.menuItems);
}

/**
 * Ctrl+S and Ctrl+O must be inert when saving or opening is denied: with the binding unset, the
 * browser would otherwise open its own "save page" or "open file" dialog.
 */
function guardShortcuts(app: ComfyApp, rules: UiRule[]): void {
  const denied = new Set(rules.flatMap((rule) => rule.keybindings ?? []));
  const blocked: Record<string, { command: string; rule: UiRule | undefined }> = {
    s: { command: "Comfy.SaveWorkflow", rule: rules.find((rule) => rule.keybindings?.includes("Comfy.SaveWorkflow")) },
    o: { command: "Comfy.OpenWorkflow", rule: rules.find((rule) => rule.keybindings?.includes("Comfy.OpenWorkflow")) },
  };
  window.addEventListener(
    "keydown",
    (event) => {
      if (!(event.ctrlKey || event.metaKey) || event.altKey || event.shiftKey) return;
      const entry = blocked[event.key.toLowerCase()];
      if (entry === undefined || !denied.has(entry.command)) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      if (entry.rule) toast(app, "warn", "Not allowed", entry.rule.refusal);
    },
    true,
  );
}

/** Tells the user why the server refused (the front end itself would show a bare error or nothing). */
function explainRefusals(app: ComfyApp): void {
  const original = window.fetch;
  let last = { text: "", at: 0 };
  const wrapped = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const response = await original.call(window, input, init);
    if (REFUSAL_STATUSES.has(response.status)) {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      // The gateway's own pages and panels report their errors themselves.
      if (!new URL(url, location.href).pathname.includes("/mss-login/")) {
        void response
          .clone()
          .json()
          .then((body: { code?: unknown; error?: unknown; message?: unknown }) => {
            if (typeof body?.code !== "string") return;
            const detail = typeof body.error === "string" ? body.error : typeof body.message === "string" ? body.message : body.code;
            const summary = response.status === 403 ? "Action blocked" : "Limit reached";
            const now = Date.now();
            if (last.text === detail && now - last.at < 1500) return;
            last = { text: detail, at: now };
            toast(app, "error", summary, detail);
          })
          .catch(() => undefined);
      }
    }
    return response;
  };
  window.fetch = wrapped as typeof window.fetch;
}

/** Adds the hiding stylesheet if the page came without it (the gateway could not rewrite it). */
function ensureHidingCss(permissions: Record<string, boolean>): void {
  if (document.getElementById("mss-login-hide")) return;
  const style = document.createElement("style");
  style.id = "mss-login-hide";
  style.textContent = hidingCss(permissions);
  document.head.appendChild(style);
}

async function currentUser(): Promise<Me | null> {
  try {
    return await loadMe();
  } catch {
    const state = readPageState();
    return state === null ? null : { username: state.username, role: state.role, is_admin: state.isAdmin, permissions: state.permissions };
  }
}

function enforce(app: ComfyApp, rules: UiRule[]): void {
  neutraliseCommands(app, rules);
  unsetKeybindings(app, rules);
  removeSidebarTabs(app, rules);
  pruneMenu(app, rules);
}

function register(app: ComfyApp): void {
  installAdminTabs();
  const state = readPageState();
  const isAdmin = state?.isAdmin === true;
  const commands = [
    { id: "MssLogin.MyAccount", label: "My account", icon: "pi pi-user", function: () => window.open("/mss-login/me", "_blank", "noopener") },
    { id: "MssLogin.SignOut", label: "Sign out", icon: "pi pi-sign-out", function: () => signOut() },
  ];
  if (isAdmin) commands.splice(1, 0, { id: "MssLogin.Admin", label: "Admin panel", icon: "pi pi-shield", function: () => openAdminPanel() });
  app.registerExtension({
    name: EXTENSION_NAME,
    commands,
    menuCommands: [{ path: ["Account"], commands: commands.map((command) => command.id) }],
    async setup(app) {
      const me = await currentUser();
      const permissions = me?.permissions ?? state?.permissions ?? {};
      ensureHidingCss(permissions);
      const rules = rulesFor(permissions);
      explainRefusals(app);
      guardShortcuts(app, rules);
      enforce(app, rules);
      // Extensions that load late (Manager, custom nodes) add commands and tabs after setup.
      for (const delay of [1000, 3000, 10000]) setTimeout(() => enforce(app, rules), delay);
      if (me !== null) {
        app.extensionManager?.registerSidebarTab?.({
          id: "mss-login-account",
          icon: "pi pi-user",
          title: "Account",
          tooltip: `Account (${me.username})`,
          label: "Account",
          type: "custom",
          render: (element) => accountPanel(element, me, signOut),
        });
      }
    },
  });
}

/** Signs out with a same-origin POST (the gateway refuses a cross-site one). */
async function signOut(): Promise<void> {
  try {
    await api("POST", "/logout", {});
  } finally {
    location.href = "/login";
  }
}

/** The original's globals, for extensions that open the admin dialog themselves. */
class MssLoginDialog {
  show(): void {
    void openAdminPanel();
  }
}
(window as unknown as { mss_loginDialog: typeof MssLoginDialog }).mss_loginDialog = MssLoginDialog;

const app = comfyApp();
if (app) register(app);
else console.warn("[mss-login] ComfyUI's app was not found; only the gateway's server-side checks apply.");
