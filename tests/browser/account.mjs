// My account: the S3 keys shown work from a real client (boto3); git settings land in Vault.
import { scenario, openLoggedIn, screenshot, BASE_URL } from "./lib.mjs";
import { execFileSync } from "node:child_process";
import { vaultRead } from "./api.mjs";

await scenario("account", async ({ page, step }) => {
  step("the storage tab shows keys and ready-to-paste snippets");
  await openLoggedIn(page, "/account");
  await page.waitForSelector("#s3-shell-snippet");
  const shell = await page.textContent("#s3-shell-snippet");
  await screenshot(page, "account-storage");
  const env = Object.fromEntries([...shell.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
  for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"]) {
    if (!env[name]) throw new Error(`the shell snippet lacks ${name}:\n${shell}`);
  }

  step("boto3 lists alice's bucket with the snippet's values");
  const out = execFileSync("python3", ["-c", [
    "import boto3, os",
    "s3 = boto3.client('s3', endpoint_url=os.environ['AWS_ENDPOINT_URL'])",
    "s3.list_objects_v2(Bucket='user-alice')",
    "print('listed')",
  ].join("\n")], { env: { ...process.env, ...env }, encoding: "utf8" });
  if (!out.includes("listed")) throw new Error(`boto3 said: ${out}`);

  step("the git identity is saved as a user setting in Vault");
  await page.click("#tab-git");
  await page.waitForSelector("#git-gitName");
  const name = `Alice ${Date.now()}`;
  await page.fill("#git-gitName", name);
  await page.fill("#git-gitEmail", "alice@example.org");
  await page.click("#git-save");
  await page.waitForSelector("#git-status:has-text('Saved')");
  await screenshot(page, "account-git");
  await page.reload();
  await page.waitForSelector("#git-gitName");
  if ((await page.inputValue("#git-gitName")) !== name) throw new Error("git name not kept");
  const stored = await vaultRead("user-alice/.onyxia/gitName");
  if (stored.body?.data?.data?.value !== name) throw new Error(`Vault holds ${JSON.stringify(stored.body)}`);

  step("the other tabs show the Vault token and the access token");
  await page.click("#tab-vault");
  await page.waitForSelector("#vault-token");
  await page.click("#tab-tokens");
  await page.waitForSelector("#access-token");
  const token = await page.inputValue("#access-token");
  const me = await fetch(`${BASE_URL}/api/user/info`, { headers: { authorization: `Bearer ${token}` } });
  if (!me.ok) throw new Error(`the shown access token does not work: ${me.status}`);
  await page.click("#tab-profile");
  await page.waitForSelector("td:has-text('alice')");
});
