/**
 * The admin app's NSFW section in headless Chromium: the gateway (in-process, one classifier
 * worker, loaded on first need) in front of the fake ComfyUI. A user makes three images
 * (SaveImage through the gateway, then replaced by safe generated pictures so that the blur
 * shows), the owner tags them NSFW through the API; in the section the owner sees them blurred in
 * the "blocked" list, reveals one, marks one safe (it leaves the list), starts, stops (after a
 * confirmation) and starts the classifier from the status card, answering the password re-entry
 * (step-up) the gateway asks for, and re-scans everything since yesterday. The section passes
 * axe-core at desktop and phone width, and loads nothing from outside the gateway.
 *
 * With MSS_SCREENSHOTS_DIR set, the section is saved as admin-nsfw-desktop.png and admin-nsfw-phone.png there.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { expectAccessible, launchBrowser, ownerContext, screenshotIfAsked, stepUpIfAsked as answerStepUp } from "../support/e2e.ts";
import { createTestAccount, startTestGateway, TEST_PASSWORD, type TestAccount, type TestGateway } from "../support/gateway.ts";
import { safeImage, type SafePattern } from "../support/nsfw-images.ts";

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

interface OutputFile {
  type: string;
  subfolder: string;
  filename: string;
}

let fake: FakeComfyUI;
let gateway: TestGateway;
let alice: TestAccount;
let browser: Browser;
let opened: { context: BrowserContext; foreign: string[] };
let page: Page;
const images: OutputFile[] = [];

const pathOf = (file: OutputFile): string => [file.type, file.subfolder, file.filename].filter((part) => part !== "").join("/");
const row = (file: OutputFile) => page.locator(`li.mss-nsfw-item[data-file="${pathOf(file)}"]`);

async function as(account: TestAccount, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${account.token}`);
  if (typeof init.body === "string") headers.set("content-type", "application/json");
  return fetch(gateway.url + path, { ...init, headers });
}

/** Alice queues EmptyImage → SaveImage through the gateway; her history (read through the gateway) records the output as hers. */
async function makeOutput(prefix: string, pattern: SafePattern): Promise<OutputFile> {
  const prompt = { "1": { class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: 1, color: 0x203040 + images.length } }, "9": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: prefix } } };
  const queued = await as(alice, "/api/prompt", { method: "POST", body: JSON.stringify({ prompt }) });
  const body = (await queued.json()) as { prompt_id: string };
  expect(queued.status, JSON.stringify(body)).toBe(200);
  await fake.waitForIdle(10_000);
  const history = (await (await as(alice, `/api/history/${body.prompt_id}`)).json()) as Record<string, { outputs: Record<string, { images?: OutputFile[] }> }>;
  const file = history[body.prompt_id]?.outputs["9"]?.images?.[0];
  expect(file, JSON.stringify(history)).toBeDefined();
  // The fake's outputs are flat colours: a generated picture in their place makes the blur visible.
  fake.createFile({ type: "output", subfolder: file!.subfolder, filename: file!.filename, content: await safeImage("png", 256, pattern) });
  return file!;
}

const shot = (name: string): Promise<void> => screenshotIfAsked(page, name);

const stepUpIfAsked = (settled: () => Promise<unknown>): Promise<boolean> => answerStepUp(page, TEST_PASSWORD, settled);

async function openSection(): Promise<void> {
  const target = `${gateway.url}/mss-login/admin#nsfw`;
  // The same URL again would only be a fragment navigation: load the page afresh.
  if (page.url() === target) await page.reload();
  else await page.goto(target);
  await page.getByRole("heading", { name: "NSFW guard", level: 2 }).waitFor();
  await page.getByRole("heading", { name: "Judged images" }).waitFor();
  await page.waitForLoadState("networkidle");
}

/** Every thumbnail in view has loaded (they are lazy). */
async function thumbnailsLoaded(): Promise<void> {
  await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>("img.mss-nsfw-image")].every((image) => image.complete && image.naturalWidth > 0), null, { timeout: 10_000 });
}

beforeAll(async () => {
  fake = await startFakeComfyUI({ multiUser: true });
  gateway = await startTestGateway(fake.url, [], { MSS_LOGIN_NSFW__WORKERS: "1" }, "owner");
  alice = await createTestAccount(gateway.dataDir, "alice", "user");
  images.push(await makeOutput("nsfw-landscape", "landscape"), await makeOutput("nsfw-drawing", "drawing"), await makeOutput("nsfw-noise", "noise"));
  for (const file of images) {
    const tagged = await gateway.fetch("/mss-login/api/nsfw/tag", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...file, is_nsfw: true }) });
    expect(tagged.status, await tagged.clone().text()).toBe(200);
    expect(((await tagged.json()) as { verdict: { nsfw: boolean } }).verdict.nsfw).toBe(true);
  }
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

describe("the admin app's NSFW section", () => {
  let askedForPassword = false;

  test("the blocked list shows the tagged images blurred; one is revealed; marking it safe takes it off the list", async () => {
    await openSection();
    for (const file of images) await row(file).waitFor();
    await thumbnailsLoaded();
    const first = row(images[0]!);
    const second = row(images[1]!);
    // The thumbnail is ComfyUI's own preview of the file, blurred, named by the file.
    const image = first.locator("img.mss-nsfw-image");
    expect(await image.getAttribute("alt")).toBe(images[0]!.filename);
    expect(await image.getAttribute("loading")).toBe("lazy");
    const src = new URL((await image.getAttribute("src"))!, gateway.url);
    expect(src.pathname).toBe("/api/view");
    expect(Object.fromEntries(src.searchParams)).toEqual({ filename: images[0]!.filename, subfolder: images[0]!.subfolder, type: "output", preview: "webp;60" });
    expect(await image.evaluate((element) => getComputedStyle(element).filter)).toContain("blur");
    expect(await first.textContent()).toContain(pathOf(images[0]!));
    expect(await first.textContent()).toContain("alice");
    expect(await first.textContent()).toContain("Marked NSFW by a person");

    // Reveal: the blur goes, the button says what it does now; the other image stays blurred.
    await first.getByRole("button", { name: `Reveal the image ${images[0]!.filename}` }).click();
    await page.waitForFunction((element) => getComputedStyle(element!).filter === "none", await image.elementHandle(), { timeout: 5000 });
    await first.getByRole("button", { name: `Blur the image ${images[0]!.filename}` }).waitFor();
    expect(await second.locator("img.mss-nsfw-image").evaluate((element) => getComputedStyle(element).filter)).toContain("blur");

    await page.getByRole("button", { name: "Stop the classifier" }).or(page.getByRole("button", { name: "Start the classifier" })).waitFor();
    await expectAccessible(page, "admin nsfw, desktop");

    // Mark safe: the image is visible to checked users again and leaves the "blocked" list.
    await first.getByRole("button", { name: `Mark safe: ${images[0]!.filename}` }).click();
    askedForPassword = (await stepUpIfAsked(() => first.waitFor({ state: "detached", timeout: 20_000 }))) || askedForPassword;
    await second.waitFor();
    const check = (await (await gateway.fetch(`/mss-login/api/nsfw/check?${new URLSearchParams({ ...images[0]!, username: "alice", fast: "1" })}`)).json()) as { verdict: { nsfw: boolean; manual_tag: string } };
    expect(check.verdict).toMatchObject({ nsfw: false, manual_tag: "safe" });

    // It is still listed under "Tagged by a person", marked safe.
    await page.getByLabel("Show", { exact: true }).selectOption("tagged");
    await first.waitFor();
    expect(await first.textContent()).toContain("Marked safe by a person");
    await page.getByLabel("Show", { exact: true }).selectOption("blocked");
    await first.waitFor({ state: "detached" });
  }, 60_000);

  test("the classifier is started, stopped (after a confirmation) and started again from the status card", async () => {
    const status = page.locator("[data-nsfw-status]");
    const start = page.getByRole("button", { name: "Start the classifier" });
    const stop = page.getByRole("button", { name: "Stop the classifier" });
    const running = () => status.getByText("Running", { exact: true }).waitFor({ timeout: 60_000 });
    await start.or(stop).waitFor();
    // Test gateways load the model on first need: until then the card offers to load it now.
    if (await start.isVisible()) {
      expect(await status.textContent()).toContain("Not loaded");
      await start.click();
      askedForPassword = (await stepUpIfAsked(running)) || askedForPassword;
    }
    await stop.waitFor();

    await stop.click();
    const confirm = page.locator("dialog.mss-dialog");
    await confirm.waitFor();
    expect(await confirm.textContent()).toContain("Checked users will see no images until it is started again");
    await confirm.getByRole("button", { name: "Stop the classifier" }).click();
    askedForPassword = (await stepUpIfAsked(() => status.getByText("Stopped by an administrator").waitFor({ timeout: 20_000 }))) || askedForPassword;
    // Admin writes ask for the password again: at the latest here.
    expect(askedForPassword).toBe(true);
    const stopped = (await (await gateway.fetch("/mss-login/api/nsfw/status")).json()) as { stopped_by_admin: boolean; available: boolean };
    expect(stopped).toMatchObject({ stopped_by_admin: true, available: false });

    await start.click();
    await running();
    await stop.waitFor();
    const started = (await (await gateway.fetch("/mss-login/api/nsfw/status")).json()) as { state: string; stopped_by_admin: boolean; available: boolean; ready: number };
    expect(started).toMatchObject({ state: "ready", stopped_by_admin: false, available: true, ready: 1 });
  }, 120_000);

  test("re-scanning everything since yesterday has the images scored; at desktop width the section passes the check again", async () => {
    // Background scans cut short by the stop are not retried by themselves: the tool queues every recorded file again.
    await page.getByRole("button", { name: "Re-scan", exact: true }).click();
    await stepUpIfAsked(() => page.locator(".mss-outcome").getByText(/queued for a new scan/).waitFor({ timeout: 20_000 }));
    expect(await page.locator(".mss-outcome").textContent()).toContain(`${images.length} files queued for a new scan.`);
    const scored = async () => {
      const list = (await (await gateway.fetch("/mss-login/api/nsfw/verdicts?filter=tagged")).json()) as { items: { file: OutputFile; scores: unknown }[] };
      return images.every((image) => list.items.some((item) => item.file.filename === image.filename && item.scores !== null));
    };
    for (let i = 0; i < 300 && !(await scored()); i++) await Bun.sleep(100);
    expect(await scored()).toBe(true);
    await openSection();
    const drawing = row(images[1]!);
    await drawing.waitFor();
    await row(images[2]!).waitFor();
    await thumbnailsLoaded();
    expect(await drawing.textContent()).toMatch(/(Drawing|Hentai|Neutral|Porn|Sexy) \d+(\.\d)?%/);
    await drawing.getByRole("button", { name: `Reveal the image ${images[1]!.filename}` }).click();
    await page.waitForFunction((element) => getComputedStyle(element!).filter === "none", await drawing.locator("img").elementHandle(), { timeout: 5000 });
    await expectAccessible(page, "admin nsfw with scores, desktop");
    await shot("admin-nsfw-desktop");
  }, 60_000);

  test("at phone width the rows stack and the section passes the label and contrast check", async () => {
    await page.setViewportSize(PHONE);
    await openSection();
    const second = row(images[1]!);
    await second.waitFor();
    await thumbnailsLoaded();
    // Stacked: the thumbnail above the file's details, both within the screen.
    const thumb = (await second.locator(".mss-nsfw-thumb").boundingBox())!;
    const body = (await second.locator(".mss-nsfw-body").boundingBox())!;
    expect(body.y).toBeGreaterThanOrEqual(thumb.y + thumb.height - 1);
    expect(body.x + body.width).toBeLessThanOrEqual(PHONE.width);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    await expectAccessible(page, "admin nsfw, phone");
    await shot("admin-nsfw-phone");
    await page.setViewportSize(DESKTOP);
  }, 60_000);

  test("the section loaded nothing from outside the gateway", () => {
    expect(opened.foreign).toEqual([]);
  });
});
