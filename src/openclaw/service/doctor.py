"""``openclaw doctor``: findings about the service, config and state, each with its fix.

Every check is read-only and returns :class:`Finding` objects; a finding that can
be repaired carries a ``repair`` callable, run only by ``--fix``/``--yes``. The
repairs call the same operations the commands do (:mod:`openclaw.service.ops`:
``install`` with ``force`` rewrites the definition, ``restart`` restarts), so a
repaired installation is exactly what a fresh install would produce.
:func:`run_doctor` runs it all and returns a :class:`DoctorResult`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from openclaw.envfile import read_env_file, write_env_file
from openclaw.errors import ConfigError, ExitCode, OpenClawError
from openclaw.paths import Profile
from openclaw.redact import is_secret_key
from openclaw.result import CommandResult
from openclaw.service.backend import InstalledService, Runtime, ServiceBackend
from openclaw.service.verify import WaitOptions

if TYPE_CHECKING:
    from openclaw.config import Config
    from openclaw.service.spec import ServiceSpec

__all__ = ["DoctorContext", "DoctorResult", "Finding", "Mode", "apply_fixes", "run_checks",
           "run_doctor"]

Severity = Literal["error", "warning", "info"]


@dataclass
class Finding:
    """One problem (or fact) with how to fix it; ``repair`` does it when allowed."""

    id: str
    severity: Severity
    message: str
    fix: str | None = None
    repair: Callable[[], str] | None = field(default=None, repr=False)
    fixed: bool | None = None
    result: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form for ``doctor --json``."""
        return {"id": self.id, "severity": self.severity, "message": self.message,
                "fix": self.fix, "fixable": self.repair is not None, "fixed": self.fixed,
                "result": self.result}


_UNSET: Any = object()


@dataclass
class DoctorContext:
    """What every check needs: the profile, its backend (if usable) and options."""

    profile: Profile
    backend: ServiceBackend | None
    unavailable: str | None = None
    deep: bool = False
    wait: WaitOptions = field(default_factory=WaitOptions)
    _installed: Any = field(default=_UNSET, repr=False)
    _runtime: Any = field(default=_UNSET, repr=False)
    _config: Any = field(default=_UNSET, repr=False)

    def config(self) -> Config:
        """The config, checked once the way the gateway checks it at start.

        Raises:
            ConfigError: the gateway would refuse it.
        """
        if self._config is _UNSET:
            from openclaw.service.preflight import check_startable, service_environ

            try:
                self._config = check_startable(self.profile,
                                               service_environ(self.profile))
            except ConfigError as exc:
                self._config = exc
        if isinstance(self._config, ConfigError):
            raise self._config
        config: Config = self._config
        return config

    def installed(self) -> InstalledService | None:
        """The installed definition, read once per check pass (repairs read afresh)."""
        if self._installed is _UNSET:
            self._installed = self.backend.read_installed() if self.backend else None
        installed: InstalledService | None = self._installed
        return installed

    def runtime(self) -> Runtime:
        """The manager's view, asked once per check pass (one ``systemctl show``)."""
        if self._runtime is _UNSET:
            assert self.backend is not None
            self._runtime = self.backend.runtime()
        runtime: Runtime = self._runtime
        return runtime


def _mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None


def _chmod(path: Path, mode: int) -> Callable[[], str]:
    def repair() -> str:
        os.chmod(path, mode)
        return f"chmod {mode:o} {path}"
    return repair


def check_permissions(ctx: DoctorContext) -> list[Finding]:
    """State dir and credentials owner-only (700); config, env file and token 600."""
    findings = []
    profile = ctx.profile
    wanted = [(profile.state_dir, 0o700), (profile.token_path.parent, 0o700),
              (profile.config_path, 0o600), (profile.service_env_path, 0o600),
              (profile.token_path, 0o600)]
    for path, mode in wanted:
        current = _mode(path)
        if current is None or not current & 0o077:
            continue
        findings.append(Finding(
            "permissions", "warning",
            f"{path} is readable by others (mode {current:o}); it may hold secrets",
            fix=f"chmod {mode:o} {path}", repair=_chmod(path, mode),
        ))
    return findings


def check_config(ctx: DoctorContext) -> list[Finding]:
    """The config file parses, validates and names usable channels and model (the
    gateway exits 78 otherwise)."""
    try:
        ctx.config()
    except ConfigError as exc:
        return [Finding("config-invalid", "error", exc.message,
                        fix=f"edit {ctx.profile.config_path} (the gateway refuses to start "
                            "until it is valid)")]
    return []


def _spec_now(ctx: DoctorContext, installed: InstalledService) -> ServiceSpec:
    """What ``install --force`` would write now: the configured port if any, else the
    installed one (a port given to ``install --port`` is not drift); a system unit
    keeps its ``User=``."""
    from openclaw.service.ops import desired_spec, system_unit_user

    assert ctx.backend is not None
    user = system_unit_user(ctx.profile) if ctx.backend.kind == "systemd-system" else None
    return desired_spec(ctx.profile, ctx.backend, ctx.config(), installed=installed, user=user)


def _rewrite(ctx: DoctorContext) -> Callable[[], str]:
    def repair() -> str:
        from openclaw.service.ops import InstallOptions, install, system_unit_user

        assert ctx.backend is not None
        user = system_unit_user(ctx.profile) if ctx.backend.kind == "systemd-system" else None
        done = install(ctx.profile, ctx.backend,
                       InstallOptions(force=True, user=user, carry_shell_secrets=False),
                       ctx.wait)
        moved = done.moved_inline
        extra = f"; moved {', '.join(moved)} to {ctx.profile.service_env_path}" if moved else ""
        return f"rewrote {done.service.file}{extra}; pid {done.pid} answers on port {done.port}"
    return repair


def check_service(ctx: DoctorContext) -> list[Finding]:
    """The installed definition matches what ``install`` writes now."""
    backend = ctx.backend
    if backend is None or ctx.unavailable:
        return [Finding("service-manager", "info",
                        f"service checks skipped: {ctx.unavailable}")]
    installed = ctx.installed()
    if installed is None:
        return [Finding("service-missing", "info", f"{backend.name} is not installed",
                        fix="`openclaw gateway install` to run the gateway as a service")]
    try:
        spec = _spec_now(ctx, installed)
    except ConfigError:
        return []  # reported by check_config; a rewrite would only install a failing service
    findings = []
    program = list(spec.program)
    if installed.argv[: len(program)] != program:
        old = installed.argv[0] if installed.argv else "(nothing)"
        gone = "" if installed.argv and Path(old).exists() else ", which does not exist"
        findings.append(Finding(
            "stale-exec", "error",
            f"{backend.name} runs {old}{gone}; this install is {program[0]}",
            fix="rewrite the service definition (`openclaw gateway install --force`)",
        ))
    if installed.port != spec.port:
        findings.append(Finding(
            "stale-port", "warning",
            f"{backend.name} pins port {installed.port} but the config says {spec.port}",
            fix="rewrite the service definition with the configured port",
        ))
    inline = sorted(k for k in installed.environment if is_secret_key(k))
    if inline:
        findings.append(Finding(
            "inline-secret", "error",
            f"{backend.name} has secrets written inline ({', '.join(inline)}): readable by "
            "anyone who can read the unit, and stale after every rotation",
            fix=f"move them to {ctx.profile.service_env_path} (0600) and rewrite the definition",
        ))
    differences = backend.differences(spec, installed)
    if differences and not findings:
        findings.append(Finding(
            "definition-drift", "warning",
            f"{backend.name} differs from what this version installs: " + "; ".join(differences),
            fix="rewrite the service definition (`openclaw gateway install --force`)",
        ))
    if findings:
        repair = _rewrite(ctx)
        for item in findings:
            item.repair = repair  # one rewrite fixes them all; run once
    runtime = ctx.runtime()
    overrides = [p for p in runtime.drop_ins if Path(p).exists()]
    if overrides:
        findings.append(Finding(
            "drop-in", "warning",
            f"drop-ins change {backend.name}: {', '.join(overrides)}; they win over the unit "
            "install writes", fix="review or delete them, then `systemctl "
            f"{'--user ' if backend.kind == 'systemd-user' else ''}daemon-reload`",
        ))
    return findings


def check_runtime(ctx: DoctorContext) -> list[Finding]:
    """The installed service runs and answers; a failed one is restarted."""
    backend = ctx.backend
    if backend is None or ctx.unavailable or ctx.installed() is None:
        return []
    runtime = ctx.runtime()
    if runtime.state in ("running", "starting"):
        return []
    if runtime.state in ("failed", "crash-looping"):
        from openclaw.service.lasterror import last_error, log_dir_of

        error = last_error(log_dir_of(ctx.profile))
        detail = f"; last gateway error: {error['message']}" if error else ""
        return [Finding("service-failed", "error",
                        f"{backend.name} is {runtime.state}: {runtime.detail}{detail}",
                        fix="fix the cause, then `openclaw gateway restart`",
                        repair=_restart(ctx))]
    return [Finding("service-stopped", "info", f"{backend.name} is {runtime.state}",
                    fix="`openclaw gateway start`")]


def _restart(ctx: DoctorContext) -> Callable[[], str]:
    def repair() -> str:
        from openclaw.service.ops import restart

        assert ctx.backend is not None
        done = restart(ctx.profile, ctx.backend, ctx.wait)
        return f"restarted {done.service.name}: pid {done.pid} answers"
    return repair


def check_legacy(ctx: DoctorContext) -> list[Finding]:
    """Services of older releases for this profile (they fight over the port)."""
    backend = ctx.backend
    if backend is None or ctx.unavailable:
        return []
    findings = []
    for other in backend.legacy_services():
        def repair(other: Any = other) -> str:
            assert backend is not None
            backend.remove_other(other)
            return f"removed {other.name} ({other.path})"
        findings.append(Finding(
            "legacy-service", "warning",
            f"legacy service {other.name} ({other.path}) runs `{other.command}`",
            fix=f"remove it (disable, stop, delete {other.path})", repair=repair))
    for other in backend.scan(ctx.deep):
        if other.kind == "gateway-like":
            findings.append(Finding(
                "other-gateway", "warning",
                f"another gateway-like service: {other.name} ({other.scope}, {other.path}) "
                f"runs `{other.command}`",
                fix="keep one gateway per machine unless ports and state dirs are separate; "
                    "remove it if it is a leftover"))
    return findings


def check_linger(ctx: DoctorContext) -> list[Finding]:
    """A user service survives logout only with linger."""
    backend = ctx.backend
    if backend is None or ctx.unavailable or backend.kind != "systemd-user":
        return []
    from openclaw.service.linger import check_linger as probe
    from openclaw.service.linger import enable_linger

    linger = probe(backend.runner)
    if linger.enabled is None:
        return [Finding("linger", "info",
                        f"cannot tell whether user services survive logout: {linger.reason}")]
    if linger.enabled:
        return []

    def repair() -> str:
        ok, reason = enable_linger(backend.runner, linger.user)
        if not ok:
            raise OpenClawError(f"loginctl enable-linger failed: {reason}")
        return f"enabled linger for {linger.user}"
    return [Finding("linger", "warning",
                    f"linger is off for {linger.user}: the gateway stops at logout",
                    fix=linger.fix, repair=repair)]


def check_token_drift(ctx: DoctorContext) -> list[Finding]:
    """The service env file and the config must not name two different tokens."""
    from openclaw.configfile import read_lenient

    config = read_lenient(ctx.profile.config_path)
    findings = []
    env = read_env_file(ctx.profile.service_env_path)
    for key, path in (("OPENCLAW_GATEWAY_TOKEN", "gateway.auth.token"),
                      ("OPENCLAW_GATEWAY_PASSWORD", "gateway.auth.password")):
        configured = config.string(path)
        in_env = env.get(key)
        if configured and in_env and in_env != configured:
            def repair(key: str = key) -> str:
                values = read_env_file(ctx.profile.service_env_path)
                values.pop(key, None)
                write_env_file(ctx.profile.service_env_path, values)
                note = ""
                if ctx.backend is not None and not ctx.unavailable and \
                        ctx.backend.read_installed() is not None:
                    note = "; " + _restart(ctx)()
                return f"removed {key} from {ctx.profile.service_env_path}{note}"
            findings.append(Finding(
                "token-drift", "error",
                f"{ctx.profile.service_env_path} sets {key}, which differs from {path} in "
                f"{ctx.profile.config_path}: the service uses the env file's, clients of the "
                "config get refused", fix=f"drop {key} from the env file (the config wins) and "
                "restart", repair=repair))
    return findings


def check_port(ctx: DoctorContext) -> list[Finding]:
    """Nobody but this profile's gateway holds its port."""
    from openclaw.configfile import read_lenient
    from openclaw.netinfo import listeners_on_port

    backend = ctx.backend
    installed = ctx.installed()
    if installed is not None and installed.port:
        port = installed.port
    else:
        port, _ = read_lenient(ctx.profile.config_path).port(ctx.profile.default_port)
    ours = set()
    if backend is not None and not ctx.unavailable and installed is not None:
        pid = ctx.runtime().pid
        if pid:
            ours.add(pid)
    from openclaw.runtimeinfo import running_record

    record = running_record(ctx.profile)
    if record is not None and record[1] == port:
        ours.add(record[0])
    strangers = [item for item in listeners_on_port(port) if item.pid not in ours]
    if not strangers:
        return []
    who = ", ".join(sorted({item.describe() for item in strangers}))
    return [Finding("port-collision", "error",
                    f"port {port} of profile {ctx.profile.name} is held by {who}",
                    fix="stop that process, or move this gateway with gateway.port and "
                        "`openclaw gateway install --force`")]


def check_database(ctx: DoctorContext) -> list[Finding]:
    """The gateway database is whole (the gateway exits 78 on a damaged one); the fix
    restores it from the newest backup that verifies."""
    from openclaw.configfile import read_lenient
    from openclaw.store.backup import Sources
    from openclaw.store.db import inspect_database

    config = read_lenient(ctx.profile.config_path)
    sources = Sources.for_profile(ctx.profile,
                                  workspace=config.string("agents.defaults.workspace"),
                                  backups_dir=config.string("backup.dir"))
    if not sources.database.exists():
        return []
    problem = inspect_database(sources.database)
    if problem is None:
        return []
    from openclaw.store.backup import latest_verified

    verified, problems = latest_verified(sources.backups_dir, sources.profile)
    message = f"the gateway database {sources.database} is damaged ({problem})"
    if verified is None:
        return [Finding("database-damaged", "error", message,
                        fix=f"no verified backup in {sources.backups_dir}: restore one with "
                            "`openclaw backup restore <archive>`, or move the file aside to "
                            "start with an empty database (its data is then lost)")]

    def repair() -> str:
        from openclaw.store.backup import restore_backup

        assert verified is not None
        done = restore_backup(verified.path, sources, database_only=True)
        kept = ", ".join(str(path) for path in done.aside)
        return f"restored the database from {verified.path}; the damaged file is kept as {kept}"
    skipped = f"; {len(problems)} newer archive(s) failed verification" if problems else ""
    return [Finding("database-damaged", "error", message,
                    fix=f"restore it from {verified.path.name}, the newest backup that "
                        f"verifies{skipped} (the gateway must be stopped; the damaged file "
                        "is kept)",
                    repair=repair)]


CHECKS = (check_config, check_database, check_permissions, check_service, check_legacy,
          check_token_drift, check_linger, check_port, check_runtime)


def run_checks(ctx: DoctorContext) -> list[Finding]:
    """Every check, in order; a check that crashes becomes an error finding."""
    findings: list[Finding] = []
    for check in CHECKS:
        try:
            findings.extend(check(ctx))
        except OpenClawError as exc:
            findings.append(Finding(check.__name__.removeprefix("check_"), "error", exc.message))
    return findings


def apply_fixes(findings: list[Finding]) -> None:
    """Run each distinct repair once, recording the result on every finding it fixes."""
    done: dict[int, tuple[bool, str]] = {}
    for item in findings:
        if item.repair is None:
            continue
        key = id(item.repair)
        if key not in done:
            try:
                done[key] = (True, item.repair())
            except (OpenClawError, OSError) as exc:
                done[key] = (False, getattr(exc, "message", None) or str(exc))
        item.fixed, item.result = done[key]


_MARK = {"error": "✗", "warning": "!", "info": "·"}
Mode = Literal["check", "fix", "dry-run"]


@dataclass
class DoctorResult(CommandResult):
    """``doctor``: every finding in check order, what ``--fix`` did to each, and the
    exit status: 1 while an ``error`` or ``warning`` remains unfixed, else 0."""

    profile: str
    mode: Mode
    findings: list[Finding]

    @property
    def remaining(self) -> list[Finding]:
        """Errors and warnings not fixed in this run."""
        return [f for f in self.findings if f.severity != "info" and not f.fixed]

    @property
    def exit_code(self) -> int:  # type: ignore[override]
        """1 while an error or warning remains, else 0."""
        return ExitCode.FAILURE if self.remaining else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """The ``doctor --json`` document (schema version 1, ``docs/doctor.md``)."""
        return {
            "schemaVersion": 1, "profile": self.profile, "mode": self.mode,
            "findings": [f.to_json() for f in self.findings],
            "fixed": sum(1 for f in self.findings if f.fixed),
            "remaining": len(self.remaining),
        }

    def to_text(self) -> str:
        """One line per finding, then its fix, what would be fixed, or what was."""
        lines = []
        for item in self.findings:
            lines.append(f"{_MARK[item.severity]} {item.severity}: {item.message}")
            if item.fixed is True:
                lines.append(f"    fixed: {item.result}")
            elif item.fixed is False:
                lines.append(f"    fix failed: {item.result}")
            elif item.fix:
                verb = "would fix" if self.mode == "dry-run" and item.repair else "fix"
                lines.append(f"    {verb}: {item.fix}")
        if not self.findings:
            lines.append("no problems found")
        elif self.mode != "fix" and any(f.repair for f in self.findings if f.fixed is None):
            lines.append("run `openclaw doctor --fix` to apply the fixes marked fixable"
                         if self.mode == "check" else "(dry run: nothing was changed)")
        return "\n".join(lines)


def run_doctor(ctx: DoctorContext, mode: Mode = "check") -> DoctorResult:
    """Run every check; with ``mode="fix"`` apply each fixable finding's repair."""
    findings = run_checks(ctx)
    if mode == "fix":
        apply_fixes(findings)
    return DoctorResult(ctx.profile.name, mode, findings)
