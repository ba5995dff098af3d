// Helm values from a chart's values.schema.json, as onyxia-web computes them: paths,
// x-onyxia expressions over the launcher context, type coercion, defaults and validation.
// Pure functions (no DOM), unit-tested by tests/web/.

/** Parses `a.b[0]["key.with.dots"]['k']` into ["a", "b", 0, "key.with.dots", "k"]. */
export function parsePath(text) {
  const parts = [];
  const re = /\s*(?:\[\s*(\d+)\s*\]|\[\s*"((?:[^"\\]|\\.)*)"\s*\]|\[\s*'((?:[^'\\]|\\.)*)'\s*\]|\.?([^.[\]\s]+))/y;
  let index = 0;
  while (index < text.length) {
    re.lastIndex = index;
    const m = re.exec(text);
    if (!m || re.lastIndex === index) return null;
    if (m[1] !== undefined) parts.push(Number(m[1]));
    else if (m[2] !== undefined) parts.push(m[2]);
    else if (m[3] !== undefined) parts.push(m[3]);
    else parts.push(m[4]);
    index = re.lastIndex;
    while (text[index] === " ") index++;
  }
  return parts.length ? parts : null;
}

export function getPath(object, path) {
  let value = object;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = value[key];
  }
  return value;
}

/** Sets (or with `undefined`, removes) the value at `path`, creating objects and arrays. */
export function setPath(object, path, value) {
  let target = object;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i];
    if (target[key] === null || typeof target[key] !== "object") {
      if (value === undefined) return object;
      target[key] = typeof path[i + 1] === "number" ? [] : {};
    }
    target = target[key];
  }
  const last = path[path.length - 1];
  if (value === undefined) {
    if (Array.isArray(target) && typeof last === "number") target.splice(last, 1);
    else delete target[last];
  } else {
    target[last] = value;
  }
  return object;
}

export function clone(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

const UNRESOLVED = Symbol("unresolved");

function lookup(context, pathText) {
  const path = parsePath(pathText.trim());
  if (!path) return UNRESOLVED;
  const value = getPath(context, path);
  return value === undefined ? UNRESOLVED : value;
}

const WHOLE = /^\{\{\s*([^{}]+?)\s*\}\}$/;
const PART = /\{\{\s*([^{}]+?)\s*\}\}/g;

function resolveString(text, context, bare) {
  const whole = WHOLE.exec(text);
  if (whole) return lookup(context, whole[1]);
  if (text.includes("{{")) {
    let failed = false;
    const out = text.replace(PART, (_, path) => {
      const value = lookup(context, path);
      if (["string", "number", "boolean"].includes(typeof value)) return String(value);
      failed = true;
      return "";
    });
    return failed ? UNRESOLVED : out;
  }
  return bare ? lookup(context, text) : text;
}

function resolveAny(expression, context, top) {
  if (typeof expression === "string") return resolveString(expression, context, top);
  if (Array.isArray(expression)) {
    const out = [];
    for (const item of expression) {
      const value = resolveAny(item, context, false);
      if (value === UNRESOLVED) return UNRESOLVED;
      out.push(value);
    }
    return out;
  }
  if (expression && typeof expression === "object") {
    const out = {};
    for (const [key, item] of Object.entries(expression)) {
      const value = resolveAny(item, context, false);
      if (value === UNRESOLVED) return UNRESOLVED;
      out[key] = value;
    }
    return out;
  }
  return expression;
}

/**
 * Resolves an x-onyxia expression (§5.3): a bare path or `{{path}}` keeps the value's type,
 * interpolations need scalars, arrays and objects resolve leaf by leaf (plain strings there are
 * literals). Returns `{ resolved: true, value }` or `{ resolved: false }`.
 */
export function resolveExpression(expression, context) {
  const value = resolveAny(expression, context, true);
  return value === UNRESOLVED ? { resolved: false } : { resolved: true, value };
}

function types(node) {
  if (!node || node.type === undefined) return [];
  return Array.isArray(node.type) ? node.type : [node.type];
}

/** The options of a select: overwriteListEnumWith, else listEnum, else enum (or null). */
export function optionsOf(node, context) {
  const expression = node["x-onyxia"]?.overwriteListEnumWith;
  if (expression !== undefined) {
    const r = resolveExpression(expression, context);
    if (r.resolved && Array.isArray(r.value)) return r.value;
  }
  if (Array.isArray(node.listEnum)) return node.listEnum;
  if (Array.isArray(node.enum)) return node.enum;
  return null;
}

/**
 * Brings `value` to the node's type when a reasonable reading exists (§5.3), then checks it.
 * Returns `{ ok: true, value }` or `{ ok: false }`.
 */
export function coerce(value, node, context = {}) {
  const allowed = types(node);
  const candidates = [];
  for (const type of allowed.length ? allowed : [typeOfValue(value)]) {
    const converted = convert(value, type);
    if (converted !== UNRESOLVED) candidates.push(converted);
  }
  for (const candidate of candidates) {
    if (validate(candidate, node, context) === null) return { ok: true, value: candidate };
  }
  return { ok: false };
}

function typeOfValue(value) {
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  return typeof value === "object" ? "object" : typeof value;
}

function convert(value, type) {
  switch (type) {
    case "string":
      if (typeof value === "string") return value;
      if (typeof value === "number" || typeof value === "boolean") return String(value);
      return UNRESOLVED;
    case "boolean":
      if (typeof value === "boolean") return value;
      if (typeof value === "string") {
        const lower = value.trim().toLowerCase();
        if (["true", "yes", "1", "on"].includes(lower)) return true;
        if (["false", "no", "0", "off", ""].includes(lower)) return false;
      }
      if (typeof value === "number") return value !== 0;
      return UNRESOLVED;
    case "number":
    case "integer": {
      let n = value;
      if (typeof value === "string" && value.trim() !== "" && !Number.isNaN(Number(value))) n = Number(value);
      if (typeof n !== "number" || Number.isNaN(n)) return UNRESOLVED;
      if (type === "integer" && !Number.isInteger(n)) return UNRESOLVED;
      return n;
    }
    case "array":
      return Array.isArray(value) ? value : UNRESOLVED;
    case "object":
      return value && typeof value === "object" && !Array.isArray(value) ? value : UNRESOLVED;
    case "null":
      return value === null ? null : UNRESOLVED;
    default:
      return value;
  }
}

/** Splits "500m" into 500 and "m" for a slider with unit "m"; null when it does not fit. */
export function sliderNumber(value, node) {
  const unit = node.sliderUnit || "";
  const text = String(value ?? "");
  if (unit && !text.endsWith(unit)) return null;
  const number = Number(unit ? text.slice(0, text.length - unit.length) : text);
  return Number.isNaN(number) || text.trim() === "" ? null : number;
}

/** What is wrong with `value` for this schema node (a sentence), or null when it is valid. */
export function validate(value, node, context = {}) {
  if (!node) return null;
  if ("const" in node) return deepEqual(value, node.const) ? null : `must be ${JSON.stringify(node.const)}`;
  const allowed = types(node);
  if (allowed.length && !allowed.some((t) => matchesType(value, t))) {
    if (value === undefined) return "is required";
    return `must be ${allowed.map(article).join(" or ")}`;
  }
  const options = optionsOf(node, context);
  if (options && options.length && !options.some((o) => deepEqual(o, value))) {
    return `must be one of ${options.map((o) => JSON.stringify(o)).join(", ")}`;
  }
  if (typeof value === "string") {
    if (node.pattern && !safeRegex(node.pattern).test(value)) return `does not match the expected format (${node.pattern})`;
    if (node.minLength !== undefined && value.length < node.minLength) return `must have at least ${node.minLength} characters`;
    if (node.maxLength !== undefined && value.length > node.maxLength) return `must have at most ${node.maxLength} characters`;
    if (node.render === "slider" || node.sliderMin !== undefined) {
      const n = sliderNumber(value, node);
      if (n === null) return `must be a number followed by "${node.sliderUnit || ""}"`;
      if (node.sliderMin !== undefined && n < node.sliderMin) return `must be at least ${node.sliderMin}${node.sliderUnit || ""}`;
      if (node.sliderMax !== undefined && n > node.sliderMax) return `must be at most ${node.sliderMax}${node.sliderUnit || ""}`;
    }
  }
  if (typeof value === "number") {
    if (node.minimum !== undefined && value < node.minimum) return `must be at least ${node.minimum}`;
    if (node.maximum !== undefined && value > node.maximum) return `must be at most ${node.maximum}`;
  }
  if (Array.isArray(value)) {
    if (node.minItems !== undefined && value.length < node.minItems) return `needs at least ${node.minItems} items`;
    if (node.maxItems !== undefined && value.length > node.maxItems) return `takes at most ${node.maxItems} items`;
  }
  return null;
}

function article(type) {
  return { object: "an object", array: "a list", integer: "an integer", boolean: "true or false", null: "null" }[type] || `a ${type}`;
}

function matchesType(value, type) {
  switch (type) {
    case "string": return typeof value === "string";
    case "boolean": return typeof value === "boolean";
    case "number": return typeof value === "number" && !Number.isNaN(value);
    case "integer": return Number.isInteger(value);
    case "array": return Array.isArray(value);
    case "object": return value !== null && typeof value === "object" && !Array.isArray(value);
    case "null": return value === null;
    default: return true;
  }
}

const regexCache = new Map();
function safeRegex(pattern) {
  if (!regexCache.has(pattern)) {
    let re;
    try { re = new RegExp(pattern, "u"); } catch { re = /[\s\S]*/; }
    regexCache.set(pattern, re);
  }
  return regexCache.get(pattern);
}

export function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) if (!deepEqual(a[key], b[key])) return false;
  return true;
}

/**
 * The default Helm values of a schema (§5.4): const, then object properties (only those the
 * schema lists), then a resolved overwriteDefaultWith, then `default`, then values.yaml, then
 * `minItems` copies of an array's item.
 */
export function computeDefaults(node, context, yamlValue) {
  if (!node || typeof node !== "object") return yamlValue;
  if ("const" in node) return clone(node.const);
  if (types(node).includes("object") && node.properties) {
    const out = {};
    for (const [key, child] of Object.entries(node.properties)) {
      const value = computeDefaults(child, context, yamlValue && typeof yamlValue === "object" ? yamlValue[key] : undefined);
      if (value !== undefined) out[key] = value;
    }
    return out;
  }
  const expression = node["x-onyxia"]?.overwriteDefaultWith;
  if (expression !== undefined) {
    const r = resolveExpression(expression, context);
    if (r.resolved) {
      const mapped = mapArrayOfObjects(r.value, node, context);
      if (mapped !== undefined) return mapped;
      const c = coerce(r.value, node, context);
      if (c.ok) return clone(c.value);
    }
  }
  if ("default" in node && validate(node.default, node, context) === null) return clone(node.default);
  if (yamlValue !== undefined) return clone(yamlValue);
  if (types(node).includes("array")) {
    const count = node.minItems || 0;
    return Array.from({ length: count }, () => computeDefaults(node.items || {}, context, undefined));
  }
  return undefined;
}

/** An array of objects from the context becomes items whose properties read the element's keys. */
function mapArrayOfObjects(value, node, context) {
  if (!types(node).includes("array") || !node.items?.properties || !Array.isArray(value)) return undefined;
  if (!value.every((v) => v && typeof v === "object" && !Array.isArray(v))) return undefined;
  const itemSchema = { ...node.items, properties: {} };
  for (const [key, child] of Object.entries(node.items.properties)) {
    itemSchema.properties[key] = child["x-onyxia"]?.overwriteDefaultWith !== undefined
      ? child
      : { ...child, "x-onyxia": { ...(child["x-onyxia"] || {}), overwriteDefaultWith: `{{${key}}}` } };
  }
  return value.map((element) => computeDefaults(itemSchema, { ...context, ...element }, undefined));
}

/** The schema node at a values path (through properties and items), or null. */
export function schemaAt(schema, path) {
  let node = schema;
  for (const key of path) {
    if (!node) return null;
    if (typeof key === "number") node = node.items || null;
    else node = node.properties ? node.properties[key] || null : null;
  }
  return node;
}

/** Every invalid leaf of `values` against the schema: [{ path, message }]. */
export function validateAll(schema, values, context, path = [], out = []) {
  if (!schema) return out;
  if (types(schema).includes("object") && schema.properties && !("const" in schema)) {
    for (const [key, child] of Object.entries(schema.properties)) {
      const value = values && typeof values === "object" ? values[key] : undefined;
      if (value === undefined && !(schema.required || []).includes(key)) continue;
      validateAll(child, value, context, [...path, key], out);
    }
    return out;
  }
  const message = validate(values, schema, context);
  if (message) out.push({ path, message });
  else if (Array.isArray(values) && schema.items) {
    values.forEach((item, i) => validateAll(schema.items, item, context, [...path, i], out));
  }
  return out;
}

/** Whether a node is hidden (§5.5): `hidden: true`, x-onyxia.hidden, or a value condition. */
export function isHidden(node, values, parentPath) {
  if (node["x-onyxia"]?.hidden === true) return true;
  const hidden = node.hidden;
  if (hidden === true) return true;
  if (hidden && typeof hidden === "object" && typeof hidden.path === "string") {
    const relative = hidden.path.split("/").filter(Boolean);
    const path = hidden.isPathRelative ? [...parentPath, ...relative] : relative;
    return deepEqual(getPath(values, path), hidden.value);
  }
  return false;
}

export function isReadonly(node) {
  return "const" in node || node["x-onyxia"]?.readonly === true;
}
