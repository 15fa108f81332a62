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

from openclaw.cli.common import print_json, profile_of, wants_json
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


def _run_as(ns: argparse.Namespace) -> str:
    user = getattr(ns, "run_as", None) or os.environ.get("SUDO_USER")
    if not user:
        raise UsageError(
            "a system unit needs the user that runs the gateway: pass --run-as USER "
            "(a system unit without User= would run the gateway as root)"
        )
    return str(user)


def _context(ns: argparse.Namespace) -> tuple[Profile, ServiceBackend]:
    """The profile and its backend, checked to be usable."""
    system = bool(getattr(ns, "system", False))
    profile = profile_of(ns)
    if system:
        if os.geteuid() != 0:
            raise ServiceError(
                "a system unit is written to /etc/systemd/system and needs root: "
                "rerun with sudo (`sudo openclaw gateway install --system`)"
            )
        import pwd

        user = _run_as(ns)
        try:
            home = pwd.getpwnam(user).pw_dir
        except KeyError:
            raise UsageError(f"--run-as {user}: no such user") from None
        from openclaw.paths import resolve_profile

        env = dict(os.environ, HOME=home)
        profile = resolve_profile(getattr(ns, "profile", None), dev=bool(getattr(ns, "dev", False)),
                                  env=env)
    backend = select_backend(profile, system=system, explicit=getattr(ns, "backend", None))
    reason = backend.availability()
    if reason:
        raise ServiceManagerUnavailable(reason)
    return profile, backend


def _budget(ns: argparse.Namespace) -> float:
    return max(1, int(getattr(ns, "timeout", 30_000))) / 1000


def _load_config(profile: Profile) -> Config:
    from openclaw.config import load_config

    try:
        config, _ = load_config(profile.config_path)
    except ConfigError as exc:
        raise ConfigError(exc.path, exc.key, f"{exc.reason} (fix it first: the service "
                                             "would refuse to start)") from None
    return config


def _log_dir(profile: Profile) -> Any:
    from pathlib import Path

    from openclaw.configfile import get_path, read_document

    try:
        directory = get_path(read_document(profile.config_path), "logging.dir")
    except ConfigError:
        directory = None
    return Path(directory).expanduser() if isinstance(directory, str) else profile.log_dir


def _verify(backend: ServiceBackend, profile: Profile, port: int | None, old_pid: int | None,
            started: float, ns: argparse.Namespace) -> Verified:
    from openclaw.service.verify import wait_for_gateway

    if port is None:
        installed = backend.read_installed()
        port = installed.port if installed and installed.port else profile.default_port
    return wait_for_gateway(backend, profile, port, old_pid=old_pid, started_at=started,
                            budget_s=_budget(ns), log_dir=_log_dir(profile))


def _write_env_file(profile: Profile, inline: dict[str, str]) -> list[str]:
    """Create/merge the owner-only env file; return the keys carried into it."""
    from openclaw.service.envfile import SECRET_KEYS, is_secret_key, read_env_file, write_env_file

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


def _spec(ns: argparse.Namespace, profile: Profile, backend: ServiceBackend) -> ServiceSpec:
    from openclaw.configfile import resolve_port
    from openclaw.service.spec import build_spec

    config = _load_config(profile)
    port, _ = resolve_port(getattr(ns, "port", None), config.gateway.port, profile.default_port)
    scope: Scope = "system" if backend.kind == "systemd-system" else "user"
    return build_spec(profile, config, port, scope=scope, service_name=backend.name,
                      user=_run_as(ns) if scope == "system" else None)


def install(ns: argparse.Namespace) -> int:
    """Write, enable and start the service; no-op when installed and current."""
    profile, backend = _context(ns)
    spec = _spec(ns, profile, backend)
    _refuse_foreground_gateway(profile, backend)
    installed = backend.read_installed()
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
    profile, backend = _context(ns)
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
    profile, backend = _context(ns)
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
    profile, backend = _context(ns)
    report = _Report(ns, backend, "stopped")
    if backend.read_installed() is None:
        report.data["action"] = "absent"
        report.say(f"{backend.name} is not installed; nothing to stop")
    else:
        before = backend.runtime()
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
    profile, backend = _context(ns)
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
