// S3 from the browser, as onyxia-web does it: temporary keys from STS
// (AssumeRoleWithWebIdentity with the STS client's access token), then requests signed with
// AWS Signature Version 4, written here with the project's own SHA-256.

import { accessToken, sessionCache, mainClientId } from "./auth.js";
import { region, currentUser } from "./api.js";
import { sha256, hmacSha256, toHex } from "./sha256.js";

const UNSIGNED = "UNSIGNED-PAYLOAD";
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/** Files above this size go up in parts of this size. */
export const PART_SIZE = 8 * 1024 * 1024;
const PARALLEL_PARTS = 3;

export class S3Error extends Error {
  constructor(status, code, message, hint) {
    super(message);
    this.status = status;
    this.code = code;
    this.hint = hint;
  }
}

/** The region's first S3 profile (URL, region, path style, STS settings), or null. */
export function s3Profile() {
  const s3 = region()?.data?.S3?.[0];
  if (!s3 || !s3.URL) return null;
  return {
    endpoint: s3.URL.replace(/\/$/, ""),
    region: s3.region || "us-east-1",
    pathStyleAccess: s3.pathStyleAccess !== false,
    sts: s3.sts || null,
    bookmarks: s3.bookmarks || [],
  };
}

/** RFC 3986 encoding as SigV4 wants it (also for `!'()*`). */
export function uriEncode(text, keepSlash = false) {
  const encoded = encodeURIComponent(text).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  return keepSlash ? encoded.replaceAll("%2F", "/") : encoded;
}

function amzDate(date) {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

function signingKey(secret, day, regionName) {
  const kDate = hmacSha256("AWS4" + secret, day);
  const kRegion = hmacSha256(kDate, regionName);
  const kService = hmacSha256(kRegion, "s3");
  return hmacSha256(kService, "aws4_request");
}

function canonicalQuery(params) {
  return [...params]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

/**
 * Signs a request (header form). `path` is already URI-encoded; returns the headers to send
 * (the browser adds Host itself, from the URL, which is what was signed).
 */
export function signRequest({ method, host, path, query = [], headers = {}, payloadHash = UNSIGNED, credentials, regionName, date = new Date() }) {
  const stamp = amzDate(date);
  const day = stamp.slice(0, 8);
  const all = { ...lowerKeys(headers), host, "x-amz-content-sha256": payloadHash, "x-amz-date": stamp };
  if (credentials.sessionToken) all["x-amz-security-token"] = credentials.sessionToken;
  const names = Object.keys(all).sort();
  const canonical = [
    method, path, canonicalQuery(query),
    names.map((n) => `${n}:${String(all[n]).trim()}\n`).join(""),
    names.join(";"), payloadHash,
  ].join("\n");
  const scope = `${day}/${regionName}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", stamp, scope, toHex(sha256(canonical))].join("\n");
  const signature = toHex(hmacSha256(signingKey(credentials.secretAccessKey, day, regionName), toSign));
  const out = { ...all };
  delete out.host;
  out.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`;
  return out;
}

function lowerKeys(headers) {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/** A presigned GET URL (query form, host signed only). */
export function presignUrl({ endpoint, path, credentials, regionName, expires, date = new Date(), extraQuery = [] }) {
  const url = new URL(endpoint);
  const stamp = amzDate(date);
  const day = stamp.slice(0, 8);
  const scope = `${day}/${regionName}/s3/aws4_request`;
  const query = [
    ...extraQuery,
    ["X-Amz-Algorithm", "AWS4-HMAC-SHA256"],
    ["X-Amz-Credential", `${credentials.accessKeyId}/${scope}`],
    ["X-Amz-Date", stamp],
    ["X-Amz-Expires", String(expires)],
    ["X-Amz-SignedHeaders", "host"],
  ];
  if (credentials.sessionToken) query.push(["X-Amz-Security-Token", credentials.sessionToken]);
  const canonical = ["GET", path, canonicalQuery(query), `host:${url.host}\n`, "host", UNSIGNED].join("\n");
  const toSign = ["AWS4-HMAC-SHA256", stamp, scope, toHex(sha256(canonical))].join("\n");
  const signature = toHex(hmacSha256(signingKey(credentials.secretAccessKey, day, regionName), toSign));
  return `${url.origin}${path}?${canonicalQuery(query)}&X-Amz-Signature=${signature}`;
}

/**
 * Temporary S3 keys for the logged-in user: STS AssumeRoleWithWebIdentity with the STS client's
 * access token, cached for the session and renewed once 10 % of their lifetime has passed.
 */
export async function s3Credentials({ renew = false } = {}) {
  const profile = s3Profile();
  if (!profile) throw new S3Error(0, "NoS3", "This region has no S3 storage.", "The administrator can add one to the region's data.S3.");
  const sts = profile.sts || {};
  const stsUrl = (sts.URL || profile.endpoint).replace(/\/$/, "");
  const role = (sts.role && sts.role[0]) || {};
  const cacheKey = `s3:${stsUrl}:${sts.durationSeconds || ""}:${role.roleARN || ""}`;
  const cached = sessionCache(cacheKey);
  if (!renew && cached && Date.now() < cached.obtainedAt + 0.9 * (Date.parse(cached.expiration) - cached.obtainedAt)) {
    return cached;
  }
  const client = sts.oidcConfiguration?.clientID || mainClientId();
  const token = await accessToken(client, { forceRefresh: true }) || (await accessToken());
  if (!token) throw new S3Error(401, "NoToken", "Your session has ended.", "Reload the page to log in again.");
  const form = new URLSearchParams({
    Action: "AssumeRoleWithWebIdentity",
    Version: "2011-06-15",
    WebIdentityToken: token,
    DurationSeconds: String(sts.durationSeconds || 604800),
  });
  if (role.roleARN) form.set("RoleArn", role.roleARN);
  if (role.roleSessionName) form.set("RoleSessionName", role.roleSessionName);
  let response;
  try {
    response = await fetch(stsUrl + "/", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form });
  } catch {
    throw new S3Error(0, "Network", `The S3 service at ${stsUrl} did not answer.`, "Check that onyxia-lite (or the region's S3) is running.");
  }
  const xml = parseXml(await response.text());
  if (!response.ok) {
    const code = text(xml, "Code") || `HTTP ${response.status}`;
    throw new S3Error(response.status, code, `STS refused to issue S3 keys: ${text(xml, "Message") || code}`,
      "Log out and in again; if it persists, the STS client or policy claim is misconfigured.");
  }
  const credentials = {
    accessKeyId: text(xml, "AccessKeyId"),
    secretAccessKey: text(xml, "SecretAccessKey"),
    sessionToken: text(xml, "SessionToken"),
    expiration: text(xml, "Expiration"),
    region: profile.region,
    endpoint: profile.endpoint,
    pathStyleAccess: profile.pathStyleAccess,
    obtainedAt: Date.now(),
  };
  return sessionCache(cacheKey, credentials);
}

function parseXml(body) {
  return new DOMParser().parseFromString(body || "<empty/>", "application/xml");
}

function text(node, tag) {
  return node.getElementsByTagName(tag)[0]?.textContent ?? "";
}

/** Quick links: the region's bookmarks for this user, then the projects' buckets. */
export async function bookmarks() {
  const profile = s3Profile();
  const user = await currentUser();
  const out = [];
  const add = (bucket, prefix, title) => {
    if (bucket && !out.some((b) => b.bucket === bucket && b.prefix === prefix)) out.push({ bucket, prefix, title });
  };
  for (const mark of profile?.bookmarks || []) {
    const claim = mark.claimName === "groups" ? user.groups || [] : [user.idep];
    const values = mark.claimName ? claim : [null];
    for (const value of values) {
      const uri = value === null ? mark.s3Uri : mark.s3Uri.replaceAll("$1", value);
      const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
      if (match) add(match[1], match[2], (mark.title || uri).replaceAll("$1", value ?? ""));
    }
  }
  for (const project of user.projects || []) add(project.bucket, "", `Bucket of ${project.name || project.id}`);
  return out;
}

function objectPath(bucket, key) {
  return `/${uriEncode(bucket)}${key === undefined ? "" : "/" + uriEncode(key, true)}`;
}

/** One signed S3 request with fetch; retries once with fresh keys when they expired. */
async function s3fetch(method, bucket, key, { query = [], headers = {}, body, payloadHash } = {}, retried = false) {
  const credentials = await s3Credentials();
  const url = new URL(credentials.endpoint);
  const path = objectPath(bucket, key);
  const signed = signRequest({ method, host: url.host, path, query, headers, payloadHash: payloadHash || (body ? UNSIGNED : EMPTY_SHA256), credentials, regionName: credentials.region });
  const search = canonicalQuery(query);
  let response;
  try {
    response = await fetch(`${url.origin}${path}${search ? "?" + search : ""}`, { method, headers: signed, body });
  } catch {
    throw new S3Error(0, "Network", `The S3 service at ${url.origin} did not answer.`, "Check that onyxia-lite (or the region's S3) is running.");
  }
  if (!response.ok) {
    const error = await s3Error(response, bucket, key);
    if (!retried && ["ExpiredToken", "InvalidAccessKeyId", "InvalidToken"].includes(error.code)) {
      await s3Credentials({ renew: true });
      return s3fetch(method, bucket, key, { query, headers, body, payloadHash }, true);
    }
    throw error;
  }
  return response;
}

async function s3Error(response, bucket, key) {
  const xml = parseXml(await response.text().catch(() => ""));
  const code = text(xml, "Code") || `HTTP${response.status}`;
  const message = text(xml, "Message") || `S3 answered HTTP ${response.status}`;
  const where = key ? `s3://${bucket}/${key}` : `s3://${bucket}`;
  const hints = {
    AccessDenied: `You may not do this on ${where}. Your personal bucket and your projects' buckets are under the bookmarks.`,
    NoSuchBucket: `The bucket ${bucket} does not exist.`,
    NoSuchKey: `${where} does not exist (any more).`,
    ExpiredToken: "Your S3 keys expired: reload the page.",
    EntityTooLarge: "The file is larger than this S3 service accepts.",
  };
  return new S3Error(response.status, code, `${code}: ${message}`, hints[code] || null);
}

/** Buckets the keys may list (may be refused: STS users often may not list all buckets). */
export async function listBuckets() {
  const response = await s3fetch("GET", "", undefined);
  const xml = parseXml(await response.text());
  return [...xml.getElementsByTagName("Bucket")].map((b) => ({ name: text(b, "Name"), created: text(b, "CreationDate") }));
}

/** One level of a bucket: { folders: [prefix], files: [{ key, size, lastModified, etag }] }. */
export async function listObjects(bucket, prefix = "", { delimiter = "/" } = {}) {
  const folders = [];
  const files = [];
  let token = null;
  do {
    const query = [["list-type", "2"], ["prefix", prefix]];
    if (delimiter) query.push(["delimiter", delimiter]);
    if (token) query.push(["continuation-token", token]);
    const xml = parseXml(await (await s3fetch("GET", bucket, undefined, { query })).text());
    for (const p of xml.getElementsByTagName("CommonPrefixes")) folders.push(text(p, "Prefix"));
    for (const c of xml.getElementsByTagName("Contents")) {
      files.push({ key: text(c, "Key"), size: Number(text(c, "Size")), lastModified: text(c, "LastModified"), etag: text(c, "ETag") });
    }
    token = text(xml, "IsTruncated") === "true" ? text(xml, "NextContinuationToken") : null;
  } while (token);
  return { folders, files };
}

export async function getObjectBlob(bucket, key) {
  return (await s3fetch("GET", bucket, key)).blob();
}

export async function deleteObject(bucket, key) {
  await s3fetch("DELETE", bucket, key);
}

/** Deletes every object under `prefix` (the folder marker included). */
export async function deletePrefix(bucket, prefix) {
  const { files } = await listObjects(bucket, prefix, { delimiter: "" });
  for (const file of files) await deleteObject(bucket, file.key);
  return files.length;
}

/** A folder is a zero-byte object named `prefix/`, as the MinIO console makes them. */
export async function createFolder(bucket, prefix) {
  await s3fetch("PUT", bucket, prefix.endsWith("/") ? prefix : prefix + "/", { body: new Blob([]), payloadHash: EMPTY_SHA256 });
}

export async function presignGet(bucket, key, expiresSeconds) {
  const credentials = await s3Credentials();
  return presignUrl({ endpoint: credentials.endpoint, path: objectPath(bucket, key), credentials, regionName: credentials.region, expires: expiresSeconds });
}

/** PUT with XMLHttpRequest, the only browser API that reports upload progress. */
async function xhrPut(bucket, key, body, query, contentType, onProgress, signal) {
  const credentials = await s3Credentials();
  const url = new URL(credentials.endpoint);
  const path = objectPath(bucket, key);
  const headers = contentType ? { "content-type": contentType } : {};
  const signed = signRequest({ method: "PUT", host: url.host, path, query, headers, credentials, regionName: credentials.region });
  const search = canonicalQuery(query);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", `${url.origin}${path}${search ? "?" + search : ""}`);
    for (const [name, value] of Object.entries(signed)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => onProgress && onProgress(e.loaded);
    xhr.onload = async () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.getResponseHeader("ETag"));
      else reject(await s3Error(new Response(xhr.responseText, { status: xhr.status }), bucket, key));
    };
    xhr.onerror = () => reject(new S3Error(0, "Network", "The upload was interrupted.", "Check the connection and try again."));
    xhr.onabort = () => reject(new S3Error(0, "Aborted", "Upload cancelled.", null));
    if (signal) signal.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}

/**
 * Uploads a file with progress (`onProgress(bytesSent, total)`): one PUT for small files,
 * a multipart upload in parts of PART_SIZE (a few at once) for large ones; a failed or
 * cancelled multipart upload is aborted so no parts are left behind.
 */
export async function putObject(bucket, key, file, { onProgress, signal } = {}) {
  const total = file.size;
  const type = file.type || "application/octet-stream";
  if (total <= PART_SIZE) {
    await xhrPut(bucket, key, file, [], type, (sent) => onProgress && onProgress(sent, total), signal);
    onProgress && onProgress(total, total);
    return;
  }
  const created = parseXml(await (await s3fetch("POST", bucket, key, { query: [["uploads", ""]], headers: { "content-type": type }, body: new Blob([]) })).text());
  const uploadId = text(created, "UploadId");
  const count = Math.ceil(total / PART_SIZE);
  const sent = new Array(count).fill(0);
  const etags = new Array(count);
  const report = () => onProgress && onProgress(sent.reduce((a, b) => a + b, 0), total);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      if (signal?.aborted) throw new S3Error(0, "Aborted", "Upload cancelled.", null);
      const part = file.slice(index * PART_SIZE, Math.min(total, (index + 1) * PART_SIZE));
      const query = [["partNumber", String(index + 1)], ["uploadId", uploadId]];
      etags[index] = await xhrPut(bucket, key, part, query, null, (n) => { sent[index] = n; report(); }, signal);
      sent[index] = part.size;
      report();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(PARALLEL_PARTS, count) }, worker));
    const body = `<CompleteMultipartUpload>${etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etag}</ETag></Part>`).join("")}</CompleteMultipartUpload>`;
    const done = await s3fetch("POST", bucket, key, { query: [["uploadId", uploadId]], headers: { "content-type": "application/xml" }, body });
    const answer = await done.text();
    if (answer.includes("<Error>")) throw await s3Error(new Response(answer, { status: 500 }), bucket, key);
  } catch (error) {
    await s3fetch("DELETE", bucket, key, { query: [["uploadId", uploadId]] }).catch(() => {});
    throw error;
  }
}

/** `mc` command lines for the command bar (keys never appear in them). */
export function mcCommand(action, { bucket, key = "", prefix = "", file = "", expires = "" } = {}) {
  const target = `s3/${bucket}/${key || prefix}`;
  switch (action) {
    case "alias": return "mc alias set s3 <endpoint> <access key> <secret key> --api S3v4   # keys: My account → Storage";
    case "ls": return `mc ls ${target}`;
    case "upload": return `mc cp ${quote(file)} ${quote(target)}`;
    case "download": return `mc cp ${quote(target)} .`;
    case "rm": return `mc rm ${quote(target)}`;
    case "rm-folder": return `mc rm --recursive --force ${quote(target)}`;
    case "mkdir": return `printf '' | mc pipe ${quote(target)}   # S3 has no folders: an empty object named "…/" stands for one`;
    case "share": return `mc share download --expire ${expires} ${quote(target)}`;
    default: return "";
  }
}

function quote(text) {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}
