"""Agent run events: to every reading client, and to whoever follows one run.

The agent runtime emits each event once; this hub broadcasts it as an ``agent``
event and hands it to the followers of that run (an HTTP response streaming the
run, for instance), so a follower never has to filter the whole event stream.
"""

from __future__ import annotations

import asyncio
from typing import Any

from openclaw.gateway.bus import EventBus

__all__ = ["RunEvents"]


class RunEvents:
    """Fan-out of agent events by run id."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._followers: dict[str, list[asyncio.Queue[dict[str, Any]]]] = {}

    def publish(self, event: dict[str, Any]) -> None:
        """One event from the runtime: broadcast it, and queue it for the run's followers."""
        self.bus.send_to_readers("agent", event)
        for queue in self._followers.get(event["runId"], ()):
            queue.put_nowait(event)

    def follow(self, run_id: str) -> asyncio.Queue[dict[str, Any]]:
        """A queue of this run's events from now on (call :meth:`unfollow` when done)."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._followers.setdefault(run_id, []).append(queue)
        return queue

    def unfollow(self, run_id: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        """Stop queueing events for ``queue``."""
        followers = self._followers.get(run_id, [])
        if queue in followers:
            followers.remove(queue)
        if not followers:
            self._followers.pop(run_id, None)
