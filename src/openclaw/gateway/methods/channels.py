"""``channels.status``: per-channel, per-account state from the channel supervisors."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from openclaw.gateway.dispatch import READ, Context, Dispatcher

__all__ = ["register"]


class ChannelsStatusParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``channels.status`` params. OpenClaw's clients send ``probe`` and ``timeoutMs``;
    they are accepted, and the answer is always live (the supervisors' state now)."""

    probe: bool = False
    timeout_ms: Annotated[int, msgspec.Meta(ge=0)] | None = None


def register(dispatcher: Dispatcher) -> None:
    """Install ``channels.status``."""

    @dispatcher.register("channels.status", READ, ChannelsStatusParams)
    def channels_status(ctx: Context, params: ChannelsStatusParams) -> dict[str, Any]:
        return ctx.app.channels.status_payload()
