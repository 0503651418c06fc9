// The legacy module namespaces old extensions import through /scripts/ui.js and /scripts/utils.js
// (`$el`, `ComfyDialog`, `app.ui`, small utilities), kept minimal.
import { useQueueSettingsStore, useSettingStore } from "./stores.js";

/** `$el("div.cls#id", {props, parent, $: cb, style, dataset}, children)`. */
export function $el(tag, propsOrChildren, children) {
  const [name, ...classes] = tag.split(".");
  const [tagName, id] = name.split("#");
  const element = document.createElement(tagName || "div");
  if (id) element.id = id;
  if (classes.length) element.classList.add(...classes.map((c) => c.split("#")[0]));
  if (propsOrChildren) {
    if (typeof propsOrChildren === "string") propsOrChildren = { textContent: propsOrChildren };
    else if (propsOrChildren instanceof Element) propsOrChildren = [propsOrChildren];
    if (Array.isArray(propsOrChildren)) {
      element.append(...propsOrChildren);
    } else {
      const { parent, $: callback, dataset, style, ...rest } = propsOrChildren;
      if (rest.for) element.setAttribute("for", rest.for);
      delete rest.for;
      if (style) Object.assign(element.style, style);
      if (dataset) Object.assign(element.dataset, dataset);
      Object.assign(element, rest);
      if (children) element.append(...(Array.isArray(children) ? children : [children]));
      parent?.append(element);
      callback?.(element);
    }
  }
  return element;
}

export class ComfyDialog extends EventTarget {
  constructor(type = "div", buttons = null) {
    super();
    this.buttons = buttons;
    this.textElement = $el("p.comfy-modal-text");
    this.element = $el(`${type}.comfy-modal`, { parent: document.body }, [$el("div.comfy-modal-content", [this.textElement, ...this.createButtons()])]);
  }

  createButtons() {
    return this.buttons ?? [$el("button", { type: "button", textContent: "Close", onclick: () => this.close() })];
  }

  close() {
    this.element.style.display = "none";
  }

  show(html) {
    this.textElement.replaceChildren();
    if (typeof html === "string") this.textElement.innerHTML = html;
    else this.textElement.append(...(Array.isArray(html) ? html : [html]));
    this.element.style.display = "flex";
  }
}

/** `app.ui`: the legacy UI object, with the recorded own props. */
export class ComfyUI {
  constructor(app, menuContainer) {
    const settingStore = useSettingStore();
    this.app = app;
    this.dialog = new ComfyDialog();
    this.settings = {
      dispatchChange: () => {},
      get settingsValues() {
        return settingStore.settingValues;
      },
      get settingsLookup() {
        return settingStore.settingsById;
      },
      get settingsParamLookup() {
        return settingStore.settingsById;
      },
      getSettingValue: (id, defaultValue) => settingStore.get(id) ?? defaultValue,
      getSettingDefaultValue: (id) => settingStore.getDefaultValue(id),
      setSettingValueAsync: (id, value) => settingStore.set(id, value),
      setSettingValue: (id, value) => void settingStore.set(id, value).catch((error) => console.error(error)),
      addSetting: (setting) => {
        settingStore.addSetting(setting);
        return { get value() { return settingStore.get(setting.id); }, set value(v) { void settingStore.set(setting.id, v); } };
      },
    };
    Object.defineProperty(this, "batchCount", { get: () => useQueueSettingsStore().batchCount, set: (v) => (useQueueSettingsStore().batchCount = v), enumerable: true });
    this.lastQueueSize = 0;
    this.queue = { element: document.createElement("div"), update: () => {}, show: () => {}, hide: () => {} };
    this.history = { element: document.createElement("div"), update: () => {}, show: () => {}, hide: () => {} };
    this.autoQueueMode = null;
    this.graphHasChanged = false;
    this.autoQueueEnabled = false;
    this.menuContainer = menuContainer;
    this.queueSize = menuContainer.querySelector(".comfy-menu-queue-size");
    this.restoreMenuPosition = () => {};
    this.loadFile = () => document.getElementById("comfy-file-input")?.click();
  }
}

export function clone(obj) {
  return structuredClone(obj);
}

export function applyTextReplacements(_app, value) {
  return String(value).replace(/%date:[^%]+%/g, () => new Date().toISOString().slice(0, 10));
}

export function addStylesheet(urlOrFile, relativeTo) {
  return new Promise((resolve, reject) => {
    let url = urlOrFile.endsWith(".js") ? urlOrFile.slice(0, -2) + "css" : urlOrFile;
    if (relativeTo) url = new URL(url, relativeTo).toString();
    const link = Object.assign(document.createElement("link"), { rel: "stylesheet", type: "text/css", href: url, onload: resolve, onerror: reject });
    document.head.append(link);
  });
}

export function downloadBlob(filename, blob) {
  const url = URL.createObjectURL(blob);
  const a = Object.assign(document.createElement("a"), { href: url, download: filename, style: "display:none" });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function uploadFile() {
  throw new Error("uploadFile is not part of the stand-in");
}

export function prop(target, name, defaultValue, onChanged) {
  let current = defaultValue;
  Object.defineProperty(target, name, {
    get: () => current,
    set: (value) => {
      const previous = current;
      current = value;
      onChanged?.(current, previous, target, name);
    },
    configurable: true,
  });
  return defaultValue;
}

export function getStorageValue(id) {
  const clientId = window.name;
  return (clientId ? sessionStorage.getItem(`${id}:${clientId}`) : null) ?? localStorage.getItem(id);
}

export function setStorageValue(id, value) {
  const clientId = window.name;
  if (clientId) sessionStorage.setItem(`${id}:${clientId}`, value);
  localStorage.setItem(id, value);
}

export function applyClasses(element, classList, ...requiredClasses) {
  element.className = [...requiredClasses, ...(Array.isArray(classList) ? classList : typeof classList === "string" ? classList.split(" ") : Object.entries(classList ?? {}).filter(([, on]) => on).map(([c]) => c))].join(" ");
}

export function toggleElement(element, { onHide, onShow } = {}) {
  let placeholder;
  let hidden = false;
  return (value) => {
    if (value && hidden) {
      placeholder.replaceWith(element);
      hidden = false;
      onShow?.(element, value);
    } else if (!value && !hidden) {
      placeholder ??= document.createComment("hidden");
      element.replaceWith(placeholder);
      hidden = true;
      onHide?.(element);
    }
  };
}
