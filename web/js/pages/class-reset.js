// End of term, for teachers: what a class reset would do to the students of some groups
// (always shown first, as a dry run), then doing it once confirmed.

import { h, mount, errorBox, spinner, toast, confirmDialog } from "../dom.js";
import { request } from "../api.js";

function choice(id, label, options) {
  const select = h("select", { id }, options.map(([value, text]) => h("option", { value }, text)));
  return [select, h("label", { class: "field" }, h("span", {}, label), select)];
}

export function resetSection() {
  const section = h("section", { class: "card", id: "class-reset", "aria-label": "End of term" });
  const groups = h("input", { id: "reset-groups", placeholder: "class-a; class-b", autocomplete: "off" });
  const [services, servicesField] = choice("reset-services", "Their services", [["suspend", "Pause"], ["delete", "Delete"], ["keep", "Keep"]]);
  const [buckets, bucketsField] = choice("reset-buckets", "Their personal buckets", [["keep", "Keep"], ["archive", "Archive, then delete"], ["delete", "Delete"]]);
  const [secrets, secretsField] = choice("reset-secrets", "Their secrets", [["keep", "Keep"], ["delete", "Delete"]]);
  const archive = h("input", { id: "reset-archive", placeholder: "class-a-archive", autocomplete: "off" });
  const result = h("div", { id: "reset-result", "aria-live": "polite" });

  function plan(dryRun) {
    const body = {
      groups: groups.value.split(/[;,]/).map((g) => g.trim()).filter(Boolean),
      services: services.value, buckets: buckets.value, secrets: secrets.value, dryRun,
    };
    if (archive.value.trim()) body.archiveBucket = archive.value.trim();
    return body;
  }

  async function run(dryRun) {
    mount(result, spinner(dryRun ? "Listing…" : "Resetting…"));
    try {
      const report = await request("POST", "/class/reset", { body: plan(dryRun) });
      mount(result, summary(report));
      if (!dryRun) toast("Class reset", "success");
      return report;
    } catch (error) {
      mount(result, errorBox(error));
      return null;
    }
  }

  async function apply() {
    const preview = await run(true);
    if (!preview) return;
    const ok = await confirmDialog({
      title: `Reset ${preview.students.length} students?`,
      body: "What is listed goes now: paused or deleted services, archived or deleted buckets, deleted secrets.",
      confirmLabel: "Reset", danger: true,
    });
    if (ok) await run(false);
  }

  const form = h("form", { class: "form", onsubmit: (e) => { e.preventDefault(); run(true); } },
    h("div", { class: "grid-2" },
      h("label", { class: "field" }, h("span", {}, "Groups (classes)"), groups),
      servicesField, bucketsField, secretsField,
      h("label", { class: "field" }, h("span", {}, "Archive bucket (to archive)"), archive)),
    h("div", { class: "row" },
      h("button", { type: "submit", class: "button", id: "reset-preview" }, "List what would go"),
      h("button", { type: "button", class: "button danger", id: "reset-apply", onclick: apply }, "Reset…")));

  mount(section, h("h2", {}, "End of term"),
    h("p", { class: "hint" }, "Acts on the enrolled students of these groups only, never on teachers. Accounts stay."),
    form, result);
  return section;
}

function summary(report) {
  const rows = [
    ...report.services.map(([owner, name, done]) => ["Service", `${owner} · ${name}`, done]),
    ...report.buckets.map(([bucket, objects, bytes, done]) => ["Bucket", `${bucket} (${objects} objects, ${bytes} bytes)`, done]),
    ...report.secrets.map(([user, count, done]) => ["Secrets", `${user} (${count})`, done]),
  ];
  return h("div", {},
    h("p", {}, `${report.students.length} students${report.dryRun ? " — nothing changed yet" : ""}: ${report.students.join(", ") || "none"}`),
    rows.length
      ? h("table", { class: "table", id: "reset-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "What"), h("th", {}, "Which"), h("th", {}, "Outcome"))),
        h("tbody", {}, rows.map(([what, which, done]) => h("tr", {}, h("td", {}, what), h("td", {}, which), h("td", {}, done)))))
      : h("p", { class: "hint" }, "Nothing to do."));
}
