/**
 * The admin app shell: a header, the list of sections (built-in ones from `sections/index.ts`,
 * then the tabs other extensions register through `window.mss_loginAdminTabs`), and the open
 * section. The same app runs on the standalone page /mss-login/admin and inside ComfyUI's page
 * (`embedded`), where it renders into a dialog: it never styles anything outside `.mss-ui`,
 * never navigates the page, and touches the URL hash only when standalone.
 */
import { api, loadMe, type Me } from "../lib/api.ts";
import { h, replace, uid } from "../lib/dom.ts";
import { confirmAction } from "../lib/ui.ts";
import { ADMIN_TABS_CHANGED, installAdminTabs, type AdminTab, type AdminTabContext } from "./extension-tabs.ts";
import { badge, errorBox, loadingBox, roleLabel } from "./parts.ts";
import type { AdminContext, AdminSection } from "./section.ts";
import { BUILT_IN_SECTIONS } from "./sections/index.ts";

export interface MountOptions {
  embedded: boolean;
  onClose?: () => void;
}

type Entry = { kind: "section"; id: string; label: string; section: AdminSection } | { kind: "tab"; id: string; label: string; tab: AdminTab };

/** One live app per container: mounting again (reload) ends the previous one's listeners. */
const mounted = new WeakMap<HTMLElement, AbortController>();
/** The section last open in an embedded panel, reopened when the panel is shown again. */
const lastOpened = new WeakMap<HTMLElement, string>();

function hashId(): string {
  return decodeURIComponent(location.hash.replace(/^#/, ""));
}

export async function mountAdmin(container: HTMLElement, options: MountOptions): Promise<void> {
  mounted.get(container)?.abort();
  const lifetime = new AbortController();
  mounted.set(container, lifetime);
  const { embedded } = options;
  const root = h("div", { class: `mss-ui mss-admin${embedded ? " mss-admin-in-dialog" : " mss-admin-page"}` });
  replace(container, root);

  const closeButton = (): HTMLElement | null =>
    embedded && options.onClose ? h("button", { type: "button", class: "mss-btn", "data-mss-close": "true", onclick: () => close() }, "Close") : null;
  const close = async () => {
    if (!(await confirmLeave())) return;
    lifetime.abort();
    options.onClose?.();
  };

  /** Before the shell exists: loading, failure and refusal are shown in a plain frame. */
  const frame = (...children: (HTMLElement | null)[]) =>
    replace(root, h(embedded ? "div" : "main", { class: "mss-page-main" }, h("div", { class: "mss-admin-frame-head" }, h("h1", {}, "MSS-Login admin"), closeButton()), ...children));

  frame(loadingBox("Loading the admin panel…"));
  let me: Me;
  try {
    me = await loadMe();
  } catch (error) {
    if (lifetime.signal.aborted) return;
    frame(errorBox("The admin panel could not load", error, () => void mountAdmin(container, options)));
    return;
  }
  if (lifetime.signal.aborted) return;
  if (typeof me.username !== "string" || me.username === "") {
    frame(
      h(
        "div",
        { class: "mss-card", role: "alert" },
        h("h2", {}, "Sign in first"),
        h("p", {}, "Your session has ended."),
        embedded ? null : h("p", {}, h("a", { href: "/login?next=%2Fmss-login%2Fadmin" }, "Go to the sign-in page")),
      ),
    );
    return;
  }
  if (me.is_admin !== true) {
    frame(
      h(
        "div",
        { class: "mss-card", role: "alert" },
        h("h2", {}, "Administrators only"),
        h("p", {}, "Your account (", roleLabel(me.role), ") cannot manage the gateway. Your own password, second factor, tokens and sessions are on your account page."),
        h("p", {}, h("a", embedded ? { href: "/mss-login/me", target: "_blank", rel: "noopener" } : { href: "/mss-login/me" }, embedded ? "My account (opens a new tab)" : "My account")),
      ),
    );
    return;
  }

  // ----- the shell -----
  const tabs = installAdminTabs();
  let entries: Entry[] = [];
  let current: Entry | null = null;
  let unsaved: string | null = null;
  let renderSeq = 0;

  const baseContext = { me, embedded };
  const navList = h("ul", { class: "mss-admin-nav-list" });
  const extensionHeadingId = uid("mss-admin-ext");
  const extensionList = h("ul", { class: "mss-admin-nav-list", "aria-labelledby": extensionHeadingId });
  const extensionGroup = h("div", { class: "mss-admin-nav-group", hidden: true }, h("p", { class: "mss-admin-nav-heading", id: extensionHeadingId }, "From extensions"), extensionList);
  const nav = h("nav", { class: "mss-admin-nav", "aria-label": "Admin sections" }, navList, extensionGroup);
  const content = h(embedded ? "div" : "main", { class: "mss-admin-content" });

  const header = h(
    embedded ? "div" : "header",
    { class: "mss-page-header mss-admin-header" },
    h("h1", { class: "mss-admin-title" }, "MSS-Login admin"),
    h(
      "div",
      { class: "mss-admin-header-side" },
      h("p", { class: "mss-admin-user" }, h("span", { class: "mss-muted" }, "Signed in as "), h("strong", {}, me.username), " ", badge(roleLabel(me.role), me.role === "owner" ? "info" : undefined)),
      h(
        "div",
        { class: "mss-admin-links" },
        embedded ? h("a", { class: "mss-btn", href: "/mss-login/me", target: "_blank", rel: "noopener" }, "My account", h("span", { class: "mss-visually-hidden" }, " (opens a new tab)")) : h("a", { class: "mss-btn", href: "/mss-login/me" }, "My account"),
        embedded ? null : h("a", { class: "mss-btn", href: "/" }, "Back to ComfyUI"),
        closeButton(),
      ),
    ),
  );
  replace(root, header, h("div", { class: "mss-admin-layout" }, nav, content));

  function listEntries(): Entry[] {
    const sections = BUILT_IN_SECTIONS.filter((section) => section.visible?.({ ...baseContext, setUnsaved: () => {}, reload: async () => {} }) ?? true)
      .slice()
      .sort((a, b) => a.order - b.order)
      .map((section): Entry => ({ kind: "section", id: section.id, label: section.label, section }));
    const taken = new Set(sections.map((entry) => entry.id));
    const extension = tabs
      .getAll()
      .filter((tab) => !taken.has(tab.id))
      .map((tab): Entry => ({ kind: "tab", id: tab.id, label: String(tab.label), tab }));
    return [...sections, ...extension];
  }

  function navButton(entry: Entry): HTMLLIElement {
    return h(
      "li",
      {},
      h(
        "button",
        { type: "button", class: "mss-admin-nav-item", "data-entry": entry.id, "aria-current": current?.id === entry.id ? "page" : null, onclick: () => void go(entry.id, true) },
        entry.label,
      ),
    );
  }

  function renderNav(): void {
    replace(navList, entries.filter((entry) => entry.kind === "section").map(navButton));
    const extension = entries.filter((entry) => entry.kind === "tab");
    replace(extensionList, extension.map(navButton));
    extensionGroup.hidden = extension.length === 0;
  }

  function markCurrent(): void {
    for (const button of nav.querySelectorAll<HTMLButtonElement>("button[data-entry]")) {
      if (button.dataset.entry === current?.id) {
        button.setAttribute("aria-current", "page");
        if (typeof button.scrollIntoView === "function") button.scrollIntoView({ block: "nearest", inline: "nearest" });
      } else button.removeAttribute("aria-current");
    }
  }

  async function confirmLeave(): Promise<boolean> {
    if (unsaved === null) return true;
    const leave = await confirmAction("Leave without saving?", `This section has ${unsaved}. They will be lost.`, "Leave without saving", true);
    if (leave) unsaved = null;
    return leave;
  }

  async function go(id: string, focusHeading: boolean): Promise<void> {
    if (current?.id === id) return;
    if (!(await confirmLeave())) {
      if (!embedded && current) history.replaceState(null, "", `#${encodeURIComponent(current.id)}`);
      return;
    }
    open(id, focusHeading);
  }

  function open(id: string, focusHeading: boolean): void {
    const entry = entries.find((candidate) => candidate.id === id) ?? entries[0];
    if (entry === undefined) {
      replace(content, h("p", { class: "mss-muted" }, "No sections are available to your role."));
      return;
    }
    current = entry;
    unsaved = null;
    renderSeq += 1;
    const seq = renderSeq;
    if (embedded) lastOpened.set(container, entry.id);
    else if (hashId() !== entry.id) history.replaceState(null, "", `#${encodeURIComponent(entry.id)}`);
    markCurrent();

    const headingId = uid("mss-admin-heading");
    const heading = h("h2", { id: headingId, tabindex: "-1" }, entry.label);
    const body = h("div", { class: "mss-admin-section-body" }, loadingBox());
    replace(content, h("section", { class: "mss-admin-section", "aria-labelledby": headingId, "data-section": entry.id }, heading, body));
    if (focusHeading) heading.focus();

    const isCurrent = () => seq === renderSeq && !lifetime.signal.aborted;
    if (entry.kind === "section") {
      const context: AdminContext = {
        ...baseContext,
        setUnsaved: (message) => {
          if (isCurrent()) unsaved = message;
        },
        reload: () => mountAdmin(container, options),
      };
      void (async () => {
        try {
          await entry.section.render(body, context);
        } catch (error) {
          console.error(`[mss-login] admin section ${entry.id} failed`, error);
          if (isCurrent()) replace(body, errorBox(`Could not show ${entry.label}`, error, () => open(entry.id, false)));
        }
      })();
    } else {
      void renderTab(entry.tab, body, isCurrent);
    }
  }

  /** An extension's tab: a fresh container and fresh context every time it is shown. */
  async function renderTab(tab: AdminTab, body: HTMLElement, isCurrent: () => boolean): Promise<void> {
    const waiting = loadingBox(`Loading ${tab.label}…`);
    const host = h("div", { class: "mss-admin-extension-tab", "data-extension-tab": tab.id });
    replace(body, waiting, host);
    try {
      const [usersList, groupsConfig, currentUser] = await Promise.all([api("GET", "/mss-login/api/users"), api("GET", "/mss-login/api/groups"), api("GET", "/mss-login/api/me")]);
      if (!isCurrent()) return;
      const context: AdminTabContext = { usersList, groupsConfig, currentUser };
      await tab.render(host, context);
      waiting.remove();
    } catch (error) {
      console.error(`[mss-login] admin tab ${tab.id} failed`, error);
      if (!isCurrent()) return;
      waiting.remove();
      replace(host, errorBox("Error loading tab", error));
    }
  }

  entries = listEntries();
  renderNav();

  window.addEventListener(
    ADMIN_TABS_CHANGED,
    () => {
      entries = listEntries();
      renderNav();
      markCurrent();
      if (current && !entries.some((entry) => entry.id === current?.id)) {
        current = null;
        open(entries[0]?.id ?? "", false);
      }
    },
    { signal: lifetime.signal },
  );

  if (!embedded) {
    window.addEventListener(
      "hashchange",
      () => {
        const id = hashId();
        if (id !== "" && id !== current?.id && entries.some((entry) => entry.id === id)) void go(id, true);
      },
      { signal: lifetime.signal },
    );
    window.addEventListener(
      "beforeunload",
      (event) => {
        if (unsaved === null) return;
        event.preventDefault();
        event.returnValue = "";
      },
      { signal: lifetime.signal },
    );
  }

  const first = embedded ? lastOpened.get(container) : hashId();
  open(first && entries.some((entry) => entry.id === first) ? first : (entries[0]?.id ?? ""), false);
}
