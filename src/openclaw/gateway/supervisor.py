"""Telling the service manager how the gateway is doing (systemd's ``sd_notify``).

Under ``Type=notify`` systemd counts the gateway as started only when it sends
``READY=1``, which happens after the port accepts connections, so ``systemctl
start`` and ``restart`` return when the gateway can really be used. With
``WatchdogSec=`` the gateway pings from its event loop; a stalled loop stops the
pings and systemd restarts the process. Outside systemd (no ``NOTIFY_SOCKET``)
everything here is a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping

__all__ = ["SupervisorLink"]

log = logging.getLogger("openclaw.gateway")


class SupervisorLink:
    """The gateway's side of ``sd_notify``: readiness, status, stopping, watchdog."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        environ = os.environ if env is None else env
        self._notifier = None
        if environ.get("NOTIFY_SOCKET"):
            import sdnotify  # type: ignore[import-untyped]

            self._notifier = sdnotify.SystemdNotifier()
        self.watchdog_interval = self._watchdog_interval(environ)

    @staticmethod
    def _watchdog_interval(environ: Mapping[str, str]) -> float | None:
        usec = environ.get("WATCHDOG_USEC", "")
        owner = environ.get("WATCHDOG_PID", "")
        if not usec.isdigit() or int(usec) <= 0:
            return None
        if owner and owner != str(os.getpid()):
            return None
        return int(usec) / 1_000_000 / 3  # ping three times per watchdog period

    @property
    def active(self) -> bool:
        """True when a service manager is listening."""
        return self._notifier is not None

    def _send(self, message: str) -> None:
        if self._notifier is not None:
            self._notifier.notify(message)

    def ready(self, status: str) -> None:
        """The port accepts connections: systemd may now report the unit started."""
        self._send(f"READY=1\nSTATUS={status}\nMAINPID={os.getpid()}")

    def stopping(self, status: str) -> None:
        """Shutdown has begun (drain in progress)."""
        self._send(f"STOPPING=1\nSTATUS={status}")

    async def watchdog(self) -> None:
        """Ping ``WATCHDOG=1`` from the event loop until cancelled (no-op without one)."""
        interval = self.watchdog_interval
        if interval is None or self._notifier is None:
            return
        log.debug("watchdog: pinging every %.1fs", interval)
        while True:
            self._send("WATCHDOG=1")
            await asyncio.sleep(interval)
