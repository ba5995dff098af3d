// My files: the user's S3 buckets from the browser with STS keys — browse, upload with
// progress (multipart for large files), download, folders, presigned share links — each action
// echoed as the `mc` command that does the same.

import { h, mount, errorBox, emptyState, toast, confirmDialog, promptDialog, codeBlock, formatBytes, timeAgo, spinner } from "../dom.js";
import { navigate } from "../router.js";
import { logCommand, commandBar } from "../cmdbar.js";
import * as s3 from "../s3.js";

const EXPIRIES = [["1 hour", 3600, "1h"], ["1 day", 86400, "24h"], ["7 days", 604800, "168h"]];

let loggedAlias = false;

export async function render(root, { query, signal }) {
  document.title = "My files · onyxia-lite";
  const marks = await s3.bookmarks();
  let location_ = query.get("path") || "";
  if (!location_ && marks.length) location_ = `${marks[0].bucket}/${marks[0].prefix}`;
  const slash = location_.indexOf("/");
  const bucket = slash < 0 ? location_ : location_.slice(0, slash);
  const prefix = slash < 0 ? "" : location_.slice(slash + 1);
  const go = (b, p) => navigate(`/my-files?path=${encodeURIComponent(`${b}/${p}`)}`);

  const listing = h("div", { id: "file-list", "aria-live": "polite" }, spinner());
  const uploads = h("div", { class: "stack", id: "uploads" });
  const picker = h("input", { type: "file", multiple: true, id: "upload-input", class: "visually-hidden", onchange: (e) => upload([...e.target.files]) });

  const crumbs = [h("li", {}, h("a", { href: `/my-files?path=${encodeURIComponent(bucket + "/")}` }, bucket))];
  let acc = "";
  for (const part of prefix.split("/").filter(Boolean)) {
    acc += part + "/";
    crumbs.push(h("li", {}, h("a", { href: `/my-files?path=${encodeURIComponent(`${bucket}/${acc}`)}` }, part)));
  }

  async function refresh() {
    if (!bucket) return mount(listing, emptyState("No bucket to show", "This region names no bucket for you."));
    try {
      const { folders, files } = await s3.listObjects(bucket, prefix);
      logCommand(s3.mcCommand("ls", { bucket, prefix }));
      const entries = files.filter((f) => f.key !== prefix);
      if (!folders.length && !entries.length) {
        return mount(listing, emptyState("This folder is empty", "Upload files, or drop them here."));
      }
      mount(listing, h("table", { class: "table" },
        h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", { class: "num" }, "Size"), h("th", {}, "Modified"), h("th", {}, h("span", { class: "visually-hidden" }, "Actions")))),
        h("tbody", {},
          folders.map((folder) => h("tr", { dataset: { folder } },
            h("td", {}, h("a", { href: `/my-files?path=${encodeURIComponent(`${bucket}/${folder}`)}` }, "📁 " + folder.slice(prefix.length))),
            h("td", {}), h("td", {}),
            h("td", {}, h("button", { type: "button", class: "button small danger", "aria-label": `Delete folder ${folder.slice(prefix.length)}`, onclick: () => removeFolder(folder) }, "Delete")))),
          entries.map((file) => {
            const name = file.key.slice(prefix.length);
            return h("tr", { dataset: { key: file.key } },
              h("td", {}, name),
              h("td", { class: "num" }, formatBytes(file.size)),
              h("td", { title: file.lastModified }, timeAgo(file.lastModified)),
              h("td", {}, h("div", { class: "row" },
                h("button", { type: "button", class: "button small", "aria-label": `Download ${name}`, onclick: () => download(file.key, name) }, "Download"),
                h("button", { type: "button", class: "button small", "aria-label": `Share ${name}`, onclick: () => share(file.key, name) }, "Share"),
                h("button", { type: "button", class: "button small danger", "aria-label": `Delete ${name}`, onclick: () => removeFile(file.key, name) }, "Delete"))));
          }))));
    } catch (error) {
      if (!signal.aborted) mount(listing, errorBox(error, { retry: refresh }));
    }
  }

  async function upload(files) {
    for (const file of files) {
      const key = prefix + file.name;
      const bar = h("progress", { max: String(file.size || 1), value: "0", "aria-label": `Upload of ${file.name}` });
      const label = h("span", {}, `${file.name}: 0 %`);
      const controller = new AbortController();
      const cancel = h("button", { type: "button", class: "button small", onclick: () => controller.abort() }, "Cancel");
      const row = h("div", { class: "card upload", dataset: { upload: file.name } }, h("div", { class: "row" }, label, cancel), bar);
      uploads.append(row);
      logCommand(s3.mcCommand("upload", { bucket, key, file: file.name }));
      try {
        await s3.putObject(bucket, key, file, {
          signal: controller.signal,
          onProgress: (sent, total) => {
            bar.value = sent;
            label.textContent = `${file.name}: ${Math.floor((sent / (total || 1)) * 100)} % (${formatBytes(sent)} of ${formatBytes(total)})`;
          },
        });
        label.textContent = `${file.name}: uploaded (${formatBytes(file.size)})`;
        row.dataset.done = "true";
        cancel.remove();
      } catch (error) {
        label.textContent = `${file.name}: ${error.message}`;
        row.classList.add("notice-error");
        cancel.remove();
      }
      await refresh();
    }
  }

  async function download(key, name) {
    logCommand(s3.mcCommand("download", { bucket, key }));
    try {
      const blob = await s3.getObjectBlob(bucket, key);
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: name, class: "visually-hidden" });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (error) {
      toast(`${error.message}${error.hint ? " " + error.hint : ""}`, "error");
    }
  }

  async function share(key, name) {
    const credentials = await s3.s3Credentials();
    const left = Math.floor((Date.parse(credentials.expiration) - Date.now()) / 1000);
    const choices = EXPIRIES.filter(([, seconds]) => seconds <= left);
    const select = h("select", { id: "share-expiry" }, (choices.length ? choices : [[`${Math.floor(left / 60)} minutes`, left, `${Math.floor(left / 60)}m`]])
      .map(([label, seconds, mc]) => h("option", { value: `${seconds}|${mc}` }, label)));
    const out = h("div", { id: "share-result" });
    const make = async () => {
      const [seconds, mc] = select.value.split("|");
      const url = await s3.presignGet(bucket, key, Number(seconds));
      logCommand(s3.mcCommand("share", { bucket, key, expires: mc }));
      mount(out, h("p", {}, "Anyone with this link can download the file until it expires:"), codeBlock(url, { label: "Copy link" }));
    };
    select.addEventListener("change", make);
    const body = h("div", {}, h("label", { class: "field" }, h("span", {}, "Link valid for"), select,
      h("small", {}, "A link cannot outlive your current S3 keys.")), out);
    await make();
    await confirmDialog({ title: `Share ${name}`, body, confirmLabel: "Close", cancelLabel: null });
  }

  async function removeFile(key, name) {
    if (!(await confirmDialog({ title: `Delete ${name}?`, body: "The file is deleted from S3; this cannot be undone.", confirmLabel: "Delete", danger: true }))) return;
    try {
      await s3.deleteObject(bucket, key);
      logCommand(s3.mcCommand("rm", { bucket, key }));
      toast(`${name} deleted`, "success");
    } catch (error) {
      toast(error.message, "error");
    }
    await refresh();
  }

  async function removeFolder(folder) {
    if (!(await confirmDialog({ title: `Delete ${folder}?`, body: "Every file in this folder is deleted from S3; this cannot be undone.", confirmLabel: "Delete folder", danger: true }))) return;
    try {
      const count = await s3.deletePrefix(bucket, folder);
      logCommand(s3.mcCommand("rm-folder", { bucket, prefix: folder }));
      toast(`${folder} deleted (${count} objects)`, "success");
    } catch (error) {
      toast(error.message, "error");
    }
    await refresh();
  }

  async function newFolder() {
    const name = await promptDialog({ title: "New folder", label: "Folder name", pattern: "[^\\/]+", hint: "No slashes." });
    if (!name) return;
    try {
      await s3.createFolder(bucket, `${prefix}${name}/`);
      logCommand(s3.mcCommand("mkdir", { bucket, prefix: `${prefix}${name}/` }));
      go(bucket, `${prefix}${name}/`);
    } catch (error) {
      toast(error.message, "error");
    }
  }

  const drop = h("section", {
    class: "dropzone", "aria-label": "Files",
    ondragover: (e) => { e.preventDefault(); drop.classList.add("dragging"); },
    ondragleave: () => drop.classList.remove("dragging"),
    ondrop: (e) => { e.preventDefault(); drop.classList.remove("dragging"); upload([...e.dataTransfer.files]); },
  }, listing);

  mount(root,
    h("div", { class: "page-header" },
      h("div", {}, h("h1", {}, "My files"), h("p", {}, "Your S3 storage, also available to your services.")),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "button", id: "new-folder", onclick: newFolder }, "New folder"),
        h("label", { class: "button primary", for: "upload-input", tabindex: "0", onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); picker.click(); } } }, "Upload files"),
        picker)),
    marks.length ? h("nav", { class: "row bookmarks", "aria-label": "Buckets" }, marks.map((m) =>
      h("a", { class: "button small", href: `/my-files?path=${encodeURIComponent(`${m.bucket}/${m.prefix}`)}`, "aria-current": m.bucket === bucket ? "true" : null }, m.title))) : null,
    h("ol", { class: "breadcrumbs", "aria-label": "Location" }, crumbs),
    uploads, drop,
    commandBar());
  if (!loggedAlias) logCommand(s3.mcCommand("alias"));
  loggedAlias = true;
  await refresh();
}
