"""``logs.tail``: cursor-based reads of the file the gateway is writing now.

A byte cursor alone cannot tell that the file was rotated once the new file has
grown past it (and inode numbers get reused), so each connection remembers the
file log's *generation* its last cursor belonged to. When a follower comes back
with that cursor after the active file was replaced, the rest of the old file and
any whole files written since are read first: nothing is lost across rotations
or a new day, and ``reset`` says the file changed. Only when those files are
already deleted is the answer ``truncated``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import msgspec

from openclaw.gateway.dispatch import READ, Context, Dispatcher
from openclaw.logs import FileLog, TailResult, tail
from openclaw.protocol.errors import Unavailable

__all__ = ["register"]

_STATE = "logs.tail"


class LogsTailParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``logs.tail`` params: byte cursor, line limit, byte budget."""

    cursor: Annotated[int, msgspec.Meta(ge=0)] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=5000)] = 500
    max_bytes: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 250_000


@dataclass(frozen=True)
class _Position:
    generation: int
    cursor: int


def _read(file_log: FileLog, params: LogsTailParams, last: _Position | None) -> TailResult:
    path = file_log.current_path
    now = file_log.generation
    if last is None or params.cursor != last.cursor or last.generation == now:
        return tail(path, params.cursor, params.limit, params.max_bytes)
    older = [file_log.locate(g) for g in range(last.generation, now)]
    if older and all(p is not None for p in older):
        chain: list[Path] = [p for p in older if p is not None]
        return tail(path, params.cursor, params.limit, params.max_bytes, rotated_from=chain)
    # The file the cursor belongs to is gone: start over at the top of the active
    # file and say that lines were skipped.
    fresh = tail(path, 0, params.limit, params.max_bytes)
    return TailResult(fresh.file, fresh.cursor, fresh.size, fresh.lines, True, True)


def register(dispatcher: Dispatcher) -> None:
    """Install ``logs.tail``."""

    @dispatcher.register("logs.tail", READ, LogsTailParams)
    async def logs_tail(ctx: Context, params: LogsTailParams) -> dict[str, Any]:
        file_log = ctx.app.file_log
        last = ctx.session.extra.get(_STATE)
        generation = file_log.generation
        try:
            if params.max_bytes <= 65_536:
                result = _read(file_log, params, last)
            else:  # large reads go to a thread so other clients are not held up
                result = await asyncio.to_thread(_read, file_log, params, last)
        except OSError as exc:
            raise Unavailable(f"log read failed: {exc}") from None
        ctx.session.extra[_STATE] = _Position(generation, result.cursor)
        return result.to_wire()
