// The official onyxia-web: the test package `tiny` launched from its launcher, followed in My
// Services until it runs, opened with its Open button (the notes dialog, the password copied, then
// "Open the service"), its logs read on its page, then from inside the container (its /env and
// /fetch endpoints) Vault and S3 are reached with what the platform gave it; then renamed,
// suspended, resumed and deleted from its card, each step checked through the API too.
import {
  officialScenario, openApp, gotoApp, waitLoggedIn, screenshot, required, BASE_URL,
  oidcToken, listServices, deleteService, waitFor, s3Request,
} from "./official-lib.mjs";

const S3_URL = required("S3_URL");
const base = new URL(BASE_URL);

/** onyxia-web shows names with their first letter capitalized. */
const capitalize = (s) => s.charAt(0).toUpperCase() + s.slice(1);

await officialScenario("services", async ({ page, context, step, expectHttpError, mark, recoverFromNetworkChange }) => {
  const run = `${Date.now() % 1e6}`;
  const friendly = `Official ${run}`;
  const renamed = `Renamed ${run}`;
  const token = await oidcToken("alice");
  let id;
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE_URL });
  // The card of a service, found by the name it shows (its title is a link only while it runs).
  const card = (name) => page.locator('[class*="MyServicesCard-root"]').filter({ has: page.getByText(capitalize(name), { exact: true }) });
  const app = async () => (await listServices(await oidcToken("alice"))).find((a) => a.id === id);

  try {
    step("My Services opens (its code, cached, will not be fetched again while a container starts)");
    await openApp(page, "/my-services");
    await page.getByRole("heading", { name: "My Services", level: 2 }).waitFor();
    // The command bar's highlighted code is the last lazy module the page loads.
    await page.getByText("helm list --namespace user-alice").first().waitFor();
    await page.waitForTimeout(2000);

    step("the test catalog's tiny opens its launcher; the form launches it with a friendly name");
    await gotoApp(page, "/catalog/test");
    await waitLoggedIn(page);
    const tinyCard = page.getByText("Tiny", { exact: true }).first()
      .locator("xpath=ancestor::*[.//*[self::button or self::a][normalize-space()='Launch']][1]");
    await tinyCard.getByText("Launch", { exact: true }).click();
    await page.waitForURL((u) => u.pathname === "/launcher/test/tiny");
    const friendlyField = page.getByLabel("Friendly name");
    await friendlyField.fill(friendly);
    await screenshot(page, "official-services-launcher");
    const launched = mark();
    await page.getByRole("button", { name: "Launch", exact: true }).click();
    await page.waitForURL((u) => u.pathname === "/my-services", { timeout: 30000 });
    await recoverFromNetworkChange(page, launched);

    step("My Services shows it starting, then running (Started:, Open)");
    await card(friendly).waitFor({ timeout: 30000 });
    await card(friendly).getByText("Started:").waitFor({ timeout: 90000 });
    // onyxia-web opens the notes by itself once a service launched from its launcher is ready,
    // and hides the rest of the page from the accessibility tree meanwhile: once the API says
    // it is ready, let that dialog come and close it (the Open step opens the notes again).
    await waitFor("the service to be ready", async () => {
      const listed = (await listServices(await oidcToken("alice"))).find((a) => a.friendlyName === friendly);
      return listed?.tasks?.[0]?.containers?.[0]?.ready === true;
    }, 90000);
    const notes = page.getByRole("dialog");
    if (await notes.waitFor({ timeout: 20000 }).then(() => true, () => false)) {
      await notes.getByText("is running").waitFor();
      await notes.getByRole("button", { name: "Return" }).click();
      await notes.waitFor({ state: "hidden" });
    }
    const href = await card(friendly).getByRole("link", { name: capitalize(friendly) }).getAttribute("href");
    id = href.replace(/^\/my-service\//, "");
    if (!/^[a-z0-9-]+$/.test(id) || id === href) throw new Error(`the card's title links to ${href}`);
    const listed = await app();
    if (!listed) throw new Error(`the API does not list ${id}`);
    if (listed.friendlyName !== friendly) throw new Error(`the API's friendlyName is ${listed.friendlyName}`);
    if (listed.chart !== undefined && !String(listed.chart).startsWith("tiny")) throw new Error(`chart is ${listed.chart}`);
    await screenshot(page, "official-services-running");

    step("Open shows the notes with a link to the service; the password is copied, then the service opens");
    await card(friendly).getByRole("button", { name: "Open", exact: true }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText(`The tiny service ${id} is running`).waitFor();
    // The notes link to the service at http://<release>.<the platform's host>/.
    const serviceUrl = await dialog.getByRole("link", { name: "open it" }).getAttribute("href");
    const expectedHost = `${id}.${base.host}`;
    if (new URL(serviceUrl).host !== expectedHost || new URL(serviceUrl).pathname !== "/") {
      throw new Error(`the notes link to ${serviceUrl}, not http://${expectedHost}/`);
    }
    await screenshot(page, "official-services-open-dialog");
    await dialog.getByRole("button", { name: "Click to copy the password" }).click();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    const openLink = dialog.getByRole("link", { name: "Open the service" });
    if ((await openLink.getAttribute("href")) !== serviceUrl) throw new Error(`"Open the service" goes to ${await openLink.getAttribute("href")}`);
    const [tab] = await Promise.all([context.waitForEvent("page"), openLink.click()]);
    await tab.waitForLoadState();
    if (tab.url() !== serviceUrl) throw new Error(`the service opened at ${tab.url()}`);
    await tab.getByText("Hello from a tiny service").waitFor();
    await tab.getByText(`release ${id}`).waitFor();
    await screenshot(tab, "official-services-service-page");

    step("inside the container: its environment (/env) has the password, S3 and Vault settings");
    const envResponse = await tab.goto(`${serviceUrl}env`);
    if (envResponse.status() !== 200) throw new Error(`/env answered ${envResponse.status()}`);
    const env = JSON.parse(await tab.locator("body").innerText());
    if (env.PASSWORD !== copied) throw new Error(`copied password ${copied} but the service has ${env.PASSWORD}`);
    for (const k of ["AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "VAULT_ADDR", "VAULT_TOKEN"]) {
      if (!env[k]) throw new Error(`the service's environment lacks ${k}: ${Object.keys(env).join(", ")}`);
    }
    // A known bug of older builds: onyxia-web sends s3.endpoint "host:port" and s3.port 80, and the
    // chart made https://localhost:PORT:80 of them.
    if (!/^https?:\/\/[^/:]+(:\d+)?\/?$/.test(env.AWS_ENDPOINT_URL)) {
      throw new Error(`AWS_ENDPOINT_URL is not a URL: ${env.AWS_ENDPOINT_URL} (known bug: endpoint host:port plus port)`);
    }
    const fetchInside = async (url, header) => {
      const query = new URLSearchParams({ url, ...(header ? { header } : {}) });
      const response = await tab.goto(`${serviceUrl}fetch?${query}`);
      if (response.status() !== 200) throw new Error(`/fetch answered ${response.status()}`);
      const text = await response.text();
      const newline = text.indexOf("\n");
      return { status: Number(text.slice(0, newline)), body: text.slice(newline + 1) };
    };

    step(`inside the container: Vault at ${env.VAULT_ADDR} accepts its token (lookup-self)`);
    const vault = await fetchInside(`${env.VAULT_ADDR.replace(/\/$/, "")}/v1/auth/token/lookup-self`, `X-Vault-Token: ${env.VAULT_TOKEN}`);
    if (vault.status !== 200) throw new Error(`Vault lookup-self from inside: ${vault.status} ${vault.body.slice(0, 300)}`);
    const self = JSON.parse(vault.body);
    if (self.data?.meta?.username !== undefined && self.data.meta.username !== "alice") throw new Error(`the token is ${JSON.stringify(self.data.meta)}`);

    step(`inside the container: S3 at ${env.AWS_ENDPOINT_URL} answers (anonymous GET of alice's bucket: 403 AccessDenied)`);
    const s3 = await fetchInside(`${env.AWS_ENDPOINT_URL.replace(/\/$/, "")}/user-alice/`);
    if (s3.status !== 403 || !s3.body.includes("<Code>AccessDenied</Code>")) throw new Error(`S3 from inside: ${s3.status} ${s3.body.slice(0, 300)}`);

    step("the service's S3 credentials are valid (signed ListObjectsV2 of alice's bucket, from here)");
    const listing = await s3Request(S3_URL, {
      accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN,
    }, "GET", "/user-alice", { query: { "list-type": "2" }, region: env.AWS_DEFAULT_REGION || "us-east-1" });
    if (listing.status !== 200 || !listing.body.toString().includes("<ListBucketResult")) {
      throw new Error(`ListObjectsV2 with the service's credentials: ${listing.status} ${listing.body.toString().slice(0, 300)}`);
    }
    await tab.close();

    step("its page (the card's title) shows its logs, with the page requests just made");
    await card(friendly).getByRole("link", { name: capitalize(friendly) }).click();
    await page.waitForURL((u) => u.pathname === `/my-service/${id}`);
    await page.getByText(`${friendly} Monitoring`, { exact: false }).or(page.getByText(`${friendly.toLowerCase()} Monitoring`)).first().waitFor();
    await page.getByText("tiny service listening on port 8080").waitFor({ timeout: 30000 });
    await page.getByText("page requested").first().waitFor({ timeout: 30000 });
    await screenshot(page, "official-services-logs");
    await page.getByRole("button", { name: "Back" }).click();
    await page.waitForURL((u) => u.pathname === "/my-services");

    step("rename: the pencil makes the title a field; Enter saves the new friendly name");
    await card(friendly).locator('[class*="MyServicesCard-aboveDivider"] button').first().click();
    const field = page.locator('[class*="MyServicesCard-root"] input[type=text]');
    await field.waitFor();
    await field.fill(renamed);
    await field.press("Enter");
    await card(renamed).waitFor({ timeout: 30000 });
    await waitFor("the API to have the new friendly name", async () => (await app())?.friendlyName === renamed, 30000);
    await page.reload();
    await card(renamed).getByText("Started:").waitFor({ timeout: 30000 });

    step("suspend (the pause button, tooltip 'Suspend the service…'): the card says Suspended");
    const pause = card(renamed).locator("span > button").first();
    await pause.hover();
    await page.getByRole("tooltip", { name: "Suspend the service and release resources" }).waitFor();
    const suspended = mark();
    await pause.click();
    await card(renamed).getByText("Suspended", { exact: true }).waitFor({ timeout: 60000 });
    await recoverFromNetworkChange(page, suspended);
    await card(renamed).getByText("Suspended", { exact: true }).waitFor({ timeout: 30000 });
    await waitFor("the API to say it is suspended", async () => {
      const a = await app();
      return a && (a.suspended === true || a.env?.["global.suspend"] === "true" || a.env?.["global.suspend"] === true);
    }, 30000);
    if (await card(renamed).getByRole("button", { name: "Open", exact: true }).count()) throw new Error("a suspended service still offers Open");
    await screenshot(page, "official-services-suspended");
    // A suspended service does not answer at its address (any error status will do).
    expectHttpError((status, method, url) => url.hostname === `${id}.${base.hostname}`);
    const probe = await context.newPage();
    const asleep = await probe.goto(serviceUrl).catch((e) => e);
    if (!(asleep instanceof Error) && asleep.status() === 200 && (await probe.content()).includes("Hello from a tiny service")) {
      throw new Error("the suspended service still serves its page");
    }

    step("resume (the play button, tooltip 'Resume the service'): it runs again and serves its page");
    const play = card(renamed).locator("span > button").first();
    await play.hover();
    await page.getByRole("tooltip", { name: "Resume the service" }).waitFor();
    const resumed = mark();
    await play.click();
    await card(renamed).getByText("Started:").waitFor({ timeout: 90000 });
    await recoverFromNetworkChange(page, resumed);
    await card(renamed).getByText("Started:").waitFor({ timeout: 90000 });
    await card(renamed).getByRole("button", { name: "Open", exact: true }).waitFor();
    await waitFor("the service to serve its page again", async () => {
      const r = await probe.goto(serviceUrl).catch(() => null);
      return r && r.status() === 200 && (await probe.content()).includes("Hello from a tiny service");
    }, 60000, 1000);
    await probe.close();

    step("delete (the bin, then 'Yes, delete'): the card goes, the API forgets it");
    await card(renamed).locator('[class*="MyServicesCard-belowDividerBottom"] > button').first().click();
    const confirm = page.getByRole("dialog");
    await confirm.getByText("Are you sure?").waitFor();
    const deleted = mark();
    await confirm.getByRole("button", { name: "Yes, delete" }).click();
    await card(renamed).waitFor({ state: "detached", timeout: 60000 });
    await waitFor("the API to forget it", async () => !(await app()), 60000);
    await recoverFromNetworkChange(page, deleted);
    await page.getByText("You don't have any service running").or(page.getByText("Running services")).first().waitFor();
    if (await card(renamed).count()) throw new Error("the deleted service is shown again after a reload");
    await screenshot(page, "official-services-deleted");
    id = undefined;
  } finally {
    if (id) await deleteService(await oidcToken("alice"), id).catch((e) => console.error(`cleanup: ${e}`));
  }
});
