// The page around the graph, with the stable landmarks recorded in dom-landmarks.md: top bar
// (logo menu, breadcrumb, action bar with Run / Batch Count / execution actions), workflow tabs,
// left sidebar and its panel, bottom panel, toasts, and the legacy hidden `.comfy-menu`.
import { clear, h, icon, LOGO_DATA_URL } from "./dom.js";
import { mountMenu } from "./ui-menu.js";
import { onStateChange } from "./pinia-lite.js";
import {
  translate,
  useBottomPanelStore,
  useCommandStore,
  useKeybindingStore,
  useNodeDefStore,
  useQueueSettingsStore,
  useQueueStore,
  useSidebarTabStore,
  useToastStore,
  useUserStore,
  useWorkflowStore,
  useWorkspaceStore,
} from "./stores.js";

/** Re-renders `element` from `build()` only when `signature()` changed since the last time. */
function view(element, signature, build) {
  let last = null;
  const update = () => {
    const next = signature();
    if (next === last) return;
    last = next;
    clear(element);
    const content = build();
    if (content) element.append(...[content].flat().filter(Boolean));
  };
  onStateChange(update);
  update();
  return update;
}

export function buildShell(app, root) {
  const commandStore = useCommandStore();
  const run = (id) => () => commandStore.execute(id).catch((error) => console.error(error));

  // --- top bar -------------------------------------------------------------------------------
  const logoWrapper = h(
    "div.comfyui-logo-wrapper",
    { role: "button", tabindex: "0", "aria-haspopup": "menu", "aria-expanded": "false", "aria-label": "Workflow actions" },
    h("img.comfyui-logo", { src: LOGO_DATA_URL, alt: "ComfyUI Logo" }),
    icon("pi pi-angle-down"),
  );
  const breadcrumb = h("div.subgraph-breadcrumb");
  const batchInput = h("input.p-inputnumber-input", { role: "spinbutton", "aria-valuemin": "1", "aria-valuemax": "100", "aria-valuenow": "1", inputmode: "numeric", value: "1", "aria-label": "Batch Count" });
  const setBatch = (value) => {
    const count = Math.min(100, Math.max(1, Math.round(Number(value)) || 1));
    useQueueSettingsStore().batchCount = count;
    batchInput.value = String(count);
    batchInput.setAttribute("aria-valuenow", String(count));
  };
  batchInput.addEventListener("change", () => setBatch(batchInput.value));
  const runButton = h("button.p-button.p-splitbutton-button.comfyui-queue-button-main", { type: "button", "aria-label": "Run" }, icon("pi pi-play"), h("span.p-button-label", { text: "Run" }));
  runButton.addEventListener("click", (event) => void commandStore.execute(event.shiftKey ? "Comfy.QueuePromptFront" : "Comfy.QueuePrompt").catch((error) => console.error(error)));
  const runModeButton = h("button.p-button.p-splitbutton-dropdown", { type: "button", "aria-haspopup": "true", "aria-expanded": "false", "aria-label": "Run mode" }, icon("pi pi-chevron-down"));
  runModeButton.addEventListener("click", () => toggleRunModeMenu(runModeButton));
  const clearPending = h("button.p-button.p-button-text", { type: "button", "aria-label": "Clear Pending Tasks", disabled: true, onClick: run("Comfy.ClearPendingTasks") }, icon("pi pi-stop"));
  const cancelRun = h("button.p-button.p-button-text", { type: "button", "aria-label": "Cancel current run", onClick: run("Comfy.Interrupt") }, icon("pi pi-times"));
  const actionbar = h(
    "div.actionbar.is-docked.p-panel",
    {},
    h(
      "div.actionbar-content",
      {},
      h("span.drag-handle", { "aria-hidden": "true" }),
      h(
        "div.queue-button-group",
        {},
        h("div.p-splitbutton.comfyui-queue-button", { "data-testid": "queue-button" }, runButton, runModeButton),
        h(
          "div.batch-count.p-inputnumber",
          { "aria-label": "Batch Count" },
          batchInput,
          h("span.p-inputnumber-button-group", {}, h("button.p-inputnumber-increment-button", { type: "button", tabindex: "-1", "aria-label": "Increase", onClick: () => setBatch(Number(batchInput.value) + 1) }, icon("pi pi-chevron-up")), h("button.p-inputnumber-decrement-button", { type: "button", tabindex: "-1", "aria-label": "Decrease", onClick: () => setBatch(Number(batchInput.value) - 1) }, icon("pi pi-chevron-down"))),
        ),
        h("div.execution-actions", { role: "group" }, cancelRun, clearPending),
      ),
    ),
  );
  const buttonSlots = [h("div.comfyui-button-group"), h("div.comfyui-button-group"), h("div.comfyui-button-group")];
  const menuBar = h("div.comfyui-menu.flex.items-center", {}, logoWrapper, breadcrumb, h("div.flex-grow"), h("div.comfyui-menu-right", {}, buttonSlots), actionbar);
  const bodyTop = h("div#comfyui-body-top.comfyui-body-top", {}, menuBar);

  // --- workflow tabs -------------------------------------------------------------------------
  const tabsContainer = h("div.workflow-tabs-container");

  // --- sidebar -------------------------------------------------------------------------------
  const sidebarNav = h("nav.side-tool-bar-container", { "aria-label": "Side toolbar" });
  const bodyLeft = h("div#comfyui-body-left.comfyui-body-left", {}, sidebarNav);
  const sidePanel = h("div.p-splitterpanel.side-bar-panel", { hidden: true });

  // --- canvas, right, bottom -----------------------------------------------------------------
  const canvasContainer = h("div#graph-canvas-container.graph-canvas-container");
  const graphControls = h(
    "div.graph-canvas-controls",
    {},
    h("button.p-button.p-button-text", { type: "button", "data-testid": "zoom-controls-button", "aria-label": "Zoom controls", onClick: () => app.canvasView.fitView() }, h("span", { text: "100%" })),
    h("button.p-button.p-button-text", { type: "button", "data-testid": "focus-mode-button", "aria-label": "Focus Mode", onClick: run("Workspace.ToggleFocusMode") }, icon("pi pi-expand")),
    h("button.p-button.p-button-text", { type: "button", "data-testid": "toggle-link-visibility-button", "aria-label": "Toggle Link Visibility", onClick: run("Comfy.Canvas.ToggleLinkVisibility") }, icon("pi pi-eye")),
  );
  const graphPanel = h("div.graph-canvas-panel", {}, canvasContainer, sidePanel, tabsContainer, graphControls);
  const bodyRight = h("div#comfyui-body-right.comfyui-body-right");
  const bodyBottom = h("div#comfyui-body-bottom.comfyui-body-bottom", { hidden: true });
  const body = h("div.comfyui-body.grid", {}, bodyTop, bodyLeft, graphPanel, bodyRight, bodyBottom);
  const toastContainer = h("div.p-toast.p-component.p-toast-top-right", { "data-pc-name": "toast" });
  const dialogContainer = h("div.standin-dialogs");
  root.append(body, toastContainer, dialogContainer);

  mountMenu(logoWrapper);
  mountBreadcrumb(breadcrumb);
  mountWorkflowTabs(tabsContainer, run);
  mountSidebar(app, sidebarNav, run);
  mountSidePanel(app, sidePanel);
  mountBottomPanel(bodyBottom);
  mountToasts(toastContainer);
  onStateChange(() => {
    clearPending.disabled = useQueueStore().pendingTasks.length === 0;
    const workspace = useWorkspaceStore();
    body.classList.toggle("focus-mode", workspace.focusMode);
    const count = useQueueSettingsStore().batchCount;
    if (document.activeElement !== batchInput && batchInput.value !== String(count)) batchInput.value = String(count);
  });

  const legacy = buildLegacyMenu(app);
  document.body.append(legacy.menu, ...legacy.modals, legacy.fileInput);

  return { bodyTop, bodyLeft, bodyRight, bodyBottom, canvasContainer, menu: legacy.menu, fileInput: legacy.fileInput, legacyModals: legacy.modals, dialogContainer, buttonSlots };
}

let runModeMenu = null;
function toggleRunModeMenu(anchor) {
  if (runModeMenu) {
    runModeMenu.remove();
    runModeMenu = null;
    anchor.setAttribute("aria-expanded", "false");
    return;
  }
  const settings = useQueueSettingsStore();
  const modes = [
    ["disabled", "Run"],
    ["instant", "Run (Instant)"],
    ["change", "Run (On Change)"],
  ];
  const rect = anchor.getBoundingClientRect();
  runModeMenu = h(
    "div.p-tieredmenu.p-component.run-mode-menu",
    { style: { top: `${rect.bottom + 4}px`, left: `${rect.right - 180}px` } },
    h(
      "ul.p-tieredmenu-root-list",
      { role: "menu" },
      modes.map(([mode, label]) =>
        h("li.p-tieredmenu-item", { role: "menuitem", "aria-label": label, class: settings.mode === mode ? "p-tieredmenu-item-active" : "" }, h("div.p-tieredmenu-item-content", { onClick: () => ((settings.mode = mode), toggleRunModeMenu(anchor)) }, h("a.p-tieredmenu-item-link", {}, h("span.p-tieredmenu-item-label", { text: label })))),
      ),
    ),
  );
  document.body.append(runModeMenu);
  anchor.setAttribute("aria-expanded", "true");
  const outside = (event) => {
    if (!runModeMenu || runModeMenu.contains(event.target) || anchor.contains(event.target)) return;
    document.removeEventListener("mousedown", outside);
    toggleRunModeMenu(anchor);
  };
  document.addEventListener("mousedown", outside);
}

function mountBreadcrumb(container) {
  const workflowStore = useWorkflowStore();
  view(
    container,
    () => workflowStore.activeWorkflow?.filename ?? "",
    () =>
      h(
        "nav.p-breadcrumb.p-component",
        { "aria-label": "Graph navigation" },
        h("ol.p-breadcrumb-list", {}, h("li.p-breadcrumb-item", {}, h("a.p-breadcrumb-item-link", {}, h("span.p-breadcrumb-item-label", { text: workflowStore.activeWorkflow?.filename ?? "" }), icon("pi pi-angle-down")))),
      ),
  );
}

function mountWorkflowTabs(container, run) {
  const workflowStore = useWorkflowStore();
  view(
    container,
    () => JSON.stringify([workflowStore.openWorkflows.map((w) => [w.path, w.isTemporary, w.isModified]), workflowStore.activeWorkflow?.path]),
    () =>
      h(
        "div.p-selectbutton.p-component.workflow-tabs",
        { role: "group" },
        workflowStore.openWorkflows.map((workflow) => {
          const active = workflow === workflowStore.activeWorkflow;
          const button = h(
            "button.p-togglebutton.p-component",
            { type: "button", "aria-pressed": String(active), "data-p-checked": active ? "true" : undefined, class: active ? "p-togglebutton-checked" : "" },
            h(
              "div.workflow-tab",
              {},
              h("span.workflow-label", { text: workflow.filename }),
              workflow.isTemporary || workflow.isModified ? h("span.status-indicator", { text: "•" }) : null,
              h("button.close-button.p-button.p-button-text", { type: "button", "aria-label": "Close", onClick: (e) => (e.stopPropagation(), window.app.closeWorkflow(workflow)) }, icon("pi pi-times")),
            ),
          );
          button.addEventListener("click", () => window.app.switchWorkflow(workflow));
          return button;
        }),
        h("button.p-button.p-button-text.new-blank-workflow-button", { type: "button", "aria-label": "Create a new blank workflow", onClick: run("Comfy.NewBlankWorkflow") }, icon("pi pi-plus")),
      ),
  );
}

function tabAriaLabel(tab) {
  const keybinding = useCommandStore().getCommand(`Workspace.ToggleSidebarTab.${tab.id}`)?.keybinding;
  const tooltip = translate(tab.tooltip ?? tab.title ?? tab.id);
  return keybinding ? `${tooltip} (${keybinding.combo.toString()})` : tooltip;
}

function mountSidebar(app, nav, run) {
  const sidebarTabStore = useSidebarTabStore();
  const userStore = useUserStore();
  const keybindingStore = useKeybindingStore();
  view(
    nav,
    () => JSON.stringify([sidebarTabStore.sidebarTabs.map((t) => [t.id, t.icon, tabAriaLabel(t)]), sidebarTabStore.activeSidebarTabId, userStore.isMultiUserServer, userStore.currentUser?.username, keybindingStore.getKeybindingByCommandId("Workspace.ToggleBottomPanel.Shortcuts")?.combo.toString()]),
    () => {
      const tabButtons = sidebarTabStore.sidebarTabs.map((tab) => {
        const selected = tab.id === sidebarTabStore.activeSidebarTabId;
        const label = tabAriaLabel(tab);
        return h(
          "button.p-button.p-component.p-button-text.side-bar-button",
          { type: "button", class: `${tab.id}-tab-button${selected ? " side-bar-button-selected" : ""}`, "aria-label": label, title: label, onClick: () => sidebarTabStore.toggleSidebarTab(tab.id) },
          typeof tab.icon === "string" ? icon(`side-bar-button-icon ${tab.icon}`) : icon("pi pi-star"),
          tab.label ? h("span.side-bar-button-label", { text: translate(tab.label) }) : null,
        );
      });
      const templates = h("button.p-button.p-component.p-button-text.side-bar-button.templates-tab-button", { type: "button", "aria-label": "Templates", title: "Templates", onClick: () => app.extensionManager.dialog.showTemplateWorkflowsDialog() }, icon("side-bar-button-icon icon-[comfy--template]"), h("span.side-bar-button-label", { text: "Templates" }));
      const shortcutsKey = keybindingStore.getKeybindingByCommandId("Workspace.ToggleBottomPanel.Shortcuts")?.combo.toString();
      const end = h(
        "div.side-tool-bar-end",
        {},
        userStore.isMultiUserServer && userStore.currentUser ? h("button.p-button.p-button-text.side-bar-button", { type: "button", "aria-label": `Logout (${userStore.currentUser.username})`, title: `Logout (${userStore.currentUser.username})`, onClick: () => userStore.logout() }, icon("pi pi-sign-out")) : null,
        h("button.p-button.p-button-text.side-bar-button.comfy-help-center-btn", { type: "button", "aria-label": "Help Center", title: "Help Center", onClick: run("Comfy.ToggleHelpCenter") }, icon("pi pi-question-circle")),
        h("button.p-button.p-button-text.side-bar-button", { type: "button", "aria-label": "Toggle Bottom Panel", title: "Toggle Bottom Panel", onClick: run("Workspace.ToggleBottomPanel") }, icon("pi pi-terminal")),
        h("button.p-button.p-button-text.side-bar-button", { type: "button", "aria-label": shortcutsKey ? `Keyboard Shortcuts (${shortcutsKey})` : "Keyboard Shortcuts", title: "Keyboard Shortcuts", onClick: run("Workspace.ToggleBottomPanel.Shortcuts") }, icon("pi pi-keyboard")),
      );
      return [h("div.side-tool-bar-start", {}, tabButtons, templates), end];
    },
  );
}

function mountSidePanel(app, panel) {
  const sidebarTabStore = useSidebarTabStore();
  let mountedTab = null;
  let body = null;
  let refreshVueTab = null;
  const update = () => {
    const tab = sidebarTabStore.activeSidebarTab;
    if (tab !== mountedTab && !(tab && mountedTab && tab.id === mountedTab.id)) {
      try {
        if (mountedTab?.type === "custom") mountedTab.destroy?.();
      } catch (error) {
        console.error(error);
      }
      mountedTab = tab;
      refreshVueTab = null;
      clear(panel);
      panel.hidden = !tab;
      if (!tab) return;
      const title = translate(tab.title ?? tab.id);
      body = h("div.comfy-vue-side-bar-body");
      panel.append(h("div.comfy-vue-side-bar-container", { "data-tab-id": tab.id }, h("div.p-toolbar.comfy-vue-side-bar-header", {}, h("span.side-bar-title", { title, text: String(title).toUpperCase() })), body));
      if (tab.type === "custom") {
        try {
          tab.render?.(body);
        } catch (error) {
          console.error(error);
        }
      } else {
        refreshVueTab = coreTabRenderer(app, tab.id, body);
      }
    }
    refreshVueTab?.();
  };
  onStateChange(update);
  update();
}

/** The core tabs' contents: queue (from /api/queue and /api/history), node/model library, workflows. */
function coreTabRenderer(app, id, body) {
  if (id === "queue") {
    const queueStore = useQueueStore();
    void queueStore.update().catch((error) => console.error(error));
    let last = null;
    return () => {
      const tasks = queueStore.tasks;
      const signature = JSON.stringify(tasks.map((t) => [t.prompt_id ?? t[1], t.status?.status_str]));
      if (signature === last) return;
      last = signature;
      clear(body).append(h("div.queue-task-list", {}, tasks.length === 0 ? h("p.empty-queue", { text: "No tasks" }) : tasks.map((task) => taskItem(app, task))));
    };
  }
  if (id === "node-library") {
    const nodeDefStore = useNodeDefStore();
    let last = null;
    return () => {
      const names = Object.keys(nodeDefStore.nodeDefsByName);
      if (names.join() === last) return;
      last = names.join();
      const byCategory = new Map();
      for (const def of nodeDefStore.nodeDefs) {
        const category = def.category || "uncategorized";
        if (!byCategory.has(category)) byCategory.set(category, []);
        byCategory.get(category).push(def);
      }
      clear(body).append(
        h(
          "div.node-library",
          {},
          [...byCategory.keys()].sort().map((category) =>
            h("details.node-library-category", { open: true }, h("summary", { text: category }), byCategory.get(category).map((def) => h("button.node-library-item", { type: "button", title: def.description ?? "", onClick: () => app.addNodeAtCenter(def.name) }, def.display_name ?? def.name))),
          ),
        ),
      );
    };
  }
  if (id === "model-library") {
    clear(body).append(h("p", { text: "Loading…" }));
    app.api
      .getModelFolders()
      .then((folders) => clear(body).append(h("ul.model-library", {}, folders.map((f) => h("li", {}, h("span", { text: f.name ?? f }), h("small", { text: ` ${(f.folders ?? []).length} folder(s)` }))))))
      .catch((error) => clear(body).append(h("p", { text: String(error) })));
    return null;
  }
  if (id === "workflows") {
    const workflowStore = useWorkflowStore();
    let last = null;
    return () => {
      const signature = JSON.stringify([workflowStore.workflows.map((w) => [w.path, w.isTemporary]), workflowStore.openWorkflows.map((w) => w.path)]);
      if (signature === last) return;
      last = signature;
      const row = (workflow) => h("li.workflow-item", {}, h("button.p-button.p-button-text", { type: "button", onClick: () => app.openWorkflowFromStore(workflow) }, workflow.filename));
      clear(body).append(
        h("div.workflows-sidebar", {}, h("h4", { text: "Open" }), h("ul", {}, workflowStore.openWorkflows.map(row)), h("h4", { text: "Browse" }), h("ul", {}, workflowStore.persistedWorkflows.map(row))),
      );
    };
  }
  clear(body);
  return null;
}

function taskItem(app, task) {
  const isHistory = !Array.isArray(task);
  const promptId = isHistory ? task.prompt_id : task[1];
  const outputs = isHistory ? Object.values(task.outputs ?? {}) : [];
  const image = outputs.flatMap((output) => output.images ?? [])[0];
  const messages = isHistory ? task.status?.messages ?? [] : [];
  const start = messages.find((m) => m[0] === "execution_start")?.[1]?.timestamp;
  const end = messages.find((m) => m[0] === "execution_success" || m[0] === "execution_error" || m[0] === "execution_interrupted")?.[1]?.timestamp;
  const status = isHistory ? (task.status?.status_str ?? "success") : "pending";
  const seconds = start && end ? `${((end - start) / 1000).toFixed(2)}s` : "";
  return h(
    "div.task-item",
    { "data-prompt-id": promptId, "data-status": status },
    h("div.task-result-preview", {}, image ? h("img", { src: app.imageUrl(image, { order: "sidebar" }), alt: image.filename }) : icon(isHistory ? "pi pi-image" : "pi pi-history")),
    h("div.task-item-details", {}, h("span.task-status", { class: `task-status-${status}`, text: status === "success" ? "✓" : status }), h("span.task-time", { text: seconds })),
  );
}

function mountBottomPanel(container) {
  const bottomPanelStore = useBottomPanelStore();
  const keybindingStore = useKeybindingStore();
  const commandStore = useCommandStore();
  let mounted = null;
  const update = () => {
    const panelName = bottomPanelStore.activePanel;
    const tab = bottomPanelStore.activeBottomPanelTab;
    const key = panelName ? `${panelName}:${tab?.id}` : null;
    if (key === mounted) return;
    mounted = key;
    container.hidden = !panelName;
    clear(container);
    if (!panelName) return;
    const content = h("div.bottom-panel-content");
    const tabs = h(
      "div.p-tablist.bottom-panel-tabs",
      { role: "tablist" },
      bottomPanelStore.bottomPanelTabs.map((t) => h("button.p-tab", { type: "button", role: "tab", id: `pv_id_2_tab_${t.id}`, "aria-selected": String(t.id === tab?.id), onClick: () => bottomPanelStore.setActiveTab(t.id) }, (t.title ?? t.id).toUpperCase())),
      h("button.p-button.p-button-text.bottom-panel-close", { type: "button", "aria-label": "Close", onClick: () => bottomPanelStore.togglePanel(panelName) }, icon("pi pi-times")),
    );
    container.append(h("div.bottom-panel", {}, tabs, content));
    if (tab?.type === "custom") {
      try {
        tab.render?.(content);
      } catch (error) {
        console.error(error);
      }
    } else if (tab?.id === "logs-terminal") {
      const pre = h("pre.logs-terminal", { text: "Loading logs…" });
      content.append(pre);
      window.app.api
        .getRawLogs()
        .then((logs) => (pre.textContent = (logs.entries ?? []).map((e) => e.m).join("")))
        .catch((error) => (pre.textContent = String(error)));
    } else if (tab?.id?.startsWith("shortcuts-")) {
      const wanted = tab.id === "shortcuts-essentials" ? "essentials" : "view-controls";
      const rows = commandStore.commands.filter((c) => c.category === wanted);
      content.append(h("ul.shortcuts-list", {}, rows.map((c) => h("li", {}, h("span", { text: c.label }), " ", h("kbd", { text: keybindingStore.getKeybindingByCommandId(c.id)?.combo.toString() ?? "" })))));
    }
  };
  onStateChange(update);
  update();
}

function mountToasts(container) {
  const toastStore = useToastStore();
  const shown = new Map(); // message -> element
  const remove = (message) => {
    const element = shown.get(message);
    if (!element) return;
    element.remove();
    shown.delete(message);
  };
  const update = () => {
    if (toastStore.removeAllRequested) {
      for (const message of [...shown.keys()]) remove(message);
      toastStore.removeAllRequested = false;
    }
    for (const message of toastStore.messagesToRemove.splice(0)) remove(message);
    for (const message of toastStore.messagesToAdd.splice(0)) {
      const severity = message.severity ?? "info";
      const element = h(
        "div.p-toast-message",
        { role: "alert", "aria-live": "assertive", "aria-atomic": "true", class: `p-toast-message-${severity}`, "data-severity": severity },
        h(
          "div.p-toast-message-content",
          {},
          icon(`p-toast-message-icon pi ${severity === "error" ? "pi-times" : severity === "warn" ? "pi-info-circle" : severity === "success" ? "pi-check" : "pi-info-circle"}`),
          h("div.p-toast-message-text", {}, message.summary ? h("span.p-toast-summary", { text: message.summary }) : null, message.detail !== undefined ? h("div.p-toast-detail", { text: String(message.detail) }) : null),
          h("button.p-toast-close-button", { type: "button", "aria-label": "Close", onClick: () => remove(message) }, icon("pi pi-times")),
        ),
      );
      shown.set(message, element);
      container.append(element);
      if (message.life) setTimeout(() => remove(message), message.life);
    }
  };
  onStateChange(update);
  update();
}

/** The legacy, hidden `div.comfy-menu` with its old ids, two `.comfy-modal`s and the file input. */
function buildLegacyMenu(app) {
  const commandStore = useCommandStore();
  const run = (id) => () => commandStore.execute(id).catch((error) => console.error(error));
  const batchNumber = h("input#batchCountInputNumber", { type: "number", min: "1", value: "1" });
  const batchRange = h("input#batchCountInputRange", { type: "range", min: "1", max: "100", value: "1" });
  const menu = h(
    "div.comfy-menu",
    { style: { display: "none" } },
    h("div.drag-handle.comfy-menu-header", {}, h("span.drag-handle"), h("span.comfy-menu-queue-size", { text: "Queue size: 0" })),
    h("button#queue-button.comfy-queue-btn", { type: "button", onClick: () => app.queuePrompt(0, Number(batchNumber.value) || 1) }, "Queue Prompt"),
    h("div", {}, h("label", {}, "Extra options", h("input#extraOptions", { type: "checkbox" }))),
    h("div#extraOptions-panel", { style: { display: "none" } }, batchNumber, batchRange, h("input#autoQueueCheckbox", { type: "checkbox" })),
    h("div.comfy-menu-btns", {}, h("button#comfy-view-queue-button", { type: "button", onClick: () => useSidebarTabStore().toggleSidebarTab("queue") }, "View Queue"), h("button#comfy-view-history-button", { type: "button", onClick: () => useSidebarTabStore().toggleSidebarTab("queue") }, "View History")),
    h("button#comfy-save-button", { type: "button", onClick: run("Comfy.ExportWorkflow") }, "Save"),
    h("button#comfy-dev-save-api-button", { type: "button", style: { display: "none" }, onClick: run("Comfy.ExportWorkflowAPI") }, "Save (API Format)"),
    h("button#comfy-load-button", { type: "button", onClick: run("Comfy.OpenWorkflow") }, "Load"),
    h("button#comfy-refresh-button", { type: "button", onClick: run("Comfy.RefreshNodeDefinitions") }, "Refresh"),
    h("button#comfy-clipspace-button", { type: "button", onClick: run("Comfy.OpenClipspace") }, "Clipspace"),
    h("button#comfy-clear-button", { type: "button", onClick: run("Comfy.ClearWorkflow") }, "Clear"),
    h("button#comfy-load-default-button", { type: "button", onClick: run("Comfy.LoadDefaultWorkflow") }, "Load Default"),
    h("button#comfy-reset-view-button", { type: "button", onClick: run("Comfy.Canvas.ResetView") }, "Reset View"),
  );
  // The second legacy modal is app.ui.dialog (legacy.js).
  const modals = [h("div.comfy-modal.comfy-settings-dialog", {}, h("div.comfy-modal-content"))];
  const fileInput = h("input#comfy-file-input", { type: "file", accept: ".json,image/png,.latent,.safetensors,image/webp,audio/flac", style: { display: "none" } });
  fileInput.addEventListener("change", async () => {
    const file = fileInput.files?.[0];
    fileInput.value = "";
    if (file) await app.handleFile(file);
  });
  return { menu, modals, fileInput };
}
