/**
 * The gateway as a person meets it, in headless Chromium: the gateway runs as its own process in
 * front of the fake ComfyUI, whose `/` is the stand-in for ComfyUI's front end 1.27.10 (with the
 * example extension of docs/extension-tabs.md installed as a custom node). The steps build on
 * each other, in order: first-run setup, sign-in with a second factor, an admin creating a user
 * and taking saving away from the user role, that user in ComfyUI's page, an extension's admin
 * tab, and an API token made on the user's page and used with curl. Every gateway page passes an
 * axe-core check of labels and contrast, at desktop and phone width, and no page loads anything
 * from outside the gateway.
 *
 * With MSS_SCREENSHOTS_DIR set (`npm run screenshots`), the pages are also saved as PNG there.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { expectAccessible, isolatedContext, launchBrowser, totpCode } from "../support/e2e.ts";
import { spawnGateway, type SpawnedGateway } from "../support/gateway.ts";

const OWNER = { username: "olivia", password: "owner passphrase for the e2e run" };
const ALICE = { username: "alice", password: "her own passphrase for the e2e run" };
const EXAMPLE_EXTENSION_DIR = join(import.meta.dir, "../../docs/examples/mss-login-tab-example/web");
const PHONE = { width: 390, height: 844 };
const SCREENSHOTS = process.env.MSS_SCREENSHOTS_DIR;

let fake: FakeComfyUI;
let gateway: SpawnedGateway;
let browser: Browser;
const contexts: { context: BrowserContext; foreign: string[] }[] = [];
let ownerPage: Page;
let ownerSecret = "";

async function newPage(size?: { width: number; height: number }): Promise<Page> {
  const opened = await isolatedContext(browser, gateway.url, size);
  contexts.push(opened);
  return opened.context.newPage();
}

async function shot(page: Page, name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** ComfyUI's page (the stand-in) has booted, with the gateway's extension in it. */
async function comfyReady(page: Page): Promise<void> {
  await page.waitForFunction(() => (window as unknown as { __standinReady?: boolean }).__standinReady === true, null, { timeout: 15_000 });
  await page.waitForFunction(() => (window as unknown as { app: { extensions: { name: string }[] } }).app.extensions.some((extension) => extension.name === "mss-login.enforcement"));
}

async function signIn(page: Page, account: { username: string; password: string }, next = "/"): Promise<void> {
  await page.goto(`${gateway.url}/login?next=${encodeURIComponent(next)}`);
  await page.fill("#username", account.username);
  await page.fill("#password", account.password);
  await page.click("#submit");
}

/** Admin writes ask for the password again (step-up) in a dialog of the admin app. */
async function confirmPasswordIfAsked(page: Page, password: string): Promise<void> {
  const dialog = page.locator("dialog.mss-dialog input[type=password]");
  try {
    await dialog.waitFor({ state: "visible", timeout: 2000 });
  } catch {
    return;
  }
  await dialog.fill(password);
  await page.locator("dialog.mss-dialog button[type=submit]").click();
}

/** POSTs to the fake ComfyUI that saved a workflow (any user). */
const workflowSaves = () => fake.requests().filter((request) => request.method === "POST" && request.target.includes("/userdata/workflows"));

beforeAll(async () => {
  fake = await startFakeComfyUI({ multiUser: true, customNodeWebDirs: { "mss-login-tab-example": EXAMPLE_EXTENSION_DIR } });
  // Several people sign in from 127.0.0.1 within a minute here: more than the per-address default allows.
  gateway = await spawnGateway(fake.url, { env: { MSS_LOGIN_REGULATION__IP_ATTEMPTS_PER_MINUTE: "100" } });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  await fake?.stop();
});

describe("the gateway in a browser", () => {
  test("first-run setup: without the console's link nobody becomes owner; with it the owner is created, signs in and enrols a second factor", async () => {
    const link = /(http:\/\/\S+\/setup\?token=\S+)/.exec(gateway.log())?.[1];
    expect(link).toBeDefined();
    const stranger = await newPage();
    await stranger.goto(`${gateway.url}/setup`);
    await stranger.fill("#username", "mallory");
    await stranger.fill("#password", "mallory wants to be the owner");
    if (await stranger.locator("#password-repeat").count()) await stranger.fill("#password-repeat", "mallory wants to be the owner");
    await stranger.click("#submit");
    await stranger.waitForFunction(() => (document.getElementById("error")?.textContent ?? "").length > 0);
    expect(await stranger.textContent("#error")).toContain("not valid");

    ownerPage = await newPage();
    const page = ownerPage;
    await page.goto(link!);
    await expectAccessible(page, "setup page");
    await shot(page, "setup-desktop");
    await page.fill("#username", OWNER.username);
    await page.fill("#password", OWNER.password);
    if (await page.locator("#password-repeat").count()) await page.fill("#password-repeat", OWNER.password);
    await page.click("#submit");
    await page.waitForURL(/\/login\?created=owner/);
    await expectAccessible(page, "sign-in page after setup");

    await page.fill("#username", OWNER.username);
    await page.fill("#password", OWNER.password);
    await page.click("#submit");
    await page.locator("#enrol").waitFor({ state: "visible" });
    await expectAccessible(page, "second-factor enrolment");
    await shot(page, "mfa-enrol-desktop");
    ownerSecret = (await page.textContent("#secret"))!.replace(/\s+/g, "");
    expect(ownerSecret).toMatch(/^[A-Z2-7]{16,}$/);
    await page.fill("#enrol-code", totpCode(ownerSecret));
    await page.click("#enrol-submit");
    await page.locator("#recovery").waitFor({ state: "visible" });
    expect((await page.textContent("#recovery-codes"))!.trim().split(/\s+/).length).toBeGreaterThanOrEqual(8);
    await page.click("#continue");
    await page.waitForURL(`${gateway.url}/`);
    await comfyReady(page);
    const me = await page.evaluate(async () => (await fetch("/mss-login/api/me")).json());
    expect(me).toMatchObject({ username: OWNER.username, role: "owner", mfa_enabled: true });
  }, 60_000);

  test("sign-in with the second factor: the code step appears after the password and lands in ComfyUI", async () => {
    const page = await newPage();
    await page.goto(`${gateway.url}/`);
    await page.waitForURL(/\/login\?next=%2F/);
    await expectAccessible(page, "sign-in page");
    await shot(page, "login-desktop");
    await page.fill("#username", OWNER.username);
    await page.fill("#password", "not the password at all");
    await page.click("#submit");
    await page.waitForFunction(() => (document.getElementById("error")?.textContent ?? "").length > 0);
    await expectAccessible(page, "sign-in page with an error");
    await page.fill("#password", OWNER.password);
    await page.click("#submit");
    await page.locator("#code").waitFor({ state: "visible" });
    await expectAccessible(page, "code step");
    await shot(page, "login-code-desktop");
    // The enrolment used this period's code; a code is accepted once, so use the next period's.
    await page.fill("#code", totpCode(ownerSecret, 30_000));
    await page.click("#submit");
    await page.waitForURL(`${gateway.url}/`);
    await comfyReady(page);
    const phone = await newPage(PHONE);
    await phone.goto(`${gateway.url}/login`);
    await expectAccessible(phone, "sign-in page at phone width");
    await shot(phone, "login-phone");
  }, 60_000);

  test("the owner creates alice in the admin app and takes saving workflows away from the user role (and gives it API tokens)", async () => {
    const page = ownerPage;
    await page.goto(`${gateway.url}/mss-login/admin#users`);
    await page.getByRole("heading", { name: "Accounts" }).waitFor();
    await expectAccessible(page, "admin: users");
    await page.locator("summary", { hasText: "Create an account" }).click();
    const form = page.locator("form", { has: page.getByRole("button", { name: "Create account" }) });
    await form.getByLabel("Username", { exact: true }).fill(ALICE.username);
    await form.getByLabel("Password", { exact: true }).fill(ALICE.password);
    await form.getByLabel("Role", { exact: true }).selectOption("user");
    await form.getByRole("button", { name: "Create account" }).click();
    await confirmPasswordIfAsked(page, OWNER.password);
    await page.getByRole("combobox", { name: `Role of ${ALICE.username}` }).waitFor();
    await shot(page, "admin-users-desktop");

    await page.goto(`${gateway.url}/mss-login/admin#permissions`);
    const saveBox = page.getByRole("checkbox", { name: "user: ui_menu_save", exact: true });
    await saveBox.waitFor();
    await expectAccessible(page, "admin: permissions");
    await saveBox.uncheck();
    await page.getByRole("checkbox", { name: "user: can_modify_workflows", exact: true }).uncheck();
    // And lets the role have API tokens (off by default for "user"), for alice's curl below.
    await page.getByRole("checkbox", { name: "user: can_have_api_tokens", exact: true }).check();
    expect(await page.getByText("3 unsaved changes").count()).toBeGreaterThan(0);
    await shot(page, "admin-permissions-unsaved-desktop");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await confirmPasswordIfAsked(page, OWNER.password);
    await page.getByText(/^Saved\./).waitFor();
    const groups = (await page.evaluate(async () => (await fetch("/mss-login/api/groups")).json())) as { groups: Record<string, Record<string, boolean>> };
    expect(groups.groups.user).toMatchObject({ ui_menu_save: false, can_modify_workflows: false, can_have_api_tokens: true });
    expect(groups.groups.power).toMatchObject({ ui_menu_save: true, can_modify_workflows: true });
  }, 60_000);

  test("alice opens ComfyUI: Save is gone from the menu, Ctrl+S does nothing, and a save through the API is refused with a toast", async () => {
    const page = await newPage();
    await signIn(page, ALICE);
    await page.waitForURL(`${gateway.url}/`);
    await comfyReady(page);
    await shot(page, "comfyui-restricted-user-desktop");

    // The File menu still opens (Open is hers), without Save, Save As, Export.
    await page.click(".comfyui-logo-wrapper");
    await page.locator('li.p-tieredmenu-item[aria-label="File"] > div').first().click();
    await page.locator('li.p-tieredmenu-item[aria-label="Open"]').waitFor({ state: "visible" });
    for (const label of ["Save", "Save As", "Export", "Export (API)"]) {
      expect(await page.locator(`li.p-tieredmenu-item[aria-label="${label}"]`).isVisible(), label).toBe(false);
    }
    await shot(page, "comfyui-restricted-file-menu-desktop");
    await page.keyboard.press("Escape");

    // Ctrl+S: no name prompt, no request; the keybinding is gone and the key is swallowed.
    const savesBefore = workflowSaves().length;
    await page.locator("#graph-canvas").focus();
    await page.keyboard.press("Control+s");
    await page.waitForTimeout(500);
    expect(await page.locator('[aria-labelledby="global-prompt"]').isVisible()).toBe(false);
    expect(workflowSaves().length).toBe(savesBefore);
    const binding = await page.evaluate(() => {
      const store = (window as unknown as { app: { extensionManager: { _p: { _s: Map<string, { getKeybindingByCommandId(id: string): unknown }> } } } }).app.extensionManager._p._s.get("keybinding")!;
      return store.getKeybindingByCommandId("Comfy.SaveWorkflow") ?? null;
    });
    expect(binding).toBeNull();

    // Straight to the API, as a script in the page would: the gateway refuses, the page says why.
    const status = await page.evaluate(async () => {
      const api = (window as unknown as { app: { api: { fetchApi(route: string, init: RequestInit): Promise<Response> } } }).app.api;
      const response = await api.fetchApi("/userdata/workflows%2Fsneaky.json?overwrite=true&full_info=true", { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
      return response.status;
    });
    expect(status).toBe(403);
    await page.locator(".p-toast", { hasText: "Action blocked" }).waitFor({ state: "visible" });
    expect(workflowSaves().length).toBe(savesBefore);
    await shot(page, "comfyui-refused-save-toast-desktop");

    // The account menu the gateway adds: who she is, her page, sign out; no admin panel.
    await page.locator("button.mss-login-account-tab-button").click();
    await page.getByText("Signed in as").waitFor();
    expect(await page.locator(".mss-account-panel").textContent()).toContain(ALICE.username);
    expect(await page.getByRole("button", { name: "Admin panel" }).count()).toBe(0);
  }, 60_000);

  test("an extension's admin tab shows in the admin panel opened inside ComfyUI's page", async () => {
    const page = ownerPage;
    await page.goto(`${gateway.url}/`);
    await comfyReady(page);
    // Extensions load in parallel: wait for the example's registration rather than assume it is done.
    await page.waitForFunction(() => window.mss_loginAdminTabs?.getAll().some((tab) => tab.id === "example-roles-overview") === true, null, { timeout: 10_000 });
    // The registry's rules, as the original's: id pattern, built-in ids, duplicates, a render function.
    const registry = await page.evaluate(() => {
      const tabs = window.mss_loginAdminTabs!;
      const register = (config: unknown) => tabs.register(config as Parameters<typeof tabs.register>[0]);
      return {
        badId: register({ id: "Bad Id", label: "x", render() {} }),
        builtIn: register({ id: "users", label: "x", render() {} }),
        duplicate: register({ id: "example-roles-overview", label: "x", render() {} }),
        noRender: register({ id: "no-render", label: "x" }),
        failing: register({ id: "probe-tab", label: "<b>Probe</b>", order: 55, render() { throw new Error("probe failed"); } }),
        order: tabs.getAll().map((tab) => tab.id),
      };
    });
    expect(registry).toEqual({ badId: false, builtIn: false, duplicate: false, noRender: false, failing: true, order: ["probe-tab", "example-roles-overview"] });
    await page.locator("button.mss-login-account-tab-button").click();
    await page.getByRole("button", { name: "Admin panel" }).click();
    const panel = page.locator("dialog.mss-admin-dialog");
    await panel.waitFor({ state: "visible" });
    // A label is text, never markup; a failing render is contained and explained.
    await panel.getByRole("button", { name: "<b>Probe</b>" }).click();
    await panel.getByText("probe failed").waitFor();
    expect(await panel.getByText(/error loading tab/i).count()).toBeGreaterThan(0);
    // Unregistered while the panel is open: gone from it at once.
    expect(await page.evaluate(() => window.mss_loginAdminTabs!.unregister("probe-tab"))).toBe(true);
    await panel.getByRole("button", { name: "<b>Probe</b>" }).waitFor({ state: "detached" });
    await panel.getByRole("button", { name: "Roles overview" }).click();
    // The section heading and the example tab's own heading share the name: either shows it is open.
    await panel.getByRole("heading", { name: "Roles overview" }).first().waitFor();
    await panel.locator("table.mss-table tbody tr").first().waitFor();
    const rows = await panel.locator("table.mss-table tbody tr").allTextContents();
    expect(rows.some((row) => row.startsWith("user") && row.includes("yes")), JSON.stringify(rows)).toBe(true);
    await expectAccessible(page, "admin panel inside ComfyUI", "dialog.mss-admin-dialog");
    await shot(page, "comfyui-admin-panel-extension-tab-desktop");
    await page.keyboard.press("Escape");
    await panel.waitFor({ state: "detached" });
  }, 60_000);

  test("alice makes an API token on her page; it works with curl, and not once revoked", async () => {
    const page = await newPage();
    await signIn(page, ALICE, "/mss-login/me");
    await page.waitForURL(`${gateway.url}/mss-login/me`);
    await page.getByRole("button", { name: "Create token" }).waitFor();
    await expectAccessible(page, "my account page");
    await page.getByLabel("Label").fill("curl on my laptop");
    await page.getByRole("button", { name: "Create token" }).click();
    const secret = page.locator("code.mss-secret").first();
    await secret.waitFor();
    const token = (await secret.textContent())!.trim();
    expect(token).toMatch(/^mss_[A-Za-z0-9_-]{40,}$/);
    await shot(page, "me-token-created-desktop");
    // Asynchronously: the fake ComfyUI answering curl (through the gateway) lives in this process.
    const curl = async (headers: string[]) => {
      const run = Bun.spawn(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", ...headers, `${gateway.url}/api/queue`], { stdout: "pipe" });
      await run.exited;
      return (await new Response(run.stdout).text()).trim();
    };
    expect(await curl(["-H", `Authorization: Bearer ${token}`])).toBe("200");
    expect(await curl([])).toBe("401");
    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByRole("button", { name: "Revoke token “curl on my laptop”" }).click();
    await confirmRevoke(page);
    await page.waitForFunction(() => !document.body.textContent?.includes("curl on my laptop") || document.querySelectorAll("code.mss-secret").length === 0, null, { timeout: 5000 }).catch(() => undefined);
    for (let i = 0; i < 20 && (await curl(["-H", `Authorization: Bearer ${token}`])) !== "401"; i++) await Bun.sleep(100);
    expect(await curl(["-H", `Authorization: Bearer ${token}`])).toBe("401");
  }, 60_000);

  test("every gateway page passes the label and contrast check at phone width", async () => {
    const page = await newPage(PHONE);
    await signIn(page, ALICE, "/mss-login/me");
    await page.waitForURL(`${gateway.url}/mss-login/me`);
    await page.getByRole("button", { name: "Create token" }).waitFor();
    await expectAccessible(page, "my account page, phone");
    await shot(page, "me-phone");
    await ownerPage.setViewportSize(PHONE);
    for (const section of ["users", "permissions", "sessions", "settings"]) {
      await ownerPage.goto(`${gateway.url}/mss-login/admin#${section}`);
      await ownerPage.locator(`section[aria-labelledby] h2`).first().waitFor();
      await ownerPage.waitForLoadState("networkidle");
      await expectAccessible(ownerPage, `admin ${section}, phone`);
      await shot(ownerPage, `admin-${section}-phone`);
    }
    await ownerPage.setViewportSize({ width: 1280, height: 800 });
    for (const section of ["users", "permissions", "sessions", "settings"]) {
      await ownerPage.goto(`${gateway.url}/mss-login/admin#${section}`);
      await ownerPage.locator(`section[aria-labelledby] h2`).first().waitFor();
      await ownerPage.waitForLoadState("networkidle");
      await expectAccessible(ownerPage, `admin ${section}, desktop`);
      await shot(ownerPage, `admin-${section}-desktop`);
    }
    const me = await newPage();
    await signIn(me, ALICE, "/mss-login/me");
    await me.waitForURL(`${gateway.url}/mss-login/me`);
    await me.getByRole("button", { name: "Create token" }).waitFor();
    await shot(me, "me-desktop");
  }, 90_000);

  test("no page loaded anything from outside the gateway", () => {
    expect(contexts.length).toBeGreaterThan(3);
    expect(contexts.flatMap((opened) => opened.foreign)).toEqual([]);
  });
});

/** The user page confirms a revocation in its own dialog (a `<dialog>`), or not at all. */
async function confirmRevoke(page: Page): Promise<void> {
  const button = page.locator("dialog.mss-dialog button.mss-danger, dialog.mss-dialog button.mss-primary").last();
  try {
    await button.waitFor({ state: "visible", timeout: 2000 });
    await button.click();
  } catch {
    // No confirmation asked.
  }
}
