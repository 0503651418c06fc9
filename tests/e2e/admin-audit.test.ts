/**
 * The admin app's audit log section in headless Chromium: the gateway (in-process) in front of the
 * fake ComfyUI, the owner signed in. Events are produced first (failed sign-ins, the owner's own
 * sign-in, IP rule changes through the API); the section shows the chain as intact with the head
 * hash the API reports, the entries newest first, a filter on `login.failure` that leaves only
 * those (and export links that carry it), paging with "Older entries" and "Newest", and passes
 * axe-core at desktop and phone width, loading nothing from outside the gateway.
 *
 * With MSS_SCREENSHOTS_DIR set, the section is saved as admin-audit-desktop.png and admin-audit-phone.png there.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { expectAccessible, launchBrowser, ownerContext, screenshotIfAsked } from "../support/e2e.ts";
import { createTestAccount, startTestGateway, TEST_PASSWORD, type TestGateway } from "../support/gateway.ts";

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

interface Item {
  id: number;
  action: string;
  outcome: string;
}

let fake: FakeComfyUI;
let gateway: TestGateway;
let browser: Browser;
let opened: { context: BrowserContext; foreign: string[] };
let page: Page;

const entries = async (query = ""): Promise<Item[]> => ((await (await gateway.fetch(`/mss-login/api/audit?limit=500${query}`)).json()) as { items: Item[] }).items;
const rows = () => page.locator("table.mss-audit-table tbody tr");
const rowIds = async (): Promise<number[]> => (await rows().evaluateAll((list) => list.map((row) => Number(row.getAttribute("data-id")))));

const shot = (name: string): Promise<void> => screenshotIfAsked(page, name);

async function openSection(): Promise<void> {
  const target = `${gateway.url}/mss-login/admin#audit`;
  if (page.url() === target) await page.reload();
  else await page.goto(target);
  await page.getByRole("heading", { name: "Audit log", level: 2 }).waitFor();
  await page.locator("[data-audit-chain] [data-intact]").waitFor();
  await page.waitForLoadState("networkidle");
}

beforeAll(async () => {
  fake = await startFakeComfyUI({ multiUser: true });
  gateway = await startTestGateway(fake.url, [], {}, "owner");
  browser = await launchBrowser();
  // Two failed sign-ins and a successful one (a plain user: no second factor).
  await createTestAccount(gateway.dataDir, "alice", "user");
  const signIn = (username: string, password: string) =>
    fetch(`${gateway.url}/login`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", origin: gateway.url },
      body: JSON.stringify({ username, password }),
    });
  for (const username of [gateway.account.username, "nobody-here"]) expect((await signIn(username, "not the password")).ok).toBe(false);
  expect((await signIn("alice", TEST_PASSWORD)).status).toBe(200);
  opened = await ownerContext(browser, gateway.url, gateway.account.username, TEST_PASSWORD, DESKTOP);
  // IP rule changes as the owner (token with the admin scope: no step-up), enough entries for two pages of 10.
  for (let round = 0; round < 6; round += 1) {
    const saved = await gateway.fetch("/mss-login/api/ip-lists", {
      method: "PUT",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ whitelist: [], blacklist: [{ ip: `198.51.100.${round + 1}`, permanent: true, reason: "manual" }] }),
    });
    expect(saved.status).toBe(200);
  }
  page = await opened.context.newPage();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  await fake?.stop();
});

describe("the admin app's audit log section", () => {
  test("the chain is shown intact with the API's head hash, and the entries newest first", async () => {
    const all = await entries();
    expect(all.filter((item) => item.action === "login.failure")).toHaveLength(2);
    expect(all.some((item) => item.action === "login.success")).toBe(true);
    expect(all.length).toBeGreaterThan(10);
    const verify = (await (await gateway.fetch("/mss-login/api/audit/verify")).json()) as { intact: boolean; entries: number; head: string };
    expect(verify.intact).toBe(true);

    await openSection();
    const chain = (await page.locator("[data-audit-chain]").textContent()) ?? "";
    expect(chain).toContain("Intact");
    expect(chain).toContain("entries verified, head hash");
    expect(chain).toContain(`${verify.head.slice(0, 16)}…`);
    expect(await page.locator('[data-audit-chain] [data-intact="true"] .mss-badge-good').count()).toBe(1);

    // Newest first: the first page (50) holds every entry read before opening, in that order.
    const shown = await rowIds();
    const allIds = all.map((item) => item.id);
    expect(shown.filter((id) => allIds.includes(id))).toEqual(allIds);
    expect(shown).toEqual([...shown].sort((a, b) => b - a));
    expect(await page.locator('tr[data-action="login.failure"]').count()).toBe(2);
    expect(await page.locator('tr[data-action="login.success"] .mss-badge-good').count()).toBeGreaterThan(0);
    // A saved IP rule change is one entry with its counts (the generic write entry is left out for it).
    expect(await page.locator('tr[data-action="ip.rules.replaced"]').first().textContent()).toContain("deny: 1");
    expect(await page.locator('tr[data-action="PUT /mss-login/api/ip-lists"]').count()).toBe(0);

    // "Check again" reads the chain again.
    await page.getByRole("button", { name: "Check again" }).click();
    await page.locator('[data-audit-chain] [data-intact="true"]').waitFor();

    await expectAccessible(page, "admin audit, desktop");
  }, 60_000);

  test("filtering by login.failure (Enter in the field) shows only those, and the export links carry the filter", async () => {
    await openSection();
    const action = page.getByLabel("Action starts with");
    await action.fill("login.failure");
    await action.press("Enter");
    await page.getByText("Page 1: 2 entries, newest first.").waitFor();
    expect(await rows().count()).toBe(2);
    expect(await rows().evaluateAll((list) => list.map((row) => row.getAttribute("data-action")))).toEqual(["login.failure", "login.failure"]);
    expect(await rows().evaluateAll((list) => list.map((row) => row.getAttribute("data-outcome")))).toEqual(["failure", "failure"]);

    const ndjson = page.getByRole("link", { name: "Export NDJSON" });
    const csv = page.getByRole("link", { name: "Export CSV" });
    const ndjsonHref = (await ndjson.getAttribute("href")) ?? "";
    expect(ndjsonHref).toStartWith("/mss-login/api/audit/export?");
    const query = new URLSearchParams(ndjsonHref.split("?")[1]);
    expect(query.get("action")).toBe("login.failure");
    expect(query.get("format")).toBe("ndjson");
    expect(await ndjson.getAttribute("download")).toBe("");
    expect(new URLSearchParams(((await csv.getAttribute("href")) ?? "").split("?")[1]).get("format")).toBe("csv");
    // The link works with the session cookie: two lines, both failures.
    const body = await page.evaluate(async (href) => (await fetch(href)).text(), ndjsonHref);
    const lines = body.trim().split("\n").map((line) => JSON.parse(line) as Item);
    expect(lines.map((line) => line.action)).toEqual(["login.failure", "login.failure"]);

    // Outcome "Failure" with the same prefix still gives both; "Success" gives none.
    await page.getByLabel("Outcome").selectOption({ label: "Success" });
    await page.getByRole("button", { name: "Apply" }).click();
    await page.getByText("No entry matches the filters.").waitFor();
    expect(await rows().count()).toBe(0);
    expect(new URLSearchParams(((await ndjson.getAttribute("href")) ?? "").split("?")[1]).get("outcome")).toBe("success");
  }, 60_000);

  test("paging: 10 per page, Older entries continues below the first page, Newest goes back", async () => {
    await openSection();
    await page.getByLabel("Entries per page").selectOption("10");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.getByText("Page 1: 10 entries, newest first, older ones on the next page.").waitFor();
    const first = await rowIds();
    expect(first).toHaveLength(10);
    expect(await page.getByRole("button", { name: "Newest" }).isDisabled()).toBe(true);

    await page.getByRole("button", { name: "Older entries" }).click();
    await page.getByText(/^Page 2: /).waitFor();
    const second = await rowIds();
    expect(second.length).toBeGreaterThan(0);
    expect(Math.max(...second)).toBeLessThan(Math.min(...first));
    expect(Math.max(...second)).toBe(Math.min(...first) - 1);

    await page.getByRole("button", { name: "Newest" }).click();
    await page.getByText(/^Page 1: 10 entries/).waitFor();
    expect((await rowIds())[0]).toBeGreaterThanOrEqual(first[0]!);
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot("admin-audit-desktop");
  }, 60_000);

  test("at phone width the rows stack and the section passes the check", async () => {
    await page.setViewportSize(PHONE);
    await openSection();
    await page.getByLabel("Entries per page").selectOption("10");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.getByText(/^Page 1: 10 entries/).waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    // Stacked: the column headers are hidden, each cell carries its label.
    expect(await page.locator("table.mss-audit-table tbody tr").first().evaluate((row) => getComputedStyle(row).display)).toBe("grid");
    await expectAccessible(page, "admin audit, phone");
    await shot("admin-audit-phone");
    await page.setViewportSize(DESKTOP);
  }, 60_000);

  test("the section loaded nothing from outside the gateway", () => {
    expect(opened.foreign).toEqual([]);
  });
});
