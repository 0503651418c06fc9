/**
 * Permissions: the role × permission matrix of `GET /mss-login/api/groups`, grouped as the
 * server treats the keys (src/rbac/permissions.ts): backend keys the server enforces, keys that
 * hide parts of ComfyUI's page, extension keys (which also close the extension's server paths),
 * and custom keys other extensions read. The owner's column is computed (every key any role
 * has) and locked; the admin column is the owner's to change. Changes collect until one Save
 * (`PUT /mss-login/api/groups` with only the changed cells, `{groups: {role: {key: bool}}}`).
 */
import { api } from "../../lib/api.ts";
import { field, h, replace } from "../../lib/dom.ts";
import { confirmAction, notify } from "../../lib/ui.ts";
import {
  BACKEND_KEYS,
  EXTENSION_KEYS,
  missingKeyDefault,
  ownerRow,
  PERMISSION_KEY_PATTERN,
  roleAllows,
  UI_KEYS,
  type PermissionMatrix,
} from "../../../../src/rbac/permissions.ts";
import { badge, type BadgeKind, loadFirst, outcomeLine, plural, roleLabel, setFieldError } from "../parts.ts";
import type { AdminContext, AdminSection } from "../section.ts";

type Risk = "high" | "medium" | "low" | "safeguard";

/** What each backend key allows, and how much harm a careless grant can do (reference §2.3). */
const BACKEND_INFO: Record<string, { risk: Risk; why: string; allows: string }> = {
  can_run: { risk: "low", why: "uses the GPU", allows: "Queue workflows (prompts) and manage their own entries in the queue." },
  can_upload: { risk: "low", why: "writes input files", allows: "Upload images, masks and other files into ComfyUI's input folder." },
  can_access_api: { risk: "medium", why: "broad API access", allows: "Use ComfyUI's other /api routes (node list, history, settings); ComfyUI's page needs it." },
  can_modify_workflows: { risk: "low", why: "changes saved workflows", allows: "Save, rename and delete workflows (admins always may)." },
  can_access_manager: { risk: "high", why: "installs code on the server", allows: "Open ComfyUI-Manager: install, update and remove custom nodes (admins always may)." },
  can_manage_extensions: { risk: "high", why: "changes everyone's page", allows: "Turn front-end extensions on or off and change their settings (admins always may)." },
  can_see_restricted_settings: { risk: "low", why: "shows more settings", allows: "See the settings panels that are hidden from ordinary users." },
  can_have_api_tokens: { risk: "medium", why: "long-lived credentials", allows: "Create personal API tokens for scripts and apps (admins always may)." },
  can_have_non_expiring_jwt: { risk: "high", why: "credentials that never expire", allows: "Create API tokens and sessions without an expiry date." },
  can_view_console: { risk: "high", why: "sees server output", allows: "Read the server's console output, which shows other users' prompts and file paths." },
  mfa_required: { risk: "safeguard", why: "off weakens sign-in", allows: "Must sign in with a second factor; set-up is forced at the next sign-in." },
  can_view_all_comfyui_items: { risk: "high", why: "bypasses model grants", allows: "See and use every model and item, ignoring per-user model grants." },
  can_access_s3_storage: { risk: "medium", why: "shared storage", allows: "See and use models stored in S3 and the S3 routes." },
  can_download_models: { risk: "medium", why: "fills the server's disk", allows: "Download models from CivitAI or Hugging Face onto the server." },
  can_manage_model_sharing: { risk: "medium", why: "changes others' access", allows: "Grant and revoke other users' access to models." },
  can_login_locally_without_auth: { risk: "high", why: "sign-in without a password", allows: "Sign in without a password from the local network or Tailscale, when that sign-in is on." },
  can_update_mss_login: { risk: "high", why: "replaces the gateway", allows: "See and apply updates to MSS-Login." },
};

const RISK_BADGE: Record<Risk, { text: string; kind: BadgeKind }> = {
  high: { text: "high risk", kind: "bad" },
  medium: { text: "medium", kind: "warn" },
  low: { text: "low", kind: undefined },
  safeguard: { text: "safeguard", kind: "good" },
};

/** What the interface keys show in ComfyUI's page (hidden when not granted). */
const UI_INFO: Record<string, string> = {
  ui_queue_button: "The Run (queue) button.",
  ui_batch_widget: "The batch count next to the Run button.",
  ui_extra_options: "The run options (auto-queue and the like).",
  ui_side_history: "The history side panel.",
  ui_side_queue: "The queue side panel.",
  ui_side_assets: "The assets (media) side panel.",
  ui_side_templates: "The templates side panel.",
  ui_menu_save: "Save and Export in the workflow menu.",
  ui_menu_load: "Open and Load in the workflow menu.",
  ui_menu_refresh: "Refresh node definitions.",
  ui_workflow_breadcrumb: "The workflow breadcrumb and tabs.",
  ui_menu_clipspace: "The Clipspace menu entry.",
  ui_menu_clear: "Clear workflow.",
  ui_menu_manager: "The Manager menu entry.",
  ui_menu_extensions: "The extensions menu entry.",
  ui_menu_templates: "The templates menu entry.",
  settings_comfy: "Settings: the Comfy category.",
  settings_extension: "Settings: the Extension category.",
  settings_user: "Settings: the User category.",
  settings_keybinding: "Settings: the Keybinding category.",
  settings_appearance: "Settings: the Appearance category.",
  settings_litegraph: "Settings: the LiteGraph category.",
  Settings_3D: "Settings: the 3D category.",
  settings_maskeditor: "Settings: the Mask Editor category.",
  settings_mss_loginsettings: "Settings: the MSS-Login category.",
  settings_impact: "Settings: the Impact Pack category.",
  settings_about: "Settings: the About page.",
};

const EXTENSION_INFO: Record<string, string> = {
  settings_itools: "iTools: its settings and its server paths (/extensions/ComfyUI-iTools, /api/itools).",
  settings_crystools: "Crystools: its settings, bars and server paths (/extensions/ComfyUI-Crystools, /api/crystools).",
  settings_rgthree: "rgthree: its settings, menu and server paths (/extensions/rgthree-comfy, /api/rgthree, /rgthree).",
  settings_gallery: "Gallery: its settings and server paths (/extensions/comfyui-gallery, /api/gallery).",
};

const BUILT_IN_ROLES = ["owner", "admin", "power", "user", "guest"];
const KNOWN = new Set<string>([...BACKEND_KEYS, ...UI_KEYS, ...EXTENSION_KEYS]);

/** Keys an admin holds whatever the admin row says (the server's "admins always"). */
function alwaysForAdmin(key: string): boolean {
  return roleAllows({ admin: { [key]: false } }, "admin", key);
}

/** A key in code type that may wrap after its underscores and dots (long keys on narrow screens). */
function keyName(key: string): HTMLElement {
  const code = h("code", {});
  key.split(/(?<=[_.:-])/).forEach((part, index) => {
    if (index > 0) code.appendChild(h("wbr", {}));
    code.appendChild(document.createTextNode(part));
  });
  return code;
}

export const permissionsSection: AdminSection = {
  id: "permissions",
  label: "Permissions",
  order: 20,
  render: (container, context) => renderPermissions(container, context),
};

interface Cell {
  cell: HTMLTableCellElement;
  input: HTMLInputElement;
}

async function renderPermissions(container: HTMLElement, context: AdminContext): Promise<void> {
  const loaded = await loadFirst<PermissionMatrix>(container, { loading: "Loading the permission matrix…", failed: "Could not load the permissions" }, async () => (await api<{ groups: PermissionMatrix }>("GET", "/mss-login/api/groups")).groups, () => void renderPermissions(container, context));
  if (loaded === null) return;
  let original: PermissionMatrix = loaded;
  const { me } = context;
  const cellKey = (role: string, key: string) => `${role}\u0000${key}`;
  /** Unsaved values, by role and key. */
  const pending = new Map<string, boolean>();
  /** Custom keys added here and not saved yet. */
  let newKeys: string[] = [];
  const cells = new Map<string, Cell>();
  const outcome = outcomeLine();

  const roles = [...BUILT_IN_ROLES.filter((role) => role in original || role === "owner"), ...Object.keys(original).filter((role) => !BUILT_IN_ROLES.includes(role)).sort()];
  const editable = (role: string) => role !== "owner" && (role !== "admin" || me.role === "owner");
  const storedValue = (role: string, key: string) => original[role]?.[key] ?? missingKeyDefault(role, key);
  const value = (role: string, key: string) => pending.get(cellKey(role, key)) ?? storedValue(role, key);

  /** The owner's column as the server will compute it after the save: every key any role has. */
  function ownerValue(key: string): boolean {
    const matrix: PermissionMatrix = {};
    for (const role of roles) {
      if (role === "owner") continue;
      const row: Record<string, boolean> = { ...original[role] };
      const changed = pending.get(cellKey(role, key));
      if (changed !== undefined) row[key] = changed;
      matrix[role] = row;
    }
    return ownerRow(matrix)[key] ?? missingKeyDefault("owner", key);
  }

  function allKeys(): string[] {
    const keys = new Set<string>(newKeys);
    for (const row of Object.values(original)) for (const key of Object.keys(row)) keys.add(key);
    return [...keys];
  }

  // ----- the save bar -----
  const counter = h("p", { class: "mss-savebar-count", "aria-live": "polite", tabindex: "-1" });
  const saveButton = h("button", { type: "button", class: "mss-btn mss-primary" }, "Save");
  const discardButton = h("button", { type: "button", class: "mss-btn" }, "Discard");
  saveButton.addEventListener("click", () => void save());
  discardButton.addEventListener("click", () => void discard());
  const bar = h("div", { class: "mss-savebar" }, outcome.element, counter, h("div", { class: "mss-row" }, discardButton, saveButton));

  function updateBar(): void {
    const count = pending.size;
    counter.textContent = count === 0 ? "No unsaved changes" : plural(count, "unsaved change");
    counter.classList.toggle("mss-savebar-dirty", count > 0);
    saveButton.disabled = count === 0;
    discardButton.disabled = count === 0;
    context.setUnsaved(count === 0 ? null : plural(count, "unsaved permission change"));
  }

  function accessibleName(role: string, key: string): string {
    if (role === "owner") return `owner: ${key} (computed)`;
    if (role === "admin" && alwaysForAdmin(key)) return `admin: ${key} (always granted to admins)`;
    return `${role}: ${key}${pending.has(cellKey(role, key)) ? " (unsaved change)" : ""}`;
  }

  function refreshCell(role: string, key: string): void {
    const found = cells.get(cellKey(role, key));
    if (found === undefined) return;
    const changed = pending.has(cellKey(role, key));
    found.cell.classList.toggle("mss-changed", changed);
    found.input.checked = role === "owner" ? ownerValue(key) : role === "admin" && alwaysForAdmin(key) ? true : value(role, key);
    found.input.setAttribute("aria-label", accessibleName(role, key));
  }

  function toggle(role: string, key: string, checked: boolean): void {
    const id = cellKey(role, key);
    if (!newKeys.includes(key) && checked === storedValue(role, key)) pending.delete(id);
    else pending.set(id, checked);
    refreshCell(role, key);
    refreshCell("owner", key);
    outcome.clear();
    updateBar();
  }

  function matrixCell(role: string, key: string): HTMLTableCellElement {
    const locked = role === "owner" || (role === "admin" && alwaysForAdmin(key)) || !editable(role);
    const input = h("input", { type: "checkbox", disabled: locked, "data-role": role, "data-key": key });
    input.addEventListener("change", () => toggle(role, key, input.checked));
    const cell = h("td", { class: `mss-matrix-cell${role === "owner" ? " mss-matrix-owner" : ""}` }, input);
    cells.set(cellKey(role, key), { cell, input });
    refreshCell(role, key);
    return cell;
  }

  function keyHeader(key: string, description: string | null, extra: HTMLElement | null = null): HTMLTableCellElement {
    const info = BACKEND_INFO[key];
    return h(
      "th",
      { scope: "row", class: "mss-matrix-key" },
      keyName(key),
      // On a phone the Safety column gives way to the badge under the key.
      info ? h("span", { class: "mss-matrix-safety-inline" }, " ", badge(RISK_BADGE[info.risk].text, RISK_BADGE[info.risk].kind)) : null,
      description ? h("span", { class: "mss-hint mss-matrix-desc" }, description) : null,
      extra,
    );
  }

  function groupTable(caption: string, keys: readonly string[], describe: (key: string) => string | null, options: { safety?: boolean; removable?: boolean } = {}): HTMLElement {
    const head = h(
      "tr",
      {},
      h("th", { scope: "col", class: "mss-matrix-key" }, "Permission"),
      options.safety ? h("th", { scope: "col", class: "mss-matrix-safety" }, "Safety") : null,
      roles.map((role) =>
        h("th", { scope: "col", class: "mss-matrix-role" }, roleLabel(role), role === "owner" ? h("span", { class: "mss-hint mss-matrix-sub" }, "computed") : role === "admin" && !editable("admin") ? h("span", { class: "mss-hint mss-matrix-sub" }, "owner only") : null),
      ),
    );
    const rows = keys.map((key) => {
      const info = BACKEND_INFO[key];
      const remove = options.removable && newKeys.includes(key) ? h("button", { type: "button", class: "mss-btn mss-btn-sm", "aria-label": `Remove the new key ${key}`, onclick: () => removeNewKey(key) }, "Remove") : null;
      return h(
        "tr",
        { "data-key": key },
        keyHeader(key, describe(key), remove),
        options.safety ? h("td", { class: "mss-matrix-safety" }, info ? [badge(RISK_BADGE[info.risk].text, RISK_BADGE[info.risk].kind), h("span", { class: "mss-hint mss-matrix-desc" }, info.why)] : null) : null,
        roles.map((role) => matrixCell(role, key)),
      );
    });
    return h("div", { class: "mss-table-wrap mss-matrix-wrap" }, h("table", { class: "mss-table mss-matrix" }, h("caption", { class: "mss-visually-hidden" }, caption), h("thead", {}, head), h("tbody", {}, rows)));
  }

  // ----- adding a custom key -----
  const newKeyInput = h("input", { type: "text", autocomplete: "off", spellcheck: "false", maxlength: 128, placeholder: "e.g. my_extension_feature" });
  function addKey(event: Event): void {
    event.preventDefault();
    const key = newKeyInput.value.trim();
    setFieldError(newKeyInput, null);
    let problem: string | null = null;
    if (key === "") problem = "Enter a key.";
    else if (!PERMISSION_KEY_PATTERN.test(key)) problem = "Use 1 to 128 letters, digits or the characters _ . : -";
    else if (allKeys().includes(key)) problem = `The key ${key} exists already.`;
    if (problem !== null) {
      setFieldError(newKeyInput, problem);
      newKeyInput.focus();
      return;
    }
    newKeys = [...newKeys, key];
    for (const role of roles) if (editable(role)) pending.set(cellKey(role, key), missingKeyDefault(role, key));
    newKeyInput.value = "";
    draw();
    updateBar();
    container.querySelector<HTMLInputElement>(`input[data-key="${CSS.escape(key)}"]:not([disabled])`)?.focus();
  }

  function removeNewKey(key: string): void {
    newKeys = newKeys.filter((candidate) => candidate !== key);
    for (const role of roles) pending.delete(cellKey(role, key));
    draw();
    updateBar();
    newKeyInput.focus();
  }

  async function discard(): Promise<void> {
    if (!(await confirmAction("Discard the changes?", `${plural(pending.size, "unsaved change")} will be lost.`, "Discard", true))) return;
    pending.clear();
    newKeys = [];
    outcome.clear();
    draw();
    updateBar();
    counter.focus();
  }

  async function save(): Promise<void> {
    if (pending.size === 0) return;
    const groups: PermissionMatrix = {};
    for (const [id, allowed] of pending) {
      const [role, key] = id.split("\u0000") as [string, string];
      (groups[role] ??= {})[key] = allowed;
    }
    saveButton.disabled = true;
    outcome.clear();
    let updated: number;
    try {
      updated = (await api<{ updated: number }>("PUT", "/mss-login/api/groups", { groups })).updated;
    } catch (error) {
      outcome.error("Nothing was saved", error);
      saveButton.disabled = false;
      return;
    }
    // Saved: what is shown next comes from the server, so the owner's column is its own.
    for (const [role, row] of Object.entries(groups)) original[role] = { ...original[role], ...row };
    pending.clear();
    newKeys = [];
    notify(`Permissions saved (${plural(updated, "value")}).`, "ok");
    try {
      original = (await api<{ groups: PermissionMatrix }>("GET", "/mss-login/api/groups")).groups;
      outcome.ok("Saved. Open ComfyUI pages apply the new permissions when they next load them.");
    } catch (error) {
      outcome.error("Saved, but the matrix could not be reloaded", error);
    }
    draw();
    updateBar();
    counter.focus();
  }

  const tables = h("div", { class: "mss-matrix-groups" });

  function draw(): void {
    cells.clear();
    const keys = allKeys();
    const custom = keys.filter((key) => !KNOWN.has(key)).sort((a, b) => a.localeCompare(b));
    replace(
      tables,
      h("h3", {}, "Backend (enforced by the server)"),
      h("p", { class: "mss-muted" }, "The gateway refuses these actions on the server, whatever the page shows."),
      groupTable("Backend permissions", BACKEND_KEYS, (key) => BACKEND_INFO[key]?.allows ?? null, { safety: true }),
      h("h3", {}, "Interface"),
      h("p", { class: "mss-muted" }, "Parts of ComfyUI's page hidden from roles without the key. Hiding is cosmetic; the backend keys above are the real limits."),
      groupTable("Interface permissions", UI_KEYS, (key) => UI_INFO[key] ?? null),
      h("h3", {}, "Extensions"),
      h("p", { class: "mss-muted" }, "Each hides the extension in the page and also closes its server paths."),
      groupTable("Extension permissions", EXTENSION_KEYS, (key) => EXTENSION_INFO[key] ?? null),
      h("h3", {}, "Custom keys"),
      h("p", { class: "mss-muted" }, "Keys that other extensions read from this matrix. The gateway stores them but enforces nothing with them. A missing value means: allowed for every role but guest."),
      custom.length === 0 ? h("p", { class: "mss-muted" }, "No custom keys yet.") : groupTable("Custom permissions", custom, (key) => (newKeys.includes(key) ? "New: saved with the next Save." : null), { removable: true }),
      h(
        "form",
        { class: "mss-add-key", novalidate: true, onsubmit: addKey },
        field("New custom key", newKeyInput, "1 to 128 letters, digits or _ . : - (the same rule as the server)."),
        h("button", { type: "submit", class: "mss-btn" }, "Add key"),
      ),
    );
  }

  replace(
    container,
    h(
      "p",
      { class: "mss-muted mss-section-intro" },
      "Tick what each role may do. The owner always holds every permission any role holds.",
      me.role === "owner" ? null : " Only the owner changes the admin column.",
    ),
    tables,
    bar,
  );
  draw();
  updateBar();
}

