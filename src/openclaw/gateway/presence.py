"""Who is connected: the presence list, with the gateway listing itself first.

Long-lived clients (UIs, apps, backends) appear while connected; one-shot tools
(``cli`` and ``probe`` mode) do not, so a status check or a scripted call never
makes every UI redraw. ``system-event`` can add or update an entry by instance id.
The list is bounded; the oldest client entries make way for new ones.

Changes are broadcast coalesced (:meth:`Presence.changed`): the first change after a
quiet spell goes out at once, changes that follow within a window are merged into
one trailing broadcast, so a storm of connects costs O(clients x rate) rather than
O(clients^2).
"""

from __future__ import annotations

import asyncio
import os
import platform
import socket
from collections.abc import Callable
from typing import Any

from openclaw import __version__
from openclaw.clock import now_ms

__all__ = ["HIDDEN_MODES", "MAX_ENTRIES", "Presence"]

HIDDEN_MODES = frozenset({"cli", "probe"})
MAX_ENTRIES = 200



class Presence:
    """The presence table and its ``stateVersion.presence`` counter."""

    def __init__(self, instance_id: str, host_ip: str,
                 publish: Callable[[list[dict[str, Any]]], None]) -> None:
        self.version = 1
        self._publish = publish
        self._flush: asyncio.TimerHandle | None = None
        self._last = 0.0
        self._window = 0.05
        self._self_entry: dict[str, Any] = {
            "host": socket.gethostname(),
            "ip": host_ip,
            "version": __version__,
            "platform": f"{platform.system().lower()} {platform.release()}",
            "mode": "gateway",
            "reason": "self",
            "instanceId": instance_id,
            "pid": os.getpid(),
            "ts": now_ms(),
        }
        self._entries: dict[str, dict[str, Any]] = {}

    def entries(self) -> list[dict[str, Any]]:
        """The current list, gateway first, then clients newest first."""
        clients = sorted(self._entries.values(), key=lambda e: e["ts"], reverse=True)
        return [self._self_entry, *clients]

    def upsert(self, key: str, entry: dict[str, Any]) -> None:
        """Add or update an entry; the table stays within :data:`MAX_ENTRIES`."""
        current = self._entries.get(key, {})
        current.update({k: v for k, v in entry.items() if v is not None})
        current["ts"] = now_ms()
        self._entries[key] = current
        if len(self._entries) > MAX_ENTRIES:
            oldest = min(self._entries, key=lambda k: self._entries[k]["ts"])
            del self._entries[oldest]
        self.version += 1

    def remove(self, key: str) -> bool:
        """Remove an entry; True if it was there."""
        if self._entries.pop(key, None) is None:
            return False
        self.version += 1
        return True

    def changed(self) -> None:
        """Publish the list, coalescing bursts.

        The window grows with what a broadcast costs (at least 50 ms, else 5x the last
        broadcast's duration), however many clients there are.
        """
        if self._flush is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self._last + self._window - loop.time()
        if wait <= 0:
            self._broadcast()
        else:
            self._flush = loop.call_later(wait, self._broadcast)

    def _broadcast(self) -> None:
        self._flush = None
        loop = asyncio.get_running_loop()
        started = loop.time()
        self._publish(self.entries())
        self._last = loop.time()
        self._window = max(0.05, 5 * (self._last - started))

    def stop(self) -> None:
        """Drop a pending trailing broadcast (at shutdown)."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
