// The Control UI shell: takes the token from the URL fragment (then removes it from
// the address bar), connects, shows the connection state, and routes #/view to a view
// module. Views get the shared client and their own element; see views/README.md.

import { GatewayClient } from "./gateway.js";
import { clear, duration, h } from "./dom.js";

const VIEWS = ["chat", "overview", "channels", "logs", "messages", "config"];
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
    localStorage.setItem(TOKEN_KEY, token);
  } catch {
    // private mode: the token lives only as long as the tab
  }
}

const fromFragment = takeTokenFromFragment();
if (fromFragment) storeToken(fromFragment);
const scheme = location.protocol === "https:" ? "wss" : "ws";
const gateway = new GatewayClient({ url: `${scheme}://${location.host}/`, token: storedToken() });
window.openclawGateway = gateway; // for tests and the curious

// ------------------------------------------------------------------ connection state

const status = document.getElementById("connection");
const dialog = document.getElementById("connect-dialog");

function showState(state, client) {
  status.dataset.state = state;
  clear(status);
  if (state === "connected") status.append("Connected");
  else if (state === "connecting") status.append(h("span", { class: "spinner", "aria-hidden": "true" }), " Connecting…");
  else if (state === "reconnecting") {
    const wait = client.nextRetryAt ? Math.max(0, client.nextRetryAt - Date.now()) : 0;
    status.append(h("span", { class: "spinner", "aria-hidden": "true" }),
      ` Reconnecting${wait > 1500 ? ` in ${duration(wait)}` : "…"}`);
    if (client.lastError) status.title = client.lastError;
  } else if (state === "auth-failed") status.append("Not connected: token refused");
  if (state === "auth-failed" || (state === "reconnecting" && !client.token && client.lastError?.includes("token"))) {
    document.getElementById("connect-reason").textContent =
      client.lastError ?? "The gateway needs its token.";
    if (!dialog.open) dialog.showModal();
  }
}

gateway.onState(showState);
document.getElementById("connect-form").addEventListener("submit", () => {
  const token = document.getElementById("connect-token").value.trim();
  if (!token) return;
  storeToken(token);
  gateway.setToken(token);
});

// ------------------------------------------------------------------ routing

const root = document.getElementById("view");
let current = null;

async function route() {
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
  current = module.mount(root, gateway, new URLSearchParams(query ?? ""));
}

window.addEventListener("hashchange", route);
route();
gateway.start();
