// The launcher: a chart's settings as a form, launch, "copy launch link", and launch links
// (autoLaunch) for classes. Link values are checked against the schema before anything runs.

import { h, mount, errorBox, toast, copyText, confirmDialog, spinner } from "../dom.js";
import { request, currentProject, env, ApiError } from "../api.js";
import { navigate, replaceQuery } from "../router.js";
import { computeDefaults, validateAll, schemaAt, getPath, deepEqual } from "../launcher/values.js";
import { parseLaunchQuery, applyPatches, diffPatches, buildLaunchUrl, formatKey, formatValue } from "../launcher/launch-url.js";
import { renderForm, fieldId } from "../launcher/form.js";
import { launcherContext } from "../launcher/context.js";
import { chartIcon, localized } from "./catalog.js";

export async function render(root, { params, query, signal }) {
  const { catalogId, chartName } = params;
  const link = parseLaunchQuery(query);
  document.title = `Launch ${chartName} · onyxia-lite`;
  let versions;
  try {
    versions = await request("GET", `/my-lab/catalogs/${encodeURIComponent(catalogId)}/charts/${encodeURIComponent(chartName)}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      return mount(root, h("h1", {}, "No such service"),
        h("div", { class: "notice notice-error", role: "alert" },
          h("strong", {}, `The catalog has no service "${chartName}" in "${catalogId}".`),
          h("p", {}, "The link may be mistyped or the chart was removed. Nothing was launched.")),
        h("a", { href: "/catalog", class: "button" }, "Browse the catalog"));
    }
    throw error;
  }
  if (!Array.isArray(versions) || !versions.length) throw new Error(`The chart ${catalogId}/${chartName} has no version.`);
  const notices = [];
  let chart = versions.find((v) => v.version === link.version);
  if (!chart) {
    if (link.version) notices.push(`Version ${link.version} does not exist; using ${versions[0].version}, the newest.`);
    chart = versions[0];
  }
  mount(root, spinner("Preparing the launcher…"));
  const [schemaBody, context] = await Promise.all([
    request("GET", `/my-lab/schemas/${encodeURIComponent(catalogId)}/charts/${encodeURIComponent(chartName)}/versions/${encodeURIComponent(chart.version)}`),
    launcherContext(),
  ]);
  if (signal.aborted) return;
  const schema = schemaBody && typeof schemaBody === "object" ? schemaBody : {};
  const defaults = computeDefaults({ type: "object", properties: {}, ...schema }, context, undefined) || {};
  const problems = [...link.errors];
  const patches = [];
  for (const patch of link.patches) {
    if (!schemaAt(schema, patch.path)) problems.push(`${patch.key}: this service has no such setting`);
    else patches.push(patch);
  }
  const values = applyPatches(defaults, patches);
  for (const { path, message } of validateAll(schema, values, context)) {
    if (patches.some((p) => path.join(".").startsWith(p.path.join(".")))) problems.push(`${formatKey(path)} = ${formatValue(getPath(values, path))}: ${message}`);
  }
  const guarded = patches.filter((p) => {
    const rule = schemaAt(schema, p.path)?.["x-security"];
    if (!rule || !rule.pattern) return false;
    try {
      return !new RegExp(rule.pattern, "u").test(p.value === undefined ? "" : String(p.value));
    } catch {
      return true;
    }
  });

  const project = currentProject();
  const state = { values, errors: new Map() };
  for (const { path, message } of validateAll(schema, values, context)) state.errors.set(path.join("."), message);
  const form = h("div", {});
  const friendly = h("input", { id: "friendly-name", type: "text", value: link.name || chartName, maxlength: "100", oninput: syncUrl });
  const share = h("input", { id: "share", type: "checkbox", checked: link.shared === true, onchange: syncUrl });
  const versionSelect = h("select", {
    id: "version",
    onchange: (e) => navigate(launchPath(false, e.target.value), { replace: true }),
  }, versions.map((v) => h("option", { value: v.version, selected: v.version === chart.version }, v.version)));
  const status = h("div", { role: "status", "aria-live": "polite" });
  const launchButton = h("button", { type: "button", class: "button primary", id: "launch", onclick: () => launch() }, "Launch");

  function currentPatches() {
    return diffPatches(defaults, state.values);
  }
  function launchPath(autoLaunch, version = chart.version) {
    return buildLaunchUrl({
      catalogId, chartName, autoLaunch: autoLaunch ? true : undefined, name: friendly.value,
      version, shared: project?.group ? share.checked : undefined, patches: currentPatches(),
    });
  }
  function syncUrl() {
    if (signal.aborted) return;
    replaceQuery(new URL(launchPath(false), location.origin).searchParams);
  }
  function drawForm() {
    const focused = document.activeElement?.id;
    mount(form, renderForm(schema, state, {
      context,
      onChange: (_, { structural }) => {
        if (!launchButton.disabled) mount(status);
        syncUrl();
        if (structural) drawForm();
      },
    }));
    if (focused) document.getElementById(focused)?.focus();
  }

  async function launch() {
    const errors = validateAll(schema, state.values, context);
    if (errors.length) {
      for (const { path, message } of errors) state.errors.set(path.join("."), message);
      drawForm();
      mount(status, h("div", { class: "notice notice-error", role: "alert" },
        h("strong", {}, "Some settings are not valid:"),
        h("ul", {}, errors.map(({ path, message }) => h("li", {}, h("a", { href: "#" + fieldId(path) }, formatKey(path)), ` ${message}`)))));
      return;
    }
    launchButton.disabled = true;
    mount(status, spinner("Launching…"));
    const name = `${chartName}-${context.k8s.randomSubdomain}`.toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, 53).replace(/-+$/, "");
    try {
      await request("PUT", "/my-lab/app", {
        body: {
          catalogId, packageName: chartName, packageVersion: chart.version, name,
          friendlyName: friendly.value.trim() || chartName,
          share: project?.group ? share.checked : false,
          options: state.values,
          dryRun: false,
        },
      });
      toast(`${friendly.value || chartName} is starting`, "success");
      navigate(`/my-services?launched=${encodeURIComponent(name)}`);
    } catch (error) {
      launchButton.disabled = false;
      const details = error.errors?.length ? h("ul", {}, error.errors.map((e) => h("li", {}, typeof e === "string" ? e : `${e.field || e.path || ""} ${e.message || JSON.stringify(e)}`))) : null;
      mount(status, errorBox(error), details);
    }
  }

  const icon = chartIcon(chart);
  mount(root,
    h("div", { class: "page-header" },
      h("div", {},
        h("h1", { class: "card-title" }, icon, localized(chart.name) || chartName),
        h("p", {}, localized(chart.description) || "", " ", h("span", { class: "badge badge-muted" }, `${catalogId}/${chartName}`))),
      h("div", { class: "actions" },
        h("button", {
          type: "button", class: "button", id: "copy-launch-link",
          onclick: async () => {
            const url = location.origin + launchPath(true);
            // Onyxia's link format carries only dotted paths: top-level settings cannot travel.
            const lost = currentPatches().filter((p) => p.path.length < 2).map((p) => p.path[0]);
            const copied = await copyText(url);
            toast(copied ? "Launch link copied: whoever opens it gets this service started" : url, "success");
            if (lost.length) toast(`Launch links cannot carry top-level settings: ${lost.join(", ")} will have its default value.`, "info");
          },
        }, "Copy launch link"),
        launchButton)),
    notices.map((text) => h("div", { class: "notice notice-warn", role: "status" }, text)),
    problems.length ? h("div", { class: "notice notice-error", role: "alert", id: "link-problems" },
      h("strong", {}, "This launch link has problems, so nothing was launched:"),
      h("ul", {}, problems.map((p) => h("li", {}, p))),
      h("p", {}, "Fix the settings below, or ask whoever shared the link for a corrected one.")) : null,
    status,
    h("div", { class: "grid-2" },
      h("label", { class: "field" }, h("span", {}, "Friendly name"), friendly, h("small", {}, "Shown in My services.")),
      h("label", { class: "field" }, h("span", {}, "Version"), versionSelect)),
    project?.group ? h("label", { class: "field inline" }, share, h("span", {}, `Share with the members of ${project.name || project.id}`)) : null,
    form);
  drawForm();
  syncUrl();

  if (!link.autoLaunch) return;
  if (problems.length) return;
  const changed = patches.filter((p) => !deepEqual(getPath(defaults, p.path), p.value));
  if (env().autoLaunch === false || guarded.length) {
    const reason = guarded.length
      ? `This link changes protected settings (${guarded.map((p) => p.key).join(", ")}) to values the service's authors did not allow for automatic launches.`
      : "Automatic launches from links are disabled on this onyxia-lite.";
    const ok = await confirmDialog({
      title: "Check this service before launching it",
      body: h("div", {},
        h("p", {}, reason),
        h("p", {}, "A link can set up a service that runs code or sends your data elsewhere. Launch only if you trust whoever shared it."),
        changed.length ? h("table", { class: "table" },
          h("thead", {}, h("tr", {}, h("th", {}, "Setting"), h("th", {}, "Value from the link"))),
          h("tbody", {}, changed.map((p) => h("tr", {}, h("td", {}, h("code", {}, p.key)), h("td", {}, h("code", {}, formatValue(p.value)))))))
          : h("p", {}, "The link keeps every default value.")),
      confirmLabel: "Launch",
      cancelLabel: "Review first",
    });
    if (!ok || signal.aborted) return;
  }
  await launch();
}
