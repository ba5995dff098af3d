// A student's first login with the one-time password a teacher handed out: the login page asks
// for a password of their own (refusing two that differ), then the app opens; from then on the
// new password signs in without that step.
import { scenario, fillLogin, screenshot, BASE_URL } from "./lib.mjs";

const student = process.env.STUDENT;
const oneTime = process.env.ONE_TIME_PASSWORD;

await scenario("first-login", async ({ page, context, step }) => {
  step("the student signs in with the one-time password");
  await page.goto(BASE_URL + "/");
  await fillLogin(page, student, oneTime);

  step("the login page asks for a password of their own");
  await page.waitForSelector("input[name=password-new]");
  await screenshot(page, "update-password");
  await page.fill("input[name=password-new]", "my-own-password");
  await page.fill("input[name=password-confirm]", "not-the-same");
  await Promise.all([page.waitForNavigation(), page.click("#kc-update")]);
  await page.waitForSelector("#input-error");
  const says = await page.textContent("#input-error");
  if (!says.includes("don't match")) throw new Error(`unexpected message: ${says}`);
  await page.fill("input[name=password-new]", "my-own-password");
  await page.fill("input[name=password-confirm]", "my-own-password");
  await Promise.all([page.waitForNavigation(), page.click("#kc-update")]);

  step("the app opens, signed in as the student");
  await page.waitForSelector("#main", { timeout: 20000 });
  await page.waitForSelector(`.username:has-text('${student}')`);

  step("another browser signs in with the new password, without that step");
  const other = await context.browser().newContext();
  const second = await other.newPage();
  await second.goto(BASE_URL + "/");
  await fillLogin(second, student, "my-own-password");
  await second.waitForSelector("#main", { timeout: 20000 });
  await other.close();
});
