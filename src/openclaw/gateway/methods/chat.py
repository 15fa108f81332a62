"""``chat.send``, ``chat.history``, ``chat.startup``, ``chat.abort``, ``chat.inject``.

The chat methods of OpenClaw's Control UI and WebChat. ``chat.send`` starts an agent
run on a session and answers at once with ``{runId, status}``; the reply streams as
``chat`` events (see :mod:`openclaw.gateway.chat`). Params follow OpenClaw's schema:
fields this gateway has no use for are accepted and ignored (docs/protocol.md says
which), anything else is refused.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from openclaw.agent.runtime import Run
from openclaw.errors import UsageError
from openclaw.gateway.chat import internal_key
from openclaw.gateway.dispatch import READ, WRITE, Context, Dispatcher

__all__ = ["register"]

NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
MaxChars = Annotated[int, msgspec.Meta(ge=1, le=2_000_000)]
#: ``chat.history`` text per message when the client sets no ``maxChars``.
DEFAULT_MAX_CHARS = 100_000


class ChatSendParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                     rename="camel"):
    """``chat.send`` params (OpenClaw's set)."""

    session_key: NonEmpty
    message: Annotated[str, msgspec.Meta(max_length=200_000)]
    idempotency_key: Id
    agent_id: Id | None = None
    session_id: Id | None = None
    attachments: list[dict[str, Any]] | None = None
    thinking: str | None = None
    queue_mode: Literal["steer", "followup", "collect", "interrupt"] | None = None
    deliver: bool | None = None
    timeout_ms: Annotated[int, msgspec.Meta(ge=0, le=86_400_000)] | None = None
    expected_leaf_entry_id: str | None = None
    mentions: list[Any] | None = None
    work_context: dict[str, Any] | None = None
    intent: dict[str, Any] | None = None
    fast_mode: bool | Literal["auto"] | None = None
    fast_auto_on_seconds: Annotated[int, msgspec.Meta(ge=1)] | None = None
    originating_channel: str | None = None
    originating_to: str | None = None
    originating_account_id: str | None = None
    originating_thread_id: str | None = None
    reply_to_id: str | None = None
    tool_bindings: dict[str, Any] | None = None
    system_input_provenance: Any = None
    system_provenance_receipt: str | None = None
    suppress_command_interpretation: bool | None = None
    expected_session_routing_contract: str | None = None
    expected_permission_mode: Any = None
    expected_tool_overrides: Any = None
    reconnect_resume: bool | None = msgspec.field(default=None,
                                                  name="__controlUiReconnectResume")


class HistoryParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``chat.history`` / ``chat.startup`` params (OpenClaw's set)."""

    session_key: NonEmpty
    agent_id: Id | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 200
    offset: Annotated[int, msgspec.Meta(ge=0)] = 0
    cursor: Annotated[str, msgspec.Meta(max_length=512)] | None = None
    max_chars: MaxChars | None = None
    max_bytes: Annotated[int, msgspec.Meta(ge=1024)] | None = None
    session_id: Id | None = None
    message_id: Id | None = None
    pending_before: Annotated[int, msgspec.Meta(ge=1)] | None = None
    input_run_ids: list[str] | None = None


class AbortParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``chat.abort`` params: the session, one of its runs, or both."""

    session_key: NonEmpty | None = None
    run_id: Id | None = None
    agent_id: Id | None = None
    preserve_side_runs: bool | None = None


class InjectParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``chat.inject`` params."""

    session_key: NonEmpty
    message: Annotated[str, msgspec.Meta(min_length=1, max_length=200_000)]
    agent_id: Id | None = None
    label: Annotated[str, msgspec.Meta(max_length=100)] | None = None


def attachment_note(attachments: list[dict[str, Any]]) -> str:
    """What the model is told about attachments it cannot receive.

    The model path is text only, so attachments are not sent. The note goes into the
    user's message (and so into the transcript), where the model and the user both
    see that something was left out.
    """
    names = []
    for item in attachments:
        name = item.get("fileName") or item.get("mimeType") or item.get("type") or "file"
        names.append(str(name)[:200])
    return ("[" + f"{len(names)} attachment(s) not sent to the model, which receives "
            f"text only here: {', '.join(names)}" + "]")


def _history(ctx: Context, params: HistoryParams) -> dict[str, Any]:
    key = internal_key(params.session_key, params.agent_id)
    max_chars = params.max_chars or DEFAULT_MAX_CHARS
    if params.cursor is not None:
        return ctx.app.chat.catch_up(key, params.cursor, max_chars)
    return ctx.app.chat.history(key, limit=params.limit, offset=params.offset,
                                max_chars=max_chars, max_bytes=params.max_bytes)


def register(dispatcher: Dispatcher) -> None:
    """Install the chat methods."""

    @dispatcher.register("chat.send", WRITE, ChatSendParams)
    def chat_send(ctx: Context, params: ChatSendParams) -> dict[str, Any]:
        key = internal_key(params.session_key, params.agent_id)
        text = params.message
        notes: list[str] = []
        if params.attachments:
            note = attachment_note(params.attachments)
            text = f"{text}\n\n{note}" if text else note
            notes.append(note.strip("[]"))
        if not text.strip():
            raise UsageError("invalid chat.send params: message is empty")
        runtime = ctx.app.agent
        kind, found = runtime.submit(
            params.idempotency_key, text, session_key=key,
            timeout_s=params.timeout_ms / 1000 if params.timeout_ms else None)
        if kind == "accepted":
            assert isinstance(found, Run)
            if params.queue_mode == "interrupt":
                ctx.app.chat.abort_session(key, except_run=found.run_id)
            answer: dict[str, Any] = {"runId": found.run_id, "status": "started",
                                      "acceptedAt": found.accepted_at}
            if notes:
                answer["notes"] = notes
            return answer
        if isinstance(found, Run):
            same = found.message == text and found.session_key == key
            answer = {"runId": found.run_id, "status": "in_flight"}
        else:
            stored = runtime.runs.get(params.idempotency_key) or {}
            request = stored.get("request") or {}
            same = request.get("message") == text and request.get("sessionKey") == key
            answer = {"runId": params.idempotency_key, "status": found.get("status", "error")}
        if not same:
            raise UsageError(
                f"idempotencyKey {params.idempotency_key!r} was already used for a "
                "different message or session; send a new message with a new key",
                details={"reason": "idempotency-key-reused"})
        return answer

    @dispatcher.register("chat.history", READ, HistoryParams)
    def chat_history(ctx: Context, params: HistoryParams) -> dict[str, Any]:
        return _history(ctx, params)

    @dispatcher.register("chat.startup", READ, HistoryParams)
    def chat_startup(ctx: Context, params: HistoryParams) -> dict[str, Any]:
        result = _history(ctx, params)
        if result.get("kind") != "reset":
            result["session"] = result["sessionInfo"]
        return result

    @dispatcher.register("chat.abort", WRITE, AbortParams)
    def chat_abort(ctx: Context, params: AbortParams) -> dict[str, Any]:
        if params.session_key is None and params.run_id is None:
            raise UsageError("invalid chat.abort params: give sessionKey, runId or both")
        key = (internal_key(params.session_key, params.agent_id)
               if params.session_key is not None else None)
        if params.run_id is None:
            assert key is not None
            run_ids = ctx.app.chat.abort_session(key)
        else:
            run = ctx.app.agent.active.get(params.run_id)
            if run is not None and key is not None and run.session_key != key:
                raise UsageError(f"run {params.run_id!r} is not a run of session "
                                 f"{params.session_key!r}")
            run_ids = [params.run_id] if run is not None else []
            for run_id in run_ids:
                ctx.app.agent.abort(run_id)
        return {"ok": True, "aborted": bool(run_ids), "runIds": run_ids}

    @dispatcher.register("chat.inject", WRITE, InjectParams)
    def chat_inject(ctx: Context, params: InjectParams) -> dict[str, Any]:
        key = internal_key(params.session_key, params.agent_id)
        return ctx.app.chat.inject(key, params.message, params.label)
