// Test extension (not listed by /api/extensions; tests add its URL to the list): uses every
// declarative field and hook, and records what happened in window.__probe.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

const probe = (window.__probe = { hooks: [], sameApi: api === app.api });
const hook = (name) => () => probe.hooks.push(name);
probe.hooks.push("module evaluated");

app.registerExtension({
  name: "StandinProbe.Full",
  commands: [{ id: "StandinProbe.Hello", label: "Probe: hello", icon: "pi pi-star", function: () => (probe.hello = (probe.hello ?? 0) + 1) }],
  keybindings: [{ combo: { key: "h", ctrl: true, alt: true }, commandId: "StandinProbe.Hello" }],
  menuCommands: [{ path: ["Probe"], commands: ["StandinProbe.Hello"] }],
  settings: [{ id: "StandinProbe.Flag", name: "Probe flag", type: "boolean", defaultValue: false, category: ["Probe", "Flags", "Flag"] }],
  aboutPageBadges: [{ label: "Probe badge", url: "https://example.invalid/probe", icon: "pi pi-star" }],
  sidebarTabs: [{ id: "probe-declared", icon: "pi pi-star", title: "Declared", tooltip: "Declared", type: "custom", render: (el) => (el.textContent = "declared") }],
  getCustomWidgets: () => {
    probe.hooks.push("getCustomWidgets");
    return {};
  },
  init: hook("init"),
  addCustomNodeDefs: hook("addCustomNodeDefs"),
  beforeRegisterNodeDef: (nodeType, nodeData) => {
    if (!probe.hooks.includes("beforeRegisterNodeDef")) probe.hooks.push("beforeRegisterNodeDef");
    probe.nodeTypes = [...(probe.nodeTypes ?? []), nodeData.name];
  },
  registerCustomNodes: hook("registerCustomNodes"),
  beforeRegisterVueAppNodeDefs: hook("beforeRegisterVueAppNodeDefs"),
  setup: () => {
    probe.hooks.push("setup");
    app.extensionManager.registerSidebarTab({
      id: "probe-runtime",
      icon: "pi pi-star",
      title: "Probe",
      tooltip: "Probe tab",
      label: "Probe",
      type: "custom",
      render: (el) => {
        el.textContent = "probe runtime tab content";
      },
    });
  },
  beforeConfigureGraph: hook("beforeConfigureGraph"),
  nodeCreated: () => {
    if (!probe.hooks.includes("nodeCreated")) probe.hooks.push("nodeCreated");
  },
  loadedGraphNode: () => {
    if (!probe.hooks.includes("loadedGraphNode")) probe.hooks.push("loadedGraphNode");
  },
  afterConfigureGraph: hook("afterConfigureGraph"),
});
