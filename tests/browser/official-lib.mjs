// Shared by the official-*.mjs scenarios: they drive the OFFICIAL onyxia-web (5.5.1, React/MUI),
// served by onyxia-lite with `--web-root`, the way a user would: roles and visible texts, no
// knowledge of its internals. Unlike lib.mjs's scenario(), the checks here know the noise that
// onyxia-web makes on a healthy platform (Vault 404s for settings it has not saved yet, chart
// icons on hosts this closed network cannot resolve) and fail on everything else: page errors,
// console errors, and error answers from onyxia-lite's origins that no step expected.

import { startBrowser, screenshot, BASE_URL, required } from "./lib.mjs";
import { createHash, createHmac } from "node:crypto";

export { screenshot, BASE_URL, required };

const base = new URL(BASE_URL);

/** True for a URL served by the platform: the app/API/issuer origin, S3, Vault, services. */
function platformUrl(url) {
  try {
    const u = new URL(url);
    return u.hostname === base.hostname || u.hostname.endsWith(`.${base.hostname}`) || u.hostname === "127.0.0.1";
  } catch {
    return false;
  }
}

/** Error answers onyxia-web provokes on a healthy platform, and that do not count as problems. */
const EXPECTED_HTTP_ERRORS = [
  // Vault: KV keys that do not exist yet (user settings under .onyxia/, secrets being probed).
  (status, method, url) => status === 404 && method === "GET" && /\/v1\/[^/]+\/data\//.test(url.pathname),
  // Chromium asks for /favicon.ico on onyxia-lite's login page, which has none.
  (status, method, url) => status === 404 && url.pathname === "/favicon.ico",
];

/** Console errors onyxia-web logs on a healthy platform. */
const EXPECTED_CONSOLE_ERRORS = [
  /^Failed to load resource/, // the request itself is checked by the response listener
];

/**
 * Runs a scenario in Chromium: prints each step, saves a screenshot on failure and exits non-zero
 * on error, on a page error, on an unexpected console error, or on an error answer (status >= 400)
 * from the platform that the scenario did not declare with `expectHttpError(predicate)`.
 */
export async function officialScenario(name, body) {
  const started = Date.now();
  const browser = await startBrowser();
  const { page, context } = browser;
  // lib.mjs's own listeners fill browser.problems with console errors it does not know are
  // harmless here: keep our own list instead, with the time of each problem.
  const problems = [];
  const expected = [...EXPECTED_HTTP_ERRORS];
  const httpErrors = [];
  // Times at which Chromium aborted a load with net::ERR_NETWORK_CHANGED: every container that
  // starts (or stops) adds (removes) a veth with an IPv6 link-local address on the host, and
  // Chromium then drops its connections. What breaks in the page right then is the test
  // machine's doing, not the platform's: such problems are reported but tolerated.
  const networkChanges = [];
  const problem = (text) => problems.push({ at: Date.now(), text });
  const step = (text) => console.log(`[${name}] +${((Date.now() - started) / 1000).toFixed(1)}s ${text}`);
  context.on("page", (p) => { if (p !== page) watch(p); });
  watch(page);
  function watch(p) {
    p.on("pageerror", (error) => problem(`page error on ${p.url()}: ${error.message}`));
    p.on("console", (message) => {
      if (message.type() !== "error") return;
      const text = message.text();
      if (EXPECTED_CONSOLE_ERRORS.some((re) => re.test(text))) return;
      problem(`console error on ${p.url()}: ${text}`);
    });
    p.on("response", (response) => {
      if (response.status() < 400 || !platformUrl(response.url())) return;
      const url = new URL(response.url());
      const method = response.request().method();
      httpErrors.push(`${method} ${response.url()} -> ${response.status()}`);
      if (expected.some((ok) => ok(response.status(), method, url))) return;
      problem(`unexpected HTTP ${response.status()} for ${method} ${response.url()}`);
    });
    p.on("requestfailed", (request) => {
      const error = request.failure()?.errorText || "";
      if (error === "net::ERR_NETWORK_CHANGED") {
        networkChanges.push(Date.now());
        return;
      }
      // Aborted loads (navigation away, cancelled polls) and unresolvable external hosts are normal.
      if (error === "net::ERR_ABORTED" || !platformUrl(request.url())) return;
      problem(`request failed (${error}): ${request.method()} ${request.url()}`);
    });
  }
  // A server's error answer is never the network's fault: only failed loads and what follows them.
  const tolerable = (p) => !p.text.startsWith("unexpected HTTP") && networkChanges.some((t) => p.at >= t - 3000 && p.at <= t + 15000);
  const expectHttpError = (predicate) => expected.push(predicate);
  /** Milliseconds timestamp to pass to recoverFromNetworkChange later. */
  const mark = () => Date.now();
  /**
   * After an action that starts or stops a container: waits for the network to settle and, when
   * Chromium dropped loads meanwhile, reloads the page (as a user would on a broken page).
   * Returns whether it reloaded.
   */
  async function recoverFromNetworkChange(p, since) {
    await p.waitForTimeout(3000);
    if (!networkChanges.some((t) => t >= since)) return false;
    for (;;) {
      const last = Math.max(...networkChanges);
      if (Date.now() - last > 2000) break;
      await p.waitForTimeout(1000);
    }
    step(`Chromium dropped loads (net::ERR_NETWORK_CHANGED: a container's network came or went); reloading ${p.url()}`);
    await gotoApp(p, p.url());
    return true;
  }
  try {
    await body({ page, context, step, expectHttpError, mark, recoverFromNetworkChange });
    const tolerated = problems.filter(tolerable);
    if (tolerated.length) {
      console.log(`[${name}] tolerated (within a network change):\n  ${tolerated.map((p) => p.text.slice(0, 300)).join("\n  ")}`);
    }
    const real = problems.filter((p) => !tolerable(p));
    if (real.length) throw new Error(`the page reported errors:\n${real.map((p) => p.text).join("\n")}`);
    step("ok");
  } catch (error) {
    console.error(`[${name}] FAILED after ${((Date.now() - started) / 1000).toFixed(1)}s: ${error.stack || error}`);
    if (problems.length) console.error(`[${name}] problems seen:\n  ${problems.map((p) => p.text.slice(0, 400)).join("\n  ")}`);
    if (httpErrors.length) console.error(`[${name}] error answers seen:\n  ${httpErrors.join("\n  ")}`);
    try {
      await screenshot(page, `official-${name}-failure`);
    } catch { /* the page may be gone */ }
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

/**
 * page.goto that retries once when Chromium aborted the load (net::ERR_NETWORK_CHANGED) because a
 * container's network came or went on this machine (Podman's bridge, or any container's veth).
 */
export async function gotoApp(page, path) {
  const url = path.startsWith("http") ? path : BASE_URL + path;
  try {
    return await page.goto(url);
  } catch (error) {
    if (!String(error).includes("ERR_NETWORK_CHANGED")) throw error;
    await page.waitForTimeout(1000);
    return page.goto(url);
  }
}

/** Waits until onyxia-web shows its shell with a logged-in user (the Logout button). */
export async function waitLoggedIn(page) {
  await page.getByRole("button", { name: "Logout" }).waitFor({ timeout: 30000 });
}

/**
 * Logs in as a user would: the app's "Login" button, onyxia-lite's login form, back to the app.
 * Resolves once the app shows the logged-in shell.
 */
export async function login(page, username = "alice", password = username) {
  await gotoApp(page, "/");
  await page.getByRole("button", { name: "Login" }).click({ timeout: 30000 });
  await fillLoginForm(page, username, password);
  await waitLoggedIn(page);
}

/** Fills onyxia-lite's login form (the page must be on it, or going to it). */
export async function fillLoginForm(page, username, password = username) {
  await page.waitForSelector("input[name=username]", { timeout: 30000 });
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit], input[type=submit]");
}

/**
 * Opens a path of the app as `username`: onyxia-web sends a visitor of a page that needs a user to
 * the login form, which comes back to that page.
 */
export async function openApp(page, path, username = "alice") {
  await gotoApp(page, path);
  const logout = page.getByRole("button", { name: "Logout" });
  const form = page.locator("input[name=username]");
  await logout.or(form).first().waitFor({ timeout: 30000 });
  if (await form.count()) await fillLoginForm(page, username);
  await waitLoggedIn(page);
  // onyxia-web may complete the address (/s3 → /s3/?profile=default), not leave it.
  const wanted = path.split("?")[0].replace(/\/$/, "");
  if (!new URL(page.url()).pathname.startsWith(wanted)) throw new Error(`asked for ${path}, came back to ${page.url()}`);
}

// ---------------------------------------------------------------------------------------------
// Direct calls to the platform's HTTP APIs, to check what the UI did.

/** An access token of `username`'s by the OIDC password grant (client `onyxia`). */
export async function oidcToken(username = "alice", password = username) {
  const response = await fetch(`${BASE_URL}/realms/datalab/protocol/openid-connect/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "password", client_id: "onyxia", username, password, scope: "openid" }),
  });
  if (!response.ok) throw new Error(`password grant for ${username}: HTTP ${response.status} ${await response.text()}`);
  return (await response.json()).access_token;
}

export async function api(token, method, path, body) {
  const response = await fetch(BASE_URL + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** The services of `token`'s user (personal project). */
export async function listServices(token) {
  return (await api(token, "GET", "/api/my-lab/services")).apps;
}

export async function deleteService(token, id) {
  return api(token, "DELETE", `/api/my-lab/app?path=${encodeURIComponent(id)}`);
}

export async function waitFor(what, check, timeoutMs = 60000, everyMs = 500) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A Vault token of `username`'s: OIDC password grant, then Vault's JWT login. */
export async function vaultToken(vaultUrl, username = "alice") {
  const jwt = await oidcToken(username);
  const response = await fetch(`${vaultUrl}/v1/auth/jwt/login`, { method: "POST", body: JSON.stringify({ role: "onyxia-user", jwt }) });
  if (!response.ok) throw new Error(`Vault JWT login: HTTP ${response.status} ${await response.text()}`);
  return (await response.json()).auth.client_token;
}

/** GET on Vault's HTTP API: { status, body }. */
export async function vaultGet(vaultUrl, token, path) {
  const response = await fetch(`${vaultUrl}/v1/${path}`, { headers: { "X-Vault-Token": token } });
  const text = await response.text();
  let body = null;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: response.status, body };
}

// ---------------------------------------------------------------------------------------------
// S3: temporary credentials the way onyxia-web gets them (STS AssumeRoleWithWebIdentity with a
// token of the `onyxia-minio` client), and requests signed with AWS Signature V4.

/** { accessKeyId, secretAccessKey, sessionToken } of `username`'s, from S3's STS. */
export async function s3Credentials(s3Url, username = "alice") {
  const response = await fetch(`${BASE_URL}/realms/datalab/protocol/openid-connect/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "password", client_id: "onyxia-minio", username, password: username, scope: "openid" }),
  });
  if (!response.ok) throw new Error(`password grant (onyxia-minio): HTTP ${response.status} ${await response.text()}`);
  const token = (await response.json()).access_token;
  const sts = await fetch(s3Url, {
    method: "POST",
    body: new URLSearchParams({ Action: "AssumeRoleWithWebIdentity", Version: "2011-06-15", DurationSeconds: "3600", WebIdentityToken: token }),
  });
  const xml = await sts.text();
  if (!sts.ok) throw new Error(`STS AssumeRoleWithWebIdentity: HTTP ${sts.status} ${xml}`);
  const tag = (name) => (xml.match(new RegExp(`<${name}>([^<]*)</${name}>`)) || [])[1];
  return { accessKeyId: tag("AccessKeyId"), secretAccessKey: tag("SecretAccessKey"), sessionToken: tag("SessionToken") };
}

const sha256 = (data) => createHash("sha256").update(data).digest("hex");
const hmac = (key, data) => createHmac("sha256", key).update(data).digest();
const encodeRfc3986 = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * An S3 request signed with SigV4 (path-style: `path` is `/bucket/key`, not encoded yet):
 * { status, headers, body (Buffer) }.
 */
export async function s3Request(s3Url, credentials, method, path, { query = {}, body, region = "us-east-1" } = {}) {
  const url = new URL(s3Url);
  const canonicalUri = path.split("/").map(encodeRfc3986).join("/");
  const canonicalQuery = Object.keys(query).sort().map((k) => `${encodeRfc3986(k)}=${encodeRfc3986(query[k])}`).join("&");
  const now = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const day = now.slice(0, 8);
  const payloadHash = sha256(body || "");
  const headers = { host: url.host, "x-amz-content-sha256": payloadHash, "x-amz-date": now };
  if (credentials.sessionToken) headers["x-amz-security-token"] = credentials.sessionToken;
  const signedHeaders = Object.keys(headers).sort();
  const canonicalRequest = [method, canonicalUri, canonicalQuery, ...signedHeaders.map((h) => `${h}:${headers[h]}`), "", signedHeaders.join(";"), payloadHash].join("\n");
  const scope = `${day}/${region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", now, scope, sha256(canonicalRequest)].join("\n");
  let key = hmac(`AWS4${credentials.secretAccessKey}`, day);
  for (const part of [region, "s3", "aws4_request"]) key = hmac(key, part);
  const signature = createHmac("sha256", key).update(toSign).digest("hex");
  const authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders.join(";")}, Signature=${signature}`;
  const { host, ...sent } = headers;
  const response = await fetch(`${url.origin}${canonicalUri}${canonicalQuery ? `?${canonicalQuery}` : ""}`, {
    method, headers: { ...sent, authorization }, body,
  });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}
