// The service catalog: every catalog the user may use, as cards with a search box.

import { h, mount, emptyState } from "../dom.js";
import { request } from "../api.js";
import { replaceQuery } from "../router.js";

/** Catalog texts are either strings or {en, fr, …} objects. */
export function localized(text) {
  if (!text) return "";
  if (typeof text === "string") return text;
  return text.en || Object.values(text)[0] || "";
}

/** The chart's icon, or the platform's when it has none or it cannot load (offline machines). */
export function chartIcon(chart) {
  const img = h("img", { class: "card-icon", src: chart.icon || "/icon.svg", alt: "", width: "40", height: "40", loading: "lazy" });
  img.addEventListener("error", () => { img.src = "/icon.svg"; }, { once: true });
  return img;
}

export async function render(root, { params, query }) {
  document.title = "Service catalog · onyxia-lite";
  const body = await request("GET", "/my-lab/catalogs");
  const catalogs = (body.catalogs || []).filter((c) => c.visible?.user !== false && c.status !== "NOT_PROD");
  if (!catalogs.length) {
    return mount(root, h("h1", {}, "Service catalog"),
      emptyState("No catalog is available to you", "The administrator can add catalogs with `onyxia-lite serve --catalog DIR`."));
  }
  let selected = params.catalogId || query.get("catalog") || "";
  const search = h("input", {
    type: "search", class: "search", id: "catalog-search", placeholder: "Search services",
    "aria-label": "Search services", value: query.get("search") || "",
    oninput: () => { draw(); remember(); },
  });
  const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": "Catalogs" });
  const grid = h("div", { class: "cards", id: "catalog-cards" });

  function remember() {
    const q = new URLSearchParams();
    if (search.value) q.set("search", search.value);
    replaceQuery(q);
  }

  function entries() {
    const out = [];
    for (const catalog of catalogs) {
      if (selected && catalog.id !== selected) continue;
      const latest = catalog.catalog?.latestPackages || {};
      const highlighted = catalog.highlightedCharts || [];
      const charts = Object.values(latest).sort((a, b) => {
        const ha = highlighted.indexOf(a.name);
        const hb = highlighted.indexOf(b.name);
        if (ha !== hb) return (ha === -1 ? 1e9 : ha) - (hb === -1 ? 1e9 : hb);
        return a.name.localeCompare(b.name);
      });
      for (const chart of charts) out.push({ catalog, chart });
    }
    return out;
  }

  function draw() {
    mount(tabs, [{ id: "", name: "All" }, ...catalogs].map((c) => h("button", {
      type: "button", class: "tab", role: "tab", "aria-selected": String(selected === c.id),
      onclick: () => { selected = c.id; draw(); },
    }, localized(c.name) || c.id)));
    const words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const shown = entries().filter(({ chart }) => {
      const haystack = [chart.name, localized(chart.description), ...(chart.keywords || [])].join(" ").toLowerCase();
      return words.every((w) => haystack.includes(w));
    });
    mount(grid, shown.length ? shown.map(({ catalog, chart }) => h("article", { class: "card" },
      h("h2", { class: "card-title" }, chartIcon(chart), chart.name),
      h("p", { class: "card-body" }, localized(chart.description)),
      h("div", { class: "row" }, h("span", { class: "badge badge-muted" }, localized(catalog.name) || catalog.id), h("span", { class: "muted" }, `v${chart.version}`)),
      h("div", { class: "card-actions" },
        h("a", { class: "button primary", href: `/launcher/${encodeURIComponent(catalog.id)}/${encodeURIComponent(chart.name)}`, "aria-label": `Launch ${chart.name}` }, "Launch"))))
      : [emptyState("No service matches", `Nothing in this catalog matches "${search.value}".`)]);
  }

  mount(root,
    h("div", { class: "page-header" },
      h("div", {}, h("h1", {}, "Service catalog"), h("p", {}, "Choose a service, adjust its settings, and launch it.")),
      search),
    tabs, grid);
  draw();
}
