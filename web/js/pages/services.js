// My services: live status from the API's event stream plus polling (as onyxia-web), open,
// notes, logs, events, rename, share, pause/resume, delete, and the project's quota.

import { h, mount, errorBox, emptyState, toast, confirmDialog, promptDialog, copyButton, timeAgo, spinner } from "../dom.js";
import { request, apiHeaders, currentProject, currentUser } from "../api.js";

/** The UI state of a service, as onyxia-web derives it (§9.3). */
export function serviceState(service) {
  if (service.status === "failed") return "failed";
  if (service.status === "pending-install") return "starting";
  const tasks = service.tasks || [];
  if (service.suspended) return tasks.length ? "suspending" : "suspended";
  const containers = tasks[0]?.containers || [];
  return containers.length && containers.every((c) => c.ready) ? "running" : "starting";
}

// Readable names of the quota report's keys (Kubernetes' and onyxia-lite's `s3.storage`).
const QUOTA_LABELS = {
  "requests.cpu": "CPU requested", "limits.cpu": "CPU limit", "requests.memory": "Memory requested",
  "limits.memory": "Memory limit", "requests.storage": "Volumes", "count/pods": "Running services",
  "s3.storage": "Personal bucket",
};

const BADGES = {
  running: ["badge-ok", "Running"],
  starting: ["badge-warn", "Starting"],
  suspending: ["badge-muted", "Pausing"],
  suspended: ["badge-muted", "Paused"],
  failed: ["badge-error", "Failed"],
};

export async function render(root, { signal, query }) {
  document.title = "My services · onyxia-lite";
  const list = h("div", { class: "stack", id: "services", "aria-live": "polite" });
  const quota = h("section", { "aria-label": "Quota" });
  const eventsList = h("ol", { class: "events", id: "events" });
  const failure = h("div", {});
  let services = [];
  let recentEvents = [];
  const launched = query.get("launched");

  const refresh = async () => {
    try {
      const body = await request("GET", "/my-lab/services");
      services = body.apps || [];
      mount(failure);
      draw();
    } catch (error) {
      if (!signal.aborted) mount(failure, errorBox(error, { retry: refresh }));
    }
  };

  function draw() {
    if (!services.length) {
      if (launched) return mount(list, spinner(`Waiting for ${launched} to appear…`));
      return mount(list, emptyState("No service yet", "Launch one from the catalog: it appears here while it starts.",
        h("a", { class: "button primary", href: "/catalog" }, "Open the catalog")));
    }
    const sorted = [...services].sort((a, b) => (b.startedAt || 0) - (a.startedAt || 0));
    mount(list, sorted.map(card));
  }

  function card(service) {
    const state = serviceState(service);
    const [badgeClass, label] = BADGES[state];
    const name = service.friendlyName || service.chart || service.id;
    const url = (service.urls || [])[0];
    const reason = service.tasks?.[0]?.status?.reason;
    const project = currentProject();
    return h("article", { class: "card service-card", dataset: { service: service.id, state } },
      h("div", { class: "row" },
        h("h2", { class: "card-title" }, name),
        h("span", { class: `badge ${badgeClass}`, role: "status" }, label),
        h("span", { class: "muted" }, `${service.chart || ""} · ${service.id}`),
        service.share ? h("span", { class: "badge badge-muted" }, "shared") : null,
        service.startedAt ? h("span", { class: "muted" }, `updated ${timeAgo(service.startedAt)}`) : null),
      state === "failed" || reason ? h("p", { class: state === "failed" ? "notice notice-error" : "muted" }, reason || "The service failed to start: see its events and logs.") : null,
      cullNotice(service),
      h("div", { class: "card-actions" },
        url && state === "running"
          ? h("a", { class: "button primary", href: url, target: "_blank", rel: "noopener", "aria-label": `Open ${name}` }, "Open")
          : null,
        url ? copyButton(url, "Copy URL") : null,
        h("button", { type: "button", class: "button small", onclick: () => showNotes(service) }, "Notes"),
        h("button", { type: "button", class: "button small", onclick: () => showLogs(service) }, "Logs"),
        h("button", { type: "button", class: "button small", onclick: () => rename(service) }, "Rename"),
        project?.group ? h("button", { type: "button", class: "button small", onclick: () => share(service) }, service.share ? "Stop sharing" : "Share") : null,
        service.suspendable !== false && state !== "failed"
          ? h("button", { type: "button", class: "button small", onclick: () => suspend(service, !service.suspended) }, service.suspended ? "Resume" : "Pause")
          : null,
        h("button", { type: "button", class: "button small danger", onclick: () => remove(service) }, "Delete")));
  }

  // Idle culling: when the service pauses if nobody uses it, and when it is deleted for its age.
  function cullNotice(service) {
    const parts = [];
    if (service.suspendAt) {
      const minutes = Math.max(0, Math.round((service.suspendAt - Date.now()) / 60000));
      parts.push(h("span", { class: "cull-idle" }, `Pauses in ${minutes} min unless used (its files are kept). `),
        h("button", { type: "button", class: "button small", onclick: () => extend(service) }, "Keep running"));
    }
    if (service.expireAt) {
      parts.push(h("span", { class: "cull-age" }, ` Deleted on ${new Date(service.expireAt).toLocaleString()} (maximum age).`));
    }
    return parts.length ? h("p", { class: "muted cull-notice" }, parts) : null;
  }

  async function extend(service) {
    await act("It keeps running", () => request("POST", "/my-lab/app/extend", { body: { serviceID: service.id } }));
  }

  async function act(what, call) {
    try {
      await call();
      toast(what, "success");
    } catch (error) {
      toast(`${error.message}${error.hint ? " " + error.hint : ""}`, "error");
    }
    await refresh();
  }

  async function rename(service) {
    const value = await promptDialog({ title: "Rename the service", label: "Friendly name", value: service.friendlyName || "" });
    if (value === null) return;
    await act(`Renamed to ${value}`, () => request("POST", "/my-lab/app/rename", { body: { serviceID: service.id, friendlyName: value } }));
  }

  async function share(service) {
    await act(service.share ? "No longer shared" : "Shared with the project", () =>
      request("POST", "/my-lab/app/share", { body: { serviceID: service.id, share: !service.share } }));
  }

  async function suspend(service, pause) {
    await act(pause ? "Paused: its data is kept" : "Resuming", () =>
      request("POST", pause ? "/my-lab/app/suspend" : "/my-lab/app/resume", { body: { serviceID: service.id } }));
  }

  async function remove(service) {
    const name = service.friendlyName || service.id;
    const ok = await confirmDialog({ title: `Delete ${name}?`, body: "The service stops and its container and volumes are removed. Files in S3 are not touched.", confirmLabel: "Delete", danger: true });
    if (!ok) return;
    await act(`${name} deleted`, () => request("DELETE", "/my-lab/app", { query: { path: service.id } }));
  }

  async function removeAll() {
    if (!services.length) return;
    // One DELETE per service of one's own, as onyxia-web: `bulk` would also remove services
    // other members share in a group project.
    const user = await currentUser();
    const own = services.filter((s) => !s.owner || s.owner === user.idep);
    const ok = await confirmDialog({ title: `Delete your ${own.length} services?`, body: "Each of your services in this project stops and is removed (services others share with you stay).", confirmLabel: "Delete all", danger: true });
    if (!ok) return;
    await act("All your services deleted", () => Promise.all(own.map((s) => request("DELETE", "/my-lab/app", { query: { path: s.id } }))));
  }

  async function showNotes(service) {
    const notes = service.postInstallInstructions || "This service has no notes.";
    await confirmDialog({ title: `Notes of ${service.friendlyName || service.id}`, body: h("div", { class: "notes" }, linkify(notes)), confirmLabel: "Close", cancelLabel: null });
  }

  async function showLogs(service) {
    const tasks = service.tasks || [];
    const output = h("pre", { class: "logs", tabindex: "0", id: "service-logs" }, "Loading…");
    const picker = h("select", { "aria-label": "Task" }, tasks.map((t) => h("option", { value: t.id }, t.id)));
    const load = async () => {
      output.textContent = "Loading…";
      try {
        const text = await request("GET", "/my-lab/app/logs", { query: { serviceId: service.id, taskId: picker.value || service.id }, text: true });
        output.textContent = text || "(no output yet)";
      } catch (error) {
        output.textContent = `${error.message}${error.hint ? "\n" + error.hint : ""}`;
      }
    };
    const dialog = confirmDialog({
      title: `Logs of ${service.friendlyName || service.id}`,
      body: h("div", { class: "stack" }, h("div", { class: "row" }, tasks.length > 1 ? picker : null, h("button", { type: "button", class: "button small", onclick: load }, "Refresh")), output),
      confirmLabel: "Close", cancelLabel: null,
    });
    picker.addEventListener("change", load);
    await load();
    await dialog;
  }

  async function drawQuota() {
    try {
      const body = await request("GET", "/my-lab/quota");
      const spec = body.spec || {};
      const usage = body.usage || {};
      const rows = Object.keys(spec).filter((k) => usage[k] !== undefined);
      if (!rows.length) return mount(quota);
      mount(quota, h("h2", {}, "Quota of the project"), h("div", { class: "grid-2" }, rows.map((key) => {
        const used = quantity(usage[key]);
        const hard = quantity(spec[key]);
        return h("label", { class: "field", "data-quota": key }, h("span", {}, `${QUOTA_LABELS[key] || key}: ${usage[key]} of ${spec[key]}`),
          h("progress", { max: String(hard || 1), value: String(Math.min(used, hard || 1)) }));
      })));
    } catch (error) {
      if (error.status !== 403) mount(quota, errorBox(error));
    }
  }

  mount(root,
    h("div", { class: "page-header" },
      h("div", {}, h("h1", {}, "My services"), h("p", {}, "Services of the selected project: open them, pause them, or delete them.")),
      h("div", { class: "actions" },
        h("a", { class: "button", href: "/catalog" }, "New service"),
        h("button", { type: "button", class: "button danger", id: "delete-all", onclick: removeAll }, "Delete all"))),
    failure, list,
    h("details", { class: "form-group" }, h("summary", {}, "Recent events"), eventsList),
    quota);
  mount(list, spinner());
  await refresh();
  drawQuota();
  followEvents(signal, (event) => {
    recentEvents = [event, ...recentEvents].slice(0, 30);
    mount(eventsList, recentEvents.map((e) => h("li", { class: e.type === "Warning" ? "notice notice-warn" : "" },
      h("strong", {}, e.involvedObject?.name || ""), " ", e.reason || "", ": ", e.message || "")));
    refresh();
    drawQuota();
  });
  // Polling as onyxia-web does: faster while something is starting.
  const poll = async () => {
    while (!signal.aborted) {
      const busy = services.some((s) => ["starting", "suspending"].includes(serviceState(s))) || (launched && !services.length);
      await sleep(busy ? 2000 : 10000, signal);
      if (!signal.aborted) await refresh();
    }
  };
  poll();
}

/** Reads the API's event stream with fetch (EventSource cannot send a bearer token). */
async function followEvents(signal, onEvent) {
  let backoff = 1000;
  while (!signal.aborted) {
    try {
      const response = await fetch("/api/my-lab/events", { headers: await apiHeaders(), signal });
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      backoff = 1000;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = frame.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).join("\n");
          if (data) {
            try { onEvent(JSON.parse(data)); } catch { /* not JSON: ignore */ }
          }
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    await sleep(backoff, signal);
    backoff = Math.min(backoff * 2, 30000);
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

/** Kubernetes quantities to numbers, enough to draw a bar ("500m", "2Gi", "3"). */
function quantity(text) {
  const m = /^([0-9.]+)\s*([a-zA-Z]*)$/.exec(String(text ?? "").trim());
  if (!m) return 0;
  const factors = { m: 1e-3, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
  return Number(m[1]) * (factors[m[2]] ?? 1);
}

/** Notes are Markdown-ish text: shown as text, with http(s) links made clickable. */
function linkify(text) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(/https?:\/\/[^\s)<>"']+/g)) {
    parts.push(text.slice(last, match.index));
    parts.push(h("a", { href: match[0], target: "_blank", rel: "noopener" }, match[0]));
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return h("pre", { class: "notes-text" }, parts);
}
