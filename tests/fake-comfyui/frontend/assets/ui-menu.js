// The main menu: clicking `.comfyui-logo-wrapper` opens a PrimeVue-like TieredMenu built from the
// menuItem store each time it opens. The component itself adds Theme, Browse Templates, Settings
// and Manage Extensions (not in the store, so not removable through it), before Help.
import { clear, h, icon } from "./dom.js";
import { onStateChange } from "./pinia-lite.js";
import { useColorPaletteStore, useCommandStore, useMenuItemStore, useSettingStore } from "./stores.js";

let menuElement = null;
let openPath = [];

function fixedItems() {
  const commandStore = useCommandStore();
  const run = (id) => () => commandStore.execute(id);
  const palettes = useColorPaletteStore();
  return [
    { separator: true },
    {
      label: "Theme",
      icon: "pi pi-palette",
      items: palettes.palettes.map((palette) => ({
        label: palette.name,
        icon: palettes.activePaletteId === palette.id ? "pi pi-check" : undefined,
        command: () => useSettingStore().set("Comfy.ColorPalette", palette.id),
      })),
    },
    { separator: true },
    { label: "Browse Templates", icon: "icon-[comfy--template]", command: run("Comfy.BrowseTemplates") },
    { label: "Settings", icon: "mdi mdi-cog-outline", command: run("Comfy.ShowSettingsDialog") },
    { label: "Manage Extensions", icon: "mdi mdi-puzzle-outline", command: run("Comfy.OpenManagerDialog") },
  ];
}

/** Root items as rendered: the store's items with the component's fixed ones before "Help". */
export function renderedRootItems() {
  const storeItems = [...useMenuItemStore().menuItems];
  const helpIndex = storeItems.findIndex((item) => item.label === "Help" && Array.isArray(item.items));
  const help = helpIndex === -1 ? [] : storeItems.splice(helpIndex, 1);
  return [...storeItems, ...fixedItems(), ...help];
}

function keyHint(item) {
  const commandId = item.commandId ?? item.comfyCommand?.id;
  if (!commandId) return null;
  const keybinding = useCommandStore().getCommand(commandId)?.keybinding;
  return keybinding ? h("span.p-menubar-item-shortcut.keybinding-tag", { text: keybinding.combo.toString() }) : null;
}

function buildList(items, depth, pathPrefix) {
  const list = depth === 0 ? h("ul.p-tieredmenu-root-list", { role: "menubar", "aria-orientation": "vertical", tabindex: "0" }) : h("ul.p-tieredmenu-submenu", { role: "menu" });
  items.forEach((item, index) => {
    if (item.separator) {
      list.append(h("li.p-tieredmenu-separator", { role: "separator" }));
      return;
    }
    if (item.visible === false) return;
    const path = [...pathPrefix, item.label];
    const hasChildren = Array.isArray(item.items);
    const isOpen = hasChildren && openPath.length >= path.length && path.every((label, i) => openPath[i] === label);
    const link = h(
      "a.p-tieredmenu-item-link",
      { tabindex: "-1" },
      item.icon ? icon(`p-tieredmenu-item-icon ${item.icon}`) : h("span.p-tieredmenu-item-icon.no-icon"),
      h("span.p-tieredmenu-item-label.p-menubar-item-label", { text: item.label }),
      hasChildren ? icon("p-tieredmenu-submenu-icon pi pi-chevron-right") : keyHint(item),
    );
    const li = h(
      "li.p-tieredmenu-item",
      { role: "menuitem", "aria-label": item.label, "aria-haspopup": hasChildren ? "menu" : undefined, "aria-expanded": hasChildren ? String(isOpen) : undefined, "data-index": String(index), class: [isOpen ? "p-tieredmenu-item-active" : "", item.disabled ? "p-disabled" : ""].join(" ") },
      h("div.p-tieredmenu-item-content", {}, link),
    );
    li.firstChild.addEventListener("click", (event) => {
      event.stopPropagation();
      if (item.disabled) return;
      if (hasChildren) {
        if (!isOpen) {
          openPath = path;
          renderMenu();
        }
        return;
      }
      closeMenu();
      try {
        const result = item.command?.({ originalEvent: event, item });
        if (result instanceof Promise) result.catch((error) => console.error(error));
      } catch (error) {
        console.error(error);
      }
    });
    li.firstChild.addEventListener("mouseenter", () => {
      if (hasChildren && !isOpen) {
        openPath = path;
        renderMenu();
      } else if (!hasChildren && openPath.length > pathPrefix.length) {
        openPath = pathPrefix;
        renderMenu();
      }
    });
    if (hasChildren && isOpen) li.append(buildList(item.items, depth + 1, path));
    list.append(li);
  });
  return list;
}

function renderMenu() {
  if (!menuElement) return;
  clear(menuElement).append(buildList(renderedRootItems(), 0, []));
}

export function isMenuOpen() {
  return menuElement !== null;
}

export function openMenu(anchor) {
  closeMenu();
  openPath = [];
  menuElement = h("div.p-tieredmenu.p-component.p-tieredmenu-overlay.comfy-command-menu", { "data-pc-name": "tieredmenu" });
  const rect = anchor.getBoundingClientRect();
  menuElement.style.top = `${rect.bottom + 2}px`;
  menuElement.style.left = `${rect.left}px`;
  document.body.append(menuElement);
  renderMenu();
  anchor.setAttribute("aria-expanded", "true");
}

export function closeMenu() {
  if (!menuElement) return;
  menuElement.remove();
  menuElement = null;
  openPath = [];
  document.querySelector(".comfyui-logo-wrapper")?.setAttribute("aria-expanded", "false");
}

export function mountMenu(logoWrapper) {
  logoWrapper.addEventListener("click", (event) => {
    event.stopPropagation();
    if (isMenuOpen()) closeMenu();
    else openMenu(logoWrapper);
  });
  document.addEventListener("mousedown", (event) => {
    if (menuElement && !menuElement.contains(event.target) && !logoWrapper.contains(event.target)) closeMenu();
  });
  document.addEventListener("keydown", (event) => {
    if (menuElement && event.key === "Escape") closeMenu();
  });
  // The open menu follows store changes (the real one is reactive).
  onStateChange(() => {
    if (menuElement) renderMenu();
  });
}
