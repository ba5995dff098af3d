// Small DOM helpers shared by every page: element construction, dialogs, toasts, copy buttons.

/**
 * h("button", {class: "primary", onclick: fn, "aria-label": "Close"}, "text", child, [more])
 * Attributes named on* become listeners; `false`/null/undefined attributes are left out;
 * children may be strings, nodes, arrays or null.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "value" || key === "checked" || key === "selected" || key === "disabled") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** Replaces the children of `el`. */
export function mount(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

let toastArea;
/** A short message in the corner; kind is "info" | "success" | "error". */
export function toast(message, kind = "info") {
  if (!toastArea) {
    toastArea = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(toastArea);
  }
  const item = h("div", { class: `toast toast-${kind}` }, message);
  toastArea.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

/**
 * A modal dialog. `body` is a node or string; resolves true when confirmed, false otherwise.
 * Escape and the cancel button close it; focus moves into it and back afterwards.
 */
export function confirmDialog({ title, body, confirmLabel = "OK", cancelLabel = "Cancel", danger = false }) {
  return new Promise((resolve) => {
    const previous = document.activeElement;
    const dialog = h("dialog", { class: "dialog", "aria-labelledby": "dialog-title" },
      h("h2", { id: "dialog-title" }, title),
      h("div", { class: "dialog-body" }, body),
      h("div", { class: "dialog-actions" },
        cancelLabel ? h("button", { type: "button", class: "button", onclick: () => done(false) }, cancelLabel) : null,
        h("button", { type: "button", class: danger ? "button danger" : "button primary", onclick: () => done(true) }, confirmLabel)));
    function done(value) {
      dialog.close();
      dialog.remove();
      if (previous && previous.focus) previous.focus();
      resolve(value);
    }
    dialog.addEventListener("cancel", (e) => { e.preventDefault(); done(false); });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A dialog with one text field; resolves the entered text, or null when cancelled. */
export async function promptDialog({ title, label, value = "", confirmLabel = "OK", pattern, hint }) {
  const input = h("input", { type: "text", value, required: true, pattern: pattern || null, "aria-describedby": hint ? "prompt-hint" : null });
  const body = h("label", { class: "field" }, h("span", {}, label), input, hint ? h("small", { id: "prompt-hint" }, hint) : null);
  setTimeout(() => input.select(), 0);
  const ok = await confirmDialog({ title, body, confirmLabel });
  return ok ? input.value : null;
}

/** Copies text to the clipboard, falling back to a hidden text area on plain-HTTP origins. */
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch { /* fall through */ }
  const area = h("textarea", { class: "visually-hidden", "aria-hidden": "true" });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try { ok = document.execCommand("copy"); } catch { ok = false; }
  area.remove();
  return ok;
}

/** A button that copies `getText()` and says so. */
export function copyButton(getText, label = "Copy", extra = {}) {
  return h("button", {
    type: "button", class: "button small", ...extra,
    onclick: async () => {
      const text = typeof getText === "function" ? getText() : getText;
      toast((await copyText(text)) ? "Copied to the clipboard" : "Copy failed: select the text and copy it by hand", "success");
    },
  }, label);
}

/** A read-only code block with a copy button. */
export function codeBlock(text, { label = "Copy", language = "" } = {}) {
  return h("div", { class: "code-block" },
    h("pre", { tabindex: "0", dataset: language ? { language } : {} }, h("code", {}, text)),
    copyButton(() => text, label));
}

/** What went wrong, and what to do: used for every failed API, S3 or Vault call. */
export function errorBox(error, { retry } = {}) {
  const message = error && error.message ? error.message : String(error);
  const hint = error && error.hint ? error.hint : null;
  return h("div", { class: "notice notice-error", role: "alert" },
    h("strong", {}, message),
    hint ? h("p", {}, hint) : null,
    retry ? h("button", { type: "button", class: "button small", onclick: retry }, "Try again") : null);
}

export function emptyState(title, hint, ...actions) {
  return h("div", { class: "empty-state" }, h("h3", {}, title), hint ? h("p", {}, hint) : null, actions);
}

export function spinner(label = "Loading…") {
  return h("p", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), label);
}

/** Human-readable byte size. */
export function formatBytes(bytes) {
  if (bytes === undefined || bytes === null || Number.isNaN(bytes)) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** "3 minutes ago" style relative time for a Date or epoch milliseconds. */
export function timeAgo(when) {
  const ms = typeof when === "number" ? when : new Date(when).getTime();
  if (!ms) return "";
  const seconds = Math.round((Date.now() - ms) / 1000);
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const steps = [[60, "second"], [60, "minute"], [24, "hour"], [30, "day"], [12, "month"], [Infinity, "year"]];
  let value = -seconds;
  for (const [size, unit] of steps) {
    if (Math.abs(value) < size) return rtf.format(Math.round(value), unit);
    value /= size;
  }
  return "";
}

/** Shell single-quoting for the command lines the UI shows. */
export function shellQuote(value) {
  const text = String(value);
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}
