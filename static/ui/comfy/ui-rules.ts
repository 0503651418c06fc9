/**
 * What each permission key hides in ComfyUI's page (reference §6.2), written against the facts
 * recorded from front end 1.27.10 (fixtures/frontend-1.27.10). The same table serves the
 * gateway (which puts the CSS part into the page's <head> before anything renders, so nothing
 * flashes) and the extension script (which uses the front end's own APIs: commands, keybindings,
 * sidebar tabs, the menu store). CSS is only for what no API reaches (fixed menu entries, the
 * Templates button, settings categories, legacy buttons) or to avoid a flash before the API
 * calls run.
 *
 * Hiding is cosmetic: every one of these actions is also refused by the gateway on the server.
 */
export interface UiRule {
  /** Permission keys; the rule applies when ANY of them is not granted. */
  keys: readonly string[];
  /** Stable selectors only (ids, aria-labels, data-testid, semantic classes). */
  css?: readonly string[];
  /** Commands whose function is replaced by a refusal (an id cannot be deleted). */
  commands?: readonly string[];
  /** Command ids whose keybindings are unset (re-applied on every load: they are not persisted). */
  keybindings?: readonly string[];
  /** Sidebar tabs removed through `unregisterSidebarTab`. */
  sidebarTabs?: readonly string[];
  /** What the user is told when a neutralised command is run anyway. */
  refusal: string;
}

const menuItem = (label: string) => `.p-tieredmenu li.p-tieredmenu-item[aria-label="${label}"]`;
const settingsCategory = (label: string) => `.settings-sidebar li.p-listbox-option[aria-label="${label}"]`;

const SAVE_COMMANDS = ["Comfy.SaveWorkflow", "Comfy.SaveWorkflowAs", "Comfy.ExportWorkflow", "Comfy.ExportWorkflowAPI", "Comfy.PublishSubgraph"];
const RUN_COMMANDS = ["Comfy.QueuePrompt", "Comfy.QueuePromptFront", "Comfy.QueueSelectedOutputNodes"];
const MANAGER_COMMANDS = [
  "Comfy.OpenManagerDialog",
  "Comfy.Manager.CustomNodesManager.ShowCustomNodesMenu",
  "Comfy.Manager.ShowUpdateAvailablePacks",
  "Comfy.Manager.ShowMissingPacks",
  "Comfy.Manager.ToggleManagerProgressDialog",
];

export const UI_RULES: readonly UiRule[] = [
  {
    keys: ["ui_queue_button", "can_run"],
    css: ['[data-testid="queue-button"]', ".comfyui-queue-button", "#queue-button", ".comfy-queue-btn"],
    commands: RUN_COMMANDS,
    keybindings: RUN_COMMANDS,
    refusal: "Your role may not run workflows.",
  },
  { keys: ["ui_batch_widget", "can_run"], css: [".batch-count", "#batchCountInputNumber", "#batchCountInputRange", ".comfy-menu-queue-batch"], refusal: "Your role may not change the batch count." },
  {
    keys: ["ui_extra_options", "can_run"],
    css: ['[data-testid="queue-button"] .p-splitbutton-dropdown', ".comfy-menu-queue-extra", "#extraOptions", "#autoQueueCheckbox"],
    refusal: "Your role may not change the run options.",
  },
  {
    keys: ["ui_side_queue"],
    css: [".queue-tab-button", "#comfy-view-queue-button"],
    sidebarTabs: ["queue"],
    commands: ["Workspace.ToggleSidebarTab.queue"],
    keybindings: ["Workspace.ToggleSidebarTab.queue"],
    refusal: "The queue panel is not available to your role.",
  },
  {
    // 1.27.10 has one queue tab (history icon); newer front ends add a separate job-history tab.
    keys: ["ui_side_history"],
    css: [".job-history-tab-button", "#comfy-view-history-button"],
    sidebarTabs: ["job-history"],
    commands: ["Workspace.ToggleSidebarTab.job-history"],
    keybindings: ["Workspace.ToggleSidebarTab.job-history"],
    refusal: "The history panel is not available to your role.",
  },
  {
    keys: ["ui_side_assets"],
    css: [".assets-tab-button", "#comfyui-browser-button"],
    sidebarTabs: ["assets"],
    commands: ["Workspace.ToggleSidebarTab.assets"],
    keybindings: ["Workspace.ToggleSidebarTab.assets"],
    refusal: "The assets panel is not available to your role.",
  },
  {
    // The Templates button is hard-wired in 1.27.10: only CSS removes it.
    keys: ["ui_side_templates"],
    css: ["button.templates-tab-button", "#node-templates-button"],
    sidebarTabs: ["templates"],
    refusal: "Templates are not available to your role.",
  },
  {
    keys: ["ui_menu_templates"],
    css: [menuItem("Browse Templates")],
    commands: ["Comfy.BrowseTemplates"],
    keybindings: ["Comfy.BrowseTemplates"],
    refusal: "Templates are not available to your role.",
  },
  {
    keys: ["ui_menu_save", "can_modify_workflows"],
    css: ["#comfy-save-button", "#comfy-dev-save-api-button", menuItem("Save"), menuItem("Save As"), menuItem("Export"), menuItem("Export (API)")],
    commands: SAVE_COMMANDS,
    keybindings: SAVE_COMMANDS,
    refusal: "Your role may not save or export workflows.",
  },
  {
    keys: ["ui_menu_load"],
    css: ["#comfy-load-button", menuItem("Open")],
    commands: ["Comfy.OpenWorkflow"],
    keybindings: ["Comfy.OpenWorkflow"],
    refusal: "Your role may not open workflow files.",
  },
  {
    keys: ["ui_menu_refresh"],
    css: ["#comfy-refresh-button", menuItem("Refresh Node Definitions")],
    commands: ["Comfy.RefreshNodeDefinitions"],
    keybindings: ["Comfy.RefreshNodeDefinitions"],
    refusal: "Your role may not refresh node definitions.",
  },
  { keys: ["ui_menu_clipspace"], css: ["#comfy-clipspace-button", menuItem("Clipspace")], commands: ["Comfy.OpenClipspace"], keybindings: ["Comfy.OpenClipspace"], refusal: "Clipspace is not available to your role." },
  { keys: ["ui_menu_clear"], css: ["#comfy-clear-button", menuItem("Clear Workflow")], commands: ["Comfy.ClearWorkflow"], keybindings: ["Comfy.ClearWorkflow"], refusal: "Your role may not clear the workflow." },
  { keys: ["ui_workflow_breadcrumb"], css: [".subgraph-breadcrumb"], refusal: "The workflow breadcrumb is not available to your role." },
  {
    keys: ["ui_menu_manager", "can_access_manager"],
    css: ['button[aria-label="Manager"]', ".comfyui-manager-button", menuItem("Manager")],
    commands: MANAGER_COMMANDS,
    keybindings: MANAGER_COMMANDS,
    refusal: "ComfyUI-Manager is not available to your role.",
  },
  {
    keys: ["ui_menu_extensions", "can_manage_extensions"],
    css: [menuItem("Manage Extensions")],
    commands: ["Comfy.Dialog.ShowExtensions", "Comfy.ShowExtensionsDialog"],
    refusal: "Your role may not manage extensions.",
  },
  {
    keys: ["can_view_console"],
    css: ['button[aria-label="Toggle Bottom Panel"]', ".comfy-console", "#comfy-console", '[data-panel-id="console"]'],
    commands: ["Workspace.ToggleBottomPanel", "Workspace.ToggleBottomPanelTab.logs-terminal"],
    keybindings: ["Workspace.ToggleBottomPanel", "Workspace.ToggleBottomPanelTab.logs-terminal"],
    refusal: "The console is not available to your role.",
  },
  { keys: ["settings_user"], css: [settingsCategory("User")], refusal: "" },
  { keys: ["settings_comfy"], css: [settingsCategory("Comfy")], refusal: "" },
  { keys: ["settings_litegraph"], css: [settingsCategory("Lite Graph"), settingsCategory("LiteGraph")], refusal: "" },
  { keys: ["settings_appearance"], css: [settingsCategory("Appearance")], refusal: "" },
  { keys: ["Settings_3D"], css: [settingsCategory("3D")], refusal: "" },
  { keys: ["settings_maskeditor"], css: [settingsCategory("Mask Editor")], refusal: "" },
  { keys: ["settings_keybinding"], css: [settingsCategory("Keybinding")], refusal: "" },
  { keys: ["settings_extension", "can_manage_extensions"], css: [settingsCategory("Extension")], refusal: "" },
  { keys: ["settings_about"], css: [settingsCategory("About")], refusal: "" },
  { keys: ["settings_itools"], css: ['[id*="itools"]', settingsCategory("iTools")], refusal: "" },
  { keys: ["settings_crystools"], css: ['[title^="Crystools"]', ".crystools-root", "#crystools-root", settingsCategory("Crystools")], refusal: "" },
  { keys: ["settings_rgthree"], css: [".rgthree-top-messages-container", '[title^="rgthree"]', settingsCategory("rgthree")], refusal: "" },
  { keys: ["settings_gallery"], css: ["#comfyui-gallery-button", ".comfyui-gallery-container", settingsCategory("Gallery")], refusal: "" },
  { keys: ["settings_impact"], css: ["#impact-pack-button", settingsCategory("Impact Pack"), settingsCategory("Impact")], refusal: "" },
];

/**
 * Always hidden: ComfyUI's own multi-user "Logout (<name>)" button. Behind the gateway the
 * ComfyUI user is chosen by the gateway; that button would only reach ComfyUI's user picker.
 * The gateway's account menu signs out instead.
 */
export const ALWAYS_HIDDEN_CSS: readonly string[] = ['.side-tool-bar-end button[aria-label^="Logout ("]'];

/** True when the caller lacks at least one of the rule's keys (missing counts as not granted). */
export function ruleApplies(rule: UiRule, permissions: Readonly<Record<string, boolean>>): boolean {
  return rule.keys.some((key) => permissions[key] !== true);
}

/** The rules in force for these permissions. Owners and admins have every key, so none apply. */
export function rulesFor(permissions: Readonly<Record<string, boolean>>): UiRule[] {
  return UI_RULES.filter((rule) => ruleApplies(rule, permissions));
}

/** The stylesheet that hides, before first paint, everything the rules in force hide. */
export function hidingCss(permissions: Readonly<Record<string, boolean>>): string {
  const selectors = [...ALWAYS_HIDDEN_CSS, ...rulesFor(permissions).flatMap((rule) => rule.css ?? [])];
  return `${selectors.join(",\n")} { display: none !important; }\n`;
}
