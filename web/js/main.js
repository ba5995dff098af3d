// Start-up: read the platform's configuration, log in, then render the shell and the page
// the URL names.

import { h, mount, errorBox, spinner } from "./dom.js";
import { configureAuth, isCallback, completeLogin, isLoggedIn, login, logout, idTokenClaims } from "./auth.js";
import { publicConfiguration, region, currentUser, currentProject, selectProject, env } from "./api.js";
import { route, startRouter, navigate, refresh } from "./router.js";

route("/", () => import("./pages/catalog.js"));
route("/catalog", () => import("./pages/catalog.js"));
route("/catalog/:catalogId", () => import("./pages/catalog.js"));
route("/launcher/:catalogId/:chartName", () => import("./pages/launcher.js"));
route("/my-services", () => import("./pages/services.js"));
route("/my-files", () => import("./pages/files.js"));
route("/my-secrets", () => import("./pages/secrets.js"));
route("/account", () => import("./pages/account.js"));
route("/class", () => import("./pages/class.js"));

const NAV = [
  ["/catalog", "Service catalog", ["/", "/catalog", "/launcher"]],
  ["/my-services", "My services", ["/my-services"]],
  ["/my-files", "My files", ["/my-files"]],
  ["/my-secrets", "My secrets", ["/my-secrets"]],
  ["/account", "My account", ["/account"]],
];

const app = document.getElementById("app");

async function boot() {
  let config;
  try {
    config = await publicConfiguration();
  } catch (error) {
    return fatal(error);
  }
  const oidc = config.oidcConfiguration || {};
  const issuer = oidc.issuerURI || oidc.issuerUri || "";
  if (sameMachineOtherName(issuer)) return;
  const r = region();
  const extraClients = [];
  const stsClient = r?.data?.S3?.[0]?.sts?.oidcConfiguration?.clientID;
  if (stsClient && stsClient !== oidc.clientID) extraClients.push(stsClient);
  const vaultClient = r?.vault?.oidcConfiguration?.clientID;
  if (vaultClient && vaultClient !== oidc.clientID && !extraClients.includes(vaultClient)) extraClients.push(vaultClient);
  try {
    await configureAuth({ issuer, clientId: oidc.clientID || "onyxia", scope: oidc.scope, extraClients });
    if (isCallback()) {
      const returnTo = await completeLogin();
      history.replaceState(null, "", returnTo || "/");
    }
  } catch (error) {
    return fatal(error, { retry: () => login("/") });
  }
  if (!isLoggedIn()) return login();
  let info;
  try {
    info = await currentUser();
  } catch (error) {
    return fatal(error);
  }
  renderShell(info);
  window.addEventListener("onyxia:project", () => {
    renderShell(info);
    refresh();
  });
  await startRouter(renderPage);
}

/**
 * The login redirect must come back to the origin the issuer knows: a browser that opened
 * 127.0.0.1 while the platform calls itself localhost (or the reverse) is sent there first.
 */
function sameMachineOtherName(issuer) {
  let url;
  try {
    url = new URL(issuer);
  } catch {
    return false;
  }
  const loopback = ["localhost", "127.0.0.1", "[::1]"];
  if (url.origin === location.origin || url.port !== location.port) return false;
  if (!loopback.includes(url.hostname) || !loopback.includes(location.hostname)) return false;
  location.replace(url.origin + location.pathname + location.search + location.hash);
  return true;
}

let mainArea;
let navLinks = [];

function renderShell(info) {
  const user = idTokenClaims();
  const project = currentProject();
  const projects = info.projects || [];
  const projectSelect = h("select", {
    id: "project-select",
    "aria-label": "Project",
    onchange: (e) => selectProject(e.target.value),
  }, projects.map((p) => h("option", { value: p.id, selected: project && p.id === project.id }, p.name || p.id)));
  // Teachers also enrol their class.
  const teaching = (info.groups || []).includes("teachers");
  const nav = teaching ? [...NAV, ["/class", "Class", ["/class"]]] : NAV;
  navLinks = nav.map(([href, label, prefixes]) => {
    const link = h("a", { href, class: "nav-link" }, label);
    link.dataset.prefixes = prefixes.join(" ");
    return link;
  });
  mainArea = h("main", { id: "main", tabindex: "-1" });
  mount(app,
    h("header", { class: "topbar" },
      h("a", { href: "/", class: "brand" }, h("img", { src: "/icon.svg", alt: "", width: "28", height: "28" }), "onyxia-lite"),
      h("label", { class: "project-picker" }, h("span", {}, "Project"), projectSelect),
      h("div", { class: "user-menu" },
        h("span", { class: "username", title: user.email || "" }, user.preferred_username || ""),
        h("button", { type: "button", class: "button small", onclick: () => logout() }, "Log out"))),
    h("div", { class: "layout" },
      h("nav", { class: "sidebar", "aria-label": "Main" }, h("ul", {}, navLinks.map((l) => h("li", {}, l)))),
      mainArea),
    h("footer", { class: "footer" }, `onyxia-lite ${env().version || ""}`));
  app.removeAttribute("aria-busy");
}

async function renderPage(page, context) {
  for (const link of navLinks) {
    const prefixes = link.dataset.prefixes.split(" ");
    const active = prefixes.some((p) => (p === "/" ? context.path === "/" : context.path.startsWith(p)));
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!page) {
    document.title = "Not found · onyxia-lite";
    mount(mainArea, h("h1", {}, "Page not found"),
      h("p", {}, "There is nothing at ", h("code", {}, context.path), ". ", h("a", { href: "/" }, "Go to the catalog"), "."));
    return;
  }
  mount(mainArea, spinner());
  try {
    await page.render(mainArea, context);
  } catch (error) {
    if (context.signal.aborted) return;
    console.error(error);
    mount(mainArea, errorBox(error, { retry: () => navigate(location.pathname + location.search, { replace: true }) }));
  }
}

function fatal(error, { retry } = {}) {
  app.removeAttribute("aria-busy");
  mount(app, h("main", { id: "main", class: "fatal" },
    h("h1", {}, "onyxia-lite cannot start the web UI"),
    errorBox(error, { retry: retry || (() => location.reload()) })));
}

boot();
