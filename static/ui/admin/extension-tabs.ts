/**
 * The Extension Tabs API (reference §12): `window.mss_loginAdminTabs`, through which other
 * ComfyUI extensions add their own tabs to the admin panel. Same global name, members and
 * rules as the original, so extensions written for it keep working:
 *   register({ id, label, render(container, ctx), order?, icon? }) → boolean
 *   unregister(id) → boolean, getAll() → copy sorted by order, clear()
 * `ctx` is `{ usersList, groupsConfig, currentUser }`. Changes are announced with the window
 * event `mss-login-admin-tabs-changed`, so an open panel shows a tab registered late.
 */
export interface AdminTabContext {
  /** `GET /mss-login/api/users` as the original returned it. */
  usersList: unknown;
  /** `GET /mss-login/api/groups`. */
  groupsConfig: unknown;
  /** `GET /mss-login/api/me`. */
  currentUser: unknown;
}

export interface AdminTab {
  id: string;
  label: string;
  render: (container: HTMLElement, context: AdminTabContext) => void | Promise<void>;
  order: number;
  icon?: string;
}

export interface AdminTabsApi {
  register(config: { id: string; label: string; render: AdminTab["render"]; order?: number; icon?: string }): boolean;
  unregister(id: string): boolean;
  getAll(): AdminTab[];
  clear(): void;
  _tabs: AdminTab[];
  _defaultOrder: number;
}

export const ADMIN_TABS_CHANGED = "mss-login-admin-tabs-changed";
const TAB_ID = /^[a-z0-9_-]+$/;
/** Ids of built-in sections (the original's and ours): an extension may not take them. */
export const BUILT_IN_TAB_IDS: ReadonlySet<string> = new Set([
  "users", "perms", "permissions", "sessions", "settings", "ip", "env", "nsfw", "audit", "notifications", "downloads",
  "shared-models", "model-download", "s3", "token-storage", "users-db", "login-appearance",
]);

declare global {
  interface Window {
    mss_loginAdminTabs?: AdminTabsApi;
  }
}

function createAdminTabs(): AdminTabsApi {
  const announce = () => window.dispatchEvent(new Event(ADMIN_TABS_CHANGED));
  const api: AdminTabsApi = {
    _tabs: [],
    _defaultOrder: 100,
    register(config) {
      const problem =
        config === null || typeof config !== "object"
          ? "a tab needs { id, label, render }"
          : typeof config.id !== "string" || !TAB_ID.test(config.id)
            ? `tab id "${String(config.id)}" must match ^[a-z0-9_-]+$`
            : BUILT_IN_TAB_IDS.has(config.id)
              ? `tab id "${config.id}" belongs to a built-in section`
              : api._tabs.some((tab) => tab.id === config.id)
                ? `tab id "${config.id}" is already registered`
                : typeof config.label !== "string" || config.label.trim() === ""
                  ? `tab "${config.id}" needs a label`
                  : typeof config.render !== "function"
                    ? `tab "${config.id}" needs a render(container, context) function`
                    : null;
      if (problem !== null) {
        console.warn(`[mss-login] admin tab not registered: ${problem}`);
        return false;
      }
      const order = typeof config.order === "number" && Number.isFinite(config.order) ? config.order : api._defaultOrder;
      const tab: AdminTab = { id: config.id, label: config.label, render: config.render, order };
      if (typeof config.icon === "string") tab.icon = config.icon;
      api._tabs.push(tab);
      api._tabs.sort((a, b) => a.order - b.order);
      announce();
      return true;
    },
    unregister(id) {
      const index = api._tabs.findIndex((tab) => tab.id === id);
      if (index === -1) return false;
      api._tabs.splice(index, 1);
      announce();
      return true;
    },
    getAll() {
      return api._tabs.map((tab) => ({ ...tab }));
    },
    clear() {
      api._tabs.splice(0);
      announce();
    },
  };
  return api;
}

/** Creates the registry once per page (the early script and the admin app both call this). */
export function installAdminTabs(): AdminTabsApi {
  if (!window.mss_loginAdminTabs) window.mss_loginAdminTabs = createAdminTabs();
  return window.mss_loginAdminTabs;
}
