// My account: the credentials scripts need (S3, Vault, the access token) as ready-to-paste
// snippets, and the git identity the launcher gives services.

import { h, mount, errorBox, toast, codeBlock, timeAgo, spinner, copyButton } from "../dom.js";
import { currentUser, request } from "../api.js";
import { accessToken, accessTokenExpiry } from "../auth.js";
import { replaceQuery } from "../router.js";
import { s3Credentials } from "../s3.js";
import { vaultSettings, vaultToken, readUserConfig, writeUserConfig } from "../vault.js";

const TABS = [["storage", "Storage (S3)"], ["vault", "Vault"], ["tokens", "Access token"], ["git", "Git"], ["profile", "Profile"]];

export async function render(root, { query, signal }) {
  document.title = "My account · onyxia-lite";
  let tab = TABS.some(([id]) => id === query.get("tab")) ? query.get("tab") : "storage";
  const panel = h("div", { role: "tabpanel", id: "account-panel", tabindex: "0" });
  const tablist = h("div", { class: "tabs", role: "tablist", "aria-label": "Account sections" });

  function drawTabs() {
    mount(tablist, TABS.map(([id, label], i) => h("button", {
      type: "button", class: "tab", role: "tab", id: `tab-${id}`, "aria-selected": String(id === tab),
      "aria-controls": "account-panel", tabindex: id === tab ? "0" : "-1",
      onclick: () => select(id),
      onkeydown: (e) => {
        const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
        if (!step) return;
        const next = TABS[(i + step + TABS.length) % TABS.length][0];
        select(next);
        document.getElementById(`tab-${next}`)?.focus();
      },
    }, label)));
  }

  async function select(id) {
    tab = id;
    replaceQuery(new URLSearchParams({ tab }));
    drawTabs();
    panel.setAttribute("aria-labelledby", `tab-${id}`);
    mount(panel, spinner());
    try {
      await ({ storage, vault: vaultPanel, tokens, git, profile })[id](panel);
    } catch (error) {
      if (!signal.aborted) mount(panel, errorBox(error, { retry: () => select(id) }));
    }
  }

  mount(root, h("div", { class: "page-header" }, h("div", {}, h("h1", {}, "My account"),
    h("p", {}, "Credentials for your scripts and tools, and the settings your services receive."))), tablist, panel);
  await select(tab);
}

function expiry(ms) {
  return `expires ${timeAgo(ms)} (${new Date(ms).toLocaleString()})`;
}

function secretLine(label, value, id) {
  const input = h("input", { type: "password", value, readonly: true, id, class: "secret-value", "aria-label": label });
  return h("div", { class: "field" }, h("span", {}, label), h("div", { class: "row" }, input,
    h("button", { type: "button", class: "button small ghost", "aria-controls": id, onclick: (e) => {
      input.type = input.type === "password" ? "text" : "password";
      e.target.textContent = input.type === "password" ? "Show" : "Hide";
    } }, "Show"),
    copyButton(() => value, "Copy")));
}

async function storage(panel, renew = false) {
  const c = await s3Credentials({ renew });
  const url = new URL(c.endpoint);
  const hostPort = url.host;
  const shell = [
    `export AWS_ACCESS_KEY_ID=${c.accessKeyId}`,
    `export AWS_SECRET_ACCESS_KEY=${c.secretAccessKey}`,
    `export AWS_SESSION_TOKEN=${c.sessionToken}`,
    `export AWS_DEFAULT_REGION=${c.region}`,
    `export AWS_S3_ENDPOINT=${hostPort}`,
    `export AWS_ENDPOINT_URL=${c.endpoint}`,
  ].join("\n");
  const python = [
    "import boto3",
    "",
    "s3 = boto3.client(",
    '    "s3",',
    `    endpoint_url="${c.endpoint}",`,
    `    aws_access_key_id="${c.accessKeyId}",`,
    `    aws_secret_access_key="${c.secretAccessKey}",`,
    `    aws_session_token="${c.sessionToken}",`,
    `    region_name="${c.region}",`,
    ")",
    'print(s3.list_objects_v2(Bucket="<bucket>").get("Contents", []))',
  ].join("\n");
  const r = [
    "Sys.setenv(",
    `  AWS_ACCESS_KEY_ID = "${c.accessKeyId}",`,
    `  AWS_SECRET_ACCESS_KEY = "${c.secretAccessKey}",`,
    `  AWS_SESSION_TOKEN = "${c.sessionToken}",`,
    `  AWS_DEFAULT_REGION = "${c.region}",`,
    `  AWS_S3_ENDPOINT = "${hostPort}"`,
    ")",
    '# aws.s3 takes the endpoint without scheme; region = "" keeps path-style URLs',
    `aws.s3::get_bucket("<bucket>", region = "", use_https = ${url.protocol === "https:" ? "TRUE" : "FALSE"})`,
  ].join("\n");
  const mc = `mc alias set s3 ${c.endpoint} ${c.accessKeyId} ${c.secretAccessKey} --api S3v4\n# mc reads the session token from the environment:\nexport AWS_SESSION_TOKEN=${c.sessionToken}\nmc ls s3/`;
  mount(panel,
    h("p", {}, `Temporary S3 keys for ${c.endpoint}, `, h("strong", { id: "s3-expiry" }, expiry(Date.parse(c.expiration))), ". Services you launch get their own copy."),
    h("div", { class: "row" }, h("button", { type: "button", class: "button", onclick: async () => { await storage(panel, true); toast("New S3 keys issued", "success"); } }, "Renew the keys")),
    h("div", { class: "grid-2" }, h("div", {}, h("div", { class: "field" }, h("span", {}, "Access key"), h("code", { id: "s3-access-key" }, c.accessKeyId))),
      secretLine("Secret key", c.secretAccessKey, "s3-secret-key")),
    h("h2", {}, "Shell (AWS CLI and most SDKs)"), codeBlock(shell),
    h("h2", {}, "Python (boto3)"), codeBlock(python),
    h("h2", {}, "R (aws.s3)"), codeBlock(r),
    h("h2", {}, "MinIO client (mc)"), codeBlock(mc));
  panel.querySelector("pre").id = "s3-shell-snippet";
}

async function vaultPanel(panel) {
  const settings = vaultSettings();
  if (!settings) return mount(panel, h("p", {}, "This region has no Vault."));
  const token = await vaultToken();
  mount(panel,
    h("p", {}, `A Vault token for ${settings.url}, `, h("strong", {}, expiry(token.expiresAt)), "."),
    secretLine("VAULT_TOKEN", token.token, "vault-token"),
    h("h2", {}, "Shell"),
    codeBlock(`export VAULT_ADDR=${settings.url}\nexport VAULT_TOKEN=${token.token}\nvault kv list ${settings.mount}/`));
}

async function tokens(panel) {
  const token = await accessToken();
  const api = new URL("/api/user/info", location.origin).toString();
  mount(panel,
    h("p", {}, "Your OpenID Connect access token: the Onyxia API, STS and Vault accept it. ", h("strong", {}, expiry(accessTokenExpiry()))),
    secretLine("Access token", token, "access-token"),
    h("h2", {}, "Call the Onyxia API"),
    codeBlock(`curl -H "Authorization: Bearer ${token}" ${api}`),
    h("p", { class: "muted" }, "Scripts that need a token for longer can run `onyxia-lite token --user <name>` on the server, or use a client of their own."));
}

async function git(panel) {
  const user = await currentUser();
  const keys = [["gitName", "Name", "text", user.idep], ["gitEmail", "Email", "email", user.email || ""], ["githubPersonalAccessToken", "Personal access token", "password", ""], ["gitCredentialCacheDuration", "Credential cache duration (seconds)", "number", "0"]];
  const values = await Promise.all(keys.map(([key]) => readUserConfig(key).catch(() => null)));
  const inputs = keys.map(([key, label, type, placeholder], i) => h("label", { class: "field" }, h("span", {}, label),
    h("input", { type, id: `git-${key}`, value: values[i] ?? "", placeholder, autocomplete: "off" })));
  const status = h("p", { role: "status", id: "git-status" });
  mount(panel,
    h("p", {}, "Services you launch configure git with these (GIT_USER_NAME, GIT_USER_MAIL, GIT_PERSONAL_ACCESS_TOKEN). They are kept in your Vault directory."),
    h("form", { onsubmit: async (e) => {
      e.preventDefault();
      try {
        for (const [key, , type] of keys) {
          const raw = document.getElementById(`git-${key}`).value;
          await writeUserConfig(key, type === "number" ? Number(raw || 0) : raw);
        }
        status.textContent = "Saved. Services launched from now on use these values.";
        toast("Git settings saved", "success");
      } catch (error) {
        mount(status, errorBox(error));
      }
    } }, inputs, h("button", { type: "submit", class: "button primary", id: "git-save" }, "Save")),
    status);
}

async function profile(panel) {
  const user = await currentUser();
  const ip = await request("GET", "/public/ip", { auth: false }).then((b) => b.ip).catch(() => "");
  mount(panel, h("table", { class: "table" }, h("tbody", {},
    [["Username", user.idep], ["Name", user.nomComplet || ""], ["Email", user.email || ""], ["Groups", (user.groups || []).join(", ") || "none"],
      ["Projects", (user.projects || []).map((p) => p.name || p.id).join(", ")], ["Your address as seen by onyxia-lite", ip]]
      .map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v))))));
}
