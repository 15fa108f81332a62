// The overview: is the gateway healthy, what is it, how is it run, which model answers,
// and who is connected. Live through `health` and `presence` events; `health` is
// also polled every 5 s for uptime and memory, which no event carries.

import { ago, append, bytes, clear, duration, h } from "../dom.js";
import { facts, failed, pathText, waiting, whileConnected } from "./kit.js";

const POLL_MS = 5000;

export function mount(root, gateway) {
  const note = h("div", { "aria-live": "polite" });
  const healthBox = h("section", { class: "panel", "aria-labelledby": "ov-health" });
  const gatewayBox = h("section", { class: "panel", "aria-labelledby": "ov-gateway" });
  const serviceBox = h("section", { class: "panel", "aria-labelledby": "ov-service" });
  const modelBox = h("section", { class: "panel", "aria-labelledby": "ov-model" });
  const presenceBox = h("section", { class: "panel", "aria-labelledby": "ov-presence" });
  root.append(h("h1", { text: "Overview" }), note,
    h("div", { class: "grid" }, healthBox, modelBox, gatewayBox, serviceBox), presenceBox);

  let health = null; // the last health payload and when it arrived (for the uptime clock)
  let healthAt = 0;
  let status = null;
  let service = null;
  let presence = null;
  let loaded = false;

  function renderHealth() {
    if (!health || !status) return;
    const uptime = health.process.uptimeMs + (Date.now() - healthAt);
    const outbox = Object.entries(health.outbox ?? {}).map(([state, n]) => `${n} ${state}`).join(", ");
    const channels = status.channelSummary.length
      ? h("ul", {}, status.channelSummary.map((line) => h("li", { text: line })))
      : "none configured";
    append(clear(healthBox), h("h2", { id: "ov-health", text: "Health" }), facts([
      ["Status", h("span", { class: health.ok ? "ok" : "error", text: health.ok ? "Healthy" : "Not healthy" }), "health"],
      ["Version", status.runtimeVersion, "version"],
      ["Uptime", duration(uptime), "uptime"],
      ["Memory (RSS)", bytes(health.process.rssBytes), "rss"],
      ["Process id", String(health.process.pid), "pid"],
      ["Connections", String(status.gateway.connections), "connections"],
      ["Heartbeats", health.heartbeatSeconds
        ? `every ${health.agents?.[0]?.heartbeat?.every ?? duration(health.heartbeatSeconds * 1000)}` : "off", "heartbeat"],
      ["Sends", outbox || "none yet", "outbox"],
      ["Channels", h("span", {}, channels, " ", h("a", { href: "#/channels", text: "Details" })), "channels"],
    ], "Health"));
  }

  function renderStatus() {
    if (!status) return;
    const gw = status.gateway;
    append(clear(gatewayBox), h("h2", { id: "ov-gateway", text: "Gateway" }), facts([
      ["Profile", gw.profile, "profile"],
      ["Port", String(gw.port), "port"],
      ["Bind", gw.bind, "bind"],
      ["Auth", gw.authMode, "auth"],
      ["Config file", h("span", {}, pathText(gw.configPath),
        gw.configExists ? null : h("span", { class: "hint", text: " (missing: built-in defaults)" })), "config-path"],
      ["State directory", pathText(gw.stateDir), "state-dir"],
      ["Log file", pathText(gw.logFile), "log-file"],
    ], "Gateway"));
    const agent = status.agent ?? {};
    const kind = agent.error
      ? h("span", { class: "error", text: `Unusable: ${agent.error}` })
      : agent.offline
        ? h("span", { class: "warn", text: "Offline: the built-in model, which needs no network or API key (set the default model in Config)." })
        : h("span", { class: "ok", text: "Online model" });
    append(clear(modelBox), h("h2", { id: "ov-model", text: "Model" }), facts([
      ["Default model", h("span", { class: "mono", text: agent.model }), "model"],
      ["Provider", agent.provider ? `${agent.provider.id} (${agent.provider.api})` : null, "provider"],
      ["API key", agent.provider?.keySource, "key-source"],
      ["Kind", kind, "model-kind"],
    ], "Model"));
  }

  function renderService() {
    if (!service) return;
    let line;
    if (service.installed) {
      line = h("span", { class: "ok",
        text: `Runs as the ${service.manager ?? "installed"} service ${service.serviceName}.` });
    } else if (service.supervised) {
      line = h("span", { text: `Runs under ${service.manager}, but not from a service that openclaw installed.` });
    } else {
      line = h("span", { class: "warn",
        text: "Started by hand, not by a service manager: it stops when its terminal does. Run openclaw gateway install to keep it running." });
    }
    const rows = [
      ["State", line, "service-state"],
      ["Service manager", service.manager ?? "none", "service-manager"],
      service.installed ? ["Service name", pathText(service.serviceName), "service-name"] : null,
      service.installed ? ["Installed by", `openclaw ${service.installedVersion}`, "service-version"] : null,
    ];
    append(clear(serviceBox), h("h2", { id: "ov-service", text: "Service" }), facts(rows, "Service"),
      service.versionMatches === false
        ? h("p", { class: "warn", text: `The service was installed by openclaw ${service.installedVersion} but runs ${service.version}; run openclaw doctor --fix to rewrite it.` })
        : null,
      h("p", { class: "hint", text: "What the gateway knows from its own environment; openclaw gateway status asks the service manager itself." }));
  }

  function renderPresence() {
    if (!presence) return;
    const rows = presence.map((entry) => h("tr", { "data-instance": entry.instanceId ?? "" },
      h("td", { text: entry.host ?? entry.instanceId ?? "?" }),
      h("td", { text: entry.mode ?? "" }),
      h("td", { text: entry.reason === "self" ? "this gateway" : entry.reason ?? "" }),
      h("td", { text: entry.platform ?? "" }),
      h("td", { text: entry.version ?? "" }),
      h("td", { text: entry.ip ?? "" }),
      h("td", { text: ago(entry.ts) })));
    append(clear(presenceBox), 
      h("h2", { id: "ov-presence", text: `Connected (${presence.length})` }),
      h("div", { class: "scroll-x" }, h("table", { id: "presence" },
        h("thead", {}, h("tr", {}, ["Who", "Mode", "Why listed", "Platform", "Version", "Address", "Seen"]
          .map((text) => h("th", { scope: "col", text })))),
        h("tbody", {}, rows))));
  }

  async function load() {
    if (!loaded) waiting(note, "Loading the gateway's state…");
    try {
      const [h1, s1, svc, p1] = await Promise.all([
        gateway.call("health"), gateway.call("status"), gateway.call("gateway.service"),
        gateway.call("system-presence")]);
      health = h1; healthAt = Date.now(); status = s1; service = svc; presence = p1;
      loaded = true;
      clear(note);
      renderHealth(); renderStatus(); renderService(); renderPresence();
    } catch (err) {
      failed(note, err, "Could not read the gateway's state: ");
    }
  }

  async function poll() {
    if (!loaded) return load();
    try {
      [health, status] = await Promise.all([gateway.call("health"), gateway.call("status")]);
      healthAt = Date.now();
      clear(note);
      renderHealth(); renderStatus();
    } catch (err) {
      failed(note, err, "Could not refresh: ");
    }
  }

  const offs = [
    gateway.on("health", (payload) => { health = payload; healthAt = Date.now(); renderHealth(); }),
    gateway.on("presence", (payload) => {
      presence = payload.presence;
      renderPresence();
    }),
  ];
  const stop = whileConnected(gateway, load, { everyMs: POLL_MS, poll });
  const clock = setInterval(() => {
    const cell = healthBox.querySelector('[data-field="uptime"]');
    if (cell && health && gateway.state === "connected") {
      cell.textContent = duration(health.process.uptimeMs + (Date.now() - healthAt));
    }
  }, 1000);
  return {
    unmount() {
      offs.forEach((off) => off());
      stop();
      clearInterval(clock);
    },
  };
}
