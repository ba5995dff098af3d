// Logging in and out, and an ended session that logs in again without losing the page.
import { scenario, openLoggedIn, fillLogin, screenshot, BASE_URL } from "./lib.mjs";

await scenario("login", async ({ page, context, step }) => {
  step("a logged-out visitor is sent to the login form");
  await page.goto(BASE_URL + "/");
  await page.waitForSelector("input[name=username]");
  await screenshot(page, "login");

  step("a wrong password is refused on the form");
  await page.fill("input[name=username]", "alice");
  await page.fill("input[name=password]", "not-her-password");
  await page.click("button[type=submit]");
  await page.waitForSelector("#login-error");

  step("alice logs in and sees the app with her name");
  await fillLogin(page, "alice");
  await page.waitForSelector("#main");
  await page.waitForSelector(".username:has-text('alice')");
  const project = await page.$eval("#project-select", (s) => s.value);
  if (!project) throw new Error("no project selected after login");

  step("an ended session logs in again and comes back to the same page");
  await page.goto(BASE_URL + "/my-secrets?path=somewhere");
  await page.waitForSelector("#main");
  await page.evaluate(() => {
    for (const key of Object.keys(sessionStorage)) {
      if (!key.startsWith("onyxia-lite.tokens.")) continue;
      const saved = JSON.parse(sessionStorage.getItem(key));
      saved.expires_at = 0;
      saved.refresh_token = "revoked";
      sessionStorage.setItem(key, JSON.stringify(saved));
    }
  });
  await context.clearCookies();
  await page.reload();
  await page.waitForSelector("input[name=username]");
  await fillLogin(page, "alice");
  await page.waitForSelector("#main");
  const url = new URL(page.url());
  if (url.pathname !== "/my-secrets" || url.searchParams.get("path") !== "somewhere") {
    throw new Error(`came back to ${page.url()} instead of /my-secrets?path=somewhere`);
  }

  step("logging out ends the session at the issuer");
  await page.click("text=Log out");
  // The app lands on "/", which sends a logged-out visitor on to the login form: wait for the
  // form, or the next navigation races that redirect.
  await page.waitForSelector("input[name=username]");
  await page.goto(BASE_URL + "/my-services");
  await page.waitForSelector("input[name=username]");
});
