// The Control UI's gateway client: one WebSocket, requests matched to answers by id,
// events by name, and reconnection with backoff. While disconnected, calls fail at
// once (code DISCONNECTED) instead of queueing, so no view can cause a request storm.

const PROTOCOL = 4;
const MAX_BACKOFF_MS = 30_000;

/** A failed call: the gateway's error object, or a local one (DISCONNECTED, TIMEOUT). */
export class GatewayError extends Error {
  constructor(code, message, details = undefined, retryable = undefined) {
    super(message);
    this.code = code;
    this.details = details;
    this.retryable = retryable;
  }
}

/**
 * The connection states, as the status line shows them:
 * "connecting" (first attempt), "connected", "reconnecting" (after a drop or a
 * gateway restart), "auth-failed" (the token was refused: no retry until a new one
 * is given), "stopped".
 */
export class GatewayClient {
  constructor({ url, token = null, version = "ui" }) {
    this.url = url;
    this.token = token;
    this.version = version;
    this.state = "stopped";
    this.hello = null;
    this.lastError = null;
    /** The gateway's `details.code` of the last refusal (AUTH_TOKEN_MISMATCH, ...). */
    this.lastErrorCode = null;
    this.nextRetryAt = null;
    /** WebSocket connections opened so far (tests and the curious check backoff with it). */
    this.attempts = 0;
    this._ws = null;
    this._pending = new Map();
    this._nextId = 1;
    this._events = new Map();
    this._stateListeners = new Set();
    this._attempt = 0;
    this._retryTimer = null;
    this._tickTimer = null;
  }

  /** Start connecting (and keep the connection up until stop()). */
  start() {
    if (this.state !== "stopped" && this.state !== "auth-failed") return;
    this._setState("connecting");
    this._open();
  }

  /** Close and stop reconnecting. */
  stop() {
    clearTimeout(this._retryTimer);
    this._setState("stopped");
    if (this._ws) this._ws.close(1000, "bye");
  }

  /** Use a new token and connect again. */
  setToken(token) {
    this.token = token;
    this.stop();
    this.start();
  }

  /** Call fn(state, client) on every state change; returns the unsubscribe function. */
  onState(fn) {
    this._stateListeners.add(fn);
    return () => this._stateListeners.delete(fn);
  }

  /** Call fn(payload, frame) for each `event` frame (name "*" for all); returns off(). */
  on(event, fn) {
    if (!this._events.has(event)) this._events.set(event, new Set());
    this._events.get(event).add(fn);
    return () => this._events.get(event)?.delete(fn);
  }

  /**
   * Call a method; resolves with the payload, rejects with a GatewayError.
   * Two-stage methods answer twice on one id: with `expectFinal` the first answer
   * (status "accepted"/"in_flight") goes to `onAccepted` and the promise waits for the
   * final one.
   */
  call(method, params = {}, { timeoutMs = 30_000, expectFinal = false, onAccepted } = {}) {
    if (this.state !== "connected" || !this._ws) {
      return Promise.reject(new GatewayError("DISCONNECTED", "not connected to the gateway"));
    }
    const id = `ui-${this._nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(new GatewayError("TIMEOUT", `${method} got no answer in ${timeoutMs / 1000}s`));
      }, timeoutMs);
      this._pending.set(id, { resolve, reject, timer, expectFinal, onAccepted });
      this._send({ type: "req", id, method, params });
    });
  }

  // ------------------------------------------------------------------ internals

  _setState(state, error = null) {
    this.state = state;
    if (error !== null) this.lastError = error;
    for (const fn of this._stateListeners) fn(state, this);
  }

  _send(frame) {
    this._ws.send(JSON.stringify(frame));
  }

  _open() {
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      this._scheduleRetry(String(err));
      return;
    }
    this._ws = ws;
    this.attempts += 1;
    ws.onmessage = (message) => this._receive(ws, message.data);
    ws.onclose = (close) => this._closed(ws, close);
  }

  _receive(ws, data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    this._armTick();
    if (frame.type === "event") {
      if (frame.event === "connect.challenge") {
        this._connect(ws);
        return;
      }
      if (frame.event === "shutdown") this.lastError = "the gateway is restarting";
      for (const name of [frame.event, "*"]) {
        for (const fn of this._events.get(name) ?? []) fn(frame.payload, frame);
      }
      return;
    }
    if (frame.type !== "res") return;
    if (frame.id === "connect") {
      this._connected(ws, frame);
      return;
    }
    const pending = this._pending.get(frame.id);
    if (!pending) return;
    const status = frame.payload?.status;
    if (frame.ok && pending.expectFinal && (status === "accepted" || status === "in_flight")) {
      pending.onAccepted?.(frame.payload);
      return;
    }
    clearTimeout(pending.timer);
    this._pending.delete(frame.id);
    if (frame.ok) pending.resolve(frame.payload);
    else {
      const e = frame.error ?? {};
      pending.reject(new GatewayError(e.code ?? "UNAVAILABLE", e.message ?? "request failed",
        e.details, e.retryable));
    }
  }

  _connect(ws) {
    const params = {
      minProtocol: PROTOCOL,
      maxProtocol: PROTOCOL,
      client: { id: "webchat-ui", version: this.version, platform: "web", mode: "ui",
        displayName: "Control UI" },
      role: "operator",
      scopes: ["operator.read", "operator.write", "operator.admin"],
      locale: navigator.language,
      userAgent: navigator.userAgent,
    };
    if (this.token) params.auth = { token: this.token, password: this.token };
    ws.send(JSON.stringify({ type: "req", id: "connect", method: "connect", params }));
  }

  _connected(ws, frame) {
    if (!frame.ok) {
      const e = frame.error ?? {};
      const code = e.details?.code ?? "";
      this.lastErrorCode = code || null;
      if (code.startsWith("AUTH_")) {
        this._setState("auth-failed", e.message ?? "the gateway refused the token");
        this._attempt = 0;
      } else {
        this.lastError = e.message ?? "connect refused";
      }
      return; // the gateway closes the socket; _closed decides what follows
    }
    this.hello = frame.payload;
    this._attempt = 0;
    this.nextRetryAt = null;
    this.lastError = null;
    this.lastErrorCode = null;
    this._setState("connected");
    for (const fn of this._events.get("hello") ?? []) fn(frame.payload, frame);
  }

  _armTick() {
    clearTimeout(this._tickTimer);
    const interval = this.hello?.policy?.tickIntervalMs ?? 30_000;
    // two missed ticks: the connection is dead even if the socket does not say so
    this._tickTimer = setTimeout(() => this._ws?.close(4000, "tick timeout"), interval * 2 + 5000);
  }

  _closed(ws, close) {
    if (ws !== this._ws) return;
    this._ws = null;
    clearTimeout(this._tickTimer);
    for (const [id, pending] of this._pending) {
      clearTimeout(pending.timer);
      pending.reject(new GatewayError("DISCONNECTED", "the connection to the gateway closed"));
      this._pending.delete(id);
    }
    if (this.state === "stopped" || this.state === "auth-failed") return;
    // 1006: no close frame, which is what a refused or dropped connection looks like
    this._scheduleRetry(close.reason || (close.code === 1006 ? "the gateway cannot be reached"
      : this.lastError || `connection closed (${close.code})`));
  }

  _scheduleRetry(reason) {
    // full jitter: anywhere up to the doubling ceiling, so many tabs do not return at once
    const ceiling = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this._attempt);
    const delay = 250 + Math.random() * ceiling;
    this._attempt += 1;
    this.nextRetryAt = Date.now() + delay;
    this._setState("reconnecting", reason);
    clearTimeout(this._retryTimer);
    this._retryTimer = setTimeout(() => {
      if (this.state === "reconnecting") this._open();
    }, delay);
  }
}

/**
 * A fresh idempotency key: 128 random bits as hex, with an optional prefix.
 * (crypto.randomUUID is missing on plain-http pages reached over the LAN.)
 */
export function idempotencyKey(prefix = "ui") {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
