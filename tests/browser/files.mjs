// My files: folder, upload (single and multipart with progress), download, share, delete.
import { scenario, openLoggedIn, screenshot } from "./lib.mjs";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

await scenario("files", async ({ page, step }) => {
  const dir = mkdtempSync(join(tmpdir(), "onyxia-lite-files-"));
  const folder = `browser-${Date.now()}`;
  const small = join(dir, "notes.txt");
  const smallBytes = Buffer.from(`hello from the browser test ${Date.now()}\n`);
  writeFileSync(small, smallBytes);
  const large = join(dir, "large.bin");
  writeFileSync(large, randomBytes(20 * 1024 * 1024 + 123));

  step("My files opens the personal bucket");
  await openLoggedIn(page, "/my-files");
  await page.waitForSelector(".breadcrumbs a:has-text('user-alice')");
  await page.waitForSelector("#file-list table, #file-list .empty-state");

  step("a new folder, and an upload into it");
  await page.click("#new-folder");
  await page.fill("dialog input", folder);
  await page.click("dialog button.primary");
  await page.waitForURL((u) => decodeURIComponent(u.toString()).includes(`user-alice/${folder}/`));
  await page.waitForSelector("#file-list .empty-state");
  await page.setInputFiles("#upload-input", small);
  await page.waitForSelector(`tr[data-key="${folder}/notes.txt"]`);

  step("a 20 MiB file goes up in parts, with progress to 100 %");
  await page.setInputFiles("#upload-input", large);
  await page.waitForSelector('[data-upload="large.bin"][data-done="true"]', { timeout: 120000 });
  const label = await page.textContent('[data-upload="large.bin"]');
  if (!label.includes("uploaded (20 MiB)")) throw new Error(`upload label: ${label}`);
  const progress = await page.$eval('[data-upload="large.bin"] progress', (p) => [p.value, p.max]);
  if (progress[0] !== progress[1]) throw new Error(`progress ended at ${progress}`);
  await page.waitForSelector(`tr[data-key="${folder}/large.bin"]`);
  await screenshot(page, "my-files");

  step("download gives back the same bytes");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click(`button[aria-label="Download notes.txt"]`)]);
  const downloaded = readFileSync(await download.path());
  if (!downloaded.equals(smallBytes)) throw new Error("downloaded bytes differ");

  step("a share link works without credentials");
  await page.click(`button[aria-label="Share notes.txt"]`);
  await page.waitForSelector("#share-result code");
  const url = await page.textContent("#share-result code");
  await screenshot(page, "share-dialog");
  const response = await fetch(url);
  if (!response.ok) throw new Error(`share link answered ${response.status}: ${await response.text()}`);
  if (!Buffer.from(await response.arrayBuffer()).equals(smallBytes)) throw new Error("shared bytes differ");
  await page.click("dialog button.primary");

  step("a key with spaces, accents and '+' goes up, lists and comes back");
  const oddName = "données 2026+q1.txt";
  const odd = join(dir, oddName);
  const oddBytes = Buffer.from("odd name\n");
  writeFileSync(odd, oddBytes);
  await page.setInputFiles("#upload-input", odd);
  await page.waitForSelector(`tr[data-key="${folder}/${oddName}"]`);
  const [oddDownload] = await Promise.all([page.waitForEvent("download"), page.click(`button[aria-label="Download ${oddName}"]`)]);
  if (!readFileSync(await oddDownload.path()).equals(oddBytes)) throw new Error("odd-named file came back different");
  await page.click(`button[aria-label="Delete ${oddName}"]`);
  await page.click("dialog button.danger");
  await page.waitForSelector(`tr[data-key="${folder}/${oddName}"]`, { state: "detached" });

  step("the command bar shows the mc commands");
  const commands = await page.textContent(".cmdbar-lines");
  for (const expected of [`mc cp notes.txt s3/user-alice/${folder}/notes.txt`, "mc share download --expire 1h", "mc ls s3/user-alice/"]) {
    if (!commands.includes(expected)) throw new Error(`command bar lacks "${expected}":\n${commands}`);
  }

  step("deleting the file, then the folder");
  await page.click(`button[aria-label="Delete notes.txt"]`);
  await page.click("dialog button.danger");
  await page.waitForSelector(`tr[data-key="${folder}/notes.txt"]`, { state: "detached" });
  await page.click(".breadcrumbs a:has-text('user-alice')");
  await page.click(`button[aria-label="Delete folder ${folder}/"]`);
  await page.click("dialog button.danger");
  await page.waitForSelector(`tr[data-folder="${folder}/"]`, { state: "detached" });
  const gone = await fetch(url);
  if (gone.status !== 404) throw new Error(`deleted file still answers ${gone.status}`);
});
