// Onyxia launcher links (§6): `/launcher/<catalog>/<chart>?autoLaunch=true&name=…&version=…&
// shared=…&a.b[0].c=«text»|42|true|null|-`. Parsing, encoding, and the patches between the
// computed defaults and what the user chose. Pure functions, unit-tested by tests/web/.

import { getPath, setPath, clone, deepEqual } from "./values.js";

const REMOVE = "-";

/** Splits a patch key: dots separate (`\.` is a literal dot), `[n]` indexes arrays. */
export function parseKey(key) {
  const path = [];
  let current = "";
  let afterIndex = false;
  let i = 0;
  const push = () => {
    if (current !== "") path.push(current);
    current = "";
  };
  while (i < key.length) {
    const c = key[i];
    if (c === "\\" && key[i + 1] === ".") {
      current += ".";
      i += 2;
    } else if (c === ".") {
      // An empty name (`a..b`, `.a`) is a typo, not a path; `[0].` is fine.
      if (current === "" && !afterIndex) return null;
      push();
      afterIndex = false;
      i++;
    } else if (c === "[") {
      const end = key.indexOf("]", i);
      const index = end > i ? key.slice(i + 1, end) : "";
      if (!/^\d+$/.test(index)) return null;
      push();
      path.push(Number(index));
      afterIndex = true;
      i = end + 1;
    } else {
      current += c;
      afterIndex = false;
      i++;
    }
  }
  push();
  return path.length >= 2 ? path : null;
}

/** Writes a path as a patch key. */
export function formatKey(path) {
  let key = "";
  for (const part of path) {
    if (typeof part === "number") key += `[${part}]`;
    else key += (key ? "." : "") + part.replaceAll(".", "\\.");
  }
  return key;
}

/**
 * Reads a patch value: true/false, null, `-` (remove), a number (parseFloat's reading, as
 * onyxia-web), or «text». Throws an Error naming the problem for anything else.
 */
export function parseValue(raw) {
  if (raw === "true") return { value: true };
  if (raw === "false") return { value: false };
  if (raw === "null") return { value: null };
  if (raw === REMOVE) return { value: undefined };
  if (raw.startsWith("«") && raw.endsWith("»") && raw.length >= 2) return { value: raw.slice(1, -1) };
  const number = parseFloat(raw);
  if (!Number.isNaN(number)) return { value: number };
  throw new Error(`"${raw}" is not a value: write text as «${raw}», or use a number, true, false, null or -`);
}

export function formatValue(value) {
  if (value === undefined) return REMOVE;
  if (typeof value === "string") return `«${value}»`;
  return String(value);
}

/**
 * The launcher's query: { autoLaunch, name, version, shared, s3, patches: [{key, path, value}],
 * errors: [text] }. Keys with a dot (except `oidc-spa.*`) are values patches.
 */
export function parseLaunchQuery(params) {
  const result = { autoLaunch: false, name: null, version: null, shared: null, s3: null, patches: [], errors: [] };
  for (const [key, raw] of params) {
    if (key === "autoLaunch") result.autoLaunch = raw === "true";
    else if (key === "name") result.name = raw;
    else if (key === "version") result.version = raw;
    else if (key === "shared") result.shared = raw === "true";
    else if (key === "s3") result.s3 = raw;
    else if (key.includes(".") && !key.startsWith("oidc-spa.")) {
      const path = parseKey(key);
      if (!path) {
        result.errors.push(`"${key}" is not a values path (use dots between names and [n] for list items)`);
        continue;
      }
      try {
        result.patches.push({ key, path, value: parseValue(raw).value });
      } catch (error) {
        result.errors.push(`${key}: ${error.message}`);
      }
    }
  }
  return result;
}

/** Applies patches to a copy of `values`. */
export function applyPatches(values, patches) {
  const out = clone(values) || {};
  for (const patch of patches) setPath(out, patch.path, patch.value === undefined ? undefined : clone(patch.value));
  return out;
}

/** The leaf patches turning `defaults` into `values` (removed keys become `-`). */
export function diffPatches(defaults, values, path = []) {
  if (deepEqual(defaults, values)) return [];
  const bothObjects = isObject(defaults) && isObject(values);
  const bothArrays = Array.isArray(defaults) && Array.isArray(values);
  if (path.length === 0 && !bothObjects) return [];
  if (bothObjects) {
    const out = [];
    for (const key of new Set([...Object.keys(defaults), ...Object.keys(values)])) {
      out.push(...diffPatches(defaults[key], values[key], [...path, key]));
    }
    return out;
  }
  if (bothArrays) {
    const out = [];
    const length = Math.max(defaults.length, values.length);
    // Removing items from the end one by one keeps earlier indices valid when applied in order.
    for (let i = 0; i < values.length; i++) out.push(...diffPatches(defaults[i], values[i], [...path, i]));
    for (let i = length - 1; i >= values.length; i--) out.push({ path: [...path, i], value: undefined });
    return out;
  }
  // A scalar (or nothing) became a list or an object: one patch per leaf builds it.
  if (isObject(values) || Array.isArray(values)) return diffPatches(isObject(values) ? {} : [], values, path);
  return [{ path, value: values }];
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Encodes one query component, keeping the path characters readable. */
function encode(text) {
  return encodeURIComponent(text).replaceAll("%5B", "[").replaceAll("%5D", "]");
}

/**
 * The launcher link for these settings and patches, relative to the site root. Keys and values
 * are percent-encoded (guillemets as %C2%AB…%C2%BB).
 */
export function buildLaunchUrl({ catalogId, chartName, autoLaunch, name, version, shared, patches }) {
  const parts = [];
  if (autoLaunch !== undefined) parts.push(`autoLaunch=${autoLaunch ? "true" : "false"}`);
  if (name) parts.push(`name=${encode(name)}`);
  if (version) parts.push(`version=${encode(version)}`);
  if (shared !== undefined && shared !== null) parts.push(`shared=${shared ? "true" : "false"}`);
  // A key without a dot is not a patch in Onyxia's format, so top-level values cannot travel.
  for (const patch of patches.filter((p) => p.path.length >= 2)) parts.push(`${encode(formatKey(patch.path))}=${encode(formatValue(patch.value))}`);
  return `/launcher/${encodeURIComponent(catalogId)}/${encodeURIComponent(chartName)}${parts.length ? "?" + parts.join("&") : ""}`;
}

/** Reads the value a patch would change, to show users what a link changes. */
export function describePatch(defaults, patch) {
  return { key: formatKey(patch.path), from: getPath(defaults, patch.path), to: patch.value };
}
