// Dialogs (PrimeVue-like markup: `.p-dialog.global-dialog[role=dialog][aria-labelledby=<key>]`)
// and the dialog service exposed as `app.extensionManager.dialog`: prompt, confirm, settings,
// about, templates, manager, errors. The settings dialog has the recorded categories and one
// control per setting with `id="<settingId>"`.
import { api } from "./api.js";
import { clear, h, icon } from "./dom.js";
import { onStateChange } from "./pinia-lite.js";
import {
  provideDialogService,
  useCommandStore,
  useDialogStore,
  useExtensionStore,
  useKeybindingStore,
  useSettingStore,
  useSystemStatsStore,
  useUserStore,
} from "./stores.js";

const FRONTEND_VERSION = "1.27.10";

// ---------------------------------------------------------------------------------------------
// the host: renders the dialog store's stack

export function mountDialogHost(container) {
  const dialogStore = useDialogStore();
  const rendered = new Map(); // key -> {dialog, element}

  const render = () => {
    const stack = dialogStore.dialogStack;
    const keys = new Set(stack.map((d) => d.key));
    for (const [key, entry] of [...rendered]) {
      if (!keys.has(key) || !stack.some((d) => d === entry.dialog)) {
        entry.element.remove();
        rendered.delete(key);
      }
    }
    stack.forEach((dialog, index) => {
      if (!rendered.has(dialog.key)) rendered.set(dialog.key, { dialog, element: buildDialog(dialog) });
      const element = rendered.get(dialog.key).element;
      // Moving a node blurs what has focus inside it: only move when out of stack order.
      if (container.children[index] !== element) container.insertBefore(element, container.children[index] ?? null);
    });
    document.body.classList.toggle("p-overflow-hidden", stack.length > 0);
  };
  onStateChange(render);
  render();
  // Escape closes the top dialog wherever the focus is (before the page's keybindings see it).
  document.addEventListener("keydown", (event) => {
    const top = dialogStore.dialogStack.at(-1);
    if (event.key !== "Escape" || !top || top.closeOnEscape === false) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    dialogStore.closeDialog({ key: top.key });
  });
}

function buildDialog(dialog) {
  const dialogStore = useDialogStore();
  const close = () => dialogStore.closeDialog({ key: dialog.key });
  const titleElement = dialog.titleTag === "h3" ? h("h3.p-dialog-title", { id: dialog.key, text: dialog.title ?? "" }) : h("span.p-dialog-title", { id: dialog.key }, dialog.titleIcon ? icon(dialog.titleIcon) : null, dialog.title ?? "");
  const content = h("div.p-dialog-content");
  const panel = h(
    "div.p-dialog.p-component.global-dialog",
    { role: "dialog", "aria-labelledby": dialog.key, "aria-modal": "true", "data-pc-name": "dialog", class: dialog.className ?? "" },
    h("div.p-dialog-header", {}, titleElement, h("div.p-dialog-header-actions", {}, dialog.closable === false ? null : h("button.p-button.p-dialog-close-button", { type: "button", "aria-label": "Close", onClick: close }, icon("pi pi-times")))),
    content,
  );
  const mask = h("div.p-dialog-mask.p-overlay-mask", {}, panel);
  mask.addEventListener("mousedown", (event) => {
    if (event.target === mask && dialog.dismissableMask) close();
  });
  try {
    dialog.render?.(content, close);
  } catch (error) {
    console.error(error);
    content.textContent = String(error);
  }
  queueMicrotask(() => {
    const focusTarget = panel.querySelector("[autofocus]") ?? panel.querySelector("input, select, textarea, button:not(.p-dialog-close-button)") ?? panel.querySelector("button");
    focusTarget?.focus();
    if (focusTarget instanceof HTMLInputElement && focusTarget.type === "text") focusTarget.select();
  });
  return mask;
}

// ---------------------------------------------------------------------------------------------
// prompt / confirm

function prompt({ title, message, defaultValue = "", placeholder }) {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (value) => {
      if (settled) return;
      settled = true;
      resolve(value);
    };
    useDialogStore().showDialog({
      key: "global-prompt",
      title,
      titleTag: "h3",
      className: "prompt-dialog",
      onClose: () => finish(null),
      render(content, close) {
        const input = h("input.p-inputtext.p-component", { type: "text", value: defaultValue, placeholder, autofocus: true, "aria-label": message });
        const confirm = () => {
          finish(input.value);
          close();
        };
        input.addEventListener("keydown", (event) => {
          if (event.key === "Enter") {
            event.preventDefault();
            confirm();
          }
        });
        content.append(
          h("div.prompt-dialog-content", {}, h("label.prompt-dialog-message", { text: message }), input, h("button.p-button.p-component.prompt-dialog-confirm", { type: "button", onClick: confirm }, h("span.p-button-label", { text: "Confirm" }))),
        );
      },
    });
  });
}

const CONFIRM_LABELS = { overwrite: "Overwrite", delete: "Delete", dirtyClose: "Save", reinstall: "Reinstall", default: "Confirm" };

function confirm({ title, message, type = "default", itemList = [], hint }) {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (value) => {
      if (settled) return;
      settled = true;
      resolve(value);
    };
    useDialogStore().showDialog({
      key: "global-prompt",
      title,
      titleTag: "h3",
      className: "confirm-dialog",
      onClose: () => finish(null),
      render(content, close) {
        const answer = (value) => () => {
          finish(value);
          close();
        };
        content.append(
          h(
            "div.confirm-dialog-content",
            {},
            h("p.confirm-dialog-message", { text: message }),
            itemList.length ? h("ul", {}, itemList.map((item) => h("li", { text: item }))) : null,
            hint ? h("p.confirm-dialog-hint", { text: hint }) : null,
            h(
              "div.confirm-dialog-actions",
              {},
              h("button.p-button.p-button-secondary", { type: "button", onClick: answer(false) }, "Cancel"),
              type === "dirtyClose" ? h("button.p-button.p-button-secondary", { type: "button", onClick: answer(false) }, "No") : null,
              h("button.p-button", { type: "button", onClick: answer(true), autofocus: true }, CONFIRM_LABELS[type] ?? CONFIRM_LABELS.default),
            ),
          ),
        );
      },
    });
  });
}

// ---------------------------------------------------------------------------------------------
// settings

const FIXED_TOP = ["User"];
const CORE_CATEGORIES = ["Comfy", "LiteGraph", "Appearance", "3D", "Mask Editor"];
const FIXED_BOTTOM = ["Keybinding", "Extension", "About"];
const CATEGORY_LABELS = { LiteGraph: "Lite Graph" };

function categoryPathOf(setting) {
  return Array.isArray(setting.category) && setting.category.length > 0 ? setting.category : setting.id.split(".");
}

function visibleSettings() {
  return Object.values(useSettingStore().settingsById).filter((s) => s && s.type !== "hidden" && !s.deprecated);
}

function settingCategories() {
  const extra = [];
  for (const setting of visibleSettings()) {
    const top = categoryPathOf(setting)[0];
    if (!CORE_CATEGORIES.includes(top) && !extra.includes(top)) extra.push(top);
  }
  return [...CORE_CATEGORIES, ...extra];
}

const PANEL_ALIASES = { about: "About", keybinding: "Keybinding", extension: "Extension", user: "User" };

function showSettingsDialog(panel) {
  const selected = PANEL_ALIASES[panel] ?? panel ?? "Comfy";
  useDialogStore().showDialog({
    key: "global-settings",
    title: "Settings",
    titleIcon: "pi pi-cog",
    className: "settings-dialog",
    dismissableMask: true,
    render(content) {
      content.append(buildSettingsPanel(selected));
    },
  });
}

function buildSettingsPanel(initial) {
  const userStore = useUserStore();
  const categories = settingCategories();
  const tabPanels = h("div.settings-tab-panels");
  const listbox = h("ul.p-listbox-list", { role: "listbox", "aria-label": "Settings categories" });
  const search = h("input.p-inputtext.settings-search-input", { type: "search", placeholder: "Search Settings...", "aria-label": "Search Settings..." });
  let active = initial;

  const option = (name) =>
    h(
      "li.p-listbox-option",
      { role: "option", "aria-label": CATEGORY_LABELS[name] ?? name, "data-category": name, "aria-selected": String(name === active), class: name === active ? "p-listbox-option-selected" : "", onClick: () => select(name) },
      h("span", { text: CATEGORY_LABELS[name] ?? name }),
    );
  const divider = () => h("li.p-listbox-option-group", { role: "presentation" }, h("hr"));
  const renderList = () => {
    clear(listbox).append(...FIXED_TOP.map(option), divider(), ...categories.map(option), divider(), ...FIXED_BOTTOM.map(option));
  };
  const select = (name) => {
    active = name;
    search.value = "";
    renderList();
    renderPanel();
  };
  const renderPanel = () => {
    const query = search.value.trim().toLowerCase();
    const key = query ? "search" : String(active).replace(/\s+/g, "");
    const body = h("div.p-tabpanel.p-tabpanel-active", { id: `pv_id_1_tabpanel_${key}`, role: "tabpanel", "data-category": active });
    if (query) body.append(...settingsPanel((s) => s.name.toLowerCase().includes(query) || s.id.toLowerCase().includes(query), true));
    else if (active === "User") body.append(userPanel());
    else if (active === "Keybinding") body.append(keybindingPanel());
    else if (active === "Extension") body.append(extensionPanel());
    else if (active === "About") body.append(aboutPanel());
    else body.append(...settingsPanel((s) => categoryPathOf(s)[0] === active, false));
    clear(tabPanels).append(body);
  };
  search.addEventListener("input", renderPanel);
  renderList();
  renderPanel();

  const banner = userStore.isMultiUserServer && userStore.currentUser
    ? h(
        "div.p-message.p-message-info.settings-user-banner",
        { role: "alert" },
        h("div.p-message-content", {}, icon("pi pi-user"), h("span.p-message-text", { text: `Current user: ${userStore.currentUser.username}` }), h("button.p-button.p-button-text", { type: "button", "aria-label": "Logout", onClick: () => userStore.logout() }, icon("pi pi-sign-out"))),
      )
    : null;
  return h(
    "div.settings-container",
    {},
    h("div.settings-sidebar", {}, h("div.settings-search-box", {}, search, icon("pi pi-search")), h("div.p-listbox.p-component", {}, listbox)),
    h("div.settings-content", {}, banner, tabPanels),
  );
}

function settingsPanel(filter, withCategory) {
  const groups = new Map();
  for (const setting of visibleSettings().filter(filter)) {
    const path = categoryPathOf(setting);
    const group = withCategory ? `${CATEGORY_LABELS[path[0]] ?? path[0]} › ${humanize(path[1] ?? path[0])}` : humanize(path[1] ?? path[0]);
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group).push(setting);
  }
  if (groups.size === 0) return [h("p.settings-empty", { text: "No settings found" })];
  return [...groups.keys()].sort((a, b) => a.localeCompare(b)).map((group) => h("div.setting-group", {}, h("h3", { text: group }), groups.get(group).map(settingItem)));
}

/** Id-derived group names read as words ("DevMode" → "Dev Mode"), as the real dialog shows them. */
function humanize(name) {
  return String(name).replace(/([a-z])([A-Z])/g, "$1 $2");
}

function settingItem(setting) {
  const settingStore = useSettingStore();
  const value = settingStore.get(setting.id);
  const save = (newValue) => {
    settingStore.set(setting.id, newValue).catch((error) => console.error(error));
  };
  let control;
  const options = typeof setting.options === "function" ? setting.options(value) : setting.options ?? [];
  const attrs = setting.attrs ?? {};
  switch (setting.type) {
    case "boolean":
      control = h("input.p-toggleswitch-input", { type: "checkbox", role: "switch", id: setting.id, checked: !!value, onChange: (e) => save(e.target.checked) });
      control = h("span.p-toggleswitch", {}, control, h("span.p-toggleswitch-slider"));
      break;
    case "combo":
      control = h(
        "select.p-select",
        { id: setting.id, onChange: (e) => save(optionValues(options)[e.target.selectedIndex]) },
        options.map((opt) => {
          const { text, value: optionValue } = typeof opt === "object" && opt !== null ? { text: opt.text ?? String(opt.value), value: opt.value } : { text: String(opt), value: opt };
          return h("option", { text, selected: optionValue === value });
        }),
      );
      break;
    case "radio":
      control = h(
        "div.p-radiobutton-group",
        { id: setting.id, role: "radiogroup" },
        options.map((opt) => {
          const optionValue = typeof opt === "object" ? opt.value : opt;
          return h("label", {}, h("input", { type: "radio", name: setting.id, checked: optionValue === value, onChange: () => save(optionValue) }), typeof opt === "object" ? (opt.text ?? String(opt.value)) : String(opt));
        }),
      );
      break;
    case "number":
    case "slider":
      control = h("input.p-inputnumber-input", { id: setting.id, type: "number", value: String(value ?? ""), min: attrs.min, max: attrs.max, step: attrs.step ?? "any", onChange: (e) => save(Number(e.target.value)) });
      break;
    case "color":
      control = h("input.p-colorpicker", { id: setting.id, type: "color", value: `#${String(value ?? "000000").replace(/^#/, "").padStart(6, "0").slice(0, 6)}`, onChange: (e) => save(e.target.value.replace(/^#/, "")) });
      break;
    case "text":
    case "backgroundImage":
      control = h("input.p-inputtext", { id: setting.id, type: "text", value: String(value ?? ""), onChange: (e) => save(e.target.value) });
      break;
    default:
      control = h("input.p-inputtext", { id: setting.id, type: "text", value: typeof value === "string" ? value : JSON.stringify(value ?? null), readOnly: true });
  }
  return h(
    "div.setting-item",
    { "data-setting-id": setting.id },
    h("div.setting-label", {}, h("span", { id: `${setting.id}-label`, text: setting.name, title: setting.tooltip ?? "" })),
    h("div.setting-input", {}, control),
  );
}

function optionValues(options) {
  return options.map((opt) => (typeof opt === "object" && opt !== null ? opt.value : opt));
}

function userPanel() {
  const userStore = useUserStore();
  const user = userStore.currentUser;
  return h(
    "div.user-settings-panel",
    {},
    h("h2", { text: "User" }),
    userStore.isMultiUserServer && user
      ? [h("p", {}, "Current user: ", h("strong", { text: user.username })), h("p.user-id", { text: user.userId }), h("button.p-button.p-button-secondary", { type: "button", onClick: () => userStore.logout() }, icon("pi pi-sign-out"), " Logout")]
      : h("p", { text: "Single-user server: every request is user \"default\"." }),
  );
}

function keybindingPanel() {
  const commandStore = useCommandStore();
  const keybindings = useKeybindingStore().keybindings;
  const rows = commandStore.commands.map((command) => {
    const bindings = keybindings.filter((kb) => kb.commandId === command.id);
    return h("tr", { "data-command-id": command.id }, h("td", { text: command.label ?? command.id }), h("td", {}, bindings.map((kb) => h("kbd.keybinding-combo", { text: kb.combo.toString() }))), h("td", { text: command.source ?? "" }));
  });
  return h("div.keybinding-panel", {}, h("h2", { text: "Keybinding" }), h("table.p-datatable-table", {}, h("thead", {}, h("tr", {}, h("th", { text: "Command" }), h("th", { text: "Keybinding" }), h("th", { text: "Source" }))), h("tbody", {}, rows)));
}

function extensionPanel() {
  const extensionStore = useExtensionStore();
  const settingStore = useSettingStore();
  const notice = h("p.extension-reload-notice", { hidden: true, text: "Reload the page to apply the change." });
  const toggle = (name, enabled) => {
    const disabled = new Set(settingStore.get("Comfy.Extension.Disabled") ?? []);
    if (enabled) disabled.delete(name);
    else disabled.add(name);
    notice.hidden = false;
    settingStore.set("Comfy.Extension.Disabled", [...disabled]).catch((error) => console.error(error));
  };
  const disabledNow = new Set(settingStore.get("Comfy.Extension.Disabled") ?? []);
  return h(
    "div.extension-panel",
    {},
    h("h2", { text: "Extension" }),
    notice,
    h(
      "table.p-datatable-table",
      {},
      h("tbody", {}, extensionStore.extensions.map((ext) => h("tr", { "data-extension-name": ext.name }, h("td", { text: ext.name }), h("td", {}, extensionStore.isCoreExtension(ext.name) ? h("span.p-tag", { text: "Core" }) : null), h("td", {}, h("input.p-toggleswitch-input", { type: "checkbox", role: "switch", "aria-label": ext.name, checked: !disabledNow.has(ext.name), disabled: extensionStore.isExtensionReadOnly(ext.name), onChange: (e) => toggle(ext.name, e.target.checked) }))))),
    ),
  );
}

function aboutPanel() {
  const stats = useSystemStatsStore().systemStats;
  const badges = [
    { label: `ComfyUI ${stats?.system?.comfyui_version ? `v${stats.system.comfyui_version}` : ""}`.trim(), url: "https://github.com/comfyanonymous/ComfyUI", icon: "pi pi-github" },
    { label: `ComfyUI_frontend v${FRONTEND_VERSION}`, url: "https://github.com/Comfy-Org/ComfyUI_frontend", icon: "pi pi-github" },
    { label: "Discord", url: "https://www.comfy.org/discord", icon: "pi pi-discord" },
    { label: "ComfyOrg", url: "https://www.comfy.org/", icon: "pi pi-globe" },
    ...useExtensionStore().enabledExtensions.flatMap((ext) => ext.aboutPageBadges ?? []),
  ];
  const system = stats?.system ?? {};
  return h(
    "div.about-panel",
    {},
    h("h2", { text: "About" }),
    h("div.about-badges", {}, badges.map((badge) => h("a.about-badge", { href: badge.url, target: "_blank", rel: "noopener noreferrer" }, icon(badge.icon), h("span", { text: badge.label })))),
    h("h3", { text: "System Info" }),
    h("table.system-info", {}, h("tbody", {}, Object.entries(system).map(([key, value]) => h("tr", {}, h("th", { text: key }), h("td", { text: Array.isArray(value) ? value.join(" ") : String(value) }))))),
  );
}

// ---------------------------------------------------------------------------------------------
// other dialogs

function simpleDialog(key, title, body, className = "") {
  useDialogStore().showDialog({
    key,
    title,
    className,
    dismissableMask: true,
    render(content) {
      content.append(typeof body === "function" ? body() : h("p", { text: body }));
    },
  });
}

let templatesCache = null;

function showTemplateWorkflowsDialog(options = {}) {
  useDialogStore().showDialog({
    key: "global-workflow-template-selector",
    title: options.title ?? "Templates",
    className: "templates-dialog",
    dismissableMask: true,
    render(content) {
      const list = h("div.templates-list", {}, h("p", { text: "Loading…" }));
      content.append(list);
      templatesCache ??= Promise.all([api.getWorkflowTemplates().catch(() => ({})), api.getCoreWorkflowTemplates().catch(() => [])]);
      templatesCache.then(([custom, core]) => {
        const entries = [...(Array.isArray(core) ? core.flatMap((c) => (c.templates ?? []).map((t) => `${c.title ?? c.moduleName}: ${t.title ?? t.name}`)) : []), ...Object.entries(custom ?? {}).flatMap(([module, names]) => (names ?? []).map((n) => `${module}: ${n}`))];
        clear(list).append(entries.length ? h("ul", {}, entries.map((e) => h("li", { text: e }))) : h("p.templates-empty", { text: "No templates available." }));
      });
    },
  });
}

function showErrorDialog(error, options = {}) {
  const message = error instanceof Error ? error.message : String(error?.toString?.() ?? error);
  simpleDialog("global-error", options.title ?? "Error", () => h("div.error-dialog-content", {}, h("pre.error-message", { text: message }), error?.stack ? h("details", {}, h("summary", { text: "Stack trace" }), h("pre", { text: error.stack })) : null));
}

function showExecutionErrorDialog(executionError) {
  simpleDialog("global-execution-error", "Execution error", () =>
    h("div.error-dialog-content", {}, h("p", { text: `${executionError.node_type ?? "Node"} #${executionError.node_id ?? "?"}` }), h("pre.error-message", { text: `${executionError.exception_type ?? "Error"}: ${executionError.exception_message ?? ""}` })),
  );
}

/** `app.extensionManager.dialog`, with the recorded member names. */
export function createDialogService() {
  const noDialog = (name) => () => console.info(`[stand-in] ${name}: not part of the stand-in`);
  const service = {
    showLoadWorkflowWarning: (props) => simpleDialog("global-load-workflow-warning", "Missing nodes", `This workflow uses node types that are not installed: ${(props?.missingNodeTypes ?? []).map((t) => (typeof t === "string" ? t : t.type)).join(", ")}`),
    showMissingModelsWarning: (props) => simpleDialog("global-missing-models-warning", "Missing models", `Missing models: ${(props?.missingModels ?? []).map((m) => m.name ?? m).join(", ")}`),
    showSettingsDialog,
    showAboutDialog: () => showSettingsDialog("about"),
    showExecutionErrorDialog,
    showTemplateWorkflowsDialog,
    showManagerDialog: () => simpleDialog("global-manager", "Manager", "ComfyUI-Manager is not installed on this server.", "manager-dialog"),
    showManagerProgressDialog: noDialog("showManagerProgressDialog"),
    showErrorDialog,
    showApiNodesSignInDialog: async () => false,
    showSignInDialog: async () => false,
    showTopUpCreditsDialog: noDialog("showTopUpCreditsDialog"),
    showUpdatePasswordDialog: noDialog("showUpdatePasswordDialog"),
    showExtensionDialog: (options) => useDialogStore().showExtensionDialog(options),
    prompt,
    confirm,
    toggleManagerDialog: () => (useDialogStore().isDialogOpen("global-manager") ? useDialogStore().closeDialog({ key: "global-manager" }) : service.showManagerDialog()),
    toggleManagerProgressDialog: noDialog("toggleManagerProgressDialog"),
    showLayoutDialog: (options) => useDialogStore().showDialog(options),
    showNodeConflictDialog: noDialog("showNodeConflictDialog"),
  };
  provideDialogService(service);
  return service;
}
