// My services: a service launched through the API is followed live, says when idle culling
// would pause it (and is kept running on demand), renamed, paused, resumed, its events, logs and notes read, and deleted; then "Delete all"; and in a group
// project, shared and unshared.
import { scenario, openLoggedIn, screenshot, BASE_URL } from "./lib.mjs";
import { apiToken, apiGet, apiHeaders, waitFor } from "./api.mjs";

async function launch(token, friendlyName, project) {
  const versions = await apiGet(token, "/api/my-lab/catalogs/test/charts/tiny");
  const name = `tiny-${Math.floor(Math.random() * 1e6)}`;
  const response = await fetch(`${BASE_URL}/api/my-lab/app`, {
    method: "PUT",
    headers: { ...apiHeaders(token, project), "content-type": "application/json" },
    body: JSON.stringify({ catalogId: "test", packageName: "tiny", packageVersion: versions[0].version, name, friendlyName, share: false, options: {} }),
  });
  if (!response.ok) throw new Error(`launch: HTTP ${response.status} ${await response.text()}`);
  return name;
}

const card = (id) => `.service-card[data-service="${id}"]`;

await scenario("services", async ({ page, step }) => {
  await openLoggedIn(page, "/my-services");
  const token = await apiToken(page);
  const friendly = `svc ${Date.now()}`;

  step("a service launched elsewhere appears and becomes running without a reload");
  await page.waitForSelector("#services");
  const id = await launch(token, friendly);
  await page.waitForSelector(`${card(id)}[data-state=running]`, { timeout: 90000 });
  const href = await page.getAttribute(`${card(id)} a:has-text("Open")`, "href");
  if (!href.startsWith(`http://${id}.`)) throw new Error(`Open links to ${href}`);
  await screenshot(page, "my-services-running");

  step("the service says when it pauses unless used (idle culling), and Keep running answers");
  await page.waitForSelector(`${card(id)} .cull-idle:text-matches("Pauses in 4[45] min unless used")`);
  await page.waitForSelector(`${card(id)} .cull-age:has-text("maximum age")`);
  await page.click(`${card(id)} button:has-text("Keep running")`);
  await page.waitForSelector(".toast:has-text('It keeps running')");

  step("the install's events are listed");
  await page.click("summary:has-text('Recent events')");
  await page.waitForFunction((id) => [...document.querySelectorAll("#events li")].some((li) => li.textContent.includes(id)), id);

  step("logs and notes");
  await page.click(`${card(id)} button:has-text("Logs")`);
  await page.waitForFunction(() => {
    const text = document.getElementById("service-logs")?.textContent || "";
    return text && text !== "Loading…";
  });
  await screenshot(page, "service-logs");
  await page.click("dialog button:has-text('Close')");
  await page.click(`${card(id)} button:has-text("Notes")`);
  await page.waitForSelector("dialog .notes-text");
  await page.click("dialog button:has-text('Close')");

  step("rename");
  const renamed = `${friendly} renamed`;
  await page.click(`${card(id)} button:has-text("Rename")`);
  await page.fill("dialog input", renamed);
  await page.click("dialog button.primary");
  await page.waitForSelector(`${card(id)} h2:has-text("${renamed}")`);
  const listed = (await apiGet(token, "/api/my-lab/services")).apps.find((a) => a.id === id);
  if (listed.friendlyName !== renamed) throw new Error(`API says ${listed.friendlyName}`);

  step("pause, then resume");
  await page.click(`${card(id)} button:has-text("Pause")`);
  await page.waitForSelector(`${card(id)}[data-state=suspended]`, { timeout: 60000 });
  await page.click(`${card(id)} button:has-text("Resume")`);
  await page.waitForSelector(`${card(id)}[data-state=running]`, { timeout: 90000 });

  step("delete");
  await page.click(`${card(id)} button:has-text("Delete")`);
  await page.click("dialog button.danger");
  await page.waitForSelector(card(id), { state: "detached" });
  await waitFor("the API to forget it", async () => !(await apiGet(token, "/api/my-lab/services")).apps.some((a) => a.id === id));

  step("delete all");
  const a = await launch(token, `${friendly} a`);
  const b = await launch(token, `${friendly} b`);
  await page.waitForSelector(card(a));
  await page.waitForSelector(card(b));
  await page.click("#delete-all");
  await page.click("dialog button.danger");
  await page.waitForSelector(".empty-state:has-text('No service yet')", { timeout: 60000 });
  const left = (await apiGet(token, "/api/my-lab/services")).apps;
  if (left.length) throw new Error(`${left.length} services left after Delete all`);

  step("in a group project, a service is shared with the other members");
  const group = (await apiGet(token, "/api/user/info")).projects.find((p) => p.group);
  await page.selectOption("#project-select", group.id);
  const shared = await launch(token, `${friendly} shared`, group.id);
  await page.waitForSelector(card(shared));
  await page.click(`${card(shared)} button:has-text("Share")`);
  await page.waitForSelector(`${card(shared)} .badge:has-text("shared")`);
  const inGroup = async () => (await apiGet(token, "/api/my-lab/services", group.id)).apps.find((a) => a.id === shared);
  if (!(await inGroup())?.share) throw new Error("the API does not say the service is shared");
  await page.click(`${card(shared)} button:has-text("Stop sharing")`);
  await page.waitForSelector(`${card(shared)} .badge:has-text("shared")`, { state: "detached" });
  if ((await inGroup()).share) throw new Error("the API still says the service is shared");
  await page.click(`${card(shared)} button:has-text("Delete")`);
  await page.click("dialog button.danger");
  await page.waitForSelector(card(shared), { state: "detached" });
});
