// The launcher form, generated from the resolved schema in onyxia-web's order of checks
// (§5.5): hidden → free-form editor → select → slider → group → list → checkbox → text → number.

import { h } from "../dom.js";
import { getPath, setPath, isHidden, isReadonly, optionsOf, validate, sliderNumber, clone } from "./values.js";

/**
 * Renders the form for `schema` over `state.values` (mutated in place). `onChange(path,
 * {structural})` is called after every edit; structural edits (checkboxes, selects, lists)
 * may show or hide other fields, so the page renders the form again.
 */
export function renderForm(schema, state, { context, onChange }) {
  const main = [];
  const global = [];
  for (const [key, node] of Object.entries(schema.properties || {})) {
    const field = renderNode(node, key, [key], [], state, context, onChange);
    if (!field) continue;
    (key === "global" ? global : main).push(field);
  }
  return h("div", { class: "launcher-form" },
    main.length ? main : h("p", { class: "muted" }, "This service has no settings to choose."),
    global.length ? h("details", { class: "form-group" }, h("summary", {}, "Global settings"), global) : null);
}

export function fieldId(path) {
  return "f-" + path.join("__").replace(/[^A-Za-z0-9_-]/g, "_");
}

function labelOf(node, key) {
  return node.title || key;
}

function renderNode(node, key, path, parentPath, state, context, onChange) {
  if (!node || typeof node !== "object") return null;
  if (isHidden(node, state.values, parentPath)) return null;
  const value = getPath(state.values, path);
  const readonly = isReadonly(node);
  const kinds = Array.isArray(node.type) ? node.type : [node.type];
  if ((kinds.includes("object") && !node.properties) || (kinds.includes("array") && !node.items)) {
    return jsonEditor(node, key, path, value, state, onChange, readonly);
  }
  const options = optionsOf(node, context);
  if (options || node.render === "list") return select(node, key, path, value, options || [], state, onChange, readonly);
  if (node.sliderMin !== undefined) return slider(node, key, path, value, state, onChange, readonly);
  if (kinds.includes("object")) {
    const children = mergeRanges(Object.entries(node.properties)
      .map(([k, child]) => [child, renderNode(child, k, [...path, k], path, state, context, onChange)])
      .filter(([, field]) => field));
    if (!children.length) return null;
    return h("fieldset", { class: "form-group", id: fieldId(path) },
      h("legend", {}, labelOf(node, key)),
      node.description ? h("p", { class: "muted" }, node.description) : null,
      children);
  }
  if (kinds.includes("array")) return list(node, key, path, value, state, context, onChange, readonly);
  if (kinds.includes("boolean")) {
    const input = h("input", {
      type: "checkbox", id: fieldId(path), checked: value === true, disabled: readonly,
      onchange: (e) => commit(state, path, e.target.checked, node, onChange, true),
    });
    return h("div", { class: "field" },
      h("label", { class: "field inline" }, input, h("span", {}, labelOf(node, key))),
      node.description ? h("small", { class: "muted" }, node.description) : null);
  }
  if (kinds.includes("number") || kinds.includes("integer")) {
    return textField(node, key, path, value, state, onChange, readonly, "number");
  }
  return textField(node, key, path, value, state, onChange, readonly, node.render === "password" ? "password" : node.render === "textArea" ? "textarea" : "text");
}

/**
 * Two sliders sharing a `sliderRangeId` (a request and its limit, say) become one range
 * control: a group holding the low end and the high end.
 */
function mergeRanges(pairs) {
  const out = [];
  const ranges = new Map();
  for (const [node, field] of pairs) {
    const id = node.sliderRangeId;
    if (node.sliderExtremity && id) {
      if (!ranges.has(id)) {
        const group = h("fieldset", { class: "form-group range-slider", dataset: { range: id } }, h("legend", {}, id));
        ranges.set(id, group);
        out.push(group);
      }
      const group = ranges.get(id);
      if (node.sliderExtremity === "down") group.insertBefore(field, group.children[1] || null);
      else group.append(field);
    } else {
      out.push(field);
    }
  }
  return out;
}

function wrap(node, key, path, control, state) {
  const error = state.errors.get(path.join("."));
  return h("div", { class: "field" },
    h("label", { for: fieldId(path) }, h("span", {}, labelOf(node, key))),
    control,
    node.description ? h("small", { id: fieldId(path) + "-hint" }, node.description) : null,
    h("span", { class: "field-error", id: fieldId(path) + "-error", role: "alert" }, error || ""));
}

/** Stores a value, re-validates it, and tells the page. */
function commit(state, path, value, node, onChange, structural) {
  setPath(state.values, path, value);
  const message = value === undefined ? null : validate(value, node);
  const key = path.join(".");
  if (message) state.errors.set(key, message);
  else state.errors.delete(key);
  const errorNode = document.getElementById(fieldId(path) + "-error");
  if (errorNode) errorNode.textContent = message || "";
  const control = document.getElementById(fieldId(path));
  if (control) control.setAttribute("aria-invalid", message ? "true" : "false");
  onChange(path, { structural });
}

function textField(node, key, path, value, state, onChange, readonly, kind) {
  const numeric = kind === "number";
  const attrs = {
    id: fieldId(path),
    readonly,
    "aria-describedby": `${fieldId(path)}-hint ${fieldId(path)}-error`,
    "aria-invalid": state.errors.has(path.join(".")) ? "true" : "false",
    oninput: (e) => {
      const raw = e.target.value;
      const parsed = numeric ? (raw.trim() === "" ? undefined : Number(raw)) : raw;
      commit(state, path, parsed, node, onChange, false);
    },
  };
  if (kind === "textarea") return wrap(node, key, path, h("textarea", { ...attrs, rows: "5" }, value ?? ""), state);
  const input = h("input", {
    ...attrs,
    type: kind,
    value: value === undefined || value === null ? "" : String(value),
    step: numeric ? (node.type === "integer" ? "1" : "any") : null,
    min: node.minimum,
    max: node.maximum,
    autocomplete: kind === "password" ? "new-password" : "off",
  });
  return wrap(node, key, path, input, state);
}

function select(node, key, path, value, options, state, onChange, readonly) {
  const known = options.some((o) => o === value);
  const control = h("select", {
    id: fieldId(path),
    disabled: readonly,
    onchange: (e) => commit(state, path, options[Number(e.target.value)], node, onChange, true),
  },
  known ? null : h("option", { value: "-1", selected: true, disabled: true }, value === undefined ? "Choose…" : String(value)),
  options.map((option, i) => h("option", { value: String(i), selected: option === value }, String(option))));
  return wrap(node, key, path, control, state);
}

function slider(node, key, path, value, state, onChange, readonly) {
  const unit = node.sliderUnit || "";
  const isString = (Array.isArray(node.type) ? node.type : [node.type]).includes("string");
  const current = isString ? sliderNumber(value, node) : value;
  const output = h("output", { for: fieldId(path) }, value === undefined ? "" : String(value));
  const range = h("input", {
    type: "range",
    id: fieldId(path),
    min: node.sliderMin,
    max: node.sliderMax,
    step: node.sliderStep || 1,
    value: current ?? node.sliderMin,
    disabled: readonly,
    "aria-valuetext": value === undefined ? "" : String(value),
    oninput: (e) => {
      const next = isString ? `${e.target.value}${unit}` : Number(e.target.value);
      output.textContent = String(next);
      e.target.setAttribute("aria-valuetext", String(next));
      commit(state, path, next, node, onChange, false);
    },
  });
  const label = node.sliderExtremitySemantic ? `${labelOf(node, key)} (${node.sliderExtremitySemantic})` : labelOf(node, key);
  return wrap({ ...node, title: label }, key, path, h("div", { class: "slider" }, range, output), state);
}

function list(node, key, path, value, state, context, onChange, readonly) {
  const items = Array.isArray(value) ? value : [];
  const min = node.minItems || 0;
  const max = node.maxItems ?? Infinity;
  const itemNode = node.items || {};
  const rows = items.map((_, i) => {
    const child = renderNode({ ...itemNode, title: `${labelOf(node, key)} #${i + 1}` }, String(i), [...path, i], path, state, context, onChange);
    return h("div", { class: "list-item row" }, child,
      readonly ? null : h("button", {
        type: "button", class: "button small danger", disabled: items.length <= min,
        "aria-label": `Remove item ${i + 1} of ${labelOf(node, key)}`,
        onclick: () => {
          const next = clone(items);
          next.splice(i, 1);
          commit(state, path, next, node, onChange, true);
        },
      }, "Remove"));
  });
  return h("fieldset", { class: "form-group", id: fieldId(path) },
    h("legend", {}, labelOf(node, key)),
    node.description ? h("p", { class: "muted" }, node.description) : null,
    rows.length ? rows : h("p", { class: "muted" }, "No items."),
    readonly ? null : h("button", {
      type: "button", class: "button small", disabled: items.length >= max,
      onclick: () => commit(state, path, [...clone(items), newItem(itemNode)], node, onChange, true),
    }, "Add an item"),
    h("span", { class: "field-error", id: fieldId(path) + "-error", role: "alert" }, state.errors.get(path.join(".")) || ""));
}

function newItem(itemNode) {
  if ("default" in itemNode) return clone(itemNode.default);
  const type = Array.isArray(itemNode.type) ? itemNode.type[0] : itemNode.type;
  return { string: "", number: 0, integer: 0, boolean: false, object: {}, array: [] }[type] ?? "";
}

/** Free-form values (objects without properties, lists without items) as JSON text. */
function jsonEditor(node, key, path, value, state, onChange, readonly) {
  const area = h("textarea", {
    id: fieldId(path),
    rows: "6",
    readonly,
    spellcheck: "false",
    "aria-describedby": `${fieldId(path)}-error`,
    onchange: (e) => {
      const error = document.getElementById(fieldId(path) + "-error");
      try {
        const parsed = e.target.value.trim() === "" ? undefined : JSON.parse(e.target.value);
        commit(state, path, parsed, node, onChange, false);
      } catch (problem) {
        state.errors.set(path.join("."), `not valid JSON: ${problem.message}`);
        if (error) error.textContent = `not valid JSON: ${problem.message}`;
        onChange(path, { structural: false });
      }
    },
  }, value === undefined ? "" : JSON.stringify(value, null, 2));
  return wrap({ ...node, description: node.description || "JSON" }, key, path, area, state);
}
