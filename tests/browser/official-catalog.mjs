// The official onyxia-web's launcher form renders for EVERY built-in package: from each catalog's
// page, the package's Launch button opens its form (onyxia-web reads the chart's values.schema.json;
// a schema it cannot read makes it throw a ZodError and stay on its splash screen). Each form shows
// its Launch button and its sections, every section opens, and no page error happens. Nothing is
// launched (only `tiny` could run on a closed network).
import { officialScenario, login, gotoApp, waitLoggedIn, screenshot, BASE_URL } from "./official-lib.mjs";

await officialScenario("catalog", async ({ page, step }) => {
  const { catalogs } = await (await fetch(`${BASE_URL}/api/public/catalogs`)).json();
  const packages = catalogs.flatMap((c) => Object.keys(c.catalog.latestPackages).map((chart) => ({ catalog: c.id, chart, version: c.catalog.latestPackages[chart].version })));
  if (packages.length < 5) throw new Error(`only ${packages.length} built-in packages: ${JSON.stringify(packages)}`);

  await login(page, "alice");
  for (const { catalog, chart, version } of packages) {
    step(`${catalog}/${chart} ${version}: the catalog card's Launch opens its form`);
    await gotoApp(page, `/catalog/${catalog}`);
    await waitLoggedIn(page);
    const title = chart.charAt(0).toUpperCase() + chart.slice(1);
    const card = page.getByText(title, { exact: true }).first()
      .locator("xpath=ancestor::*[.//*[self::button or self::a][normalize-space()='Launch']][1]");
    await card.getByText("Launch", { exact: true }).click({ timeout: 20000 });
    await page.waitForURL((u) => u.pathname === `/launcher/${catalog}/${chart}`, { timeout: 20000 });

    // The form is there: its header names the chart, its Launch button shows, with the version.
    const launch = page.getByRole("button", { name: "Launch", exact: true });
    await launch.waitFor({ timeout: 30000 });
    await page.getByText(`The Helm chart ${chart} belongs to`).waitFor();
    await page.getByLabel("Friendly name").waitFor();
    await page.getByText(version, { exact: true }).first().waitFor();
    if (!(await launch.isEnabled())) throw new Error(`${catalog}/${chart}: the Launch button is disabled`);

    // Every section of the form (MUI accordions) opens without an error.
    const sections = page.locator(".MuiAccordionSummary-root");
    const count = await sections.count();
    if (count === 0) throw new Error(`${catalog}/${chart}: the form has no section`);
    for (let i = 0; i < count; i++) {
      await sections.nth(i).click();
      await page.locator(".MuiAccordion-root").nth(i).locator(".MuiAccordionDetails-root").first().waitFor({ state: "visible" });
    }
    // The command bar shows the helm command for this chart.
    await page.getByText(`test/${chart}`).or(page.getByText(`${catalog}/${chart}`)).first().waitFor();
    await screenshot(page, `official-launcher-${catalog}-${chart}`);
    if (new URL(page.url()).pathname !== `/launcher/${catalog}/${chart}`) throw new Error(`left the launcher for ${page.url()}`);
  }
});
