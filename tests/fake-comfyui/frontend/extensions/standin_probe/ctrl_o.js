// Test extension (not listed by /api/extensions; tests add its URL to the list): declares a
// keybinding on Ctrl+O, which core already binds, so registerExtension throws as in 1.27.10.
import { app } from "../../scripts/app.js";

app.registerExtension({
  name: "StandinProbe.CtrlO",
  commands: [{ id: "StandinProbe.CtrlO.Open", label: "Probe: Ctrl+O", function: () => (window.__probeCtrlO = (window.__probeCtrlO ?? 0) + 1) }],
  keybindings: [{ combo: { key: "o", ctrl: true }, commandId: "StandinProbe.CtrlO.Open" }],
  menuCommands: [{ path: ["Probe"], commands: ["StandinProbe.CtrlO.Open"] }],
  sidebarTabs: [{ id: "probe-declared", icon: "pi pi-star", title: "Probe", tooltip: "Probe", type: "custom", render: (el) => (el.textContent = "declared") }],
});
