"""Who is connected: the presence list, with the gateway listing itself first.

Long-lived clients (UIs, apps, backends) appear while connected; one-shot tools
(``cli`` and ``probe`` mode) do not, so a status check or a scripted call never
makes every UI redraw. ``system-event`` can add or update an entry by instance id.
The list is bounded; the oldest client entries make way for new ones.
"""

from __future__ import annotations

import os
import platform
import socket
from typing import Any

from openclaw import __version__
from openclaw.clock import now_ms

__all__ = ["HIDDEN_MODES", "MAX_ENTRIES", "Presence"]

HIDDEN_MODES = frozenset({"cli", "probe"})
MAX_ENTRIES = 200



class Presence:
    """The presence table and its ``stateVersion.presence`` counter."""

    def __init__(self, instance_id: str, host_ip: str) -> None:
        self.version = 1
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
