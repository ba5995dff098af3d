// The Onyxia API as onyxia-web calls it: bearer token, ONYXIA-REGION and ONYXIA-PROJECT
// headers, errors read from application/problem+json. Also the settings the server injected.

import { accessToken, login } from "./auth.js";

/** An API failure: `status`, `message` (what happened), `hint` (what to do), `errors` (fields). */
export class ApiError extends Error {
  constructor(status, message, { hint = null, errors = [] } = {}) {
    super(message);
    this.status = status;
    this.hint = hint;
    this.errors = errors;
  }
}

let configuration = null;
let userInfo = null;

/** Settings from the server (`autoLaunch`, `version`), written into index.html. */
export function env() {
  const node = document.getElementById("onyxia-lite-env");
  try {
    return node ? JSON.parse(node.textContent) : {};
  } catch {
    return {};
  }
}

/** `/api/public/configuration` (regions, OIDC settings), fetched once. */
export async function publicConfiguration() {
  if (!configuration) configuration = await request("GET", "/public/configuration", { auth: false });
  return configuration;
}

/** The region in use: the one chosen earlier if it still exists, else the first. */
export function region() {
  const regions = configuration?.regions || [];
  const chosen = localStorage.getItem("onyxia-lite.region");
  return regions.find((r) => r.id === chosen) || regions[0] || null;
}

/** `/api/user/info` (idep, email, groups, projects), fetched once per page load. */
export async function currentUser() {
  if (!userInfo) userInfo = await request("GET", "/user/info");
  return userInfo;
}

/** The selected project (personal by default), from the user's projects. */
export function currentProject() {
  const projects = userInfo?.projects || [];
  const chosen = localStorage.getItem("onyxia-lite.project");
  return projects.find((p) => p.id === chosen) || projects[0] || null;
}

export function selectProject(id) {
  localStorage.setItem("onyxia-lite.project", id);
  window.dispatchEvent(new CustomEvent("onyxia:project", { detail: id }));
}

/** Headers every authenticated API call carries. */
export async function apiHeaders() {
  const token = await accessToken();
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  const r = region();
  if (r) headers["ONYXIA-REGION"] = r.id;
  const p = currentProject();
  if (p) headers["ONYXIA-PROJECT"] = p.id;
  return headers;
}

/**
 * Calls `/api<path>`; JSON bodies in and out. A 401 renews the token once, then sends the user
 * to log in and back to this page. Rejects with ApiError.
 */
export async function request(method, path, { body, rawBody, rawType = "text/plain", auth = true, text = false, query } = {}) {
  const url = new URL("/api" + path, location.origin);
  if (query) for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
  for (let attempt = 0; attempt < 2; attempt++) {
    const headers = auth ? await apiHeaders() : {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (rawBody !== undefined) headers["content-type"] = rawType;
    const sent = rawBody !== undefined ? rawBody : body === undefined ? undefined : JSON.stringify(body);
    let response;
    try {
      response = await fetch(url, { method, headers, body: sent });
    } catch (e) {
      throw new ApiError(0, "onyxia-lite did not answer.", { hint: "Is `onyxia-lite serve` still running? Reload the page once it is." });
    }
    if (response.status === 401 && auth) {
      if (attempt === 0 && (await accessToken(undefined, { forceRefresh: true }))) continue;
      await login();
    }
    if (!response.ok) throw await problem(response);
    if (text) return response.text();
    const type = response.headers.get("content-type") || "";
    if (!type.includes("json")) return response.text();
    const raw = await response.text();
    return raw ? JSON.parse(raw) : null;
  }
  throw new ApiError(401, "Your session has ended.", { hint: "Log in again." });
}

async function problem(response) {
  let body = {};
  try {
    body = await response.json();
  } catch { /* not JSON */ }
  const errors = Array.isArray(body.errors) ? body.errors : [];
  const message = body.detail || body.title || body.error_description || body.message || `HTTP ${response.status}`;
  const hint = hintFor(response.status, message, new URL(response.url).pathname);
  return new ApiError(response.status, message, { hint, errors });
}

function hintFor(status, message, path) {
  // A class page's refusals say themselves why (not a teacher, not a class's account).
  if (status === 403 && path.startsWith("/api/class/")) return null;
  if (status === 503) return "Start Docker or Podman on the machine running onyxia-lite (`onyxia-lite doctor` says what it found), then try again.";
  if (status === 403 && /quota/i.test(message)) return "Delete or pause a service of this project, or ask for a larger quota.";
  if (status === 403) return "You cannot do this in the selected project. Switch project, or ask its owner.";
  if (status === 409) return "Choose another name.";
  if (status >= 500) return "This is a fault of onyxia-lite, not yours: its log says more.";
  return null;
}
