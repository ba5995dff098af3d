// The command bar: every action on files and secrets is echoed as the command line that does
// the same thing, so users learn the tools they will use inside their services.

import { h, mount, copyButton } from "./dom.js";

const MAX_LINES = 50;
const lines = [];
const views = new Set();

/** Adds a command line (never with secret values in it). */
export function logCommand(text) {
  lines.push({ text, at: new Date() });
  if (lines.length > MAX_LINES) lines.shift();
  for (const view of views) draw(view);
}

/** An element showing the commands; it stops updating once removed from the page. */
export function commandBar() {
  const list = h("ol", { class: "cmdbar-lines", "aria-live": "polite" });
  const view = h("details", { class: "cmdbar", open: true },
    h("summary", {}, "Command line equivalents"),
    list,
    h("div", { class: "row" },
      copyButton(() => lines.map((l) => l.text).join("\n"), "Copy all"),
      h("button", { type: "button", class: "button small ghost", onclick: () => { lines.length = 0; for (const v of views) draw(v); } }, "Clear")));
  view.list = list;
  views.add(view);
  draw(view);
  return view;
}

function draw(view) {
  if (!view.isConnected && view.drawn) {
    views.delete(view);
    return;
  }
  view.drawn = true;
  mount(view.list, lines.length
    ? lines.map((l) => h("li", {}, h("time", { datetime: l.at.toISOString() }, l.at.toLocaleTimeString()), h("code", {}, "$ " + l.text)))
    : h("li", { class: "muted" }, "Your actions will appear here as commands."));
  view.list.scrollTop = view.list.scrollHeight;
}
