// OpenID Connect login as a public client: authorization code with PKCE (S256), tokens kept
// in sessionStorage (per tab; the issuer's SSO cookie makes new tabs log in without a form),
// refresh on demand, and RP-initiated logout. A second client (the one STS trusts, when the
// region names another) is logged in right after the first with prompt=none.

import { sha256, base64url, randomString } from "./sha256.js";

const PREFIX = "onyxia-lite.";
const CALLBACK_PATH = "/oidc-callback";
/** Tokens are renewed this long before they expire. */
const MARGIN_MS = 30_000;

let settings = null; // { issuer, clientId, scope, extraClients: [] }
let discovery = null;
const refreshing = new Map();

/** Called once at start with the main client and the other clients the region needs. */
export async function configureAuth({ issuer, clientId, scope, extraClients = [] }) {
  settings = { issuer: issuer.replace(/\/$/, ""), clientId, scope: scope || "openid profile", extraClients };
  discovery = await fetchDiscovery(settings.issuer);
}

async function fetchDiscovery(issuer) {
  const cached = sessionStorage.getItem(PREFIX + "discovery");
  if (cached) {
    const doc = JSON.parse(cached);
    if (doc.issuer === issuer) return doc;
  }
  const response = await fetch(`${issuer}/.well-known/openid-configuration`);
  if (!response.ok) throw new Error(`The login server ${issuer} did not answer its discovery document (HTTP ${response.status})`);
  const doc = await response.json();
  sessionStorage.setItem(PREFIX + "discovery", JSON.stringify(doc));
  return doc;
}

export function mainClientId() {
  return settings.clientId;
}

function redirectUri() {
  return location.origin + CALLBACK_PATH;
}

/** Sends the browser to the login page; after login it comes back to `returnTo`. */
export async function login(returnTo = location.pathname + location.search + location.hash, { clientId, prompt } = {}) {
  const client = clientId || settings.clientId;
  const verifier = randomString(48);
  const state = randomString(16);
  const nonce = randomString(16);
  sessionStorage.setItem(PREFIX + "pending." + state, JSON.stringify({ verifier, returnTo, client, nonce }));
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: client,
    redirect_uri: redirectUri(),
    scope: settings.scope,
    state,
    nonce,
    code_challenge: base64url(sha256(verifier)),
    code_challenge_method: "S256",
    ...(prompt ? { prompt } : {}),
  });
  location.assign(url.toString());
  // The page is going away; callers must not go on.
  return new Promise(() => {});
}

/** True when the current URL is the login callback (handled by `completeLogin`). */
export function isCallback() {
  return location.pathname === CALLBACK_PATH;
}

/**
 * Exchanges the code of the callback URL, then logs the extra clients in silently. Returns the
 * path to go back to. Throws with the issuer's error description when login failed.
 */
export async function completeLogin() {
  const params = new URLSearchParams(location.search);
  const state = params.get("state") || "";
  const pendingText = sessionStorage.getItem(PREFIX + "pending." + state);
  sessionStorage.removeItem(PREFIX + "pending." + state);
  if (!pendingText) throw new Error("This login answer does not belong to a login started here. Please log in again.");
  const pending = JSON.parse(pendingText);
  if (params.get("error")) {
    // A silent login of an extra client may fail (login_required): the app works without it.
    if (pending.client !== settings.clientId) return pending.returnTo;
    throw new Error(params.get("error_description") || params.get("error"));
  }
  const tokens = await tokenRequest({
    grant_type: "authorization_code",
    code: params.get("code") || "",
    redirect_uri: redirectUri(),
    client_id: pending.client,
    code_verifier: pending.verifier,
  });
  const claims = decodeJwt(tokens.id_token || "");
  if (claims && claims.nonce !== pending.nonce) throw new Error("The login answer was not for this browser (nonce mismatch). Please log in again.");
  store(pending.client, tokens);
  const missing = settings.extraClients.find((c) => !load(c));
  if (missing) await login(pending.returnTo, { clientId: missing, prompt: "none" });
  return pending.returnTo;
}

async function tokenRequest(form) {
  const response = await fetch(discovery.token_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.error_description || body.error || `token endpoint answered HTTP ${response.status}`);
    error.oauthError = body.error;
    throw error;
  }
  return body;
}

function store(client, tokens) {
  const now = Date.now();
  const saved = {
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token || "",
    id_token: tokens.id_token || load(client)?.id_token || "",
    expires_at: now + (tokens.expires_in || 300) * 1000,
    refresh_expires_at: tokens.refresh_expires_in ? now + tokens.refresh_expires_in * 1000 : 0,
  };
  sessionStorage.setItem(PREFIX + "tokens." + client, JSON.stringify(saved));
  return saved;
}

function load(client) {
  const text = sessionStorage.getItem(PREFIX + "tokens." + client);
  return text ? JSON.parse(text) : null;
}

/** True when tokens of the main client exist (they may need a refresh). */
export function isLoggedIn() {
  return !!load(settings.clientId);
}

/**
 * A valid access token of `client` (the main one by default), refreshed when near expiry.
 * Resolves null when the session is over (the caller decides to log in again).
 */
export async function accessToken(client = settings.clientId, { forceRefresh = false } = {}) {
  const saved = load(client);
  if (!saved) return null;
  if (!forceRefresh && saved.expires_at - MARGIN_MS > Date.now()) return saved.access_token;
  if (!saved.refresh_token) return null;
  if (!refreshing.has(client)) {
    const attempt = tokenRequest({ grant_type: "refresh_token", refresh_token: saved.refresh_token, client_id: client })
      .then((tokens) => store(client, tokens).access_token)
      .catch(() => {
        sessionStorage.removeItem(PREFIX + "tokens." + client);
        return null;
      })
      .finally(() => refreshing.delete(client));
    refreshing.set(client, attempt);
  }
  return refreshing.get(client);
}

/** When the access token of `client` expires (epoch ms), or 0. */
export function accessTokenExpiry(client = settings.clientId) {
  return load(client)?.expires_at || 0;
}

/** The refresh token of the main client ("" when none), for the launcher context. */
export function refreshToken(client = settings.clientId) {
  return load(client)?.refresh_token || "";
}

/** Claims of the main client's ID token. */
export function idTokenClaims() {
  return decodeJwt(load(settings.clientId)?.id_token || "") || {};
}

export function decodeJwt(token) {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const text = atob(part.replaceAll("-", "+").replaceAll("_", "/"));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(text, (c) => c.charCodeAt(0))));
  } catch {
    return null;
  }
}

/** Ends the session at the issuer too, then comes back to the home page. */
export function logout() {
  const idToken = load(settings.clientId)?.id_token;
  for (const key of Object.keys(sessionStorage)) if (key.startsWith(PREFIX)) sessionStorage.removeItem(key);
  if (!discovery.end_session_endpoint) {
    location.assign("/");
    return;
  }
  const url = new URL(discovery.end_session_endpoint);
  url.search = new URLSearchParams({
    client_id: settings.clientId,
    post_logout_redirect_uri: location.origin + "/",
    ...(idToken ? { id_token_hint: idToken } : {}),
  });
  location.assign(url.toString());
}

/** Forgets cached values derived from tokens (S3 keys, Vault token) along with nothing else. */
export function sessionCache(key, value) {
  if (value === undefined) {
    const text = sessionStorage.getItem(PREFIX + "cache." + key);
    return text ? JSON.parse(text) : null;
  }
  if (value === null) sessionStorage.removeItem(PREFIX + "cache." + key);
  else sessionStorage.setItem(PREFIX + "cache." + key, JSON.stringify(value));
  return value;
}
