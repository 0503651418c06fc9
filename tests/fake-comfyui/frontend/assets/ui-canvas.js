// The graph view: `canvas#graph-canvas` draws the grid and the links; the nodes are HTML boxes
// laid over it (title, slots, editable widgets, output images), moved with the canvas offset and
// scale in `graph.extra.ds`. Drag a title to move a node, drag the background to pan, wheel to zoom.
import { clear, h } from "./dom.js";

export class CanvasView {
  constructor(app, container) {
    this.app = app;
    this.container = container;
    this.canvas = h("canvas#graph-canvas", { tabindex: "1" });
    this.layer = h("div.standin-graph-layer");
    this.nodeElements = new Map();
    this.showLinks = true;
    container.append(this.canvas, this.layer);
    this.ctx = this.canvas.getContext("2d");
    this.ds = { scale: 1, offset: [0, 0] };
    new ResizeObserver(() => this.resize()).observe(container);
    this.#installPanZoom();
  }

  get graph() {
    return this.app.graph;
  }

  /** Re-reads the view transform from the graph and rebuilds every node box. */
  rebuild() {
    const ds = this.graph.extra?.ds;
    if (ds) this.ds = { scale: ds.scale ?? 1, offset: [...(ds.offset ?? [0, 0])] };
    clear(this.layer);
    this.nodeElements.clear();
    for (const node of this.graph.nodes) this.#addNodeElement(node);
    this.#applyTransform();
    this.draw();
  }

  /** Adds or removes node boxes to match the graph, keeping the others (and their focus). */
  sync() {
    const present = new Set(this.graph.nodes);
    for (const [node, element] of [...this.nodeElements]) {
      if (!present.has(node)) {
        element.remove();
        this.nodeElements.delete(node);
      }
    }
    for (const node of this.graph.nodes) if (!this.nodeElements.has(node)) this.#addNodeElement(node);
    for (const node of this.graph.nodes) this.#updateNodeState(node);
    this.draw();
  }

  resize() {
    const rect = this.container.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = Math.max(1, Math.floor(rect.width * ratio));
    this.canvas.height = Math.max(1, Math.floor(rect.height * ratio));
    this.canvas.style.width = `${rect.width}px`;
    this.canvas.style.height = `${rect.height}px`;
    this.draw();
  }

  setDirty() {
    this.draw();
  }

  draw() {
    const { ctx, canvas } = this;
    const ratio = window.devicePixelRatio || 1;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const width = canvas.width / ratio;
    const height = canvas.height / ratio;
    ctx.fillStyle = getComputedStyle(document.body).getPropertyValue("--comfy-canvas-bg").trim() || "#222";
    ctx.fillRect(0, 0, width, height);
    const { scale, offset } = this.ds;
    const step = 20 * scale;
    if (step >= 6) {
      ctx.strokeStyle = getComputedStyle(document.body).getPropertyValue("--comfy-grid").trim() || "#2b2b2b";
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let x = ((offset[0] * scale) % step) + 0.5; x < width; x += step) {
        ctx.moveTo(x, 0);
        ctx.lineTo(x, height);
      }
      for (let y = ((offset[1] * scale) % step) + 0.5; y < height; y += step) {
        ctx.moveTo(0, y);
        ctx.lineTo(width, y);
      }
      ctx.stroke();
    }
    if (!this.showLinks) return;
    const origin = this.container.getBoundingClientRect();
    for (const link of Object.values(this.graph?.links ?? {})) {
      const from = this.layer.querySelector(`[data-node-id="${link.origin_id}"] .standin-slot-out[data-slot="${link.origin_slot}"] .standin-slot-dot`);
      const to = this.layer.querySelector(`[data-node-id="${link.target_id}"] .standin-slot-in[data-slot="${link.target_slot}"] .standin-slot-dot`);
      if (!from || !to) continue;
      const a = from.getBoundingClientRect();
      const b = to.getBoundingClientRect();
      const x1 = a.left + a.width / 2 - origin.left;
      const y1 = a.top + a.height / 2 - origin.top;
      const x2 = b.left + b.width / 2 - origin.left;
      const y2 = b.top + b.height / 2 - origin.top;
      const bend = Math.max(40, Math.abs(x2 - x1) / 2);
      ctx.strokeStyle = "#64b5f6";
      ctx.lineWidth = 3 * scale;
      ctx.beginPath();
      ctx.moveTo(x1, y1);
      ctx.bezierCurveTo(x1 + bend, y1, x2 - bend, y2, x2, y2);
      ctx.stroke();
      ctx.fillStyle = "#64b5f6";
      ctx.beginPath();
      ctx.arc((x1 + x2) / 2, (y1 + y2) / 2, 4 * scale, 0, Math.PI * 2);
      ctx.fill();
    }
  }

  zoom(factor, center) {
    const rect = this.container.getBoundingClientRect();
    const cx = center?.[0] ?? rect.width / 2;
    const cy = center?.[1] ?? rect.height / 2;
    const old = this.ds.scale;
    const scale = Math.min(4, Math.max(0.2, old * factor));
    this.ds.offset[0] += cx / scale - cx / old;
    this.ds.offset[1] += cy / scale - cy / old;
    this.ds.scale = scale;
    this.#applyTransform();
  }

  resetView() {
    this.ds = { scale: 1, offset: [0, 0] };
    this.#applyTransform();
  }

  fitView() {
    const nodes = this.graph.nodes;
    if (nodes.length === 0) return this.resetView();
    const rect = this.container.getBoundingClientRect();
    const minX = Math.min(...nodes.map((n) => n.pos[0]));
    const minY = Math.min(...nodes.map((n) => n.pos[1]));
    const maxX = Math.max(...nodes.map((n) => n.pos[0] + n.size[0]));
    const maxY = Math.max(...nodes.map((n) => n.pos[1] + n.size[1]));
    const scale = Math.min(2, Math.max(0.2, Math.min(rect.width / (maxX - minX + 80), rect.height / (maxY - minY + 80))));
    this.ds = { scale, offset: [rect.width / scale / 2 - (minX + maxX) / 2, rect.height / scale / 2 - (minY + maxY) / 2] };
    this.#applyTransform();
  }

  /** Client (page) position to graph coordinates, and back. */
  clientPosToCanvasPos([x, y]) {
    const rect = this.container.getBoundingClientRect();
    return [(x - rect.left) / this.ds.scale - this.ds.offset[0], (y - rect.top) / this.ds.scale - this.ds.offset[1]];
  }

  canvasPosToClientPos([x, y]) {
    const rect = this.container.getBoundingClientRect();
    return [(x + this.ds.offset[0]) * this.ds.scale + rect.left, (y + this.ds.offset[1]) * this.ds.scale + rect.top];
  }

  updateNodeOutputs(nodeId) {
    const node = this.graph.getNodeById(nodeId);
    if (node) this.#updateNodeState(node);
  }

  #applyTransform() {
    const { scale, offset } = this.ds;
    this.layer.style.transform = `scale(${scale}) translate(${offset[0]}px, ${offset[1]}px)`;
    if (this.graph?.extra) this.graph.extra.ds = { scale, offset: [...offset] };
    this.draw();
    this.app.onViewChanged?.();
  }

  #changed() {
    this.app.onGraphChanged?.();
  }

  #addNodeElement(node) {
    const title = h("div.standin-node-title", {}, h("span.standin-node-dot"), h("span.standin-node-title-text", { text: node.title }));
    const body = h("div.standin-node-body");
    node.outputs.forEach((output, slot) => body.append(h("div.standin-slot.standin-slot-out", { "data-slot": String(slot) }, h("span.standin-slot-label", { text: output.name }), h("span.standin-slot-dot"))));
    node.inputs.forEach((input, slot) => body.append(h("div.standin-slot.standin-slot-in", { "data-slot": String(slot) }, h("span.standin-slot-dot"), h("span.standin-slot-label", { text: input.name }))));
    for (const widget of node.widgets) body.append(this.#widgetElement(node, widget));
    const preview = h("div.standin-node-preview");
    body.append(preview);
    const element = h("div.standin-node", { "data-node-id": String(node.id), "data-node-type": node.type, style: { left: `${node.pos[0]}px`, top: `${node.pos[1]}px`, width: `${node.size[0]}px`, minHeight: `${node.size[1]}px` } }, title, body);
    title.addEventListener("pointerdown", (event) => this.#dragNode(event, node, element));
    this.layer.append(element);
    this.nodeElements.set(node, element);
    this.#updateNodeState(node);
  }

  #widgetElement(node, widget) {
    const label = h("span.standin-widget-label", { text: widget.name });
    let control;
    const commit = (value) => {
      widget.value = value;
      widget.callback?.(value);
      this.#changed();
    };
    if (widget.type === "combo") {
      control = h("select.standin-widget-input", { "aria-label": widget.name }, (widget.options.values ?? []).map((v) => h("option", { text: String(v), selected: v === widget.value })));
      control.addEventListener("change", () => commit(widget.options.values[control.selectedIndex]));
    } else if (widget.type === "toggle") {
      control = h("input.standin-widget-input", { type: "checkbox", checked: !!widget.value, "aria-label": widget.name });
      control.addEventListener("change", () => commit(control.checked));
    } else if (widget.type === "number" && widget.options.display === "color") {
      control = h("input.standin-widget-input", { type: "color", value: `#${Number(widget.value).toString(16).padStart(6, "0")}`, "aria-label": widget.name });
      control.addEventListener("input", () => commit(parseInt(control.value.slice(1), 16)));
    } else if (widget.type === "number") {
      control = h("input.standin-widget-input", { type: "number", value: String(widget.value), min: widget.options.min, max: widget.options.max, step: widget.options.step ?? (widget.valueType === "FLOAT" ? "any" : 1), "aria-label": widget.name });
      control.addEventListener("change", () => commit(widget.valueType === "INT" ? Math.round(Number(control.value)) : Number(control.value)));
    } else {
      control = widget.options.multiline ? h("textarea.standin-widget-input", { "aria-label": widget.name }, String(widget.value ?? "")) : h("input.standin-widget-input", { type: "text", value: String(widget.value ?? ""), "aria-label": widget.name });
      control.addEventListener("change", () => commit(control.value));
    }
    control.dataset.widget = widget.name;
    return h("label.standin-widget", { "data-widget": widget.name }, label, control);
  }

  #updateNodeState(node) {
    const element = this.nodeElements.get(node);
    if (!element) return;
    element.classList.toggle("standin-node-running", String(this.app.runningNodeId) === String(node.id));
    for (const widget of node.widgets) {
      const control = element.querySelector(`.standin-widget-input[data-widget="${CSS.escape(widget.name)}"]`);
      if (!control || control === document.activeElement) continue;
      if (control.type === "checkbox") control.checked = !!widget.value;
      else if (control.type === "color") control.value = `#${Number(widget.value).toString(16).padStart(6, "0")}`;
      else if (control.tagName === "SELECT") control.selectedIndex = Math.max(0, (widget.options.values ?? []).indexOf(widget.value));
      else if (control.value !== String(widget.value)) control.value = String(widget.value);
    }
    const preview = element.querySelector(".standin-node-preview");
    const images = this.app.nodeOutputs?.[node.id]?.images ?? [];
    const urls = images.map((image) => this.app.imageUrl(image));
    if (preview.dataset.urls !== urls.join("|")) {
      preview.dataset.urls = urls.join("|");
      clear(preview).append(...images.map((image, i) => h("figure.standin-output", {}, h("img.standin-output-image", { src: urls[i], alt: image.filename }), h("figcaption", { text: image.filename }))));
    }
  }

  #dragNode(event, node, element) {
    if (event.button !== 0) return;
    event.preventDefault();
    const start = [event.clientX, event.clientY];
    const origin = [...node.pos];
    const move = (e) => {
      node.pos = [origin[0] + (e.clientX - start[0]) / this.ds.scale, origin[1] + (e.clientY - start[1]) / this.ds.scale];
      element.style.left = `${node.pos[0]}px`;
      element.style.top = `${node.pos[1]}px`;
      this.draw();
    };
    const up = () => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
      if (node.pos[0] !== origin[0] || node.pos[1] !== origin[1]) this.#changed();
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  }

  #installPanZoom() {
    this.container.addEventListener("pointerdown", (event) => {
      if (event.target !== this.canvas && event.target !== this.layer) return;
      this.canvas.focus();
      if (event.button !== 0) return;
      const start = [event.clientX, event.clientY];
      const origin = [...this.ds.offset];
      const move = (e) => {
        this.ds.offset = [origin[0] + (e.clientX - start[0]) / this.ds.scale, origin[1] + (e.clientY - start[1]) / this.ds.scale];
        this.#applyTransform();
      };
      const up = () => {
        window.removeEventListener("pointermove", move);
        window.removeEventListener("pointerup", up);
      };
      window.addEventListener("pointermove", move);
      window.addEventListener("pointerup", up);
    });
    this.container.addEventListener(
      "wheel",
      (event) => {
        if (event.target instanceof Element && event.target.closest(".standin-widget")) return;
        event.preventDefault();
        const rect = this.container.getBoundingClientRect();
        this.zoom(event.deltaY < 0 ? 1.1 : 1 / 1.1, [event.clientX - rect.left, event.clientY - rect.top]);
      },
      { passive: false },
    );
  }
}
