// My secrets: create a secret with two keys, edit it, delete it; checked in Vault itself.
import { scenario, openLoggedIn, screenshot } from "./lib.mjs";
import { vaultRead } from "./api.mjs";

await scenario("secrets", async ({ page, step }) => {
  const name = `browser-${Date.now()}`;
  step("My secrets opens the personal directory");
  await openLoggedIn(page, "/my-secrets");
  await page.waitForSelector("#secrets table, #secrets .empty-state");

  step("a new secret with two keys");
  await page.click("#new-secret");
  await page.fill("dialog input", name);
  await page.click("dialog button.primary");
  await page.waitForSelector("#save-secret");
  await page.fill("input[aria-label='Key 1']", "DB_USER");
  await page.fill("input[aria-label='Value 1']", "analyst");
  await page.click("#add-key");
  await page.fill("input[aria-label='Key 2']", "DB_PASSWORD");
  await page.fill("input[aria-label='Value 2']", "s3cr3t value");
  await page.click("#save-secret");
  await page.waitForSelector("text=Version 1");

  step("after a reload the values are there, and in Vault exactly as typed");
  await page.reload();
  await page.waitForSelector("text=Version 1");
  // Keys are listed sorted, as the vault CLI prints them.
  if ((await page.inputValue("input[aria-label='Key 1']")) !== "DB_PASSWORD") throw new Error("keys are not sorted");
  if ((await page.inputValue("input[aria-label='Value 1']")) !== "s3cr3t value") throw new Error("value not shown after reload");
  let stored = await vaultRead(`user-alice/${name}`);
  const data = stored.body?.data?.data || {};
  if (Object.keys(data).length !== 2 || data.DB_USER !== "analyst" || data.DB_PASSWORD !== "s3cr3t value") {
    throw new Error(`Vault holds ${JSON.stringify(stored.body)}`);
  }
  await screenshot(page, "my-secrets");

  step("editing a value makes version 2");
  await page.fill("input[aria-label='Value 2']", "admin");
  await page.click("#save-secret");
  await page.waitForSelector("text=Version 2");
  stored = await vaultRead(`user-alice/${name}`);
  if (stored.body.data.data.DB_USER !== "admin") throw new Error(`DB_USER is ${stored.body.data.data.DB_USER}`);

  step("the command bar shows vault kv commands without values");
  const commands = await page.textContent(".cmdbar-lines");
  if (!commands.includes(`vault kv put -mount=onyxia-kv user-alice/${name} DB_PASSWORD=<value> DB_USER=<value>`)) throw new Error(`command bar:\n${commands}`);
  if (commands.includes("s3cr3t")) throw new Error("a secret value leaked into the command bar");

  step("deleting removes it from the list and from Vault");
  await page.click(".breadcrumbs a:has-text('user-alice')");
  await page.waitForSelector(`tr[data-secret="${name}"]`);
  await page.click(`button[aria-label="Delete secret ${name}"]`);
  await page.click("dialog button.danger");
  await page.waitForSelector(`tr[data-secret="${name}"]`, { state: "detached" });
  stored = await vaultRead(`user-alice/${name}`);
  if (stored.status !== 404) throw new Error(`Vault still answers ${stored.status}`);
});
