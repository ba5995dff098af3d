// Shared by the browser scenarios: start Chromium, log in, take screenshots, fail loudly.
// Each scenario is a script run by the Rust integration test (tests/it/web_ui.rs) against a
// platform it started; BASE_URL, SCREENSHOT_DIR and scenario-specific variables come from it.

import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const BASE_URL = required("BASE_URL");
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || join(tmpdir(), "onyxia-lite-screenshots");

export function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set; run this scenario through the integration test`);
    process.exit(2);
  }
  return value;
}

/** Starts Debian's Chromium with the flags that work on a closed network. */
export async function startBrowser() {
  const profile = mkdtempSync(join(tmpdir(), "onyxia-lite-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
    viewport: { width: 1366, height: 860 },
    acceptDownloads: true,
  });
  const page = context.pages()[0] || (await context.newPage());
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    // Failed requests are logged by Chromium too; scenarios assert on the statuses they expect.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  return {
    context,
    page,
    problems,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Fills the issuer's login form (the page must be on it). */
export async function fillLogin(page, username, password = username) {
  await page.waitForSelector("input[name=username]");
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit], input[type=submit]")]);
}

/** Opens `path` and logs in when the issuer asks; resolves once the app shell is shown. */
export async function openLoggedIn(page, path, username = "alice") {
  await page.goto(BASE_URL + path);
  await page.waitForSelector("input[name=username], #main", { timeout: 20000 });
  if (await page.$("input[name=username]")) await fillLogin(page, username);
  await page.waitForSelector("#main", { timeout: 20000 });
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

/** Runs a scenario: prints each step, saves a screenshot on failure, exits non-zero on error. */
export async function scenario(name, body) {
  const browser = await startBrowser();
  const step = (text) => console.log(`[${name}] ${text}`);
  try {
    await body({ ...browser, step });
    if (browser.problems.length) throw new Error(`the page reported errors:\n${browser.problems.join("\n")}`);
    step("ok");
  } catch (error) {
    console.error(`[${name}] FAILED: ${error.stack || error}`);
    try {
      await screenshot(browser.page, `${name}-failure`);
    } catch { /* the page may be gone */ }
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}
