"""``health`` and ``status``: snapshots of the gateway, built fresh on each call."""

from __future__ import annotations

from typing import Any

import msgspec

from openclaw.gateway.dispatch import READ, Context, Dispatcher

__all__ = ["register"]


class HealthParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``health`` params: ``probe`` asks channels for a live probe."""

    probe: bool = False


class StatusParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``status`` params."""

    include_channel_summary: bool = True


def register(dispatcher: Dispatcher) -> None:
    """Install ``health`` and ``status``."""

    @dispatcher.register("health", READ, HealthParams)
    def health(ctx: Context, params: HealthParams) -> dict[str, Any]:
        return ctx.gateway.health_snapshot(probe=params.probe)

    @dispatcher.register("status", READ, StatusParams)
    def status(ctx: Context, params: StatusParams) -> dict[str, Any]:
        return ctx.gateway.status_summary(include_channels=params.include_channel_summary)
