// Recorded facts of ComfyUI frontend 1.27.10 (shared/fixtures/frontend-1.27.10/extension-api.json),
// restated as data for the stand-in: default commands, keybindings, main menu, sidebar tabs,
// setting definitions and core extension names. Only ids, labels and shapes; no behaviour.
// Regenerate by hand from the fixture if it changes (see tests/fake-comfyui/README.md).

/** The 89 default commands; `source` is "System" or the core extension that declares them. */
export const DEFAULT_COMMANDS = [
  {"id": "Comfy.NewBlankWorkflow", "label": "New Blank Workflow", "menubarLabel": "New", "icon": "pi pi-plus", "category": "essentials", "source": "System"},
  {"id": "Comfy.OpenWorkflow", "label": "Open Workflow", "menubarLabel": "Open", "icon": "pi pi-folder-open", "category": "essentials", "source": "System"},
  {"id": "Comfy.LoadDefaultWorkflow", "label": "Load Default Workflow", "menubarLabel": "Load Default Workflow", "icon": "pi pi-code", "source": "System"},
  {"id": "Comfy.SaveWorkflow", "label": "Save Workflow", "menubarLabel": "Save", "icon": "pi pi-save", "category": "essentials", "source": "System"},
  {"id": "Comfy.PublishSubgraph", "label": "Publish Subgraph", "menubarLabel": "Publish", "icon": "pi pi-save", "source": "System"},
  {"id": "Comfy.SaveWorkflowAs", "label": "Save Workflow As", "menubarLabel": "Save As", "icon": "pi pi-save", "category": "essentials", "source": "System"},
  {"id": "Comfy.ExportWorkflow", "label": "Export Workflow", "menubarLabel": "Export", "icon": "pi pi-download", "category": "essentials", "source": "System"},
  {"id": "Comfy.ExportWorkflowAPI", "label": "Export Workflow (API Format)", "menubarLabel": "Export (API)", "icon": "pi pi-download", "source": "System"},
  {"id": "Comfy.Undo", "label": "Undo", "menubarLabel": "Undo", "icon": "pi pi-undo", "category": "essentials", "source": "System"},
  {"id": "Comfy.Redo", "label": "Redo", "menubarLabel": "Redo", "icon": "pi pi-refresh", "category": "essentials", "source": "System"},
  {"id": "Comfy.ClearWorkflow", "label": "Clear Workflow", "menubarLabel": "Clear Workflow", "icon": "pi pi-trash", "category": "essentials", "source": "System"},
  {"id": "Comfy.Canvas.ResetView", "label": "Reset View", "menubarLabel": "Reset View", "icon": "pi pi-expand", "source": "System"},
  {"id": "Comfy.OpenClipspace", "label": "Clipspace", "menubarLabel": "Clipspace", "icon": "pi pi-clipboard", "source": "System"},
  {"id": "Comfy.RefreshNodeDefinitions", "label": "Refresh Node Definitions", "menubarLabel": "Refresh Node Definitions", "icon": "pi pi-refresh", "category": "essentials", "source": "System"},
  {"id": "Comfy.Interrupt", "label": "Interrupt", "menubarLabel": "Interrupt", "icon": "pi pi-stop", "category": "essentials", "source": "System"},
  {"id": "Comfy.ClearPendingTasks", "label": "Clear Pending Tasks", "menubarLabel": "Clear Pending Tasks", "icon": "pi pi-stop", "category": "essentials", "source": "System"},
  {"id": "Comfy.BrowseTemplates", "label": "Browse Templates", "menubarLabel": "Browse Templates", "icon": "pi pi-folder-open", "source": "System"},
  {"id": "Comfy.Canvas.ZoomIn", "label": "Zoom In", "menubarLabel": "Zoom In", "icon": "pi pi-plus", "category": "view-controls", "source": "System"},
  {"id": "Comfy.Canvas.ZoomOut", "label": "Zoom Out", "menubarLabel": "Zoom Out", "icon": "pi pi-minus", "category": "view-controls", "source": "System"},
  {"id": "Experimental.ToggleVueNodes", "label": "Experimental: Enable Vue Nodes", "menubarLabel": "Experimental: Enable Vue Nodes", "source": "System"},
  {"id": "Comfy.Canvas.FitView", "label": "Fit view to selected nodes", "menubarLabel": "Zoom to fit", "icon": "pi pi-expand", "category": "view-controls", "source": "System"},
  {"id": "Comfy.Canvas.ToggleLock", "label": "Canvas Toggle Lock", "menubarLabel": "Canvas Toggle Lock", "icon": "pi pi-lock", "category": "view-controls", "source": "System"},
  {"id": "Comfy.Canvas.Lock", "label": "Lock Canvas", "menubarLabel": "Lock Canvas", "icon": "pi pi-lock", "category": "view-controls", "source": "System"},
  {"id": "Comfy.Canvas.Unlock", "label": "Unlock Canvas", "menubarLabel": "Unlock Canvas", "icon": "pi pi-lock-open", "source": "System"},
  {"id": "Comfy.Canvas.ToggleLinkVisibility", "label": "Canvas Toggle Link Visibility", "menubarLabel": "Node Links", "icon": "pi pi-eye", "source": "System", "versionAdded": "1.3.6"},
  {"id": "Comfy.Canvas.ToggleMinimap", "label": "Canvas Toggle Minimap", "menubarLabel": "Minimap", "icon": "pi pi-map", "source": "System", "versionAdded": "1.24.1"},
  {"id": "Comfy.QueuePrompt", "label": "Queue Prompt", "menubarLabel": "Queue Prompt", "icon": "pi pi-play", "category": "essentials", "source": "System", "versionAdded": "1.3.7"},
  {"id": "Comfy.QueuePromptFront", "label": "Queue Prompt (Front)", "menubarLabel": "Queue Prompt (Front)", "icon": "pi pi-play", "category": "essentials", "source": "System", "versionAdded": "1.3.7"},
  {"id": "Comfy.QueueSelectedOutputNodes", "label": "Queue Selected Output Nodes", "menubarLabel": "Queue Selected Output Nodes", "icon": "pi pi-play", "source": "System", "versionAdded": "1.19.6"},
  {"id": "Comfy.ShowSettingsDialog", "label": "Show Settings Dialog", "menubarLabel": "Show Settings Dialog", "icon": "pi pi-cog", "category": "view-controls", "source": "System", "versionAdded": "1.3.7"},
  {"id": "Comfy.Graph.GroupSelectedNodes", "label": "Group Selected Nodes", "menubarLabel": "Group Selected Nodes", "icon": "pi pi-sitemap", "category": "essentials", "source": "System", "versionAdded": "1.3.7"},
  {"id": "Workspace.NextOpenedWorkflow", "label": "Next Opened Workflow", "menubarLabel": "Next Opened Workflow", "icon": "pi pi-step-forward", "source": "System", "versionAdded": "1.3.9"},
  {"id": "Workspace.PreviousOpenedWorkflow", "label": "Previous Opened Workflow", "menubarLabel": "Previous Opened Workflow", "icon": "pi pi-step-backward", "source": "System", "versionAdded": "1.3.9"},
  {"id": "Comfy.Canvas.ToggleSelectedNodes.Mute", "label": "Mute/Unmute Selected Nodes", "menubarLabel": "Mute/Unmute Selected Nodes", "icon": "pi pi-volume-off", "category": "essentials", "source": "System", "versionAdded": "1.3.11"},
  {"id": "Comfy.Canvas.ToggleSelectedNodes.Bypass", "label": "Bypass/Unbypass Selected Nodes", "menubarLabel": "Bypass/Unbypass Selected Nodes", "icon": "pi pi-shield", "category": "essentials", "source": "System", "versionAdded": "1.3.11"},
  {"id": "Comfy.Canvas.ToggleSelectedNodes.Pin", "label": "Pin/Unpin Selected Nodes", "menubarLabel": "Pin/Unpin Selected Nodes", "icon": "pi pi-pin", "category": "essentials", "source": "System", "versionAdded": "1.3.11"},
  {"id": "Comfy.Canvas.ToggleSelected.Pin", "label": "Pin/Unpin Selected Items", "menubarLabel": "Pin/Unpin Selected Items", "icon": "pi pi-pin", "source": "System", "versionAdded": "1.3.33"},
  {"id": "Comfy.Canvas.Resize", "label": "Resize Selected Nodes", "menubarLabel": "Resize Selected Nodes", "icon": "pi pi-minus", "source": "System", "versionAdded": ""},
  {"id": "Comfy.Canvas.ToggleSelectedNodes.Collapse", "label": "Collapse/Expand Selected Nodes", "menubarLabel": "Collapse/Expand Selected Nodes", "icon": "pi pi-minus", "source": "System", "versionAdded": "1.3.11"},
  {"id": "Comfy.ToggleTheme", "label": "Toggle Theme (Dark/Light)", "menubarLabel": "Toggle Theme (Dark/Light)", "icon": "pi pi-moon", "source": "System", "versionAdded": "1.3.12"},
  {"id": "Workspace.ToggleBottomPanel", "label": "Toggle Bottom Panel", "menubarLabel": "Bottom Panel", "icon": "pi pi-list", "category": "view-controls", "source": "System", "versionAdded": "1.3.22"},
  {"id": "Workspace.ToggleFocusMode", "label": "Toggle Focus Mode", "menubarLabel": "Focus Mode", "icon": "pi pi-eye", "category": "view-controls", "source": "System", "versionAdded": "1.3.27"},
  {"id": "Comfy.Graph.FitGroupToContents", "label": "Fit Group To Contents", "menubarLabel": "Fit Group To Contents", "icon": "pi pi-expand", "source": "System", "versionAdded": "1.4.9"},
  {"id": "Comfy.Help.OpenComfyUIIssues", "label": "Open ComfyUI Issues", "menubarLabel": "ComfyUI Issues", "icon": "pi pi-github", "source": "System", "versionAdded": "1.5.5"},
  {"id": "Comfy.Help.OpenComfyUIDocs", "label": "Open ComfyUI Docs", "menubarLabel": "ComfyUI Docs", "icon": "pi pi-info-circle", "source": "System", "versionAdded": "1.5.5"},
  {"id": "Comfy.Help.OpenComfyOrgDiscord", "label": "Open Comfy-Org Discord", "menubarLabel": "Comfy-Org Discord", "icon": "pi pi-discord", "source": "System", "versionAdded": "1.5.5"},
  {"id": "Workspace.SearchBox.Toggle", "label": "Toggle Search Box", "menubarLabel": "Toggle Search Box", "icon": "pi pi-search", "source": "System", "versionAdded": "1.5.7"},
  {"id": "Comfy.Help.AboutComfyUI", "label": "Open About ComfyUI", "menubarLabel": "About ComfyUI", "icon": "pi pi-info-circle", "source": "System", "versionAdded": "1.6.4"},
  {"id": "Comfy.DuplicateWorkflow", "label": "Duplicate Current Workflow", "menubarLabel": "Duplicate Current Workflow", "icon": "pi pi-clone", "source": "System", "versionAdded": "1.6.15"},
  {"id": "Workspace.CloseWorkflow", "label": "Close Current Workflow", "menubarLabel": "Close Current Workflow", "icon": "pi pi-times", "source": "System", "versionAdded": "1.7.3"},
  {"id": "Comfy.ContactSupport", "label": "Contact Support", "menubarLabel": "Contact Support", "icon": "pi pi-question", "source": "System", "versionAdded": "1.17.8"},
  {"id": "Comfy.Help.OpenComfyUIForum", "label": "Open ComfyUI Forum", "menubarLabel": "ComfyUI Forum", "icon": "pi pi-comments", "source": "System", "versionAdded": "1.8.2"},
  {"id": "Comfy.Canvas.DeleteSelectedItems", "label": "Delete Selected Items", "menubarLabel": "Delete Selected Items", "icon": "pi pi-trash", "source": "System", "versionAdded": "1.10.5"},
  {"id": "Comfy.Manager.CustomNodesManager.ShowCustomNodesMenu", "label": "Custom Nodes Manager", "menubarLabel": "Custom Nodes Manager", "icon": "pi pi-puzzle", "source": "System", "versionAdded": "1.12.10"},
  {"id": "Comfy.Manager.ShowUpdateAvailablePacks", "label": "Check for Custom Node Updates", "menubarLabel": "Check for Custom Node Updates", "icon": "pi pi-sync", "source": "System", "versionAdded": "1.17.0"},
  {"id": "Comfy.Manager.ShowMissingPacks", "label": "Install Missing Custom Nodes", "menubarLabel": "Install Missing Custom Nodes", "icon": "pi pi-exclamation-circle", "source": "System", "versionAdded": "1.17.0"},
  {"id": "Comfy.Manager.ToggleManagerProgressDialog", "label": "Toggle the Custom Nodes Manager Progress Bar", "menubarLabel": "Toggle the Custom Nodes Manager Progress Bar", "icon": "pi pi-spinner", "source": "System", "versionAdded": "1.13.9"},
  {"id": "Comfy.User.OpenSignInDialog", "label": "Open Sign In Dialog", "menubarLabel": "Open Sign In Dialog", "icon": "pi pi-user", "source": "System", "versionAdded": "1.17.6"},
  {"id": "Comfy.User.SignOut", "label": "Sign Out", "menubarLabel": "Sign Out", "icon": "pi pi-sign-out", "source": "System", "versionAdded": "1.18.1"},
  {"id": "Comfy.Canvas.MoveSelectedNodes.Up", "label": "Move Selected Nodes Up", "menubarLabel": "Move Selected Nodes Up", "icon": "pi pi-arrow-up", "source": "System", "versionAdded": "1.22.2"},
  {"id": "Comfy.Canvas.MoveSelectedNodes.Down", "label": "Move Selected Nodes Down", "menubarLabel": "Move Selected Nodes Down", "icon": "pi pi-arrow-down", "source": "System", "versionAdded": "1.22.2"},
  {"id": "Comfy.Canvas.MoveSelectedNodes.Left", "label": "Move Selected Nodes Left", "menubarLabel": "Move Selected Nodes Left", "icon": "pi pi-arrow-left", "source": "System", "versionAdded": "1.22.2"},
  {"id": "Comfy.Canvas.MoveSelectedNodes.Right", "label": "Move Selected Nodes Right", "menubarLabel": "Move Selected Nodes Right", "icon": "pi pi-arrow-right", "source": "System", "versionAdded": "1.22.2"},
  {"id": "Comfy.Graph.ConvertToSubgraph", "label": "Convert Selection to Subgraph", "menubarLabel": "Convert Selection to Subgraph", "icon": "pi pi-sitemap", "category": "essentials", "source": "System", "versionAdded": "1.20.1"},
  {"id": "Comfy.Graph.UnpackSubgraph", "label": "Unpack the selected Subgraph", "menubarLabel": "Unpack the selected Subgraph", "icon": "pi pi-sitemap", "category": "essentials", "source": "System", "versionAdded": "1.20.1"},
  {"id": "Comfy.OpenManagerDialog", "label": "Manager", "menubarLabel": "Manager", "icon": "mdi mdi-puzzle-outline", "source": "System"},
  {"id": "Comfy.ToggleHelpCenter", "label": "Help Center", "menubarLabel": "Help Center", "icon": "pi pi-question-circle", "source": "System"},
  {"id": "Comfy.ToggleCanvasInfo", "label": "Canvas Performance", "menubarLabel": "Canvas Performance", "icon": "pi pi-info-circle", "source": "System"},
  {"id": "Workspace.ToggleBottomPanel.Shortcuts", "label": "Show Keybindings Dialog", "menubarLabel": "Show Keybindings Dialog", "icon": "pi pi-key", "category": "view-controls", "source": "System", "versionAdded": "1.24.1"},
  {"id": "Comfy.Graph.ExitSubgraph", "label": "Exit Subgraph", "menubarLabel": "Exit Subgraph", "icon": "pi pi-arrow-up", "source": "System", "versionAdded": "1.20.1"},
  {"id": "Comfy.Dev.ShowModelSelector", "label": "Show Model Selector (Dev)", "menubarLabel": "Show Model Selector (Dev)", "icon": "pi pi-box", "category": "view-controls", "source": "System", "versionAdded": "1.26.2"},
  {"id": "Comfy.Manager.CustomNodesManager.ShowLegacyCustomNodesMenu", "label": "Custom Nodes (Legacy)", "menubarLabel": "Custom Nodes (Legacy)", "icon": "pi pi-bars", "source": "System", "versionAdded": "1.16.4"},
  {"id": "Comfy.Manager.ShowLegacyManagerMenu", "label": "Manager Menu (Legacy)", "menubarLabel": "Manager Menu (Legacy)", "icon": "mdi mdi-puzzle", "source": "System", "versionAdded": "1.16.4"},
  {"id": "Comfy.Memory.UnloadModels", "label": "Unload Models", "menubarLabel": "Unload Models", "icon": "mdi mdi-vacuum-outline", "source": "System", "versionAdded": "1.16.4"},
  {"id": "Comfy.Memory.UnloadModelsAndExecutionCache", "label": "Unload Models and Execution Cache", "menubarLabel": "Unload Models and Execution Cache", "icon": "mdi mdi-vacuum-outline", "source": "System", "versionAdded": "1.16.4"},
  {"id": "Workspace.ToggleSidebarTab.queue", "label": "Toggle Queue Sidebar", "menubarLabel": "Queue Panel", "icon": "pi pi-history", "tooltip": "Queue", "category": "view-controls", "source": "System", "versionAdded": "1.3.9"},
  {"id": "Workspace.ToggleSidebarTab.node-library", "label": "Toggle Node Library Sidebar", "menubarLabel": "Node Library", "icon": "icon-[comfy--node]", "tooltip": "Node Library", "category": "view-controls", "source": "System", "versionAdded": "1.3.9"},
  {"id": "Workspace.ToggleSidebarTab.model-library", "label": "Toggle Model Library Sidebar", "menubarLabel": "Model Library", "icon": "icon-[comfy--ai-model]", "tooltip": "Model Library", "category": "view-controls", "source": "System", "versionAdded": "1.3.9"},
  {"id": "Workspace.ToggleSidebarTab.workflows", "label": "Toggle Workflows Sidebar", "menubarLabel": "Workflows", "icon": "icon-[comfy--workflow]", "tooltip": "Workflows", "category": "view-controls", "source": "System", "versionAdded": "1.3.9"},
  {"id": "Workspace.ToggleBottomPanelTab.logs-terminal", "label": "Toggle Logs Bottom Panel", "menubarLabel": "Toggle Logs Bottom Panel", "icon": "pi pi-list", "category": "view-controls", "source": "System"},
  {"id": "Workspace.ToggleBottomPanelTab.shortcuts-essentials", "label": "Toggle Essential Bottom Panel", "menubarLabel": "Toggle Essential Bottom Panel", "icon": "pi pi-list", "category": "view-controls", "source": "System"},
  {"id": "Workspace.ToggleBottomPanelTab.shortcuts-view-controls", "label": "Toggle View Controls Bottom Panel", "menubarLabel": "Toggle View Controls Bottom Panel", "icon": "pi pi-list", "category": "view-controls", "source": "System"},
  {"id": "Comfy.GroupNode.ConvertSelectedNodesToGroupNode", "label": "Convert selected nodes to group node", "menubarLabel": "Convert selected nodes to group node", "icon": "pi pi-sitemap", "source": "Comfy.GroupNode", "versionAdded": "1.3.17"},
  {"id": "Comfy.GroupNode.UngroupSelectedGroupNodes", "label": "Ungroup selected group nodes", "menubarLabel": "Ungroup selected group nodes", "icon": "pi pi-sitemap", "source": "Comfy.GroupNode", "versionAdded": "1.3.17"},
  {"id": "Comfy.GroupNode.ManageGroupNodes", "label": "Manage group nodes", "menubarLabel": "Manage group nodes", "icon": "pi pi-cog", "source": "Comfy.GroupNode", "versionAdded": "1.3.17"},
  {"id": "Comfy.3DViewer.Open3DViewer", "label": "Open 3D Viewer (Beta) for Selected Node", "menubarLabel": "Open 3D Viewer (Beta) for Selected Node", "icon": "pi pi-pencil", "source": "Comfy.Load3D"},
  {"id": "Comfy.MaskEditor.OpenMaskEditor", "label": "Open Mask Editor for Selected Node", "menubarLabel": "Open Mask Editor for Selected Node", "icon": "pi pi-pencil", "source": "Comfy.MaskEditor"},
  {"id": "Comfy.MaskEditor.BrushSize.Increase", "label": "Increase Brush Size in MaskEditor", "menubarLabel": "Increase Brush Size in MaskEditor", "icon": "pi pi-plus-circle", "source": "Comfy.MaskEditor"},
  {"id": "Comfy.MaskEditor.BrushSize.Decrease", "label": "Decrease Brush Size in MaskEditor", "menubarLabel": "Decrease Brush Size in MaskEditor", "icon": "pi pi-minus-circle", "source": "Comfy.MaskEditor"}
];

/** Default keybindings in registration order (`combo` as {key, ctrl, alt, shift}). */
export const DEFAULT_KEYBINDINGS = [
  {"combo": {"key": "Enter", "ctrl": true, "alt": false, "shift": false}, "commandId": "Comfy.QueuePrompt"},
  {"combo": {"key": "Enter", "ctrl": true, "alt": false, "shift": true}, "commandId": "Comfy.QueuePromptFront"},
  {"combo": {"key": "Enter", "ctrl": true, "alt": true, "shift": false}, "commandId": "Comfy.Interrupt"},
  {"combo": {"key": "r", "ctrl": false, "alt": false, "shift": false}, "commandId": "Comfy.RefreshNodeDefinitions"},
  {"combo": {"key": "q", "ctrl": false, "alt": false, "shift": false}, "commandId": "Workspace.ToggleSidebarTab.queue"},
  {"combo": {"key": "w", "ctrl": false, "alt": false, "shift": false}, "commandId": "Workspace.ToggleSidebarTab.workflows"},
  {"combo": {"key": "n", "ctrl": false, "alt": false, "shift": false}, "commandId": "Workspace.ToggleSidebarTab.node-library"},
  {"combo": {"key": "m", "ctrl": false, "alt": false, "shift": false}, "commandId": "Workspace.ToggleSidebarTab.model-library"},
  {"combo": {"key": "s", "ctrl": true, "alt": false, "shift": false}, "commandId": "Comfy.SaveWorkflow"},
  {"combo": {"key": "o", "ctrl": true, "alt": false, "shift": false}, "commandId": "Comfy.OpenWorkflow"},
  {"combo": {"key": "g", "ctrl": true, "alt": false, "shift": false}, "commandId": "Comfy.Graph.GroupSelectedNodes"},
  {"combo": {"key": ",", "ctrl": true, "alt": false, "shift": false}, "commandId": "Comfy.ShowSettingsDialog"},
  {"combo": {"key": "=", "ctrl": false, "alt": true, "shift": false}, "commandId": "Comfy.Canvas.ZoomIn", "targetElementId": "graph-canvas"},
  {"combo": {"key": "+", "ctrl": false, "alt": true, "shift": true}, "commandId": "Comfy.Canvas.ZoomIn", "targetElementId": "graph-canvas"},
  {"combo": {"key": "+", "ctrl": false, "alt": true, "shift": false}, "commandId": "Comfy.Canvas.ZoomIn", "targetElementId": "graph-canvas"},
  {"combo": {"key": "-", "ctrl": false, "alt": true, "shift": false}, "commandId": "Comfy.Canvas.ZoomOut", "targetElementId": "graph-canvas"},
  {"combo": {"key": ".", "ctrl": false, "alt": false, "shift": false}, "commandId": "Comfy.Canvas.FitView", "targetElementId": "graph-canvas"},
  {"combo": {"key": "p", "ctrl": false, "alt": false, "shift": false}, "commandId": "Comfy.Canvas.ToggleSelected.Pin", "targetElementId": "graph-canvas"},
  {"combo": {"key": "c", "ctrl": false, "alt": true, "shift": false}, "commandId": "Comfy.Canvas.ToggleSelectedNodes.Collapse", "targetElementId": "graph-canvas"},
  {"combo": {"key": "b", "ctrl": true, "alt": false, "shift": false}, "commandId": "Comfy.Canvas.ToggleSelectedNodes.Bypass", "targetElementId": "graph-canvas"},
  {"combo": {"key": "m", "ctrl": true, "alt": false, "shift": false}, "commandId": "Comfy.Canvas.ToggleSelectedNodes.Mute", "targetElementId": "graph-canvas"},
  {"combo": {"key": "`", "ctrl": true, "alt": false, "shift": false}, "commandId": "Workspace.ToggleBottomPanelTab.logs-terminal"},
  {"combo": {"key": "f", "ctrl": false, "alt": false, "shift": false}, "commandId": "Workspace.ToggleFocusMode"},
  {"combo": {"key": "e", "ctrl": true, "alt": false, "shift": true}, "commandId": "Comfy.Graph.ConvertToSubgraph"},
  {"combo": {"key": "m", "ctrl": false, "alt": true, "shift": false}, "commandId": "Comfy.Canvas.ToggleMinimap"},
  {"combo": {"key": "k", "ctrl": true, "alt": false, "shift": true}, "commandId": "Workspace.ToggleBottomPanel.Shortcuts"},
  {"combo": {"key": "v", "ctrl": false, "alt": false, "shift": false}, "commandId": "Comfy.Canvas.Unlock"},
  {"combo": {"key": "h", "ctrl": false, "alt": false, "shift": false}, "commandId": "Comfy.Canvas.Lock"},
  {"combo": {"key": "Escape", "ctrl": false, "alt": false, "shift": false}, "commandId": "Comfy.Graph.ExitSubgraph"},
  {"combo": {"key": "g", "ctrl": false, "alt": true, "shift": false}, "commandId": "Comfy.GroupNode.ConvertSelectedNodesToGroupNode"},
  {"combo": {"key": "G", "ctrl": false, "alt": true, "shift": true}, "commandId": "Comfy.GroupNode.UngroupSelectedGroupNodes"}
];

/** The menuItem store's groups (New, separator, File, Edit, View, Help). */
export const DEFAULT_MENU = [
  {
    "label": "New",
    "commandId": "Comfy.NewBlankWorkflow",
    "icon": "pi pi-plus"
  },
  {
    "separator": true
  },
  {
    "label": "File",
    "items": [
      {
        "label": "Open",
        "commandId": "Comfy.OpenWorkflow",
        "icon": "pi pi-folder-open"
      },
      {
        "separator": true
      },
      {
        "label": "Save",
        "commandId": "Comfy.SaveWorkflow",
        "icon": "pi pi-save"
      },
      {
        "label": "Save As",
        "commandId": "Comfy.SaveWorkflowAs",
        "icon": "pi pi-save"
      },
      {
        "label": "Export",
        "commandId": "Comfy.ExportWorkflow",
        "icon": "pi pi-download"
      },
      {
        "label": "Export (API)",
        "commandId": "Comfy.ExportWorkflowAPI",
        "icon": "pi pi-download"
      }
    ]
  },
  {
    "label": "Edit",
    "items": [
      {
        "label": "Undo",
        "commandId": "Comfy.Undo",
        "icon": "pi pi-undo"
      },
      {
        "label": "Redo",
        "commandId": "Comfy.Redo",
        "icon": "pi pi-refresh"
      },
      {
        "separator": true
      },
      {
        "label": "Clear Workflow",
        "commandId": "Comfy.ClearWorkflow",
        "icon": "pi pi-trash"
      },
      {
        "separator": true
      },
      {
        "label": "Clipspace",
        "commandId": "Comfy.OpenClipspace",
        "icon": "pi pi-clipboard"
      },
      {
        "separator": true
      },
      {
        "label": "Refresh Node Definitions",
        "commandId": "Comfy.RefreshNodeDefinitions",
        "icon": "pi pi-refresh"
      },
      {
        "separator": true
      },
      {
        "label": "Refresh Node Definitions",
        "commandId": "Comfy.RefreshNodeDefinitions",
        "icon": "pi pi-refresh"
      },
      {
        "label": "Unload Models",
        "commandId": "Comfy.Memory.UnloadModels",
        "icon": "mdi mdi-vacuum-outline"
      },
      {
        "label": "Unload Models and Execution Cache",
        "commandId": "Comfy.Memory.UnloadModelsAndExecutionCache",
        "icon": "mdi mdi-vacuum-outline"
      }
    ]
  },
  {
    "label": "View",
    "items": [
      {
        "label": "Bottom Panel",
        "commandId": "Workspace.ToggleBottomPanel",
        "icon": "pi pi-list"
      },
      {
        "label": "Browse Templates",
        "commandId": "Comfy.BrowseTemplates",
        "icon": "pi pi-folder-open"
      },
      {
        "label": "Focus Mode",
        "commandId": "Workspace.ToggleFocusMode",
        "icon": "pi pi-eye"
      },
      {
        "label": "Canvas Performance",
        "commandId": "Comfy.ToggleCanvasInfo",
        "icon": "pi pi-info-circle"
      },
      {
        "label": "Minimap",
        "commandId": "Comfy.Canvas.ToggleMinimap",
        "icon": "pi pi-map"
      },
      {
        "label": "Node Links",
        "commandId": "Comfy.Canvas.ToggleLinkVisibility",
        "icon": "pi pi-eye"
      },
      {
        "separator": true
      },
      {
        "label": "Zoom In",
        "commandId": "Comfy.Canvas.ZoomIn",
        "icon": "pi pi-plus"
      },
      {
        "label": "Zoom Out",
        "commandId": "Comfy.Canvas.ZoomOut",
        "icon": "pi pi-minus"
      },
      {
        "label": "Zoom to fit",
        "commandId": "Comfy.Canvas.FitView",
        "icon": "pi pi-expand"
      }
    ]
  },
  {
    "label": "Help",
    "items": [
      {
        "label": "ComfyUI Issues",
        "commandId": "Comfy.Help.OpenComfyUIIssues",
        "icon": "pi pi-github"
      },
      {
        "label": "ComfyUI Docs",
        "commandId": "Comfy.Help.OpenComfyUIDocs",
        "icon": "pi pi-info-circle"
      },
      {
        "label": "Comfy-Org Discord",
        "commandId": "Comfy.Help.OpenComfyOrgDiscord",
        "icon": "pi pi-discord"
      },
      {
        "label": "ComfyUI Forum",
        "commandId": "Comfy.Help.OpenComfyUIForum",
        "icon": "pi pi-comments"
      },
      {
        "separator": true
      },
      {
        "label": "About ComfyUI",
        "commandId": "Comfy.Help.AboutComfyUI",
        "icon": "pi pi-info-circle"
      },
      {
        "label": "Contact Support",
        "commandId": "Comfy.ContactSupport",
        "icon": "pi pi-question"
      }
    ]
  }
];

/** Core sidebar tabs (title/tooltip/label are i18n keys, as in the store). */
export const CORE_SIDEBAR_TABS = [
  {"id": "queue", "icon": "pi pi-history", "title": "sideToolbar.queue", "tooltip": "sideToolbar.queue", "label": "sideToolbar.labels.queue"},
  {"id": "node-library", "icon": "icon-[comfy--node]", "title": "sideToolbar.nodeLibrary", "tooltip": "sideToolbar.nodeLibrary", "label": "sideToolbar.labels.nodes"},
  {"id": "model-library", "icon": "icon-[comfy--ai-model]", "title": "sideToolbar.modelLibrary", "tooltip": "sideToolbar.modelLibrary", "label": "sideToolbar.labels.models"},
  {"id": "workflows", "icon": "icon-[comfy--workflow]", "title": "sideToolbar.workflows", "tooltip": "sideToolbar.workflows", "label": "sideToolbar.labels.workflows"}
];

/** The 120 core setting definitions; without `category` the dialog groups by the id's dots. */
export const CORE_SETTINGS = [
  {"id": "Comfy.Memory.AllowManualUnload", "name": "Allow manual unload of models and execution cache via user command", "type": "hidden", "defaultValue": true, "versionAdded": "1.18.0", "hidden": true},
  {"id": "Comfy.Validation.Workflows", "name": "Validate workflows", "type": "boolean", "defaultValue": true},
  {"id": "Comfy.NodeSearchBoxImpl", "name": "Node search box implementation", "type": "combo", "defaultValue": "default", "options": ["default", "litegraph (legacy)"], "experimental": true, "category": ["Comfy", "Node Search Box", "Implementation"]},
  {"id": "Comfy.LinkRelease.Action", "name": "Action on link release (No modifier)", "type": "combo", "defaultValue": "context menu", "options": ["context menu", "search box", "no action"], "category": ["LiteGraph", "LinkRelease", "Action"]},
  {"id": "Comfy.LinkRelease.ActionShift", "name": "Action on link release (Shift)", "type": "combo", "defaultValue": "search box", "options": ["context menu", "search box", "no action"], "category": ["LiteGraph", "LinkRelease", "ActionShift"]},
  {"id": "Comfy.NodeSearchBoxImpl.NodePreview", "name": "Node preview", "type": "boolean", "defaultValue": true, "tooltip": "Only applies to the default implementation", "category": ["Comfy", "Node Search Box", "NodePreview"]},
  {"id": "Comfy.NodeSearchBoxImpl.ShowCategory", "name": "Show node category in search results", "type": "boolean", "defaultValue": true, "tooltip": "Only applies to the default implementation", "category": ["Comfy", "Node Search Box", "ShowCategory"]},
  {"id": "Comfy.NodeSearchBoxImpl.ShowIdName", "name": "Show node id name in search results", "type": "boolean", "defaultValue": false, "tooltip": "Only applies to the default implementation", "category": ["Comfy", "Node Search Box", "ShowIdName"]},
  {"id": "Comfy.NodeSearchBoxImpl.ShowNodeFrequency", "name": "Show node frequency in search results", "type": "boolean", "defaultValue": false, "tooltip": "Only applies to the default implementation", "category": ["Comfy", "Node Search Box", "ShowNodeFrequency"]},
  {"id": "Comfy.Sidebar.Location", "name": "Sidebar location", "type": "combo", "defaultValue": "left", "options": ["left", "right"], "category": ["Appearance", "Sidebar", "Location"]},
  {"id": "Comfy.Sidebar.Size", "name": "Sidebar size", "type": "combo", "defaultValue": "normal", "options": ["normal", "small"], "category": ["Appearance", "Sidebar", "Size"]},
  {"id": "Comfy.Sidebar.UnifiedWidth", "name": "Unified sidebar width", "type": "boolean", "defaultValue": true, "versionAdded": "1.18.1", "category": ["Appearance", "Sidebar", "UnifiedWidth"]},
  {"id": "Comfy.TextareaWidget.FontSize", "name": "Textarea widget font size", "type": "slider", "defaultValue": 10, "category": ["Appearance", "Node Widget", "TextareaWidget", "FontSize"]},
  {"id": "Comfy.TextareaWidget.Spellcheck", "name": "Textarea widget spellcheck", "type": "boolean", "defaultValue": false, "category": ["Comfy", "Node Widget", "TextareaWidget", "Spellcheck"]},
  {"id": "Comfy.Workflow.SortNodeIdOnSave", "name": "Sort node IDs when saving workflow", "type": "boolean", "defaultValue": false},
  {"id": "Comfy.Canvas.NavigationMode", "name": "Navigation Mode", "type": "combo", "defaultValue": "legacy", "options": ["standard", "legacy", "custom"], "versionAdded": "1.25.0", "category": ["LiteGraph", "Canvas Navigation", "NavigationMode"]},
  {"id": "Comfy.Canvas.LeftMouseClickBehavior", "name": "Left Mouse Click Behavior", "type": "radio", "defaultValue": "panning", "options": ["panning", "select"], "versionAdded": "1.27.4", "category": ["LiteGraph", "Canvas Navigation", "LeftMouseClickBehavior"]},
  {"id": "Comfy.Canvas.MouseWheelScroll", "name": "Mouse Wheel Scroll", "type": "radio", "defaultValue": "zoom", "options": ["panning", "zoom"], "versionAdded": "1.27.4", "category": ["LiteGraph", "Canvas Navigation", "MouseWheelScroll"]},
  {"id": "Comfy.Graph.CanvasInfo", "name": "Show canvas info on bottom left corner (fps, etc.)", "type": "boolean", "defaultValue": true, "category": ["LiteGraph", "Canvas", "CanvasInfo"]},
  {"id": "Comfy.Node.ShowDeprecated", "name": "Show deprecated nodes in search", "type": "boolean", "defaultValue": false, "tooltip": "Deprecated nodes are hidden by default in the UI, but remain functional in existing workflows that use them."},
  {"id": "Comfy.Node.ShowExperimental", "name": "Show experimental nodes in search", "type": "boolean", "defaultValue": true, "tooltip": "Experimental nodes are marked as such in the UI and may be subject to significant changes or removal in future versions. Use with caution in production workflows"},
  {"id": "Comfy.Node.Opacity", "name": "Node opacity", "type": "slider", "defaultValue": 1, "category": ["Appearance", "Node", "Opacity"]},
  {"id": "Comfy.Workflow.ShowMissingNodesWarning", "name": "Show missing nodes warning", "type": "boolean", "defaultValue": true},
  {"id": "Comfy.Workflow.ShowMissingModelsWarning", "name": "Show missing models warning", "type": "boolean", "defaultValue": true, "experimental": true},
  {"id": "Comfy.Workflow.WarnBlueprintOverwrite", "name": "Require confirmation to overwrite an existing subgraph blueprint", "type": "boolean", "defaultValue": true},
  {"id": "Comfy.Graph.ZoomSpeed", "name": "Canvas zoom speed", "type": "slider", "defaultValue": 1.1, "category": ["LiteGraph", "Canvas", "ZoomSpeed"]},
  {"id": "Comfy.NodeLibrary.Bookmarks", "name": "Node library bookmarks with display name (deprecated)", "type": "hidden", "defaultValue": [], "deprecated": true, "hidden": true},
  {"id": "Comfy.NodeLibrary.Bookmarks.V2", "name": "Node library bookmarks v2 with unique name", "type": "hidden", "defaultValue": [], "hidden": true},
  {"id": "Comfy.NodeLibrary.BookmarksCustomization", "name": "Node library bookmarks customization", "type": "hidden", "defaultValue": {}, "hidden": true},
  {"id": "Comfy.Queue.ImageFit", "name": "Queue image fit", "type": "hidden", "defaultValue": "cover", "hidden": true},
  {"id": "Comfy.GroupSelectedNodes.Padding", "name": "Group selected nodes padding", "type": "slider", "defaultValue": 10, "category": ["LiteGraph", "Group", "Padding"]},
  {"id": "Comfy.Node.DoubleClickTitleToEdit", "name": "Double click node title to edit", "type": "boolean", "defaultValue": true, "category": ["LiteGraph", "Node", "DoubleClickTitleToEdit"]},
  {"id": "Comfy.Node.AllowImageSizeDraw", "name": "Show width × height below the image preview", "type": "boolean", "defaultValue": true, "category": ["LiteGraph", "Node Widget", "AllowImageSizeDraw"]},
  {"id": "Comfy.Group.DoubleClickTitleToEdit", "name": "Double click group title to edit", "type": "boolean", "defaultValue": true, "category": ["LiteGraph", "Group", "DoubleClickTitleToEdit"]},
  {"id": "Comfy.Window.UnloadConfirmation", "name": "Show confirmation when closing window", "type": "boolean", "defaultValue": true},
  {"id": "Comfy.TreeExplorer.ItemPadding", "name": "Tree explorer item padding", "type": "slider", "defaultValue": 2, "category": ["Appearance", "Tree Explorer", "ItemPadding"]},
  {"id": "Comfy.ModelLibrary.AutoLoadAll", "name": "Automatically load all model folders", "type": "boolean", "defaultValue": false, "tooltip": "If true, all folders will load as soon as you open the model library (this may cause delays while it loads). If false, root level model folders will only load once you click on them."},
  {"id": "Comfy.ModelLibrary.NameFormat", "name": "What name to display in the model library tree view", "type": "combo", "defaultValue": "title", "options": ["filename", "title"], "tooltip": "Select \"filename\" to render a simplified view of the raw filename (without directory or \".safetensors\" extension) in the model list. Select \"title\" to display the configurable model metadata title."},
  {"id": "Comfy.Locale", "name": "Language", "type": "combo", "defaultValue": "en", "options": ["en", "zh", "zh-TW", "ru", "ja", "ko", "fr", "es", "ar"]},
  {"id": "Comfy.NodeBadge.NodeSourceBadgeMode", "name": "Node source badge mode", "type": "combo", "defaultValue": "Hide built-in", "options": ["None", "Show all", "Hide built-in"], "category": ["LiteGraph", "Node", "NodeSourceBadgeMode"]},
  {"id": "Comfy.NodeBadge.NodeIdBadgeMode", "name": "Node ID badge mode", "type": "combo", "defaultValue": "None", "options": ["None", "Show all"], "category": ["LiteGraph", "Node", "NodeIdBadgeMode"]},
  {"id": "Comfy.NodeBadge.NodeLifeCycleBadgeMode", "name": "Node life cycle badge mode", "type": "combo", "defaultValue": "Show all", "options": ["None", "Show all"], "category": ["LiteGraph", "Node", "NodeLifeCycleBadgeMode"]},
  {"id": "Comfy.NodeBadge.ShowApiPricing", "name": "Show API node pricing badge", "type": "boolean", "defaultValue": true, "versionAdded": "1.20.3", "category": ["Comfy", "API Nodes"]},
  {"id": "Comfy.Notification.ShowVersionUpdates", "name": "Show version updates", "type": "boolean", "defaultValue": true, "tooltip": "Show updates for new models, and major new features.", "category": ["Comfy", "Notification Preferences"]},
  {"id": "Comfy.ConfirmClear", "name": "Require confirmation when clearing workflow", "type": "boolean", "defaultValue": true, "category": ["Comfy", "Workflow", "ConfirmClear"]},
  {"id": "Comfy.PromptFilename", "name": "Prompt for filename when saving workflow", "type": "boolean", "defaultValue": true, "category": ["Comfy", "Workflow", "PromptFilename"]},
  {"id": "Comfy.PreviewFormat", "name": "Preview image format", "type": "text", "defaultValue": "", "tooltip": "When displaying a preview in the image widget, convert it to a lightweight image, e.g. webp, jpeg, webp;50, etc.", "category": ["LiteGraph", "Node Widget", "PreviewFormat"]},
  {"id": "Comfy.DisableSliders", "name": "Disable node widget sliders", "type": "boolean", "defaultValue": false, "category": ["LiteGraph", "Node Widget", "DisableSliders"]},
  {"id": "Comfy.DisableFloatRounding", "name": "Disable default float widget rounding.", "type": "boolean", "defaultValue": false, "tooltip": "(requires page reload) Cannot disable round when round is set by the node in the backend.", "category": ["LiteGraph", "Node Widget", "DisableFloatRounding"]},
  {"id": "Comfy.FloatRoundingPrecision", "name": "Float widget rounding decimal places [0 = auto].", "type": "slider", "defaultValue": 0, "tooltip": "(requires page reload)", "category": ["LiteGraph", "Node Widget", "FloatRoundingPrecision"]},
  {"id": "LiteGraph.Node.TooltipDelay", "name": "Tooltip Delay", "type": "number", "defaultValue": 500, "versionAdded": "1.9.0"},
  {"id": "Comfy.EnableTooltips", "name": "Enable Tooltips", "type": "boolean", "defaultValue": true, "category": ["LiteGraph", "Node", "EnableTooltips"]},
  {"id": "Comfy.DevMode", "name": "Enable dev mode options (API save, etc.)", "type": "boolean", "defaultValue": false},
  {"id": "Comfy.UseNewMenu", "name": "Use new menu", "type": "combo", "defaultValue": "Top", "options": ["Disabled", "Top", "Bottom"], "tooltip": "Menu bar position. On mobile devices, the menu is always shown at the top.", "category": ["Comfy", "Menu", "UseNewMenu"]},
  {"id": "Comfy.Workflow.WorkflowTabsPosition", "name": "Opened workflows position", "type": "combo", "defaultValue": "Topbar", "options": ["Sidebar", "Topbar", "Topbar (2nd-row)"]},
  {"id": "Comfy.Graph.CanvasMenu", "name": "Show graph canvas menu", "type": "boolean", "defaultValue": true, "category": ["LiteGraph", "Canvas", "CanvasMenu"]},
  {"id": "Comfy.QueueButton.BatchCountLimit", "name": "Batch count limit", "type": "number", "defaultValue": 100, "tooltip": "The maximum number of tasks added to the queue at one button click", "versionAdded": "1.3.5"},
  {"id": "Comfy.Keybinding.UnsetBindings", "name": "Keybindings unset by the user", "type": "hidden", "defaultValue": [], "versionAdded": "1.3.7", "hidden": true},
  {"id": "Comfy.Keybinding.NewBindings", "name": "Keybindings set by the user", "type": "hidden", "defaultValue": [], "versionAdded": "1.3.7", "hidden": true},
  {"id": "Comfy.Extension.Disabled", "name": "Disabled extension names", "type": "hidden", "defaultValue": [], "versionAdded": "1.3.11", "hidden": true},
  {"id": "Comfy.LinkRenderMode", "name": "Link Render Mode", "type": "combo", "defaultValue": 2, "options": [0, 1, 2, -1], "category": ["LiteGraph", "Graph", "LinkRenderMode"]},
  {"id": "Comfy.Node.AutoSnapLinkToSlot", "name": "Auto snap link to node slot", "type": "boolean", "defaultValue": true, "tooltip": "When dragging a link over a node, the link automatically snap to a viable input slot on the node", "versionAdded": "1.3.29", "category": ["LiteGraph", "Node", "AutoSnapLinkToSlot"]},
  {"id": "Comfy.Node.SnapHighlightsNode", "name": "Snap highlights node", "type": "boolean", "defaultValue": true, "tooltip": "When dragging a link over a node with viable input slot, highlight the node", "versionAdded": "1.3.29", "category": ["LiteGraph", "Node", "SnapHighlightsNode"]},
  {"id": "Comfy.Node.BypassAllLinksOnDelete", "name": "Keep all links when deleting nodes", "type": "boolean", "defaultValue": true, "tooltip": "When deleting a node, attempt to reconnect all of its input and output links (bypassing the deleted node)", "versionAdded": "1.3.40", "category": ["LiteGraph", "Node", "BypassAllLinksOnDelete"]},
  {"id": "Comfy.Node.MiddleClickRerouteNode", "name": "Middle-click creates a new Reroute node", "type": "boolean", "defaultValue": true, "versionAdded": "1.3.42", "category": ["LiteGraph", "Node", "MiddleClickRerouteNode"]},
  {"id": "Comfy.Graph.LinkMarkers", "name": "Link midpoint markers", "type": "combo", "defaultValue": 1, "options": [0, 1, 2], "versionAdded": "1.3.42", "category": ["LiteGraph", "Link", "LinkMarkers"]},
  {"id": "Comfy.DOMClippingEnabled", "name": "Enable DOM element clipping (enabling may reduce performance)", "type": "boolean", "defaultValue": true, "category": ["LiteGraph", "Node", "DOMClippingEnabled"]},
  {"id": "Comfy.Graph.CtrlShiftZoom", "name": "Enable fast-zoom shortcut (Ctrl + Shift + Drag)", "type": "boolean", "defaultValue": true, "versionAdded": "1.4.0", "category": ["LiteGraph", "Canvas", "CtrlShiftZoom"]},
  {"id": "Comfy.Pointer.ClickDrift", "name": "Pointer click drift (maximum distance)", "type": "slider", "defaultValue": 6, "tooltip": "If the pointer moves more than this distance while holding a button down, it is considered dragging (rather than clicking).\n\nHelps prevent objects from being unintentionally nudged if the pointer is moved whilst clicking.", "experimental": true, "versionAdded": "1.4.3", "category": ["LiteGraph", "Pointer", "ClickDrift"]},
  {"id": "Comfy.Pointer.ClickBufferTime", "name": "Pointer click drift delay", "type": "slider", "defaultValue": 150, "tooltip": "After pressing a pointer button down, this is the maximum time (in milliseconds) that pointer movement can be ignored for.\n\nHelps prevent objects from being unintentionally nudged if the pointer is moved whilst clicking.", "experimental": true, "versionAdded": "1.4.3", "category": ["LiteGraph", "Pointer", "ClickBufferTime"]},
  {"id": "Comfy.Pointer.DoubleClickTime", "name": "Double click interval (maximum)", "type": "slider", "defaultValue": 300, "tooltip": "The maximum time in milliseconds between the two clicks of a double-click.  Increasing this value may assist if double-clicks are sometimes not registered.", "versionAdded": "1.4.3", "category": ["LiteGraph", "Pointer", "DoubleClickTime"]},
  {"id": "Comfy.SnapToGrid.GridSize", "name": "Snap to grid size", "type": "slider", "defaultValue": 10, "tooltip": "When dragging and resizing nodes while holding shift they will be aligned to the grid, this controls the size of that grid.", "category": ["LiteGraph", "Canvas", "GridSize"]},
  {"id": "pysssss.SnapToGrid", "name": "Always snap to grid", "type": "boolean", "defaultValue": false, "versionAdded": "1.3.13", "category": ["LiteGraph", "Canvas", "AlwaysSnapToGrid"]},
  {"id": "Comfy.Server.ServerConfigValues", "name": "Server config values for frontend display", "type": "hidden", "defaultValue": {}, "tooltip": "Server config values used for frontend display only", "versionAdded": "1.4.8", "hidden": true},
  {"id": "Comfy.Server.LaunchArgs", "name": "Server launch arguments", "type": "hidden", "defaultValue": {}, "tooltip": "These are the actual arguments that are passed to the server when it is launched.", "versionAdded": "1.4.8", "hidden": true},
  {"id": "Comfy.Queue.MaxHistoryItems", "name": "Queue history size", "type": "slider", "defaultValue": 64, "tooltip": "The maximum number of tasks that show in the queue history.", "versionAdded": "1.4.12"},
  {"id": "LiteGraph.Canvas.MaximumFps", "name": "Maximum FPS", "type": "slider", "defaultValue": 0, "tooltip": "The maximum frames per second that the canvas is allowed to render. Caps GPU usage at the cost of smoothness. If 0, the screen refresh rate is used. Default: 0", "versionAdded": "1.5.1"},
  {"id": "Comfy.EnableWorkflowViewRestore", "name": "Save and restore canvas position and zoom level in workflows", "type": "boolean", "defaultValue": true, "category": ["Comfy", "Workflow", "EnableWorkflowViewRestore"]},
  {"id": "Comfy.Workflow.ConfirmDelete", "name": "Show confirmation when deleting workflows", "type": "boolean", "defaultValue": true, "versionAdded": "1.5.6"},
  {"id": "Comfy.ColorPalette", "name": "The active color palette id", "type": "hidden", "defaultValue": "dark", "hidden": true},
  {"id": "Comfy.CustomColorPalettes", "name": "Custom color palettes", "type": "hidden", "defaultValue": {}, "hidden": true},
  {"id": "Comfy.WidgetControlMode", "name": "Widget control mode", "type": "combo", "defaultValue": "after", "options": ["before", "after"], "tooltip": "Controls when widget values are updated (randomize/increment/decrement), either before the prompt is queued or after.", "category": ["Comfy", "Node Widget", "WidgetControlMode"]},
  {"id": "Comfy.TutorialCompleted", "name": "Tutorial completed", "type": "hidden", "defaultValue": false, "versionAdded": "1.8.7", "hidden": true},
  {"id": "Comfy.InstalledVersion", "name": "The frontend version that was running when the user first installed ComfyUI", "type": "hidden", "versionAdded": "1.24.0", "hidden": true},
  {"id": "LiteGraph.ContextMenu.Scaling", "name": "Scale node combo widget menus (lists) when zoomed in", "type": "boolean", "defaultValue": false, "versionAdded": "1.8.8"},
  {"id": "LiteGraph.Canvas.LowQualityRenderingZoomThreshold", "name": "Low quality rendering zoom threshold (deprecated)", "type": "hidden", "defaultValue": 0.6, "tooltip": "Zoom level threshold for performance mode. Lower values (0.1) = quality at all zoom levels. Higher values (1.0) = performance mode even when zoomed in. Performance mode simplifies rendering by hiding text labels, shadows, and details.", "deprecated": true, "versionAdded": "1.9.1", "hidden": true},
  {"id": "LiteGraph.Canvas.MinFontSizeForLOD", "name": "Zoom Node Level of Detail - font size threshold", "type": "slider", "defaultValue": 8, "tooltip": "Controls when the nodes switch to low quality LOD rendering. Uses font size in pixels to determine when to switch. Set to 0 to disable. Values 1-24 set the minimum font size threshold for LOD - higher values (24px) = switch nodes to simplified rendering sooner when zooming out, lower values (1px) = maintain full node quality longer.", "versionAdded": "1.26.7"},
  {"id": "Comfy.Canvas.SelectionToolbox", "name": "Show selection toolbox", "type": "boolean", "defaultValue": true, "versionAdded": "1.10.5", "category": ["LiteGraph", "Canvas", "SelectionToolbox"]},
  {"id": "LiteGraph.Reroute.SplineOffset", "name": "Reroute spline offset", "type": "slider", "defaultValue": 20, "tooltip": "The bezier control point offset from the reroute centre point", "versionAdded": "1.15.7"},
  {"id": "Comfy.Toast.DisableReconnectingToast", "name": "Disable toasts when reconnecting or reconnected", "type": "hidden", "defaultValue": false, "versionAdded": "1.15.12", "hidden": true},
  {"id": "Comfy.Minimap.Visible", "name": "Display minimap on canvas", "type": "hidden", "defaultValue": true, "versionAdded": "1.25.0", "hidden": true},
  {"id": "Comfy.Minimap.NodeColors", "name": "Display node with its original color on minimap", "type": "hidden", "defaultValue": false, "versionAdded": "1.26.0", "hidden": true},
  {"id": "Comfy.Minimap.ShowLinks", "name": "Display links on minimap", "type": "hidden", "defaultValue": true, "versionAdded": "1.26.0", "hidden": true},
  {"id": "Comfy.Minimap.ShowGroups", "name": "Display node groups on minimap", "type": "hidden", "defaultValue": true, "versionAdded": "1.26.0", "hidden": true},
  {"id": "Comfy.Minimap.RenderBypassState", "name": "Render bypass state on minimap", "type": "hidden", "defaultValue": true, "versionAdded": "1.26.0", "hidden": true},
  {"id": "Comfy.Minimap.RenderErrorState", "name": "Render error state on minimap", "type": "hidden", "defaultValue": true, "versionAdded": "1.26.0", "hidden": true},
  {"id": "Comfy.Workflow.AutoSaveDelay", "name": "Auto Save Delay (ms)", "type": "number", "defaultValue": 1000, "tooltip": "Only applies if Auto Save is set to \"after delay\".", "versionAdded": "1.16.0"},
  {"id": "Comfy.Workflow.AutoSave", "name": "Auto Save", "type": "combo", "defaultValue": "off", "options": ["off", "after delay"], "versionAdded": "1.16.0"},
  {"id": "Comfy.Workflow.Persist", "name": "Persist workflow state and restore on page (re)load", "type": "boolean", "defaultValue": true, "versionAdded": "1.16.1"},
  {"id": "LiteGraph.Node.DefaultPadding", "name": "Always shrink new nodes", "type": "boolean", "defaultValue": false, "tooltip": "Resize nodes to the smallest possible size when created. When disabled, a newly added node will be widened slightly to show widget values.", "versionAdded": "1.18.0"},
  {"id": "Comfy.Canvas.BackgroundImage", "name": "Canvas background image", "type": "backgroundImage", "defaultValue": "", "tooltip": "Image URL for the canvas background. You can right-click an image in the outputs panel and select \"Set as Background\" to use it, or upload your own image using the upload button.", "versionAdded": "1.20.4", "category": ["Appearance", "Canvas", "Background"]},
  {"id": "Comfy.Release.Version", "name": "Last seen release version", "type": "hidden", "defaultValue": "", "hidden": true},
  {"id": "Comfy.Release.Status", "name": "Release status", "type": "hidden", "defaultValue": "skipped", "hidden": true},
  {"id": "Comfy.Release.Timestamp", "name": "Release seen timestamp", "type": "hidden", "defaultValue": 0, "hidden": true},
  {"id": "Comfy.VueNodes.Enabled", "name": "Enable Vue node rendering (hidden)", "type": "hidden", "defaultValue": false, "tooltip": "Render nodes as Vue components instead of canvas. Hidden; toggle via Experimental keybinding.", "experimental": true, "versionAdded": "1.27.1", "hidden": true},
  {"id": "Comfy.Assets.UseAssetAPI", "name": "Use Asset API for model library", "type": "hidden", "defaultValue": false, "tooltip": "Use new Asset API for model browsing", "experimental": true, "hidden": true},
  {"id": "Comfy.Load3D.ShowGrid", "name": "Initial Grid Visibility", "type": "boolean", "defaultValue": true, "tooltip": "Controls whether the grid is visible by default when a new 3D widget is created. This default can still be toggled individually for each widget after creation.", "experimental": true, "category": ["3D", "Scene", "Initial Grid Visibility"]},
  {"id": "Comfy.Load3D.ShowPreview", "name": "Initial Preview Visibility", "type": "boolean", "defaultValue": true, "tooltip": "Controls whether the preview screen is visible by default when a new 3D widget is created. This default can still be toggled individually for each widget after creation.", "experimental": true, "category": ["3D", "Scene", "Initial Preview Visibility"]},
  {"id": "Comfy.Load3D.BackgroundColor", "name": "Initial Background Color", "type": "color", "defaultValue": "282828", "tooltip": "Controls the default background color of the 3D scene. This setting determines the background appearance when a new 3D widget is created, but can be adjusted individually for each widget after creation.", "experimental": true, "category": ["3D", "Scene", "Initial Background Color"]},
  {"id": "Comfy.Load3D.CameraType", "name": "Initial Camera Type", "type": "combo", "defaultValue": "perspective", "options": ["perspective", "orthographic"], "tooltip": "Controls whether the camera is perspective or orthographic by default when a new 3D widget is created. This default can still be toggled individually for each widget after creation.", "experimental": true, "category": ["3D", "Camera", "Initial Camera Type"]},
  {"id": "Comfy.Load3D.LightIntensity", "name": "Initial Light Intensity", "type": "number", "defaultValue": 3, "tooltip": "Sets the default brightness level of lighting in the 3D scene. This value determines how intensely lights illuminate objects when a new 3D widget is created, but can be adjusted individually for each widget after creation.", "experimental": true, "category": ["3D", "Light", "Initial Light Intensity"]},
  {"id": "Comfy.Load3D.LightIntensityMaximum", "name": "Light Intensity Maximum", "type": "number", "defaultValue": 10, "tooltip": "Sets the maximum allowable light intensity value for 3D scenes. This defines the upper brightness limit that can be set when adjusting lighting in any 3D widget.", "experimental": true, "category": ["3D", "Light", "Light Intensity Maximum"]},
  {"id": "Comfy.Load3D.LightIntensityMinimum", "name": "Light Intensity Minimum", "type": "number", "defaultValue": 1, "tooltip": "Sets the minimum allowable light intensity value for 3D scenes. This defines the lower brightness limit that can be set when adjusting lighting in any 3D widget.", "experimental": true, "category": ["3D", "Light", "Light Intensity Minimum"]},
  {"id": "Comfy.Load3D.LightAdjustmentIncrement", "name": "Light Adjustment Increment", "type": "slider", "defaultValue": 0.5, "tooltip": "Controls the increment size when adjusting light intensity in 3D scenes. A smaller step value allows for finer control over lighting adjustments, while a larger value results in more noticeable changes per adjustment.", "experimental": true, "category": ["3D", "Light", "Light Adjustment Increment"]},
  {"id": "Comfy.Load3D.3DViewerEnable", "name": "Enable 3D Viewer (Beta)", "type": "boolean", "defaultValue": false, "tooltip": "Enables the 3D Viewer (Beta) for selected nodes. This feature allows you to visualize and interact with 3D models directly within the full size 3d viewer.", "experimental": true, "category": ["3D", "3DViewer", "Enable"]},
  {"id": "Comfy.MaskEditor.UseNewEditor", "name": "Use new mask editor", "type": "boolean", "defaultValue": true, "tooltip": "Switch to the new mask editor interface", "experimental": true, "category": ["Mask Editor", "NewEditor"]},
  {"id": "Comfy.MaskEditor.BrushAdjustmentSpeed", "name": "Brush adjustment speed multiplier", "type": "slider", "defaultValue": 1, "tooltip": "Controls how quickly the brush size and hardness change when adjusting. Higher values mean faster changes.", "experimental": true, "versionAdded": "1.0.0", "category": ["Mask Editor", "BrushAdjustment", "Sensitivity"]},
  {"id": "Comfy.MaskEditor.UseDominantAxis", "name": "Lock brush adjustment to dominant axis", "type": "boolean", "defaultValue": true, "tooltip": "When enabled, brush adjustments will only affect size OR hardness based on which direction you move more", "experimental": true, "category": ["Mask Editor", "BrushAdjustment", "UseDominantAxis"]},
  {"id": "Comfy.EditAttention.Delta", "name": "Ctrl+up/down precision", "type": "slider", "defaultValue": 0.05, "category": ["Comfy", "EditTokenWeight", "Delta"]},
  {"id": "Comfy.NodeSuggestions.number", "name": "Number of nodes suggestions", "type": "slider", "defaultValue": 5, "tooltip": "Only for litegraph searchbox/context menu", "category": ["Comfy", "Node Search Box", "NodeSuggestions"]}
];

/** Names of the 27 core extensions, in registration order. */
export const CORE_EXTENSION_NAMES = ["Comfy.NodeBadge", "Comfy.Clipspace", "Comfy.ContextMenuFilter", "Comfy.DynamicPrompts", "Comfy.EditAttention", "Comfy.WidgetInputs", "Comfy.GroupNode", "Comfy.GroupOptions", "Comfy.Load3D", "Comfy.Load3DAnimation", "Comfy.Preview3D", "Comfy.Preview3DAnimation", "Comfy.MaskEditor", "Comfy.NodeTemplates", "Comfy.NoteNode", "Comfy.PreviewAny", "Comfy.RerouteNode", "Comfy.SaveImageExtraOutput", "Comfy.SaveGLB", "Comfy.SelectionBorder", "Comfy.SimpleTouchSupport", "Comfy.SlotDefaults", "Comfy.AudioWidget", "Comfy.UploadAudio", "Comfy.RecordAudio", "Comfy.UploadImage", "Comfy.WebcamCapture"];
