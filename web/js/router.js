// History-API routing for the single-page app: the server answers index.html for every page
// path, so deep links load; in-app links change the URL without a reload.

const routes = [];
let current = null; // { controller }
let renderInto = null;

/** Registers a page: `pattern` like "/launcher/:catalogId/:chartName", `load` imports the module. */
export function route(pattern, load, { title } = {}) {
  const names = [];
  const regex = new RegExp("^" + pattern.replace(/:([A-Za-z]+)/g, (_, name) => {
    names.push(name);
    return "([^/]+)";
  }) + "/?$");
  routes.push({ regex, names, load, title });
}

export function startRouter(render) {
  renderInto = render;
  window.addEventListener("popstate", () => show());
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[href]");
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    if (link.target || link.hasAttribute("download") || link.dataset.external !== undefined) return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin || !routes.some((r) => r.regex.test(url.pathname))) return;
    event.preventDefault();
    navigate(url.pathname + url.search + url.hash);
  });
  return show();
}

/** Goes to an in-app path (pushes history unless `replace`). */
export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  return show();
}

/** Renders the current page again (after the project changed, say). */
export function refresh() {
  return show();
}

/** Changes the query string of the current page without rendering it again. */
export function replaceQuery(params) {
  const search = params.toString();
  history.replaceState(null, "", location.pathname + (search ? "?" + search : "") + location.hash);
}

async function show() {
  if (current) current.controller.abort();
  const controller = new AbortController();
  current = { controller };
  const path = location.pathname;
  for (const r of routes) {
    const match = r.regex.exec(path);
    if (!match) continue;
    const params = {};
    r.names.forEach((name, i) => { params[name] = decodeURIComponent(match[i + 1]); });
    const query = new URLSearchParams(location.search);
    const page = await r.load();
    if (controller.signal.aborted) return;
    return renderInto(page, { params, query, signal: controller.signal, path });
  }
  return renderInto(null, { params: {}, query: new URLSearchParams(), signal: controller.signal, path });
}
