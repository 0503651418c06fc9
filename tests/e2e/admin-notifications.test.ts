/**
 * The admin app's Notifications section in headless Chromium: the gateway (in-process) in front
 * of the fake ComfyUI, a fake ntfy server on loopback, the owner signed in. The owner sets the
 * server, topic and token, switches notifications and one event on, and saves (with the step-up);
 * the token is stored but never shown again. "Send test" shows the server's answer, and a clear
 * error when the server refuses the token. A plain-http address elsewhere is refused under its
 * field and nothing changes. The section passes axe-core at desktop and phone width, and loads
 * nothing from outside the gateway.
 *
 * With MSS_SCREENSHOTS_DIR set, the section is saved as admin-notifications-desktop.png and
 * admin-notifications-phone.png there.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { decodeHeader, startFakeNtfy, type FakeNtfy } from "../support/fake-ntfy.ts";
import { expectAccessible, launchBrowser, ownerContext, screenshotIfAsked, stepUpIfAsked as answerStepUp } from "../support/e2e.ts";
import { startTestGateway, TEST_PASSWORD, type TestGateway } from "../support/gateway.ts";

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
const NTFY_TOKEN = "tk_e2e_token_abcdef0123456789";

let fake: FakeComfyUI;
let ntfy: FakeNtfy;
let gateway: TestGateway;
let browser: Browser;
let opened: { context: BrowserContext; foreign: string[] };
let page: Page;

const settings = async (): Promise<Record<string, any>> => (await (await gateway.fetch("/mss-login/api/notifications")).json()) as Record<string, any>;
const shot = (name: string): Promise<void> => screenshotIfAsked(page, name);
const stepUpIfAsked = (settled: () => Promise<unknown>): Promise<boolean> => answerStepUp(page, TEST_PASSWORD, settled);

async function openSection(): Promise<void> {
  const target = `${gateway.url}/mss-login/admin#notifications`;
  if (page.url() === target) await page.reload();
  else await page.goto(target);
  await page.getByRole("heading", { name: "Notifications", level: 2 }).waitFor();
  await page.getByRole("heading", { name: "Events" }).waitFor();
  await page.waitForLoadState("networkidle");
}

beforeAll(async () => {
  fake = await startFakeComfyUI({ multiUser: true });
  ntfy = await startFakeNtfy();
  gateway = await startTestGateway(fake.url, [], {}, "owner");
  browser = await launchBrowser();
  opened = await ownerContext(browser, gateway.url, gateway.account.username, TEST_PASSWORD, DESKTOP);
  page = await opened.context.newPage();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  await ntfy?.stop();
  await fake?.stop();
});

describe("the admin app's Notifications section", () => {
  const save = () => page.getByRole("button", { name: "Save", exact: true });
  const counter = () => page.locator(".mss-savebar-count");
  const row = (key: string) => page.locator(`table.mss-notify-events tr[data-event="${key}"]`);

  test("the owner configures server, topic, token and an event, and saves; the token is never shown back", async () => {
    await openSection();
    expect(await save().isDisabled()).toBe(true);
    expect(await page.locator(".mss-notify-token-state").textContent()).toContain("No token");
    await page.getByLabel("Send notifications").check();
    await page.getByLabel("Server address").fill(ntfy.url);
    await page.getByLabel("Topic").fill("mss-e2e");
    await page.getByLabel("Access token").fill(NTFY_TOKEN);
    await page.getByLabel('Send "Sign-in"').check();
    await page.getByLabel('Priority of "Sign-in"').selectOption("high");
    await page.getByLabel('Tags of "Sign-in"').fill("wave, bust_in_silhouette");
    expect(await counter().textContent()).toBe("5 unsaved changes");
    await expectAccessible(page, "admin notifications, desktop, editing");

    await save().click();
    await stepUpIfAsked(() => page.locator(".mss-savebar .mss-ok").waitFor({ timeout: 20_000 }));
    expect(await counter().textContent()).toBe("No unsaved changes");
    const stored = await settings();
    expect(stored).toMatchObject({ enabled: true, server_url: ntfy.url, topic: "mss-e2e", token_set: true });
    expect(stored.events.user_login).toEqual({ enabled: true, priority: "high", tags: ["wave", "bust_in_silhouette"] });
    expect(JSON.stringify(stored)).not.toContain(NTFY_TOKEN);
    // The field is empty again; the state says a token is set.
    expect(await page.getByLabel("Access token").inputValue()).toBe("");
    expect(await page.locator(".mss-notify-token-state").textContent()).toContain("A token is set");
    expect(await page.content()).not.toContain(NTFY_TOKEN);
    // Saving was announced (settings_changed), with the token.
    await ntfy.waitFor(1);
    expect(ntfy.requests[0]!.headers.authorization).toBe(`Bearer ${NTFY_TOKEN}`);
  }, 60_000);

  test("Send test shows the server's answer, and a clear error when it refuses the token", async () => {
    ntfy.clear();
    ntfy.requireToken(NTFY_TOKEN);
    await openSection();
    const result = page.locator(".mss-notify-test-result");
    await page.getByRole("button", { name: "Send test" }).click();
    await stepUpIfAsked(() => result.locator(".mss-ok").waitFor({ timeout: 20_000 }));
    expect(await result.textContent()).toContain(`Delivered: ${ntfy.url} accepted the test for topic mss-e2e (200)`);
    expect(ntfy.requests.map((request) => decodeHeader(request.headers.title))).toEqual(["MSS-Login test"]);
    await expectAccessible(page, "admin notifications, desktop, test sent");
    await shot("admin-notifications-desktop");

    ntfy.requireToken("tk_another_token");
    await page.getByRole("button", { name: "Send test" }).click();
    await result.locator(".mss-alert").waitFor({ timeout: 20_000 });
    const text = (await result.textContent()) ?? "";
    expect(text).toContain("Not delivered");
    expect(text).toContain("the access token was refused (401 Unauthorized)");
    // The delivery card shows the failure.
    await page.locator(".mss-notify-stats").getByText("Last error").waitFor();
    expect(await page.locator(".mss-notify-state").textContent()).toContain("failing");
    ntfy.requireToken(null);
  }, 60_000);

  test("at phone width the section passes the check; an address that is not https is refused under its field, nothing changes", async () => {
    await page.setViewportSize(PHONE);
    await openSection();
    await row("login_failure").waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    await expectAccessible(page, "admin notifications, phone");
    await shot("admin-notifications-phone");

    const before = await settings();
    await page.getByLabel("Server address").fill("http://ntfy.example.com");
    await save().click();
    await stepUpIfAsked(() => page.locator(".mss-savebar .mss-alert").waitFor({ timeout: 20_000 }));
    expect(await page.locator(".mss-savebar .mss-alert").textContent()).toContain("must use https://");
    expect(await page.getByLabel("Server address").getAttribute("aria-invalid")).toBe("true");
    const after = await settings();
    expect(after.server_url).toBe(before.server_url);
    expect(after.token_set).toBe(true);
    await expectAccessible(page, "admin notifications, phone, refused");
    await page.setViewportSize(DESKTOP);
  }, 60_000);

  test("the section loaded nothing from outside the gateway", () => {
    expect(opened.foreign).toEqual([]);
  });
});
