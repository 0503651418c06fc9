/**
 * The admin app's IP rules section in headless Chromium: the gateway (in-process) in front of the
 * fake ComfyUI, the owner signed in. The owner adds a deny entry for 24 hours and types an
 * invalid allow entry: Save is refused with the problem named and nothing is stored; fixed, the
 * lists are saved (the browser is on loopback, which an allow list never refuses) and the deny
 * entry keeps its expiry. Removing the deny entry and saving again empties the deny list. The
 * section passes axe-core at desktop and phone width, and loads nothing from outside the gateway.
 *
 * With MSS_SCREENSHOTS_DIR set, the section is saved as admin-ip-rules-desktop.png and admin-ip-rules-phone.png there.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { expectAccessible, launchBrowser, ownerContext, screenshotIfAsked, stepUpIfAsked as answerStepUp } from "../support/e2e.ts";
import { startTestGateway, TEST_PASSWORD, type TestGateway } from "../support/gateway.ts";

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

interface Lists {
  whitelist: string[];
  blacklist: { ip: string; permanent: boolean; expires_at?: number; reason: string }[];
  locked_devices: unknown[];
  your_ip: string;
}

let fake: FakeComfyUI;
let gateway: TestGateway;
let browser: Browser;
let opened: { context: BrowserContext; foreign: string[] };
let page: Page;

const lists = async (): Promise<Lists> => (await (await gateway.fetch("/mss-login/api/ip-lists")).json()) as Lists;
const denyRow = (ip: string) => page.locator(`table.mss-ip-deny tr[data-ip="${ip}"]`);

const shot = (name: string): Promise<void> => screenshotIfAsked(page, name);

/** Waits until `settled` or until the admin app asks for the password (step-up), which it answers. */
const stepUpIfAsked = (settled: () => Promise<unknown>): Promise<boolean> => answerStepUp(page, TEST_PASSWORD, settled);

async function openSection(): Promise<void> {
  const target = `${gateway.url}/mss-login/admin#ip-rules`;
  if (page.url() === target) await page.reload();
  else await page.goto(target);
  await page.getByRole("heading", { name: "IP rules", level: 2 }).waitFor();
  await page.getByRole("heading", { name: "Deny list" }).waitFor();
  await page.waitForLoadState("networkidle");
}

beforeAll(async () => {
  fake = await startFakeComfyUI({ multiUser: true });
  gateway = await startTestGateway(fake.url, [], {}, "owner");
  browser = await launchBrowser();
  // The owner (the gateway's test account) signs in, enrolling the second factor owners need.
  opened = await ownerContext(browser, gateway.url, gateway.account.username, TEST_PASSWORD, DESKTOP);
  page = await opened.context.newPage();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  await fake?.stop();
});

describe("the admin app's IP rules section", () => {
  const allow = () => page.getByLabel("Allowed addresses and ranges");
  const save = () => page.getByRole("button", { name: "Save", exact: true });
  const counter = () => page.locator(".mss-savebar-count");

  test("an invalid allow entry is refused with the problem named and nothing stored; fixed, the lists are saved", async () => {
    expect(await lists()).toMatchObject({ whitelist: [], blacklist: [] });
    await openSection();
    const yourIp = (await lists()).your_ip;
    expect(await page.locator(".mss-section-intro").textContent()).toContain(`Your address: ${yourIp}`);
    expect(await page.locator(".mss-section-intro").textContent()).toContain("never refused");
    expect(await save().isDisabled()).toBe(true);
    expect(await counter().textContent()).toBe("No unsaved changes");

    // A deny entry for 24 hours, and an allow entry with host bits set.
    await page.getByLabel("Address or CIDR range").fill("203.0.113.0/24");
    await page.getByLabel("Duration").selectOption({ label: "24 hours" });
    await page.getByRole("button", { name: "Add", exact: true }).click();
    await denyRow("203.0.113.0/24").waitFor();
    expect(await denyRow("203.0.113.0/24").textContent()).toContain("For 24 hours from saving");
    await allow().fill("10.0.0.1/8");
    expect(await counter().textContent()).toBe("2 unsaved changes");

    await save().click();
    const alert = page.locator(".mss-savebar .mss-alert");
    await stepUpIfAsked(() => alert.waitFor({ timeout: 20_000 }));
    const text = (await alert.textContent()) ?? "";
    expect(text).toContain("Nothing was saved");
    expect(text).toContain("Allow list, line 1");
    expect(text).toContain("10.0.0.1/8");
    expect(text).toContain("did you mean 10.0.0.0/8?");
    expect(await allow().getAttribute("aria-invalid")).toBe("true");
    expect(await lists()).toMatchObject({ whitelist: [], blacklist: [] });
    // The draft stays for fixing.
    expect(await counter().textContent()).toBe("2 unsaved changes");

    await allow().fill("10.0.0.0/8\n\n2001:db8::/32\n");
    await save().click();
    await stepUpIfAsked(() => page.locator(".mss-savebar .mss-ok").waitFor({ timeout: 20_000 }));
    expect(await counter().textContent()).toBe("No unsaved changes");
    expect(await allow().getAttribute("aria-invalid")).toBeNull();
    const stored = await lists();
    expect(stored.whitelist).toEqual(["10.0.0.0/8", "2001:db8::/32"]);
    expect(stored.blacklist).toHaveLength(1);
    const entry = stored.blacklist[0]!;
    expect(entry).toMatchObject({ ip: "203.0.113.0/24", permanent: false, reason: "manual" });
    expect(Math.abs(entry.expires_at! - (Date.now() / 1000 + 24 * 3600))).toBeLessThan(120);
    // Shown with its end time now.
    await denyRow("203.0.113.0/24").waitFor();
    expect(await denyRow("203.0.113.0/24").textContent()).toContain("Until ");

    await expectAccessible(page, "admin ip rules, desktop");
    await shot("admin-ip-rules-desktop");
  }, 60_000);

  test("saving again keeps the deny entry's expiry (it does not become permanent)", async () => {
    const before = (await lists()).blacklist[0]!;
    await openSection();
    await allow().fill("10.0.0.0/8");
    await save().click();
    await stepUpIfAsked(() => page.locator(".mss-savebar .mss-ok").waitFor({ timeout: 20_000 }));
    const after = await lists();
    expect(after.whitelist).toEqual(["10.0.0.0/8"]);
    expect(after.blacklist[0]).toMatchObject({ ip: "203.0.113.0/24", permanent: false });
    // Remaining hours rounded up: at most one hour later than before.
    expect(after.blacklist[0]!.expires_at! - before.expires_at!).toBeGreaterThanOrEqual(-1);
    expect(after.blacklist[0]!.expires_at! - before.expires_at!).toBeLessThanOrEqual(3600);
  }, 60_000);

  test("at phone width the section passes the check; removing the deny entry and saving empties the deny list", async () => {
    await page.setViewportSize(PHONE);
    await openSection();
    await denyRow("203.0.113.0/24").waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    await expectAccessible(page, "admin ip rules, phone");
    await shot("admin-ip-rules-phone");

    await page.getByRole("button", { name: "Remove 203.0.113.0/24 from the deny list" }).click();
    await denyRow("203.0.113.0/24").waitFor({ state: "detached" });
    expect(await page.getByText("No address is denied.").isVisible()).toBe(true);
    expect(await counter().textContent()).toBe("1 unsaved change");
    await save().click();
    await stepUpIfAsked(() => page.locator(".mss-savebar .mss-ok").waitFor({ timeout: 20_000 }));
    const stored = await lists();
    expect(stored.blacklist).toEqual([]);
    expect(stored.whitelist).toEqual(["10.0.0.0/8"]);
    await page.setViewportSize(DESKTOP);
  }, 60_000);

  test("the section loaded nothing from outside the gateway", () => {
    expect(opened.foreign).toEqual([]);
  });
});
