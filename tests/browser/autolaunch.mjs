// A classroom link opened while logged out: log in, and the service starts with no click, with
// the class's course data in it.
import { scenario, fillLogin, screenshot, BASE_URL } from "./lib.mjs";
import { apiToken, apiGet, deleteService, waitFor } from "./api.mjs";

await scenario("autolaunch", async ({ page, step }) => {
  const name = `class ${Date.now()}`;
  const link = `/launcher/test/tiny?autoLaunch=true&name=${encodeURIComponent(name)}&resources.limits.cpu=%C2%AB400m%C2%BB&persistence.enabled=false&init.personalInit=%C2%ABhttps%3A%2F%2Fexample.org%2Finit.sh%C2%BB&course.bucket=%C2%ABcourse-demo%C2%BB`;
  step("a logged-out student opens the link and is asked to log in");
  await page.goto(BASE_URL + link);
  await page.waitForSelector("input[name=username]");
  await fillLogin(page, "alice");

  step("after login the service is launched without any click");
  // The launcher navigates once the install request answered, which takes long on a busy
  // machine (the whole test suite shares two cores with its containers): the same budget as
  // the service's start below.
  await page.waitForURL((u) => new URL(u).pathname === "/my-services", { timeout: 90000 });
  await page.waitForSelector(`.service-card[data-state=running]:has-text("${name}")`, { timeout: 90000 });
  await screenshot(page, "my-services");

  step("exactly one such service exists, with the link's values");
  const token = await apiToken(page);
  const { apps } = await apiGet(token, "/api/my-lab/services");
  const mine = apps.filter((a) => a.friendlyName === name);
  if (mine.length !== 1) throw new Error(`${mine.length} services named ${name}`);
  const app = mine[0];
  if (app.env["resources.limits.cpu"] !== "400m") throw new Error(`cpu limit ${app.env["resources.limits.cpu"]}`);
  if (app.env["init.personalInit"] !== "https://example.org/init.sh") throw new Error(`init ${app.env["init.personalInit"]}`);
  if (app.env["course.bucket"] !== "course-demo") throw new Error(`course ${app.env["course.bucket"]}`);

  step("the student lands on the running service");
  const url = app.urls[0];
  const service = await page.context().newPage();
  await service.goto(url);
  const body = await service.textContent("body");
  if (!body.includes(app.id)) throw new Error(`the service page at ${url} says: ${body.slice(0, 200)}`);
  await screenshot(service, "running-service");

  step("the course named by the link is a read-only folder in the service");
  await service.goto(new URL("/file?path=/course/week1/welcome.md", url).href);
  const course = await service.textContent("body");
  if (course !== "ok\nWelcome to week 1") throw new Error(`the course file reads: ${course}`);

  step("reloading the launcher link's landing page does not launch twice");
  await page.goBack().catch(() => {});
  await waitFor("a stable list", async () => true);
  const again = await apiGet(token, "/api/my-lab/services");
  if (again.apps.filter((a) => a.friendlyName === name).length !== 1) throw new Error("launched twice");
  await deleteService(token, app.id);
});
