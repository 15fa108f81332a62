"""The ``sessions.*`` methods: listing, subscriptions, metadata, reset and delete.

Session keys come in as ``agent:main:<name>`` or ``<name>`` and go out as
``agent:main:<name>`` (see :mod:`openclaw.gateway.chat`), except in the older
``sessions.history``, which echoes the key it was given.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from openclaw.clock import now_ms
from openclaw.errors import UsageError
from openclaw.gateway.chat import THINKING_LEVELS, internal_key, wire_key
from openclaw.gateway.dispatch import READ, WRITE, Context, Dispatcher
from openclaw.store.sessions import UNSET, LabelTaken

__all__ = ["register"]

Key = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Limit = Annotated[int, msgspec.Meta(ge=1, le=1000)]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
#: The most rows one ``sessions.list`` page builds. A larger ``limit`` is accepted
#: (OpenClaw's Control UI asks for 10000 and retries a refusal at once) and clamped:
#: ``limitApplied`` says what was used and ``hasMore``/``nextOffset`` page on.
LIST_MAX = 1000


class ListParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``sessions.list`` / ``sessions.subscribe`` params: every one OpenClaw's clients
    send. Those about features this gateway lacks (global and unknown sessions,
    archives, sub-agents, owners, boards) are accepted; see docs/protocol.md."""

    limit: Annotated[int, msgspec.Meta(ge=1)] = 50
    offset: Annotated[int, msgspec.Meta(ge=0)] = 0
    search: Annotated[str, msgspec.Meta(max_length=512)] | None = None
    label: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    agent_id: Id | None = None
    active_minutes: Annotated[int, msgspec.Meta(ge=1)] | None = None
    active_only: bool = False
    include_global: bool | None = None
    include_unknown: bool | None = None
    configured_agents_only: bool | None = None
    include_derived_titles: bool = False
    include_last_message: bool = False
    include_activity_summary: bool | None = None
    archived_filter: Literal["active", "archived", "all"] | None = None
    archived: bool | Literal["all"] | None = None
    spawned_by: Key | None = None
    owner_first: bool | None = None
    owner_id: Id | None = None
    creator_id: Id | None = None
    involving_me: bool | None = None
    exclude_subagents: bool | None = None
    exclude_cron: bool | None = None
    exclude_system: bool | None = None
    has_board: bool | None = None
    board_face: bool | None = None
    sort_by: Literal["updatedAt", "activity", "lastInteractionAt"] | None = None
    status_filter: str | None = None
    append: bool | None = None


class KeyParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """A session by ``key`` (``sessions.describe``, ``sessions.messages.*``)."""

    key: Key
    agent_id: Id | None = None
    include_approvals: bool | None = None


class PatchParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``sessions.patch``: a field left out stays, ``null`` clears it."""

    key: Key
    agent_id: Id | None = None
    expected_session_id: Id | None = None
    label: Label | msgspec.UnsetType | None = msgspec.UNSET
    model: Key | msgspec.UnsetType | None = msgspec.UNSET
    thinking_level: Key | msgspec.UnsetType | None = msgspec.UNSET


class ResetParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``sessions.reset`` (``key`` as in OpenClaw, or this gateway's ``sessionKey``)."""

    key: Key | None = None
    session_key: Key | None = None
    agent_id: Id | None = None
    expected_session_id: Id | None = None
    reason: Literal["new", "reset"] | None = None
    limit: Limit | None = None


class DeleteParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``sessions.delete`` params."""

    key: Key
    agent_id: Id | None = None
    expected_session_id: Id | None = None
    delete_transcript: bool = True
    archived_only: bool | None = None


class PreviewParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``sessions.preview`` params."""

    keys: Annotated[list[Key], msgspec.Meta(min_length=1, max_length=64)]
    agent_id: Id | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=50)] = 12
    max_chars: Annotated[int, msgspec.Meta(ge=20, le=4000)] = 240


class HistoryParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``sessions.history`` params (this gateway's own, older than ``chat.history``)."""

    session_key: Key
    limit: Limit = 50


def _list(ctx: Context, params: ListParams) -> dict[str, Any]:
    none = (params.agent_id not in (None, "main") or params.spawned_by is not None
            or params.archived is True or params.archived_filter == "archived")
    return ctx.app.chat.listing(
        limit=min(params.limit, LIST_MAX), offset=params.offset, search=params.search,
        label=params.label,
        active_minutes=params.active_minutes, active_only=params.active_only, none=none,
        titles=params.include_derived_titles, last_message=params.include_last_message)


def _check_session_id(ctx: Context, key: str, expected: str | None) -> None:
    meta = ctx.app.chat.meta.get(key)
    if expected is not None and (meta is None or meta.session_id != expected):
        raise UsageError(f"session {wire_key(key)!r} changed: it is no longer session "
                         f"{expected!r}; read it again", details={"reason": "session-changed"})


def register(dispatcher: Dispatcher) -> None:
    """Install the session methods."""
    empty_list = ListParams()

    @dispatcher.register("sessions.list", READ, ListParams)
    def sessions_list(ctx: Context, params: ListParams) -> dict[str, Any]:
        return _list(ctx, params)

    @dispatcher.register("sessions.subscribe", READ, ListParams)
    def sessions_subscribe(ctx: Context, params: ListParams) -> dict[str, Any]:
        ctx.app.chat.subscribe_list(ctx.session, True)
        if params == empty_list:
            return {"subscribed": True}
        return {"subscribed": True, "list": _list(ctx, params)}

    @dispatcher.register("sessions.unsubscribe", READ)
    def sessions_unsubscribe(ctx: Context, params: Any) -> dict[str, Any]:
        ctx.app.chat.subscribe_list(ctx.session, False)
        return {"subscribed": False}

    @dispatcher.register("sessions.messages.subscribe", READ, KeyParams)
    def messages_subscribe(ctx: Context, params: KeyParams) -> dict[str, Any]:
        key = internal_key(params.key, params.agent_id)
        ctx.app.chat.subscribe_messages(ctx.session, key, True)
        return {"subscribed": True, "key": wire_key(key)}

    @dispatcher.register("sessions.messages.unsubscribe", READ, KeyParams)
    def messages_unsubscribe(ctx: Context, params: KeyParams) -> dict[str, Any]:
        key = internal_key(params.key, params.agent_id)
        ctx.app.chat.subscribe_messages(ctx.session, key, False)
        return {"subscribed": False, "key": wire_key(key)}

    @dispatcher.register("sessions.describe", READ, KeyParams)
    def sessions_describe(ctx: Context, params: KeyParams) -> dict[str, Any]:
        return {"session": ctx.app.chat.describe(internal_key(params.key, params.agent_id))}

    @dispatcher.register("sessions.patch", WRITE, PatchParams)
    def sessions_patch(ctx: Context, params: PatchParams) -> dict[str, Any]:
        key = internal_key(params.key, params.agent_id)
        _check_session_id(ctx, key, params.expected_session_id)
        model: Any = UNSET
        if params.model is not msgspec.UNSET:
            model = params.model.strip() if params.model else None
            if model:
                ctx.app.agent.provider_for(model)  # refuses an unusable model
        thinking: Any = UNSET
        if params.thinking_level is not msgspec.UNSET:
            thinking = params.thinking_level
            if thinking is not None and thinking not in THINKING_LEVELS:
                raise UsageError(f"invalid thinkingLevel {thinking!r}: use one of "
                                 f"{', '.join(THINKING_LEVELS)} (or null to clear it)")
        label: Any = UNSET if params.label is msgspec.UNSET else params.label
        try:
            ctx.app.chat.meta.patch(key, label=label, model=model, thinking_level=thinking)
        except LabelTaken as exc:
            raise UsageError(str(exc)) from None
        ctx.app.chat.changed(key, "patch")
        row = ctx.app.chat.row(key)
        return {"ok": True, "key": row["key"], "entry": row,
                "resolved": {"model": row["model"], "modelProvider": row["modelProvider"]}}

    @dispatcher.register("sessions.reset", WRITE, ResetParams)
    def sessions_reset(ctx: Context, params: ResetParams) -> dict[str, Any]:
        given = params.key or params.session_key
        if given is None:
            raise UsageError("invalid sessions.reset params: key is required")
        key = internal_key(given, params.agent_id)
        _check_session_id(ctx, key, params.expected_session_id)
        removed = ctx.app.chat.reset(key)
        row = ctx.app.chat.row(key)
        return {"ok": True, "key": row["key"], "sessionKey": row["key"],
                "removedTurns": removed, "entry": row}

    @dispatcher.register("sessions.delete", WRITE, DeleteParams)
    def sessions_delete(ctx: Context, params: DeleteParams) -> dict[str, Any]:
        key = internal_key(params.key, params.agent_id)
        if key == "main":
            raise UsageError("the main session cannot be deleted; use sessions.reset to "
                             "start it afresh")
        _check_session_id(ctx, key, params.expected_session_id)
        return {"ok": True, "key": wire_key(key), "deleted": ctx.app.chat.delete(key)}

    @dispatcher.register("sessions.preview", READ, PreviewParams)
    def sessions_preview(ctx: Context, params: PreviewParams) -> dict[str, Any]:
        previews: list[dict[str, Any]] = []
        for given in params.keys:
            key = internal_key(given, params.agent_id)
            if ctx.app.chat.meta.get(key) is None:
                previews.append({"key": wire_key(key), "status": "missing", "items": []})
                continue
            turns = ctx.app.agent.sessions.page(key, params.limit)
            items = [{"role": turn["role"], "text": turn["text"][:params.max_chars],
                      "timestamp": turn["ts"]} for turn in turns]
            previews.append({"key": wire_key(key), "status": "ok" if items else "empty",
                             "items": items})
        return {"ts": now_ms(), "previews": previews}

    @dispatcher.register("sessions.history", READ, HistoryParams)
    def sessions_history(ctx: Context, params: HistoryParams) -> dict[str, Any]:
        key = internal_key(params.session_key)
        return {"sessionKey": params.session_key,
                "turns": ctx.app.agent.sessions.history(key, params.limit)}
