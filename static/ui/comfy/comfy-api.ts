/**
 * The parts of ComfyUI's front end (1.27.10, fixtures/frontend-1.27.10/extension-api.json) the
 * gateway's extension uses, typed loosely: every member is optional because other front-end
 * versions may lack it, and the extension must degrade (CSS still hides, the server still refuses).
 */
export interface ComfyCommand {
  id: string;
  label?: string;
  function: (...args: unknown[]) => unknown;
}

export interface ComfyKeybinding {
  commandId: string;
  combo?: unknown;
}

export interface ComfyMenuItem {
  label?: string;
  commandId?: string;
  separator?: boolean;
  items?: ComfyMenuItem[];
}

export interface ComfySidebarTab {
  id: string;
  icon?: string;
  title?: string;
  tooltip?: string;
  label?: string;
  type: "custom" | "vue";
  render?: (element: HTMLElement) => void;
}

export interface ComfyStores {
  get(id: "command"): { getCommand?(id: string): ComfyCommand | undefined; commands?: ComfyCommand[] } | undefined;
  get(id: "keybinding"): { getKeybindingByCommandId?(id: string): ComfyKeybinding | undefined; unsetKeybinding?(binding: ComfyKeybinding): void } | undefined;
  get(id: "menuItem"): { menuItems?: ComfyMenuItem[] } | undefined;
  get(id: string): unknown;
}

export interface ComfyExtensionManager {
  _p?: { _s?: ComfyStores };
  toast?: { add(message: { severity: "success" | "info" | "warn" | "error"; summary: string; detail?: string; life?: number }): void };
  command?: { commands?: ComfyCommand[] };
  registerSidebarTab?(tab: ComfySidebarTab): void;
  unregisterSidebarTab?(id: string): void;
  getSidebarTabs?(): ComfySidebarTab[];
}

export interface ComfyExtension {
  name: string;
  commands?: { id: string; label: string; icon?: string; function: () => unknown }[];
  menuCommands?: { path: string[]; commands: string[] }[];
  setup?(app: ComfyApp): void | Promise<void>;
}

export interface ComfyApp {
  extensionManager?: ComfyExtensionManager;
  registerExtension(extension: ComfyExtension): void;
}

/** The running app: `window.comfyAPI.app.app` (what `/scripts/app.js` re-exports), or `window.app`. */
export function comfyApp(): ComfyApp | null {
  const scope = window as unknown as { comfyAPI?: { app?: { app?: ComfyApp } }; app?: ComfyApp };
  return scope.comfyAPI?.app?.app ?? scope.app ?? null;
}
