// Exec approvals in the shell: a command the agent's exec tool may only run with the
// owner's say-so shows as a prompt under the header, whatever view is open, naming the
// command, the session and the time left, with Allow once / Always allow / Deny. The
// prompt goes away when any client answers it, when it expires, or when its run ends
// (`exec.approval.resolved`). On every (re)connect the pending ones are loaded again
// with `exec.approval.list`, so a tab opened (or reconnected) late still sees them.

import { clear, duration, explain, h } from "./dom.js";

/** The decisions `exec.approval.resolve` takes, with the button labels. */
const DECISIONS = [
  ["allow-once", "Allow once", "primary"],
  ["allow-always", "Always allow", ""],
  ["deny", "Deny", "danger"],
];

/**
 * Show the gateway's pending exec approvals in `region` (an element the shell owns)
 * and answer them. Returns `{ pending }`: the map of id -> request payload shown.
 */
export function mountApprovals(region, gateway) {
  /** id -> {payload, el, left, error, buttons} */
  const pending = new Map();
  let ticker = null;

  function render() {
    region.hidden = pending.size === 0;
    if (pending.size && ticker === null) ticker = setInterval(tick, 1000);
    if (!pending.size && ticker !== null) {
      clearInterval(ticker);
      ticker = null;
    }
  }

  function tick() {
    for (const entry of pending.values()) showLeft(entry);
  }

  function showLeft(entry) {
    const left = Math.max(0, (entry.payload.expiresAtMs ?? 0) - Date.now());
    entry.left.textContent = left > 0 ? `${duration(left)} left` : "expiring…";
  }

  async function answer(entry, decision) {
    for (const button of entry.buttons) button.disabled = true;
    entry.error.textContent = "";
    try {
      await gateway.call("exec.approval.resolve", { id: entry.payload.id, decision });
      drop(entry.payload.id); // the resolved event does the same; whichever comes first
    } catch (err) {
      if (!pending.has(entry.payload.id)) return; // resolved meanwhile (another client)
      entry.error.textContent = explain(err);
      for (const button of entry.buttons) button.disabled = false;
    }
  }

  function add(payload) {
    if (!payload?.id || pending.has(payload.id)) return;
    const request = payload.request ?? {};
    const titleId = `approval-title-${payload.id}`;
    const entry = { payload };
    // the countdown is not read out every second; the prompt itself is announced
    entry.left = h("span", { class: "approval-left", "aria-live": "off" });
    entry.error = h("p", { class: "error", role: "alert" });
    entry.buttons = DECISIONS
      .filter(([decision]) => !request.allowedDecisions || request.allowedDecisions.includes(decision))
      .map(([decision, label, cls]) => h("button", {
        type: "button", class: cls || undefined, "data-decision": decision, text: label,
        onclick: () => answer(entry, decision),
      }));
    entry.el = h("section", { class: "approval", role: "group", "aria-labelledby": titleId,
      "data-approval-id": payload.id },
      h("h2", { id: titleId, text: "The agent wants to run a command" }),
      h("pre", { class: "approval-command" }, h("code", { text: request.command ?? "" })),
      h("p", { class: "approval-meta" },
        "Session ", h("code", { class: "approval-session", text: request.sessionKey ?? "?" }),
        request.cwd ? [" in ", h("code", { text: request.cwd })] : null,
        " · ", entry.left),
      h("div", { class: "actions" }, entry.buttons),
      entry.error);
    showLeft(entry);
    pending.set(payload.id, entry);
    region.append(entry.el);
    render();
  }

  function drop(id) {
    const entry = pending.get(id);
    if (!entry) return;
    const hadFocus = entry.el.contains(document.activeElement);
    entry.el.remove();
    pending.delete(id);
    render();
    // keyboard users continue with the next prompt, or back in the page
    if (hadFocus) {
      const next = pending.values().next().value;
      if (next) next.buttons[0]?.focus();
      else document.getElementById("view")?.focus();
    }
  }

  async function load() {
    let list;
    try {
      list = await gateway.call("exec.approval.list", {});
    } catch {
      return; // not connected any more, or not allowed: the next connect tries again
    }
    const ids = new Set(list.map((p) => p.id));
    for (const id of [...pending.keys()]) if (!ids.has(id)) drop(id);
    for (const payload of list) add(payload);
  }

  gateway.on("exec.approval.requested", add);
  gateway.on("exec.approval.resolved", (payload) => drop(payload?.id));
  gateway.onState((state) => {
    if (state === "connected") load();
  });
  clear(region);
  render();
  return { pending };
}
