"""``send`` and ``messages.list``: outbound delivery and the stored inbox."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from openclaw.errors import UsageError
from openclaw.gateway.dispatch import READ, WRITE, Context, Dispatcher

__all__ = ["register"]

NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]


class SendParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``send`` params (PROTOCOL.md)."""

    to: NonEmpty
    idempotency_key: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    message: Annotated[str, msgspec.Meta(max_length=65_536)] | None = None
    media_url: NonEmpty | None = None
    media_urls: tuple[NonEmpty, ...] | None = None
    channel: NonEmpty | None = None
    account_id: NonEmpty | None = None


class MessagesListParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``messages.list`` params: messages after ``cursor`` (a ``seq``), oldest first."""

    cursor: Annotated[int, msgspec.Meta(ge=0)] = 0
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100
    channel: NonEmpty | None = None
    chat_id: NonEmpty | None = None


def register(dispatcher: Dispatcher) -> None:
    """Install ``send`` and ``messages.list``."""

    @dispatcher.register("send", WRITE, SendParams, concurrent=True)
    async def send(ctx: Context, params: SendParams) -> dict[str, Any]:
        media = tuple(params.media_urls or ()) + ((params.media_url,) if params.media_url else ())
        text = params.message or ""
        if not text.strip() and not media:
            raise UsageError("invalid send params: message or mediaUrl is required")
        result: dict[str, Any] = await ctx.app.sends.send(
            params.idempotency_key, params.to, text, media, params.channel, params.account_id)
        return result

    @dispatcher.register("messages.list", READ, MessagesListParams)
    def messages_list(ctx: Context, params: MessagesListParams) -> dict[str, Any]:
        inbox = ctx.app.inbox
        items = inbox.read(params.cursor, params.limit + 1, params.channel, params.chat_id)
        more = len(items) > params.limit
        items = items[: params.limit]
        return {"messages": items, "cursor": items[-1]["seq"] if items else params.cursor,
                "more": more}
