// A custom node's front-end extension (served from its WEB_DIRECTORY), written like one for the
// real front end: it imports the app through the shim and registers one command.
import { app } from "../../scripts/app.js";

export const name = "demo_node.demo";

app.registerExtension({
  name,
  commands: [
    {
      id: "DemoNode.ShowInfo",
      label: "Demo node: show info",
      icon: "pi pi-info-circle",
      function: () => app.extensionManager.toast.add({ severity: "info", summary: "Demo node", detail: "The demo_node extension is loaded.", life: 3000 }),
    },
  ],
});
