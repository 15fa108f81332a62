// Small DOM helpers shared by every view. Text always goes in as text nodes (never
// innerHTML), so nothing a gateway, a model or a chat peer sends can become markup.

/**
 * Create an element: h("button", {class: "primary", onclick: fn, "aria-label": "x"},
 * "text", childNode, ...). Props starting with "on" are listeners; `class`, `text`,
 * `value`, `checked`, `disabled`, `hidden` set properties; anything else is an attribute.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (["value", "checked", "disabled", "hidden"].includes(key)) el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, ...children);
  return el;
}

/** Append children (strings become text nodes; null/false are skipped). */
export function append(el, ...children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Remove every child of `el`. */
export function clear(el) {
  el.replaceChildren();
  return el;
}

/** A spinner with an accessible label, for every wait. */
export function spinner(label = "Loading…") {
  return h("span", { class: "spinner", role: "status", "aria-label": label },
    h("span", { class: "visually-hidden", text: label }));
}

/** One sentence saying what went wrong and what to do, as an alert. */
export function errorLine(text) {
  return h("p", { class: "error", role: "alert", text });
}

/** "3s ago", "5m ago", "2h ago", or a date, from epoch milliseconds. */
export function ago(ms) {
  if (!ms) return "never";
  const seconds = Math.round((Date.now() - ms) / 1000);
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)}h ago`;
  return new Date(ms).toLocaleString();
}

/** A duration in milliseconds as "42s", "3m 07s", "5h 02m", "2d 3h". */
export function duration(ms) {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor(s / 3600) % 24}h`;
}

/** Bytes as "512 B", "1.5 KB", "27.3 MB". */
export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

/** A sentence for a failed call, naming what to do. */
export function explain(err) {
  if (err?.code === "DISCONNECTED") return "Not connected to the gateway; this retries once it is back.";
  if (err?.code === "TIMEOUT") return `${err.message}. Try again; if it keeps happening, check the gateway's logs.`;
  return err?.message ?? String(err);
}

/**
 * A modal question, answered with the keyboard or the mouse. Resolves with true
 * (confirmed) or false, or, with `input` ({label, value}), the text typed (null when
 * cancelled). `danger` draws the confirm button as destructive. Focus returns to
 * where it was.
 */
export function ask({ title, body = "", confirm = "OK", cancel = "Cancel", danger = false, input = null }) {
  const returnTo = document.activeElement;
  const field = input ? h("input", { id: "ask-input", type: "text", value: input.value ?? "",
    maxlength: input.maxLength ?? 100, autocomplete: "off" }) : null;
  const form = h("form", { method: "dialog" },
    h("h2", { id: "ask-title", text: title }),
    body ? h("p", { text: body }) : null,
    input ? h("label", { for: "ask-input", text: input.label }) : null,
    field,
    h("div", { class: "actions" },
      // the one submit button, so Enter in the field confirms
      h("button", { type: "button", text: cancel, onclick: () => dialog.close("cancel") }),
      h("button", { type: "submit", value: "ok", class: danger ? "danger" : "primary", text: confirm })));
  const dialog = h("dialog", { class: "ask", "aria-labelledby": "ask-title" }, form);
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const ok = dialog.returnValue === "ok";
      dialog.remove();
      returnTo?.focus?.();
      resolve(input ? (ok ? field.value : null) : ok);
    });
    dialog.showModal();
    if (field) field.select();
    else form.querySelector("button[value=ok]").focus();
  });
}
