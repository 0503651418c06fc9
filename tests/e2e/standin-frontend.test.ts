/**
 * The stand-in for ComfyUI's front end 1.27.10 (tests/fake-comfyui/frontend/), served by the fake
 * ComfyUI directly (no gateway) and driven in headless Chromium. Each check restates a recorded
 * fact of shared/fixtures/frontend-1.27.10/ (extension-api.json, startup-requests.json,
 * dom-landmarks.md), so a gateway test that passes against the stand-in exercises the same
 * globals, stores, quirks and HTTP requests as the real page.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { startFakeComfyUI, type FakeComfyUI, type RecordedRequest } from "../fake-comfyui/server.ts";
import { launchBrowser } from "../support/browser.ts";

const T = 30_000;

let fake: FakeComfyUI;
let browser: Browser;

beforeAll(async () => {
  fake = await startFakeComfyUI();
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await fake?.stop();
});

interface Opened {
  context: BrowserContext;
  page: Page;
  console: { type: string; text: string }[];
}

/** A fresh profile (empty storage) on the stand-in, once it reports that it booted. */
async function openStandin(options: { url?: string; beforeGoto?: (page: Page) => Promise<void>; viewport?: { width: number; height: number } } = {}): Promise<Opened> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1400, height: 900 } });
  const page = await context.newPage();
  const messages: { type: string; text: string }[] = [];
  page.on("console", (message) => messages.push({ type: message.type(), text: message.text() }));
  page.on("pageerror", (error) => messages.push({ type: "pageerror", text: error.message }));
  await options.beforeGoto?.(page);
  await page.goto(options.url ?? `${fake.url}/`);
  await waitReady(page);
  return { context, page, console: messages };
}

async function waitReady(page: Page): Promise<void> {
  await page.waitForFunction(() => (window as unknown as { __standinReady?: boolean; __standinBootError?: string }).__standinReady === true || (window as unknown as { __standinBootError?: string }).__standinBootError !== undefined, null, { timeout: 15_000 });
  const bootError = await page.evaluate(() => (window as unknown as { __standinBootError?: string }).__standinBootError);
  if (bootError) throw new Error(`stand-in failed to boot: ${bootError}`);
}

/** Lists `/api/extensions` with extra URLs, the way a gateway appends its own extension. */
async function withExtraExtensions(page: Page, urls: string[]): Promise<void> {
  await page.route(/\/api\/extensions$/, async (route) => {
    const response = await route.fetch();
    const list = (await response.json()) as string[];
    await route.fulfill({ response, json: [...list, ...urls] });
  });
}

function requestsSince(start: number, predicate: (r: RecordedRequest) => boolean = () => true): RecordedRequest[] {
  return fake.requests().slice(start).filter(predicate);
}

async function waitForRequest(start: number, predicate: (r: RecordedRequest) => boolean, what: string): Promise<RecordedRequest> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = requestsSince(start, predicate)[0];
    // The fake records a request as it arrives and its body once the handler has read it: on a
    // busy machine the two can be seen apart, so a request with a body is awaited until it is read.
    const bodyPending = found !== undefined && found.bodyBytes === null && found.method !== "GET" && found.method !== "HEAD";
    if (found && (!bodyPending || Date.now() > deadline)) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; saw ${requestsSince(start).map((r) => `${r.method} ${r.target}`).join(", ")}`);
    await Bun.sleep(20);
  }
}

const PROMPT_DIALOG = '.p-dialog.global-dialog[aria-labelledby="global-prompt"]';

describe("stand-in front end 1.27.10", () => {
  test(
    "boots with the recorded globals, store ids and shapes",
    async () => {
      const start = fake.requests().length;
      const { context, page } = await openStandin();
      const facts = await page.evaluate(() => {
        const w = window as any;
        const app = w.app;
        const stores = app.extensionManager._p._s as Map<string, any>;
        const keybinding = stores.get("keybinding");
        const command = stores.get("command");
        const menuItem = stores.get("menuItem");
        const first = keybinding.keybindings[0];
        return {
          version: w.__COMFYUI_FRONTEND_VERSION__,
          appIsShared: w.comfyAPI.app.app === app && w.comfyAPI.api.api === app.api && app instanceof w.comfyAPI.app.ComfyApp && app.api instanceof w.comfyAPI.api.ComfyApi,
          appMembers: ["registerExtension", "queuePrompt", "graphToPrompt", "loadGraphData"].map((name) => typeof app[name]),
          extensionsIsArray: Array.isArray(app.extensions),
          storageLocation: app.storageLocation,
          storeIds: ["workspace", "command", "keybinding", "menuItem", "sidebarTab", "setting", "dialog", "toast", "extension", "user"].filter((id) => stores.has(id)),
          workspaceIsExtensionManager: stores.get("workspace") === app.extensionManager,
          workspaceKeys: Object.keys(app.extensionManager),
          commandKeys: Object.keys(app.extensionManager.command),
          settingKeys: Object.keys(app.extensionManager.setting),
          commandCount: command.commands.length,
          commandStoreHasDelete: ["unregisterCommand", "removeCommand", "deleteCommand"].some((name) => name in command),
          keybindingMembers: ["getKeybinding", "getKeybindingByCommandId", "addUserKeybinding", "unsetKeybinding", "addDefaultKeybinding"].map((name) => typeof keybinding[name]),
          firstKeybinding: { combo: String(first.combo), commandId: first.commandId, isInstance: first instanceof first.constructor, targetElementId: first.targetElementId ?? null },
          saveCombo: String(keybinding.getKeybindingByCommandId("Comfy.SaveWorkflow").combo),
          comboByKey: keybinding.getKeybinding({ key: "o", ctrl: true })?.commandId,
          canvasOnly: keybinding.getKeybinding({ key: ".", ctrl: false, alt: false, shift: false })?.targetElementId,
          keybindingCount: keybinding.keybindings.length,
          menuLabels: menuItem.menuItems.map((item: any) => (item.separator ? "---" : item.label)),
          fileLabels: menuItem.menuItems.find((item: any) => item.label === "File").items.map((item: any) => (item.separator ? "---" : item.label)),
          sidebarTabs: app.extensionManager.getSidebarTabs().map((tab: any) => [tab.id, tab.title, tab.icon]),
          settingCount: Object.keys(stores.get("setting").settingsById).length,
          extensionNames: app.extensions.map((ext: any) => ext.name),
          clientId: app.api.clientId,
          storedClientId: sessionStorage.getItem("clientId"),
        };
      });
      expect(facts.version).toBe("1.27.10");
      expect(facts.appIsShared).toBe(true);
      expect(facts.appMembers).toEqual(["function", "function", "function", "function"]);
      expect(facts.extensionsIsArray).toBe(true);
      expect(facts.storageLocation).toBe("server");
      expect(facts.storeIds).toHaveLength(10);
      expect(facts.workspaceIsExtensionManager).toBe(true);
      expect(facts.workspaceKeys).toEqual(["_p", "$id", "$onAction", "$patch", "$reset", "$subscribe", "$dispose", "spinner", "shiftDown", "focusMode", "toggleFocusMode", "toast", "queueSettings", "command", "sidebarTab", "setting", "workflow", "colorPalette", "dialog", "bottomPanel", "user", "registerSidebarTab", "unregisterSidebarTab", "getSidebarTabs"]);
      expect(facts.commandKeys).toEqual(["commands", "execute"]);
      expect(facts.settingKeys).toEqual(["settings", "get", "set"]);
      expect(facts.commandCount).toBe(89 + 1); // the recorded 89 plus demo_node's command
      expect(facts.commandStoreHasDelete).toBe(false);
      expect(facts.keybindingMembers).toEqual(["function", "function", "function", "function", "function"]);
      expect(facts.firstKeybinding).toEqual({ combo: "Ctrl + Enter", commandId: "Comfy.QueuePrompt", isInstance: true, targetElementId: null });
      expect(facts.saveCombo).toBe("Ctrl + s");
      expect(facts.comboByKey).toBe("Comfy.OpenWorkflow");
      expect(facts.canvasOnly).toBe("graph-canvas");
      expect(facts.keybindingCount).toBe(31);
      expect(facts.menuLabels).toEqual(["New", "---", "File", "Edit", "View", "Help"]);
      expect(facts.fileLabels).toEqual(["Open", "---", "Save", "Save As", "Export", "Export (API)"]);
      expect(facts.sidebarTabs).toEqual([
        ["queue", "sideToolbar.queue", "pi pi-history"],
        ["node-library", "sideToolbar.nodeLibrary", "icon-[comfy--node]"],
        ["model-library", "sideToolbar.modelLibrary", "icon-[comfy--ai-model]"],
        ["workflows", "sideToolbar.workflows", "icon-[comfy--workflow]"],
      ]);
      expect(facts.settingCount).toBe(120);
      expect(facts.extensionNames).toHaveLength(28);
      expect(facts.extensionNames.at(-1)).toBe("demo_node.demo");
      expect(facts.clientId).toBeString();
      expect(facts.storedClientId).toBe(facts.clientId);

      // Boot requests as recorded: fetchApi calls carry comfy-user ("" on a single-user server),
      // i18n does not; core extension URLs are not imported, the custom node's is (with the shim).
      // The first status frame makes the page poll the queue and the history.
      await waitForRequest(start, (r) => r.target === "/api/history?max_items=64", "the history poll");
      const seen = requestsSince(start);
      const targets = seen.map((r) => `${r.method} ${r.target}`);
      for (const expected of ["GET /api/users", "GET /api/settings", "GET /api/extensions", "GET /extensions/demo_node/demo.js", "GET /scripts/app.js", "GET /api/object_info", "GET /api/queue", "GET /api/history?max_items=64", "GET /api/userdata?dir=workflows&recurse=true&split=false&full_info=true"]) {
        expect(targets).toContain(expected);
      }
      expect(targets).not.toContain("GET /extensions/core/dummy.js");
      expect(targets.indexOf("GET /api/extensions")).toBeLessThan(targets.indexOf("GET /extensions/demo_node/demo.js"));
      expect(targets.indexOf("GET /extensions/demo_node/demo.js")).toBeLessThan(targets.indexOf("GET /api/object_info"));
      const byTarget = (t: string) => seen.find((r) => r.target === t) as RecordedRequest;
      expect(byTarget("/api/settings").headers["comfy-user"]).toBe("");
      expect(byTarget("/api/i18n").headers["comfy-user"]).toBeUndefined();
      expect(byTarget("/extensions/demo_node/demo.js").headers["comfy-user"]).toBeUndefined();
      const socket = seen.find((r) => r.target.startsWith("/ws")) as RecordedRequest;
      expect(socket.target).toBe("/ws");

      // The landmarks of dom-landmarks.md.
      for (const selector of [
        "#vue-app",
        "#comfyui-body-top .comfyui-logo-wrapper img.comfyui-logo[alt='ComfyUI Logo']",
        ".subgraph-breadcrumb nav.p-breadcrumb[aria-label='Graph navigation']",
        "[data-testid='queue-button'] button[aria-label='Run']",
        ".batch-count[aria-label='Batch Count'] input[role='spinbutton']",
        ".execution-actions button[aria-label='Cancel current run']",
        ".workflow-tabs button.p-togglebutton .workflow-label",
        "button.new-blank-workflow-button[aria-label='Create a new blank workflow']",
        "nav.side-tool-bar-container button.side-bar-button.queue-tab-button[aria-label='Queue (q)']",
        "button.node-library-tab-button[aria-label='Node Library (n)']",
        "button.model-library-tab-button[aria-label='Model Library (m)']",
        "button.workflows-tab-button[aria-label='Workflows (w)']",
        "button.templates-tab-button[aria-label='Templates']",
        ".side-tool-bar-end button.comfy-help-center-btn[aria-label='Help Center']",
        ".side-tool-bar-end button[aria-label='Toggle Bottom Panel']",
        ".side-tool-bar-end button[aria-label='Keyboard Shortcuts (Ctrl + Shift + k)']",
        "#graph-canvas-container canvas#graph-canvas",
        "div.comfy-menu #queue-button",
        "#comfy-file-input",
        ".p-toast.p-toast-top-right",
      ]) {
        expect(await page.locator(selector).count(), selector).toBeGreaterThan(0);
      }
      expect(await page.locator("button[aria-label^='Logout']").count()).toBe(0);

      // The legacy module shims re-export the page's objects.
      const shims = await page.evaluate(async () => {
        const w = window as any;
        const [appShim, apiShim, uiShim, utilsShim] = await Promise.all(["/scripts/app.js", "/scripts/api.js", "/scripts/ui.js", "/scripts/utils.js"].map((url) => import(url)));
        return [appShim.app === w.app, apiShim.api === w.app.api, typeof uiShim.$el, typeof utilsShim.clone];
      });
      expect(shims).toEqual([true, true, "function", "function"]);
      expect(await page.locator(".comfy-modal").count()).toBe(2);
      await context.close();
    },
    T,
  );

  test(
    "fetchApi calls window.fetch as it is at call time, with the comfy-user header",
    async () => {
      const { context, page } = await openStandin();
      const seen = await page.evaluate(async () => {
        const w = window as any;
        const calls: { url: string; user: string | null }[] = [];
        const original = w.fetch;
        w.fetch = (url: string, init: RequestInit) => {
          calls.push({ url: String(url), user: new Headers(init?.headers).get("comfy-user") });
          return original(url, init);
        };
        const response = await w.app.api.fetchApi("/system_stats");
        return { calls, status: response.status };
      });
      expect(seen).toEqual({ calls: [{ url: "/api/system_stats", user: "" }], status: 200 });
      await context.close();
    },
    T,
  );

  test(
    "Ctrl+S on an unnamed workflow asks for a name, then saves as recorded; re-save and Save As too",
    async () => {
      const { context, page } = await openStandin();
      const start = fake.requests().length;
      await page.keyboard.press("Control+s");
      const dialog = page.locator(PROMPT_DIALOG);
      await dialog.waitFor();
      expect(await page.locator("h3#global-prompt").textContent()).toBe("Save workflow");
      expect(await dialog.locator(".prompt-dialog-content input").inputValue()).toBe("Unsaved Workflow");
      expect(requestsSince(start, (r) => r.method === "POST")).toHaveLength(0);
      await dialog.locator(".prompt-dialog-content input").fill("standin-wf");
      await page.keyboard.press("Enter");
      const first = await waitForRequest(start, (r) => r.method === "POST" && r.target.startsWith("/api/userdata/"), "the first save");
      expect(first.target).toBe("/api/userdata/workflows%2Fstandin-wf.json?overwrite=false&full_info=true");
      expect(first.headers["content-type"]).toBe("text/plain;charset=UTF-8");
      expect(first.headers["comfy-user"]).toBe("");
      const saved = JSON.parse(first.body as string) as { nodes: { type: string }[]; version: number; extra: { frontendVersion: string } };
      expect(saved.nodes.map((n) => n.type)).toEqual(["EmptyImage", "SaveImage"]);
      expect(saved.version).toBe(0.4);
      expect(saved.extra.frontendVersion).toBe("1.27.10");
      expect(fake.state.userdata.tree("default").files.has("workflows/standin-wf.json")).toBe(true);
      await dialog.waitFor({ state: "detached" });
      expect(await page.locator(".workflow-tabs .p-togglebutton-checked .workflow-label").textContent()).toBe("standin-wf");
      // Saved once the answer is in: the tab loses its unsaved dot.
      await page.locator(".workflow-tabs .p-togglebutton-checked .status-indicator").waitFor({ state: "detached" });

      // Ctrl+S again: silent, overwrite=true.
      const second = fake.requests().length;
      await page.keyboard.press("Control+s");
      const resave = await waitForRequest(second, (r) => r.method === "POST", "the re-save");
      expect(resave.target).toBe("/api/userdata/workflows%2Fstandin-wf.json?overwrite=true&full_info=true");
      expect(await dialog.count()).toBe(0);

      // File > Save As from the logo menu: prompt prefilled with the name, overwrite=false.
      const third = fake.requests().length;
      await page.locator(".comfyui-logo-wrapper").click();
      await page.locator(".p-tieredmenu li.p-tieredmenu-item[aria-label='File'] > .p-tieredmenu-item-content").click();
      await page.locator(".p-tieredmenu li.p-tieredmenu-item[aria-label='Save As'] > .p-tieredmenu-item-content").click();
      await dialog.waitFor();
      expect(await dialog.locator("input").inputValue()).toBe("standin-wf");
      await dialog.locator("input").fill("standin-wf-copy");
      await dialog.locator("button", { hasText: "Confirm" }).click();
      const saveAs = await waitForRequest(third, (r) => r.method === "POST", "Save As");
      expect(saveAs.target).toBe("/api/userdata/workflows%2Fstandin-wf-copy.json?overwrite=false&full_info=true");
      await page.waitForFunction(() => document.querySelectorAll(".workflow-tabs .p-togglebutton").length === 2);
      expect(await page.locator(".workflow-tabs .p-togglebutton-checked .workflow-label").textContent()).toBe("standin-wf-copy");

      // A reload re-fetches the last active workflow from userdata.
      const fourth = fake.requests().length;
      await page.reload();
      await waitReady(page);
      const fetched = await waitForRequest(fourth, (r) => r.method === "GET" && r.target.startsWith("/api/userdata/workflows%2F"), "the workflow re-fetch");
      expect(fetched.target).toBe("/api/userdata/workflows%2Fstandin-wf-copy.json");
      expect(await page.locator(".workflow-tabs .p-togglebutton-checked .workflow-label").textContent()).toBe("standin-wf-copy");
      await context.close();
    },
    T,
  );

  test(
    "unsetKeybinding turns Ctrl+S off until the next load, which restores the defaults",
    async () => {
      const { context, page } = await openStandin();
      const unset = await page.evaluate(() => {
        const kb = (window as any).app.extensionManager._p._s.get("keybinding");
        kb.unsetKeybinding(kb.getKeybindingByCommandId("Comfy.SaveWorkflow"));
        return kb.getKeybindingByCommandId("Comfy.SaveWorkflow") ?? null;
      });
      expect(unset).toBeNull();
      const start = fake.requests().length;
      await page.keyboard.press("Control+s");
      await Bun.sleep(400);
      expect(await page.locator(PROMPT_DIALOG).count()).toBe(0);
      expect(requestsSince(start)).toHaveLength(0); // nothing sent, nothing persisted

      await page.reload();
      await waitReady(page);
      expect(await page.evaluate(() => String((window as any).app.extensionManager._p._s.get("keybinding").getKeybindingByCommandId("Comfy.SaveWorkflow")?.combo))).toBe("Ctrl + s");
      await page.keyboard.press("Control+s");
      await page.locator(PROMPT_DIALOG).waitFor();
      // The reload carried the socket's client id (recorded: ws?clientId=<sid>).
      const sockets = requestsSince(start, (r) => r.target.startsWith("/ws"));
      expect(sockets.at(-1)?.target).toMatch(/^\/ws\?clientId=[0-9a-f]{32}$/);
      await context.close();
    },
    T,
  );

  test(
    "re-registering a command id replaces it (with a warning); keys and menu run the replacement",
    async () => {
      const { context, page, console: messages } = await openStandin();
      const counts = await page.evaluate(() => {
        const w = window as any;
        const command = w.app.extensionManager._p._s.get("command");
        const before = command.commands.length;
        w.__replaced = 0;
        command.registerCommand({ id: "Comfy.SaveWorkflow", label: "Save (replaced)", function: () => (w.__replaced += 1) });
        return { before, after: command.commands.length, source: command.getCommand("Comfy.SaveWorkflow").label };
      });
      expect(counts.after).toBe(counts.before);
      expect(counts.source).toBe("Save (replaced)");
      expect(messages.some((m) => m.type === "warning" && m.text.includes("Command Comfy.SaveWorkflow already registered"))).toBe(true);
      await page.keyboard.press("Control+s");
      await page.waitForFunction(() => (window as any).__replaced === 1);
      await page.locator(".comfyui-logo-wrapper").click();
      await page.locator(".p-tieredmenu li[aria-label='File'] > .p-tieredmenu-item-content").click();
      const save = page.locator(".p-tieredmenu li[aria-label='Save'] > .p-tieredmenu-item-content");
      expect(await save.textContent()).toContain("Save"); // the menu keeps its own label
      await save.click();
      await page.waitForFunction(() => (window as any).__replaced === 2);
      expect(await page.locator(PROMPT_DIALOG).count()).toBe(0);
      await context.close();
    },
    T,
  );

  test(
    "an extension declaring a keybinding on Ctrl+O throws as recorded; the rest of its declaration is skipped",
    async () => {
      const start = fake.requests().length;
      const { context, page, console: messages } = await openStandin({ beforeGoto: (p) => withExtraExtensions(p, ["/extensions/standin_probe/ctrl_o.js"]) });
      const served = requestsSince(start, (r) => r.target === "/extensions/standin_probe/ctrl_o.js");
      expect(served).toHaveLength(1);
      const thrown = messages.find((m) => m.type === "error" && m.text.includes("Keybinding on Ctrl + o already exists on Comfy.OpenWorkflow"));
      expect(thrown).toBeDefined();
      const state = await page.evaluate(() => {
        const app = (window as any).app;
        const stores = app.extensionManager._p._s;
        return {
          registered: stores.get("extension").isExtensionInstalled("StandinProbe.CtrlO"),
          command: stores.get("command").isRegistered("StandinProbe.CtrlO.Open"),
          ctrlO: stores.get("keybinding").getKeybinding({ key: "o", ctrl: true }).commandId,
          menu: stores.get("menuItem").menuItems.map((m: any) => m.label ?? "---"),
          tabs: app.extensionManager.getSidebarTabs().map((t: any) => t.id),
        };
      });
      expect(state).toEqual({ registered: true, command: true, ctrlO: "Comfy.OpenWorkflow", menu: ["New", "---", "File", "Edit", "View", "Help"], tabs: ["queue", "node-library", "model-library", "workflows"] });
      // Ctrl+O still runs Comfy.OpenWorkflow, which clicks the hidden file input. (Whether Chromium
      // then shows a picker depends on user activation, which Ctrl+key presses do not grant.)
      await page.evaluate(() => {
        const w = window as any;
        w.__fileInputClicks = 0;
        document.getElementById("comfy-file-input")?.addEventListener("click", (event) => {
          event.preventDefault();
          w.__fileInputClicks += 1;
        });
      });
      await page.keyboard.press("Control+o");
      await page.waitForFunction(() => (window as any).__fileInputClicks === 1);
      expect(await page.evaluate(() => (window as any).__probeCtrlO ?? 0)).toBe(0);
      await context.close();
    },
    T,
  );

  test(
    "an extension's declarative fields and hooks: recorded order, new menu group after Help, settings category, sidebarTabs ignored",
    async () => {
      const { context, page } = await openStandin({ beforeGoto: (p) => withExtraExtensions(p, ["/extensions/standin_probe/full.js"]) });
      const probe = await page.evaluate(() => {
        const w = window as any;
        const stores = w.app.extensionManager._p._s;
        return {
          ...w.__probe,
          tabs: w.app.extensionManager.getSidebarTabs().map((t: any) => t.id),
          hasToggle: stores.get("command").isRegistered("Workspace.ToggleSidebarTab.probe-runtime"),
          menu: stores.get("menuItem").menuItems.map((m: any) => m.label ?? "---"),
          flag: w.app.extensionManager.setting.get("StandinProbe.Flag"),
          combo: stores.get("keybinding").getKeybindingByCommandId("StandinProbe.Hello")?.combo.toString(),
        };
      });
      expect(probe.sameApi).toBe(true);
      expect(probe.hooks).toEqual(["module evaluated", "getCustomWidgets", "init", "addCustomNodeDefs", "beforeRegisterNodeDef", "registerCustomNodes", "beforeRegisterVueAppNodeDefs", "setup", "beforeConfigureGraph", "nodeCreated", "loadedGraphNode", "afterConfigureGraph"]);
      expect(probe.nodeTypes).toContain("EmptyImage");
      expect(probe.tabs).toEqual(["queue", "node-library", "model-library", "workflows", "probe-runtime"]);
      expect(probe.hasToggle).toBe(true);
      expect(probe.menu).toEqual(["New", "---", "File", "Edit", "View", "Help", "Probe"]);
      expect(probe.flag).toBe(false);
      expect(probe.combo).toBe("Ctrl + Alt + h");

      await page.keyboard.press("Control+Alt+h");
      await page.waitForFunction(() => (window as any).__probe.hello === 1);
      // The runtime tab: button with aria-label = tooltip (no key), rendered by render(el).
      await page.locator("button.probe-runtime-tab-button[aria-label='Probe tab']").click();
      expect(await page.locator(".side-bar-panel .comfy-vue-side-bar-body").textContent()).toBe("probe runtime tab content");
      expect(await page.locator("button.probe-declared-tab-button").count()).toBe(0);
      // Root menu: extension group after the store groups; fixed items before Help.
      await page.locator(".comfyui-logo-wrapper").click();
      const roots = await page.locator(".p-tieredmenu ul.p-tieredmenu-root-list[role='menubar'] > li.p-tieredmenu-item[role='menuitem']").evaluateAll((items) => items.map((li) => li.getAttribute("aria-label")));
      expect(roots).toEqual(["New", "File", "Edit", "View", "Probe", "Theme", "Browse Templates", "Settings", "Manage Extensions", "Help"]);
      await page.keyboard.press("Escape");
      // Settings: the extension's category sits after Mask Editor, before Keybinding.
      await page.keyboard.press("Control+,");
      const settings = page.locator(".p-dialog.global-dialog[role='dialog'][aria-labelledby='global-settings']");
      await settings.waitFor();
      const categories = await settings.locator("li.p-listbox-option[role='option']").evaluateAll((items) => items.map((li) => li.getAttribute("aria-label")));
      expect(categories).toEqual(["User", "Comfy", "Lite Graph", "Appearance", "3D", "Mask Editor", "Probe", "Keybinding", "Extension", "About"]);
      await settings.locator("li.p-listbox-option[aria-label='About']").click();
      expect(await settings.locator("a.about-badge", { hasText: "Probe badge" }).count()).toBe(1);
      await context.close();
    },
    T,
  );

  test(
    "removing File > Save from the menuItem store removes it from the opened menu; fixed items stay",
    async () => {
      const { context, page } = await openStandin();
      await page.evaluate(() => {
        const menu = (window as any).app.extensionManager._p._s.get("menuItem");
        const file = menu.menuItems.find((m: any) => m.label === "File");
        file.items.splice(file.items.findIndex((i: any) => i.label === "Save"), 1);
        menu.menuItems.splice(menu.menuItems.findIndex((m: any) => m.label === "Help"), 1);
      });
      await page.locator(".comfyui-logo-wrapper").click();
      const menu = page.locator(".p-tieredmenu");
      await menu.waitFor();
      const roots = await menu.locator("ul.p-tieredmenu-root-list > li[role='menuitem']").evaluateAll((items) => items.map((li) => li.getAttribute("aria-label")));
      expect(roots).toEqual(["New", "File", "Edit", "View", "Theme", "Browse Templates", "Settings", "Manage Extensions"]);
      await menu.locator("li[aria-label='File'] > .p-tieredmenu-item-content").click();
      const file = await menu.locator("li[aria-label='File'] ul li[role='menuitem']").evaluateAll((items) => items.map((li) => li.getAttribute("aria-label")));
      expect(file).toEqual(["Open", "Save As", "Export", "Export (API)"]);
      expect(await menu.locator("li[aria-label='Open']").textContent()).toContain("Ctrl + o");
      await context.close();
    },
    T,
  );

  test(
    "unregisterSidebarTab('templates') is a no-op; unregistering the queue tab leaves its key",
    async () => {
      const { context, page } = await openStandin();
      await page.evaluate(() => {
        const em = (window as any).app.extensionManager;
        em.unregisterSidebarTab("templates");
        em.unregisterSidebarTab("queue");
      });
      await page.waitForFunction(() => document.querySelector("button.queue-tab-button") === null);
      expect(await page.locator("button.templates-tab-button[aria-label='Templates']").count()).toBe(1);
      await page.locator("#graph-canvas").click({ position: { x: 700, y: 600 } });
      await page.keyboard.press("q");
      expect(await page.evaluate(() => (window as any).app.extensionManager.sidebarTab.activeSidebarTabId)).toBe("queue");
      expect(await page.locator(".side-bar-panel").isHidden()).toBe(true);
      await context.close();
    },
    T,
  );

  test(
    "Run queues the EmptyImage → SaveImage graph with the socket's client id and the output image appears",
    async () => {
      const { context, page } = await openStandin();
      const start = fake.requests().length;
      await page.locator("[data-testid='queue-button'] button[aria-label='Run']").click();
      const post = await waitForRequest(start, (r) => r.method === "POST" && r.target === "/api/prompt", "POST /api/prompt");
      expect(post.headers["content-type"]).toBe("application/json");
      const body = JSON.parse(post.body as string) as { client_id: string; prompt: Record<string, { class_type: string; inputs: Record<string, unknown>; _meta: { title: string } }>; extra_data: { extra_pnginfo: { workflow: { nodes: unknown[] } } } };
      expect(body.client_id).toBe(await page.evaluate(() => sessionStorage.getItem("clientId") as string));
      expect(Object.values(body.prompt).map((n) => n.class_type)).toEqual(["EmptyImage", "SaveImage"]);
      expect(body.prompt["2"]?.inputs.images).toEqual(["1", 0]);
      expect(body.prompt["2"]?._meta.title).toBe("Save Image");
      expect(body.extra_data.extra_pnginfo.workflow.nodes).toHaveLength(2);
      const image = page.locator("[data-node-type='SaveImage'] img.standin-output-image");
      await image.waitFor();
      await page.waitForFunction(() => {
        const img = document.querySelector("[data-node-type='SaveImage'] img.standin-output-image") as HTMLImageElement | null;
        return img !== null && img.complete && img.naturalWidth === 64;
      });
      expect(await image.getAttribute("src")).toMatch(/^\/api\/view\?filename=ComfyUI_\d{5}_\.png&subfolder=&type=output&rand=0\.\d+$/);
      // The queue tab lists it with its image (from /api/history).
      await page.locator("button.queue-tab-button").click();
      await page.locator(".side-bar-panel .task-item .task-result-preview img").waitFor();
      await page.screenshot({ path: "/tmp/standin.png" });
      await context.close();
    },
    T,
  );

  test(
    "toast.add renders into .p-toast; a refused prompt or save becomes an error toast",
    async () => {
      const { context, page } = await openStandin();
      await page.evaluate(() => {
        const w = window as any;
        w.app.graph.nodes[0].widgets.find((widget: any) => widget.name === "width").value = 0; // below min: 400
        w.app.extensionManager.toast.add({ severity: "warn", summary: "Stand-in", detail: "hello from toast.add", life: 10_000 });
      });
      const toast = page.locator(".p-toast.p-toast-top-right .p-toast-message", { hasText: "hello from toast.add" });
      await toast.waitFor();
      expect(await toast.locator(".p-toast-summary").textContent()).toBe("Stand-in");
      expect(await page.evaluate(() => (window as any).app.queuePrompt(0, 1))).toBe(false);
      const error = page.locator(".p-toast .p-toast-message-error", { hasText: "Prompt execution failed" });
      await error.waitFor();
      expect(await error.textContent()).toContain("Prompt outputs failed validation");

      // A refused save (as a gateway would refuse it) is an error toast too, from the command.
      await page.route(/\/api\/userdata\/workflows/, (route) => (route.request().method() === "POST" ? route.fulfill({ status: 403, json: { error: "denied" } }) : route.continue()));
      await page.keyboard.press("Control+s");
      await page.locator(`${PROMPT_DIALOG} input`).fill("refused");
      await page.keyboard.press("Enter");
      const refused = page.locator(".p-toast .p-toast-message-error", { hasText: "workflows/refused.json" });
      await refused.waitFor();
      expect(await refused.locator(".p-toast-detail").textContent()).toBe("Error storing user data file 'workflows/refused.json': 403 Forbidden");
      expect(await page.locator(".workflow-tabs .p-togglebutton-checked .workflow-label").textContent()).toBe("Unsaved Workflow"); // still unsaved
      expect(await page.locator(".workflow-tabs .p-togglebutton-checked .status-indicator").count()).toBe(1);
      await context.close();
    },
    T,
  );

  test(
    "settings: Ctrl+, opens the dialog; a change is POST /api/settings/<id> with the JSON value as text/plain",
    async () => {
      const { context, page } = await openStandin();
      await page.keyboard.press("Control+,");
      const dialog = page.locator(".p-dialog.global-dialog[aria-labelledby='global-settings']");
      await dialog.waitFor();
      expect(await dialog.locator("#global-settings").textContent()).toContain("Settings");
      const start = fake.requests().length;
      await dialog.locator("[id='Comfy.DevMode']").check();
      const post = await waitForRequest(start, (r) => r.method === "POST", "the settings write");
      expect(post.target).toBe("/api/settings/Comfy.DevMode");
      expect(post.body).toBe("true");
      expect(post.headers["content-type"]).toBe("text/plain;charset=UTF-8");
      await page.keyboard.press("Escape");
      await dialog.waitFor({ state: "detached" });
      expect(await page.evaluate(() => (window as any).app.extensionManager.setting.get("Comfy.DevMode"))).toBe(true);
      await context.close();
    },
    T,
  );

  test(
    "Comfy.Extension.Disabled disables an extension on the next load",
    async () => {
      const disabling = await startFakeComfyUI();
      try {
        await fetch(`${disabling.url}/api/settings/Comfy.Extension.Disabled`, { method: "POST", body: JSON.stringify(["demo_node.demo"]) });
        const { context, page } = await openStandin({ url: `${disabling.url}/` });
        const state = await page.evaluate(() => {
          const stores = (window as any).app.extensionManager._p._s;
          return { enabled: stores.get("extension").isExtensionEnabled("demo_node.demo"), command: stores.get("command").isRegistered("DemoNode.ShowInfo") };
        });
        expect(state).toEqual({ enabled: false, command: false });
        await context.close();
      } finally {
        await disabling.stop();
      }
    },
    T,
  );

  test(
    "multi-user: a stored user boots straight in, sends its id as comfy-user and gets a Logout button",
    async () => {
      const userId = "alice_708ed3d8-5ffd-4a53-873a-8f689221173b";
      const multi = await startFakeComfyUI({ multiUser: true, users: { [userId]: "alice" } });
      try {
        const { context, page } = await openStandin({
          url: `${multi.url}/`,
          beforeGoto: async (p) => {
            await p.addInitScript((id) => {
              localStorage.setItem("Comfy.userId", id);
              localStorage.setItem("Comfy.userName", "alice");
            }, userId);
          },
        });
        const requests = multi.requests();
        expect(requests.find((r) => r.target === "/api/users")?.headers["comfy-user"]).toBe("");
        expect(requests.find((r) => r.target === "/api/settings")?.headers["comfy-user"]).toBe(userId);
        expect(await page.locator(".side-tool-bar-end button[aria-label='Logout (alice)']").count()).toBe(1);
        await context.close();

        // Without a stored user: the user-selection screen, then the normal boot.
        const fresh = await browser.newContext();
        const select = await fresh.newPage();
        await select.goto(`${multi.url}/`);
        await select.locator("main#comfy-user-selection").waitFor();
        await select.locator("#existing-user-select[aria-label='Select a user']").selectOption({ label: "alice" });
        await select.locator("button[aria-label='Next']").click();
        await waitReady(select);
        expect(await select.evaluate(() => [localStorage.getItem("Comfy.userId"), (window as any).app.api.user])).toEqual([userId, userId]);
        await fresh.close();
      } finally {
        await multi.stop();
      }
    },
    T,
  );
});
