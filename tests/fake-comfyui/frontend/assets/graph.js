// A small graph model in place of LiteGraph: nodes built from /object_info definitions, their
// widgets, links, the UI workflow JSON (version 0.4) and the API prompt. Drawn by ui-canvas.js.
import { notifyChange } from "./pinia-lite.js";

/** Input types drawn as widgets (LiteGraph widget kinds); the others are link slots. */
const WIDGET_KIND = { INT: "number", FLOAT: "number", STRING: "text", BOOLEAN: "toggle", COMBO: "combo" };
const WIDGET_TYPES = new Set(Object.keys(WIDGET_KIND));

function inputSpecType(spec) {
  const type = Array.isArray(spec) ? spec[0] : spec;
  return Array.isArray(type) ? "COMBO" : type;
}

function inputOptions(spec) {
  return (Array.isArray(spec) ? spec[1] : undefined) ?? {};
}

function defaultWidgetValue(type, spec) {
  const options = inputOptions(spec);
  if (options.default !== undefined) return options.default;
  if (type === "COMBO") return (Array.isArray(spec[0]) ? spec[0] : options.options ?? [])[0] ?? "";
  if (type === "INT" || type === "FLOAT") return options.min ?? 0;
  if (type === "BOOLEAN") return false;
  return "";
}

/** Inputs of a definition in the order the server gives (`input_order` when present). */
function orderedInputs(nodeDef) {
  const result = [];
  for (const section of ["required", "optional"]) {
    const inputs = nodeDef.input?.[section] ?? {};
    const order = nodeDef.input_order?.[section] ?? Object.keys(inputs);
    for (const name of order) if (name in inputs) result.push({ name, spec: inputs[name], optional: section === "optional" });
  }
  return result;
}

export class StandinNode {
  constructor(type, nodeDef) {
    this.id = -1;
    this.type = type;
    this.comfyClass = type;
    this.title = nodeDef?.display_name ?? type;
    this.pos = [0, 0];
    this.size = [300, 120];
    this.flags = {};
    this.order = 0;
    this.mode = 0;
    this.properties = { "Node name for S&R": type };
    this.inputs = [];
    this.outputs = [];
    this.widgets = [];
    this.imgs = null;
    this.nodeData = nodeDef ?? null;
    if (!nodeDef) return;
    for (const { name, spec } of orderedInputs(nodeDef)) {
      const type = inputSpecType(spec);
      if (WIDGET_TYPES.has(type)) {
        const options = inputOptions(spec);
        const values = type === "COMBO" ? (Array.isArray(spec[0]) ? spec[0] : options.options ?? []) : undefined;
        this.widgets.push({ name, type: WIDGET_KIND[type], valueType: type, value: defaultWidgetValue(type, spec), options: { ...options, values } });
        if (type === "INT" && (options.control_after_generate || name === "seed" || name === "noise_seed")) {
          this.widgets.push({ name: "control_after_generate", type: "combo", valueType: "COMBO", value: "randomize", options: { values: ["fixed", "increment", "decrement", "randomize"] }, linkedWidget: name });
        }
      } else {
        this.inputs.push({ name, type, link: null });
      }
    }
    (nodeDef.output ?? []).forEach((type, slot) => {
      const outputType = Array.isArray(type) ? "COMBO" : type;
      this.outputs.push({ name: nodeDef.output_name?.[slot] ?? outputType, type: outputType, links: [], slot_index: slot });
    });
    const rows = this.inputs.length + this.widgets.length + (this.outputs.length > 0 ? 1 : 0);
    this.size = [300, 40 + rows * 26 + (nodeDef.output_node ? 150 : 10)];
  }

  get widgets_values() {
    return this.widgets.map((w) => w.value);
  }

  set widgets_values(values) {
    (values ?? []).forEach((value, index) => {
      if (this.widgets[index]) this.widgets[index].value = value;
    });
  }

  serialize() {
    return {
      id: this.id,
      type: this.type,
      pos: [...this.pos],
      size: [...this.size],
      flags: { ...this.flags },
      order: this.order,
      mode: this.mode,
      inputs: this.inputs.map((input) => ({ name: input.name, type: input.type, link: input.link })),
      outputs: this.outputs.map((output) => ({ name: output.name, type: output.type, links: [...(output.links ?? [])], slot_index: output.slot_index })),
      title: this.title === (this.nodeData?.display_name ?? this.type) ? undefined : this.title,
      properties: { ...this.properties },
      widgets_values: this.widgets_values,
    };
  }
}

export class StandinGraph {
  constructor() {
    this.id = crypto.randomUUID();
    this.revision = 0;
    this._nodes = [];
    this.links = {};
    this.last_node_id = 0;
    this.last_link_id = 0;
    this.groups = [];
    this.config = {};
    this.extra = { ds: { scale: 1, offset: [0, 0] } };
    this.onNodeAdded = null;
  }

  get nodes() {
    return this._nodes;
  }

  getNodeById(id) {
    return this._nodes.find((node) => String(node.id) === String(id)) ?? null;
  }

  add(node) {
    if (node.id === -1 || node.id === undefined || this.getNodeById(node.id)) node.id = ++this.last_node_id;
    else this.last_node_id = Math.max(this.last_node_id, Number(node.id) || 0);
    node.graph = this;
    node.order = this._nodes.length;
    this._nodes.push(node);
    this.onNodeAdded?.(node);
    notifyChange();
    return node;
  }

  remove(node) {
    for (const [id, link] of Object.entries(this.links)) {
      if (link.origin_id === node.id || link.target_id === node.id) this.removeLink(Number(id));
    }
    this._nodes = this._nodes.filter((n) => n !== node);
    notifyChange();
  }

  connect(originNode, originSlot, targetNode, targetSlot) {
    const input = targetNode.inputs[targetSlot];
    const output = originNode.outputs[originSlot];
    if (!input || !output) return null;
    if (input.link !== null) this.removeLink(input.link);
    const id = ++this.last_link_id;
    this.links[id] = { id, origin_id: originNode.id, origin_slot: originSlot, target_id: targetNode.id, target_slot: targetSlot, type: output.type };
    input.link = id;
    output.links.push(id);
    notifyChange();
    return this.links[id];
  }

  removeLink(id) {
    const link = this.links[id];
    if (!link) return;
    const target = this.getNodeById(link.target_id);
    const origin = this.getNodeById(link.origin_id);
    if (target?.inputs[link.target_slot]) target.inputs[link.target_slot].link = null;
    if (origin?.outputs[link.origin_slot]) origin.outputs[link.origin_slot].links = origin.outputs[link.origin_slot].links.filter((l) => l !== id);
    delete this.links[id];
  }

  clear() {
    this._nodes = [];
    this.links = {};
    this.last_node_id = 0;
    this.last_link_id = 0;
    this.groups = [];
    notifyChange();
  }

  /** The UI workflow JSON (what is saved to `workflows/` and sent as `extra_pnginfo.workflow`). */
  serialize() {
    return {
      id: this.id,
      revision: this.revision,
      last_node_id: this.last_node_id,
      last_link_id: this.last_link_id,
      nodes: this._nodes.map((node) => node.serialize()),
      links: Object.values(this.links).map((l) => [l.id, l.origin_id, l.origin_slot, l.target_id, l.target_slot, l.type]),
      groups: structuredClone(this.groups),
      config: structuredClone(this.config),
      extra: { ...structuredClone(this.extra), frontendVersion: "1.27.10" },
      version: 0.4,
    };
  }
}

/** The stand-in's starting graph: EmptyImage → SaveImage, like the recording's probe graph. */
export function defaultGraphData() {
  return {
    id: crypto.randomUUID(),
    revision: 0,
    last_node_id: 2,
    last_link_id: 1,
    nodes: [
      { id: 1, type: "EmptyImage", pos: [120, 110], size: [300, 150], flags: {}, order: 0, mode: 0, inputs: [], outputs: [{ name: "IMAGE", type: "IMAGE", links: [1], slot_index: 0 }], properties: { "Node name for S&R": "EmptyImage" }, widgets_values: [64, 64, 1, 0x3f7fbf] },
      { id: 2, type: "SaveImage", pos: [500, 110], size: [300, 290], flags: {}, order: 1, mode: 0, inputs: [{ name: "images", type: "IMAGE", link: 1 }], outputs: [], properties: { "Node name for S&R": "SaveImage" }, widgets_values: ["ComfyUI"] },
    ],
    links: [[1, 1, 0, 2, 0, "IMAGE"]],
    groups: [],
    config: {},
    extra: { ds: { scale: 1, offset: [0, 0] }, frontendVersion: "1.27.10" },
    version: 0.4,
  };
}

export function blankGraphData() {
  return { id: crypto.randomUUID(), revision: 0, last_node_id: 0, last_link_id: 0, nodes: [], links: [], groups: [], config: {}, extra: { ds: { scale: 1, offset: [0, 0] }, frontendVersion: "1.27.10" }, version: 0.4 };
}

/** The API prompt for the graph: widget values and links, `_meta.title`, muted nodes left out. */
export function graphToApiPrompt(graph) {
  const output = {};
  for (const node of graph.nodes) {
    if (node.mode === 2 || node.mode === 4) continue;
    const inputs = {};
    for (const widget of node.widgets) {
      if (widget.name === "control_after_generate") continue;
      inputs[widget.name] = widget.value;
    }
    for (const input of node.inputs) {
      if (input.link === null) continue;
      const link = graph.links[input.link];
      if (link) inputs[input.name] = [String(link.origin_id), link.origin_slot];
    }
    output[String(node.id)] = { inputs, class_type: node.comfyClass, _meta: { title: node.title } };
  }
  return output;
}

/** What a seed's control widget does after a queue (real: "control after generate"). */
export function applyControlWidgets(graph) {
  for (const node of graph.nodes) {
    for (const control of node.widgets.filter((w) => w.linkedWidget)) {
      const target = node.widgets.find((w) => w.name === control.linkedWidget);
      if (!target) continue;
      const max = Math.min(target.options.max ?? Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      const min = target.options.min ?? 0;
      if (control.value === "randomize") target.value = Math.floor(min + Math.random() * Math.min(max - min, 2 ** 48));
      else if (control.value === "increment") target.value = Math.min(max, target.value + 1);
      else if (control.value === "decrement") target.value = Math.max(min, target.value - 1);
    }
  }
  notifyChange();
}
