// An example ComfyUI custom-node extension that adds a tab to the MSS-Login admin panel.
// Ship it in a custom node whose __init__.py sets WEB_DIRECTORY = "./web"; ComfyUI then lists
// it in /api/extensions and the front end imports it.
import { app } from "../../scripts/app.js";

const TAB = {
  id: "example-roles-overview",
  label: "Roles overview",
  order: 60,
  // Called each time the tab is shown, with a fresh context.
  async render(container, { usersList, groupsConfig, currentUser }) {
    container.replaceChildren();
    const heading = document.createElement("h2");
    heading.textContent = "Roles overview";
    const intro = document.createElement("p");
    intro.textContent = `Signed in as ${currentUser.username} (${currentUser.role}).`;
    container.append(heading, intro);

    // Count the accounts of each role (the admin API answers { users: [...] }).
    const counts = new Map();
    for (const user of usersList.users ?? []) counts.set(user.role, (counts.get(user.role) ?? 0) + 1);

    const table = document.createElement("table");
    table.className = "mss-table";
    const head = table.createTHead().insertRow();
    for (const title of ["Role", "Accounts", "May run workflows"]) {
      const cell = document.createElement("th");
      cell.scope = "col";
      cell.textContent = title;
      head.append(cell);
    }
    const body = table.createTBody();
    for (const [role, permissions] of Object.entries(groupsConfig.groups ?? {})) {
      const row = body.insertRow();
      row.insertCell().textContent = role;
      row.insertCell().textContent = String(counts.get(role) ?? 0);
      row.insertCell().textContent = permissions.can_run ? "yes" : "no";
    }
    container.append(table);
  },
};

function registerTab() {
  const tabs = window.mss_loginAdminTabs;
  // Behind MSS-Login the registry exists before any extension runs; elsewhere, do nothing.
  if (!tabs || tabs.getAll().some((tab) => tab.id === TAB.id)) return;
  if (!tabs.register(TAB)) console.warn("[example] the admin tab was refused (see the warning above)");
}

registerTab();
app.registerExtension({ name: "example.mssLoginAdminTab", setup: registerTab });
