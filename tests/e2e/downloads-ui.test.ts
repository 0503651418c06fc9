/**
 * Model downloads in headless Chromium: the gateway (in-process) in front of the fake ComfyUI
 * reading a models directory on disk, with local fakes of CivitAI and its CDN. The `user` role
 * is given `can_download_models`. Bob, a user, signs in on the login page and, on his account
 * page: is told that a CivitAI download needs his key, saves the key (the input is a password
 * field, emptied afterwards; the key is never shown), pastes a CivitAI link that completes
 * (the file is in the models folder), pastes a throttled one whose progress bar and percentage
 * show while it runs, queues a tampered file and one more behind it (CivitAI's cap is 1), cancels
 * the queued one, and sees the tampered one fail with HASH_MISMATCH. Once nothing is queued or
 * running, the page stops asking for the list. The owner sees everyone's jobs in the admin app's
 * Downloads section, with the counters, and cancels Bob's running download after confirming
 * the password (step-up). A second gateway without downloads.models_dir says plainly that
 * downloads are off, naming the setting. Both views pass axe-core at desktop and phone width
 * and load nothing from outside the gateway.
 *
 * With MSS_SCREENSHOTS_DIR set: me-downloads-{desktop,phone}.png (the downloads card) and
 * admin-downloads-{desktop,phone}.png there.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { expectAccessible, isolatedContext, launchBrowser, ownerContext, screenshotIfAsked, stepUpIfAsked } from "../support/e2e.ts";
import { modelBytes, startFakeModelSources, type FakeModelSources } from "../support/fake-model-sources.ts";
import { createTestAccount, startTestGateway, TEST_PASSWORD, type TestAccount, type TestGateway } from "../support/gateway.ts";

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
const KiB = 1024;
const MiB = 1024 * KiB;
const API = "/mss-login/api/model-download";

const files = {
  quick: modelBytes(MiB, 11),
  slow: modelBytes(3 * MiB, 12),
  tampered: modelBytes(256 * KiB, 13),
  queued: modelBytes(256 * KiB, 14),
  running: modelBytes(16 * MiB, 15),
};

let modelsDir: string;
let fake: FakeComfyUI;
let sources: FakeModelSources;
let gateway: TestGateway;
let bob: TestAccount;
let browser: Browser;
let bobOpened: { context: BrowserContext; foreign: string[] };
let ownerOpened: { context: BrowserContext; foreign: string[] } | undefined;
let page: Page;

/** A locator's screenshot into MSS_SCREENSHOTS_DIR (nothing when unset). */
async function shotOf(target: Locator, name: string): Promise<void> {
  const dir = process.env.MSS_SCREENSHOTS_DIR;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  await target.page().waitForTimeout(150);
  await target.screenshot({ path: join(dir, `${name}.png`) });
}

const job = (id: string) => page.locator(`li.mss-dl-job[data-job="${id}"]`);

/** Pastes a link into the new-download form and returns the queued job's id. */
async function pasteAndDownload(url: string): Promise<string> {
  await page.getByLabel("Link to the model").fill(url);
  const answered = page.waitForResponse((response) => response.url().endsWith(`${API}/download`) && response.request().method() === "POST");
  await page.getByRole("button", { name: "Download", exact: true }).click();
  const response = await answered;
  const body = (await response.json()) as { job_id?: string; code?: string };
  expect(response.status(), JSON.stringify(body)).toBe(200);
  await job(body.job_id!).waitFor();
  return body.job_id!;
}

const statusOf = (id: string) => job(id).getAttribute("data-status");
async function waitForStatus(id: string, status: string, timeout = 15_000): Promise<void> {
  await page.locator(`li.mss-dl-job[data-job="${id}"][data-status="${status}"]`).waitFor({ timeout });
}

beforeAll(async () => {
  modelsDir = mkdtempSync(join(tmpdir(), "mss-models-"));
  for (const folder of ["checkpoints", "loras"]) mkdirSync(join(modelsDir, folder));
  fake = await startFakeComfyUI({ multiUser: true, modelsDir });
  sources = startFakeModelSources({
    civitai: {
      1: { name: "quick-model.safetensors", file: { content: files.quick } },
      2: { name: "slow-model.safetensors", file: { content: files.slow, bytesPer50Ms: 64 * KiB } },
      3: { name: "tampered-model.safetensors", file: { content: files.tampered, publishedSha256: "0".repeat(64) } },
      4: { name: "queued-model.safetensors", file: { content: files.queued } },
      5: { name: "long-running.safetensors", file: { content: files.running, bytesPer50Ms: 32 * KiB } },
    },
  });
  gateway = await startTestGateway(
    fake.url,
    [],
    {
      MSS_LOGIN_DOWNLOADS__MODELS_DIR: modelsDir,
      MSS_LOGIN_DOWNLOADS__TEST_SOURCES: sources.testSources,
      // One CivitAI download at a time: the next ones wait in the queue.
      MSS_LOGIN_DOWNLOADS__MAX_CIVITAI: "1",
    },
    "owner",
  );
  bob = await createTestAccount(gateway.dataDir, "bob", "user");
  // The user role may download (the owner's token carries the admin scope: no step-up for tokens).
  const granted = await gateway.fetch("/mss-login/api/groups", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ groups: { user: { can_download_models: true } } }) });
  expect(granted.status, await granted.clone().text()).toBe(200);
  browser = await launchBrowser();
  bobOpened = await isolatedContext(browser, gateway.url, DESKTOP);
  page = await bobOpened.context.newPage();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  await fake?.stop();
  sources?.stop();
  if (modelsDir) rmSync(modelsDir, { recursive: true, force: true });
});

describe("a user's downloads on the account page", () => {
  test("without a key a CivitAI link is refused with a pointer to the key; with it, the model downloads into the folder", async () => {
    await page.goto(`${gateway.url}/login?next=${encodeURIComponent("/mss-login/me")}`);
    await page.fill("#username", bob.username);
    await page.fill("#password", bob.password);
    await page.click("#submit");
    await page.waitForURL(`${gateway.url}/mss-login/me`);
    const card = page.locator("#downloads");
    await card.getByRole("heading", { name: "Model downloads", level: 2 }).waitFor();
    await card.locator(".mss-dl-summary").filter({ hasText: "You have not downloaded anything yet." }).waitFor();
    expect(await card.locator('[data-key-state="civitai"]').textContent()).toBe("not set");
    expect(await card.locator('[data-key-state="huggingface"]').textContent()).toBe("not set");
    // The folder picker lists ComfyUI's model folders, checkpoints first chosen.
    expect(await page.getByLabel("Save in folder").inputValue()).toBe("checkpoints");

    await page.getByLabel("Link to the model").fill("https://civitai.com/models/1001?modelVersionId=1");
    await page.getByRole("button", { name: "Download", exact: true }).click();
    const refusal = card.locator(".mss-dl-form [role=alert]");
    await refusal.filter({ hasText: "CivitAI API key" }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.getAttribute("name"))).toBe("civitai-api-key");

    const keyInput = page.getByLabel("CivitAI API key");
    expect(await keyInput.getAttribute("type")).toBe("password");
    await keyInput.fill(sources.civitaiKey);
    await page.getByRole("button", { name: "Save the CivitAI key" }).click();
    await card.locator('[data-key-state="civitai"]').filter({ hasText: /^set$/ }).waitFor();
    expect(await keyInput.inputValue()).toBe("");
    expect(await page.content()).not.toContain(sources.civitaiKey);
    expect(await page.getByRole("button", { name: "Clear the CivitAI key" }).isEnabled()).toBe(true);

    const quick = await pasteAndDownload("https://civitai.com/models/1001?modelVersionId=1");
    await waitForStatus(quick, "completed");
    expect(await job(quick).locator(".mss-dl-title").textContent()).toBe("quick-model.safetensors");
    expect(await job(quick).textContent()).toContain("checkpoints/quick-model.safetensors");
    expect(await job(quick).locator("[data-status]").first().textContent()).toBe("Done");
    expect(await job(quick).locator("button[data-dl-cancel]").isVisible()).toBe(false);
    expect(readFileSync(join(modelsDir, "checkpoints", "quick-model.safetensors")).equals(Buffer.from(files.quick))).toBe(true);
  }, 30_000);

  test("a slow download shows its progress; a queued one is cancelled; a tampered file fails with HASH_MISMATCH; polling then stops", async () => {
    const slow = await pasteAndDownload("https://civitai.com/models/1002?modelVersionId=2");
    const tampered = await pasteAndDownload("https://civitai.com/models/1003?modelVersionId=3");
    const queued = await pasteAndDownload("https://civitai.com/models/1004?modelVersionId=4");
    // Newest first.
    expect(await page.locator("li.mss-dl-job").evaluateAll((items) => items.map((item) => item.getAttribute("data-job")))).toEqual([queued, tampered, slow, expect.any(String)]);

    // The slow one runs: a progress value and a percentage appear, read every second.
    await page.waitForFunction((id) => {
      const bar = document.querySelector<HTMLProgressElement>(`li[data-job="${id}"] progress`);
      return bar !== null && bar.hasAttribute("value") && bar.value > 0 && bar.value < 100;
    }, slow, { timeout: 10_000 });
    expect(await job(slow).locator(".mss-dl-progress").textContent()).toMatch(/^[\d.]+ (kB|MB) of 3\.1 MB · \d+(\.\d)?% · /);
    expect(await job(slow).getAttribute("data-status")).toBe("running");
    // The progress bar is named by the file and its progress line.
    const barName = await job(slow).locator("progress").getAttribute("aria-labelledby");
    expect(barName?.split(" ")).toHaveLength(2);

    // The one behind it waits (CivitAI's cap is 1): cancelled without a question.
    expect(await statusOf(queued)).toBe("queued");
    expect(await job(queued).locator(".mss-dl-progress").textContent()).toBe("Waiting for a free download slot.");
    await page.getByRole("button", { name: "Cancel the download of CivitAI model version 4" }).click();
    await waitForStatus(queued, "cancelled");
    expect(await job(queued).locator("button[data-dl-cancel]").isVisible()).toBe(false);

    await waitForStatus(slow, "completed", 20_000);
    await waitForStatus(tampered, "failed", 20_000);
    const failure = job(tampered).locator(".mss-dl-error");
    expect(await failure.textContent()).toContain("HASH_MISMATCH");
    expect(await failure.textContent()).toContain("deleted");
    expect(existsSync(join(modelsDir, "checkpoints", "tampered-model.safetensors"))).toBe(false);
    expect(readdirSync(join(modelsDir, "checkpoints")).filter((name) => name.startsWith("."))).toEqual([]);
    // Said to screen readers as it happened.
    expect(await page.locator("[data-dl-live]").textContent()).toMatch(/tampered-model\.safetensors: failed|done|cancelled/);

    // Nothing is queued or running: the list is no longer asked for.
    let asked = 0;
    const count = (request: { url(): string }) => {
      if (request.url().endsWith(`${API}/jobs`)) asked += 1;
    };
    page.on("request", count);
    await page.waitForTimeout(2500);
    page.off("request", count);
    expect(asked).toBe(0);

    await expectAccessible(page, "my downloads, desktop");
  }, 45_000);

  test("at phone width the card passes the check and nothing overflows; the Hugging Face fields are checked before sending", async () => {
    await page.setViewportSize(PHONE);
    await page.reload();
    await page.locator("li.mss-dl-job").first().waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    await expectAccessible(page, "my downloads, phone");

    // Another way to ask: a Hugging Face file by repository and name (checked before sending).
    await page.getByLabel("Hugging Face file").check();
    expect(await page.getByLabel("Link to the model").isVisible()).toBe(false);
    await page.getByLabel("Repository", { exact: true }).waitFor();
    await page.getByRole("button", { name: "Download", exact: true }).click();
    await page.locator("#downloads .mss-dl-form [role=alert]").filter({ hasText: "Type the repository (org/name)." }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.getAttribute("name"))).toBe("repo_id");
    expect(await page.getByLabel("Repository", { exact: true }).getAttribute("aria-invalid")).toBe("true");
    await expectAccessible(page, "my downloads, Hugging Face fields, phone");
    await page.getByLabel("Paste a link").check();
    await page.setViewportSize(DESKTOP);
  }, 20_000);
});

describe("the admin app's Downloads section", () => {
  let owner: Page;
  let running: string;

  test("the owner sees everyone's jobs and the counters, and cancels Bob's running download after the step-up", async () => {
    // Bob starts a long download from a script (his API token).
    const queued = await fetch(`${gateway.url}${API}/download`, {
      method: "POST",
      headers: { authorization: `Bearer ${bob.token}`, "content-type": "application/json" },
      body: JSON.stringify({ source: "civitai", model_version_id: 5, folder_type: "loras" }),
    });
    expect(queued.status, await queued.clone().text()).toBe(200);
    running = ((await queued.json()) as { job_id: string }).job_id;

    // His page shows it running (it asks again by itself): the screenshots of his card.
    await page.reload();
    await page.waitForFunction((id) => (document.querySelector<HTMLProgressElement>(`li[data-job="${id}"] progress`)?.value ?? 0) >= 10, running, { timeout: 10_000 });
    await shotOf(page.locator("#downloads"), "me-downloads-desktop");
    await page.setViewportSize(PHONE);
    await shotOf(page.locator("#downloads"), "me-downloads-phone");
    await page.setViewportSize(DESKTOP);

    ownerOpened = await ownerContext(browser, gateway.url, gateway.account.username, TEST_PASSWORD, DESKTOP);
    owner = await ownerOpened.context.newPage();
    await owner.goto(`${gateway.url}/mss-login/admin#downloads`);
    await owner.getByRole("heading", { name: "Downloads", level: 2 }).waitFor();
    const table = owner.locator("table.mss-dl-table");
    await table.waitFor();
    const rows = table.locator("tbody tr[data-job]");
    expect(await rows.count()).toBe(5);
    expect(await rows.locator("th .mss-username").allTextContents()).toEqual(["bob", "bob", "bob", "bob", "bob"]);
    const runningRow = table.locator(`tr[data-job="${running}"]`);
    expect(await runningRow.getAttribute("data-status")).toBe("running");
    expect(await runningRow.locator(".mss-dl-name").textContent()).toBe("long-running.safetensors");
    expect(await runningRow.locator('td[data-label="Destination"]').textContent()).toBe("loras/");
    expect(await runningRow.locator("progress").getAttribute("value")).not.toBeNull();
    // A failure is told in a row of its own under the job.
    const failedId = await table.locator('tr[data-status="failed"]').getAttribute("data-job");
    const errorRow = table.locator(`tr.mss-dl-error-row[data-error-of="${failedId}"]`);
    expect(await errorRow.textContent()).toContain("HASH_MISMATCH");
    expect(await errorRow.textContent()).toContain("Error of tampered-model.safetensors:");
    // Completed jobs show the start of their SHA-256.
    const hashes = await table.locator('tr[data-status="completed"] td[data-label="SHA-256"] code').allTextContents();
    expect(hashes).toHaveLength(2);
    for (const hash of hashes) expect(hash).toMatch(/^[0-9a-f]{12}$/);
    expect(await owner.locator("[data-dl-counters]").textContent()).toContain("Running1 of 5");
    expect(await owner.locator("[data-dl-counters]").textContent()).toContain("CivitAI1 of 1 running");
    expect(await owner.locator("[data-dl-off]").count()).toBe(0);

    // Only what is active, then everything again.
    await owner.getByLabel("Show").selectOption("active");
    expect(await table.locator("tbody tr").count()).toBe(1);
    expect(await table.locator(`tbody tr[data-job="${running}"]`).count()).toBe(1);
    await owner.getByLabel("Show").selectOption("all");

    await expectAccessible(owner, "admin downloads, desktop");
    await screenshotIfAsked(owner, "admin-downloads-desktop");
    await owner.setViewportSize(PHONE);
    await owner.locator("table.mss-dl-table").waitFor();
    expect(await owner.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    await expectAccessible(owner, "admin downloads, phone");
    await screenshotIfAsked(owner, "admin-downloads-phone");
    await owner.setViewportSize(DESKTOP);

    // Cancelling someone else's job is an admin write: confirmed, then the password again.
    await owner.getByRole("button", { name: "Cancel bob's download of long-running.safetensors" }).click();
    await owner.locator("dialog.mss-dialog").getByRole("button", { name: "Cancel the download" }).click();
    await stepUpIfAsked(owner, TEST_PASSWORD, () => owner.locator(`table.mss-dl-table tr[data-job="${running}"][data-status="cancelled"]`).waitFor({ timeout: 15_000 }));
    expect(await owner.locator(".mss-outcome").textContent()).toContain("bob's download of long-running.safetensors is cancelled");
    // Bob's page shows it cancelled too.
    await waitForStatus(running, "cancelled", 5_000);
    expect(existsSync(join(modelsDir, "loras", "long-running.safetensors"))).toBe(false);
  }, 45_000);

  test("the pages loaded nothing from outside the gateway", () => {
    expect(bobOpened.foreign).toEqual([]);
    expect(ownerOpened?.foreign).toEqual([]);
  });
});

describe("downloads not configured", () => {
  test("the admin section names the setting; the account page says downloads are not set up", async () => {
    const bare = await startTestGateway(fake.url, [], {}, "owner");
    try {
      const opened = await ownerContext(browser, bare.url, bare.account.username, TEST_PASSWORD, DESKTOP);
      const admin = await opened.context.newPage();
      await admin.goto(`${bare.url}/mss-login/admin#downloads`);
      const note = admin.locator("[data-dl-off]");
      await note.waitFor();
      const text = (await note.textContent()) ?? "";
      expect(text).toContain("Model downloads are off");
      expect(text).toContain("downloads.models_dir");
      expect(text).toContain("MSS_LOGIN_DOWNLOADS__MODELS_DIR");
      expect(await admin.locator(".mss-nsfw-count").textContent()).toBe("Nobody has downloaded a model yet.");
      await expectAccessible(admin, "admin downloads, not configured");

      // A user whose role may not download does not see the card at all.
      const carol = await createTestAccount(bare.dataDir, "carol", "user");
      const carolOpened = await isolatedContext(browser, bare.url, DESKTOP);
      const carolPage = await carolOpened.context.newPage();
      await carolPage.goto(`${bare.url}/login?next=${encodeURIComponent("/mss-login/me")}`);
      await carolPage.fill("#username", carol.username);
      await carolPage.fill("#password", carol.password);
      await carolPage.click("#submit");
      await carolPage.waitForURL(`${bare.url}/mss-login/me`);
      await carolPage.getByRole("heading", { name: "API tokens", level: 2 }).waitFor();
      await carolPage.waitForLoadState("networkidle");
      expect(await carolPage.locator("#downloads").count()).toBe(0);
      expect(await carolPage.getByText("Model downloads").count()).toBe(0);
      await carolOpened.context.close();

      await admin.goto(`${bare.url}/mss-login/me`);
      const card = admin.locator("#downloads");
      await card.locator(".mss-me-warning").filter({ hasText: "Model downloads are not set up on this server." }).waitFor();
      expect(await card.locator("form.mss-dl-form").count()).toBe(0);
      await expectAccessible(admin, "my downloads, not configured");
      expect(opened.foreign).toEqual([]);
      await opened.context.close();
    } finally {
      await bare.stop();
    }
  }, 30_000);
});
