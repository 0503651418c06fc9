// The 89 recorded core commands. The ones a gateway cares about do real work (save, open,
// export, queue, settings, templates, sidebar toggles, manager dialog); the rest are harmless
// stand-ins that only log, so every recorded id exists and can be executed or replaced.
import { api } from "./api.js";
import { blankGraphData, defaultGraphData, graphToApiPrompt } from "./graph.js";
import { DEFAULT_COMMANDS } from "./recorded.js";
import { useBottomPanelStore, useCommandStore, useQueueSettingsStore, useSettingStore, useWorkflowStore, useWorkspaceStore } from "./stores.js";

function downloadBlob(filename, blob) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.style.display = "none";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function exportJson(app, defaultName, data) {
  let filename = defaultName;
  if (useSettingStore().get("Comfy.PromptFilename") !== false) {
    const answer = await app.extensionManager.dialog.prompt({ title: "Export workflow", message: "Enter the filename:", defaultValue: defaultName });
    if (!answer) return;
    filename = answer;
  }
  if (!/\.json$/i.test(filename)) filename += ".json";
  downloadBlob(filename, new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
}

/** Command id → function; ids not listed here log that the stand-in does not implement them. */
function implementations(app) {
  const workspace = () => useWorkspaceStore();
  const workflowStore = () => useWorkflowStore();
  const queue = (number) => app.queuePrompt(number, useQueueSettingsStore().batchCount);
  return {
    "Comfy.NewBlankWorkflow": () => app.loadGraphData(blankGraphData(), true, true, null),
    "Comfy.OpenWorkflow": () => document.getElementById("comfy-file-input")?.click(),
    "Comfy.LoadDefaultWorkflow": () => app.loadGraphData(defaultGraphData(), true, true, workflowStore().activeWorkflow, { keepTab: true }).then(() => app.onGraphChanged()),
    "Comfy.SaveWorkflow": () => app.saveWorkflow(),
    "Comfy.SaveWorkflowAs": () => app.saveWorkflowAs(),
    "Comfy.ExportWorkflow": () => exportJson(app, workflowStore().activeWorkflow?.filename ?? "workflow", app.graph.serialize()),
    "Comfy.ExportWorkflowAPI": () => exportJson(app, `${workflowStore().activeWorkflow?.filename ?? "workflow"}_api`, graphToApiPrompt(app.graph)),
    "Comfy.ClearWorkflow": async () => {
      app.graph.clear();
      app.canvasView?.rebuild();
      app.onGraphChanged();
    },
    "Comfy.Canvas.ResetView": () => app.resetView(),
    "Comfy.RefreshNodeDefinitions": () => app.refreshComboInNodes(),
    "Comfy.Interrupt": () => api.interrupt(),
    "Comfy.ClearPendingTasks": async () => {
      await api.clearItems("queue");
    },
    "Comfy.BrowseTemplates": () => workspace().dialog.showTemplateWorkflowsDialog(),
    "Comfy.Canvas.ZoomIn": () => app.canvasView?.zoom(1.1),
    "Comfy.Canvas.ZoomOut": () => app.canvasView?.zoom(1 / 1.1),
    "Comfy.Canvas.FitView": () => app.canvasView?.fitView(),
    "Comfy.Canvas.ToggleLinkVisibility": () => {
      if (!app.canvasView) return;
      app.canvasView.showLinks = !app.canvasView.showLinks;
      app.canvasView.draw();
    },
    "Comfy.QueuePrompt": () => queue(0),
    "Comfy.QueuePromptFront": () => queue(-1),
    "Comfy.QueueSelectedOutputNodes": () => queue(0),
    "Comfy.ShowSettingsDialog": () => workspace().dialog.showSettingsDialog(),
    "Workspace.NextOpenedWorkflow": () => {
      const open = workflowStore().openWorkflows;
      const next = open[(open.indexOf(workflowStore().activeWorkflow) + 1) % open.length];
      if (next) return app.switchWorkflow(next);
    },
    "Workspace.PreviousOpenedWorkflow": () => {
      const open = workflowStore().openWorkflows;
      const previous = open[(open.indexOf(workflowStore().activeWorkflow) - 1 + open.length) % open.length];
      if (previous) return app.switchWorkflow(previous);
    },
    "Comfy.ToggleTheme": () => {
      const settingStore = useSettingStore();
      return settingStore.set("Comfy.ColorPalette", settingStore.get("Comfy.ColorPalette") === "light" ? "dark" : "light");
    },
    "Workspace.ToggleBottomPanel": () => useBottomPanelStore().toggleBottomPanel(),
    "Workspace.ToggleFocusMode": () => workspace().toggleFocusMode(),
    "Comfy.Help.OpenComfyUIIssues": () => window.open("https://github.com/comfyanonymous/ComfyUI/issues", "_blank"),
    "Comfy.Help.OpenComfyUIDocs": () => window.open("https://docs.comfy.org/", "_blank"),
    "Comfy.Help.OpenComfyOrgDiscord": () => window.open("https://www.comfy.org/discord", "_blank"),
    "Comfy.Help.OpenComfyUIForum": () => window.open("https://forum.comfy.org/", "_blank"),
    "Comfy.Help.AboutComfyUI": () => workspace().dialog.showSettingsDialog("about"),
    "Comfy.DuplicateWorkflow": () => app.loadGraphData(app.graph.serialize(), true, true, `${workflowStore().activeWorkflow?.filename ?? "Unsaved Workflow"} (Copy)`),
    "Workspace.CloseWorkflow": () => workflowStore().activeWorkflow && app.closeWorkflow(workflowStore().activeWorkflow),
    "Comfy.OpenManagerDialog": () => workspace().dialog.showManagerDialog(),
    "Comfy.Manager.CustomNodesManager.ShowCustomNodesMenu": () => workspace().dialog.showManagerDialog(),
    "Comfy.ToggleHelpCenter": () => workspace().dialog.showExtensionDialog({ key: "global-help-center", title: "Help Center", render: (el) => (el.textContent = "The stand-in has no help center.") }),
    "Workspace.ToggleBottomPanel.Shortcuts": () => useBottomPanelStore().togglePanel("shortcuts"),
    "Comfy.Memory.UnloadModels": () => api.freeMemory({ freeExecutionCache: false }),
    "Comfy.Memory.UnloadModelsAndExecutionCache": () => api.freeMemory({ freeExecutionCache: true }),
  };
}

/** Registers the System commands (sidebar/bottom-panel toggles come from their stores). */
export function registerCoreCommands(app) {
  const commandStore = useCommandStore();
  const functions = implementations(app);
  for (const command of DEFAULT_COMMANDS) {
    if (command.source !== "System") continue;
    if (command.id.startsWith("Workspace.ToggleSidebarTab.") || command.id.startsWith("Workspace.ToggleBottomPanelTab.")) continue;
    commandStore.registerCommand({ ...command, function: functions[command.id] ?? (() => console.info(`[stand-in] ${command.id}: nothing to do in the stand-in`)) });
  }
}

/** Commands that the core extensions declare (source = extension name in the recording). */
export function coreExtensionCommands(extensionName) {
  return DEFAULT_COMMANDS.filter((c) => c.source === extensionName).map((c) => ({ ...c, function: () => console.info(`[stand-in] ${c.id}: nothing to do in the stand-in`) }));
}
