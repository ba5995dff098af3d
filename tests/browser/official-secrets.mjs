// The official onyxia-web's My Secrets (onyxia-lite's Vault, KV v2 under onyxia-kv/user-alice/):
// a secret created and named, a variable added, edited (name and value) and another deleted, the
// page reloaded, then the secret deleted; each step read back through Vault's HTTP API with a token
// of alice's own (OIDC password grant, then Vault's JWT login).
import { officialScenario, openApp, screenshot, required, vaultToken, vaultGet, waitFor } from "./official-lib.mjs";

const VAULT_URL = required("VAULT_URL");

await officialScenario("secrets", async ({ page, step }) => {
  const run = `${Date.now() % 1e7}`;
  // onyxia-web shows names with a space after each "_" (to wrap them): keep this one plain.
  const name = `official${run}`;
  const token = await vaultToken(VAULT_URL, "alice");
  const read = () => vaultGet(VAULT_URL, token, `onyxia-kv/data/user-alice/${name}`);
  const expectData = (what, expected) => waitFor(what, async () => {
    const { status, body } = await read();
    return status === 200 && JSON.stringify(body.data.data) === JSON.stringify(expected);
  }, 15000).catch(async (e) => { throw new Error(`${e.message}; Vault has ${JSON.stringify(await read())}`); });
  const item = page.locator('[class*="SecretsExplorerItem-text"]', { hasText: name });
  const row = (key) => page.getByRole("row").filter({ has: page.getByText(key, { exact: true }) });
  const keyField = page.getByRole("textbox", { name: "Environnement variable name" });
  const valueField = page.getByRole("textbox", { name: "Environnement variable value" });

  try {
    step("My Secrets lists alice's secrets (onyxia-kv/user-alice)");
    await openApp(page, "/my-secrets");
    await page.waitForURL((u) => u.pathname === "/my-secrets/user-alice");
    await page.getByRole("button", { name: "Create secret" }).waitFor();
    if ((await read()).status !== 404) throw new Error(`Vault already has ${name}`);

    step(`Create secret makes untitled_secret, named ${name} in place (Enter)`);
    await page.getByRole("button", { name: "Create secret" }).click();
    const label = page.getByRole("textbox", { name: "description" });
    await label.waitFor();
    await label.fill(name);
    await label.press("Enter");
    await item.waitFor({ timeout: 15000 });
    await expectData("Vault to have the empty secret", {});
    const untitled = await vaultGet(VAULT_URL, token, "onyxia-kv/data/user-alice/untitled_secret");
    if (untitled.status !== 404) throw new Error(`untitled_secret is left in Vault: ${untitled.status}`);

    step("opening it (double click) shows its editor; a new variable is added and saved");
    await item.dblclick();
    await page.waitForURL((u) => u.searchParams.get("openFile") === name);
    await page.getByRole("button", { name: "Add a new variable" }).click();
    await keyField.waitFor();
    await keyField.fill("official_key"); // onyxia-web upper-cases names as they are typed
    await valueField.fill("first value");
    await valueField.press("Enter");
    await row("OFFICIAL_KEY").waitFor();
    await expectData("Vault to have the variable", { OFFICIAL_KEY: "first value" });
    // The value is hidden until the eye is clicked.
    await row("OFFICIAL_KEY").getByText("•••••••••").waitFor();
    await row("OFFICIAL_KEY").getByRole("button").nth(2).click();
    await row("OFFICIAL_KEY").getByText("first value").waitFor();
    await screenshot(page, "official-secrets-editor");

    step("editing the variable (pencil): new name and new value are saved");
    await row("OFFICIAL_KEY").getByRole("button").nth(0).click();
    await keyField.waitFor();
    await keyField.fill("OFFICIAL_RENAMED");
    await valueField.fill("second value, with spaces & symbols=ok");
    await valueField.press("Enter");
    await row("OFFICIAL_RENAMED").waitFor();
    await expectData("Vault to have the edited variable", { OFFICIAL_RENAMED: "second value, with spaces & symbols=ok" });

    step("a second variable, then deleted with its bin");
    await page.getByRole("button", { name: "Add a new variable" }).click();
    await keyField.waitFor();
    await keyField.fill("TO_DELETE");
    await valueField.fill("x");
    await valueField.press("Enter");
    await row("TO_DELETE").waitFor();
    await expectData("Vault to have two variables", { OFFICIAL_RENAMED: "second value, with spaces & symbols=ok", TO_DELETE: "x" });
    await row("TO_DELETE").getByRole("button").nth(1).click();
    await row("TO_DELETE").waitFor({ state: "detached" });
    await expectData("Vault to have one variable left", { OFFICIAL_RENAMED: "second value, with spaces & symbols=ok" });

    step("a reload shows what Vault has");
    await page.reload();
    await row("OFFICIAL_RENAMED").waitFor({ timeout: 30000 });
    if (await row("TO_DELETE").count()) throw new Error("the deleted variable is back after a reload");
    await row("OFFICIAL_RENAMED").getByRole("button").nth(2).click();
    await row("OFFICIAL_RENAMED").getByText("second value, with spaces & symbols=ok").waitFor();

    step("back in the folder, the secret selected and deleted (Delete, confirmed)");
    // The breadcrumb's "user-alice /" goes back to the folder.
    await page.getByText(/^user-alice\s*\/$/).first().click();
    await page.waitForURL((u) => !u.searchParams.get("openFile"));
    await item.click();
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("Delete a secret ?").waitFor();
    await dialog.getByRole("button", { name: "Delete", exact: true }).click();
    await item.waitFor({ state: "detached", timeout: 15000 });
    await waitFor("Vault to forget the secret", async () => (await read()).status === 404, 15000);
    await page.reload();
    await page.getByRole("button", { name: "Create secret" }).waitFor();
    await page.waitForTimeout(2000);
    if (await item.count()) throw new Error("the deleted secret is listed again after a reload");
    await screenshot(page, "official-secrets-deleted");
  } finally {
    // Leave nothing behind (the secret, and an untitled_secret should the naming have failed).
    for (const path of [name, "untitled_secret"]) {
      await fetch(`${VAULT_URL}/v1/onyxia-kv/metadata/user-alice/${path}`, { method: "DELETE", headers: { "X-Vault-Token": token } }).catch(() => {});
    }
  }
});
