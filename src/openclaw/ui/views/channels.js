// The channels view: each channel account's state from `channels.status` (connected,
// last error, next retry, last inbound and outbound), and the channel's login flow
// where it has one. An account's state change sends no event of its own, so the view
// polls every 3 s and also redraws from `health` events, which carry the same data.

import { ago, append, clear, errorLine, explain, h, spinner } from "../dom.js";
import { facts, failed, pathText, waiting, whileConnected, when } from "./kit.js";

const POLL_MS = 3000;

function stateOf(account) {
  if (account.connected) return ["Connected", "ok"];
  if (!account.running) return ["Stopped", "error"];
  if (account.lastError) return ["Disconnected", "error"];
  return ["Connecting…", "warn"];
}

function retryText(account) {
  if (!account.nextRetryAt) return account.connected ? "not needed" : "—";
  const seconds = Math.max(0, Math.round((account.nextRetryAt - Date.now()) / 1000));
  return seconds ? `in ${seconds}s` : "now";
}

function loginFlow(capabilities) {
  if (capabilities?.login) {
    return h("p", { class: "hint", "data-field": "login",
      text: "Accounts of this channel are linked by signing in from your phone: use Link on the account below." });
  }
  return h("p", { class: "hint", "data-field": "login",
    text: "No login flow: this channel's accounts are set up in the config (a bot token), not by signing in here." });
}

/**
 * The login box of one account of a channel that links by QR code or pairing code
 * (`web.login.start`, then `web.login.wait` until linked, showing each new QR code).
 * It is built once and kept across redraws, so a login in progress is not lost.
 */
function loginBox(gateway, channel, accountId, alive) {
  const id = `login-${channel}-${accountId}`.replace(/[^A-Za-z0-9_-]/g, "-");
  const status = h("div", { "data-field": "login-status", "aria-live": "polite" });
  const qr = h("img", { "data-field": "login-qr", width: 264, height: 264, hidden: true,
    alt: "QR code: on your phone open WhatsApp, Settings, Linked devices, Link a device, and scan it" });
  const phone = h("input", { id: `${id}-phone`, type: "tel", autocomplete: "tel",
    placeholder: "+15551234567" });
  const linkQr = h("button", { class: "primary", type: "button" }, "Link with a QR code");
  const linkCode = h("button", { type: "button" }, "Use a pairing code");

  function show(answer) {
    const url = answer.qrDataUrl;
    if (typeof url === "string" && url.startsWith("data:image/")) {
      qr.src = url;
      qr.hidden = false;
    }
    clear(status);
    if (answer.pairingCode) {
      status.append(h("p", {}, "On your phone: WhatsApp, Linked devices, Link with phone number, then enter ",
        h("strong", { class: "mono", "data-field": "pairing-code", text: answer.pairingCode })));
    } else if (answer.message) {
      status.append(h("p", { text: answer.message }));
    }
  }

  async function run(withPhone) {
    linkQr.disabled = linkCode.disabled = true;
    clear(status).append(h("p", {}, spinner("Waiting for WhatsApp…"), " Asking WhatsApp for a code…"));
    try {
      const params = { channel, accountId, timeoutMs: 30_000 };
      if (withPhone) params.phoneNumber = phone.value.trim();
      let answer = await gateway.call("web.login.start", params, { timeoutMs: 40_000 });
      while (!answer.connected && answer.sessionKey && alive()) {
        show(answer);
        answer = await gateway.call("web.login.wait", { channel, accountId,
          sessionKey: answer.sessionKey, currentQrDataUrl: qr.hidden ? null : qr.src,
          timeoutMs: 60_000 }, { timeoutMs: 70_000 });
      }
      qr.hidden = true;
      clear(status).append(answer.connected
        ? h("p", { class: "ok", "data-field": "login-done", text: "Linked. The account connects now." })
        : h("p", { class: "warn", text: answer.message ?? "The login ended without linking; try again." }));
    } catch (err) {
      qr.hidden = true;
      clear(status).append(errorLine(explain(err)));
    } finally {
      linkQr.disabled = linkCode.disabled = false;
    }
  }

  linkQr.addEventListener("click", () => run(false));
  linkCode.addEventListener("click", () => {
    if (!phone.value.trim()) {
      clear(status).append(errorLine("Enter the phone number of the WhatsApp account first, in international form."));
      phone.focus();
      return;
    }
    run(true);
  });
  return h("div", { class: "login", "data-login": `${channel}/${accountId}` },
    h("div", {}, linkQr, " "),
    h("label", { for: `${id}-phone`, text: "Or link with a pairing code: phone number" }),
    h("div", {}, phone, " ", linkCode),
    qr, status);
}

function accountPanel(channel, account, login) {
  const [state, tone] = stateOf(account);
  return h("section", { class: "panel", "data-account": `${channel}/${account.accountId}`,
    "aria-label": `${channel} account ${account.accountId}` },
  h("h3", {}, `${account.accountId} `, h("span", { class: tone, "data-field": "state", text: state })),
  facts([
    ["Bot", account.bot ? `@${account.bot}` : "not known until it connects", "bot"],
    ["Last error", account.lastError ? h("span", { class: "error", text: account.lastError }) : "none", "last-error"],
    ["Next retry", retryText(account), "next-retry"],
    ["Failures since start", String(account.reconnectAttempts), "attempts"],
    ["Last connected", account.lastConnectedAt ? `${ago(account.lastConnectedAt)} (${when(account.lastConnectedAt)})` : "never", "last-connected"],
    ["Last inbound", account.lastInboundAt ? ago(account.lastInboundAt) : "never", "last-inbound"],
    ["Last outbound", account.lastOutboundAt ? ago(account.lastOutboundAt) : "never", "last-outbound"],
    // channel-specific facts, shown only for channels that report them
    account.apiRoot !== undefined && ["API server", pathText(account.apiRoot), "api-root"],
    account.tokenSource !== undefined && ["Token from", account.tokenSource, "token-source"],
    account.allowFrom !== undefined && ["Allowed senders", account.allowFrom.length ? account.allowFrom.join(", ") : "nobody", "allow-from"],
  ].filter(Boolean), `${channel} ${account.accountId}`), login);
}

export function mount(root, gateway) {
  const note = h("div", { "aria-live": "polite" });
  const body = h("div", {});
  root.append(h("h1", { text: "Channels" }), note, body);
  let loaded = false;
  let mounted = true;
  const logins = new Map(); // "channel/account" -> its login box, kept across redraws

  function loginFor(name, summary, account) {
    if (!summary.capabilities?.login || account.connected) return null;
    const key = `${name}/${account.accountId}`;
    if (!logins.has(key)) logins.set(key, loginBox(gateway, name, account.accountId, () => mounted));
    return logins.get(key);
  }

  function render(channels) {
    clear(body);
    if (!channels.channelOrder.length) {
      body.append(h("p", { "data-field": "no-channels",
        text: "No channel is configured. Add one under channels in Config (for Telegram: channels.telegram.botToken), then restart the gateway." }));
      return;
    }
    for (const name of channels.channelOrder) {
      const summary = channels.channels[name] ?? {};
      append(body, h("section", { "data-channel": name, "aria-labelledby": `ch-${name}` },
        h("h2", { id: `ch-${name}`, text: channels.channelLabels[name] ?? name }),
        loginFlow(summary.capabilities),
        h("div", { class: "grid" },
          (channels.channelAccounts[name] ?? []).map(
            (account) => accountPanel(name, account, loginFor(name, summary, account))))));
    }
  }

  async function load() {
    if (!loaded) waiting(note, "Reading the channels' state…");
    try {
      const channels = await gateway.call("channels.status");
      loaded = true;
      clear(note);
      render(channels);
    } catch (err) {
      failed(note, err, "Could not read the channels' state: ");
    }
  }

  // `health` has the same account snapshots, keyed by id; redraw from it at once
  const offHealth = gateway.on("health", (payload) => {
    if (!loaded) return;
    const channelAccounts = Object.fromEntries(Object.entries(payload.channels ?? {})
      .map(([name, summary]) => [name, Object.values(summary.accounts ?? {})]));
    render({ channelOrder: payload.channelOrder, channelLabels: payload.channelLabels,
      channels: payload.channels, channelAccounts });
  });
  const stop = whileConnected(gateway, load, { everyMs: POLL_MS });
  return {
    unmount() {
      mounted = false;
      offHealth();
      stop();
    },
  };
}
