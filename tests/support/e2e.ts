/**
 * Shared pieces of the end-to-end tests: the fake ComfyUI (with its stand-in front end) and the
 * gateway as its own process, Chromium, and the checks every page must pass: nothing loaded
 * from outside the gateway, and an axe-core scan of form labels and contrast.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import * as OTPAuth from "otpauth";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { expect } from "bun:test";
import { launchBrowser } from "./browser.ts";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** A new browser context whose pages may load only from `origin` (recorded in `foreign`). */
export async function isolatedContext(browser: Browser, origin: string, options: { width?: number; height?: number; bypassCSP?: boolean } = {}): Promise<{ context: BrowserContext; foreign: string[] }> {
  const context = await browser.newContext({ viewport: { width: options.width ?? 1280, height: options.height ?? 800 }, bypassCSP: options.bypassCSP ?? false });
  const foreign: string[] = [];
  context.on("request", (request) => {
    const url = new URL(request.url());
    if (url.protocol === "data:" || url.protocol === "blob:" || url.protocol === "about:") return;
    if (url.origin !== origin) foreign.push(request.url());
  });
  return { context, foreign };
}

export interface AxeViolation {
  id: string;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/**
 * axe-core on the page (or below `selector`): form labels, names of buttons and links, and
 * colour contrast (WCAG 2 AA). Injected through the DevTools protocol, so the page's CSP does not
 * have to allow it.
 */
export async function accessibilityViolations(page: Page, selector?: string): Promise<AxeViolation[]> {
  await page.evaluate(axeSource);
  return page.evaluate(async (scope) => {
    const axe = (window as unknown as { axe: { run(context: unknown, options: unknown): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(scope ? { include: [scope] } : document, {
      runOnly: { type: "rule", values: ["label", "label-title-only", "select-name", "button-name", "link-name", "input-button-name", "color-contrast", "aria-input-field-name", "aria-toggle-field-name", "form-field-multiple-labels", "document-title", "html-has-lang", "image-alt", "duplicate-id-aria"] },
      resultTypes: ["violations"],
    });
    return result.violations.map((violation) => ({ id: violation.id, help: violation.help, nodes: violation.nodes.map((node) => ({ target: node.target, failureSummary: node.failureSummary })) }));
  }, selector ?? null);
}

export async function expectAccessible(page: Page, what: string, selector?: string): Promise<void> {
  const violations = await accessibilityViolations(page, selector);
  expect(violations, `${what}: ${JSON.stringify(violations, null, 1)}`).toEqual([]);
}

/** The code an authenticator app shows now (or `offsetMs` later: the gateway accepts one step of skew). */
export function totpCode(base32Secret: string, offsetMs = 0): string {
  return new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(base32Secret.replace(/\s+/g, "")), digits: 6, period: 30, algorithm: "SHA1" }).generate({ timestamp: Date.now() + offsetMs });
}

export { launchBrowser };

/** A full-page screenshot into MSS_SCREENSHOTS_DIR (`npm run screenshots`), from the top; nothing when unset. */
export async function screenshotIfAsked(page: Page, name: string): Promise<void> {
  const dir = process.env.MSS_SCREENSHOTS_DIR;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  // From the top: the navigation is sticky, and a full-page shot would show it where the page was scrolled to.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(200);
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

/**
 * Waits until `settled` or until the admin app asks for the password (step-up), which it answers
 * with `password`; true when it was asked.
 */
export async function stepUpIfAsked(page: Page, password: string, settled: () => Promise<unknown>): Promise<boolean> {
  const field = page.locator("dialog.mss-dialog input[type=password]");
  const asked = await Promise.race([
    field.waitFor({ state: "visible", timeout: 20_000 }).then(
      () => true,
      () => false,
    ),
    settled().then(
      () => false,
      () => false,
    ),
  ]);
  if (asked) {
    await field.fill(password);
    await page.locator("dialog.mss-dialog button[type=submit]").click();
    await field.waitFor({ state: "detached" });
  }
  await settled();
  return asked;
}

/** A browser context signed in as an owner (enrolling the second factor owners need), watching for foreign requests. */
export async function ownerContext(browser: Browser, gatewayUrl: string, username: string, password: string, viewport: { width?: number; height?: number }): Promise<{ context: BrowserContext; foreign: string[] }> {
  const opened = await isolatedContext(browser, gatewayUrl, viewport);
  const { signInEnrolling } = await import("./gateway.ts");
  const { cookie } = await signInEnrolling(gatewayUrl, username, password);
  const [name, ...value] = cookie.split("=");
  await opened.context.addCookies([{ name: name!, value: value.join("="), url: gatewayUrl }]);
  return opened;
}
