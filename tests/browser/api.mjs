// Direct API calls the scenarios use to check what the UI did.
import { BASE_URL } from "./lib.mjs";

/** The access token the page holds (sessionStorage of the app's origin). */
export async function apiToken(page) {
  return page.evaluate(() => JSON.parse(sessionStorage.getItem("onyxia-lite.tokens.onyxia")).access_token);
}

/** The headers onyxia-web sends: the bearer token, and ONYXIA-PROJECT when one is chosen. */
export function apiHeaders(token, project) {
  const headers = { authorization: `Bearer ${token}` };
  if (project) headers["ONYXIA-PROJECT"] = project;
  return headers;
}

export async function apiGet(token, path, project) {
  const response = await fetch(BASE_URL + path, { headers: apiHeaders(token, project) });
  if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

export async function deleteService(token, id) {
  const response = await fetch(`${BASE_URL}/api/my-lab/app?path=${encodeURIComponent(id)}`, { method: "DELETE", headers: apiHeaders(token) });
  if (!response.ok) throw new Error(`DELETE ${id}: HTTP ${response.status}`);
}

export async function waitFor(what, check, timeoutMs = 60000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const VAULT_URL = process.env.VAULT_URL || BASE_URL.replace(/:\d+$/, ":8200");

/** Reads a secret through Vault's HTTP API with a token of alice's own. */
export async function vaultRead(path) {
  const token = await fetch(`${BASE_URL}/realms/datalab/protocol/openid-connect/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "password", client_id: "onyxia", username: "alice", password: "alice" }),
  }).then((r) => r.json());
  const login = await fetch(`${VAULT_URL}/v1/auth/jwt/login`, { method: "POST", body: JSON.stringify({ role: "onyxia-user", jwt: token.access_token }) }).then((r) => r.json());
  const response = await fetch(`${VAULT_URL}/v1/onyxia-kv/data/${path}`, { headers: { "X-Vault-Token": login.auth.client_token } });
  return { status: response.status, body: response.status === 200 ? await response.json() : null };
}

