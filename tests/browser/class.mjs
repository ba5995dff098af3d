// A teacher enrols a class from the Class page, downloads the one-time passwords, and a
// student's first login asks for their own password; a student sees no Class page.
import { readFileSync } from "node:fs";
import { scenario, openLoggedIn, fillLogin, screenshot, BASE_URL } from "./lib.mjs";

await scenario("class", async ({ page, context, step }) => {
  step("the teacher opens the Class page from the menu");
  await openLoggedIn(page, "/", "teacher");
  await page.click("nav a[href='/class']");
  await page.waitForSelector("#class-file");

  step("the teacher uploads a class list and sees who was added");
  const list = "username,display name,groups\npupil1,Pia Pupil,class-z\npupil2,Paul Pupil,class-z\n";
  await page.setInputFiles("#class-file", { name: "class.csv", mimeType: "text/csv", buffer: Buffer.from(list) });
  await page.click("#class-import");
  await page.waitForSelector(".class-summary:has-text('2 added')");
  await screenshot(page, "class-enrolled");

  step("the one-time passwords download as CSV");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#class-passwords")]);
  const csv = readFileSync(await download.path(), "utf8");
  const row = csv.split("\n").find((l) => l.startsWith("pupil1,"));
  if (!row) throw new Error(`no pupil1 in ${csv}`);
  const oneTime = row.split(",")[1];

  step("the same list again changes nothing");
  await page.click("#class-import");
  await page.waitForSelector(".class-summary:has-text('2 unchanged')");

  step("the student's first login asks for their own password");
  const other = await context.browser().newContext();
  const student = await other.newPage();
  await student.goto(BASE_URL + "/");
  await fillLogin(student, "pupil1", oneTime);
  await student.waitForSelector("input[name=password-new]");
  await student.fill("input[name=password-new]", "pupil-own-password");
  await student.fill("input[name=password-confirm]", "pupil-own-password");
  await Promise.all([student.waitForNavigation(), student.click("#kc-update")]);
  await student.waitForSelector("#main", { timeout: 20000 });

  step("a student has no Class page, and the API refuses them");
  if (await student.$("nav a[href='/class']")) throw new Error("a student sees the Class page");
  await student.goto(BASE_URL + "/class");
  await student.setInputFiles("#class-file", { name: "c.csv", mimeType: "text/csv", buffer: Buffer.from("username\nx\n") });
  await student.click("#class-import");
  await student.waitForSelector("#class-result :text('teachers')");
  await other.close();
});
