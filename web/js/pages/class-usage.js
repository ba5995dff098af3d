// Usage of the class, for teachers: per student and per group, hours running, CPU-hours,
// memory-hours, services launched and bytes in personal buckets, with a chart of how many
// services ran at once, and the same report as CSV.

import { h, mount, errorBox, spinner } from "../dom.js";
import { request } from "../api.js";

const SVG = "http://www.w3.org/2000/svg";
const COLUMNS = [
  ["runningHours", "Hours running", (v) => v.toFixed(1)],
  ["cpuHours", "CPU-hours", (v) => v.toFixed(2)],
  ["memoryGibHours", "Memory (GiB-hours)", (v) => v.toFixed(2)],
  ["servicesLaunched", "Services launched", String],
  ["s3Bytes", "Personal bucket", bytes],
];

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

export function usageSection() {
  const section = h("section", { class: "card", id: "class-usage", "aria-label": "Class usage" });
  const since = h("input", { id: "usage-since", value: "30d", autocomplete: "off", "aria-describedby": "usage-since-hint" });
  const body = h("div", { id: "usage-body" });
  const csv = h("button", { type: "button", class: "button small", id: "usage-csv", onclick: () => download() }, "Download as CSV");
  const form = h("form", { class: "row", onsubmit: (e) => { e.preventDefault(); draw(); } },
    h("label", { for: "usage-since" }, "Services launched since "), since,
    h("button", { type: "submit", class: "button small" }, "Show"), csv);

  async function draw() {
    mount(body, spinner());
    try {
      const report = await request("GET", "/class/report", { query: { since: since.value.trim() } });
      mount(body, chart(report.concurrency || []), table("Students", report.users, "usage-users"), table("Groups", report.groups, "usage-groups"));
    } catch (error) {
      mount(body, errorBox(error));
    }
  }

  async function download() {
    try {
      const text = await request("GET", "/class/report", { query: { since: since.value.trim(), format: "csv" }, text: true });
      const link = h("a", { href: URL.createObjectURL(new Blob([text], { type: "text/csv" })), download: "class-usage.csv" });
      document.body.append(link);
      link.click();
      link.remove();
    } catch (error) {
      mount(body, errorBox(error));
    }
  }

  mount(section, h("h2", {}, "Usage"),
    h("p", { class: "hint", id: "usage-since-hint" }, "A date (2026-09-01) or a number of days (30d)."), form, body);
  draw();
  return section;
}

function table(title, rows, id) {
  if (!rows?.length) return null;
  return h("div", {}, h("h3", {}, title),
    h("table", { class: "table", id },
      h("thead", {}, h("tr", {}, h("th", {}, "Name"), COLUMNS.map(([, label]) => h("th", {}, label)))),
      h("tbody", {}, rows.map((r) => h("tr", { "data-usage": r.name },
        h("td", {}, r.name), COLUMNS.map(([key, , show]) => h("td", {}, show(r[key] || 0))))))));
}

// Services running at once over time, as a step line.
function chart(points) {
  if (points.length < 2) return h("p", { class: "hint" }, "No services measured over this period yet.");
  const width = 640, height = 160, pad = 28;
  const t0 = points[0][0], t1 = points[points.length - 1][0];
  const top = Math.max(1, ...points.map((p) => p[1]));
  const x = (t) => pad + ((t - t0) / Math.max(1, t1 - t0)) * (width - 2 * pad);
  const y = (n) => height - pad - (n / top) * (height - 2 * pad);
  const path = points.map(([t, n], i) => `${i ? "L" : "M"}${x(t).toFixed(1)},${y(n).toFixed(1)}`).join(" ");
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("id", "usage-chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Services running at once, at most ${top}`);
  const add = (tag, attrs, text) => {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    if (text) el.textContent = text;
    svg.append(el);
  };
  add("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, stroke: "currentColor", "stroke-opacity": 0.3 });
  add("path", { d: path, fill: "none", stroke: "var(--accent, #2f48d4)", "stroke-width": 2 });
  add("text", { x: 4, y: y(top) + 4, "font-size": 11, fill: "currentColor" }, String(top));
  add("text", { x: 4, y: height - pad + 4, "font-size": 11, fill: "currentColor" }, "0");
  add("text", { x: pad, y: height - 8, "font-size": 11, fill: "currentColor" }, new Date(t0).toLocaleString());
  add("text", { x: width - pad, y: height - 8, "font-size": 11, fill: "currentColor", "text-anchor": "end" }, new Date(t1).toLocaleString());
  return h("figure", {}, svg, h("figcaption", { class: "hint" }, "Services running at once"));
}
