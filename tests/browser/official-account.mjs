// The official onyxia-web's My account → "Account management" leaves for the issuer's account
// console (Keycloak's: {issuer}/account?referrer=onyxia&referrer_uri=…&kc_locale=…), in the same
// tab. onyxia-lite's page there is expected to show the logged-in user ("alice"), a
// "Change password" form, and a link back to the app (role link, name containing "Back", href the
// referrer_uri); following it lands in the app, still logged in.
//
// What this relies on (kept simple on purpose, for the page to be written to): an HTML answer
// 200 at /realms/datalab/account; the text "alice" and the text "Change password" visible; an
// <a> whose accessible name contains "Back" and whose href is exactly the referrer_uri.
import { officialScenario, login, waitLoggedIn, screenshot, BASE_URL } from "./official-lib.mjs";

await officialScenario("account", async ({ page, step }) => {
  step("My account shows alice's identifiers");
  await login(page, "alice");
  await page.getByRole("link", { name: "My account" }).click();
  await page.waitForURL((u) => u.pathname.startsWith("/account"));
  await page.getByText("Account identifier").waitFor();
  await page.getByText("alice", { exact: true }).first().waitFor();
  await screenshot(page, "official-account-app");

  step("Account management goes to the issuer's account page, with the app as referrer");
  const management = page.getByRole("button", { name: "Account management" }).or(page.getByRole("link", { name: "Account management" }));
  const [response] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === "/realms/datalab/account" && r.request().isNavigationRequest(), { timeout: 30000 }),
    management.first().click(),
  ]);
  const url = new URL(response.url());
  if (url.origin !== BASE_URL) throw new Error(`Account management went to ${url}`);
  if (url.searchParams.get("referrer") !== "onyxia") throw new Error(`referrer is ${url.searchParams.get("referrer")} in ${url}`);
  const referrerUri = url.searchParams.get("referrer_uri");
  if (!referrerUri || new URL(referrerUri).origin !== BASE_URL) throw new Error(`referrer_uri is ${referrerUri} in ${url}`);
  const type = response.headers()["content-type"] || "";
  if (response.status() !== 200 || !type.startsWith("text/html")) {
    throw new Error(`GET ${url.pathname}${url.search} answered ${response.status()} ${type}: ${(await response.text()).slice(0, 200)} (the account page is not implemented yet?)`);
  }
  await page.waitForLoadState();
  await screenshot(page, "official-account-issuer");

  step("the account page shows alice, a Change password form and a link back to the app");
  await page.getByText("alice").first().waitFor({ timeout: 15000 });
  await page.getByText("Change password").first().waitFor({ timeout: 15000 });
  const back = page.getByRole("link", { name: /Back/ });
  await back.first().waitFor({ timeout: 15000 });
  const href = await back.first().getAttribute("href");
  if (new URL(href, page.url()).toString() !== new URL(referrerUri).toString()) {
    throw new Error(`the Back link goes to ${href}, not to the referrer_uri ${referrerUri}`);
  }

  step("the Back link returns to the app, still logged in");
  await back.first().click();
  await page.waitForURL((u) => u.toString() === new URL(referrerUri).toString() || u.origin === BASE_URL && !u.pathname.startsWith("/realms/"), { timeout: 30000 });
  await waitLoggedIn(page);
  await screenshot(page, "official-account-back");
});
