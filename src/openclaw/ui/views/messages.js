// The messages view: recent inbound chat messages (`messages.list`, then `message`
// events; a gap in their `seq` is filled from the list) and a send form. Every send
// carries an idempotency key shown on the form: the gateway delivers at most once per
// key, so "Retry with the same key" can never post twice, and a send whose outcome is
// unknown is said to be so.

import { append, clear, h } from "../dom.js";
import { failed, newKey, waiting, whileConnected, when } from "./kit.js";

const KEEP = 200; // messages kept on the page, newest first

export function mount(root, gateway) {
  const note = h("div", { "aria-live": "polite" });
  const tbody = h("tbody", {});
  const table = h("table", { id: "inbox" },
    h("thead", {}, h("tr", {}, ["Received", "From", "Chat", "Account", "Text", ""]
      .map((text) => h("th", { scope: "col", text })))), tbody);
  const empty = h("p", { class: "hint", id: "inbox-empty", text: "No message has arrived yet." });

  const to = h("input", { id: "send-to", name: "to", required: true, autocomplete: "off", inputmode: "numeric" });
  const text = h("textarea", { id: "send-text", name: "message", rows: "3", required: true });
  const account = h("select", { id: "send-account", name: "account" }, h("option", { value: "", text: "default" }));
  const key = h("input", { id: "send-key", name: "idempotencyKey", readonly: true, class: "mono" });
  const sendButton = h("button", { type: "submit", class: "primary", text: "Send" });
  const retry = h("button", { type: "button", id: "send-retry", hidden: true, text: "Retry with the same key" });
  const fresh = h("button", { type: "button", id: "send-new-key", text: "New key" });
  const outcome = h("div", { id: "send-outcome", "aria-live": "polite" });
  const form = h("form", { id: "send-form", class: "panel", "aria-labelledby": "send-title", novalidate: true },
    h("h2", { id: "send-title", text: "Send a message" }),
    h("div", { class: "grid" },
      h("div", {}, h("label", { for: "send-to", text: "To (chat id)" }), to),
      h("div", {}, h("label", { for: "send-account", text: "Account" }), account)),
    h("label", { for: "send-text", text: "Message" }), text,
    h("label", { for: "send-key", text: "Idempotency key" }),
    h("p", {}, key, " ", fresh),
    h("p", { class: "hint", text: "The gateway sends at most once per key: a retry with the same key is never delivered twice." }),
    h("p", {}, sendButton, " ", retry), outcome);

  root.append(h("h1", { text: "Messages" }), form,
    h("section", { "aria-labelledby": "inbox-title" },
      h("h2", { id: "inbox-title", text: "Recent inbound messages" }), note, empty,
      h("div", { class: "scroll-x" }, table)));

  key.value = newKey();
  let settled = false; // the current key has a final outcome: the next edit takes a new key
  let cursor = 0;
  const seen = new Set();

  function row(message) {
    return h("tr", { "data-seq": String(message.seq) },
      h("td", { text: when(message.ts ?? message.receivedAt) }),
      h("td", { text: message.fromName ? `${message.fromName} (${message.from})` : message.from }),
      h("td", { class: "mono", text: message.chatId }),
      h("td", { text: `${message.channel}/${message.accountId}` }),
      h("td", { text: message.text ?? "" }),
      h("td", {}, h("button", { type: "button", "aria-label": `Reply to chat ${message.chatId}`, text: "Reply",
        onclick: () => {
          to.value = message.chatId;
          account.value = [...account.options].some((o) => o.value === message.accountId) ? message.accountId : "";
          text.focus();
        } })));
  }

  function add(messages) {
    for (const message of messages) {
      if (seen.has(message.seq)) continue;
      seen.add(message.seq);
      tbody.prepend(row(message));
      cursor = Math.max(cursor, message.seq);
    }
    while (tbody.childElementCount > KEEP) tbody.lastElementChild.remove();
    empty.hidden = tbody.childElementCount > 0;
  }

  async function catchUp() {
    // pages from the cursor on; only the newest KEEP are drawn
    for (;;) {
      const page = await gateway.call("messages.list", { cursor, limit: 1000 });
      add(page.messages.slice(-KEEP));
      cursor = Math.max(cursor, page.cursor ?? cursor);
      if (!page.more) return;
    }
  }

  let loaded = false;
  async function load() {
    if (!loaded) waiting(note, "Reading recent messages…");
    try {
      const [channels] = await Promise.all([gateway.call("channels.status"), catchUp()]);
      loaded = true;
      clear(note);
      const chosen = account.value;
      clear(account).append(h("option", { value: "", text: "default" }));
      for (const name of channels.channelOrder) {
        for (const acc of channels.channelAccounts[name] ?? []) {
          append(account, h("option", { value: acc.accountId, text: `${channels.channelLabels[name] ?? name} ${acc.accountId}` }));
        }
      }
      account.value = chosen;
      if (!channels.channelOrder.length) {
        append(note, h("p", { class: "warn", text: "No channel is configured, so nothing can be sent or received; add one in Config." }));
      }
    } catch (err) {
      failed(note, err, "Could not read the messages: ");
    }
  }

  const offMessage = gateway.on("message", (message) => {
    if (message.seq > cursor + 1) catchUp().catch(() => {}); // a gap: fill it from the list
    else add([message]);
  });

  function show(kind, sentence) {
    const tone = { sent: "ok", failed: "error", unknown: "warn" }[kind];
    append(clear(outcome), h("p", { class: tone, "data-outcome": kind, role: kind === "sent" ? "status" : "alert", text: sentence }));
  }

  async function send() {
    if (!to.value.trim() || !text.value.trim()) {
      show("failed", "Fill in the chat id and the message first.");
      return;
    }
    const params = { to: to.value.trim(), message: text.value, idempotencyKey: key.value };
    if (account.value) params.accountId = account.value;
    sendButton.disabled = retry.disabled = true;
    append(clear(outcome), h("span", { class: "spinner", "aria-hidden": "true" }), ` Sending with key ${key.value}…`);
    try {
      const answer = await gateway.call("send", params, { timeoutMs: 120_000 });
      show("sent", `Sent: message ${answer.messageId} in chat ${answer.chatId} (${answer.channel}/${answer.accountId}), key ${answer.runId}.`);
      retry.hidden = true;
      settled = true;
    } catch (err) {
      if (err.code === "DISCONNECTED" || err.code === "TIMEOUT") {
        show("unknown", `No answer (${err.message}): the message may or may not have gone. Retry with the same key once connected; it is never delivered twice.`);
        retry.hidden = false;
      } else if (err.details?.reason === "outcome-unknown") {
        show("unknown", `Outcome unknown: ${err.message}. Check the chat before sending again with a new key; this key is never sent again.`);
        retry.hidden = true;
        settled = true;
      } else {
        show("failed", `Not sent: ${err.message}${err.retryable ? " Retry with the same key." : " Fix it and send again (a new key is taken when you edit)."}`);
        retry.hidden = !err.retryable;
        settled = !err.retryable;
      }
    } finally {
      sendButton.disabled = retry.disabled = false;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  retry.addEventListener("click", send);
  fresh.addEventListener("click", () => {
    key.value = newKey();
    settled = false;
    retry.hidden = true;
    clear(outcome);
  });
  for (const input of [to, text, account]) {
    input.addEventListener("input", () => {
      if (!settled) return;
      key.value = newKey(); // a different message needs its own key
      settled = false;
    });
  }

  const stop = whileConnected(gateway, load);
  return {
    unmount() {
      offMessage();
      stop();
    },
  };
}
