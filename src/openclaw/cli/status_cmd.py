"""``openclaw gateway status``: the service, its runtime, config, port and RPC, separately."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from openclaw.cli.common import wants_json
from openclaw.cli.render import print_json
from openclaw.errors import OpenClawError

if TYPE_CHECKING:
    import argparse

__all__ = ["status"]


def status(ns: argparse.Namespace) -> int:
    """Print the status layers; exit 0 healthy, 1 unhealthy, 3 not running, 77 refused."""
    from openclaw.cli.service_cmd import service_profile
    from openclaw.service.backend import ServiceBackend, select_backend
    from openclaw.service.status import StatusOptions, collect_status, render_status

    profile, _ = service_profile(ns)
    backend: ServiceBackend | None
    try:
        backend = select_backend(profile, system=bool(getattr(ns, "system", False)),
                                 explicit=getattr(ns, "backend", None))
        unavailable = backend.availability()
    except OpenClawError as exc:
        backend, unavailable = None, exc.message
    options = StatusOptions(
        probe=not ns.no_probe, deep=ns.deep, url=ns.url, token=ns.token,
        password=ns.password, timeout_s=max(1, ns.timeout) / 1000,
    )
    report = collect_status(profile, backend, options, unavailable=unavailable)
    if wants_json(ns):
        print_json(report)
    else:
        sys.stdout.write("\n".join(render_status(report)) + "\n")
    code: int = report["summary"]["exitCode"]
    return code
