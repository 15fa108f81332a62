// Helpers the overview, channels, logs, messages and config views share: loading
// on (re)connect, polling that stops while disconnected or hidden, key/value tables.

import { append, clear, errorLine, explain, h, spinner } from "../dom.js";

/**
 * Run `load()` now if connected and again each time the connection comes back (which
 * also covers a gateway restart). With `everyMs`, also run it on that interval while
 * connected and the tab is visible, never two at once: a slow answer delays the next
 * poll instead of stacking requests; `poll` (default `load`) is what the interval runs.
 * Returns stop().
 */
export function whileConnected(gateway, load, { everyMs = 0, poll = load } = {}) {
  let running = false;
  let stopped = false;
  let timer = null;
  const run = async (fn = load) => {
    if (stopped || running || gateway.state !== "connected") return;
    running = true;
    try {
      await fn();
    } finally {
      running = false;
    }
  };
  const schedule = () => {
    clearTimeout(timer);
    if (!everyMs || stopped) return;
    timer = setTimeout(async () => {
      if (!document.hidden) await run(poll);
      schedule();
    }, everyMs);
  };
  const offState = gateway.onState((state) => {
    if (state === "connected") run();
  });
  run();
  schedule();
  return () => {
    stopped = true;
    clearTimeout(timer);
    offState();
  };
}

/** A two-column table of facts: rows are [label, value, field?]; `field` names the
 *  value cell (data-field) so tests and people can find it. Empty values show "—". */
export function facts(rows, caption = undefined) {
  return h("table", {},
    caption ? h("caption", { class: "visually-hidden", text: caption }) : null,
    h("tbody", {}, rows.filter(Boolean).map(([label, value, field]) =>
      h("tr", {}, h("th", { scope: "row", text: label }),
        h("td", { "data-field": field }, value === null || value === undefined || value === "" ? "—" : value)))));
}

/** Replace the children of `el` with a spinner and `label`. */
export function waiting(el, label) {
  append(clear(el), spinner(label), ` ${label}`);
}

/** Replace the children of `el` with the one-sentence error for `err`. */
export function failed(el, err, prefix = "") {
  append(clear(el), errorLine(`${prefix}${explain(err)}`));
}

/** A fresh idempotency key: "ui-" and 16 random hex digits. */
export function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `ui-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** A timestamp (epoch ms) as local date and time, or "—". */
export function when(ms) {
  return ms ? new Date(ms).toLocaleString() : "—";
}

/** A path or URL as monospace text that may wrap after each "/" (long paths would
 *  otherwise overflow their panel at narrow widths). */
export function pathText(text) {
  if (!text) return "—";
  const parts = String(text).split(/(?<=[/._-])/);
  return h("span", { class: "mono", title: text },
    parts.flatMap((part, i) => (i ? [h("wbr"), part] : [part])));
}
