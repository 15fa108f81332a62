"""``openclaw gateway install | uninstall | start | stop | restart``.

Every command goes through the service manager (never around it), and reports
success only after checking the result: a start or restart counts when a *new*
pid answers ``health`` on the service's port; a stop counts when the manager
reports the unit stopped.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Any

from openclaw.cli.common import profile_of, wants_json
from openclaw.cli.render import print_json
from openclaw.errors import ConfigError, UsageError
from openclaw.service.backend import (
    ServiceBackend,
    ServiceError,
    ServiceManagerUnavailable,
    select_backend,
)

if TYPE_CHECKING:
    import argparse

    from openclaw.config import Config
    from openclaw.paths import Profile
    from openclaw.service.backend import InstalledService
    from openclaw.service.spec import Scope, ServiceSpec
    from openclaw.service.verify import Verified

__all__ = ["install", "restart", "start", "stop", "uninstall"]


class _Report:
    """What a lifecycle command did, printed as lines or as one JSON object."""

    def __init__(self, ns: argparse.Namespace, backend: ServiceBackend, action: str) -> None:
        self.ns = ns
        self.backend = backend
        self.data: dict[str, Any] = {
            "ok": True,
            "action": action,
            "service": {"backend": backend.kind, "name": backend.name,
                        "file": str(backend.definition_path)},
            "pid": None,
            "warnings": [],
        }
        self.lines: list[str] = []

    def say(self, line: str) -> None:
        self.lines.append(line)

    def warn(self, line: str) -> None:
        self.data["warnings"].append(line)

    def emit(self) -> int:
        if wants_json(self.ns):
            print_json(self.data)
        else:
            out = self.lines + [f"warning: {w}" for w in self.data["warnings"]]
            sys.stdout.write("\n".join(out) + "\n")
        return 0


def _unit_user(profile: Profile) -> str | None:
    """``User=`` of this profile's installed system unit, if there is one."""
    from openclaw.service.systemd import SYSTEM_UNIT_DIRS
    from openclaw.service.systemd_unit import parse_unit

    try:
        text = (SYSTEM_UNIT_DIRS[0] / profile.systemd_unit).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    users = parse_unit(text).get(("Service", "User"))
    return users[-1] if users else None


def service_profile(ns: argparse.Namespace, *, need_user: bool = False
                    ) -> tuple[Profile, str | None]:
    """The profile a service command acts on, and for ``--system`` the user running it.

    A system unit runs as ``--run-as`` (default ``SUDO_USER``, else the installed
    unit's ``User=``), and its profile lives under that user's home, not root's.
    """
    profile = profile_of(ns)
    if not getattr(ns, "system", False):
        return profile, None
    user = getattr(ns, "run_as", None) or os.environ.get("SUDO_USER") or _unit_user(profile)
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
    system = bool(getattr(ns, "system", False))
    if system and os.geteuid() != 0:
        raise ServiceError(
            "a system unit is written to /etc/systemd/system and needs root: "
            "rerun with sudo (e.g. `sudo openclaw gateway install --system`)"
        )
    profile, user = service_profile(ns, need_user=need_user)
    backend = select_backend(profile, system=system, explicit=getattr(ns, "backend", None))
    reason = backend.availability()
    if reason:
        raise ServiceManagerUnavailable(reason)
    return profile, backend, user


def _budget(ns: argparse.Namespace) -> float:
    return max(1, int(getattr(ns, "timeout", 30_000))) / 1000


def _load_config(profile: Profile) -> Config:
    from openclaw.config import load_config

    try:
        config, exists = load_config(profile.config_path)
        from openclaw.channels.manager import check_channels
        from openclaw.envfile import read_env_file

        service_env = {**read_env_file(profile.service_env_path), **os.environ}
        check_channels(config, str(profile.config_path) if exists else None, service_env)
    except ConfigError as exc:
        raise ConfigError(exc.path, exc.key, f"{exc.reason} (fix it first: the service "
                                             "would refuse to start)") from None
    return config


def _verify(backend: ServiceBackend, profile: Profile, port: int | None, old_pid: int | None,
            started: float, ns: argparse.Namespace) -> Verified:
    from openclaw.service.lasterror import log_dir_of
    from openclaw.service.verify import wait_for_gateway

    if port is None:
        installed = backend.read_installed()
        port = installed.port if installed and installed.port else profile.default_port
    return wait_for_gateway(backend, profile, port, old_pid=old_pid, started_at=started,
                            budget_s=_budget(ns), log_dir=log_dir_of(profile))


def _write_env_file(profile: Profile, inline: dict[str, str]) -> list[str]:
    """Create/merge the owner-only env file; return the keys carried into it."""
    from openclaw.envfile import SECRET_KEYS, is_secret_key, read_env_file, write_env_file

    path = profile.service_env_path
    values = read_env_file(path)
    carried = []
    for key, value in inline.items():  # secrets found inline in an old unit move here
        if is_secret_key(key) and key not in values:
            values[key] = value
            carried.append(key)
    for key in SECRET_KEYS:
        shell_value = os.environ.get(key)
        if shell_value and values.get(key) != shell_value:
            values[key] = shell_value
            carried.append(key)
    write_env_file(path, values)
    return carried


def _linger_warning(backend: ServiceBackend, report: _Report) -> None:
    if backend.kind != "systemd-user":
        return
    from openclaw.service.linger import check_linger

    linger = check_linger(backend.runner)
    report.data["linger"] = linger.to_json()
    if linger.enabled is False:
        report.warn(f"linger is off for {linger.user}: the gateway stops when you log out; "
                    f"enable it with `{linger.fix}` (or `openclaw doctor --fix`)")
    elif linger.enabled is None:
        report.warn(f"cannot tell whether the gateway survives logout: {linger.reason}")


def _spec(ns: argparse.Namespace, profile: Profile, backend: ServiceBackend,
          installed: InstalledService | None, user: str | None) -> ServiceSpec:
    """What install writes: the port from --port, env or config, else the one the
    installed service already pins (so a plain reinstall keeps ``install --port``)."""
    from openclaw.configfile import resolve_port
    from openclaw.service.spec import build_spec

    config = _load_config(profile)
    port, source = resolve_port(getattr(ns, "port", None), config.gateway.port,
                                profile.default_port)
    if source == "default" and installed is not None and installed.port:
        port = installed.port
    scope: Scope = "system" if backend.kind == "systemd-system" else "user"
    return build_spec(profile, config, port, scope=scope, service_name=backend.name, user=user)


def _give_to(user: str | None, profile: Profile) -> None:
    """Under sudo, hand the state dir and env file install created to the service's user."""
    if user is None or os.geteuid() != 0:
        return
    import pwd

    entry = pwd.getpwnam(user)
    for path in (profile.state_dir, profile.service_env_path):
        if path.exists() and path.stat().st_uid != entry.pw_uid:
            os.chown(path, entry.pw_uid, entry.pw_gid)


def install(ns: argparse.Namespace) -> int:
    """Write, enable and start the service; no-op when installed and current."""
    profile, backend, user = _context(ns, need_user=True)
    installed = backend.read_installed()
    spec = _spec(ns, profile, backend, installed, user)
    _refuse_foreground_gateway(profile, backend)
    report = _Report(ns, backend, "installed")
    report.data["port"] = spec.port
    if installed is not None and not ns.force:
        differences = backend.differences(spec, installed)
        if differences:
            more = f" (and {len(differences) - 1} more)" if len(differences) > 1 else ""
            raise ServiceError(
                f"{backend.name} is installed but differs from what this version writes: "
                f"{differences[0]}{more}; rewrite it with `openclaw gateway install --force` "
                "(`openclaw doctor` lists every difference)"
            )
        runtime = backend.runtime()
        if runtime.state == "running":
            report.data.update(action="unchanged", pid=runtime.pid)
            report.say(f"{backend.name} is already installed and current "
                       f"({backend.definition_path}); running as pid {runtime.pid}")
        else:
            started = time.monotonic()
            backend.enable_and_start(restart=False)
            verified = _verify(backend, profile, spec.port, None, started, ns)
            report.data.update(action="started", pid=verified.pid, elapsedMs=verified.elapsed_ms)
            report.say(f"{backend.name} is already installed and current; started it: "
                       f"pid {verified.pid} answers on port {spec.port}")
    else:
        carried = _write_env_file(profile, installed.environment if installed else {})
        _give_to(user, profile)
        old_pid = backend.runtime().pid if installed else None
        backend.write(spec)
        started = time.monotonic()
        backend.enable_and_start(restart=installed is not None)
        verified = _verify(backend, profile, spec.port, old_pid, started, ns)
        action = "rewritten" if installed else "installed"
        report.data.update(action=action, pid=verified.pid, elapsedMs=verified.elapsed_ms,
                           envFile=str(profile.service_env_path), envFileKeys=carried)
        report.say(f"{action} {backend.definition_path}")
        report.say(f"secrets: {profile.service_env_path} (owner-only"
                   f"{'; carried ' + ', '.join(carried) if carried else ''})")
        report.say(f"running: pid {verified.pid} answers health on port {spec.port} "
                   f"({verified.elapsed_ms} ms)")
    for legacy in backend.legacy_services():
        report.warn(f"legacy service {legacy.name} ({legacy.path}) may fight over the port: "
                    "remove it with `openclaw gateway uninstall` or `openclaw doctor --fix`")
    _linger_warning(backend, report)
    return report.emit()


def uninstall(ns: argparse.Namespace) -> int:
    """Remove the service and this profile's legacy services; keep config and state."""
    profile, backend, _ = _context(ns)
    report = _Report(ns, backend, "removed")
    removed = backend.remove()
    legacy_removed = []
    for legacy in backend.legacy_services():
        try:
            backend.remove_other(legacy)
            legacy_removed.append(legacy.name)
        except ServiceError as exc:
            report.warn(exc.message)
    report.data["legacyRemoved"] = legacy_removed
    if not removed:
        report.data["action"] = "absent"
        report.say(f"{backend.name} is not installed; nothing to remove")
    else:
        report.say(f"removed {backend.definition_path}")
    for name in legacy_removed:
        report.say(f"removed legacy service {name}")
    report.say(f"config and state kept in {profile.state_dir}")
    return report.emit()


def _refuse_foreground_gateway(profile: Profile, backend: ServiceBackend) -> None:
    """A gateway of this profile started by hand holds the profile lock and its port:
    a service start would only crash-loop behind it, so say so before starting."""
    from openclaw.runtimeinfo import running_record

    record = running_record(profile)
    if record is None or record[0] == backend.runtime().pid:
        return
    pid, port = record
    raise ServiceError(
        f"a gateway of profile {profile.name} started by hand is running (pid {pid}, port "
        f"{port}); stop it first (Ctrl-C or `kill {pid}`), then rerun this command"
    )


def _not_installed(backend: ServiceBackend) -> ServiceError:
    return ServiceError(f"{backend.name} is not installed; install it with "
                        "`openclaw gateway install`")


def start(ns: argparse.Namespace) -> int:
    """Start the installed service and wait for it to answer."""
    profile, backend, _ = _context(ns)
    if backend.read_installed() is None:
        raise _not_installed(backend)
    report = _Report(ns, backend, "started")
    runtime = backend.runtime()
    if runtime.state == "running":
        report.data.update(action="already-running", pid=runtime.pid)
        report.say(f"{backend.name} is already running (pid {runtime.pid})")
        return report.emit()
    _refuse_foreground_gateway(profile, backend)
    started = time.monotonic()
    backend.start()
    verified = _verify(backend, profile, None, None, started, ns)
    report.data.update(pid=verified.pid, elapsedMs=verified.elapsed_ms)
    report.say(f"started {backend.name}: pid {verified.pid} answers health "
               f"({verified.elapsed_ms} ms)")
    return report.emit()


def stop(ns: argparse.Namespace) -> int:
    """Stop the service; an absent service is a successful no-op."""
    profile, backend, _ = _context(ns)
    report = _Report(ns, backend, "stopped")
    if backend.read_installed() is None:
        report.data["action"] = "absent"
        report.say(f"{backend.name} is not installed; nothing to stop")
    else:
        before = backend.runtime()
        if before.state in ("stopped", "failed"):
            report.data["action"] = "already-stopped"
        backend.stop()
        after = backend.runtime()
        if after.state not in ("stopped", "failed"):
            raise ServiceError(f"{backend.name} did not stop: the manager reports {after.state}")
        report.data["previousPid"] = before.pid
        report.say(f"stopped {backend.name}"
                   + (f" (was pid {before.pid})" if before.pid else " (it was not running)"))
    from openclaw.runtimeinfo import running_port

    port = running_port(profile)
    if port is not None:
        report.warn(f"a gateway of profile {profile.name} not run by the service still "
                    f"listens on port {port} (started by hand); stop it with Ctrl-C or kill")
    return report.emit()


def restart(ns: argparse.Namespace) -> int:
    """Restart through the manager; succeed only when a new pid answers health."""
    profile, backend, _ = _context(ns)
    if backend.read_installed() is None:
        raise _not_installed(backend)
    old_pid = backend.runtime().pid
    started = time.monotonic()
    backend.restart()
    verified = _verify(backend, profile, None, old_pid, started, ns)
    report = _Report(ns, backend, "restarted")
    report.data.update(pid=verified.pid, previousPid=old_pid, elapsedMs=verified.elapsed_ms)
    report.say(f"restarted {backend.name}: pid {old_pid or '-'} → {verified.pid}, "
               f"answering health ({verified.elapsed_ms} ms)")
    return report.emit()
