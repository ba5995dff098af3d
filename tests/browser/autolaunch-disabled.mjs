// With web.auto_launch = false a launch link shows its values and waits for confirmation.
import { scenario, openLoggedIn, screenshot } from "./lib.mjs";
import { apiToken, apiGet, deleteService } from "./api.mjs";

await scenario("autolaunch-disabled", async ({ page, step }) => {
  const name = `confirm ${Date.now()}`;
  step("the link opens a confirmation naming the values it changes");
  await openLoggedIn(page, `/launcher/test/tiny?autoLaunch=true&name=${encodeURIComponent(name)}&resources.limits.cpu=%C2%AB300m%C2%BB`);
  await page.waitForSelector("dialog:has-text('Automatic launches from links are disabled')");
  const text = await page.textContent("dialog");
  if (!text.includes("resources.limits.cpu") || !text.includes("«300m»")) throw new Error(`dialog: ${text}`);
  await screenshot(page, "autolaunch-confirmation");
  const token = await apiToken(page);
  let { apps } = await apiGet(token, "/api/my-lab/services");
  if (apps.some((a) => a.friendlyName === name)) throw new Error("launched before confirmation");

  step("'Review first' leaves the form without launching");
  await page.click("dialog button:has-text('Review first')");
  await page.waitForSelector("#launch");
  ({ apps } = await apiGet(token, "/api/my-lab/services"));
  if (apps.some((a) => a.friendlyName === name)) throw new Error("launched after 'Review first'");

  step("opening the link again and confirming launches it");
  await page.reload();
  await page.goto(page.url() + "&autoLaunch=true");
  await page.click("dialog button:has-text('Launch')");
  await page.waitForURL((u) => new URL(u).pathname === "/my-services");
  await page.waitForSelector(`.service-card:has-text("${name}")`);
  ({ apps } = await apiGet(token, "/api/my-lab/services"));
  const app = apps.find((a) => a.friendlyName === name);
  if (!app || app.env["resources.limits.cpu"] !== "300m") throw new Error(`service: ${JSON.stringify(app?.env)}`);
  await deleteService(token, app.id);
});
