// Malformed launch links say what is wrong and launch nothing; x-security asks first.
import { scenario, openLoggedIn, screenshot } from "./lib.mjs";
import { apiToken, apiGet } from "./api.mjs";

await scenario("bad-links", async ({ page, step }) => {
  await openLoggedIn(page, "/catalog");
  const token = await apiToken(page);
  const before = (await apiGet(token, "/api/my-lab/services")).apps.length;

  step("an unknown chart");
  await page.goto(page.url().replace(/\/catalog.*$/, "/launcher/test/no-such-chart?autoLaunch=true"));
  await page.waitForSelector("text=The catalog has no service");

  step("a value without guillemets");
  await page.goto(page.url().replace(/\/launcher.*$/, "/launcher/test/tiny?autoLaunch=true&resources.limits.cpu=lots"));
  await page.waitForSelector("#link-problems");
  const syntax = await page.textContent("#link-problems");
  if (!syntax.includes("resources.limits.cpu") || !syntax.includes("«lots»")) throw new Error(`problems: ${syntax}`);

  step("a value failing the schema, and a setting the chart does not have");
  await page.goto(page.url().replace(/\/launcher.*$/, "/launcher/test/tiny?autoLaunch=true&resources.limits.memory=%C2%ABa%20lot%C2%BB&no.such=true"));
  await page.waitForSelector("#link-problems");
  const schema = await page.textContent("#link-problems");
  if (!schema.includes("resources.limits.memory") || !schema.includes("no.such")) throw new Error(`problems: ${schema}`);
  await screenshot(page, "launcher-bad-link");

  step("an x-security value outside its pattern asks before launching");
  await page.goto(page.url().replace(/\/launcher.*$/, "/launcher/test/tiny?autoLaunch=true&init.personalInit=%C2%ABhttps%3A%2F%2Fevil.example%2Fx.sh%C2%BB"));
  await page.waitForSelector("dialog:has-text('protected settings')");
  await page.click("dialog button:has-text('Review first')");

  step("an unknown version falls back to the newest, saying so");
  await page.goto(page.url().replace(/\/launcher.*$/, "/launcher/test/tiny?version=9.9.9"));
  await page.waitForSelector("text=Version 9.9.9 does not exist");

  const after = (await apiGet(token, "/api/my-lab/services")).apps.length;
  if (after !== before) throw new Error(`${after - before} services were launched by bad links`);
});
