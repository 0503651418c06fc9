// The stand-in's ComfyApp: extension registration and hooks in the recorded order, the graph
// (load, serialize, prompt), queueing, and the workflows behind the tabs.
import { api, PromptExecutionError } from "./api.js";
import { applyControlWidgets, blankGraphData, defaultGraphData, graphToApiPrompt, StandinGraph, StandinNode } from "./graph.js";
import { notifyChange } from "./pinia-lite.js";
import {
  useCommandStore,
  useExecutionStore,
  useExtensionStore,
  useKeybindingStore,
  useMenuItemStore,
  useNodeDefStore,
  useBottomPanelStore,
  useSettingStore,
  useToastStore,
  useWorkflowStore,
} from "./stores.js";

export const ANIM_PREVIEW_WIDGET = "$$comfy_animation_preview";

/** Per-instance state behind the prototype accessors (the recording lists them on the prototype). */
const appState = new WeakMap();
const STATE_DEFAULTS = () => ({ configuringGraph: false, lastNodeErrors: null, lastExecutionError: null, runningNodeId: null, shiftDown: false, widgets: {}, isNewUserSession: false, progress: null });

export class ComfyApp {
  #graph = new StandinGraph();
  #nodeTypes = {};
  #canvasView = null;
  #customWidgetResults = [];

  constructor() {
    appState.set(this, STATE_DEFAULTS());
    this.vueAppReady = false;
    this.api = api;
    this.ui = null;
    this.extensionManager = null;
    this._nodeOutputs = {};
    this.nodePreviewImages = {};
    this.canvas = null;
    this.dragOverNode = null;
    this.canvasEl = null;
    this.ctx = null;
    this.bodyTop = null;
    this.bodyLeft = null;
    this.bodyRight = null;
    this.bodyBottom = null;
    this.canvasContainer = null;
    this.menu = null;
    this.bypassBgColor = "#FF00FF";
    this.openClipspace = () => {};
  }

  /** Node classes by type, built from /object_info (what `beforeRegisterNodeDef` receives). */
  get nodeTypes() {
    return this.#nodeTypes;
  }

  /** The stand-in's graph view (ui-canvas.js). */
  get canvasView() {
    return this.#canvasView;
  }

  set canvasView(view) {
    this.#canvasView = view;
  }

  // --- recorded prototype members -----------------------------------------------------------

  get graph() {
    return this.#graph;
  }

  get storageLocation() {
    return "server";
  }

  get extensions() {
    return useExtensionStore().extensions;
  }

  get nodeOutputs() {
    return this._nodeOutputs;
  }

  set nodeOutputs(value) {
    this._nodeOutputs = value;
  }

  resetView() {
    this.canvasView?.resetView();
  }

  getPreviewFormatParam() {
    const format = useSettingStore().get("Comfy.PreviewFormat");
    return format ? `&preview=${format}` : "";
  }

  getRandParam() {
    return `&rand=${Math.random()}`;
  }

  resizeCanvas() {
    this.canvasView?.resize();
  }

  updateVueAppNodeDefs(defs) {
    return defs;
  }

  async registerNodes() {
    const defs = await api.getNodeDefs();
    await this.registerNodesFromDefs(defs);
    return defs;
  }

  /** A node class for one definition; extensions may patch its prototype. */
  async registerNodeDef(nodeId, nodeData) {
    const app = this;
    const nodeType = class extends StandinNode {
      static comfyClass = nodeId;
      static nodeData = nodeData;
      static title = nodeData.display_name || nodeData.name;
      constructor() {
        super(nodeId, nodeData);
        this.comfyClass = nodeId;
        this.serialize_widgets = true;
        this.isVirtualNode = false;
      }
    };
    Object.defineProperty(nodeType, "name", { value: nodeId.replace(/\W/g, "_") });
    await this.#invokeExtensionsAsync("beforeRegisterNodeDef", nodeType, nodeData, app);
    this.#nodeTypes[nodeId] = nodeType;
  }

  async registerNodesFromDefs(defs) {
    await this.#invokeExtensionsAsync("addCustomNodeDefs", defs, this);
    for (const [nodeId, nodeData] of Object.entries(defs)) await this.registerNodeDef(nodeId, nodeData);
    await this.#invokeExtensionsAsync("registerCustomNodes", this);
    await this.#invokeExtensionsAsync("beforeRegisterVueAppNodeDefs", Object.values(defs), this);
  }

  async loadTemplateData(templateData) {
    for (const template of templateData?.templates ?? []) await this.loadGraphData(JSON.parse(template.data), true, true, null);
  }

  /**
   * Loads a UI workflow into the canvas: `beforeConfigureGraph`, `nodeCreated` per node,
   * `loadedGraphNode` per node, `afterConfigureGraph`. Without a workflow object it opens as a
   * new temporary tab (as `app.loadGraphData(json)` did in the recording).
   */
  async loadGraphData(graphData, clean = true, restore_view = true, workflow = null, options = {}) {
    graphData = graphData ? structuredClone(graphData) : defaultGraphData();
    const workflowStore = useWorkflowStore();
    if (!options.keepTab) {
      this.#storeActiveState();
      const name = typeof workflow === "string" ? workflow : null;
      const target = workflow && typeof workflow === "object" ? workflow : workflowStore.createTemporary(name, graphData);
      target.activeState = graphData;
      workflowStore.openWorkflow(target);
    }
    const missingNodeTypes = (graphData.nodes ?? []).filter((n) => !this.nodeTypes[n.type]).map((n) => n.type);
    this.configuringGraph = true;
    try {
      await this.#invokeExtensionsAsync("beforeConfigureGraph", graphData, missingNodeTypes, this);
      const graph = new StandinGraph();
      graph.id = graphData.id ?? graph.id;
      graph.revision = graphData.revision ?? 0;
      graph.groups = graphData.groups ?? [];
      graph.config = graphData.config ?? {};
      graph.extra = { ...(graphData.extra ?? {}) };
      if (!restore_view || !graph.extra.ds) graph.extra.ds = { scale: 1, offset: [0, 0] };
      const created = [];
      for (const data of graphData.nodes ?? []) {
        const NodeClass = this.nodeTypes[data.type];
        const node = NodeClass ? new NodeClass() : new StandinNode(data.type, null);
        node.id = data.id;
        node.pos = [...(data.pos ?? [0, 0])];
        if (data.size) node.size = [...data.size];
        node.flags = { ...(data.flags ?? {}) };
        node.mode = data.mode ?? 0;
        if (data.title) node.title = data.title;
        node.properties = { ...node.properties, ...(data.properties ?? {}) };
        node.widgets_values = data.widgets_values;
        graph.add(node);
        node.onNodeCreated?.();
        await this.#invokeExtensionsAsync("nodeCreated", node, this);
        created.push(node);
      }
      graph.last_node_id = Math.max(graphData.last_node_id ?? 0, graph.last_node_id);
      for (const link of graphData.links ?? []) {
        const [id, originId, originSlot, targetId, targetSlot, type] = Array.isArray(link) ? link : [link.id, link.origin_id, link.origin_slot, link.target_id, link.target_slot, link.type];
        const origin = graph.getNodeById(originId);
        const target = graph.getNodeById(targetId);
        if (!origin || !target || !target.inputs[targetSlot] || !origin.outputs[originSlot]) continue;
        graph.links[id] = { id, origin_id: originId, origin_slot: originSlot, target_id: targetId, target_slot: targetSlot, type };
        target.inputs[targetSlot].link = id;
        if (!origin.outputs[originSlot].links.includes(id)) origin.outputs[originSlot].links.push(id);
      }
      graph.last_link_id = Math.max(graphData.last_link_id ?? 0, ...Object.keys(graph.links).map(Number), 0);
      this.#graph = graph;
      window.graph = graph;
      for (const node of created) await this.#invokeExtensionsAsync("loadedGraphNode", node, this);
      this.canvasView?.rebuild();
      await this.#invokeExtensionsAsync("afterConfigureGraph", missingNodeTypes, this);
    } finally {
      this.configuringGraph = false;
    }
    this.#rememberOpenWorkflows();
    notifyChange();
  }

  async graphToPrompt(graph = this.graph) {
    return { workflow: graph.serialize(), output: graphToApiPrompt(graph) };
  }

  /**
   * `POST /api/prompt` `batchCount` times (`number` -1 = front). A refused prompt becomes an
   * error toast and the method returns false, as the stand-in's way of surfacing it.
   */
  async queuePrompt(number, batchCount = 1) {
    const executionStore = useExecutionStore();
    for (let i = 0; i < batchCount; i++) {
      const prompt = await this.graphToPrompt();
      try {
        const response = await api.queuePrompt(number, prompt);
        this.lastNodeErrors = response.node_errors ?? null;
        if (response.prompt_id) executionStore.queuedPrompts[response.prompt_id] = { nodes: Object.keys(prompt.output), workflow: useWorkflowStore().activeWorkflow?.path ?? null };
      } catch (error) {
        this.lastNodeErrors = error instanceof PromptExecutionError ? (error.response?.node_errors ?? null) : null;
        const detail = error instanceof PromptExecutionError ? error.toString() : error instanceof Error ? error.message : String(error);
        console.error(error);
        useToastStore().add({ severity: "error", summary: "Prompt execution failed", detail, life: 8000 });
        return false;
      }
      applyControlWidgets(this.graph);
      this.canvasView?.sync();
    }
    return true;
  }

  showErrorOnFileLoad(file) {
    useToastStore().add({ severity: "error", summary: "Unable to find workflow in", detail: file.name, life: 5000 });
  }

  /** Opens a dropped or picked `.json` workflow (UI or API format) as a new temporary tab. */
  async handleFile(file) {
    if (!/\.json$/i.test(file.name) && file.type !== "application/json") return this.showErrorOnFileLoad(file);
    let data;
    try {
      data = JSON.parse(await file.text());
    } catch {
      return this.showErrorOnFileLoad(file);
    }
    if (this.isApiJson(data)) return this.loadApiJson(data, file.name);
    if (!Array.isArray(data?.nodes)) return this.showErrorOnFileLoad(file);
    await this.loadGraphData(data, true, true, file.name.replace(/\.json$/i, ""));
  }

  isApiJson(data) {
    return typeof data === "object" && data !== null && !Array.isArray(data.nodes) && Object.values(data).every((v) => typeof v === "object" && v !== null && typeof v.class_type === "string");
  }

  async loadApiJson(apiData, fileName) {
    const nodes = Object.entries(apiData).map(([id, node], index) => {
      const NodeClass = this.nodeTypes[node.class_type];
      const widgetNames = NodeClass ? new NodeClass().widgets.map((w) => w.name) : [];
      return { id: Number(id), type: node.class_type, pos: [100 + index * 340, 120], flags: {}, order: index, mode: 0, properties: {}, widgets_values: widgetNames.map((name) => (Array.isArray(node.inputs[name]) ? undefined : node.inputs[name])) };
    });
    const links = [];
    let linkId = 0;
    for (const [id, node] of Object.entries(apiData)) {
      const NodeClass = this.nodeTypes[node.class_type];
      const inputNames = NodeClass ? new NodeClass().inputs.map((i) => i.name) : [];
      for (const [name, value] of Object.entries(node.inputs ?? {})) {
        if (Array.isArray(value) && inputNames.includes(name)) links.push([++linkId, Number(value[0]), value[1], Number(id), inputNames.indexOf(name), "*"]);
      }
    }
    await this.loadGraphData({ ...blankGraphData(), nodes, links, last_node_id: Math.max(0, ...nodes.map((n) => n.id)), last_link_id: linkId }, true, true, (fileName ?? "api").replace(/\.json$/i, ""));
  }

  /**
   * `registerExtension(ext)`: stored in the extension store, then (if enabled) its commands,
   * keybindings (a combo core already binds throws), menu commands, settings and bottom panel
   * tabs; `getCustomWidgets` runs before it returns. `sidebarTabs` is ignored, as in 1.27.10.
   */
  registerExtension(extension) {
    const extensionStore = useExtensionStore();
    extensionStore.registerExtension(extension);
    if (!extensionStore.isExtensionEnabled(extension.name)) return;
    useCommandStore().loadExtensionCommands(extension);
    useKeybindingStore().loadExtensionKeybindings(extension);
    useMenuItemStore().loadExtensionMenuCommands(extension);
    const settingStore = useSettingStore();
    for (const setting of extension.settings ?? []) settingStore.addSetting(setting);
    useBottomPanelStore().registerExtensionBottomPanelTabs(extension);
    if (typeof extension.getCustomWidgets === "function") {
      try {
        this.#customWidgetResults.push(Promise.resolve(extension.getCustomWidgets(this)).catch((error) => console.error(error)));
      } catch (error) {
        console.error(error);
      }
    }
  }

  refreshComboInNodes() {
    return this.#refreshNodeDefinitions();
  }

  clean() {
    this._nodeOutputs = {};
    this.nodePreviewImages = {};
    this.lastNodeErrors = null;
    this.lastExecutionError = null;
    this.canvasView?.sync();
  }

  clientPosToCanvasPos(pos) {
    return this.canvasView ? this.canvasView.clientPosToCanvasPos(pos) : pos;
  }

  canvasPosToClientPos(pos) {
    return this.canvasView ? this.canvasView.canvasPosToClientPos(pos) : pos;
  }

  // --- stand-in internals -----------------------------------------------------------------

  /** Calls `method` on every enabled extension (registration order); failures are logged. */
  async #invokeExtensionsAsync(method, ...args) {
    const calls = [];
    for (const extension of useExtensionStore().enabledExtensions) {
      if (typeof extension[method] !== "function") continue;
      try {
        calls.push(Promise.resolve(extension[method](...args)).catch((error) => console.error(`Error calling extension '${extension.name}' method '${method}'`, { error, extension, args })));
      } catch (error) {
        console.error(`Error calling extension '${extension.name}' method '${method}'`, { error, extension, args });
      }
    }
    await Promise.all(calls);
  }

  invokeExtensionsAsync(method, ...args) {
    return this.#invokeExtensionsAsync(method, ...args);
  }

  async #refreshNodeDefinitions() {
    const defs = await api.getNodeDefs();
    useNodeDefStore().updateNodeDefs(defs);
    for (const [nodeId, nodeData] of Object.entries(defs)) if (!this.#nodeTypes[nodeId]) await this.registerNodeDef(nodeId, nodeData);
    await this.#invokeExtensionsAsync("refreshComboInNodes", defs, this);
  }

  imageUrl(image, { order } = {}) {
    const params =
      order === "sidebar"
        ? `filename=${encodeURIComponent(image.filename)}&type=${encodeURIComponent(image.type ?? "output")}&subfolder=${encodeURIComponent(image.subfolder ?? "")}`
        : `filename=${encodeURIComponent(image.filename)}&subfolder=${encodeURIComponent(image.subfolder ?? "")}&type=${encodeURIComponent(image.type ?? "output")}${this.getPreviewFormatParam()}${this.getRandParam()}`;
    return api.apiURL(`/view?${params}`);
  }

  addNodeAtCenter(type) {
    const NodeClass = this.nodeTypes[type];
    if (!NodeClass) return null;
    const node = new NodeClass();
    const rect = this.canvasContainer.getBoundingClientRect();
    node.pos = this.clientPosToCanvasPos([rect.left + rect.width / 2 - 150, rect.top + rect.height / 3]);
    this.graph.add(node);
    node.onNodeCreated?.();
    void this.#invokeExtensionsAsync("nodeCreated", node, this);
    this.canvasView?.sync();
    this.onGraphChanged();
    return node;
  }

  /** Marks the active workflow modified when the graph differs from what was loaded/saved. */
  onGraphChanged() {
    const workflow = useWorkflowStore().activeWorkflow;
    if (!workflow) return;
    const state = this.graph.serialize();
    workflow.activeState = state;
    const comparable = (json) => {
      if (!json) return null;
      const copy = typeof json === "string" ? JSON.parse(json) : structuredClone(json);
      delete copy.extra?.ds;
      return JSON.stringify(copy);
    };
    workflow.isModified = workflow.originalContent !== null && comparable(workflow.originalContent) !== comparable(state);
    this.#rememberOpenWorkflows();
    notifyChange();
  }

  onViewChanged() {
    const workflow = useWorkflowStore().activeWorkflow;
    if (workflow) workflow.activeState = this.graph.serialize();
  }

  #storeActiveState() {
    const workflow = useWorkflowStore().activeWorkflow;
    if (workflow && this.graph) workflow.activeState = this.graph.serialize();
  }

  async switchWorkflow(workflow) {
    const workflowStore = useWorkflowStore();
    if (workflow === workflowStore.activeWorkflow) return;
    this.#storeActiveState();
    if (!workflow.activeState && workflow.isPersisted) workflow.activeState = await this.fetchWorkflowContent(workflow);
    await this.loadGraphData(workflow.activeState ?? blankGraphData(), true, true, workflow);
  }

  async openWorkflowFromStore(workflow) {
    if (useWorkflowStore().openWorkflows.includes(workflow)) return this.switchWorkflow(workflow);
    if (!workflow.activeState && workflow.isPersisted) {
      workflow.activeState = await this.fetchWorkflowContent(workflow);
      workflow.originalContent = JSON.stringify(workflow.activeState);
    }
    await this.loadGraphData(workflow.activeState ?? blankGraphData(), true, true, workflow);
  }

  async fetchWorkflowContent(workflow) {
    const response = await api.getUserData(workflow.path);
    if (!response.ok) throw new Error(`Error loading workflow '${workflow.path}': ${response.status} ${response.statusText}`);
    return response.json();
  }

  async closeWorkflow(workflow) {
    const workflowStore = useWorkflowStore();
    if (workflow.isModified && workflow.isPersisted) {
      const answer = await this.extensionManager.dialog.confirm({ title: "Save Changes?", message: `Do you want to save changes to "${workflow.path}" before closing?`, type: "dirtyClose" });
      if (answer === null) return;
      if (answer) await this.saveWorkflow(workflow);
    }
    const wasActive = workflow === workflowStore.activeWorkflow;
    workflowStore.closeWorkflow(workflow);
    if (workflowStore.openWorkflows.length === 0) {
      await this.loadGraphData(blankGraphData(), true, true, null);
    } else if (wasActive && workflowStore.activeWorkflow) {
      const next = workflowStore.activeWorkflow;
      if (!next.activeState && next.isPersisted) next.activeState = await this.fetchWorkflowContent(next);
      await this.loadGraphData(next.activeState ?? blankGraphData(), true, true, next);
    }
    this.#rememberOpenWorkflows();
  }

  /**
   * Comfy.SaveWorkflow: a temporary workflow asks for a name ("Save workflow") and is posted
   * with `overwrite=false`; a persisted one is re-posted with `overwrite=true`, silently.
   */
  async saveWorkflow(workflow = useWorkflowStore().activeWorkflow) {
    if (!workflow) return;
    if (workflow.isTemporary) return this.saveWorkflowAs(workflow);
    const content = workflow === useWorkflowStore().activeWorkflow ? this.graph.serialize() : workflow.activeState;
    await useWorkflowStore().saveWorkflow(workflow, content);
    this.#rememberOpenWorkflows();
  }

  /** Comfy.SaveWorkflowAs: prompt prefilled with the name, `overwrite=false` (true after a confirmed overwrite). */
  async saveWorkflowAs(workflow = useWorkflowStore().activeWorkflow) {
    if (!workflow) return;
    const workflowStore = useWorkflowStore();
    const name = await this.extensionManager.dialog.prompt({ title: "Save workflow", message: "Enter the filename:", defaultValue: workflow.filename });
    if (name === null || name === undefined || name.trim() === "") return;
    const newPath = `workflows/${appendJson(name.trim())}`;
    const content = workflow === workflowStore.activeWorkflow ? this.graph.serialize() : workflow.activeState;
    const existing = workflowStore.getWorkflowByPath(newPath);
    let overwrite = false;
    if (existing && existing.isPersisted) {
      const confirmed = await this.extensionManager.dialog.confirm({ title: "Overwrite existing file?", message: newPath, type: "overwrite" });
      if (confirmed !== true) return;
      overwrite = true;
    }
    if (workflow.isTemporary) {
      if (existing && existing !== workflow) {
        workflowStore.closeWorkflow(existing);
        workflowStore.workflows.splice(workflowStore.workflows.indexOf(existing), 1);
      }
      const oldPath = workflow.path;
      workflow.path = newPath;
      try {
        await workflowStore.saveWorkflow(workflow, content, overwrite);
      } catch (error) {
        workflow.path = oldPath;
        notifyChange();
        throw error;
      }
    } else {
      const saved = await workflowStore.saveAs(workflow, newPath, content, { overwrite });
      this.#storeActiveState();
      workflowStore.openWorkflow(saved);
      saved.activeState = content;
    }
    this.#rememberOpenWorkflows();
    notifyChange();
  }

  /** What a reload restores (keys recorded in localStorage/sessionStorage). */
  #rememberOpenWorkflows() {
    const workflowStore = useWorkflowStore();
    const active = workflowStore.activeWorkflow;
    if (!active) return;
    const clientKey = (key) => (api.clientId ? `${key}:${api.clientId}` : null);
    const set = (key, value) => {
      try {
        localStorage.setItem(key, value);
        const session = clientKey(key);
        if (session) sessionStorage.setItem(session, value);
      } catch {
        // storage full or disabled: nothing to restore then
      }
    };
    set("workflow", JSON.stringify(this.graph.serialize()));
    set("Comfy.PreviousWorkflow", active.key);
    set("Comfy.OpenWorkflowsPaths", JSON.stringify(workflowStore.openWorkflows.filter((w) => w.isPersisted).map((w) => w.path)));
    set("Comfy.ActiveWorkflowIndex", String(workflowStore.openWorkflows.indexOf(active)));
  }

  /** At boot: the last active persisted workflow (re-fetched), else the last graph, else the default. */
  async restoreWorkflow() {
    const workflowStore = useWorkflowStore();
    const previous = sessionStorage.getItem(`Comfy.PreviousWorkflow:${api.clientId}`) ?? localStorage.getItem("Comfy.PreviousWorkflow");
    const persisted = previous ? workflowStore.getWorkflowByPath(`workflows/${previous}`) : null;
    if (persisted && persisted.isPersisted) {
      try {
        const content = await this.fetchWorkflowContent(persisted);
        persisted.originalContent = JSON.stringify(content);
        return await this.loadGraphData(content, true, true, persisted);
      } catch (error) {
        console.error(error);
      }
    }
    const saved = sessionStorage.getItem(`workflow:${api.clientId}`) ?? localStorage.getItem("workflow");
    if (saved) {
      try {
        return await this.loadGraphData(JSON.parse(saved), true, true, null);
      } catch (error) {
        console.error(error);
      }
    }
    await this.loadGraphData(defaultGraphData(), true, true, null);
  }

  /** Websocket events the page reacts to (outputs, running node, errors). */
  listenToExecution(queueStore) {
    const executionStore = useExecutionStore();
    api.addEventListener("status", (event) => {
      if (event.detail === null) return;
      void queueStore.update().catch((error) => console.error(error));
      const remaining = event.detail?.exec_info?.queue_remaining ?? 0;
      const size = document.querySelector(".comfy-menu-queue-size");
      if (size) size.textContent = `Queue size: ${remaining}`;
    });
    api.addEventListener("execution_start", (event) => {
      executionStore.activePromptId = event.detail?.prompt_id ?? null;
    });
    api.addEventListener("executing", (event) => {
      const node = event.detail?.node ?? event.detail?.display_node ?? null;
      this.runningNodeId = node;
      executionStore.executingNodeId = node;
      if (node === null) executionStore.activePromptId = null;
      this.canvasView?.sync();
    });
    api.addEventListener("executed", (event) => {
      const { node, display_node, output } = event.detail ?? {};
      const id = display_node ?? node;
      if (id === undefined) return;
      this._nodeOutputs[id] = output;
      this.canvasView?.updateNodeOutputs(id);
      for (const extension of useExtensionStore().enabledExtensions) {
        try {
          extension.onNodeOutputsUpdated?.(this._nodeOutputs);
        } catch (error) {
          console.error(error);
        }
      }
    });
    api.addEventListener("execution_error", (event) => {
      this.lastExecutionError = event.detail;
      executionStore.lastExecutionError = event.detail;
      executionStore.activePromptId = null;
      this.extensionManager.dialog.showExecutionErrorDialog(event.detail);
    });
    api.addEventListener("execution_success", () => {
      executionStore.activePromptId = null;
    });
  }
}

for (const key of Object.keys(STATE_DEFAULTS())) {
  Object.defineProperty(ComfyApp.prototype, key, {
    get() {
      return appState.get(this)[key];
    },
    set(value) {
      appState.get(this)[key] = value;
    },
    configurable: true,
  });
}

function appendJson(name) {
  return /\.json$/i.test(name) ? name : `${name}.json`;
}

