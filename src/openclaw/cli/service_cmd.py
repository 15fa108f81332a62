"""``openclaw gateway install | uninstall | start | stop | restart``.

A thin layer over :mod:`openclaw.service.ops`: flags become the profile, its backend
and typed options; the operation's result is rendered once, as text or ``--json``;
failures are raised for the CLI's error boundary.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from openclaw.cli.common import profile_of, wants_json
from openclaw.cli.render import emit
from openclaw.errors import UsageError

if TYPE_CHECKING:
    import argparse

    from openclaw.paths import Profile
    from openclaw.service.backend import ServiceBackend
    from openclaw.service.verify import WaitOptions

__all__ = ["install", "restart", "service_profile", "start", "stop", "uninstall"]


def service_profile(ns: argparse.Namespace, *, need_user: bool = False
                    ) -> tuple[Profile, str | None]:
    """The profile a service command acts on, and for ``--system`` the user running it.

    A system unit runs as ``--run-as`` (default ``SUDO_USER``, else the installed
    unit's ``User=``), and its profile lives under that user's home, not root's.
    """
    profile = profile_of(ns)
    if not getattr(ns, "system", False):
        return profile, None
    from openclaw.service.ops import system_unit_user

    user = getattr(ns, "run_as", None) or os.environ.get("SUDO_USER") or system_unit_user(profile)
    if not user:
        if need_user:
            raise UsageError(
                "a system unit needs the user that runs the gateway: pass --run-as USER "
                "(a system unit without User= would run the gateway as root)"
            )
        return profile, None
    import pwd

    from openclaw.paths import resolve_profile

    try:
        home = pwd.getpwnam(user).pw_dir
    except KeyError:
        raise UsageError(f"--run-as {user}: no such user") from None
    env = dict(os.environ, HOME=home)
    return resolve_profile(getattr(ns, "profile", None), dev=bool(getattr(ns, "dev", False)),
                           env=env), user


def _context(ns: argparse.Namespace, *, need_user: bool = False
             ) -> tuple[Profile, ServiceBackend, str | None]:
    """The profile, its backend (checked to be usable) and a system unit's user."""
    from openclaw.service.ops import open_backend, require_root

    system = bool(getattr(ns, "system", False))
    if system:
        require_root()
    profile, user = service_profile(ns, need_user=need_user)
    backend = open_backend(profile, system=system, explicit=getattr(ns, "backend", None))
    return profile, backend, user


def _wait(ns: argparse.Namespace) -> WaitOptions:
    from openclaw.service.verify import WaitOptions

    return WaitOptions(timeout_s=max(1, int(getattr(ns, "timeout", 30_000))) / 1000)


def install(ns: argparse.Namespace) -> int:
    """Write, enable and start the service; no-op when installed and current."""
    from openclaw.service import ops

    profile, backend, user = _context(ns, need_user=True)
    options = ops.InstallOptions(port=getattr(ns, "port", None),
                                 force=bool(getattr(ns, "force", False)), user=user)
    return emit(ops.install(profile, backend, options, _wait(ns)), wants_json(ns))


def uninstall(ns: argparse.Namespace) -> int:
    """Remove the service and this profile's legacy services; keep config and state."""
    from openclaw.service import ops

    profile, backend, _ = _context(ns)
    return emit(ops.uninstall(profile, backend), wants_json(ns))


def start(ns: argparse.Namespace) -> int:
    """Start the installed service and wait for it to answer."""
    from openclaw.service import ops

    profile, backend, _ = _context(ns)
    return emit(ops.start(profile, backend, _wait(ns)), wants_json(ns))


def stop(ns: argparse.Namespace) -> int:
    """Stop the service; an absent service is a successful no-op."""
    from openclaw.service import ops

    profile, backend, _ = _context(ns)
    return emit(ops.stop(profile, backend), wants_json(ns))


def restart(ns: argparse.Namespace) -> int:
    """Restart through the manager; succeed only when a new pid answers health."""
    from openclaw.service import ops

    profile, backend, _ = _context(ns)
    return emit(ops.restart(profile, backend, _wait(ns)), wants_json(ns))
