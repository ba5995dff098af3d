// A teacher enrols a class from the Class page, downloads the one-time passwords, limits the
// class; a student's first login asks for their own password, they see the class's limits in
// My services, and they see no Class page.
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

  step("the teacher limits the class, and a mistake is refused with the server's words");
  await page.selectOption("#limits-scope", "groups");
  await page.fill("#limits-name", "class-z");
  await page.fill("#limits-services", "1");
  await page.fill("#limits-s3Storage", "lots");
  await page.click("#limits-save");
  await page.waitForSelector("#limits-status :text('s3Storage')");
  await page.fill("#limits-s3Storage", "5Gi");
  await page.click("#limits-save");
  await page.waitForSelector("tr[data-limits='groups/class-z'] :text('5Gi')");
  await screenshot(page, "class-limits");

  step("a limit set for a student who is not enrolled is refused");
  await page.selectOption("#limits-scope", "users");
  await page.fill("#limits-name", "alice");
  await page.click("#limits-save");
  await page.waitForSelector("#limits-status :text('account of the platform')");
  if (await page.$("#limits-status :text('Switch project')")) throw new Error("a project hint on a class refusal");
  await page.waitForSelector("tr[data-limits='groups/class-z']");

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

  step("the student sees the class's limits in My services");
  await student.goto(BASE_URL + "/my-services");
  await student.waitForSelector("[data-quota='count/pods'] :text('Running services: 0 of 1')");
  await student.waitForSelector("[data-quota='s3.storage'] :text('Personal bucket: 0 of 5Gi')");
  await screenshot(student, "class-student-quota");

  step("the teacher removes the class's limits");
  await page.click("tr[data-limits='groups/class-z'] button");
  await page.waitForSelector("tr[data-limits='groups/class-z']", { state: "detached" });

  step("end of term: the teacher lists what a reset would do, then does it");
  await page.fill("#reset-groups", "class-z");
  await page.selectOption("#reset-buckets", "delete");
  await page.click("#reset-preview");
  await page.waitForSelector("#reset-result :text('2 students — nothing changed yet')");
  await page.waitForSelector("#reset-table :text('user-pupil1')");
  await page.waitForSelector("#reset-table :text('would be deleted')");
  await screenshot(page, "class-reset-preview");
  await page.click("#reset-apply");
  await page.click("dialog button:has-text('Reset')");
  await page.waitForSelector("#reset-table td:text-is('deleted')");

  step("a student has no Class page, and the API refuses them");
  if (await student.$("nav a[href='/class']")) throw new Error("a student sees the Class page");
  await student.goto(BASE_URL + "/class");
  await student.setInputFiles("#class-file", { name: "c.csv", mimeType: "text/csv", buffer: Buffer.from("username\nx\n") });
  await student.click("#class-import");
  await student.waitForSelector("#class-result :text('teachers')");
  await other.close();
});
