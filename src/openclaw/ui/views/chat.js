// The chat view: the sessions list (new, rename, reset, delete), one session's
// transcript with assistant replies streamed in as `chat` events arrive, a composer
// that sends with an idempotency key and can stop a running reply, and the session's
// model, switchable from models.list. See views/README.md for the contract.
//
// Replies are Markdown, rendered by markdown.js into DOM nodes (never HTML). Deltas
// are coalesced into one render per animation frame, so a fast stream costs one
// layout per frame however many events arrive in it.

import { ask, clear, errorLine, explain, h, spinner } from "../dom.js";
import { idempotencyKey } from "../gateway.js";
import { renderInto } from "../markdown.js";

const MAIN_KEY = "agent:main:main";
const HISTORY_LIMIT = 200;

/** The text of a transcript or event message (content parts or a plain string). */
function textOf(message) {
  if (!message) return "";
  const content = message.content;
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return typeof message.text === "string" ? message.text : "";
  return content.filter((part) => part?.type === "text" && typeof part.text === "string")
    .map((part) => part.text).join("");
}

/** `key` in the `agent:<id>:<name>` form the gateway's chat events use. */
function canonical(key) {
  return key.startsWith("agent:") ? key : `agent:main:${key}`;
}

function nameOf(key) {
  return key.startsWith("agent:main:") ? key.slice("agent:main:".length) : key;
}

function titleOf(row) {
  return row.label ?? row.derivedTitle ?? nameOf(row.key);
}

function timeOf(ms) {
  if (!ms) return null;
  const date = new Date(ms);
  return h("time", { datetime: date.toISOString(), text: date.toLocaleTimeString([], {
    hour: "2-digit", minute: "2-digit" }) });
}

export function mount(root, gateway, params) {
  const mainKey = canonical(gateway.hello?.snapshot?.sessionDefaults?.mainSessionKey ?? MAIN_KEY);
  let sessionKey = canonical(params.get("session") || mainKey);
  let row = null; // the current session's row
  let sessions = [];
  let catalog = null; // models.list
  let loadSeq = 0;
  let listTimer = null;
  let activeRun = null; // the run shown as going in this session (ours or another client's)
  let retry = null; // {text, key}: a send whose answer was lost keeps its key for a resend
  const runs = new Map(); // runId -> {li, body, text, mine, dirty, receivedAt}
  let frame = 0;
  const offs = [];

  // ---------------------------------------------------------------- skeleton

  const list = h("ul", { class: "session-list" });
  const newButton = h("button", { type: "button", class: "primary", text: "New chat",
    onclick: () => newChat() });
  const sidebar = h("aside", { class: "sessions", id: "chat-sessions", "aria-label": "Sessions" },
    h("div", { class: "sessions-head" }, h("h2", { text: "Sessions" }), newButton), list);
  const toggle = h("button", { type: "button", class: "sessions-toggle", "aria-expanded": "false",
    "aria-controls": "chat-sessions", text: "Sessions",
    onclick: () => setDrawer(toggle.getAttribute("aria-expanded") !== "true") });
  const title = h("h1", { id: "chat-title", text: nameOf(sessionKey) });
  const modelSelect = h("select", { id: "chat-model", disabled: true, onchange: () => changeModel() });
  const modelNote = h("span", { class: "hint model-note" });
  const renameButton = h("button", { type: "button", text: "Rename", onclick: () => rename() });
  const resetButton = h("button", { type: "button", text: "Reset", onclick: () => reset() });
  const deleteButton = h("button", { type: "button", class: "danger", text: "Delete",
    onclick: () => remove() });
  const statusLine = h("div", { class: "chat-status", "aria-live": "polite" });
  const transcript = h("ol", { class: "transcript", role: "log", "aria-labelledby": "chat-title" });
  const input = h("textarea", { id: "chat-input", rows: 2, placeholder: "Message the assistant",
    "aria-describedby": "chat-input-hint" });
  const sendButton = h("button", { type: "submit", class: "primary", text: "Send" });
  const stopButton = h("button", { type: "button", class: "danger", text: "Stop", hidden: true,
    onclick: () => abort() });
  const composer = h("form", { class: "composer", onsubmit: (event) => send(event) },
    h("label", { for: "chat-input", class: "visually-hidden", text: "Message" }),
    input,
    h("div", { class: "composer-actions" }, stopButton, sendButton),
    h("p", { id: "chat-input-hint", class: "hint",
      text: "Enter sends, Shift+Enter starts a new line. Images are not sent to models yet." }));
  const conversation = h("section", { class: "conversation", "aria-labelledby": "chat-title" },
    h("div", { class: "conversation-head" }, toggle, title,
      h("div", { class: "session-actions" }, renameButton, resetButton, deleteButton),
      h("div", { class: "model-picker" }, h("label", { for: "chat-model", text: "Model" }),
        modelSelect, modelNote)),
    statusLine, transcript, composer);
  root.append(h("div", { class: "chat" }, sidebar, conversation));

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });

  function setDrawer(open) {
    toggle.setAttribute("aria-expanded", String(open));
    sidebar.classList.toggle("open", open);
  }

  function showStatus(...nodes) {
    clear(statusLine);
    statusLine.append(...nodes);
  }

  function showError(err) {
    showStatus(errorLine(explain(err)));
  }

  // ---------------------------------------------------------------- loading

  async function loadAll() {
    const seq = ++loadSeq;
    showStatus(h("p", { class: "hint" }, h("span", { class: "spinner", "aria-hidden": "true" }),
      " Loading the conversation…"));
    try {
      const startup = await gateway.call("chat.startup", { sessionKey, limit: HISTORY_LIMIT });
      if (seq !== loadSeq) return;
      // after a reconnect nothing streamed before it is still going here: start afresh
      runs.clear();
      setRunning(null);
      showTranscript(startup);
      clear(statusLine);
      // marks for measuring first paint: the transcript is in the DOM, and the frame
      // that paints it has started
      if (!performance.getEntriesByName("openclaw:chat-ready").length) {
        performance.mark("openclaw:chat-ready");
        requestAnimationFrame(() => performance.mark("openclaw:chat-painted"));
      }
      const [listed, models] = await Promise.all([
        gateway.call("sessions.subscribe", { limit: 200, includeDerivedTitles: true,
          includeLastMessage: true }),
        catalog ?? gateway.call("models.list", {}),
      ]);
      if (seq !== loadSeq) return;
      catalog = models;
      showSessions(listed.list?.sessions ?? []);
      showModel();
    } catch (err) {
      if (seq === loadSeq) showError(err);
    }
  }

  async function loadTranscript() {
    const seq = ++loadSeq;
    try {
      const startup = await gateway.call("chat.startup", { sessionKey, limit: HISTORY_LIMIT });
      if (seq === loadSeq) showTranscript(startup);
    } catch (err) {
      if (seq === loadSeq) showError(err);
    }
  }

  function refreshList(delay = 150) {
    // sessions.changed comes in bursts (a run starts, ends, a patch): one list per burst
    clearTimeout(listTimer);
    listTimer = setTimeout(async () => {
      try {
        const listed = await gateway.call("sessions.list", { limit: 200,
          includeDerivedTitles: true, includeLastMessage: true });
        showSessions(listed.sessions ?? []);
      } catch {
        // the next change or reconnect refreshes it; the old list stays meanwhile
      }
    }, delay);
  }

  // ---------------------------------------------------------------- sessions

  function showSessions(rows) {
    sessions = rows;
    if (!rows.some((s) => s.key === sessionKey) && row) sessions = [row, ...rows];
    clear(list);
    for (const s of sessions) {
      const current = s.key === sessionKey;
      list.append(h("li", {},
        h("button", { type: "button", class: "session", "aria-current": current ? "true" : null,
          "data-key": s.key, onclick: () => switchTo(s.key) },
          h("span", { class: "session-title", text: titleOf(s) }),
          s.hasActiveRun ? spinner("Replying…") : null,
          s.lastMessagePreview ? h("span", { class: "session-preview", text: s.lastMessagePreview })
            : null)));
    }
  }

  function showRow(next) {
    row = next;
    title.textContent = row ? titleOf(row) : nameOf(sessionKey);
    deleteButton.disabled = sessionKey === mainKey;
    deleteButton.title = sessionKey === mainKey ? "The main session cannot be deleted; reset it instead." : "";
    if (row?.hasActiveRun && row.activeRunIds?.length && !activeRun) setRunning(row.activeRunIds[0]);
    if (row && !row.hasActiveRun && activeRun && !runs.get(activeRun)?.mine) setRunning(null);
    showModel();
  }

  function switchTo(key) {
    setDrawer(false);
    if (key === sessionKey) return;
    sessionKey = key;
    history.replaceState(null, "", `#/chat?session=${encodeURIComponent(key)}`);
    row = null;
    retry = null;
    setRunning(null);
    runs.clear();
    title.textContent = nameOf(key);
    showSessions(sessions);
    clear(transcript);
    transcript.append(h("li", { class: "placeholder" },
      h("span", { class: "spinner", "aria-hidden": "true" }), " Loading…"));
    loadTranscript().then(() => input.focus());
  }

  async function newChat() {
    const stamp = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14);
    switchTo(`agent:main:chat-${stamp}-${Math.random().toString(36).slice(2, 6)}`);
    refreshList(300);
  }

  async function rename() {
    const label = await ask({ title: "Rename this chat", confirm: "Rename",
      input: { label: "Name (empty for none)", value: row?.label ?? "", maxLength: 100 } });
    if (label === null) return;
    try {
      const result = await gateway.call("sessions.patch", { key: sessionKey,
        label: label.trim() || null });
      showRow(result.entry);
      clear(statusLine);
      refreshList(0);
    } catch (err) {
      showError(err);
    }
  }

  async function reset() {
    const ok = await ask({ title: "Reset this chat?", confirm: "Reset", danger: true,
      body: "Its messages are deleted and it starts over; its name and model stay." });
    if (!ok) return;
    try {
      await gateway.call("sessions.reset", { key: sessionKey, expectedSessionId: row?.sessionId });
      runs.clear();
      setRunning(null);
      await loadTranscript();
      refreshList(0);
    } catch (err) {
      showError(err);
    }
  }

  async function remove() {
    if (sessionKey === mainKey) return;
    const ok = await ask({ title: `Delete “${titleOf(row ?? { key: sessionKey })}”?`,
      confirm: "Delete", danger: true,
      body: "The chat and all its messages are deleted. This cannot be undone." });
    if (!ok) return;
    try {
      await gateway.call("sessions.delete", { key: sessionKey, expectedSessionId: row?.sessionId });
      sessions = sessions.filter((s) => s.key !== sessionKey);
      switchTo(mainKey);
      refreshList(0);
    } catch (err) {
      showError(err);
    }
  }

  // ---------------------------------------------------------------- model

  function currentModelRef() {
    if (!row) return null;
    return row.modelOverride ?? (row.modelProvider && row.model ? `${row.modelProvider}/${row.model}` : null);
  }

  function showModel() {
    if (!catalog || !row) return;
    const current = currentModelRef();
    const options = (catalog.models ?? []).map((m) => h("option", { value: m.ref,
      disabled: m.available === false,
      text: `${m.ref}${m.offline ? " (offline)" : ""}${m.default ? " — default" : ""}` +
        `${m.available === false ? ` — unavailable: ${m.unavailableReason ?? "not set up"}` : ""}` }));
    if (current && !(catalog.models ?? []).some((m) => m.ref === current)) {
      options.unshift(h("option", { value: current, text: current }));
    }
    modelSelect.replaceChildren(...options);
    modelSelect.value = current ?? catalog.defaultModel ?? "";
    modelSelect.disabled = gateway.state !== "connected";
    const model = (catalog.models ?? []).find((m) => m.ref === modelSelect.value);
    modelNote.textContent = model?.offline
      ? "The built-in offline model: canned answers, no network."
      : row.modelOverride ? "Chosen for this chat." : "The gateway's default.";
  }

  async function changeModel() {
    const ref = modelSelect.value;
    modelSelect.disabled = true;
    try {
      const result = await gateway.call("sessions.patch", { key: sessionKey,
        model: ref === catalog?.defaultModel ? null : ref });
      showRow(result.entry);
      clear(statusLine);
    } catch (err) {
      showError(err);
      showModel();
    } finally {
      modelSelect.disabled = gateway.state !== "connected";
    }
  }

  // ---------------------------------------------------------------- transcript

  function messageNode(message) {
    const role = message.role === "user" ? "user" : "assistant";
    const text = textOf(message);
    const body = h("div", { class: "body" });
    if (role === "assistant") renderInto(body, text);
    else body.textContent = text;
    const meta = message.__openclaw ?? {};
    return h("li", { class: `msg ${role}`, "data-message-id": message.messageId ?? null },
      h("div", { class: "who" }, h("span", { text: role === "user" ? "You" : "Assistant" }),
        meta.injected ? h("span", { class: "badge", text: meta.label ?? "note" }) : null,
        timeOf(message.timestamp)),
      body,
      meta.truncated ? h("p", { class: "hint", text: "Shortened for display." }) : null);
  }

  function showTranscript(startup) {
    showRow(startup.session ?? startup.sessionInfo ?? null);
    const keep = [...runs.values()].filter((run) => run.li.isConnected && !run.ended);
    clear(transcript);
    if (startup.hasMore) {
      transcript.append(h("li", { class: "placeholder hint",
        text: `Older messages (${startup.totalMessages - startup.messages.length}) are not shown.` }));
    }
    for (const message of startup.messages ?? []) transcript.append(messageNode(message));
    // a reply still streaming stays below the history it will join
    for (const run of keep) {
      if (run.userLi) transcript.append(run.userLi);
      transcript.append(run.li);
    }
    if (!transcript.children.length) {
      transcript.append(h("li", { class: "placeholder hint empty", text: "No messages yet. Ask something below." }));
    }
    scrollToEnd(true);
  }

  function nearEnd() {
    return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 120;
  }

  function scrollToEnd(force = false) {
    if (force || nearEnd()) window.scrollTo(0, document.documentElement.scrollHeight);
  }

  function startRun(runId, mine, userLi = null) {
    transcript.querySelector(":scope > .empty")?.remove();
    const body = h("div", { class: "body" }, h("span", { class: "thinking" },
      h("span", { class: "spinner", "aria-hidden": "true" }), " Waiting for the reply…"));
    const state = h("span", { class: "run-state" });
    const li = h("li", { class: "msg assistant streaming", "aria-busy": "true", "data-run-id": runId },
      h("div", { class: "who" }, h("span", { text: "Assistant" }), state), body);
    const run = { li, body, state, text: "", mine, dirty: false, ended: false, userLi,
      receivedAt: 0 };
    runs.set(runId, run);
    const wasNearEnd = nearEnd();
    transcript.append(li);
    if (wasNearEnd || mine) scrollToEnd(true);
    return run;
  }

  function render(frameAt) {
    frame = 0;
    const atEnd = nearEnd();
    for (const run of runs.values()) {
      if (!run.dirty) continue;
      run.dirty = false;
      renderInto(run.body, run.text);
      if (Array.isArray(window.openclawChatTimings)) {
        window.openclawChatTimings.push({ receivedAt: run.receivedAt, frameAt,
          renderedAt: performance.now(), chars: run.text.length });
      }
    }
    if (atEnd) scrollToEnd(true);
  }

  function endRun(runId, run, outcome, note) {
    run.ended = true;
    run.li.classList.remove("streaming");
    run.li.removeAttribute("aria-busy");
    if (outcome !== "final") {
      run.li.classList.add(outcome);
      run.state.textContent = outcome === "aborted" ? "Stopped" : "Failed";
      run.state.className = `badge ${outcome}`;
      if (!run.text) clear(run.body);
      if (note) run.li.append(h("p", { class: outcome === "error" ? "error" : "hint", text: note }));
    }
    if (activeRun === runId) setRunning(null);
  }

  function onChat(payload) {
    if (payload?.sessionKey !== sessionKey) {
      if (payload?.state !== "delta") refreshList();
      return;
    }
    const receivedAt = performance.now();
    const runId = payload.runId;
    let run = runs.get(runId);
    if (payload.state === "delta") {
      if (!run) {
        run = startRun(runId, false);
        if (!activeRun) setRunning(runId);
      }
      if (run.ended) return;
      const whole = textOf(payload.message);
      run.text = whole || run.text + (payload.deltaText ?? "");
      // the oldest delta not yet on screen: how long it waits is the render latency
      if (!run.dirty) run.receivedAt = receivedAt;
      run.dirty = true;
      if (!frame) frame = requestAnimationFrame(render);
      return;
    }
    if (payload.state === "final") {
      if (String(runId).startsWith("inject:")) {
        transcript.append(messageNode({ ...payload.message, __openclaw: { injected: true } }));
        scrollToEnd();
        return;
      }
      if (!run) {
        // another client's run we saw no delta of: the transcript has its messages now
        loadTranscript();
        return;
      }
      run.text = textOf(payload.message) || run.text;
      run.dirty = false;
      renderInto(run.body, run.text);
      endRun(runId, run, "final");
      if (!run.mine) loadTranscript();
      refreshList();
      return;
    }
    if (payload.state === "aborted" || payload.state === "error") {
      if (!run) return;
      run.text = textOf(payload.message) || run.text;
      if (run.text) renderInto(run.body, run.text);
      const note = payload.state === "aborted"
        ? "Reply stopped; it is not kept in the transcript."
        : `The reply failed: ${payload.errorMessage ?? "unknown error"}.`;
      endRun(runId, run, payload.state === "aborted" ? "aborted" : "error", note);
      refreshList();
    }
  }

  // ---------------------------------------------------------------- sending

  function setRunning(runId) {
    activeRun = runId;
    stopButton.hidden = runId === null;
    stopButton.disabled = false;
    sendButton.hidden = runId !== null;
  }

  async function send(event) {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || activeRun) return;
    // the same text after a lost answer is the same message: the gateway runs it once
    const key = retry?.text === text ? retry.key : idempotencyKey("chat");
    retry = null;
    const userLi = messageNode({ role: "user", content: text, timestamp: Date.now() });
    userLi.classList.add("pending");
    transcript.querySelector(":scope > .empty")?.remove();
    transcript.append(userLi);
    const run = startRun(key, true, userLi);
    setRunning(key);
    input.value = "";
    clear(statusLine);
    try {
      const result = await gateway.call("chat.send", { sessionKey, message: text,
        idempotencyKey: key, deliver: false });
      userLi.classList.remove("pending");
      if (result?.status === "ok" || result?.status === "error") loadTranscript(); // a repeat
      for (const note of result?.notes ?? []) showStatus(h("p", { class: "hint", text: note }));
    } catch (err) {
      runs.delete(key);
      run.li.remove();
      userLi.remove();
      if (activeRun === key) setRunning(null);
      if (!input.value) input.value = text;
      if (err.code === "DISCONNECTED" || err.code === "TIMEOUT") retry = { text, key };
      showError(err);
    }
  }

  async function abort() {
    stopButton.disabled = true;
    try {
      const result = await gateway.call("chat.abort", { sessionKey });
      if (!result?.aborted) setRunning(null); // it had ended on its own meanwhile
    } catch (err) {
      stopButton.disabled = false;
      showError(err);
    }
  }

  // ---------------------------------------------------------------- events and state

  function onSessionsChanged(payload) {
    if (payload?.sessionKey === sessionKey) {
      if (payload.reason === "delete") {
        switchTo(mainKey);
      } else if (payload.session) {
        const idChanged = row && payload.session.sessionId !== row.sessionId;
        showRow(payload.session);
        if (idChanged && payload.reason === "reset") loadTranscript();
      }
    }
    refreshList();
  }

  function onState(state) {
    const connected = state === "connected";
    sendButton.disabled = !connected;
    newButton.disabled = !connected;
    for (const button of [renameButton, resetButton]) button.disabled = !connected;
    deleteButton.disabled = !connected || sessionKey === mainKey;
    modelSelect.disabled = !connected || !catalog;
    if (connected) {
      loadAll();
    } else if (state === "reconnecting" || state === "connecting") {
      showStatus(h("p", { class: "hint" }, h("span", { class: "spinner", "aria-hidden": "true" }),
        " Waiting for the gateway; this view reloads when it is back."));
    }
  }

  offs.push(gateway.on("chat", onChat), gateway.on("sessions.changed", onSessionsChanged),
    gateway.onState(onState));
  onState(gateway.state);

  return {
    unmount() {
      for (const off of offs) off();
      clearTimeout(listTimer);
      if (frame) cancelAnimationFrame(frame);
      loadSeq += 1;
      if (gateway.state === "connected") gateway.call("sessions.unsubscribe", {}).catch(() => {});
    },
  };
}
