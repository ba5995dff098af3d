// Vault from the browser, as onyxia-web does it: a JWT login with the user's access token,
// then KV version 2 calls on the region's mount. Also the user's and projects' settings that
// onyxia-web keeps in Vault under `<vaultTopDir>/.onyxia/`.

import { accessToken, sessionCache, mainClientId } from "./auth.js";
import { region, currentUser } from "./api.js";
import { randomString } from "./sha256.js";

export class VaultError extends Error {
  constructor(status, message, hint) {
    super(message);
    this.status = status;
    this.hint = hint;
  }
}

/** The region's Vault settings, or null when the region has none. */
export function vaultSettings() {
  const vault = region()?.vault;
  if (!vault || !vault.URL) return null;
  return {
    url: vault.URL.replace(/\/$/, ""),
    mount: vault.kvEngine || "secret",
    role: vault.role || "",
    authPath: vault.authPath || "jwt",
    clientId: vault.oidcConfiguration?.clientID || null,
  };
}

function required() {
  const settings = vaultSettings();
  if (!settings) throw new VaultError(0, "This region has no Vault.", "Secrets are unavailable; the administrator can add `vault` to the region.");
  return settings;
}

/** A Vault token from a JWT login, cached and renewed once 10 % of its lifetime has passed. */
export async function vaultToken({ renew = false } = {}) {
  const settings = required();
  const key = `vault:${settings.url}:${settings.role}`;
  const cached = sessionCache(key);
  if (!renew && cached && Date.now() < cached.obtainedAt + 0.9 * (cached.expiresAt - cached.obtainedAt)) return cached;
  const jwt = await accessToken(settings.clientId || mainClientId());
  if (!jwt) throw new VaultError(401, "Your session has ended.", "Reload the page to log in again.");
  const body = await call("POST", `/v1/auth/${settings.authPath}/login`, { role: settings.role, jwt }, null);
  const now = Date.now();
  const token = { token: body.auth.client_token, expiresAt: now + (body.auth.lease_duration || 3600) * 1000, obtainedAt: now };
  return sessionCache(key, token);
}

async function call(method, path, body, token, { allow404 = false } = {}) {
  const settings = required();
  const headers = {};
  if (token) headers["X-Vault-Token"] = token;
  if (body !== undefined && body !== null) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(settings.url + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  } catch {
    throw new VaultError(0, `Vault at ${settings.url} did not answer.`, "Check that onyxia-lite (or the region's Vault) is running.");
  }
  if (allow404 && response.status === 404) return null;
  const text = await response.text();
  const json = text ? JSON.parse(text) : {};
  if (!response.ok) {
    const message = (json.errors || []).join("; ") || `Vault answered HTTP ${response.status}`;
    const hint = response.status === 403 ? "Your token may not touch this path: your secrets live under your own and your groups' directories." : null;
    throw new VaultError(response.status, message, hint);
  }
  return json;
}

/** A KV v2 call with the cached token (renewed once if Vault says it is no longer valid). */
async function kv(method, kind, path, body, options = {}) {
  const { mount } = required();
  const url = `/v1/${mount}/${kind}/${path.split("/").map(encodeURIComponent).join("/")}${options.list ? "?list=true" : ""}`;
  const token = await vaultToken();
  try {
    return await call(method, url, body, token.token, options);
  } catch (error) {
    if (error.status !== 403 || !error.message.includes("permission denied")) throw error;
    const fresh = await vaultToken({ renew: true });
    return call(method, url, body, fresh.token, options);
  }
}

/** Keys under a directory path (directories end with "/"); [] when there are none. */
export async function listSecrets(path) {
  const body = await kv("GET", "metadata", trimSlashes(path) + "/", null, { allow404: true, list: true }).catch((error) => {
    if (error.status === 404) return null;
    throw error;
  });
  return body?.data?.keys || [];
}

export async function readSecret(path) {
  const body = await kv("GET", "data", trimSlashes(path), null);
  return { data: body.data.data || {}, metadata: body.data.metadata || {} };
}

export async function writeSecret(path, data) {
  return kv("POST", "data", trimSlashes(path), { data });
}

/** Deletes every version and the metadata of a secret. */
export async function deleteSecret(path) {
  await kv("DELETE", "metadata", trimSlashes(path), null);
}

function trimSlashes(path) {
  return path.replace(/^\/+|\/+$/g, "");
}

/** The `vault` command line for an action (values never appear in it). */
export function vaultCommand(action, path = "", keys = []) {
  const mount = vaultSettings()?.mount || "secret";
  const target = `-mount=${mount} ${trimSlashes(path)}`;
  switch (action) {
    case "login": return `vault write auth/${vaultSettings()?.authPath || "jwt"}/login role=${vaultSettings()?.role || ""} jwt=$ACCESS_TOKEN`;
    case "list": return `vault kv list ${target}/`;
    case "get": return `vault kv get ${target}`;
    case "put": return `vault kv put ${target} ${keys.map((k) => `${k}=<value>`).join(" ")}`.trim();
    case "delete": return `vault kv metadata delete ${target}`;
    default: return "";
  }
}

async function personalTopDir() {
  const user = await currentUser();
  return (user.projects || [])[0]?.vaultTopDir || user.idep;
}

/** A user setting kept at `<personal top dir>/.onyxia/<key>` as {"value": …}; null when unset. */
export async function readUserConfig(key) {
  if (!vaultSettings()) return JSON.parse(localStorage.getItem("onyxia-lite.config." + key) ?? "null");
  try {
    return (await readSecret(`${await personalTopDir()}/.onyxia/${key}`)).data.value ?? null;
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}

export async function writeUserConfig(key, value) {
  if (!vaultSettings()) {
    localStorage.setItem("onyxia-lite.config." + key, JSON.stringify(value));
    return;
  }
  await writeSecret(`${await personalTopDir()}/.onyxia/${key}`, { value });
}

/** The project's service password (`<top dir>/.onyxia/servicePassword`), created once. */
export async function servicePassword(project) {
  const path = `${project.vaultTopDir}/.onyxia/servicePassword`;
  try {
    const value = (await readSecret(path)).data.value;
    if (typeof value === "string" && value) return value;
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  const password = randomString(15).replace(/[-_]/g, "x");
  await writeSecret(path, { value: password });
  return password;
}
