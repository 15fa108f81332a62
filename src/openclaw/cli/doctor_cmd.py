"""``openclaw doctor``: audit, and with ``--fix``/``--yes`` repair, the installation."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from openclaw.cli.common import wants_json
from openclaw.cli.render import print_json
from openclaw.errors import OpenClawError

if TYPE_CHECKING:
    import argparse

__all__ = ["doctor"]

_MARK = {"error": "✗", "warning": "!", "info": "·"}


def doctor(ns: argparse.Namespace) -> int:
    """Print findings; fix them with --fix/--yes; exit 1 while errors or warnings remain."""
    from openclaw.cli.service_cmd import service_profile
    from openclaw.service.backend import ServiceBackend, select_backend
    from openclaw.service.doctor import DoctorContext, apply_fixes, run_checks

    profile, _ = service_profile(ns)
    backend: ServiceBackend | None
    try:
        backend = select_backend(profile, system=ns.system, explicit=ns.backend)
        unavailable = backend.availability()
    except OpenClawError as exc:
        backend, unavailable = None, exc.message
    ctx = DoctorContext(profile, backend, unavailable, deep=ns.deep,
                        restart_budget_s=max(1, ns.timeout) / 1000)
    findings = run_checks(ctx)
    fixing = (ns.fix or ns.yes) and not ns.dry_run
    if fixing:
        apply_fixes(findings)
    remaining = [f for f in findings if f.severity != "info" and not f.fixed]
    if wants_json(ns):
        print_json({
            "schemaVersion": 1, "profile": profile.name, "mode":
            "fix" if fixing else "dry-run" if ns.dry_run else "check",
            "findings": [f.to_json() for f in findings],
            "fixed": sum(1 for f in findings if f.fixed),
            "remaining": len(remaining),
        })
        return 1 if remaining else 0
    lines = []
    for item in findings:
        lines.append(f"{_MARK[item.severity]} {item.severity}: {item.message}")
        if item.fixed is True:
            lines.append(f"    fixed: {item.result}")
        elif item.fixed is False:
            lines.append(f"    fix failed: {item.result}")
        elif item.fix:
            verb = "would fix" if ns.dry_run and item.repair else "fix"
            lines.append(f"    {verb}: {item.fix}")
    if not findings:
        lines.append("no problems found")
    elif not fixing and any(f.repair for f in findings if f.fixed is None):
        lines.append("run `openclaw doctor --fix` to apply the fixes marked fixable"
                     if not ns.dry_run else "(dry run: nothing was changed)")
    sys.stdout.write("\n".join(lines) + "\n")
    return 1 if remaining else 0
