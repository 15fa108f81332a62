// The config view: the config file as the gateway reads it (`config.get`, secrets
// redacted), edited through a form built from `config.schema` and saved with
// `config.patch` against the hash that was read, so a file changed meanwhile is never
// overwritten. A refusal is shown at the field its `details.path` names; an accepted
// change says plainly whether it applies now or waits for a restart.

import { append, clear, h } from "../dom.js";
import { failed, pathText, waiting, whileConnected } from "./kit.js";
import { objectFields, plain, resolve, setPath } from "./forms.js";

function list(paths) {
  return paths.join(", ");
}

/** What an accepted patch means for the running gateway, one sentence per kind. */
function consequences(answer) {
  if (answer.noop) return [["ok", "Nothing changed: the file already says this."]];
  const out = [];
  const reload = answer.reload ?? {};
  if (answer.appliedLive?.length) out.push(["ok", `Applied live: ${list(answer.appliedLive)}.`]);
  if (reload.none?.length) out.push(["ok", `No restart needed for ${list(reload.none)}.`]);
  if (reload.restart?.length) {
    out.push(["warn", `Saved; needs a gateway restart to take effect: ${list(reload.restart)}. Run openclaw gateway restart (or restart it however you started it).`]);
  }
  if (reload.reinstall?.length) {
    out.push(["warn", `Saved; the service definition must be rewritten for ${list(reload.reinstall)}: run openclaw gateway install --force.`]);
  }
  if (!out.length) out.push(["ok", `Saved: ${list(answer.changedPaths ?? [])}.`]);
  return out;
}

export function mount(root, gateway) {
  const note = h("div", { "aria-live": "polite" });
  const fileBox = h("section", { class: "panel", "aria-labelledby": "cfg-file" });
  const result = h("div", { id: "config-result", "aria-live": "polite" });
  const sections = h("div", {});
  const save = h("button", { type: "submit", class: "primary", text: "Save changes" });
  const form = h("form", { id: "config-form", novalidate: true, "aria-label": "Config" },
    sections, h("p", {}, save), result);
  const raw = h("textarea", { id: "config-raw", name: "raw", rows: "4", class: "mono",
    placeholder: '{ channels: { telegram: { accounts: { work: { botToken: "…" } } } } }' });
  const rawForm = h("form", { id: "config-raw-form", class: "panel", novalidate: true },
    h("h2", { text: "Patch" }),
    h("label", { for: "config-raw", text: "A JSON merge patch (JSON5), for what the form cannot edit" }), raw,
    h("p", { class: "hint", text: "Objects merge, null removes a key, anything else replaces." }),
    h("p", {}, h("button", { type: "submit", text: "Apply patch" })));
  const current = h("details", {}, h("summary", { text: "The file as the gateway reads it (secrets redacted)" }));
  root.append(h("h1", { text: "Config" }), note, fileBox, form, rawForm, current);

  let snapshot = null; // config.get
  let schema = null;
  let fields = [];

  function renderFile() {
    const s = snapshot;
    const rows = [
      h("p", {}, "File: ", pathText(s.path), s.exists ? null : h("span", { class: "hint", text: " (missing: built-in defaults; saving creates it)" })),
      s.valid ? null : h("p", { class: "error", text: "The file would not pass a start; fix the issues below." }),
      s.issues?.length ? h("ul", {}, s.issues.map((issue) => h("li", { class: "error", text: `${issue.path}: ${issue.message}` }))) : null,
      s.restartRequired
        ? h("p", { class: "warn", id: "config-pending", text: `Saved changes wait for a gateway restart: ${list(s.pendingRestartPaths)}.` })
        : null,
    ];
    append(clear(fileBox), h("h2", { id: "cfg-file", text: "File" }), rows);
    clear(current).append(h("summary", { text: "The file as the gateway reads it (secrets redacted)" }),
      h("pre", { class: "mono scroll-x", id: "config-current", text: s.raw ?? "(no file: every value is a default)" }));
  }

  function renderForm() {
    const top = resolve(schema.schema, schema.schema);
    const openNow = new Set([...sections.querySelectorAll("details[open]")].map((d) => d.dataset.section));
    fields = [];
    clear(sections);
    for (const [name, rawNode] of Object.entries(top.properties ?? {})) {
      if (name === "$schema") continue;
      const node = resolve(rawNode, schema.schema);
      const children = objectFields(name, node, schema.schema, snapshot.config?.[name], snapshot.effective?.[name], fields);
      append(sections, h("details", { class: "panel", "data-section": name, open: openNow.has(name) },
        h("summary", {}, h("strong", { text: name }), node.description ? h("span", { class: "hint", text: ` ${plain(node.description)}` }) : null),
        children));
    }
  }

  function clearErrors() {
    for (const field of fields) {
      field.error.hidden = true;
      field.input.removeAttribute("aria-invalid");
    }
  }

  /** Show `message` at the field of `path` (or its nearest enclosing one). */
  function showAt(path, message) {
    let field = null;
    for (let p = path; p && !field; p = p.includes(".") ? p.slice(0, p.lastIndexOf(".")) : "") {
      field = fields.find((f) => f.path === p);
    }
    if (!field) return false;
    field.error.textContent = message;
    field.error.hidden = false;
    field.input.setAttribute("aria-invalid", "true");
    field.input.setAttribute("aria-describedby", `${field.error.id} ${field.input.getAttribute("aria-describedby") ?? ""}`.trim());
    field.input.closest("details")?.setAttribute("open", "");
    field.input.focus();
    return true;
  }

  async function load() {
    if (!snapshot) waiting(note, "Reading the config…");
    try {
      [snapshot, schema] = await Promise.all([gateway.call("config.get"), gateway.call("config.schema")]);
      clear(note);
      renderFile();
      renderForm();
    } catch (err) {
      failed(note, err, err.code === "FORBIDDEN" ? "This connection may not read the config (it needs the admin scope): " : "Could not read the config: ");
    }
  }

  async function patch(params, button) {
    clearErrors();
    button.disabled = true;
    append(clear(result), h("span", { class: "spinner", "aria-hidden": "true" }), " Checking and saving…");
    try {
      const answer = await gateway.call("config.patch", { ...params, baseHash: snapshot.hash });
      append(clear(result), consequences(answer).map(([tone, text]) => h("p", { class: tone, "data-outcome": "saved", text })));
      await load();
    } catch (err) {
      const details = err.details ?? {};
      let sentence;
      if (details.code === "CONFIG_HASH_MISMATCH") sentence = "Not saved: the file changed since this page read it. Reload the page's values (they were just re-read) and make the change again.";
      else if (details.code === "INVALID_CONFIG") sentence = `Not saved, nothing was written: ${details.path} ${details.reason}.`;
      else sentence = `Not saved: ${err.message}.`;
      append(clear(result), h("p", { class: "error", role: "alert", "data-outcome": "refused", text: sentence }));
      if (details.code === "INVALID_CONFIG" && details.path) showAt(details.path, details.reason ?? err.message);
      if (details.code === "CONFIG_HASH_MISMATCH") await load();
    } finally {
      button.disabled = false;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const changed = fields.filter((field) => JSON.stringify(field.read()) !== field.initial);
    if (!changed.length) {
      append(clear(result), h("p", { class: "hint", text: "Nothing to save: no field was changed." }));
      return;
    }
    const body = {};
    for (const field of changed) setPath(body, field.path, field.read());
    patch({ patch: body }, save);
  });
  rawForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!raw.value.trim()) return;
    patch({ raw: raw.value }, rawForm.querySelector("button"));
  });

  const stop = whileConnected(gateway, load);
  return { unmount() { stop(); } };
}
