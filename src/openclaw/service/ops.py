"""Service operations as an API: install, uninstall, start, stop, restart.

The CLI (``openclaw gateway install`` ...) and ``doctor --fix`` both call these. Each
takes the profile, its backend and typed options, goes through the service manager
(never around it), checks the outcome, and returns a typed result that says what
changed; failures raise :class:`~openclaw.errors.OpenClawError` subclasses. A start
or restart counts only when a *new* pid answers ``health`` on the service's port; a
stop counts when the manager reports the service stopped.

Results are :class:`~openclaw.cli.render.CommandResult` objects: their ``to_json()``
is the documented ``--json`` document of the command (``docs/service.md``) and
``to_text()`` what a person reads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from openclaw.errors import ConfigError
from openclaw.paths import Profile
from openclaw.result import CommandResult
from openclaw.service.backend import (
    ServiceBackend,
    ServiceError,
    ServiceManagerUnavailable,
    select_backend,
)
from openclaw.service.verify import WaitOptions

if TYPE_CHECKING:
    from openclaw.config import Config
    from openclaw.service.backend import InstalledService
    from openclaw.service.linger import Linger
    from openclaw.service.runner import CommandRunner
    from openclaw.service.spec import ServiceSpec

__all__ = [
    "InstallOptions",
    "InstallResult",
    "RestartResult",
    "ServiceRef",
    "StartResult",
    "StopResult",
    "UninstallResult",
    "WaitOptions",
    "desired_spec",
    "install",
    "open_backend",
    "require_root",
    "restart",
    "start",
    "stop",
    "system_unit_user",
    "uninstall",
]


# -- results -------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceRef:
    """Which service an operation acted on: backend kind, unit or label, definition path."""

    backend: str
    name: str
    file: Path

    @classmethod
    def of(cls, backend: ServiceBackend) -> ServiceRef:
        """The service ``backend`` is bound to."""
        return cls(backend.kind, backend.name, backend.definition_path)

    def to_json(self) -> dict[str, str]:
        """The ``service`` object of the ``--json`` documents."""
        return {"backend": self.backend, "name": self.name, "file": str(self.file)}


@dataclass(kw_only=True)
class ServiceOpResult(CommandResult):
    """What every service operation reports: the action taken, the service, the pid
    that answered (or None) and warnings that did not stop the operation."""

    action: str
    service: ServiceRef
    pid: int | None = None
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The keys every operation's ``--json`` document has."""
        return {"ok": True, "action": self.action, "service": self.service.to_json(),
                "pid": self.pid, "warnings": list(self.warnings)}

    def lines(self) -> list[str]:
        """The text form's lines before the warnings."""
        raise NotImplementedError

    def to_text(self) -> str:
        """The lines, then one ``warning: ...`` line per warning."""
        return "\n".join(self.lines() + [f"warning: {w}" for w in self.warnings])


@dataclass(kw_only=True)
class InstallResult(ServiceOpResult):
    """``install``: ``installed``, ``rewritten`` (with ``force`` or by doctor),
    ``unchanged`` (current and running: nothing done) or ``started`` (current but
    stopped: started)."""

    action: Literal["installed", "rewritten", "unchanged", "started"]
    port: int
    elapsed_ms: int | None = None
    #: The env file, and the names carried into it, when the definition was written.
    env_file: Path | None = None
    env_file_keys: list[str] | None = None
    #: Secret-looking names found written inline in the replaced definition; they are
    #: in the env file now (a name already there kept the file's value).
    moved_inline: list[str] = field(default_factory=list)
    linger: Linger | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``gateway install --json`` document."""
        data = super().to_json()
        data["port"] = self.port
        if self.elapsed_ms is not None:
            data["elapsedMs"] = self.elapsed_ms
        if self.env_file is not None:
            data["envFile"] = str(self.env_file)
            data["envFileKeys"] = list(self.env_file_keys or [])
        if self.linger is not None:
            data["linger"] = self.linger.to_json()
        return data

    def lines(self) -> list[str]:
        """What install did, in the words of ``docs/service.md``."""
        name, file = self.service.name, self.service.file
        if self.action == "unchanged":
            return [f"{name} is already installed and current ({file}); "
                    f"running as pid {self.pid}"]
        if self.action == "started":
            return [f"{name} is already installed and current; started it: "
                    f"pid {self.pid} answers on port {self.port}"]
        carried = self.env_file_keys or []
        return [
            f"{self.action} {file}",
            f"secrets: {self.env_file} (owner-only"
            f"{'; carried ' + ', '.join(carried) if carried else ''})",
            f"running: pid {self.pid} answers health on port {self.port} "
            f"({self.elapsed_ms} ms)",
        ]


@dataclass(kw_only=True)
class UninstallResult(ServiceOpResult):
    """``uninstall``: ``removed`` or ``absent``; legacy services removed; the state
    dir that was kept."""

    action: Literal["removed", "absent"]
    legacy_removed: list[str] = field(default_factory=list)
    state_dir: Path

    def to_json(self) -> dict[str, Any]:
        """The ``gateway uninstall --json`` document."""
        return {**super().to_json(), "legacyRemoved": list(self.legacy_removed)}

    def lines(self) -> list[str]:
        """What was removed and what was kept."""
        out = ([f"{self.service.name} is not installed; nothing to remove"]
               if self.action == "absent" else [f"removed {self.service.file}"])
        out += [f"removed legacy service {name}" for name in self.legacy_removed]
        out.append(f"config and state kept in {self.state_dir}")
        return out


@dataclass(kw_only=True)
class StartResult(ServiceOpResult):
    """``start``: ``started`` (a new pid answers) or ``already-running``."""

    action: Literal["started", "already-running"]
    elapsed_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``gateway start --json`` document."""
        data = super().to_json()
        if self.elapsed_ms is not None:
            data["elapsedMs"] = self.elapsed_ms
        return data

    def lines(self) -> list[str]:
        """Which pid runs now."""
        if self.action == "already-running":
            return [f"{self.service.name} is already running (pid {self.pid})"]
        return [f"started {self.service.name}: pid {self.pid} answers health "
                f"({self.elapsed_ms} ms)"]


@dataclass(kw_only=True)
class StopResult(ServiceOpResult):
    """``stop``: ``stopped``, ``already-stopped`` or ``absent`` (not installed: a
    successful no-op); ``previous_pid`` is the pid before, when installed."""

    action: Literal["stopped", "already-stopped", "absent"]
    previous_pid: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``gateway stop --json`` document."""
        data = super().to_json()
        if self.action != "absent":
            data["previousPid"] = self.previous_pid
        return data

    def lines(self) -> list[str]:
        """What was stopped."""
        if self.action == "absent":
            return [f"{self.service.name} is not installed; nothing to stop"]
        was = f" (was pid {self.previous_pid})" if self.previous_pid else " (it was not running)"
        return [f"stopped {self.service.name}{was}"]


@dataclass(kw_only=True)
class RestartResult(ServiceOpResult):
    """``restart``: the pid before and the new pid that answers health."""

    action: Literal["restarted"] = "restarted"
    previous_pid: int | None = None
    elapsed_ms: int

    def to_json(self) -> dict[str, Any]:
        """The ``gateway restart --json`` document."""
        return {**super().to_json(), "previousPid": self.previous_pid,
                "elapsedMs": self.elapsed_ms}

    def lines(self) -> list[str]:
        """Old pid → new pid."""
        return [f"restarted {self.service.name}: pid {self.previous_pid or '-'} → {self.pid}, "
                f"answering health ({self.elapsed_ms} ms)"]


# -- inputs --------------------------------------------------------------------------


@dataclass(frozen=True)
class InstallOptions:
    """What ``install`` is asked for.

    Attributes:
        port: ``--port``; None resolves ``OPENCLAW_GATEWAY_PORT``, ``gateway.port``,
            then the port the installed service pins, then the profile's default.
        force: rewrite the definition even when it is current, and restart.
        user: ``User=`` of a system unit.
        environ: the installing shell's environment (None: ``os.environ``); its
            ``OPENCLAW_GATEWAY_PORT`` and, with ``carry_shell_secrets``, its secrets
            (``OPENCLAW_GATEWAY_TOKEN`` ...) are used.
        carry_shell_secrets: copy the shell's secrets into the env file (``doctor``
            rewrites without doing so).
    """

    port: int | None = None
    force: bool = False
    user: str | None = None
    environ: Mapping[str, str] | None = None
    carry_shell_secrets: bool = True


# -- choosing the service ------------------------------------------------------------


def require_root() -> None:
    """A system unit is written to /etc/systemd/system: refuse without root.

    Raises:
        ServiceError: not running as root.
    """
    if os.geteuid() != 0:
        raise ServiceError(
            "a system unit is written to /etc/systemd/system and needs root: "
            "rerun with sudo (e.g. `sudo openclaw gateway install --system`)"
        )


def system_unit_user(profile: Profile) -> str | None:
    """``User=`` of this profile's installed system unit, if there is one."""
    from openclaw.service.systemd import SYSTEM_UNIT_DIRS
    from openclaw.service.systemd_unit import parse_unit

    try:
        text = (SYSTEM_UNIT_DIRS[0] / profile.systemd_unit).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    users = parse_unit(text).get(("Service", "User"))
    return users[-1] if users else None


def open_backend(
    profile: Profile,
    *,
    system: bool = False,
    explicit: str | None = None,
    env: Mapping[str, str] | None = None,
    runner: CommandRunner | None = None,
) -> ServiceBackend:
    """The profile's backend, checked to be usable here.

    Raises:
        ServiceManagerUnavailable: no usable service manager (exit 69); the message
            says why and how to run the gateway without one.
    """
    backend = select_backend(profile, system=system, explicit=explicit, env=env, runner=runner)
    reason = backend.availability()
    if reason:
        raise ServiceManagerUnavailable(reason)
    return backend


def desired_spec(
    profile: Profile,
    backend: ServiceBackend,
    config: Config,
    *,
    port: int | None = None,
    installed: InstalledService | None = None,
    user: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ServiceSpec:
    """The definition install writes now.

    The port is ``port``, else ``OPENCLAW_GATEWAY_PORT``, else ``gateway.port``, else
    the one the installed service already pins (so a plain reinstall keeps
    ``install --port``), else the profile's default.
    """
    from openclaw.configfile import resolve_port
    from openclaw.service.spec import Scope, build_spec

    chosen, source = resolve_port(port, config.gateway.port, profile.default_port, env=environ)
    if source == "default" and installed is not None and installed.port:
        chosen = installed.port
    scope: Scope = "system" if backend.kind == "systemd-system" else "user"
    return build_spec(profile, config, chosen, scope=scope, service_name=backend.name,
                      user=user)


# -- the operations ------------------------------------------------------------------


def _startable_config(profile: Profile, environ: Mapping[str, str] | None) -> Config:
    from openclaw.service.preflight import check_startable, service_environ

    try:
        return check_startable(profile, service_environ(profile, environ))
    except ConfigError as exc:
        raise ConfigError(exc.path, exc.key, f"{exc.reason} (fix it first: the service "
                                             "would refuse to start)") from None


def _verify(backend: ServiceBackend, profile: Profile, port: int | None, old_pid: int | None,
            started: float, wait: WaitOptions) -> tuple[int, int]:
    """``(pid, elapsed_ms)`` of the new gateway that answers health on the service's port."""
    from openclaw.service.lasterror import log_dir_of
    from openclaw.service.verify import wait_for_gateway

    if port is None:
        installed = backend.read_installed()
        port = installed.port if installed and installed.port else profile.default_port
    verified = wait_for_gateway(backend, profile, port, old_pid=old_pid, started_at=started,
                                log_dir=log_dir_of(profile), wait=wait)
    return verified.pid, verified.elapsed_ms


def _write_env_file(profile: Profile, inline: Mapping[str, str],
                    shell: Mapping[str, str] | None) -> tuple[list[str], list[str]]:
    """Create/merge the owner-only env file: ``(keys carried into it, inline secret
    names moved out of the old definition)``."""
    from openclaw.envfile import SECRET_KEYS, read_env_file, write_env_file
    from openclaw.redact import is_secret_key

    path = profile.service_env_path
    values = read_env_file(path)
    carried = []
    moved = [key for key in inline if is_secret_key(key)]
    for key in moved:
        if key not in values:
            values[key] = inline[key]
            carried.append(key)
    from openclaw.channels.registry import secret_env_names

    for key in (*SECRET_KEYS, *secret_env_names()):
        shell_value = shell.get(key) if shell is not None else None
        if shell_value and values.get(key) != shell_value:
            values[key] = shell_value
            carried.append(key)
    write_env_file(path, values)
    return carried, moved


def _give_to(user: str | None, profile: Profile) -> None:
    """Under sudo, hand the state dir and env file install created to the service's user."""
    if user is None or os.geteuid() != 0:
        return
    import pwd

    entry = pwd.getpwnam(user)
    for path in (profile.state_dir, profile.service_env_path):
        if path.exists() and path.stat().st_uid != entry.pw_uid:
            os.chown(path, entry.pw_uid, entry.pw_gid)


def _linger(backend: ServiceBackend) -> tuple[Linger | None, str | None]:
    """A systemd user unit stops at logout without linger: the fact, and a warning."""
    if backend.kind != "systemd-user":
        return None, None
    from openclaw.service.linger import check_linger

    linger = check_linger(backend.runner)
    if linger.enabled is False:
        return linger, (f"linger is off for {linger.user}: the gateway stops when you log "
                        f"out; enable it with `{linger.fix}` (or `openclaw doctor --fix`)")
    if linger.enabled is None:
        return linger, f"cannot tell whether the gateway survives logout: {linger.reason}"
    return linger, None


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


def install(
    profile: Profile,
    backend: ServiceBackend,
    options: InstallOptions | None = None,
    wait: WaitOptions | None = None,
) -> InstallResult:
    """Write, enable and start the service; a no-op when installed, current and running.

    Raises:
        ConfigError: the gateway would refuse the config (exit 78).
        ServiceError: the installed definition differs (without ``force``), a gateway
            of the profile started by hand runs, the manager failed, or no new pid
            answered health in time (the service is then left installed).
    """
    options = options or InstallOptions()
    wait = wait or WaitOptions()
    environ = os.environ if options.environ is None else options.environ
    installed = backend.read_installed()
    config = _startable_config(profile, environ)
    spec = desired_spec(profile, backend, config, port=options.port, installed=installed,
                        user=options.user, environ=environ)
    _refuse_foreground_gateway(profile, backend)
    result: InstallResult
    if installed is not None and not options.force:
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
            result = InstallResult(action="unchanged", service=ServiceRef.of(backend),
                                   pid=runtime.pid, port=spec.port)
        else:
            started = wait.clock()
            backend.enable_and_start(restart=False)
            pid, elapsed = _verify(backend, profile, spec.port, None, started, wait)
            result = InstallResult(action="started", service=ServiceRef.of(backend), pid=pid,
                                   port=spec.port, elapsed_ms=elapsed)
    else:
        carried, moved = _write_env_file(
            profile, installed.environment if installed else {},
            environ if options.carry_shell_secrets else None)
        _give_to(options.user, profile)
        old_pid = backend.runtime().pid if installed else None
        backend.write(spec)
        started = wait.clock()
        backend.enable_and_start(restart=installed is not None)
        pid, elapsed = _verify(backend, profile, spec.port, old_pid, started, wait)
        result = InstallResult(
            action="rewritten" if installed else "installed", service=ServiceRef.of(backend),
            pid=pid, port=spec.port, elapsed_ms=elapsed, env_file=profile.service_env_path,
            env_file_keys=carried, moved_inline=moved)
    for legacy in backend.legacy_services():
        result.warnings.append(
            f"legacy service {legacy.name} ({legacy.path}) may fight over the port: "
            "remove it with `openclaw gateway uninstall` or `openclaw doctor --fix`")
    result.linger, warning = _linger(backend)
    if warning:
        result.warnings.append(warning)
    return result


def uninstall(profile: Profile, backend: ServiceBackend) -> UninstallResult:
    """Remove the service and this profile's legacy services; keep config and state.

    A legacy service that cannot be removed here (the other scope) becomes a warning.
    """
    removed = backend.remove()
    result = UninstallResult(action="removed" if removed else "absent",
                             service=ServiceRef.of(backend), state_dir=profile.state_dir)
    for legacy in backend.legacy_services():
        try:
            backend.remove_other(legacy)
            result.legacy_removed.append(legacy.name)
        except ServiceError as exc:
            result.warnings.append(exc.message)
    return result


def start(profile: Profile, backend: ServiceBackend,
          wait: WaitOptions | None = None) -> StartResult:
    """Start the installed service and wait until a new pid answers health.

    Raises:
        ServiceError: not installed, a gateway of the profile started by hand runs,
            or the start failed or was not answered in time.
    """
    wait = wait or WaitOptions()
    if backend.read_installed() is None:
        raise _not_installed(backend)
    runtime = backend.runtime()
    if runtime.state == "running":
        return StartResult(action="already-running", service=ServiceRef.of(backend),
                           pid=runtime.pid)
    _refuse_foreground_gateway(profile, backend)
    started = wait.clock()
    backend.start()
    pid, elapsed = _verify(backend, profile, None, None, started, wait)
    return StartResult(action="started", service=ServiceRef.of(backend), pid=pid,
                       elapsed_ms=elapsed)


def stop(profile: Profile, backend: ServiceBackend) -> StopResult:
    """Stop the service; an absent service is a successful no-op.

    A gateway of the profile started by hand is left alone, with a warning.

    Raises:
        ServiceError: the manager failed, or does not report the service stopped.
    """
    result: StopResult
    if backend.read_installed() is None:
        result = StopResult(action="absent", service=ServiceRef.of(backend))
    else:
        before = backend.runtime()
        backend.stop()
        after = backend.runtime()
        if after.state not in ("stopped", "failed"):
            raise ServiceError(f"{backend.name} did not stop: the manager reports {after.state}")
        result = StopResult(
            action="already-stopped" if before.state in ("stopped", "failed") else "stopped",
            service=ServiceRef.of(backend), previous_pid=before.pid)
    from openclaw.runtimeinfo import running_port

    port = running_port(profile)
    if port is not None:
        result.warnings.append(
            f"a gateway of profile {profile.name} not run by the service still listens on "
            f"port {port} (started by hand); stop it with Ctrl-C or kill")
    return result


def restart(profile: Profile, backend: ServiceBackend,
            wait: WaitOptions | None = None) -> RestartResult:
    """Restart through the manager; succeed only when a new pid answers health.

    Raises:
        ServiceError: not installed, or the restart failed or was not answered in time.
    """
    wait = wait or WaitOptions()
    if backend.read_installed() is None:
        raise _not_installed(backend)
    old_pid = backend.runtime().pid
    started = wait.clock()
    backend.restart()
    pid, elapsed = _verify(backend, profile, None, old_pid, started, wait)
    return RestartResult(service=ServiceRef.of(backend), pid=pid, previous_pid=old_pid,
                         elapsed_ms=elapsed)
