// The channels view: each channel account's state from `channels.status` (connected,
// last error, next retry, last inbound and outbound), and the channel's login flow
// where it has one. An account's state change sends no event of its own, so the view
// polls every 3 s and also redraws from `health` events, which carry the same data.

import { ago, append, clear, h } from "../dom.js";
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
  const login = capabilities?.login;
  if (!login) {
    return h("p", { class: "hint", "data-field": "login",
      text: "No login flow: this channel's accounts are set up in the config (a bot token), not by signing in here." });
  }
  // No registered channel has a login flow yet; when one lands (a QR code or a code),
  // this is where it is started.
  return h("p", { class: "warn", "data-field": "login",
    text: `This channel signs in with a ${login === "qr" ? "QR code" : "code"}, which this page cannot show yet; use the command line.` });
}

function accountPanel(channel, account) {
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
    ["API server", pathText(account.apiRoot), "api-root"],
    ["Token from", account.tokenSource, "token-source"],
    ["Allowed senders", account.allowFrom?.length ? account.allowFrom.join(", ") : "nobody", "allow-from"],
  ], `${channel} ${account.accountId}`));
}

export function mount(root, gateway) {
  const note = h("div", { "aria-live": "polite" });
  const body = h("div", {});
  root.append(h("h1", { text: "Channels" }), note, body);
  let loaded = false;

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
          (channels.channelAccounts[name] ?? []).map((account) => accountPanel(name, account)))));
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
      offHealth();
      stop();
    },
  };
}
