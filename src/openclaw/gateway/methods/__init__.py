"""Gateway methods, one module per family; :func:`register_all` installs them all."""

from __future__ import annotations

from openclaw.gateway.dispatch import Dispatcher
from openclaw.gateway.methods import (
    agent,
    approvals,
    catalog,
    channels,
    chat,
    config,
    cron,
    health,
    logs,
    send,
    service,
    sessions,
    system,
)

__all__ = ["register_all"]


def register_all(dispatcher: Dispatcher) -> None:
    """Register every method family on ``dispatcher``."""
    for family in (health, system, logs, channels, send, agent, sessions, chat, catalog, config,
                   cron, service, approvals):
        family.register(dispatcher)
