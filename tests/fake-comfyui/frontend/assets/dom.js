// DOM helpers and the stand-in's own icons (inline SVG: the page loads nothing external).

/** `h("button.p-button", {attrs}, ...children)`: tag with optional `.class` and `#id` parts. */
export function h(selector, props = {}, ...children) {
  const match = /^([a-z0-9-]+)?((?:[.#][\w-]+)*)$/i.exec(selector);
  const element = document.createElement(match?.[1] || "div");
  for (const part of (match?.[2] ?? "").match(/[.#][\w-]+/g) ?? []) {
    if (part[0] === ".") element.classList.add(part.slice(1));
    else element.id = part.slice(1);
  }
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") element.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === "style" && typeof value === "object") Object.assign(element.style, value);
    else if (key === "class") element.className += ` ${value}`;
    else if (key === "text") element.textContent = value;
    else if (key === "html") element.innerHTML = value;
    else if (key in element && typeof value !== "string") element[key] = value;
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

const SVG = (body, extra = "") => `<svg viewBox="0 0 24 24" width="1em" height="1em" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" ${extra}>${body}</svg>`;

const ICONS = {
  "pi-history": SVG('<path d="M3 12a9 9 0 1 0 3-6.7"/><path d="M3 4v5h5"/><path d="M12 7v5l3 2"/>'),
  "icon-[comfy--node]": SVG('<rect x="3" y="8" width="7" height="8" rx="2"/><rect x="14" y="8" width="7" height="8" rx="2"/><path d="M10 12h4"/>'),
  "icon-[comfy--ai-model]": SVG('<rect x="4" y="4" width="7" height="7" rx="1.5"/><rect x="13" y="13" width="7" height="7" rx="1.5"/><path d="M4 16h5v4M15 4h5v5"/><path d="M17.5 6.5l-.5.5"/>'),
  "icon-[comfy--workflow]": SVG('<circle cx="6" cy="6" r="2.5"/><circle cx="18" cy="12" r="2.5"/><circle cx="6" cy="18" r="2.5"/><path d="M8.5 6H12a3 3 0 0 1 3 3v.5M8.5 18H12a3 3 0 0 0 3-3v-.5"/>'),
  "icon-[comfy--template]": SVG('<rect x="3" y="4" width="18" height="6" rx="1.5"/><rect x="3" y="14" width="8" height="6" rx="1.5"/><path d="M14 15h7M14 19h7"/>'),
  "pi-sign-out": SVG('<path d="M14 4h4a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-4"/><path d="M10 16l-4-4 4-4M6 12h10"/>'),
  "pi-question-circle": SVG('<circle cx="12" cy="12" r="9"/><path d="M9.5 9.5a2.5 2.5 0 1 1 3.5 2.3c-.7.3-1 .9-1 1.7M12 17h.01"/>'),
  "pi-terminal": SVG('<path d="M5 7l5 5-5 5M12 17h7"/>'),
  "pi-keyboard": SVG('<rect x="2.5" y="6" width="19" height="12" rx="2"/><path d="M6 10h.01M9 10h.01M12 10h.01M15 10h.01M18 10h.01M7 14h10"/>'),
  "pi-play": SVG('<path d="M7 5l12 7-12 7z"/>'),
  "pi-chevron-down": SVG('<path d="M6 9l6 6 6-6"/>'),
  "pi-chevron-up": SVG('<path d="M6 15l6-6 6 6"/>'),
  "pi-chevron-right": SVG('<path d="M9 6l6 6-6 6"/>'),
  "pi-angle-down": SVG('<path d="M7 10l5 5 5-5"/>'),
  "pi-times": SVG('<path d="M6 6l12 12M18 6L6 18"/>'),
  "pi-stop": SVG('<rect x="6" y="6" width="12" height="12" rx="1"/>'),
  "pi-plus": SVG('<path d="M12 5v14M5 12h14"/>'),
  "pi-minus": SVG('<path d="M5 12h14"/>'),
  "pi-folder-open": SVG('<path d="M3 7a2 2 0 0 1 2-2h4l2 2h6a2 2 0 0 1 2 2v1H7l-4 8z"/><path d="M3 18l3-8h15l-3 8z"/>'),
  "pi-save": SVG('<path d="M5 4h11l3 3v13H5z"/><path d="M8 4v5h7V4M8 20v-6h8v6"/>'),
  "pi-download": SVG('<path d="M12 4v11M7 10l5 5 5-5M5 20h14"/>'),
  "pi-cog": SVG('<circle cx="12" cy="12" r="3"/><path d="M12 2v3M12 19v3M2 12h3M19 12h3M4.9 4.9l2.1 2.1M17 17l2.1 2.1M4.9 19.1L7 17M17 7l2.1-2.1"/>'),
  "mdi-cog-outline": SVG('<circle cx="12" cy="12" r="3"/><path d="M12 2v3M12 19v3M2 12h3M19 12h3M4.9 4.9l2.1 2.1M17 17l2.1 2.1M4.9 19.1L7 17M17 7l2.1-2.1"/>'),
  "mdi-puzzle-outline": SVG('<path d="M10 4a2 2 0 1 1 4 0v2h4v4h-2a2 2 0 1 0 0 4h2v4h-4v-2a2 2 0 1 0-4 0v2H6v-4h2a2 2 0 1 0 0-4H6V6h4z"/>'),
  "pi-palette": SVG('<path d="M12 3a9 9 0 1 0 0 18c1 0 1.5-.8 1.2-1.7-.4-1 .3-2.3 1.5-2.3H17a4 4 0 0 0 4-4c0-5-4-10-9-10z"/><circle cx="7.5" cy="11" r="1"/><circle cx="11" cy="7" r="1"/><circle cx="15.5" cy="8" r="1"/>'),
  "pi-user": SVG('<circle cx="12" cy="8" r="4"/><path d="M4 21a8 8 0 0 1 16 0"/>'),
  "pi-search": SVG('<circle cx="11" cy="11" r="7"/><path d="M20 20l-4-4"/>'),
  "pi-check": SVG('<path d="M5 12l5 5 9-10"/>'),
  "pi-image": SVG('<rect x="3" y="5" width="18" height="14" rx="2"/><circle cx="9" cy="10" r="1.5"/><path d="M21 16l-5-5-8 8"/>'),
  "pi-undo": SVG('<path d="M9 14L4 9l5-5"/><path d="M4 9h11a5 5 0 0 1 0 10h-3"/>'),
  "pi-refresh": SVG('<path d="M20 11a8 8 0 0 0-14.8-4M4 4v4h4M4 13a8 8 0 0 0 14.8 4M20 20v-4h-4"/>'),
  "pi-trash": SVG('<path d="M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13"/>'),
  "pi-info-circle": SVG('<circle cx="12" cy="12" r="9"/><path d="M12 11v6M12 7.5h.01"/>'),
  "pi-eye": SVG('<path d="M2 12s4-7 10-7 10 7 10 7-4 7-10 7S2 12 2 12z"/><circle cx="12" cy="12" r="3"/>'),
  "pi-list": SVG('<path d="M8 6h13M8 12h13M8 18h13M3 6h.01M3 12h.01M3 18h.01"/>'),
  "pi-expand": SVG('<path d="M4 9V4h5M20 9V4h-5M4 15v5h5M20 15v5h-5"/>'),
  "pi-map": SVG('<path d="M3 6l6-3 6 3 6-3v15l-6 3-6-3-6 3z"/><path d="M9 3v15M15 6v15"/>'),
  "pi-clipboard": SVG('<rect x="5" y="4" width="14" height="17" rx="2"/><path d="M9 4h6v3H9z"/>'),
  "pi-github": SVG('<path d="M9 19c-4 1.5-4-2-6-2.5M15 21v-3.5a3 3 0 0 0-.9-2.3c2.9-.3 6-1.4 6-6.5a5 5 0 0 0-1.4-3.5 4.7 4.7 0 0 0-.1-3.5s-1.1-.3-3.6 1.4a12.3 12.3 0 0 0-6.4 0C6.1 1.4 5 1.7 5 1.7a4.7 4.7 0 0 0-.1 3.5A5 5 0 0 0 3.5 8.7c0 5.1 3.1 6.2 6 6.5a3 3 0 0 0-.9 2.3V21"/>'),
  "pi-discord": SVG('<path d="M8 8a12 12 0 0 1 8 0M7 16.5a12 12 0 0 0 10 0M5 17l2-9a8 8 0 0 1 10 0l2 9-3 2-1-2M9 17l-1 2-3-2"/><circle cx="9.5" cy="13" r="1"/><circle cx="14.5" cy="13" r="1"/>'),
  "pi-comments": SVG('<path d="M4 5h12v8H8l-4 3z"/><path d="M16 9h4v8l-3-2h-6v-2"/>'),
  "pi-question": SVG('<path d="M9 9a3 3 0 1 1 4.5 2.6c-.9.5-1.5 1.2-1.5 2.4M12 18h.01"/>'),
  "pi-star": SVG('<path d="M12 3l2.7 5.6 6.3.9-4.5 4.4 1 6.1L12 17l-5.5 3 1-6.1L3 9.5l6.3-.9z"/>'),
  "pi-bars": SVG('<path d="M4 6h16M4 12h16M4 18h16"/>'),
  "pi-circle-fill": SVG('<circle cx="12" cy="12" r="5" fill="currentColor"/>'),
  "pi-moon": SVG('<path d="M20 14.5A8.5 8.5 0 0 1 9.5 4a8.5 8.5 0 1 0 10.5 10.5z"/>'),
};

const FALLBACK_ICON = SVG('<circle cx="12" cy="12" r="3"/>');

/** `<i class="<icon classes>">` holding a drawn glyph for the icon's last class. */
export function icon(classes) {
  const element = document.createElement("i");
  element.className = classes ?? "";
  const names = String(classes ?? "").split(/\s+/).filter(Boolean);
  const known = names.map((name) => name.replace(/^mdi-/, "mdi-")).reverse().find((name) => ICONS[name]);
  element.innerHTML = known ? ICONS[known] : FALLBACK_ICON;
  return element;
}

/** The ComfyUI logo, drawn (a rounded square with a "C"): no image file is loaded. */
export const LOGO_DATA_URL =
  "data:image/svg+xml," +
  encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#f0ff41"/><path d="M22.5 10.5a8 8 0 1 0 0 11" fill="none" stroke="#111" stroke-width="4.2" stroke-linecap="round"/></svg>');

export function clear(element) {
  while (element.firstChild) element.firstChild.remove();
  return element;
}
