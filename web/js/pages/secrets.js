// My secrets: the project's Vault KV v2 directory from the browser — browse, create, edit
// key/value pairs, delete — each action echoed as the `vault kv` command that does the same.

import { h, mount, errorBox, emptyState, toast, confirmDialog, promptDialog, spinner, codeBlock } from "../dom.js";
import { currentProject } from "../api.js";
import { navigate } from "../router.js";
import { logCommand, commandBar } from "../cmdbar.js";
import * as vault from "../vault.js";

let loggedLogin = false;

export async function render(root, { query, signal }) {
  document.title = "My secrets · onyxia-lite";
  const settings = vault.vaultSettings();
  if (!settings) {
    return mount(root, h("h1", {}, "My secrets"),
      emptyState("No secret store in this region", "The administrator can add a Vault to the region; onyxia-lite's own is on by default."));
  }
  const project = currentProject();
  const top = project.vaultTopDir;
  const relative = (query.get("path") || "").replace(/^\/+/, "");
  const secretName = query.get("secret");
  const dirPath = [top, relative].filter(Boolean).join("/").replace(/\/+$/, "");
  const showHidden = query.get("hidden") === "true";
  const link = (path, secret) => `/my-secrets?path=${encodeURIComponent(path)}${secret ? `&secret=${encodeURIComponent(secret)}` : ""}`;

  const crumbs = [h("li", {}, h("a", { href: link("") }, top))];
  let acc = "";
  for (const part of relative.split("/").filter(Boolean)) {
    acc += part + "/";
    crumbs.push(h("li", {}, h("a", { href: link(acc) }, part)));
  }
  const content = h("div", { id: "secrets", "aria-live": "polite" }, spinner());

  async function showDirectory() {
    try {
      const keys = await vault.listSecrets(dirPath);
      logCommand(vault.vaultCommand("list", dirPath));
      const visible = keys.filter((k) => showHidden || !k.startsWith("."));
      if (!visible.length) {
        return mount(content, emptyState("No secret here yet", "Create one: its keys become values you can read from your services with the vault CLI."));
      }
      const dirs = visible.filter((k) => k.endsWith("/"));
      const secrets = visible.filter((k) => !k.endsWith("/"));
      mount(content, h("table", { class: "table" },
        h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, h("span", { class: "visually-hidden" }, "Actions")))),
        h("tbody", {},
          dirs.map((d) => h("tr", { dataset: { dir: d } }, h("td", {}, h("a", { href: link(relative + d) }, "📁 " + d)), h("td", {}))),
          secrets.map((s) => h("tr", { dataset: { secret: s } },
            h("td", {}, h("a", { href: link(relative, s) }, "🔑 " + s)),
            h("td", {}, h("button", { type: "button", class: "button small danger", "aria-label": `Delete secret ${s}`, onclick: () => remove(s) }, "Delete")))))));
    } catch (error) {
      if (!signal.aborted) mount(content, errorBox(error, { retry: showDirectory }));
    }
  }

  async function remove(name) {
    if (!(await confirmDialog({ title: `Delete ${name}?`, body: "Every version of this secret is deleted; this cannot be undone.", confirmLabel: "Delete", danger: true }))) return;
    try {
      await vault.deleteSecret(`${dirPath}/${name}`);
      logCommand(vault.vaultCommand("delete", `${dirPath}/${name}`));
      toast(`${name} deleted`, "success");
      if (secretName) navigate(link(relative), { replace: true });
      else showDirectory();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  async function create() {
    const name = await promptDialog({ title: "New secret", label: "Name", pattern: "[A-Za-z0-9._\\-]+(\\/[A-Za-z0-9._\\-]+)*", hint: "Letters, digits, . _ -; a / makes a directory." });
    if (!name) return;
    navigate(link(relative, name) + "&new=true");
  }

  async function showSecret(name) {
    const path = `${dirPath}/${name}`;
    let data = {};
    let metadata = {};
    if (query.get("new") !== "true") {
      try {
        ({ data, metadata } = await vault.readSecret(path));
        logCommand(vault.vaultCommand("get", path));
      } catch (error) {
        if (error.status !== 404) return mount(content, errorBox(error, { retry: () => showSecret(name) }));
      }
    }
    // Sorted by key, as the vault CLI prints them.
    const rows = Object.entries(data).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => ({ key: k, value: typeof v === "string" ? v : JSON.stringify(v) }));
    if (!rows.length) rows.push({ key: "", value: "" });
    const body = h("tbody", {});
    const drawRows = () => mount(body, rows.map((row, i) => {
      const value = h("input", { type: "password", value: row.value, "aria-label": `Value ${i + 1}`, class: "secret-value", autocomplete: "off", oninput: (e) => { row.value = e.target.value; } });
      return h("tr", {},
        h("td", {}, h("input", { type: "text", value: row.key, "aria-label": `Key ${i + 1}`, class: "secret-key", oninput: (e) => { row.key = e.target.value; } })),
        h("td", {}, h("div", { class: "row" }, value,
          h("button", { type: "button", class: "button small ghost", "aria-label": `Show value ${i + 1}`, onclick: (e) => {
            value.type = value.type === "password" ? "text" : "password";
            e.target.textContent = value.type === "password" ? "Show" : "Hide";
          } }, "Show"))),
        h("td", {}, h("button", { type: "button", class: "button small", "aria-label": `Remove key ${i + 1}`, onclick: () => { rows.splice(i, 1); drawRows(); } }, "Remove")));
    }));
    drawRows();
    const status = h("div", { role: "status" });
    const save = async () => {
      const out = {};
      for (const { key, value } of rows) {
        if (!key.trim()) continue;
        if (key.trim() in out) return mount(status, h("p", { class: "field-error" }, `The key "${key}" appears twice.`));
        out[key.trim()] = value;
      }
      if (!Object.keys(out).length) return mount(status, h("p", { class: "field-error" }, "A secret needs at least one key."));
      try {
        await vault.writeSecret(path, out);
        logCommand(vault.vaultCommand("put", path, Object.keys(out)));
        toast(`${name} saved`, "success");
        navigate(link(relative, name), { replace: true });
      } catch (error) {
        mount(status, errorBox(error));
      }
    };
    const env = Object.keys(data).map((k) => k.toUpperCase().replace(/[^A-Z0-9_]/g, "_"));
    mount(content,
      h("h2", {}, `🔑 ${name}`),
      metadata.version ? h("p", { class: "muted" }, `Version ${metadata.version}, saved ${new Date(metadata.created_time).toLocaleString()}`) : h("p", { class: "muted" }, "New secret: add its keys and save."),
      h("table", { class: "table" }, h("thead", {}, h("tr", {}, h("th", {}, "Key"), h("th", {}, "Value"), h("th", {}, h("span", { class: "visually-hidden" }, "Actions")))), body),
      h("div", { class: "row" },
        h("button", { type: "button", class: "button", id: "add-key", onclick: () => { rows.push({ key: "", value: "" }); drawRows(); } }, "Add a key"),
        h("button", { type: "button", class: "button primary", id: "save-secret", onclick: save }, "Save"),
        metadata.version ? h("button", { type: "button", class: "button danger", onclick: () => remove(name) }, "Delete") : null),
      status,
      h("h3", {}, "Use it in a service"),
      h("p", {}, "Services get VAULT_ADDR and VAULT_TOKEN; read this secret there with:"),
      codeBlock(`vault kv get -mount=${settings.mount} ${path}` + (env.length ? `\n# one value:\nvault kv get -mount=${settings.mount} -field=${Object.keys(data)[0]} ${path}` : "")));
  }

  mount(root,
    h("div", { class: "page-header" },
      h("div", {}, h("h1", {}, "My secrets"), h("p", {}, `Secrets of ${project.name || project.id}, in Vault under ${settings.mount}/${top}.`)),
      h("div", { class: "actions" },
        h("a", { class: "button small ghost", href: `${link(relative, secretName)}${showHidden ? "" : "&hidden=true"}` }, showHidden ? "Hide settings (.onyxia)" : "Show settings (.onyxia)"),
        h("button", { type: "button", class: "button primary", id: "new-secret", onclick: create }, "New secret"))),
    h("ol", { class: "breadcrumbs", "aria-label": "Location" }, crumbs, secretName ? h("li", {}, secretName) : null),
    content,
    commandBar());
  if (!loggedLogin) logCommand(vault.vaultCommand("login"));
  loggedLogin = true;
  if (secretName) await showSecret(secretName);
  else await showDirectory();
}
