// The stand-in's Pinia stores, with the ids and members recorded from 1.27.10. Extensions reach
// them through `app.extensionManager._p._s.get(id)`; the views in ui-*.js render from them.
import { api } from "./api.js";
import { KeybindingImpl, KeyComboImpl } from "./keybindings.js";
import { defineStore, markRaw, notifyChange, reactive } from "./pinia-lite.js";
import { CORE_SIDEBAR_TABS, DEFAULT_COMMANDS, DEFAULT_MENU } from "./recorded.js";

// ---------------------------------------------------------------------------------------------
// toast

export const useToastStore = defineStore("toast", () => {
  const messagesToAdd = reactive([]);
  const messagesToRemove = reactive([]);
  let removeAllRequested = false;
  return {
    messagesToAdd,
    messagesToRemove,
    get removeAllRequested() {
      return removeAllRequested;
    },
    set removeAllRequested(value) {
      removeAllRequested = value;
      notifyChange();
    },
    add(message) {
      messagesToAdd.push(message);
    },
    remove(message) {
      messagesToRemove.push(message);
    },
    removeAll() {
      removeAllRequested = true;
      notifyChange();
    },
    addAlert(message) {
      messagesToAdd.push({ severity: "warn", summary: "Alert", detail: message });
    },
  };
});

// ---------------------------------------------------------------------------------------------
// dialog (the store; the dialog *service* with prompt/confirm/... is in ui-dialogs.js)

export const useDialogStore = defineStore("dialog", () => {
  const dialogStack = reactive([]);
  const store = {
    dialogStack,
    get activeKey() {
      return dialogStack.at(-1)?.key ?? null;
    },
    riseDialog({ key }) {
      const index = dialogStack.findIndex((d) => d.key === key);
      if (index === -1 || index === dialogStack.length - 1) return;
      const [dialog] = dialogStack.splice(index, 1);
      dialogStack.push(dialog);
    },
    /** `{key, title, render(contentEl, close), onClose, className}`; the same key is replaced. */
    showDialog(options) {
      const key = options.key ?? `dialog-${Math.random().toString(36).slice(2)}`;
      const existing = dialogStack.findIndex((d) => d.key === key);
      if (existing !== -1) {
        const [replaced] = dialogStack.splice(existing, 1);
        try {
          replaced.onClose?.();
        } catch (error) {
          console.error(error);
        }
      }
      const dialog = markRaw({ ...options, key, visible: true });
      dialogStack.push(dialog);
      return dialog;
    },
    closeDialog(options) {
      const key = options?.key ?? dialogStack.at(-1)?.key;
      const index = dialogStack.findIndex((d) => d.key === key);
      if (index === -1) return;
      const [dialog] = dialogStack.splice(index, 1);
      try {
        dialog.onClose?.();
      } catch (error) {
        console.error(error);
      }
    },
    showExtensionDialog(options) {
      return store.showDialog({ ...options, key: options.key ?? "global-extension" });
    },
    isDialogOpen(key) {
      return dialogStack.some((d) => d.key === key);
    },
  };
  return store;
});

// ---------------------------------------------------------------------------------------------
// command

export class ComfyCommandImpl {
  constructor(command) {
    this.id = command.id;
    this.function = command.function;
    this._label = command.label;
    this._icon = command.icon;
    this._tooltip = command.tooltip;
    this._menubarLabel = command.menubarLabel;
    this.versionAdded = command.versionAdded;
    this.confirmation = command.confirmation;
    this.source = command.source;
    this.category = command.category;
    this.active = command.active;
    markRaw(this);
  }

  get label() {
    return typeof this._label === "function" ? this._label() : this._label;
  }

  get icon() {
    return typeof this._icon === "function" ? this._icon() : this._icon;
  }

  get tooltip() {
    return typeof this._tooltip === "function" ? this._tooltip() : this._tooltip;
  }

  get menubarLabel() {
    return (typeof this._menubarLabel === "function" ? this._menubarLabel() : this._menubarLabel) ?? this.label;
  }

  get keybinding() {
    return useKeybindingStore().getKeybindingByCommandId(this.id) ?? null;
  }
}

export const useCommandStore = defineStore("command", () => {
  const commandsById = new Map();
  const store = {
    get commands() {
      return [...commandsById.values()];
    },
    /** An id that exists is replaced (with a warning): there is no API to delete a command. */
    registerCommand(command) {
      if (commandsById.has(command.id)) console.warn(`Command ${command.id} already registered`);
      commandsById.set(command.id, new ComfyCommandImpl(command));
      notifyChange();
    },
    registerCommands(commands) {
      for (const command of commands) store.registerCommand(command);
    },
    getCommand(id) {
      return commandsById.get(id);
    },
    isRegistered(id) {
      return commandsById.has(id);
    },
    /** Runs the command; a failure becomes an error toast (the promise still resolves). */
    async execute(commandId, errorHandler) {
      const command = commandsById.get(commandId);
      if (!command) throw new Error(`Command ${commandId} not found`);
      try {
        await command.function();
      } catch (error) {
        if (errorHandler) errorHandler(error);
        else reportError(error);
      }
    },
    loadExtensionCommands(extension) {
      for (const command of extension.commands ?? []) store.registerCommand({ ...command, source: extension.name });
    },
    formatKeySequence(command) {
      const sequences = command.keybinding?.combo.getKeySequences() ?? [];
      return sequences.map((s) => (s.length === 1 ? s.toUpperCase() : s)).join(" + ");
    },
  };
  return store;
});

/** How the app reports a failed action: an error toast. */
export function reportError(error) {
  console.error(error);
  const detail = error instanceof Error ? error.message : String(error);
  useToastStore().add({ severity: "error", summary: "Error", detail, life: 5000 });
}

// ---------------------------------------------------------------------------------------------
// keybinding

export const useKeybindingStore = defineStore("keybinding", () => {
  const defaultKeybindings = new Map();
  const userKeybindings = new Map();
  const userUnsetKeybindings = new Map();

  const combined = () => {
    const result = new Map(defaultKeybindings);
    for (const [key, keybinding] of userUnsetKeybindings) {
      if (result.get(key)?.equals(keybinding)) result.delete(key);
    }
    for (const [key, keybinding] of userKeybindings) result.set(key, keybinding);
    return result;
  };

  const store = {
    get keybindings() {
      return [...combined().values()];
    },
    getUserKeybindings() {
      return Object.fromEntries(userKeybindings);
    },
    getUserUnsetKeybindings() {
      return Object.fromEntries(userUnsetKeybindings);
    },
    getKeybinding(combo) {
      const key = (combo instanceof KeyComboImpl ? combo : new KeyComboImpl(combo)).serialize();
      return combined().get(key);
    },
    getKeybindingsByCommandId(commandId) {
      return store.keybindings.filter((kb) => kb.commandId === commandId);
    },
    getKeybindingByCommandId(commandId) {
      return store.getKeybindingsByCommandId(commandId)[0];
    },
    /** Throws when the combo already has a default binding (core or an earlier extension). */
    addDefaultKeybinding(keybinding) {
      const key = keybinding.combo.serialize();
      const existing = defaultKeybindings.get(key);
      if (existing) throw new Error(`Keybinding on ${keybinding.combo} already exists on ${existing.commandId}`);
      defaultKeybindings.set(key, keybinding);
      notifyChange();
    },
    addUserKeybinding(keybinding) {
      const key = keybinding.combo.serialize();
      const unset = userUnsetKeybindings.get(key);
      if (defaultKeybindings.get(key)?.equals(keybinding) && unset?.equals(keybinding)) {
        userUnsetKeybindings.delete(key);
      } else {
        userKeybindings.set(key, keybinding);
      }
      notifyChange();
    },
    unsetKeybinding(keybinding) {
      const key = keybinding.combo.serialize();
      if (userKeybindings.get(key)?.equals(keybinding)) {
        userKeybindings.delete(key);
      } else if (defaultKeybindings.get(key)?.equals(keybinding)) {
        userUnsetKeybindings.set(key, keybinding);
      } else {
        throw new Error(`Trying to unset non-exist keybinding: ${JSON.stringify(keybinding)}`);
      }
      notifyChange();
    },
    updateKeybindingOnCommand(keybinding) {
      const current = store.getKeybindingByCommandId(keybinding.commandId);
      if (current?.equals(keybinding)) return false;
      if (current) store.unsetKeybinding(current);
      store.addUserKeybinding(keybinding);
      return true;
    },
    resetAllKeybindings() {
      userKeybindings.clear();
      userUnsetKeybindings.clear();
      notifyChange();
    },
    resetKeybindingForCommand(commandId) {
      for (const [key, kb] of [...userKeybindings]) if (kb.commandId === commandId) userKeybindings.delete(key);
      for (const [key, kb] of [...userUnsetKeybindings]) if (kb.commandId === commandId) userUnsetKeybindings.delete(key);
      notifyChange();
      return true;
    },
    isCommandKeybindingModified(commandId) {
      return [...userKeybindings.values(), ...userUnsetKeybindings.values()].some((kb) => kb.commandId === commandId);
    },
    loadExtensionKeybindings(extension) {
      for (const keybinding of extension.keybindings ?? []) store.addDefaultKeybinding(new KeybindingImpl(keybinding));
    },
  };
  return store;
});

// ---------------------------------------------------------------------------------------------
// menuItem

function commandMenuItem(commandStore, commandId, label, icon) {
  const command = commandStore.getCommand(commandId);
  return {
    label: label ?? command?.menubarLabel ?? commandId,
    icon: icon ?? command?.icon,
    tooltip: command?.tooltip,
    commandId,
    comfyCommand: command,
    command: () => commandStore.execute(commandId),
  };
}

export const useMenuItemStore = defineStore("menuItem", () => {
  const menuItems = reactive([]);
  const store = {
    menuItems,
    /** Adds `items` under the group at `path`, creating the groups (at the end) as needed. */
    registerMenuGroup(path, items) {
      let level = menuItems;
      for (const label of path) {
        let group = level.find((item) => item.label === label && Array.isArray(item.items));
        if (!group) {
          level.push({ label, items: [] });
          group = level.at(-1);
        }
        level = group.items;
      }
      if (level.length > 0 && items.length > 0) level.push({ separator: true });
      level.push(...items);
    },
    registerCommands(path, commandIds) {
      const commandStore = useCommandStore();
      store.registerMenuGroup(path, commandIds.map((id) => commandMenuItem(commandStore, id)));
    },
    loadExtensionMenuCommands(extension) {
      for (const { path, commands } of extension.menuCommands ?? []) store.registerCommands(path, commands);
    },
    registerCoreMenuCommands() {
      const commandStore = useCommandStore();
      const build = (item) => {
        if (item.separator) return { separator: true };
        if (item.items) return { label: item.label, items: item.items.map(build) };
        return commandMenuItem(commandStore, item.commandId, item.label, item.icon);
      };
      menuItems.push(...DEFAULT_MENU.map(build));
    },
    menuItemHasActiveStateChildren(item) {
      return (item.items ?? []).some((child) => child.comfyCommand?.active !== undefined);
    },
  };
  return store;
});

// ---------------------------------------------------------------------------------------------
// sidebarTab

export const useSidebarTabStore = defineStore("sidebarTab", () => {
  const sidebarTabs = reactive([]);
  let activeSidebarTabId = null;
  const store = {
    sidebarTabs,
    get activeSidebarTabId() {
      return activeSidebarTabId;
    },
    set activeSidebarTabId(value) {
      activeSidebarTabId = value;
      notifyChange();
    },
    get activeSidebarTab() {
      return sidebarTabs.find((tab) => tab.id === activeSidebarTabId) ?? null;
    },
    toggleSidebarTab(tabId) {
      activeSidebarTabId = activeSidebarTabId === tabId ? null : tabId;
      notifyChange();
    },
    /** Also registers `Workspace.ToggleSidebarTab.<id>`, which unregistering leaves behind. */
    registerSidebarTab(tab) {
      sidebarTabs.push(tab);
      const commandStore = useCommandStore();
      const commandId = `Workspace.ToggleSidebarTab.${tab.id}`;
      const recorded = DEFAULT_COMMANDS.find((c) => c.id === commandId);
      commandStore.registerCommand({
        id: commandId,
        icon: typeof tab.icon === "string" ? tab.icon : undefined,
        label: recorded?.label ?? `Toggle ${translate(tab.title)} Sidebar`,
        menubarLabel: recorded?.menubarLabel,
        tooltip: recorded?.tooltip ?? translate(tab.tooltip ?? tab.title),
        category: recorded?.category ?? "view-controls",
        versionAdded: recorded?.versionAdded ?? "1.3.9",
        source: "System",
        function: () => store.toggleSidebarTab(tab.id),
      });
    },
    unregisterSidebarTab(id) {
      const index = sidebarTabs.findIndex((tab) => tab.id === id);
      if (index === -1) return;
      sidebarTabs.splice(index, 1);
      if (activeSidebarTabId === id) store.toggleSidebarTab(id);
    },
    registerCoreSidebarTabs() {
      for (const tab of CORE_SIDEBAR_TABS) store.registerSidebarTab(markRaw({ ...tab, type: "vue", component: markRaw({ name: `${tab.id}-sidebar-tab` }) }));
    },
  };
  return store;
});

const I18N = {
  "sideToolbar.queue": "Queue",
  "sideToolbar.nodeLibrary": "Node Library",
  "sideToolbar.modelLibrary": "Model Library",
  "sideToolbar.workflows": "Workflows",
  "sideToolbar.labels.queue": "Queue",
  "sideToolbar.labels.nodes": "Nodes",
  "sideToolbar.labels.models": "Models",
  "sideToolbar.labels.workflows": "Workflows",
};

/** The few i18n keys the store holds (English); anything else is shown as given. */
export function translate(text) {
  return typeof text === "string" ? (I18N[text] ?? text) : text;
}

// ---------------------------------------------------------------------------------------------
// setting

export const useSettingStore = defineStore("setting", () => {
  const settingValues = reactive({});
  const settingsById = reactive({});
  const store = {
    settingValues,
    settingsById,
    addSetting(setting) {
      if (!setting.id) throw new Error("Settings must have an ID");
      if (setting.id in settingsById) throw new Error(`Setting ${setting.id} must have a unique ID.`);
      settingsById[setting.id] = markRaw({ ...setting });
      setting.onChange?.(store.get(setting.id), undefined);
    },
    loadSettingValues(values) {
      for (const key of Object.keys(settingValues)) delete settingValues[key];
      Object.assign(settingValues, values);
    },
    /** `POST /api/settings/<id>` with the JSON value (text/plain); unchanged values are not sent. */
    async set(key, value) {
      const oldValue = store.get(key);
      if (value === oldValue) return;
      settingValues[key] = value;
      settingsById[key]?.onChange?.(value, oldValue);
      await api.storeSetting(key, value);
    },
    get(key) {
      return settingValues[key] ?? store.getDefaultValue(key);
    },
    exists(key) {
      return settingValues[key] !== undefined;
    },
    getDefaultValue(key) {
      const setting = settingsById[key];
      if (!setting) return undefined;
      return typeof setting.defaultValue === "function" ? setting.defaultValue() : setting.defaultValue;
    },
  };
  return store;
});

// ---------------------------------------------------------------------------------------------
// extension

/** Names the real front end always treats as disabled (recorded inactiveDisabledExtensionNames). */
const ALWAYS_DISABLED = ["pysssss.Locking", "pysssss.SnapToGrid", "pysssss.FaviconStatus", "KJNodes.browserstatus"];

export const useExtensionStore = defineStore("extension", () => {
  const extensionByName = new Map();
  const disabledExtensionNames = new Set();
  const coreExtensionNames = new Set();
  const store = {
    get extensions() {
      return [...extensionByName.values()];
    },
    get enabledExtensions() {
      return store.extensions.filter((ext) => !disabledExtensionNames.has(ext.name));
    },
    get inactiveDisabledExtensionNames() {
      return [...disabledExtensionNames].filter((name) => !extensionByName.has(name));
    },
    isExtensionInstalled(name) {
      return extensionByName.has(name);
    },
    isExtensionEnabled(name) {
      return !disabledExtensionNames.has(name);
    },
    isExtensionReadOnly(_name) {
      return false;
    },
    registerExtension(extension) {
      if (!extension.name) throw new Error("Extensions must have a 'name' property.");
      if (extensionByName.has(extension.name)) throw new Error(`Extension named '${extension.name}' already registered.`);
      if (disabledExtensionNames.has(extension.name)) console.log(`Extension ${extension.name} is disabled.`);
      extensionByName.set(extension.name, extension);
      notifyChange();
    },
    loadDisabledExtensionNames() {
      disabledExtensionNames.clear();
      for (const name of [...(useSettingStore().get("Comfy.Extension.Disabled") ?? []), ...ALWAYS_DISABLED]) disabledExtensionNames.add(name);
    },
    captureCoreExtensions() {
      for (const name of extensionByName.keys()) coreExtensionNames.add(name);
    },
    isCoreExtension(name) {
      return coreExtensionNames.has(name);
    },
    get hasThirdPartyExtensions() {
      return store.extensions.some((ext) => !coreExtensionNames.has(ext.name));
    },
  };
  return store;
});

// ---------------------------------------------------------------------------------------------
// user

export const useUserStore = defineStore("user", () => {
  let userConfig = null;
  const store = {
    get users() {
      return Object.entries(userConfig?.users ?? {}).map(([userId, username]) => ({ userId, username }));
    },
    get currentUserId() {
      return localStorage.getItem("Comfy.userId");
    },
    get currentUser() {
      const userId = store.currentUserId;
      if (!userId) return null;
      return store.users.find((u) => u.userId === userId) ?? null;
    },
    get isMultiUserServer() {
      return userConfig !== null && "users" in userConfig;
    },
    get needsLogin() {
      return store.isMultiUserServer && store.currentUser === null;
    },
    get initialized() {
      return userConfig !== null;
    },
    async initialize() {
      userConfig = await api.getUserConfig();
      notifyChange();
    },
    async createUser(username) {
      const response = await api.createUser(username);
      const body = await response.json();
      if (response.status !== 200) throw new Error(body.error ?? `Error creating user: ${response.status} ${response.statusText}`);
      return { userId: body, username };
    },
    async login({ userId, username }) {
      localStorage.setItem("Comfy.userId", userId);
      localStorage.setItem("Comfy.userName", username);
      api.user = userId;
      userConfig = await api.getUserConfig();
      notifyChange();
    },
    async logout() {
      localStorage.removeItem("Comfy.userId");
      localStorage.removeItem("Comfy.userName");
      api.closeSocket();
      location.assign(`${api.api_base}/`);
    },
  };
  return store;
});

// ---------------------------------------------------------------------------------------------
// workflow

export class ComfyWorkflow {
  constructor({ path, isTemporary, content, size, modified }) {
    this.path = path;
    this.isTemporary = isTemporary;
    this.isModified = false;
    this.size = size ?? -1;
    this.lastModified = modified ?? Date.now();
    /** The graph as last loaded or saved (UI workflow JSON object). */
    this.activeState = content ?? null;
    this.originalContent = content ? JSON.stringify(content) : null;
    markRaw(this);
  }

  get key() {
    return this.path.slice("workflows/".length);
  }

  get filename() {
    return this.key.replace(/\.json$/, "");
  }

  get isPersisted() {
    return !this.isTemporary;
  }

  get isLoaded() {
    return this.activeState !== null;
  }
}

export function appendJsonExt(path) {
  return /\.json$/i.test(path) ? path : `${path}.json`;
}

export const useWorkflowStore = defineStore("workflow", () => {
  const workflows = reactive([]);
  const openWorkflows = reactive([]);
  let activeWorkflow = null;
  const store = {
    workflows,
    openWorkflows,
    get activeWorkflow() {
      return activeWorkflow;
    },
    get persistedWorkflows() {
      return workflows.filter((w) => w.isPersisted);
    },
    get modifiedWorkflows() {
      return workflows.filter((w) => w.isModified);
    },
    getWorkflowByPath(path) {
      return workflows.find((w) => w.path === path) ?? null;
    },
    /** A fresh unsaved workflow named like the real one ("Unsaved Workflow", "… (2)", …). */
    createTemporary(name, content) {
      const base = name ? name.replace(/\.json$/, "") : "Unsaved Workflow";
      let filename = base;
      for (let n = 2; store.getWorkflowByPath(`workflows/${filename}.json`); n++) filename = `${base} (${n})`;
      const workflow = new ComfyWorkflow({ path: `workflows/${filename}.json`, isTemporary: true, content });
      workflows.push(workflow);
      return workflow;
    },
    openWorkflow(workflow) {
      if (!openWorkflows.includes(workflow)) openWorkflows.push(workflow);
      activeWorkflow = workflow;
      notifyChange();
      return workflow;
    },
    closeWorkflow(workflow) {
      const index = openWorkflows.indexOf(workflow);
      if (index !== -1) openWorkflows.splice(index, 1);
      if (workflow.isTemporary) {
        const known = workflows.indexOf(workflow);
        if (known !== -1) workflows.splice(known, 1);
      }
      if (activeWorkflow === workflow) activeWorkflow = openWorkflows[Math.min(index, openWorkflows.length - 1)] ?? null;
      notifyChange();
    },
    /** Saves to its own path: `overwrite=false` the first time, `true` once persisted. */
    async saveWorkflow(workflow, content, overwrite = workflow.isPersisted) {
      const response = await api.storeUserData(workflow.path, JSON.stringify(content), { overwrite, stringify: false, throwOnError: true, full_info: true });
      const info = await response.json().catch(() => ({}));
      workflow.isTemporary = false;
      workflow.isModified = false;
      workflow.activeState = content;
      workflow.originalContent = JSON.stringify(content);
      if (typeof info.size === "number") workflow.size = info.size;
      if (typeof info.modified === "number") workflow.lastModified = info.modified;
      notifyChange();
      return workflow;
    },
    /** Saves `content` under a new path and returns the (open) workflow for it. */
    async saveAs(workflow, newPath, content, { overwrite = false } = {}) {
      const existing = store.getWorkflowByPath(newPath);
      const target = existing && existing !== workflow ? existing : new ComfyWorkflow({ path: newPath, isTemporary: true, content });
      const response = await api.storeUserData(newPath, JSON.stringify(content), { overwrite, stringify: false, throwOnError: true, full_info: true });
      const info = await response.json().catch(() => ({}));
      target.isTemporary = false;
      target.isModified = false;
      target.activeState = content;
      target.originalContent = JSON.stringify(content);
      if (typeof info.size === "number") target.size = info.size;
      if (!workflows.includes(target)) workflows.push(target);
      notifyChange();
      return target;
    },
    renameTemporary(workflow, newPath) {
      workflow.path = newPath;
      notifyChange();
    },
    async deleteWorkflow(workflow) {
      if (workflow.isPersisted) await api.deleteUserData(workflow.path);
      store.closeWorkflow(workflow);
      const index = workflows.indexOf(workflow);
      if (index !== -1) workflows.splice(index, 1);
    },
    /** Lists `workflows/` (`GET /api/userdata?dir=workflows&…&full_info=true`). */
    async syncWorkflows() {
      const files = await api.listUserDataFullInfo("workflows");
      for (const file of files) {
        const path = `workflows/${file.path}`;
        if (!store.getWorkflowByPath(path)) workflows.push(new ComfyWorkflow({ path, isTemporary: false, size: file.size, modified: file.modified }));
      }
      notifyChange();
    },
  };
  return store;
});

// ---------------------------------------------------------------------------------------------
// queue, execution, node definitions, bottom panel, palettes, queue settings, system stats

export const useQueueStore = defineStore("queue", () => {
  const state = reactive({ runningTasks: [], pendingTasks: [], historyTasks: [], maxHistoryItems: 64 });
  const store = {
    get runningTasks() {
      return state.runningTasks;
    },
    get pendingTasks() {
      return state.pendingTasks;
    },
    get historyTasks() {
      return state.historyTasks;
    },
    get maxHistoryItems() {
      return state.maxHistoryItems;
    },
    get tasks() {
      return [...state.runningTasks, ...state.pendingTasks, ...state.historyTasks];
    },
    /** `GET /api/queue` and `GET /api/history?max_items=64`, as on every status message. */
    async update() {
      const [queue, history] = await Promise.all([api.getQueue(), api.getHistory(state.maxHistoryItems)]);
      state.runningTasks = queue.Running;
      state.pendingTasks = queue.Pending;
      state.historyTasks = history.History.reverse();
    },
  };
  return store;
});

export const useExecutionStore = defineStore("execution", () => {
  const state = reactive({ activePromptId: null, executingNodeId: null, queuedPrompts: {}, lastExecutionError: null, clientId: null });
  return {
    get activePromptId() {
      return state.activePromptId;
    },
    set activePromptId(value) {
      state.activePromptId = value;
    },
    get executingNodeId() {
      return state.executingNodeId;
    },
    set executingNodeId(value) {
      state.executingNodeId = value;
    },
    get isIdle() {
      return state.activePromptId === null;
    },
    get lastExecutionError() {
      return state.lastExecutionError;
    },
    set lastExecutionError(value) {
      state.lastExecutionError = value;
    },
    queuedPrompts: state.queuedPrompts,
    get clientId() {
      return api.clientId ?? null;
    },
  };
});

export const useNodeDefStore = defineStore("nodeDef", () => {
  let nodeDefsByName = {};
  return {
    get nodeDefsByName() {
      return nodeDefsByName;
    },
    get nodeDefs() {
      return Object.values(nodeDefsByName);
    },
    updateNodeDefs(defs) {
      nodeDefsByName = { ...defs };
      notifyChange();
    },
  };
});

export const useBottomPanelStore = defineStore("bottomPanel", () => {
  const panels = reactive({
    terminal: { tabs: [{ id: "logs-terminal", title: "Logs", titleKey: "g.logs", type: "stand-in" }], activeTabId: "logs-terminal" },
    shortcuts: { tabs: [{ id: "shortcuts-essentials", title: "Essential", type: "stand-in" }, { id: "shortcuts-view-controls", title: "View Controls", type: "stand-in" }], activeTabId: "shortcuts-essentials" },
  });
  let activePanel = null;
  const store = {
    panels,
    get activePanel() {
      return activePanel;
    },
    get bottomPanelVisible() {
      return activePanel !== null;
    },
    get bottomPanelTabs() {
      return activePanel ? panels[activePanel].tabs : [];
    },
    get activeBottomPanelTabId() {
      return activePanel ? panels[activePanel].activeTabId : null;
    },
    get activeBottomPanelTab() {
      return store.bottomPanelTabs.find((tab) => tab.id === store.activeBottomPanelTabId) ?? null;
    },
    togglePanel(name) {
      activePanel = activePanel === name ? null : name;
      notifyChange();
    },
    toggleBottomPanel() {
      store.togglePanel("terminal");
    },
    setActiveTab(tabId) {
      for (const [name, panel] of Object.entries(panels)) {
        if (panel.tabs.some((t) => t.id === tabId)) {
          panel.activeTabId = tabId;
          activePanel = name;
        }
      }
      notifyChange();
    },
    toggleBottomPanelTab(tabId) {
      if (activePanel && panels[activePanel].activeTabId === tabId) {
        activePanel = null;
        notifyChange();
      } else {
        store.setActiveTab(tabId);
      }
    },
    registerBottomPanelTab(tab) {
      panels.terminal.tabs.push(markRaw(tab));
      const commandStore = useCommandStore();
      commandStore.registerCommand({ id: `Workspace.ToggleBottomPanelTab.${tab.id}`, icon: "pi pi-list", label: `Toggle ${tab.title} Bottom Panel`, category: "view-controls", function: () => store.toggleBottomPanelTab(tab.id), source: "System" });
    },
    registerCoreBottomPanelTabs() {
      const commandStore = useCommandStore();
      for (const panel of Object.values(panels)) {
        for (const tab of panel.tabs) {
          const id = `Workspace.ToggleBottomPanelTab.${tab.id}`;
          const recorded = DEFAULT_COMMANDS.find((c) => c.id === id);
          commandStore.registerCommand({ ...recorded, id, function: () => store.toggleBottomPanelTab(tab.id) });
        }
      }
    },
    registerExtensionBottomPanelTabs(extension) {
      for (const tab of extension.bottomPanelTabs ?? []) store.registerBottomPanelTab(tab);
    },
  };
  return store;
});

export const useColorPaletteStore = defineStore("colorPalette", () => {
  const palettes = { dark: { id: "dark", name: "Dark (Default)", light_theme: false }, light: { id: "light", name: "Light", light_theme: true } };
  return {
    palettesLookup: palettes,
    get palettes() {
      return Object.values(palettes);
    },
    get activePaletteId() {
      return useSettingStore().get("Comfy.ColorPalette") ?? "dark";
    },
    get completedActivePalette() {
      return palettes[this.activePaletteId] ?? palettes.dark;
    },
  };
});

export const useQueueSettingsStore = defineStore("queueSettingsStore", () => {
  const state = reactive({ mode: "disabled", batchCount: 1 });
  return {
    get mode() {
      return state.mode;
    },
    set mode(value) {
      state.mode = value;
    },
    get batchCount() {
      return state.batchCount;
    },
    set batchCount(value) {
      state.batchCount = value;
    },
  };
});

export const useSystemStatsStore = defineStore("systemStats", () => {
  let systemStats = null;
  return {
    get systemStats() {
      return systemStats;
    },
    async fetchSystemStats() {
      systemStats = await api.getSystemStats();
      notifyChange();
      return systemStats;
    },
  };
});

// ---------------------------------------------------------------------------------------------
// workspace: app.extensionManager

let dialogService = null;

/** The dialog service (prompt, confirm, showSettingsDialog, …) lives with the views. */
export function provideDialogService(service) {
  dialogService = service;
}

export const useWorkspaceStore = defineStore("workspace", () => {
  const state = reactive({ spinner: false, shiftDown: false, focusMode: false });
  const commandStore = useCommandStore();
  const settingStore = useSettingStore();
  const sidebarTabStore = useSidebarTabStore();
  const command = {
    get commands() {
      return commandStore.commands;
    },
    execute: (id, errorHandler) => commandStore.execute(id, errorHandler),
  };
  const setting = {
    get settings() {
      return settingStore.settingsById;
    },
    get: (id) => settingStore.get(id),
    set: (id, value) => settingStore.set(id, value),
  };
  return {
    get spinner() {
      return state.spinner;
    },
    set spinner(value) {
      state.spinner = value;
    },
    get shiftDown() {
      return state.shiftDown;
    },
    set shiftDown(value) {
      state.shiftDown = value;
    },
    get focusMode() {
      return state.focusMode;
    },
    set focusMode(value) {
      state.focusMode = value;
    },
    toggleFocusMode() {
      state.focusMode = !state.focusMode;
    },
    toast: useToastStore(),
    queueSettings: useQueueSettingsStore(),
    command,
    sidebarTab: sidebarTabStore,
    setting,
    workflow: useWorkflowStore(),
    colorPalette: useColorPaletteStore(),
    get dialog() {
      return dialogService;
    },
    bottomPanel: useBottomPanelStore(),
    user: useUserStore(),
    registerSidebarTab(tab) {
      sidebarTabStore.registerSidebarTab(tab);
    },
    unregisterSidebarTab(id) {
      sidebarTabStore.unregisterSidebarTab(id);
    },
    getSidebarTabs() {
      return sidebarTabStore.sidebarTabs;
    },
  };
});
