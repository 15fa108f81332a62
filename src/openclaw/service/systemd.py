"""systemd backend: a user unit (``systemctl --user``) or a system unit (``--system``).

The unit is written atomically, then ``daemon-reload`` makes systemd see it. Every
operation goes through ``systemctl``; its state comes from ``systemctl show``, which
is cheap (one round trip on the manager's private socket) and needs no journald.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from openclaw.atomicfile import write_atomic
from openclaw.paths import Profile
from openclaw.service.backend import (
    InstalledService,
    OtherService,
    Runtime,
    RuntimeState,
    ServiceError,
    env_differences,
    scan_definitions,
)
from openclaw.service.runner import CommandResult, CommandRunner
from openclaw.service.spec import SERVICE_MARKER, Scope, ServiceSpec
from openclaw.service.systemd_unit import exec_argv, parse_environment, parse_unit, render_unit

__all__ = ["NO_SERVICE_MANAGER", "SYSTEMD_BOOTED", "SYSTEM_UNIT_DIRS", "SystemdBackend",
           "legacy_unit_names"]

#: Exists only on a host booted with systemd (sd_booted(3)); systemd creates it early.
SYSTEMD_BOOTED = Path("/run/systemd/system")
NO_SERVICE_MANAGER = (
    "no service manager on this host (systemd is not the init system here: a container, "
    "or WSL without systemd): run the gateway under your own supervisor instead, as "
    "`openclaw gateway` in the foreground (in tmux, under supervisord, or as a container's "
    "command with a restart policy)"
)
SYSTEM_UNIT_DIRS = (Path("/etc/systemd/system"), Path("/lib/systemd/system"),
                    Path("/usr/lib/systemd/system"))
_SHOW_PROPERTIES = (
    "LoadState,ActiveState,SubState,MainPID,NRestarts,ExecMainStatus,ExecMainCode,Result,"
    "UnitFileState,NeedDaemonReload,StateChangeTimestamp,DropInPaths,FragmentPath"
)
_GATEWAY_LIKE = re.compile(r"openclaw|clawdbot|moltbot|moltx", re.IGNORECASE)
_PROFILE_UNIT = re.compile(r"^openclaw-gateway(?:-[A-Za-z0-9_-]+)?\.service$")
_CLD_EXITED = "1"  # ExecMainCode: 1 exited, 2 killed, 3 dumped


def legacy_unit_names(profile: Profile) -> list[str]:
    """Unit names older releases used for this profile."""
    suffix = "" if profile.is_default else f"-{profile.name}"
    return [f"clawdbot-gateway{suffix}.service", f"moltbot-gateway{suffix}.service"]


def _user_unit_dir(environ: Mapping[str, str], profile: Profile) -> Path:
    config_home = environ.get("XDG_CONFIG_HOME")
    home = Path(environ.get("HOME") or profile.home)
    base = Path(config_home) if config_home else home / ".config"
    return base / "systemd" / "user"


def _pid1_is_systemd() -> bool:
    try:
        return Path("/proc/1/comm").read_text(encoding="ascii").strip() == "systemd"
    except OSError:
        return False


class SystemdBackend:
    """The profile's gateway as a systemd unit (user or system scope)."""

    def __init__(
        self,
        profile: Profile,
        *,
        scope: Scope = "user",
        env: Mapping[str, str] | None = None,
        runner: CommandRunner | None = None,
        booted_marker: Path | None = None,
    ) -> None:
        """Bind to ``profile``'s unit of ``scope``; ``env`` stands for ``os.environ``.
        ``runner`` and ``booted_marker`` (default :data:`SYSTEMD_BOOTED`) are seams
        for tests."""
        self.profile = profile
        self.booted_marker = booted_marker or SYSTEMD_BOOTED
        self.scope: Scope = scope
        self.kind = f"systemd-{scope}"
        self.name = profile.systemd_unit
        environ = dict(os.environ if env is None else env)
        if scope == "user" and not environ.get("XDG_RUNTIME_DIR"):
            default_runtime = Path(f"/run/user/{os.getuid()}")
            if default_runtime.is_dir():  # headless SSH sessions often lack it
                environ["XDG_RUNTIME_DIR"] = str(default_runtime)
        self.environ = environ
        self.runner = runner or CommandRunner(env=environ)
        self.unit_dir = (
            _user_unit_dir(environ, profile) if scope == "user" else SYSTEM_UNIT_DIRS[0]
        )
        self.definition_path = self.unit_dir / self.name

    # -- the manager ---------------------------------------------------------------

    def _systemctl(self, *args: str) -> CommandResult:
        scope = ("--user",) if self.scope == "user" else ()
        return self.runner.run(("systemctl", *scope, *args))

    def _check(self, result: CommandResult, doing: str) -> CommandResult:
        if not result.ok:
            raise ServiceError(f"systemctl could not {doing} {self.name}: {result.reason()}")
        return result

    def _start_job(self, verb: str) -> None:
        """Run a start/restart job. When the gateway itself failed, return quietly:
        the caller's verification reads the exit status and the gateway's own error,
        which say more than systemctl's "see journalctl" (journald may not exist)."""
        result = self._systemctl(verb, self.name)
        if result.ok:
            return
        if self.runtime().state in ("failed", "crash-looping", "stopped", "starting"):
            return
        self._check(result, verb)

    def availability(self) -> str | None:
        """None when systemctl can reach the manager of this scope; else why not.

        On a host without systemd at all (a container) the answer is one sentence:
        there is no service manager, run ``openclaw gateway`` under your own supervisor.
        """
        if self.scope == "system":
            return None if _pid1_is_systemd() else NO_SERVICE_MANAGER
        runtime_dir = self.environ.get("XDG_RUNTIME_DIR")
        bus = self.environ.get("DBUS_SESSION_BUS_ADDRESS", "")
        private = Path(runtime_dir) / "systemd" / "private" if runtime_dir else None
        bus_path = Path(bus.split("path=", 1)[1].split(",", 1)[0]) if "path=" in bus else None
        if (private and private.exists()) or (bus_path and bus_path.exists()):
            return None
        if not self.booted_marker.is_dir():
            return NO_SERVICE_MANAGER
        if not runtime_dir:
            return ("no systemd user manager reachable: XDG_RUNTIME_DIR is not set (export "
                    f"XDG_RUNTIME_DIR=/run/user/{os.getuid()} on headless hosts), or use "
                    "`openclaw gateway install --system`")
        return (f"no systemd user manager is running for this user ({runtime_dir}/systemd/"
                "private is missing): log in through a systemd session or enable linger, "
                "or use `openclaw gateway install --system`")

    # -- the definition ------------------------------------------------------------

    def render(self, spec: ServiceSpec) -> str:
        """The unit text for ``spec``."""
        return render_unit(spec)

    def _decode(self, name: str, path: Path) -> InstalledService | None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        unit = parse_unit(text)
        directories = unit.get(("Service", "WorkingDirectory"))
        return InstalledService(
            name=name,
            path=path,
            text=text,
            argv=exec_argv(unit),
            environment=parse_environment(unit),
            working_directory=directories[-1] if directories else None,
            env_files=[v.lstrip("-") for v in unit.get(("Service", "EnvironmentFile"), [])],
        )

    def read_installed(self) -> InstalledService | None:
        """This profile's unit, decoded, or None when it is not installed."""
        return self._decode(self.name, self.definition_path)

    def differences(self, spec: ServiceSpec, installed: InstalledService) -> list[str]:
        """Each ``[Section] Key`` whose values differ from what install writes now."""
        want = parse_unit(self.render(spec))
        have = parse_unit(installed.text)
        lines = []
        for key in sorted(set(want) | set(have)):
            if want.get(key) == have.get(key):
                continue
            name = key[1]
            if key not in have:
                lines.append(f"{name}= is missing (install writes {'; '.join(want[key])})")
            elif key not in want:
                lines.append(f"{name}= is not written by install ({'; '.join(have[key])})")
            elif name == "Environment":
                lines.append("Environment= differs: "
                             + ", ".join(self._env_diff(want[key], have[key])))
            else:
                lines.append(f"{name}= is {'; '.join(have[key])} "
                             f"(install writes {'; '.join(want[key])})")
        return lines

    @staticmethod
    def _env_diff(want: list[str], have: list[str]) -> list[str]:
        return env_differences(parse_environment({("Service", "Environment"): want}),
                               parse_environment({("Service", "Environment"): have}))

    def write(self, spec: ServiceSpec) -> None:
        """Write the unit (0644: it holds no secrets) and ``daemon-reload``."""
        try:
            write_atomic(self.definition_path, self.render(spec), 0o644)
        except OSError as exc:
            raise ServiceError(
                f"cannot write {self.definition_path}: {exc.strerror or exc}"
            ) from None
        self._check(self._systemctl("daemon-reload"), "reload units for")

    # -- lifecycle -----------------------------------------------------------------

    def enable_and_start(self, *, restart: bool) -> None:
        """``enable`` then ``start`` (or ``restart``); blocks until READY=1 or failure."""
        self._systemctl("reset-failed", self.name)
        self._check(self._systemctl("enable", self.name), "enable")
        self._start_job("restart" if restart else "start")

    def start(self) -> None:
        """Clear a previous give-up (start-limit-hit) and start."""
        self._systemctl("reset-failed", self.name)
        self._start_job("start")

    def stop(self) -> None:
        """Stop now; returns when systemd reports the unit stopped."""
        self._check(self._systemctl("stop", self.name), "stop")

    def restart(self) -> None:
        """Restart through systemd (reloading a changed unit first)."""
        if self.runtime().needs_reload:
            self._systemctl("daemon-reload")
        self._systemctl("reset-failed", self.name)
        self._start_job("restart")

    def remove(self) -> bool:
        """Disable and stop, delete the unit, reload; False when it was not installed."""
        return self._remove(self.name, self.definition_path)

    def _remove(self, name: str, path: Path) -> bool:
        if not path.exists():
            return False
        self._systemctl("disable", "--now", name)
        try:
            path.unlink()
        except OSError as exc:
            raise ServiceError(f"cannot remove {path}: {exc.strerror or exc}") from None
        self._systemctl("daemon-reload")
        self._systemctl("reset-failed", name)
        return True

    def runtime(self) -> Runtime:
        """Decode ``systemctl show`` into a :class:`Runtime`."""
        result = self._systemctl("show", self.name, "-p", _SHOW_PROPERTIES)
        if not result.ok:
            return Runtime("unknown", detail=f"systemctl show failed: {result.reason()}")
        props = dict(
            line.split("=", 1) for line in result.stdout.splitlines() if "=" in line
        )
        return runtime_from_properties(props, installed=self.definition_path.exists())

    # -- other services ------------------------------------------------------------

    def legacy_services(self) -> list[OtherService]:
        """clawdbot/moltbot units of this profile, user and system."""
        found = []
        dirs = [(self.unit_dir, self.scope)]
        if self.scope == "user":
            dirs.append((SYSTEM_UNIT_DIRS[0], "system"))
        for name in legacy_unit_names(self.profile):
            for directory, scope in dirs:
                path = directory / name
                if path.exists():
                    found.append(OtherService(name, path, scope, "legacy", self._command(path)))
        return found

    def remove_other(self, other: OtherService) -> None:
        """Remove a legacy unit of this backend's scope."""
        if other.scope != self.scope:
            raise ServiceError(
                f"{other.name} is a {other.scope} unit: remove it with "
                f"`sudo systemctl disable --now {other.name}` and delete {other.path}"
            )
        self._remove(other.name, other.path)

    @staticmethod
    def _command(path: Path) -> str:
        try:
            return " ".join(exec_argv(parse_unit(path.read_text(encoding="utf-8"))))
        except (OSError, UnicodeDecodeError):
            return ""

    def scan(self, deep: bool) -> list[OtherService]:
        """Gateway-like units besides this profile's (``deep``: system directories too)."""
        places: list[tuple[Path, str]] = [(_user_unit_dir(self.environ, self.profile), "user")]
        if deep:
            places += [(d, "system") for d in SYSTEM_UNIT_DIRS]
        legacy = set(legacy_unit_names(self.profile))
        return scan_definitions(places, "*.service", self.definition_path,
                                lambda path, scope: self._classify(path, scope, legacy))

    def _classify(self, path: Path, scope: str, legacy: set[str]) -> OtherService | None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        unit = parse_unit(text)
        command = " ".join(exec_argv(unit))
        if not (_GATEWAY_LIKE.search(path.name) or _GATEWAY_LIKE.search(command)):
            return None
        if path.name in legacy or path.name.startswith(("clawdbot-", "moltbot-")):
            return OtherService(path.name, path, scope, "legacy", command)
        marked = parse_environment(unit).get("OPENCLAW_SERVICE_MARKER") == SERVICE_MARKER
        if marked and _PROFILE_UNIT.match(path.name):
            return OtherService(path.name, path, scope, "profile", command)
        return OtherService(path.name, path, scope, "gateway-like", command)


def _int(text: str | None) -> int | None:
    return int(text) if text and text.lstrip("-").isdigit() else None


def runtime_from_properties(props: Mapping[str, str], *, installed: bool) -> Runtime:
    """Map systemd's unit properties to a runtime state (pure; unit-tested per state)."""
    load = props.get("LoadState", "")
    active = props.get("ActiveState", "")
    sub = props.get("SubState", "")
    result = props.get("Result") or None
    pid = _int(props.get("MainPID")) or None
    restarts = _int(props.get("NRestarts"))
    code = props.get("ExecMainCode", "")
    status = _int(props.get("ExecMainStatus"))
    exit_status = status if code in (_CLD_EXITED, "exited") else None
    unit_file_state = props.get("UnitFileState") or ""

    def make(state: RuntimeState, pid: int | None, detail: str | None = None) -> Runtime:
        return Runtime(
            state,
            pid=pid,
            detail=detail,
            restarts=restarts,
            last_exit_status=exit_status,
            result=result,
            since=props.get("StateChangeTimestamp") or None,
            enabled=unit_file_state.startswith("enabled") if unit_file_state else None,
            needs_reload=props.get("NeedDaemonReload") == "yes",
            drop_ins=[p for p in props.get("DropInPaths", "").split() if p],
        )

    state: RuntimeState
    detail = None
    if load == "not-found" and not installed:
        return make("not-installed", None)
    if active == "active" and sub in ("running", "reload"):
        state = "running"
    elif active == "activating" and sub == "auto-restart":
        state = "crash-looping"
        detail = (f"exited with status {exit_status}; systemd restarts it "
                  f"(restart {restarts or 0})")
    elif active in ("activating", "reloading"):
        state = "starting"
        if restarts:
            detail = f"systemd is starting it again (restart {restarts})"
    elif active == "deactivating":
        state = "stopping"
    elif active == "failed":
        if result == "start-limit-hit":
            state = "crash-looping"
            detail = (f"systemd gave up after {restarts or 0} restarts (start-limit-hit); "
                      f"last exit status {exit_status}")
        else:
            state = "failed"
            detail = f"last exit status {exit_status} ({result})"
            if exit_status == 78:
                detail = "the gateway refused its config (exit 78); not relaunched until fixed"
    elif active == "inactive":
        state = "stopped"
        pid = None
    else:
        state = "unknown"
        detail = f"ActiveState={active} SubState={sub}"
    return make(state, pid, detail)
