// Stand-in for the ComfyUI front end 1.27.10, for tests and the demo: the same globals, store
// ids, call shapes and boot requests as recorded (shared/fixtures/frontend-1.27.10), in plain
// JavaScript with no framework. See tests/fake-comfyui/README.md ("The stand-in front end").
import { api, ComfyApi, PromptExecutionError, UnauthorizedError } from "./api.js";
import { ANIM_PREVIEW_WIDGET, ComfyApp } from "./comfy-app.js";
import { coreExtensionCommands, registerCoreCommands } from "./commands.js";
import { h, LOGO_DATA_URL } from "./dom.js";
import { installKeyListener, KeybindingImpl } from "./keybindings.js";
import * as legacy from "./legacy.js";
import { createPinia, onStateChange, setActivePinia } from "./pinia-lite.js";
import { CORE_EXTENSION_NAMES, CORE_SETTINGS, DEFAULT_KEYBINDINGS } from "./recorded.js";
import {
  useBottomPanelStore,
  useCommandStore,
  useExtensionStore,
  useKeybindingStore,
  useMenuItemStore,
  useNodeDefStore,
  useQueueStore,
  useSettingStore,
  useSidebarTabStore,
  useSystemStatsStore,
  useUserStore,
  useWorkflowStore,
  useWorkspaceStore,
} from "./stores.js";
import { CanvasView } from "./ui-canvas.js";
import { createDialogService, mountDialogHost } from "./ui-dialogs.js";
import { buildShell } from "./ui-shell.js";

const VERSION = "1.27.10";

const pinia = createPinia();
setActivePinia(pinia);

const app = new ComfyApp();
window.__COMFYUI_FRONTEND_VERSION__ = VERSION;
window.app = app;
window.graph = app.graph;
window.comfyAPI = {
  api: { UnauthorizedError, PromptExecutionError, ComfyApi, api },
  app: { ANIM_PREVIEW_WIDGET, ComfyApp, app },
  ui: { ComfyDialog: legacy.ComfyDialog, $el: legacy.$el, ComfyUI: legacy.ComfyUI },
  dialog: { ComfyDialog: legacy.ComfyDialog },
  utils: {
    clone: legacy.clone,
    applyTextReplacements: legacy.applyTextReplacements,
    addStylesheet: legacy.addStylesheet,
    downloadBlob: legacy.downloadBlob,
    uploadFile: legacy.uploadFile,
    prop: legacy.prop,
    getStorageValue: legacy.getStorageValue,
    setStorageValue: legacy.setStorageValue,
    applyClasses: legacy.applyClasses,
    toggleElement: legacy.toggleElement,
  },
};
window.__standinReady = false;

const root = document.getElementById("vue-app");

/** Multi-user servers without a known user in localStorage get the user-selection screen. */
function userSelection(userStore) {
  return new Promise((resolve) => {
    const users = userStore.users;
    const newUser = h("input#new-user-input.p-inputtext", { type: "text", placeholder: "Enter a username", autocomplete: "off" });
    const existing = h(
      "select#existing-user-select.p-select",
      { role: "combobox", "aria-label": "Select a user", disabled: users.length === 0 },
      h("option", { value: "", text: "Select a user", disabled: true, selected: true }),
      users.map((user) => h("option", { value: user.userId, role: "option", "aria-label": user.username, text: user.username })),
    );
    const error = h("p.user-selection-error", { role: "alert" });
    const next = h("button.p-button", { type: "submit", "aria-label": "Next" }, "Next");
    const screen = h(
      "main#comfy-user-selection.comfy-user-selection",
      {},
      h(
        "form.comfy-user-selection-inner",
        {},
        h("img.comfy-user-selection-logo", { src: LOGO_DATA_URL, alt: "ComfyUI Logo" }),
        h("div.user-field", {}, h("label", { for: "new-user-input", text: "New user:" }), newUser),
        h("div.user-or", { text: "or" }),
        h("div.user-field", {}, h("label", { for: "existing-user-select", text: "Existing user:" }), existing),
        error,
        h("footer", {}, next),
      ),
    );
    screen.querySelector("form").addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      const name = newUser.value.trim();
      try {
        let user;
        if (name) user = await userStore.createUser(name);
        else if (existing.value) user = users.find((u) => u.userId === existing.value);
        else {
          error.textContent = "Please enter a username or select an existing user.";
          return;
        }
        await userStore.login(user);
        screen.remove();
        resolve();
      } catch (e) {
        error.textContent = e instanceof Error ? e.message : String(e);
      }
    });
    root.append(screen);
    newUser.focus();
  });
}

async function registerCoreExtensions() {
  const groupNodeKeys = DEFAULT_KEYBINDINGS.filter((kb) => kb.commandId.startsWith("Comfy.GroupNode."));
  for (const name of CORE_EXTENSION_NAMES) {
    const commands = coreExtensionCommands(name);
    const extension = { name };
    if (commands.length) extension.commands = commands;
    if (name === "Comfy.GroupNode") extension.keybindings = groupNodeKeys.map((kb) => ({ ...kb }));
    app.registerExtension(extension);
  }
  useExtensionStore().captureCoreExtensions();
}

async function boot() {
  const userStore = useUserStore();
  const systemStats = useSystemStatsStore();
  await systemStats.fetchSystemStats().catch((error) => console.error(error));
  await userStore.initialize();
  if (userStore.needsLogin) await userSelection(userStore);
  api.user = userStore.isMultiUserServer ? (userStore.currentUserId ?? "") : "";

  await api.getCustomNodesI18n().catch(() => ({}));
  const settingStore = useSettingStore();
  settingStore.loadSettingValues(await api.getSettings());
  for (const setting of CORE_SETTINGS) settingStore.addSetting(setting);
  if (settingStore.get("Comfy.InstalledVersion") === undefined) {
    app.isNewUserSession = true;
    void settingStore.set("Comfy.InstalledVersion", VERSION).catch((error) => console.error(error));
  }
  const workflowStore = useWorkflowStore();
  await workflowStore.syncWorkflows().catch((error) => console.error(error));
  await api.listUserDataFullInfo("subgraphs/").catch(() => []);

  // The page, then the core registrations, then the extensions.
  app.extensionManager = useWorkspaceStore();
  createDialogService();
  const shell = buildShell(app, root);
  mountDialogHost(shell.dialogContainer);
  app.bodyTop = shell.bodyTop;
  app.bodyLeft = shell.bodyLeft;
  app.bodyRight = shell.bodyRight;
  app.bodyBottom = shell.bodyBottom;
  app.canvasContainer = shell.canvasContainer;
  app.menu = shell.menu;
  app.ui = new legacy.ComfyUI(app, shell.menu);
  app.canvasView = new CanvasView(app, shell.canvasContainer);
  app.canvasEl = app.canvasView.canvas;
  app.ctx = app.canvasView.ctx;
  app.canvas = {
    canvas: app.canvasEl,
    ds: app.canvasView.ds,
    get graph() {
      return app.graph;
    },
    setDirty: () => app.canvasView.draw(),
    draw: () => app.canvasView.draw(),
    selected_nodes: {},
  };

  registerCoreCommands(app);
  const keybindingStore = useKeybindingStore();
  for (const keybinding of DEFAULT_KEYBINDINGS.filter((kb) => !kb.commandId.startsWith("Comfy.GroupNode."))) keybindingStore.addDefaultKeybinding(new KeybindingImpl(keybinding));
  useSidebarTabStore().registerCoreSidebarTabs();
  useBottomPanelStore().registerCoreBottomPanelTabs();
  useMenuItemStore().registerCoreMenuCommands();
  installKeyListener(keybindingStore, useCommandStore());
  useExtensionStore().loadDisabledExtensionNames();
  await registerCoreExtensions();
  // Bindings the user changed in Settings > Keybinding (persisted as settings); runtime changes
  // made through the store are not persisted, so every load starts from these.
  for (const keybinding of settingStore.get("Comfy.Keybinding.UnsetBindings") ?? []) {
    try {
      keybindingStore.unsetKeybinding(new KeybindingImpl(keybinding));
    } catch (error) {
      console.warn(error);
    }
  }
  for (const keybinding of settingStore.get("Comfy.Keybinding.NewBindings") ?? []) keybindingStore.addUserKeybinding(new KeybindingImpl(keybinding));

  const urls = await api.getExtensions();
  await Promise.all(
    urls
      .filter((url) => !url.includes("extensions/core"))
      .map(async (url) => {
        try {
          await import(/* @vite-ignore */ api.fileURL(url));
        } catch (error) {
          console.error("Error loading extension", url, error);
        }
      }),
  );

  await app.invokeExtensionsAsync("init", app);
  const defs = await api.getNodeDefs();
  useNodeDefStore().updateNodeDefs(defs);
  await app.registerNodesFromDefs(defs);
  const queueStore = useQueueStore();
  app.listenToExecution(queueStore);
  // Ready means connected: the first status frame carries the client id queued prompts use.
  const connected = new Promise((resolve) => {
    const onStatus = () => {
      if (!api.clientId) return;
      api.removeEventListener("status", onStatus);
      resolve();
    };
    api.addEventListener("status", onStatus);
    setTimeout(resolve, 5000);
  });
  api.init();
  await app.invokeExtensionsAsync("setup", app);
  await app.restoreWorkflow();

  // What the real page fetches after boot (legacy templates, the model folders).
  void api.getUserData("comfy.templates.json").catch(() => null);
  void api.getModelFolders().catch(() => null);

  const applyPalette = () => {
    const light = settingStore.get("Comfy.ColorPalette") === "light";
    if (document.body.classList.contains("comfy-light-theme") === light) return;
    document.body.classList.toggle("comfy-light-theme", light);
    app.canvasView.draw();
  };
  onStateChange(applyPalette);
  applyPalette();
  await connected;
  app.vueAppReady = true;
  window.__standinReady = true;
  window.dispatchEvent(new CustomEvent("standin:ready", { detail: { app } }));
}

boot().catch((error) => {
  console.error("[stand-in] boot failed", error);
  window.__standinBootError = String(error?.stack ?? error);
  root.append(h("pre.standin-boot-error", { text: `The stand-in front end failed to start:\n${error?.stack ?? error}` }));
});
