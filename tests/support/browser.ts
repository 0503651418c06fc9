/**
 * Headless Chromium for the end-to-end tests: Debian's `chromium` driven by playwright-core (no
 * browser download). The flags keep it off the network: without them Chromium phones home at
 * start and, on a closed machine, logs refused connections.
 */
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM_PATH = process.env.MSS_TEST_CHROMIUM ?? "/usr/bin/chromium";

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"],
  });
}
