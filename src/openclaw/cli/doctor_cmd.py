"""``openclaw doctor``: audit, and with ``--fix``/``--yes`` repair, the installation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from openclaw.cli.common import wants_json
from openclaw.cli.render import emit
from openclaw.errors import OpenClawError

if TYPE_CHECKING:
    import argparse

    from openclaw.service.doctor import Mode

__all__ = ["doctor"]


def doctor(ns: argparse.Namespace) -> int:
    """Print findings; fix them with --fix/--yes; exit 1 while errors or warnings remain."""
    from openclaw.cli.service_cmd import service_profile
    from openclaw.service.backend import ServiceBackend, select_backend
    from openclaw.service.doctor import DoctorContext, run_doctor
    from openclaw.service.verify import WaitOptions

    profile, _ = service_profile(ns)
    backend: ServiceBackend | None
    try:
        backend = select_backend(profile, system=ns.system, explicit=ns.backend)
        unavailable = backend.availability()
    except OpenClawError as exc:
        backend, unavailable = None, exc.message
    ctx = DoctorContext(profile, backend, unavailable, deep=ns.deep,
                        wait=WaitOptions(timeout_s=max(1, ns.timeout) / 1000))
    mode: Mode = "dry-run" if ns.dry_run else "fix" if ns.fix or ns.yes else "check"
    return emit(run_doctor(ctx, mode), wants_json(ns))
