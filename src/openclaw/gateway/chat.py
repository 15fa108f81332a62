"""Chat sessions as OpenClaw's Control UI and WebChat see them.

The agent runtime streams each run as ``agent`` events. :class:`ChatService` sits on
that stream (it is the runtime's ``emit``) and, besides passing every ``agent`` event
on, turns it into what chat clients read:

* ``chat`` events to every reader: ``delta`` (the new text as ``deltaText`` and the
  whole reply so far as ``message``), then one of ``final``, ``aborted`` or ``error``;
* ``session.message`` events, one per transcript entry a run (or ``chat.inject``)
  adds, and ``session.tool`` events, one per tool call's start and result, only to
  connections subscribed to that session (``sessions.messages.subscribe``);
* ``sessions.changed`` events, with the session's row, only to connections
  subscribed with ``sessions.subscribe``.

Subscriptions live in the connection's :class:`~openclaw.gateway.bus.Session`
(``extra``), so they end with it and need no cleanup of their own. Work for an
event that nobody subscribed to (building a row, reading turns) is skipped.

It also builds session rows (``sessions.list``, ``sessions.describe``, the
``sessionInfo`` of ``chat.history``) from the metadata store, the transcript and the
runs in progress, and pages the transcript for ``chat.history``.

**Session keys.** OpenClaw's clients name sessions ``agent:<agentId>:<key>``; the
main session is ``agent:main:main``. This gateway has one agent, ``main``, and its
runtime and store key sessions by the part after ``agent:main:`` (``main``, or
``telegram:default:42`` for a chat). :func:`internal_key` maps a client's key in
(both forms are accepted) and :func:`wire_key` maps it out: every chat and session
method answers with the ``agent:main:…`` form.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openclaw.agent.providers.registry import parse_model_ref
from openclaw.clock import now_ms
from openclaw.errors import UsageError
from openclaw.gateway.bus import READ_SCOPE, EventBus, Session
from openclaw.gateway.runevents import RunEvents

if TYPE_CHECKING:
    from openclaw.agent.runtime import AgentRuntime, Run
    from openclaw.store.sessions import SessionMeta, SessionMetaStore

__all__ = ["AGENT_ID", "THINKING_LEVELS", "ChatService", "internal_key", "wire_key"]

AGENT_ID = "main"
_PREFIX = f"agent:{AGENT_ID}:"
#: ``Session.extra`` keys: subscribed to ``sessions.changed``; the sessions whose
#: ``session.message`` events the connection gets.
_LIST_SUB = "chat.sessions"
_MESSAGE_SUBS = "chat.messages"
THINKING_LEVELS = ("off", "minimal", "low", "medium", "high", "xhigh", "adaptive", "max",
                   "ultra")
#: A ``chat.history`` catch-up (``cursor``) returns at most this many entries; further
#: behind, it answers ``{kind: "reset"}`` and the client reads a normal page.
CATCH_UP_MAX = 200
_PREVIEW_CHARS = 120


def internal_key(key: str, agent_id: str | None = None) -> str:
    """The runtime's session key for a client's ``key`` (``agent:main:x`` or ``x``).

    Raises:
        UsageError: the key or ``agent_id`` names an agent other than ``main``.
    """
    if agent_id is not None and agent_id != AGENT_ID:
        raise UsageError(f"unknown agent {agent_id!r}: this gateway has one agent, "
                         f"{AGENT_ID!r}")
    if key.startswith(_PREFIX) and len(key) > len(_PREFIX):
        return key[len(_PREFIX):]
    if key.startswith("agent:"):
        raise UsageError(f"unknown session key {key!r}: keys are \"{_PREFIX}<name>\" "
                         f"(this gateway has one agent, {AGENT_ID!r})")
    return key


def wire_key(key: str) -> str:
    """The ``agent:main:…`` form of a runtime session key."""
    return _PREFIX + key


@dataclass
class _Stream:
    """A run being turned into ``chat`` events."""

    run: Run
    wire: str
    text: str = ""
    seq: int = 0


def _text_message(role: str, text: str, ts: int) -> dict[str, Any]:
    return {"role": role, "content": [{"type": "text", "text": text}], "timestamp": ts}


class ChatService:
    """``agent`` events → ``chat``/``session.message``/``sessions.changed``; session
    rows and transcript pages."""

    def __init__(self, bus: EventBus, agent: AgentRuntime, meta: SessionMetaStore,
                 db_path: str, run_events: RunEvents) -> None:
        self.bus = bus
        self.run_events = run_events
        self.agent = agent
        self.turns = agent.sessions
        self.meta = meta
        self.db_path = db_path
        self._streams: dict[str, _Stream] = {}
        self._last_snapshot = 0
        meta.ensure("main")  # the main session always exists, as in OpenClaw

    # ------------------------------------------------------------------ agent events

    def on_agent_event(self, payload: dict[str, Any]) -> None:
        """The runtime's ``emit``: pass the ``agent`` event on, then the chat view."""
        self.run_events.publish(payload)
        stream = self._streams.get(payload["runId"])
        if payload["stream"] == "tool":
            if stream is not None:
                self._tool(stream, payload)
            return
        if payload["stream"] == "assistant":
            if stream is not None:
                self._delta(stream, payload["data"]["text"])
            return
        if payload["stream"] != "lifecycle" or stream is not None:
            return
        run = self.agent.active.get(payload["runId"])
        if run is None:
            return
        stream = _Stream(run, wire_key(run.session_key))
        self._streams[run.run_id] = stream
        run.final.add_done_callback(lambda future: self._ended(stream, future))
        if payload["data"].get("phase") == "start":
            self.meta.ensure(run.session_key)
            self.changed(run.session_key, "agent.run.started")

    def _tool(self, stream: _Stream, payload: dict[str, Any]) -> None:
        """A tool call's start or result as ``session.tool``, to the connections that
        follow the run's session (a transcript view shows the call while it runs, not
        only once the run's turns are written)."""
        key = stream.run.session_key
        if not self.message_subscribers(key):
            return
        self.bus.broadcast("session.tool", {**payload, "sessionKey": stream.wire,
                                            "agentId": AGENT_ID}, scope=READ_SCOPE,
                           where=lambda s: key in s.extra.get(_MESSAGE_SUBS, ()))

    def _chat(self, stream: _Stream, state: str, **fields: Any) -> None:
        stream.seq += 1
        self.bus.broadcast("chat", {"runId": stream.run.run_id, "sessionKey": stream.wire,
                                    "agentId": AGENT_ID, "seq": stream.seq, "state": state,
                                    **fields}, scope=READ_SCOPE)

    def _delta(self, stream: _Stream, text: str) -> None:
        stream.text += text
        self._chat(stream, "delta", deltaText=text,
                   message=_text_message("assistant", stream.text, now_ms()))

    def _ended(self, stream: _Stream, future: asyncio.Future[dict[str, Any]]) -> None:
        run = stream.run
        self._streams.pop(run.run_id, None)
        if future.cancelled():
            return
        final = future.result()
        payloads = final.get("result", {}).get("payloads") or []
        text = payloads[0].get("text", "") if payloads else stream.text
        message = _text_message("assistant", text, now_ms())
        if final.get("status") == "ok":
            meta = final["result"].get("meta", {})
            self._chat(stream, "final", message=message, usage=meta.get("usage") or {},
                       stopReason=meta.get("stopReason"))
            self._publish_run_turns(run)
        else:
            error = final.get("error") or {}
            code, text_error = error.get("code"), error.get("message", "run failed")
            partial = {"message": message} if text else {}
            if code == "ABORTED":
                self._chat(stream, "aborted", **partial, errorMessage=text_error,
                           stopReason="aborted")
            else:
                self._chat(stream, "error", **partial, errorMessage=text_error,
                           **self._error_kind(run, error))
        self.changed(run.session_key, "agent.input.settled")

    @staticmethod
    def _error_kind(run: Run, error: dict[str, Any]) -> dict[str, Any]:
        details = error.get("details") or {}
        kind = ("timeout" if error.get("code") == "AGENT_TIMEOUT"
                else "rate_limit" if details.get("kind") == "rate-limit" else "unknown")
        fields: dict[str, Any] = {"errorKind": kind}
        if details:
            provider, _, model = run.model_ref.partition("/")
            detail: dict[str, Any] = {"provider": provider[:300], "model": model[:300]}
            if isinstance(details.get("status"), int) and 100 <= details["status"] <= 599:
                detail["httpStatus"] = details["status"]
            fields["errorDetail"] = detail
        return fields

    def _publish_run_turns(self, run: Run) -> None:
        if not self.message_subscribers(run.session_key):
            return
        turns = [turn for turn in self.turns.page(run.session_key, 2 + len(run.tool_turns))
                 if turn["runId"] == run.run_id]
        self._publish_turns(run.session_key, turns)

    def _publish_turns(self, key: str, turns: list[dict[str, Any]]) -> None:
        if not turns:
            return
        count = self.turns.count(key)
        row = self.row(key)
        for index, turn in enumerate(turns):
            payload = self.entry(key, turn, count - len(turns) + index + 1, row["sessionId"])
            payload["session"] = row
            self.bus.broadcast("session.message", payload, scope=READ_SCOPE,
                               where=lambda s: key in s.extra.get(_MESSAGE_SUBS, ()))

    # ------------------------------------------------------------------ subscriptions

    @staticmethod
    def subscribe_list(session: Session, on: bool) -> None:
        """Start or stop ``sessions.changed`` events for ``session``."""
        session.extra[_LIST_SUB] = on

    @staticmethod
    def subscribe_messages(session: Session, key: str, on: bool) -> None:
        """Start or stop ``session.message`` events of session ``key`` for ``session``."""
        keys: set[str] = session.extra.setdefault(_MESSAGE_SUBS, set())
        if on:
            keys.add(key)
        else:
            keys.discard(key)

    def message_subscribers(self, key: str) -> int:
        """How many open connections get ``session.message`` events of ``key``."""
        return sum(1 for s in self.bus.sessions.values()
                   if key in s.extra.get(_MESSAGE_SUBS, ()))

    def list_subscribers(self) -> int:
        """How many open connections get ``sessions.changed`` events."""
        return sum(1 for s in self.bus.sessions.values() if s.extra.get(_LIST_SUB))

    def changed(self, key: str, reason: str, *, deleted: SessionMeta | None = None) -> None:
        """Send ``sessions.changed`` for ``key`` to the list subscribers."""
        if not self.list_subscribers():
            return
        payload: dict[str, Any] = {"sessionKey": wire_key(key), "agentId": AGENT_ID,
                                   "reason": reason, "ts": now_ms()}
        if deleted is not None:
            payload["sessionId"] = deleted.session_id
        else:
            payload["session"] = self.row(key)
        self.bus.broadcast("sessions.changed", payload, scope=READ_SCOPE,
                           where=lambda s: bool(s.extra.get(_LIST_SUB)))

    # ------------------------------------------------------------------ rows

    def active_runs(self, key: str) -> list[str]:
        """Ids of the session's runs that are queued or running, oldest first."""
        return [run.run_id for run in self.agent.active.values() if run.session_key == key]

    def model_of(self, key: str | None) -> tuple[str, str]:
        """The (provider, model) a new run of session ``key`` (None: of a session without
        an override) would use."""
        ref = (self.meta.model_for(key) if key is not None else None) or self.agent.defaults.model
        try:
            return parse_model_ref(ref)
        except ValueError:
            return "", ref

    def _snapshot_ms(self) -> int:
        """``snapshotAt`` for a new row: the time, but strictly later than the last one.

        OpenClaw's Control UI drops a row that says "idle" when the "running" row it
        holds is not older (same ``snapshotAt`` and ``updatedAt``), which a run that
        starts and ends within one millisecond would otherwise produce.
        """
        self._last_snapshot = max(now_ms(), self._last_snapshot + 1)
        return self._last_snapshot

    def row(self, key: str, *, stats: tuple[int, int | None] | None = None,
            titles: bool = False, last_message: bool = False) -> dict[str, Any]:
        """The session's row, as ``sessions.list`` shows it."""
        meta = self.meta.ensure(key)
        count, last_ts = stats if stats is not None else (self.turns.count(key), None)
        if stats is None and count:
            last = self.turns.page(key, 1)
            last_ts = last[0]["ts"] if last else None
        provider, model = self.model_of(key)
        runs = self.active_runs(key)
        row: dict[str, Any] = {
            "key": wire_key(key), "sessionId": meta.session_id, "agentId": AGENT_ID,
            "kind": "direct", "createdAt": meta.created_ms,
            "updatedAt": max(meta.updated_ms, last_ts or 0), "snapshotAt": self._snapshot_ms(),
            "model": model, "modelProvider": provider, "modelOverride": meta.model,
            "hasActiveRun": bool(runs), "activeRunIds": runs, "messageCount": count,
        }
        if meta.label is not None:
            # displayName is a presentation title; without a label there is none, and
            # OpenClaw's clients then name the row themselves ("Main Session", the
            # derived title, the key)
            row["label"] = row["displayName"] = meta.label
        if meta.thinking_level is not None:
            row["thinkingLevel"] = meta.thinking_level
        if titles:
            first = self.turns.first(key, "user")
            if first:
                row["derivedTitle"] = " ".join(first.split())[:60]
        if last_message and count:
            row["lastMessagePreview"] = " ".join(self.turns.page(key, 1)[0]["text"].split())[
                :_PREVIEW_CHARS]
        return row

    def describe(self, key: str) -> dict[str, Any] | None:
        """The row of a session that exists, else None."""
        return self.row(key) if self.meta.get(key) is not None else None

    def listing(self, *, limit: int, offset: int = 0, search: str | None = None,
             label: str | None = None, active_minutes: int | None = None,
             active_only: bool = False, none: bool = False, titles: bool = False,
             last_message: bool = False) -> dict[str, Any]:
        """``sessions.list``: rows newest first, filtered, then one page of them."""
        stats = self.turns.stats()
        now = now_ms()
        rows: list[tuple[int, str]] = []
        for meta in ([] if none else self.meta.all()):
            _, last_ts = stats.get(meta.key, (0, None))
            updated = max(meta.updated_ms, last_ts or 0)
            if label is not None and meta.label != label:
                continue
            if active_minutes is not None and updated < now - active_minutes * 60_000:
                continue
            if active_only and not self.active_runs(meta.key):
                continue
            if search and not any(search.casefold() in text.casefold() for text in
                                  (meta.key, wire_key(meta.key), meta.label or "")):
                continue
            rows.append((updated, meta.key))
        rows.sort(key=lambda item: (-item[0], item[1]))
        page = rows[offset:offset + limit]
        sessions = [self.row(key, stats=stats.get(key, (0, None)), titles=titles,
                             last_message=last_message) for _, key in page]
        provider, model = self.model_of(None)
        result: dict[str, Any] = {
            "ts": now, "path": self.db_path, "count": len(sessions), "totalCount": len(rows),
            "limitApplied": limit, "offset": offset, "hasMore": offset + len(page) < len(rows),
            "defaults": {"model": model, "modelProvider": provider, "contextTokens": None},
            "sessions": sessions,
        }
        if result["hasMore"]:
            result["nextOffset"] = offset + len(page)
        return result

    # ------------------------------------------------------------------ transcript

    @staticmethod
    def message(turn: dict[str, Any], max_chars: int | None = None) -> dict[str, Any]:
        """A transcript turn as a chat message ``{role, content:[{type,text}], …}``; a
        ``tool`` turn is a ``toolResult`` message with ``toolCallId``, ``toolName``,
        ``isError`` (and the call's arguments in ``__openclaw.args``)."""
        text: str = turn["text"]
        marks: dict[str, Any] = {"id": str(turn["seq"]), "seq": turn["seq"]}
        if turn.get("runId"):
            # The submission identity. OpenClaw's Control UI keeps its own copy of a
            # message it sent until it finds the persisted entry whose
            # __openclaw.idempotencyKey is the chat.send idempotencyKey (the run id
            # here); without it the message shows twice. runId ties both entries of
            # a turn to their run.
            marks["runId"] = turn["runId"]
            if turn["role"] == "user":
                marks["idempotencyKey"] = turn["runId"]
        if max_chars is not None and len(text) > max_chars:
            text, marks["truncated"] = text[:max_chars], True
        if turn.get("meta"):
            marks.update(turn["meta"])
        meta = turn.get("meta") or {}
        if turn["role"] == "tool":  # OpenClaw's shape of a tool's result in a transcript
            message = _text_message("toolResult", text, turn["ts"])
            message.update({"toolCallId": meta.get("toolCallId"),
                            "toolName": meta.get("toolName"),
                            "isError": bool(meta.get("isError"))})
        else:
            message = _text_message(turn["role"], text, turn["ts"])
        message["messageId"] = str(turn["seq"])
        if turn.get("runId"):
            message["runId"] = turn["runId"]
        message["__openclaw"] = marks
        return message

    def entry(self, key: str, turn: dict[str, Any], position: int, session_id: str,
              max_chars: int | None = None) -> dict[str, Any]:
        """A ``session.message`` payload (also a catch-up entry of ``chat.history``)."""
        return {"sessionKey": wire_key(key), "agentId": AGENT_ID, "sessionId": session_id,
                "messageId": str(turn["seq"]), "messageSeq": position,
                "message": self.message(turn, max_chars)}

    def history(self, key: str, *, limit: int, offset: int, max_chars: int,
                max_bytes: int | None) -> dict[str, Any]:
        """One page of the transcript: up to ``limit`` messages before the newest
        ``offset`` ones, oldest first, cut to about ``max_bytes`` of text (at least
        one message)."""
        row = self.row(key)
        total = row["messageCount"]
        turns = self.turns.page(key, limit, offset)
        if max_bytes is not None:
            kept, used = 0, 0
            for turn in reversed(turns):
                used += len(turn["text"].encode()) + 200
                if kept and used > max_bytes:
                    break
                kept += 1
            turns = turns[len(turns) - kept:]
        result: dict[str, Any] = {
            "sessionKey": row["key"], "sessionId": row["sessionId"],
            "messages": [self.message(turn, max_chars) for turn in turns],
            "sessionInfo": row, "totalMessages": total,
            "hasMore": offset + len(turns) < total,
        }
        if row.get("thinkingLevel"):
            result["thinkingLevel"] = row["thinkingLevel"]
        if result["hasMore"]:
            result["nextOffset"] = offset + len(turns)
        if offset == 0:
            newest = turns[-1]["seq"] if turns else 0
            result["deltaCursor"] = f"{row['sessionId']}:{newest}"
        return result

    def catch_up(self, key: str, cursor: str, max_chars: int) -> dict[str, Any]:
        """The entries after a ``deltaCursor``, or ``{kind: "reset"}`` when the cursor
        is not this session's current one or is too far behind."""
        session_id, _, seq_text = cursor.rpartition(":")
        meta = self.meta.get(key)
        if meta is None or session_id != meta.session_id or not seq_text.isdigit():
            return {"kind": "reset"}
        turns = self.turns.after(key, int(seq_text), CATCH_UP_MAX + 1)
        if len(turns) > CATCH_UP_MAX:
            return {"kind": "reset"}
        count = self.turns.count(key)
        entries = [self.entry(key, turn, count - len(turns) + index + 1, meta.session_id,
                              max_chars) for index, turn in enumerate(turns)]
        newest = turns[-1]["seq"] if turns else int(seq_text)
        return {"kind": "delta", "messages": entries,
                "deltaCursor": f"{meta.session_id}:{newest}", "sessionInfo": self.row(key)}

    def inject(self, key: str, text: str, label: str | None) -> dict[str, Any]:
        """Append an assistant note without a run, and announce it like a reply."""
        self.meta.ensure(key)
        marks: dict[str, Any] = {"injected": True}
        if label:
            marks["label"] = label
        turn = self.turns.add(key, "assistant", text, None, marks)
        message_id = str(turn["seq"])
        self.bus.broadcast("chat", {
            "runId": f"inject:{message_id}", "sessionKey": wire_key(key), "agentId": AGENT_ID,
            "seq": 1, "state": "final", "message": self.message(turn)}, scope=READ_SCOPE)
        if self.message_subscribers(key):
            self._publish_turns(key, [turn])
        self.changed(key, "inject")
        return {"ok": True, "messageId": message_id}

    # ------------------------------------------------------------------ maintenance

    def abort_session(self, key: str, except_run: str | None = None) -> list[str]:
        """Abort every queued or running run of ``key``; return their ids."""
        aborted = [run_id for run_id in self.active_runs(key) if run_id != except_run]
        for run_id in aborted:
            self.agent.abort(run_id)
        return aborted

    def reset(self, key: str) -> int:
        """Abort the session's runs, delete its turns, give it a new session id."""
        self.abort_session(key)
        removed = self.turns.reset(key)
        self.meta.renew(key)
        self.changed(key, "reset")
        return removed

    def delete(self, key: str) -> bool:
        """Abort the session's runs and forget its turns and metadata."""
        self.abort_session(key)
        removed = self.turns.reset(key)
        meta = self.meta.delete(key)
        if meta is not None:
            self.changed(key, "delete", deleted=meta)
        return meta is not None or removed > 0
