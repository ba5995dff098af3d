// Class enrolment, limits, usage and the end-of-term reset, for teachers: a CSV class list becomes accounts; the one-time
// passwords of new students are shown once, to hand out (or download as CSV). The server checks who may
// enrol whom: this page only shows what it answered.

import { h, mount, errorBox, spinner, toast } from "../dom.js";
import { request } from "../api.js";
import { limitsSection } from "./class-limits.js";
import { usageSection } from "./class-usage.js";
import { resetSection } from "./class-reset.js";

const EXAMPLE = "username,email,display name,groups\nstudent1,s1@school.org,Sam One,class-a\n";

export async function render(root) {
  document.title = "Class · onyxia-lite";
  const file = h("input", { type: "file", id: "class-file", accept: ".csv,text/csv", required: true });
  const prune = h("input", { type: "checkbox", id: "class-prune" });
  const result = h("div", { id: "class-result", "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "button primary", id: "class-import" }, "Enrol");
  const form = h("form", { class: "card form", onsubmit: (e) => { e.preventDefault(); enrol(); } },
    h("label", { for: "class-file" }, "Class list (CSV)"), file,
    h("p", { class: "hint" }, "A header row naming username, and any of email, display name, groups (separated by ;) and password. For example:"),
    h("pre", { class: "code" }, EXAMPLE),
    h("label", { class: "checkbox" }, prune,
      " Disable enrolled students of these groups that the list no longer names"),
    submit);

  async function enrol() {
    const chosen = file.files[0];
    if (!chosen) return;
    submit.disabled = true;
    mount(result, spinner("Enrolling…"));
    try {
      const report = await request("POST", "/class/import", {
        rawBody: await chosen.text(), rawType: "text/csv", query: { prune: prune.checked },
      });
      mount(result, summary(report));
      toast("Class list imported", "success");
    } catch (error) {
      mount(result, errorBox(error));
    } finally {
      submit.disabled = false;
    }
  }

  mount(root,
    h("div", { class: "page-header" }, h("div", {}, h("h1", {}, "Class"),
      h("p", {}, "Enrol your students from a class list. Importing the same list again changes nothing; students keep their passwords."))),
    form, result, limitsSection(), usageSection(), resetSection());
}

function names(label, list) {
  return h("li", {}, h("strong", {}, `${list.length} ${label}`), list.length ? `: ${list.join(", ")}` : "");
}

function summary(report) {
  const rows = report.passwords || [];
  const parts = [h("ul", { class: "class-summary" },
    names("added", report.added), names("updated", report.updated),
    names("unchanged", report.unchanged), names("disabled", report.disabled))];
  if (rows.length) {
    const csv = "username,password\n" + rows.map((r) => `${r.username},${r.password}`).join("\n") + "\n";
    const href = URL.createObjectURL(new Blob([csv], { type: "text/csv" }));
    parts.push(
      h("h2", {}, "One-time passwords"),
      h("p", {}, "Shown this once: hand them out or download them now. Each student chooses their own password at their first login."),
      h("a", { class: "button", id: "class-passwords", href, download: "one-time-passwords.csv" }, "Download as CSV"),
      h("table", { class: "table" },
        h("thead", {}, h("tr", {}, h("th", {}, "Username"), h("th", {}, "One-time password"))),
        h("tbody", {}, rows.map((r) => h("tr", {}, h("td", {}, r.username), h("td", {}, h("code", {}, r.password)))))));
  }
  return h("div", { class: "card" }, parts);
}
