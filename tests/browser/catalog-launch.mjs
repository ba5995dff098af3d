// The catalog, the launcher form, and a launch that ends on a running service.
import { scenario, openLoggedIn, screenshot, BASE_URL } from "./lib.mjs";
import { apiToken, apiGet, deleteService } from "./api.mjs";

await scenario("catalog-launch", async ({ page, step }) => {
  const friendly = `tiny ${Date.now()}`;
  step("the catalog lists the built-in services and filters them");
  await openLoggedIn(page, "/");
  await page.waitForSelector("#catalog-cards .card");
  await page.fill("#catalog-search", "tiny");
  await page.waitForFunction(() => document.querySelectorAll("#catalog-cards .card").length === 1);
  await screenshot(page, "catalog");

  step("the launcher shows the schema's form with context defaults");
  await page.click("a[aria-label='Launch tiny']");
  await page.waitForSelector("#launch");
  await page.waitForSelector("input[type=range]");
  const password = await page.inputValue("#f-security__password");
  if (!password) throw new Error("security.password did not get {{project.password}} from the context");
  // The custom image field is hidden until its checkbox is ticked (schema `hidden` with a path).
  if (await page.$("#f-service__image__custom__version")) throw new Error("custom image shown while disabled");
  await page.check("#f-service__image__custom__enabled");
  await page.waitForSelector("#f-service__image__custom__version");
  await page.uncheck("#f-service__image__custom__enabled");
  await page.fill("#friendly-name", friendly);
  await page.fill("#f-resources__limits__cpu", "600m");
  // The URL mirrors the change, as a launch-link patch.
  await page.waitForFunction(() => new URL(location.href).searchParams.get("resources.limits.cpu") === "«600m»");
  step("an invalid value is refused next to its field");
  await page.fill("#f-resources__limits__memory", "lots");
  await page.click("#launch");
  await page.waitForSelector("#f-resources__limits__memory-error:not(:empty)");
  if (new URL(page.url()).pathname !== "/launcher/test/tiny") throw new Error("launched with an invalid value");
  await page.fill("#f-resources__limits__memory", "128Mi");
  await screenshot(page, "launcher");

  step("launching goes to My services, where it becomes running");
  await page.click("#launch");
  await page.waitForURL((u) => new URL(u).pathname === "/my-services");
  const card = page.locator(".service-card", { hasText: friendly });
  await card.waitFor();
  await page.waitForSelector(`.service-card[data-state=running]:has-text("${friendly}")`, { timeout: 90000 });

  step("the API shows the values chosen in the form");
  const token = await apiToken(page);
  const { apps } = await apiGet(token, "/api/my-lab/services");
  const app = apps.find((a) => a.friendlyName === friendly);
  if (!app) throw new Error("the launched service is not listed by the API");
  if (app.env["resources.limits.cpu"] !== "600m") throw new Error(`resources.limits.cpu is ${app.env["resources.limits.cpu"]}`);
  await deleteService(token, app.id);
});
