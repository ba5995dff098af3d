// Class limits, for teachers: what each member of a group (a class) may use, with per-student
// overrides. A student's limit of a kind is their own, else the largest of their groups'.
// The server decides who may limit whom; this section shows what it answers.

import { h, mount, errorBox, spinner, toast } from "../dom.js";
import { request } from "../api.js";

const KINDS = [
  ["services", "Running services", "2"],
  ["cpu", "CPU (cores)", "2 or 500m"],
  ["memory", "Memory", "4Gi"],
  ["s3Storage", "Personal bucket", "5Gi"],
  ["volumeStorage", "Volumes", "20Gi"],
  ["idleMinutes", "Pause after idle (minutes)", "30"],
  ["maxAgeHours", "Delete after (hours)", "72"],
];

const COUNTS = ["services", "idleMinutes", "maxAgeHours"];

export function limitsSection() {
  const section = h("section", { class: "card", id: "class-limits", "aria-label": "Class limits" });
  const table = h("div", { id: "limits-table" });
  const status = h("div", { id: "limits-status", "aria-live": "polite" });
  const scope = h("select", { id: "limits-scope" },
    h("option", { value: "groups" }, "Group"), h("option", { value: "users" }, "Student"));
  const name = h("input", { id: "limits-name", required: true, placeholder: "class-a", autocomplete: "off" });
  const inputs = Object.fromEntries(KINDS.map(([key, , example]) =>
    [key, h("input", { id: `limits-${key}`, placeholder: example, autocomplete: "off" })]));
  const save = h("button", { type: "submit", class: "button primary", id: "limits-save" }, "Save limits");
  const form = h("form", { class: "form", onsubmit: (e) => { e.preventDefault(); store(); } },
    h("div", { class: "grid-2" },
      h("label", { class: "field" }, h("span", {}, "For"), scope),
      h("label", { class: "field" }, h("span", {}, "Name"), name),
      KINDS.map(([key, label]) => h("label", { class: "field" }, h("span", {}, label), inputs[key]))),
    h("p", { class: "hint" }, "Empty fields set no limit of that kind. Saving replaces the group's or student's limits."),
    save);

  function body() {
    const limits = {};
    for (const [key] of KINDS) {
      const value = inputs[key].value.trim();
      if (!value) continue;
      limits[key] = COUNTS.includes(key) ? Number(value) : value;
    }
    return limits;
  }

  async function store() {
    save.disabled = true;
    mount(status);
    try {
      await request("PUT", `/class/limits/${scope.value}/${encodeURIComponent(name.value.trim())}`, { body: body() });
      toast("Limits saved", "success");
      await draw();
    } catch (error) {
      mount(status, errorBox(error));
    } finally {
      save.disabled = false;
    }
  }

  async function remove(kind, who) {
    try {
      await request("DELETE", `/class/limits/${kind}/${encodeURIComponent(who)}`);
      toast("Limits removed", "success");
      await draw();
    } catch (error) {
      mount(status, errorBox(error));
    }
  }

  function rows(kind, label, entries) {
    return Object.entries(entries).map(([who, limits]) => h("tr", { "data-limits": `${kind}/${who}` },
      h("td", {}, label), h("td", {}, who),
      KINDS.map(([key]) => h("td", {}, limits[key] === undefined ? "—" : String(limits[key]))),
      h("td", {}, h("button", { type: "button", class: "button small", onclick: () => remove(kind, who) }, "Remove"))));
  }

  async function draw() {
    mount(table, spinner());
    try {
      const all = await request("GET", "/class/limits");
      const body = [...rows("groups", "Group", all.groups || {}), ...rows("users", "Student", all.users || {})];
      mount(table, body.length
        ? h("table", { class: "table" },
          h("thead", {}, h("tr", {}, h("th", {}, "For"), h("th", {}, "Name"),
            KINDS.map(([, label]) => h("th", {}, label)), h("th", {}, ""))),
          h("tbody", {}, body))
        : h("p", { class: "hint" }, "No limits yet: only the platform's quotas apply."));
    } catch (error) {
      mount(table, errorBox(error));
    }
  }

  mount(section, h("h2", {}, "Limits"), table, status, form);
  draw();
  return section;
}
