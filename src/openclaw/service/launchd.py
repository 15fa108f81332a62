"""launchd backend: a per-user LaunchAgent in the ``gui/<uid>`` domain (macOS).

The plist is written atomically to ``~/Library/LaunchAgents``; every operation goes
through ``launchctl`` with the modern verbs (``enable``, ``bootstrap``, ``kickstart``,
``bootout``, ``print``). launchd caches a job's definition when it is bootstrapped,
so a rewritten plist takes effect only after ``bootout`` + ``bootstrap``; a plain
restart is ``kickstart -k`` and keeps the loaded definition.

``launchctl bootstrap`` is known to fail transiently with ``5: Input/output error``
(notably right after a ``bootout``, while the old job is still being torn down), so
it is retried with a short backoff. Nothing here can run on Linux: the tests drive
this backend through a recording :class:`~openclaw.service.runner.CommandRunner`.
"""

from __future__ import annotations

import os
import plistlib
import re
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from openclaw.atomicfile import write_atomic
from openclaw.paths import Profile, ensure_private_dir
from openclaw.service.backend import (
    InstalledService,
    OtherService,
    Runtime,
    RuntimeState,
    ServiceError,
    env_differences,
    scan_definitions,
)
from openclaw.service.launchd_plist import (
    ENV_FILE_VAR,
    parse_plist,
    plist_argv,
    plist_environment,
    render_plist,
)
from openclaw.service.runner import CommandResult, CommandRunner
from openclaw.service.spec import SERVICE_MARKER, ServiceSpec

__all__ = [
    "BOOTSTRAP_BACKOFF_S",
    "SYSTEM_AGENT_DIRS",
    "LaunchdBackend",
    "legacy_labels",
    "runtime_from_print",
]

SYSTEM_AGENT_DIRS = (Path("/Library/LaunchAgents"), Path("/Library/LaunchDaemons"))
#: Delays between attempts of a ``bootstrap`` that failed with the transient EIO.
BOOTSTRAP_BACKOFF_S = (0.5, 1.0, 2.0, 4.0)
_GATEWAY_LIKE = re.compile(r"openclaw|clawdbot|moltbot|moltx", re.IGNORECASE)
_LEGACY_PREFIXES = ("com.openclaw.", "com.clawdbot.", "com.steipete.")
_PROFILE_PREFIX = "bot.molt."
_EIO = 5  # "Bootstrap failed: 5: Input/output error"
_TRANSIENT_TEXT = "input/output error"
_ALREADY_LOADED = (17, 37)  # EEXIST, EALREADY
_ALREADY_TEXT = ("service already loaded", "already bootstrapped", "already loaded")
_ABSENT = (3, 113)  # ESRCH; "Could not find service ... in domain for port"
_ABSENT_TEXT = ("no such process", "could not find service", "not find service")
_NO_LAUNCHCTL = (124, 127)  # the runner's "did not finish" / "command not found"
_CONFIG_REFUSED = 78  # EX_CONFIG: the gateway refused its config


def legacy_labels(profile: Profile) -> list[str]:
    """launchd labels older releases used for this profile."""
    if not profile.is_default:
        return [f"com.openclaw.{profile.name}"]
    return ["com.openclaw.gateway", "com.clawdbot.gateway", "com.steipete.clawdbot.gateway"]


def _mentions(result: CommandResult, texts: Sequence[str]) -> bool:
    output = f"{result.stderr}\n{result.stdout}".lower()
    return any(text in output for text in texts)


def _is_absent(result: CommandResult) -> bool:
    """True when launchctl says the service is not loaded (or the process is gone)."""
    return result.returncode in _ABSENT or _mentions(result, _ABSENT_TEXT)


def _read_plist(path: Path) -> tuple[str, dict[str, Any]] | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data.decode("utf-8", errors="replace"), parse_plist(data)


def _label_of(path: Path, document: Mapping[str, Any]) -> str:
    label = document.get("Label")
    return label if isinstance(label, str) and label else path.stem


def _canonical(value: Any) -> bytes:
    """A plist value in a form where ``True`` and ``1`` differ (``==`` conflates them)."""
    return plistlib.dumps({"v": value}, fmt=plistlib.FMT_XML, sort_keys=True)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return " ".join(_show(item) for item in value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_show(v)}" for k, v in sorted(value.items())) + "}"
    return str(value)


class LaunchdBackend:
    """The profile's gateway as a LaunchAgent of the logged-in user (``gui/<uid>``)."""

    def __init__(
        self,
        profile: Profile,
        *,
        env: Mapping[str, str] | None = None,
        runner: CommandRunner | None = None,
        uid: int | None = None,
        forced: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        system_dirs: Sequence[Path] = SYSTEM_AGENT_DIRS,
    ) -> None:
        """Bind to ``profile``; ``uid``, ``forced``, ``sleep`` and ``system_dirs`` are
        seams for tests (a fake uid, availability on Linux, no real waiting, and
        scratch directories standing for ``/Library``)."""
        self.profile = profile
        self.kind = "launchd"
        self.name = profile.launchd_label
        self.environ = dict(os.environ if env is None else env)
        self.runner = runner or CommandRunner(env=self.environ)
        self.uid = os.getuid() if uid is None else uid
        self.forced = forced
        self.sleep = sleep
        self.system_dirs = tuple(system_dirs)
        self.domain = f"gui/{self.uid}"
        self.target = f"{self.domain}/{self.name}"
        home = Path(self.environ.get("HOME") or profile.home)
        self.agents_dir = home / "Library" / "LaunchAgents"
        self.definition_path = self.agents_dir / f"{self.name}.plist"

    # -- the manager ---------------------------------------------------------------

    def _launchctl(self, *args: str) -> CommandResult:
        return self.runner.run(("launchctl", *args))

    def _fail(self, result: CommandResult, doing: str) -> ServiceError:
        return ServiceError(f"launchctl could not {doing} {self.name}: {result.reason()}")

    def availability(self) -> str | None:
        """None when launchctl can be used (macOS with launchctl on PATH, or forced)."""
        if self.forced:
            return None
        if sys.platform != "darwin":
            return (f"launchd is macOS only (this is {sys.platform}): use `--backend systemd` "
                    "on Linux, or run `openclaw gateway` under your own supervisor")
        if shutil.which("launchctl", path=self.environ.get("PATH")) is None:
            return ("launchctl is not on PATH: add /bin to PATH (launchctl lives in "
                    "/bin/launchctl), or run `openclaw gateway` in a terminal")
        return None

    def _loaded(self, label: str | None = None) -> bool:
        return self._launchctl("print", f"{self.domain}/{label or self.name}").ok

    def _enable(self) -> None:
        """Clear a persisted "disabled" mark (``bootstrap`` refuses disabled services)."""
        result = self._launchctl("enable", self.target)
        if not result.ok:
            raise self._fail(result, "enable")

    def _bootstrap(self) -> bool:
        """Load the plist into the domain, retrying launchd's transient EIO.

        Returns True when this call loaded the job (``RunAtLoad`` starts it), False
        when launchd says it was already loaded.
        """
        delays = iter(BOOTSTRAP_BACKOFF_S)
        attempts = 0
        while True:
            attempts += 1
            result = self._launchctl("bootstrap", self.domain, str(self.definition_path))
            if result.ok:
                return True
            if result.returncode in _ALREADY_LOADED or _mentions(result, _ALREADY_TEXT):
                return False
            if result.returncode != _EIO and not _mentions(result, (_TRANSIENT_TEXT,)):
                raise self._fail(result, "bootstrap")
            delay = next(delays, None)
            if delay is None:
                raise ServiceError(
                    f"launchctl could not bootstrap {self.name} after {attempts} attempts: "
                    f"{result.reason()} (check {self.definition_path} with "
                    f"`plutil -lint`, and `launchctl print {self.target}`)"
                )
            self.sleep(delay)

    def _kickstart(self, *, kill: bool) -> None:
        result = self._launchctl("kickstart", *(("-k",) if kill else ()), self.target)
        if not result.ok:
            raise self._fail(result, "restart" if kill else "start")

    def _bootout(self, label: str | None = None) -> None:
        """Unload a job (stopping it); an already absent job counts as success."""
        result = self._launchctl("bootout", f"{self.domain}/{label or self.name}")
        if not result.ok and not _is_absent(result):
            raise self._fail(result, "stop")

    # -- the definition ------------------------------------------------------------

    def render(self, spec: ServiceSpec) -> str:
        """The plist text for ``spec``."""
        return render_plist(spec, self.name)

    def read_installed(self) -> InstalledService | None:
        """This profile's plist, decoded, or None when it is not installed."""
        read = _read_plist(self.definition_path)
        if read is None:
            return None
        text, document = read
        environment = plist_environment(document)
        directory = document.get("WorkingDirectory")
        return InstalledService(
            name=self.name,
            path=self.definition_path,
            text=text,
            argv=plist_argv(document),
            environment=environment,
            working_directory=directory if isinstance(directory, str) else None,
            env_files=[environment[ENV_FILE_VAR]] if environment.get(ENV_FILE_VAR) else [],
        )

    def differences(self, spec: ServiceSpec, installed: InstalledService) -> list[str]:
        """Each plist key whose value differs from what install writes now."""
        want = parse_plist(self.render(spec))
        have = parse_plist(installed.text)
        lines = []
        for key in sorted(set(want) | set(have)):
            if key in want and key in have and _canonical(want[key]) == _canonical(have[key]):
                continue
            if key not in have:
                lines.append(f"{key} is missing (install writes {_show(want[key])})")
            elif key not in want:
                shown = "..." if key == "EnvironmentVariables" else _show(have[key])
                lines.append(f"{key} is not written by install ({shown})")
            elif key == "EnvironmentVariables":
                lines.append("EnvironmentVariables differs: "
                             + ", ".join(self._env_diff(want[key], have[key])))
            else:
                lines.append(f"{key} is {_show(have[key])} (install writes {_show(want[key])})")
        return lines

    @staticmethod
    def _env_diff(want: Any, have: Any) -> list[str]:
        """Names only: an installed plist may carry an inline secret."""
        wanted = want if isinstance(want, dict) else {}
        had = have if isinstance(have, dict) else {}
        return env_differences({k: _canonical(v) for k, v in wanted.items()},
                               {k: _canonical(v) for k, v in had.items()}) or ["not a dictionary"]

    def write(self, spec: ServiceSpec) -> None:
        """Write the plist (0644: it holds no secrets); launchd sees it at bootstrap.

        The log directory is created too: launchd does not create the parents of
        ``StandardOutPath`` and would fail to spawn the job without them.
        """
        try:
            if spec.log_dir.is_relative_to(spec.profile.state_dir):
                ensure_private_dir(spec.profile.state_dir)
            ensure_private_dir(spec.log_dir)
            write_atomic(self.definition_path, self.render(spec), 0o644)
        except OSError as exc:
            raise ServiceError(
                f"cannot write {self.definition_path}: {exc.strerror or exc}"
            ) from None

    # -- lifecycle -----------------------------------------------------------------

    def enable_and_start(self, *, restart: bool) -> None:
        """``enable``, load the plist (``bootstrap``), then ``kickstart``.

        ``restart`` (the plist was just rewritten) first unloads the job with
        ``bootout``: launchd keeps the definition it loaded, and only a new
        ``bootstrap`` reads the file again. Without ``restart`` an already loaded
        job is only kickstarted (a no-op when it runs).
        """
        self._enable()
        if restart:
            self._bootout()
            fresh = self._bootstrap()
        else:
            fresh = not self._loaded() and self._bootstrap()
        self._kickstart(kill=restart and not fresh)

    def start(self) -> None:
        """Load the job when it is not loaded (after ``stop``), then ``kickstart``."""
        if not self._loaded():
            self._enable()
            self._bootstrap()
        self._kickstart(kill=False)

    def stop(self) -> None:
        """Stop now with ``bootout`` (unloads the job; an absent job is success).

        bootout is not persistent: the job is loaded again at the next login (the
        plist stays in LaunchAgents) or by the next ``start``/``install``, which
        bootstrap it. ``enable`` always runs before a bootstrap, so a persisted
        "disabled" mark never strands the service.
        """
        self._bootout()

    def restart(self) -> None:
        """``kickstart -k`` (never bootout + bootstrap); loads the job when it is absent."""
        result = self._launchctl("kickstart", "-k", self.target)
        if result.ok:
            return
        if not _is_absent(result) and self._loaded():
            raise self._fail(result, "restart")
        self._enable()
        self._bootstrap()
        self._kickstart(kill=False)

    def remove(self) -> bool:
        """Unload the job and delete the plist; False when there was no plist."""
        return self._remove(self.name, self.definition_path)

    def _remove(self, label: str, path: Path) -> bool:
        self._bootout(label)
        if not path.exists():
            return False
        try:
            path.unlink()
        except OSError as exc:
            raise ServiceError(f"cannot remove {path}: {exc.strerror or exc}") from None
        return True

    def runtime(self) -> Runtime:
        """Decode ``launchctl print gui/<uid>/<label>`` into a :class:`Runtime`."""
        result = self._launchctl("print", self.target)
        if result.returncode in _NO_LAUNCHCTL:
            return Runtime("unknown", detail=f"launchctl print failed: {result.reason()}")
        return runtime_from_print(result.stdout if result.ok else "", loaded=result.ok,
                                  installed=self.definition_path.exists())

    # -- other services ------------------------------------------------------------

    def legacy_services(self) -> list[OtherService]:
        """com.openclaw / com.clawdbot / com.steipete LaunchAgents of this profile."""
        found = []
        for label in legacy_labels(self.profile):
            path = self.agents_dir / f"{label}.plist"
            read = _read_plist(path)
            if read is not None:
                document = read[1]
                found.append(OtherService(_label_of(path, document), path, "user", "legacy",
                                          " ".join(plist_argv(document))))
        return found

    def remove_other(self, other: OtherService) -> None:
        """Unload and delete another LaunchAgent of this user (a legacy one)."""
        if other.scope != "user":
            domain = "system" if "LaunchDaemons" in other.path.parts else self.domain
            raise ServiceError(
                f"{other.name} is a {other.scope} job: remove it with "
                f"`sudo launchctl bootout {domain}/{other.name}` and delete {other.path}"
            )
        self._remove(other.name, other.path)

    def scan(self, deep: bool) -> list[OtherService]:
        """Gateway-like plists besides this profile's (``deep``: /Library too)."""
        places: list[tuple[Path, str]] = [(self.agents_dir, "user")]
        if deep:
            places += [(d, "system") for d in self.system_dirs]
        return scan_definitions(places, "*.plist", self.definition_path, self._classify)

    @staticmethod
    def _classify(path: Path, scope: str) -> OtherService | None:
        read = _read_plist(path)
        if read is None:
            return None
        document = read[1]
        label = _label_of(path, document)
        command = " ".join(plist_argv(document))
        if not any(_GATEWAY_LIKE.search(s) for s in (label, path.name, command)):
            return None
        if label.startswith(_LEGACY_PREFIXES):
            return OtherService(label, path, scope, "legacy", command)
        marked = plist_environment(document).get("OPENCLAW_SERVICE_MARKER") == SERVICE_MARKER
        if marked and label.startswith(_PROFILE_PREFIX):
            return OtherService(label, path, scope, "profile", command)
        return OtherService(label, path, scope, "gateway-like", command)


# -- launchctl print ---------------------------------------------------------------

def _top_level_fields(text: str) -> dict[str, str]:
    """``key = value`` lines of the job's own block (nested ``{...}`` blocks skipped)."""
    fields: dict[str, str] = {}
    depth = 0
    for raw in text.splitlines():
        line = raw.strip()
        if line == "}":
            depth = max(0, depth - 1)
            continue
        key, sep, value = line.partition(" = ")
        if value.endswith("{"):
            depth += 1
            continue
        if sep and depth <= 1 and key not in fields:
            fields[key] = value.strip()
    return fields


def _leading_int(text: str | None) -> int | None:
    match = re.match(r"-?\d+", text or "")
    return int(match.group()) if match else None


def runtime_from_print(text: str, *, loaded: bool, installed: bool) -> Runtime:
    """Map ``launchctl print`` output to a runtime state (pure; unit-tested per state).

    ``loaded`` is whether ``launchctl print`` succeeded (the job is bootstrapped);
    ``installed`` whether the plist exists. Only the job's own fields count
    (``state``, ``pid``, ``runs``, ``last exit code``, ``last terminating signal``);
    nested blocks such as the resource coalition carry a ``state`` of their own.
    """
    if not loaded:
        if not installed:
            return Runtime("not-installed")
        return Runtime("stopped", detail="not loaded in launchd (stopped, or not yet "
                                         "bootstrapped); `openclaw gateway start` loads it")
    fields = _top_level_fields(text)
    job_state = fields.get("state", "")
    pid = _leading_int(fields.get("pid")) or None
    runs = _leading_int(fields.get("runs"))
    exit_code = _leading_int(fields.get("last exit code"))
    signal = fields.get("last terminating signal") or None
    failed_run = bool(exit_code) or signal is not None
    restarts = max(0, runs - 1) if runs is not None else None
    common: dict[str, Any] = {"restarts": restarts, "last_exit_status": exit_code}
    state: RuntimeState
    detail = None
    if job_state == "running" and pid:
        state = "running"
    elif exit_code == _CONFIG_REFUSED:
        state = "failed"
        pid = None
        detail = ("the gateway refused its config (exit 78); launchd retries it every "
                  "ThrottleInterval seconds until the config is fixed")
    elif job_state in ("spawn scheduled", "exited") and failed_run and (runs or 0) > 1:
        state = "crash-looping"
        pid = None
        cause = f"exit status {exit_code}" if exit_code else f"signal {signal}"
        detail = f"{cause}; launchd relaunches it (run {runs})"
    elif job_state in ("running", "spawn scheduled", "spawned"):
        state = "starting"
    elif job_state in ("waiting", "not running", "exited"):
        state = "stopped"
        pid = None
        if failed_run:
            cause = f"exit status {exit_code}" if exit_code else f"signal {signal}"
            detail = f"last run ended with {cause}"
    else:
        state = "unknown"
        detail = f"launchd state {job_state or '(none)'}"
    return Runtime(state, pid=pid, detail=detail, **common)
