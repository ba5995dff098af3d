// A teacher's usage report: a service runs for a while, then the Class page shows who used
// what, a chart of services running at once, and the same report as CSV.
import { readFileSync } from "node:fs";
import { scenario, openLoggedIn, screenshot, BASE_URL } from "./lib.mjs";
import { apiToken, apiGet, apiHeaders } from "./api.mjs";

await scenario("class-usage", async ({ page, step }) => {
  step("the teacher launches a service, which runs while the platform looks at it");
  await openLoggedIn(page, "/my-services", "teacher");
  const token = await apiToken(page);
  const versions = await apiGet(token, "/api/my-lab/catalogs/test/charts/tiny");
  const name = `usage-${Math.floor(Math.random() * 1e6)}`;
  const launched = await fetch(`${BASE_URL}/api/my-lab/app`, {
    method: "PUT",
    headers: { ...apiHeaders(token), "content-type": "application/json" },
    body: JSON.stringify({ catalogId: "test", packageName: "tiny", packageVersion: versions[0].version, name, options: {} }),
  });
  if (!launched.ok) throw new Error(`launch: HTTP ${launched.status}`);
  await page.waitForSelector(`.service-card[data-service="${name}"][data-state=running]`, { timeout: 90000 });
  // The platform looks every second here: wait for a few looks.
  await page.waitForTimeout(3500);

  step("the Class page shows the teacher's usage and a chart of services running at once");
  await page.goto(BASE_URL + "/class");
  await page.waitForSelector("#usage-users tr[data-usage='teacher']");
  const launchedCount = await page.textContent("#usage-users tr[data-usage='teacher'] td:nth-child(5)");
  if (launchedCount.trim() !== "1") throw new Error(`services launched: ${launchedCount}`);
  await page.waitForSelector("#usage-chart path");
  await page.waitForSelector("#usage-groups tr[data-usage='teachers']");
  await screenshot(page, "class-usage");

  step("the report downloads as CSV");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#usage-csv")]);
  const csv = readFileSync(await download.path(), "utf8");
  if (!csv.startsWith("kind,name,groups,running_hours") || !/\nuser,teacher,[^\n]*,1,/.test(csv)) throw new Error(`CSV: ${csv}`);

  step("a date that is not one is refused with the server's words");
  await page.fill("#usage-since", "last term");
  await page.click("#class-usage button:has-text('Show')");
  await page.waitForSelector("#usage-body :text('is not a date')");

  await fetch(`${BASE_URL}/api/my-lab/app?path=${name}`, { method: "DELETE", headers: apiHeaders(token) });
});
