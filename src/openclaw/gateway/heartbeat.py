"""The agent heartbeat timer, its on/off switch and the last heartbeat event.

The switch set by ``set-heartbeats`` is kept in the state dir, so it survives a
restart. Until the agent runtime exists a heartbeat has nothing to run, and says
so honestly: each beat is recorded and broadcast with ``status: "skipped"``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openclaw.atomicfile import write_atomic
from openclaw.clock import now_ms

__all__ = ["Heartbeat"]

log = logging.getLogger("openclaw.gateway.heartbeat")


class Heartbeat:
    """Periodic heartbeat with a persisted enable switch."""

    def __init__(
        self,
        every_ms: int,
        state_path: Path,
        on_beat: Callable[[dict[str, Any]], None],
        every_text: str,
    ) -> None:
        self.every_ms = every_ms
        self.every_text = every_text
        self._state_path = state_path
        self._on_beat = on_beat
        self.enabled = self._load_enabled()
        self.last: dict[str, Any] | None = None
        self._task: asyncio.Task[None] | None = None

    def _load_enabled(self) -> bool:
        try:
            data = json.loads(self._state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return True
        return bool(data.get("enabled", True)) if isinstance(data, dict) else True

    @property
    def active(self) -> bool:
        """Enabled and with a non-zero interval."""
        return self.enabled and self.every_ms > 0

    @property
    def seconds(self) -> int:
        """The legacy ``heartbeatSeconds`` figure: the interval, 0 when off."""
        return round(self.every_ms / 1000) if self.active else 0

    def summary(self, agent_id: str) -> dict[str, Any]:
        """One agent's heartbeat entry for ``status`` and ``health``."""
        return {
            "agentId": agent_id,
            "enabled": self.active,
            "every": self.every_text,
            "everyMs": self.every_ms if self.every_ms > 0 else None,
        }

    def set_enabled(self, enabled: bool) -> None:
        """Flip the switch, persist it, and (re)start or stop the timer."""
        self.enabled = enabled
        write_atomic(self._state_path, json.dumps({"enabled": enabled}), 0o600)
        self.stop()
        self.start()

    def start(self) -> None:
        """Run the timer if the heartbeat is active."""
        if self.active and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="heartbeat")

    def stop(self) -> None:
        """Stop the timer."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every_ms / 1000)
            event = {
                "ts": now_ms(),
                "status": "skipped",
                "reason": "heartbeat turns are not run by this gateway yet",
            }
            self.last = event
            log.debug("heartbeat skipped: heartbeat turns are not run yet")
            self._on_beat(event)
