// The official onyxia-web: logging in through onyxia-lite's login page, the catalog listing every
// built-in package, and logging out (the session is over: a reload and a page that needs a user
// both ask for the login form again).
import { officialScenario, login, gotoApp, waitLoggedIn, screenshot, BASE_URL } from "./official-lib.mjs";

await officialScenario("login", async ({ page, step }) => {
  step("a visitor sees the app's home with a Login button, not logged in");
  await gotoApp(page, "/");
  await page.getByRole("button", { name: "Login" }).waitFor({ timeout: 30000 });
  await screenshot(page, "official-home-anonymous");

  step("Login goes to onyxia-lite's login form, which comes back to the app logged in as alice");
  await login(page, "alice");
  await page.getByText("Welcome Alice!").waitFor();
  await page.getByText("alice personal project").first().waitFor();
  if (new URL(page.url()).origin !== BASE_URL) throw new Error(`came back to ${page.url()}`);
  await screenshot(page, "official-home-alice");

  step("the catalog lists every built-in package, catalog by catalog");
  const { catalogs } = await (await fetch(`${BASE_URL}/api/public/catalogs`)).json();
  const expected = Object.fromEntries(catalogs.map((c) => [c.id, Object.keys(c.catalog.latestPackages)]));
  for (const [id, charts] of Object.entries({ ide: ["jupyter-python", "rstudio", "vscode-python"], databases: ["postgresql"], test: ["tiny"] })) {
    for (const chart of charts) {
      if (!expected[id]?.includes(chart)) throw new Error(`/api/public/catalogs lacks ${id}/${chart}: ${JSON.stringify(expected)}`);
    }
  }
  await page.getByRole("link", { name: "Service catalog" }).click();
  await page.waitForURL((u) => u.pathname.startsWith("/catalog"));
  for (const { id } of catalogs) {
    await gotoApp(page, `/catalog/${id}`);
    await waitLoggedIn(page);
    for (const chart of expected[id]) {
      // onyxia-web shows the chart name capitalized ("Jupyter-python"), with a Launch button.
      const title = chart.charAt(0).toUpperCase() + chart.slice(1);
      await page.getByText(title, { exact: true }).first().waitFor({ timeout: 20000 });
    }
    const launchButtons = await page.getByRole("button", { name: "Launch", exact: true }).count()
      + await page.getByRole("link", { name: "Launch", exact: true }).count();
    if (launchButtons !== expected[id].length) {
      throw new Error(`catalog ${id}: ${launchButtons} Launch buttons for ${expected[id].length} packages`);
    }
    await screenshot(page, `official-catalog-${id}`);
  }

  step("Logout ends the session: the app shows Login again");
  await page.getByRole("button", { name: "Logout" }).click();
  await page.getByRole("button", { name: "Login" }).waitFor({ timeout: 30000 });
  if (new URL(page.url()).origin !== BASE_URL) throw new Error(`logout ended on ${page.url()}`);

  step("a reload is still logged out");
  await page.reload();
  await page.getByRole("button", { name: "Login" }).waitFor({ timeout: 30000 });
  if (await page.getByRole("button", { name: "Logout" }).count()) throw new Error("logged in again after a reload");

  step("a page that needs a user asks for the login form again (no silent re-login)");
  await gotoApp(page, "/my-services");
  await page.waitForSelector("input[name=username]", { timeout: 30000 });
  await screenshot(page, "official-login-again");
});
