/**
 * Roles and permission keys: the original MSS-Login's groups model (reference §2), as pure
 * data and functions. The stored matrix lives in `groups-store.ts`; this module knows the
 * keys, their defaults, what a missing key means, and how the owner's row is computed.
 */
import type { Role } from "./policy.ts";

export const ROLE_NAMES: readonly Role[] = Object.freeze(["owner", "admin", "power", "user", "guest"] as const);

/** One row of the matrix per role: permission key → allowed. The groups file's shape. */
export type PermissionRow = Record<string, boolean>;
export type PermissionMatrix = Record<string, PermissionRow>;

/** Keys the gateway enforces on the server (routes, tokens, sessions, models). */
export const BACKEND_KEYS = [
  "can_run",
  "can_upload",
  "can_access_api",
  "can_modify_workflows",
  "can_access_manager",
  "can_manage_extensions",
  "can_see_restricted_settings",
  "can_have_api_tokens",
  "can_have_non_expiring_jwt",
  "can_view_console",
  "mfa_required",
  "can_view_all_comfyui_items",
  "can_access_s3_storage",
  "can_download_models",
  "can_manage_model_sharing",
  "can_login_locally_without_auth",
  "can_update_mss_login",
] as const;

/** Extension keys that also close the extension's server paths (see route-permissions). */
export const EXTENSION_KEYS = ["settings_itools", "settings_crystools", "settings_rgthree", "settings_gallery"] as const;

/** Keys that hide parts of ComfyUI's page (the UI script reads them). */
export const UI_KEYS = [
  "ui_queue_button",
  "ui_batch_widget",
  "ui_extra_options",
  "ui_side_history",
  "ui_side_queue",
  "ui_side_assets",
  "ui_side_templates",
  "ui_menu_save",
  "ui_menu_load",
  "ui_menu_refresh",
  "ui_workflow_breadcrumb",
  "ui_menu_clipspace",
  "ui_menu_clear",
  "ui_menu_manager",
  "ui_menu_extensions",
  "ui_menu_templates",
  "settings_comfy",
  "settings_extension",
  "settings_user",
  "settings_keybinding",
  "settings_appearance",
  "settings_litegraph",
  "Settings_3D",
  "settings_maskeditor",
  "settings_mss_loginsettings",
  "settings_impact",
  "settings_about",
] as const;

export const KNOWN_KEYS: readonly string[] = Object.freeze([...BACKEND_KEYS, ...EXTENSION_KEYS, ...UI_KEYS]);

/** Columns: owner, admin, power, user, guest (reference §2.4, code defaults filled in). */
type Column = readonly [boolean, boolean, boolean, boolean, boolean];
const T = true;
const F = false;
const ALL: Column = [T, T, T, T, T];
const NOT_GUEST: Column = [T, T, T, T, F];
const POWER_UP: Column = [T, T, T, F, F];
const ADMIN_UP: Column = [T, T, F, F, F];
const OWNER_ONLY: Column = [T, F, F, F, F];

const DEFAULT_COLUMNS: Record<string, Column> = {
  can_run: ALL,
  can_upload: NOT_GUEST,
  can_access_api: ALL,
  can_modify_workflows: NOT_GUEST,
  can_access_manager: POWER_UP,
  can_manage_extensions: POWER_UP,
  can_see_restricted_settings: ADMIN_UP,
  can_have_api_tokens: POWER_UP,
  can_have_non_expiring_jwt: OWNER_ONLY,
  can_view_console: OWNER_ONLY,
  mfa_required: ADMIN_UP,
  can_view_all_comfyui_items: ADMIN_UP,
  can_access_s3_storage: ADMIN_UP,
  can_download_models: ADMIN_UP,
  can_manage_model_sharing: OWNER_ONLY,
  can_login_locally_without_auth: ADMIN_UP,
  can_update_mss_login: ADMIN_UP,
  settings_itools: POWER_UP,
  settings_crystools: POWER_UP,
  settings_rgthree: POWER_UP,
  settings_gallery: POWER_UP,
  ui_queue_button: [T, T, T, F, T],
  ui_batch_widget: NOT_GUEST,
  ui_extra_options: NOT_GUEST,
  ui_side_history: POWER_UP,
  ui_side_queue: NOT_GUEST,
  ui_side_assets: POWER_UP,
  ui_side_templates: POWER_UP,
  ui_menu_save: NOT_GUEST,
  ui_menu_load: NOT_GUEST,
  ui_menu_refresh: NOT_GUEST,
  ui_workflow_breadcrumb: NOT_GUEST,
  ui_menu_clipspace: NOT_GUEST,
  ui_menu_clear: NOT_GUEST,
  ui_menu_manager: POWER_UP,
  ui_menu_extensions: POWER_UP,
  ui_menu_templates: POWER_UP,
  settings_comfy: POWER_UP,
  settings_extension: POWER_UP,
  settings_user: POWER_UP,
  settings_keybinding: POWER_UP,
  settings_appearance: POWER_UP,
  settings_litegraph: POWER_UP,
  Settings_3D: POWER_UP,
  settings_maskeditor: POWER_UP,
  settings_mss_loginsettings: POWER_UP,
  settings_impact: POWER_UP,
  settings_about: ALL,
};

/** The matrix a new installation starts with, every known key for every built-in role. */
export function defaultMatrix(): PermissionMatrix {
  const matrix: PermissionMatrix = {};
  ROLE_NAMES.forEach((role, column) => {
    const row: PermissionRow = {};
    for (const key of KNOWN_KEYS) row[key] = DEFAULT_COLUMNS[key]![column]!;
    matrix[role] = row;
  });
  return matrix;
}

/** Allowed unless explicitly false (the original's rule for its three oldest keys). */
const OPEN_UNLESS_FALSE: ReadonlySet<string> = new Set(["can_run", "can_upload", "can_access_api"]);

/** Admins hold these whatever their row says (reference §2.3, "admin always"). */
const ALWAYS_FOR_ADMIN: ReadonlySet<string> = new Set(["can_modify_workflows", "can_access_manager", "can_manage_extensions", "can_have_api_tokens"]);

/** Missing means "owner/admin only" for these, "owner only" for model sharing; false for the rest of the backend keys. */
const MISSING_FOR_ADMINS: ReadonlySet<string> = new Set(["can_download_models", "can_update_mss_login", "can_have_api_tokens"]);

const BACKEND_KEY_SET: ReadonlySet<string> = new Set(BACKEND_KEYS);

/**
 * What a key means for a role whose row lacks it (reference §2.3/§2.4): the three oldest keys
 * are open unless refused; a few backend keys default to owner/admin; the other backend keys
 * are closed; UI, extension and custom keys are open to everyone but guests.
 */
export function missingKeyDefault(role: string, key: string): boolean {
  if (OPEN_UNLESS_FALSE.has(key)) return true;
  if (role === "owner") return true;
  if (key === "can_manage_model_sharing") return false;
  if (MISSING_FOR_ADMINS.has(key)) return role === "admin";
  if (key === "can_modify_workflows" || key === "can_access_manager" || key === "can_manage_extensions") return role !== "guest";
  if (BACKEND_KEY_SET.has(key)) return false;
  return role !== "guest";
}

/**
 * The owner's row: every key any row has, the owner allowed wherever anyone is, and for the
 * known keys always (the owner's own defaults are all true and nobody may edit them).
 */
export function ownerRow(matrix: PermissionMatrix): PermissionRow {
  const row: PermissionRow = {};
  for (const key of KNOWN_KEYS) row[key] = true;
  for (const [role, values] of Object.entries(matrix)) {
    if (role === "owner") continue;
    for (const [key, value] of Object.entries(values)) row[key] = (row[key] ?? false) || value;
  }
  return row;
}

/** Whether `role` holds `key`, given the stored matrix (owner row computed, missing keys defaulted). */
export function roleAllows(matrix: PermissionMatrix, role: string, key: string): boolean {
  if (role === "owner") return ownerRow(matrix)[key] ?? missingKeyDefault(role, key);
  if (role === "admin" && ALWAYS_FOR_ADMIN.has(key)) return true;
  const value = matrix[role]?.[key];
  return value ?? missingKeyDefault(role, key);
}

/** A role's complete effective row: every key known or stored anywhere, resolved. */
export function effectiveRow(matrix: PermissionMatrix, role: string): PermissionRow {
  const keys = new Set<string>(KNOWN_KEYS);
  for (const values of Object.values(matrix)) for (const key of Object.keys(values)) keys.add(key);
  const row: PermissionRow = {};
  for (const key of keys) row[key] = roleAllows(matrix, role, key);
  return row;
}

/** Names of roles and keys as stored: what a groups file or a PUT may create. */
export const GROUP_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const PERMISSION_KEY_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
export const MAX_ROLES = 32;
export const MAX_KEYS_PER_ROLE = 1024;
