"""Helpers for the browser tests of the overview, channels, logs, messages and config
views: a gateway with a config of the test's choosing, page errors collected."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from inprocess import InProcessGateway


@contextmanager
def gateway_with(home: Path, config: dict[str, Any] | None = None) -> Iterator[InProcessGateway]:
    """A started in-process gateway serving the Control UI, with ``config`` written first."""
    home.mkdir(parents=True, exist_ok=True)
    gateway = InProcessGateway(home, config).start()
    try:
        yield gateway
    finally:
        gateway.stop()


def page_errors(page: Any) -> list[str]:
    """Uncaught exceptions and console errors of ``page`` from now on (a view that
    throws is broken even when what it already drew looks right). The browser's own
    report of a refused WebSocket, while a gateway restarts, is not the page's error."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}")
            if msg.type == "error" and not msg.text.startswith("WebSocket connection to")
            else None)
    return errors
