"""``gateway.service``: how this process is supervised, as the process itself can tell.

``openclaw gateway status`` asks the service manager, which a gateway must not do
about itself (it could block on the manager, or be asked to stop itself). What the
process does know is its own environment: a unit or plist written by ``gateway
install`` sets the ``OPENCLAW_SERVICE_*`` markers, systemd sets ``INVOCATION_ID``
for every service it starts, and launchd sets ``XPC_SERVICE_NAME``. Read-only; the
Control UI's overview shows it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from openclaw import __version__
from openclaw.gateway.dispatch import READ, Context, Dispatcher

__all__ = ["register", "service_state"]


def _manager(environ: Mapping[str, str]) -> str | None:
    if environ.get("INVOCATION_ID") or environ.get("NOTIFY_SOCKET"):
        return "systemd"
    name = environ.get("XPC_SERVICE_NAME", "")
    if name and name != "0":  # a Terminal session on macOS has XPC_SERVICE_NAME=0
        return "launchd"
    return None


def service_state(environ: Mapping[str, str]) -> dict[str, Any]:
    """``{supervised, manager, installed, serviceName, installedVersion, version,
    versionMatches}`` from ``environ``.

    ``installed`` is true when the markers of ``gateway install`` are present;
    ``supervised`` when a service manager started the process (installed by us or not).
    """
    installed = environ.get("OPENCLAW_SERVICE_MARKER") is not None and \
        environ.get("OPENCLAW_SERVICE_KIND", "gateway") == "gateway"
    manager = _manager(environ)
    installed_version = environ.get("OPENCLAW_SERVICE_VERSION") if installed else None
    return {
        "supervised": manager is not None or installed,
        "manager": manager,
        "installed": installed,
        "serviceName": environ.get("OPENCLAW_SERVICE_NAME") if installed else None,
        "installedVersion": installed_version,
        "version": __version__,
        "versionMatches": None if installed_version is None else installed_version == __version__,
    }


def register(dispatcher: Dispatcher) -> None:
    """Install ``gateway.service``."""

    @dispatcher.register("gateway.service", READ)
    def gateway_service(ctx: Context, params: object) -> dict[str, Any]:
        return service_state(os.environ)
