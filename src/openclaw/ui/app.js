// The Control UI shell: takes the token from the URL fragment (then removes it from
// the address bar), connects, shows the connection state, asks for a token when the
// gateway refuses the one it has, shows exec approvals over every view (approvals.js),
// and routes #/view to a view module. Views get the
// shared client and their own element; see views/README.md.

import { mountApprovals } from "./approvals.js";
import { GatewayClient } from "./gateway.js";
import { clear, duration, h } from "./dom.js";

const VIEWS = ["chat", "overview", "channels", "logs", "messages", "config"];
// one entry per gateway (host:port), so two gateways on one machine keep their own
const TOKEN_KEY = `openclaw.gateway.token:${location.host}`;

function takeTokenFromFragment() {
  const hash = location.hash;
  if (!hash.startsWith("#token=")) return null;
  const token = decodeURIComponent(hash.slice("#token=".length).split("&")[0]);
  // the token must not stay in the address bar, history or a copied link
  history.replaceState(null, "", `${location.pathname}${location.search}#/chat`);
  return token || null;
}

function storedToken() {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function storeToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // private mode: the token lives only as long as the tab
  }
}

const scheme = location.protocol === "https:" ? "wss" : "ws";
const gateway = new GatewayClient({
  url: `${scheme}://${location.host}/`,
  token: takeTokenFromFragment() ?? storedToken(),
});
window.openclawGateway = gateway; // for tests and the curious

// ------------------------------------------------------------------ connection state

const status = document.getElementById("connection");
const dialog = document.getElementById("connect-dialog");
const reason = document.getElementById("connect-reason");
const tokenInput = document.getElementById("connect-token");

/** One sentence for a refused connect, saying what to do. */
function refusal(client) {
  switch (client.lastErrorCode) {
    case "AUTH_TOKEN_MISSING":
    case "AUTH_PASSWORD_MISSING":
      return "This gateway needs its token: paste it below.";
    case "AUTH_TOKEN_MISMATCH":
    case "AUTH_PASSWORD_MISMATCH":
      return "The gateway refused that token: paste the current one below.";
    case "AUTH_RATE_LIMITED":
      return "Too many wrong tokens from this address: wait a minute, then try again.";
    case "AUTH_TOKEN_NOT_CONFIGURED":
    case "AUTH_PASSWORD_NOT_CONFIGURED":
      return "The gateway has no token configured: set one in its config and restart it.";
    default:
      return `The gateway refused the connection (${client.lastError ?? "no reason given"}).`;
  }
}

function showState(state, client) {
  status.dataset.state = state;
  status.removeAttribute("title");
  clear(status);
  if (state === "connected") {
    status.append("Connected");
    storeToken(client.token); // kept only once the gateway has accepted it
    if (dialog.open) dialog.close();
  } else if (state === "connecting") {
    status.append(h("span", { class: "spinner", "aria-hidden": "true" }), " Connecting…");
  } else if (state === "reconnecting") {
    const wait = client.nextRetryAt ? Math.max(0, client.nextRetryAt - Date.now()) : 0;
    status.append(h("span", { class: "spinner", "aria-hidden": "true" }),
      ` Reconnecting${wait > 1500 ? ` in ${duration(wait)}` : "…"}`);
    if (client.lastError) status.title = client.lastError;
  } else if (state === "auth-failed") {
    status.append("Not connected: token refused");
    if (storedToken() === client.token) storeToken(null);
    reason.textContent = refusal(client);
    if (!dialog.open) dialog.showModal();
    tokenInput.focus();
  } else if (state === "stopped") {
    status.append("Disconnected");
  }
}

gateway.onState(showState);
document.getElementById("connect-form").addEventListener("submit", (event) => {
  const token = tokenInput.value.trim();
  if (!token) {
    event.preventDefault();
    return;
  }
  tokenInput.value = "";
  reason.textContent = "";
  gateway.setToken(token);
});
dialog.addEventListener("cancel", (event) => {
  // Escape would leave a page that can do nothing; the form stays until a token works
  if (gateway.state === "auth-failed") event.preventDefault();
});

// ------------------------------------------------------------------ routing

const root = document.getElementById("view");
let current = null;
let routed = 0;

async function route() {
  const routeId = ++routed;
  const [name, query] = (location.hash.replace(/^#\/?/, "") || "chat").split("?");
  const view = VIEWS.includes(name) ? name : "chat";
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  current?.unmount();
  current = null;
  clear(root);
  root.dataset.view = view;
  const module = await import(`./views/${view}.js`);
  if (routeId !== routed) return; // another route started while this one loaded
  current = module.mount(root, gateway, new URLSearchParams(query ?? ""));
  // a keyboard user who picked a view continues in it, not back at the top of the page
  if (routeId > 1 && document.activeElement?.closest?.("nav")) root.focus();
}

window.addEventListener("hashchange", route);
route();
// before start(), so the first connect already loads the pending approvals
mountApprovals(document.getElementById("approvals"), gateway);
gateway.start();
