"""``logs.tail``: cursor-based reads of the file the gateway is writing now."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import msgspec

from openclaw.gateway.dispatch import READ, Context, Dispatcher
from openclaw.logs import tail
from openclaw.protocol.errors import Unavailable

__all__ = ["register"]


class LogsTailParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``logs.tail`` params: byte cursor, line limit, byte budget."""

    cursor: Annotated[int, msgspec.Meta(ge=0)] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=5000)] = 500
    max_bytes: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 250_000


def register(dispatcher: Dispatcher) -> None:
    """Install ``logs.tail``."""

    @dispatcher.register("logs.tail", READ, LogsTailParams)
    async def logs_tail(ctx: Context, params: LogsTailParams) -> dict[str, Any]:
        path = ctx.gateway.log_path
        try:
            if params.max_bytes <= 65_536:
                result = tail(path, params.cursor, params.limit, params.max_bytes)
            else:  # large reads go to a thread so other clients are not held up
                result = await asyncio.to_thread(
                    tail, path, params.cursor, params.limit, params.max_bytes
                )
        except OSError as exc:
            raise Unavailable(f"log read failed: {exc}") from None
        return result.to_wire()
