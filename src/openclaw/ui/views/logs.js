// The logs view: the gateway's file log, followed live through `logs.tail` the way
// `openclaw logs --follow` follows it. The first read takes the last 500 lines; then
// every second the returned cursor is passed back, and the gateway answers across
// rotations (`reset`) and says when lines were skipped (`truncated`). After a
// reconnect (a gateway restart, say) the old cursor may belong to a rotated-away
// file, so it is not reused: the last ~250 KB are read again and only the lines after
// the last one shown are added, found by content. At most MAX_LINES lines stay in the
// page, the oldest dropped first, so a busy log cannot grow the tab without bound.

import { append, clear, h } from "../dom.js";
import { failed, pathText, whileConnected } from "./kit.js";

const MAX_LINES = 5000;
const POLL_MS = 1000;
/** Per file and poll: a busy second of log still arrives whole (the gateway's most). */
const MAX_BYTES = 1_000_000;
const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"];
const BASE_FIELDS = new Set(["time", "level", "subsystem", "message", "pid", "error"]);

/** One record as the console shows it: "HH:MM:SS level subsystem: message k=v …". */
function format(raw) {
  let record;
  try {
    record = JSON.parse(raw);
  } catch {
    return { level: "info", text: raw };
  }
  if (typeof record !== "object" || record === null) return { level: "info", text: raw };
  const time = record.time ? new Date(record.time).toLocaleTimeString([], { hour12: false }) : "";
  const extras = Object.entries(record).filter(([key]) => !BASE_FIELDS.has(key))
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
  const error = record.error ? `\n${record.error}` : "";
  const level = LEVELS.includes(record.level) ? record.level : "info";
  return { level, text: `${time} ${level} ${record.subsystem ?? ""}: ${record.message ?? ""}${extras.length ? ` ${extras.join(" ")}` : ""}${error}` };
}

const TONE = { trace: "hint", debug: "hint", info: "", warn: "warn", error: "error", fatal: "error" };

export function mount(root, gateway) {
  const levelSelect = h("select", { id: "log-level", name: "level" },
    LEVELS.slice(0, 5).map((level) => h("option", { value: level, text: level === "trace" ? "everything" : `${level} and above` })));
  levelSelect.value = "trace";
  const search = h("input", { id: "log-search", name: "search", type: "search", placeholder: "text in the line", autocomplete: "off" });
  const pause = h("button", { type: "button", id: "log-pause", "aria-pressed": "false", text: "Pause" });
  const counter = h("span", { class: "hint", id: "log-count", "aria-live": "off" });
  const fileLine = h("p", { class: "hint", id: "log-file" });
  const note = h("div", { "aria-live": "polite" });
  const list = h("div", { id: "log-lines", class: "log mono scroll-x", role: "log", "aria-label": "Log lines" });
  root.append(h("h1", { text: "Logs" }),
    h("div", { class: "panel", role: "group", "aria-label": "Filters" },
      h("div", { class: "grid" },
        h("div", {}, h("label", { for: "log-level", text: "Level" }), levelSelect),
        h("div", {}, h("label", { for: "log-search", text: "Search" }), search),
        h("div", {}, h("label", { for: "log-pause", text: "Live tail" }), pause, " ", counter))),
    fileLine, note, list);

  let cursor = null; // the last cursor the gateway gave this connection, or null
  let file = null;
  let lastRaw = null; // the last line shown, to find our place again after a reconnect
  let paused = false;
  let resync = false; // the connection dropped since the last read
  let total = 0;

  function matches(el) {
    const min = LEVELS.indexOf(levelSelect.value);
    if (LEVELS.indexOf(el.dataset.level) < min) return false;
    const needle = search.value.trim().toLowerCase();
    return !needle || el.textContent.toLowerCase().includes(needle);
  }

  function countText() {
    const shown = list.querySelectorAll("[data-level]:not([hidden])").length;
    counter.textContent = `${shown} of ${list.querySelectorAll("[data-level]").length} lines shown` +
      (total > MAX_LINES ? ` (the newest ${MAX_LINES.toLocaleString()} are kept)` : "");
  }

  function refilter() {
    for (const el of list.querySelectorAll("[data-level]")) el.hidden = !matches(el);
    countText();
  }

  /** A notice in the stream itself, where it happened (never filtered out). */
  function notice(text) {
    return h("div", { class: "warn", "data-notice": "", role: "note", text: `— ${text}` });
  }

  function add(rawLines, notices = []) {
    const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
    const nodes = notices.map(notice);
    for (const raw of rawLines) {
      const { level, text } = format(raw);
      const el = h("div", { class: TONE[level] || null, "data-level": level, text });
      el.hidden = !matches(el);
      nodes.push(el);
    }
    if (rawLines.length) lastRaw = rawLines[rawLines.length - 1];
    total += rawLines.length;
    append(list, nodes);
    let excess = list.childElementCount - MAX_LINES;
    while (excess-- > 0) list.firstElementChild.remove();
    countText();
    if (atBottom && nodes.length && !paused) window.scrollTo(0, document.body.scrollHeight);
  }

  function showFile(answer) {
    if (answer.file !== file) {
      const moved = file !== null;
      file = answer.file;
      append(clear(fileLine), "Following ", pathText(file));
      return moved;
    }
    return false;
  }

  async function first() {
    // first read, or the first after a reconnect: never reuse a cursor across connections
    try {
      if (cursor === null) {
        append(clear(note), h("span", { class: "spinner", "aria-hidden": "true" }), " Reading the log…");
        const answer = await gateway.call("logs.tail", { limit: 500 });
        clear(note);
        showFile(answer);
        cursor = answer.cursor;
        add(answer.lines, answer.truncated ? ["older lines are in the file; showing the last 500"] : []);
        return;
      }
      const answer = await gateway.call("logs.tail", { limit: 5000, maxBytes: MAX_BYTES });
      clear(note);
      const moved = showFile(answer);
      const at = lastRaw === null ? -1 : answer.lines.lastIndexOf(lastRaw);
      const notices = ["reconnected to the gateway"];
      if (moved) notices.push(`the gateway now writes ${answer.file}`);
      if (at < 0 && lastRaw !== null) notices.push("the log was rotated while disconnected; lines written meanwhile may be in an archived file");
      cursor = answer.cursor;
      resync = false;
      add(answer.lines.slice(at + 1), notices);
    } catch (err) {
      if (err.code !== "DISCONNECTED") failed(note, err, "Could not read the log: ");
    }
  }

  async function follow() {
    if (paused) return;
    if (cursor === null || resync) return first();
    try {
      const answer = await gateway.call("logs.tail", { cursor, limit: 5000, maxBytes: MAX_BYTES });
      clear(note);
      const notices = [];
      if (showFile(answer) && !answer.reset) notices.push(`the gateway now writes ${answer.file}`);
      if (answer.reset) notices.push("the log file was rotated or truncated");
      if (answer.truncated) notices.push("some lines were skipped (the log outran this page)");
      cursor = answer.cursor;
      if (answer.lines.length || notices.length) add(answer.lines, notices);
    } catch (err) {
      if (err.code !== "DISCONNECTED") failed(note, err, "Could not read the log: ");
    }
  }

  pause.addEventListener("click", () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    pause.setAttribute("aria-pressed", String(paused));
    if (paused) append(clear(note), h("p", { class: "hint", id: "log-paused", text: "Paused: new lines are read from where you stopped when you resume." }));
    else {
      clear(note);
      follow();
    }
  });
  levelSelect.addEventListener("change", refilter);
  search.addEventListener("input", refilter);

  const offState = gateway.onState((state) => {
    if (state !== "connected" && cursor !== null) resync = true;
  });
  const stop = whileConnected(gateway, follow, { everyMs: POLL_MS });
  return {
    unmount() {
      offState();
      stop();
    },
  };
}
