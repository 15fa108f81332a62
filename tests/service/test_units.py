"""Unit tests for openclaw.service: unit rendering/parsing, spec, env file, systemd state.

Pure and fast: no subprocess and no systemd. Commands go to a recording runner, and
every path lives under ``tmp_path``.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from openclaw import __version__
from openclaw.config import Config, parse_config
from openclaw.envfile import load_into_environ, read_env_file, write_env_file
from openclaw.paths import Profile, resolve_profile
from openclaw.redact import is_secret_key
from openclaw.service.lasterror import last_error
from openclaw.service.linger import check_linger
from openclaw.service.runner import CommandResult, CommandRunner
from openclaw.service.spec import (
    SERVICE_MARKER,
    STOP_MARGIN_S,
    ServiceSpec,
    build_spec,
    openclaw_command,
)
from openclaw.service.systemd import SystemdBackend, runtime_from_properties
from openclaw.service.systemd_unit import exec_argv, parse_environment, parse_unit, render_unit

PROGRAM = ("/opt/openclaw/venv/bin/openclaw",)
SECRET = "tok-5ecret-value-0123456789"


class RecordingRunner(CommandRunner):
    """A runner that never runs anything: it records argv and returns a canned result."""

    def __init__(self, returncode: int = 0, stdout: str = "", stderr: str = "") -> None:
        super().__init__(env={})
        self.calls: list[tuple[str, ...]] = []
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def run(self, argv: Sequence[str], *, timeout: float | None = None) -> CommandResult:
        self.calls.append(tuple(argv))
        return CommandResult(tuple(argv), self.returncode, self.stdout, self.stderr)


def profile_in(home: Path, name: str | None = None) -> Profile:
    return resolve_profile(name, env={"HOME": str(home)})


def make_spec(
    home: Path,
    *,
    document: dict[str, Any] | None = None,
    scope: str = "user",
    user: str | None = None,
    program: tuple[str, ...] = PROGRAM,
    port: int = 18789,
    name: str | None = None,
) -> ServiceSpec:
    profile = profile_in(home, name)
    config = parse_config(document or {}, "test")
    return build_spec(profile, config, port, scope=scope,  # type: ignore[arg-type]
                      service_name=profile.systemd_unit, program=program, user=user,
                      env={"HOME": str(home)})


def one(unit: dict[tuple[str, str], list[str]], section: str, key: str) -> str:
    """The single value of ``[section] key`` (fails when absent or repeated)."""
    values = unit.get((section, key))
    assert values is not None, f"[{section}] {key}= is missing"
    assert len(values) == 1, f"[{section}] {key}= is repeated: {values}"
    return values[0]


# --- render_unit ---------------------------------------------------------------------

USER_KEYS = {
    ("Unit", "Description"), ("Unit", "After"), ("Unit", "Wants"),
    ("Unit", "StartLimitBurst"), ("Unit", "StartLimitIntervalSec"),
    ("Service", "Type"), ("Service", "NotifyAccess"), ("Service", "ExecStart"),
    ("Service", "WorkingDirectory"), ("Service", "Environment"),
    ("Service", "EnvironmentFile"), ("Service", "Restart"), ("Service", "RestartSec"),
    ("Service", "RestartPreventExitStatus"), ("Service", "SuccessExitStatus"),
    ("Service", "TimeoutStartSec"), ("Service", "TimeoutStopSec"), ("Service", "KillMode"),
    ("Service", "UMask"), ("Service", "OOMPolicy"), ("Service", "WatchdogSec"),
    ("Install", "WantedBy"),
}


@pytest.mark.parametrize("scope", ["user", "system"])
def test_render_unit_every_key(tmp_path: Path, scope: str) -> None:
    document = {"gateway": {"drainTimeoutMs": 42_500},
                "service": {"restartSec": 7, "watchdogSec": 45}}
    spec = make_spec(tmp_path, document=document, scope=scope,
                     user="gw" if scope == "system" else None, port=19123, name="rescue")
    profile = spec.profile
    unit = parse_unit(render_unit(spec))

    expected_keys = set(USER_KEYS)
    if scope == "system":
        expected_keys.add(("Service", "User"))
    assert set(unit) == expected_keys

    # [Unit]
    description = one(unit, "Unit", "Description")
    assert "rescue" in description
    assert __version__ in description
    assert one(unit, "Unit", "After") == "network-online.target"
    assert one(unit, "Unit", "Wants") == "network-online.target"
    assert one(unit, "Unit", "StartLimitBurst") == "5"
    assert one(unit, "Unit", "StartLimitIntervalSec") == "60"

    # [Service]
    assert one(unit, "Service", "Type") == "notify"
    assert one(unit, "Service", "NotifyAccess") == "main"
    assert one(unit, "Service", "ExecStart") == f"{PROGRAM[0]} gateway --port 19123"
    argv = exec_argv(unit)
    assert argv == [PROGRAM[0], "gateway", "--port", "19123"]
    assert Path(argv[0]).is_absolute()
    assert one(unit, "Service", "WorkingDirectory") == str(tmp_path)
    assert parse_environment(unit) == {
        "HOME": str(tmp_path),
        "PATH": "/opt/openclaw/venv/bin:/usr/local/bin:/usr/bin:/bin",
        "OPENCLAW_PROFILE": "rescue",
        "OPENCLAW_STATE_DIR": str(profile.state_dir),
        "OPENCLAW_CONFIG_PATH": str(profile.config_path),
        "OPENCLAW_SERVICE_MARKER": "openclaw",
        "OPENCLAW_SERVICE_KIND": "gateway",
        "OPENCLAW_SERVICE_VERSION": __version__,
        "OPENCLAW_SERVICE_NAME": "openclaw-gateway-rescue.service",
    }
    # One Environment= line per variable (no secrets among them).
    assert len(unit[("Service", "Environment")]) == 9
    assert one(unit, "Service", "EnvironmentFile") == f"-{profile.state_dir}/service.env"
    assert one(unit, "Service", "Restart") == "always"
    assert one(unit, "Service", "RestartSec") == "7"
    assert one(unit, "Service", "RestartPreventExitStatus") == "78"
    assert one(unit, "Service", "SuccessExitStatus") == "0 143"
    assert one(unit, "Service", "TimeoutStartSec") == "30"
    assert int(one(unit, "Service", "TimeoutStopSec")) > 42.5
    assert one(unit, "Service", "KillMode") == "mixed"
    assert one(unit, "Service", "UMask") == "0077"
    assert one(unit, "Service", "OOMPolicy") == "continue"
    assert one(unit, "Service", "WatchdogSec") == "45"
    assert ("Service", "MemoryHigh") not in unit
    assert ("Service", "MemoryMax") not in unit

    # [Install] and scope
    if scope == "system":
        assert one(unit, "Service", "User") == "gw"
        assert one(unit, "Install", "WantedBy") == "multi-user.target"
    else:
        assert ("Service", "User") not in unit
        assert one(unit, "Install", "WantedBy") == "default.target"


def test_render_unit_default_config_timeouts(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    unit = parse_unit(render_unit(spec))
    drain_s = Config().gateway.drain_timeout_ms / 1000
    assert int(one(unit, "Service", "TimeoutStopSec")) > drain_s
    assert one(unit, "Service", "WatchdogSec") == str(Config().service.watchdog_sec)
    assert one(unit, "Service", "RestartSec") == str(Config().service.restart_sec)
    assert "default" in one(unit, "Unit", "Description")


def test_render_unit_watchdog_zero_is_absent(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, document={"service": {"watchdogSec": 0}})
    text = render_unit(spec)
    assert ("Service", "WatchdogSec") not in parse_unit(text)
    assert "WatchdogSec" not in text


def test_render_unit_memory_limits_only_when_configured(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, document={"service": {"memoryHigh": "512M", "memoryMax": "1G"}})
    unit = parse_unit(render_unit(spec))
    assert one(unit, "Service", "MemoryHigh") == "512M"
    assert one(unit, "Service", "MemoryMax") == "1G"

    only_max = make_spec(tmp_path, document={"service": {"memoryMax": "80%"}})
    unit = parse_unit(render_unit(only_max))
    assert ("Service", "MemoryHigh") not in unit
    # MemoryMax= resolves no specifiers, so the percentage is written verbatim.
    assert one(unit, "Service", "MemoryMax") == "80%"


def test_render_unit_never_contains_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("OPENCLAW_GATEWAY_TOKEN", SECRET)
    monkeypatch.setenv("OPENCLAW_GATEWAY_PASSWORD", SECRET + "-pw")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET + "-api")
    profile = profile_in(tmp_path)
    for env in (None, dict(os.environ)):  # os.environ itself and an explicit copy
        for scope, user in (("user", None), ("system", "gw")):
            spec = build_spec(profile, Config(), 18789, scope=scope,  # type: ignore[arg-type]
                              service_name=profile.systemd_unit, program=PROGRAM,
                              user=user, env=env)
            text = render_unit(spec)
            assert SECRET not in text
            assert "OPENCLAW_GATEWAY_TOKEN" not in parse_environment(parse_unit(text))
            assert not [key for key in spec.environment if is_secret_key(key)]
            # The secret's home is the env file the unit references.
            assert f"EnvironmentFile=-{profile.service_env_path}" in text


AWKWARD = 'we ird %h 100% $HOME ${X} "q" it\'s'


def test_render_unit_awkward_paths_round_trip(tmp_path: Path) -> None:
    home = tmp_path / AWKWARD / "home"
    program = (str(tmp_path / AWKWARD / "bin" / 'open claw%i$$x"y'),)
    profile = profile_in(home)
    spec = build_spec(profile, Config(), 18790, service_name=profile.systemd_unit,
                      program=program, env={"HOME": str(home)})
    unit = parse_unit(render_unit(spec))

    assert exec_argv(unit) == [program[0], "gateway", "--port", "18790"]
    environment = parse_environment(unit)
    assert environment["HOME"] == str(home)
    assert environment["OPENCLAW_STATE_DIR"] == str(profile.state_dir)
    assert environment["OPENCLAW_CONFIG_PATH"] == str(profile.config_path)
    assert environment["PATH"].split(":")[0] == str(Path(program[0]).parent)
    assert environment == spec.environment
    # Specifiers are escaped where systemd would expand them.
    assert one(unit, "Service", "WorkingDirectory") == str(home).replace("%", "%%")
    assert "%h" not in one(unit, "Service", "ExecStart").replace("%%", "")


def test_render_unit_backslash_round_trip(tmp_path: Path) -> None:
    home = tmp_path / "back\\slash\\home"
    program = (str(tmp_path / "b\\in" / "openclaw"),)
    profile = profile_in(home)
    spec = build_spec(profile, Config(), 18791, service_name=profile.systemd_unit,
                      program=program, env={"HOME": str(home)})
    unit = parse_unit(render_unit(spec))
    assert exec_argv(unit)[0] == program[0]
    assert parse_environment(unit)["HOME"] == str(home)


# --- parse_unit / exec_argv / parse_environment ---------------------------------------

HAND_WRITTEN = """\
# a comment
; another comment
[Unit]
Description=Hand written
  # indented comment

[Service]
Environment=A=1
Environment="B=two words" C=3
Environment=A=override
ExecStart=-/usr/bin/openclaw gateway \\
    --port 18800 \\
    --verbose
ExecStartPre=/bin/true
Restart = on-failure
NoEquals
[Install]
WantedBy=default.target
"""


def test_parse_unit_comments_continuations_repeats() -> None:
    unit = parse_unit(HAND_WRITTEN)
    assert unit[("Unit", "Description")] == ["Hand written"]
    assert unit[("Service", "Environment")] == ["A=1", '"B=two words" C=3', "A=override"]
    assert unit[("Service", "Restart")] == ["on-failure"]
    assert unit[("Install", "WantedBy")] == ["default.target"]
    assert not any("comment" in key or "comment" in " ".join(values)
                   for (_, key), values in unit.items())
    assert not any(key == "NoEquals" for _, key in unit)
    execstart = one(unit, "Service", "ExecStart")
    assert execstart.startswith("-/usr/bin/openclaw gateway")
    assert "18800" in execstart and "--verbose" in execstart


def test_parse_unit_comment_lines_inside_continuation_are_skipped() -> None:
    # systemd.syntax(7): "When a comment line or lines follow a line ending with a
    # backslash, the comment block is ignored, so the continued line is concatenated
    # with whatever follows the comment block." (its own example, plus an ExecStart)
    text = ("[Section C]\n"
            "KeyThree=value 3\\\n"
            "# this line is ignored\n"
            "; this line is ignored too\n"
            "       value 3 continued\n"
            "[Service]\n"
            "ExecStart=/usr/bin/openclaw gateway \\\n"
            "#    --verbose \\\n"
            "    --port 18800\n")
    unit = parse_unit(text)
    assert unit[("Section C", "KeyThree")] == ["value 3 value 3 continued"]
    assert exec_argv(unit) == ["/usr/bin/openclaw", "gateway", "--port", "18800"]


def test_exec_argv_strips_prefix_and_joins_continuations() -> None:
    unit = parse_unit(HAND_WRITTEN)
    assert exec_argv(unit) == ["/usr/bin/openclaw", "gateway", "--port", "18800", "--verbose"]


def test_exec_argv_last_nonempty_execstart_and_missing() -> None:
    unit = parse_unit("[Service]\nExecStart=/old/openclaw gateway\nExecStart=\n"
                      "ExecStart=@/new/openclaw argv0 gateway\n")
    assert exec_argv(unit) == ["/new/openclaw", "argv0", "gateway"]
    assert exec_argv(parse_unit("[Service]\nType=simple\n")) == []


def test_parse_environment_later_wins_and_quotes() -> None:
    unit = parse_unit(HAND_WRITTEN)
    assert parse_environment(unit) == {"A": "override", "B": "two words", "C": "3"}
    assert parse_environment({}) == {}


# --- spec: build_spec and openclaw_command ----------------------------------------------


def test_build_spec_fields(tmp_path: Path) -> None:
    profile = profile_in(tmp_path, "rescue")
    config = parse_config({
        "gateway": {"drainTimeoutMs": 12_001},
        "logging": {"dir": str(tmp_path / "custom-logs")},
        "service": {"restartSec": 3, "watchdogSec": 0, "memoryHigh": "256M",
                    "memoryMax": "512M"},
    }, "test")
    spec = build_spec(profile, config, 19500, scope="system", service_name="svc.service",
                      program=("/usr/bin/openclaw",), user="gw", env={"HOME": str(tmp_path)})
    assert spec.profile == profile
    assert spec.scope == "system"
    assert spec.program == ("/usr/bin/openclaw",)
    assert spec.argv == ("/usr/bin/openclaw", "gateway", "--port", "19500")
    assert spec.port == 19500
    assert spec.working_directory == tmp_path
    assert spec.env_file == profile.state_dir / "service.env"
    assert spec.description == f"OpenClaw Gateway (profile: rescue, v{__version__})"
    assert spec.restart_sec == 3
    assert spec.watchdog_sec == 0
    assert spec.timeout_stop_sec == math.ceil(12.001) + STOP_MARGIN_S
    assert spec.timeout_stop_sec > 12.001
    assert spec.memory_high == "256M"
    assert spec.memory_max == "512M"
    assert spec.user == "gw"
    assert spec.log_dir == tmp_path / "custom-logs"
    # bin dir first, base path deduplicated
    assert spec.environment["PATH"] == "/usr/bin:/usr/local/bin:/bin"
    assert spec.environment["OPENCLAW_SERVICE_MARKER"] == SERVICE_MARKER == "openclaw"
    assert spec.environment["OPENCLAW_SERVICE_NAME"] == "svc.service"
    assert spec.environment["OPENCLAW_PROFILE"] == "rescue"


def test_build_spec_defaults(tmp_path: Path) -> None:
    profile = profile_in(tmp_path)
    spec = build_spec(profile, Config(), 18789, service_name=profile.systemd_unit,
                      program=PROGRAM, env={"HOME": str(tmp_path)})
    assert spec.scope == "user"
    assert spec.user is None
    assert spec.log_dir == profile.log_dir
    assert spec.timeout_stop_sec == 5 + STOP_MARGIN_S
    assert spec.memory_high is None and spec.memory_max is None
    assert spec.watchdog_sec == 30


def test_build_spec_home_falls_back_to_profile_home(tmp_path: Path) -> None:
    profile = profile_in(tmp_path)
    spec = build_spec(profile, Config(), 18789, service_name=profile.systemd_unit,
                      program=PROGRAM, env={})
    assert spec.environment["HOME"] == str(profile.home)
    assert spec.working_directory == profile.home


def test_build_spec_default_program_is_openclaw_command(tmp_path: Path) -> None:
    profile = profile_in(tmp_path)
    spec = build_spec(profile, Config(), 18789, service_name=profile.systemd_unit,
                      env={"HOME": str(tmp_path)})
    assert spec.program == openclaw_command()
    assert Path(spec.program[0]).is_absolute()


def fake_interpreter(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "venv dir" / "bin"
    bin_dir.mkdir(parents=True)
    return bin_dir / "python3"  # need not exist: only its directory is looked at


def test_openclaw_command_prefers_executable_script(tmp_path: Path) -> None:
    python = fake_interpreter(tmp_path)
    script = python.parent / "openclaw"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    assert openclaw_command(str(python)) == (str(script),)


def test_openclaw_command_non_executable_script_falls_back(tmp_path: Path) -> None:
    python = fake_interpreter(tmp_path)
    script = python.parent / "openclaw"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    if os.access(script, os.X_OK):  # some platforms let root execute without an x bit
        pytest.skip("this platform treats a 0644 file as executable")
    assert openclaw_command(str(python)) == (str(python), "-m", "openclaw")


def test_openclaw_command_without_script_runs_module(tmp_path: Path) -> None:
    python = fake_interpreter(tmp_path)
    assert openclaw_command(str(python)) == (str(python), "-m", "openclaw")
    (python.parent / "openclaw").mkdir()  # a directory is not a script
    assert openclaw_command(str(python)) == (str(python), "-m", "openclaw")


def test_openclaw_command_absolute_and_keeps_symlinks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "python3").write_text("")
    python = fake_interpreter(tmp_path)
    python.symlink_to(real / "python3")
    monkeypatch.chdir(tmp_path)
    command = openclaw_command(os.path.join("venv dir", "bin", "python3"))
    assert command == (str(python), "-m", "openclaw")
    assert Path(command[0]).is_absolute()


# --- envfile --------------------------------------------------------------------------

ENV_VALUES = {
    "PLAIN": "abc123",
    "SPACES": "two words  and more ",
    "LEADING": "  padded",
    "DQUOTE": 'say "hi"',
    "SQUOTE": "it's",
    "HASH": "before # after",
    "HASHSTART": "#notacomment",
    "EQUALS": "a=b=c",
    "BACKSLASH": "C:\\path\\to\\",
    "MIXED": 'q"\\"x\\\\',
    "DOLLAR": "$HOME and ${PATH}",
    "EMPTY": "",
    "OPENCLAW_GATEWAY_TOKEN": SECRET,
}


def test_envfile_round_trip_and_modes(tmp_path: Path) -> None:
    path = tmp_path / "state" / "service.env"
    write_env_file(path, ENV_VALUES)
    assert read_env_file(path) == ENV_VALUES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["service.env"]  # no temp left
    assert path.read_text().startswith("#")  # the explanatory header is a comment


def test_envfile_rewrite_tightens_mode(tmp_path: Path) -> None:
    path = tmp_path / "service.env"
    path.write_text("OLD=1\n")
    path.chmod(0o644)
    write_env_file(path, {"NEW": "2"})
    assert read_env_file(path) == {"NEW": "2"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_read_env_file_syntax(tmp_path: Path) -> None:
    path = tmp_path / "service.env"
    path.write_text(
        "# comment\n"
        "  # indented comment\n"
        "; semicolon comment\n"
        "\n"
        "export EXPORTED=yes\n"
        "SPACED = value with spaces  \n"
        "SINGLE='single \"quoted\" \\n'\n"
        'DOUBLE="a \\"b\\" c"\n'
        "not a line\n"
        "1BAD=digit-first\n"
        "LAST=first\n"
        "LAST=second\n"
    )
    assert read_env_file(path) == {
        "EXPORTED": "yes",
        "SPACED": "value with spaces",
        "SINGLE": 'single "quoted" \\n',
        "DOUBLE": 'a "b" c',
        "LAST": "second",
    }


def test_read_env_file_missing_is_empty(tmp_path: Path) -> None:
    assert read_env_file(tmp_path / "nope.env") == {}


def test_load_into_environ_never_overrides(tmp_path: Path) -> None:
    path = tmp_path / "service.env"
    write_env_file(path, {"KEEP": "from-file", "NEW": "added", "EMPTY_BEFORE": "file"})
    environ = {"KEEP": "from-shell", "EMPTY_BEFORE": ""}
    assert load_into_environ(path, environ) == 1
    assert environ == {"KEEP": "from-shell", "NEW": "added", "EMPTY_BEFORE": ""}
    assert load_into_environ(path, environ) == 0


def test_load_into_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "service.env"
    write_env_file(path, {"OPENCLAW_TEST_KEEP": "file", "OPENCLAW_TEST_NEW": "file"})
    monkeypatch.setenv("OPENCLAW_TEST_KEEP", "shell")
    monkeypatch.delenv("OPENCLAW_TEST_NEW", raising=False)
    assert load_into_environ(path) == 1
    assert os.environ["OPENCLAW_TEST_KEEP"] == "shell"
    assert os.environ["OPENCLAW_TEST_NEW"] == "file"


# --- systemd: runtime_from_properties --------------------------------------------------


def show(**overrides: str) -> dict[str, str]:
    """``systemctl show`` properties of a healthy running unit, with ``overrides``."""
    props = {
        "LoadState": "loaded",
        "ActiveState": "active",
        "SubState": "running",
        "MainPID": "4242",
        "NRestarts": "0",
        "ExecMainStatus": "0",
        "ExecMainCode": "0",
        "Result": "success",
        "UnitFileState": "enabled",
        "NeedDaemonReload": "no",
        "StateChangeTimestamp": "Mon 2024-05-06 10:00:00 UTC",
        "DropInPaths": "",
        "FragmentPath": "/root/.config/systemd/user/openclaw-gateway.service",
    }
    props.update(overrides)
    return props


def test_runtime_not_installed() -> None:
    props = show(LoadState="not-found", ActiveState="inactive", SubState="dead", MainPID="0",
                 UnitFileState="", FragmentPath="", Result="success")
    runtime = runtime_from_properties(props, installed=False)
    assert runtime.state == "not-installed"
    assert runtime.pid is None
    assert runtime.enabled is None
    # The file exists but systemd has not loaded it yet: not "not-installed".
    assert runtime_from_properties(props, installed=True).state == "stopped"


def test_runtime_running() -> None:
    runtime = runtime_from_properties(show(), installed=True)
    assert runtime.state == "running"
    assert runtime.pid == 4242
    assert runtime.restarts == 0
    assert runtime.last_exit_status is None
    assert runtime.enabled is True
    assert runtime.needs_reload is False
    assert runtime.drop_ins == []
    assert runtime.since == "Mon 2024-05-06 10:00:00 UTC"
    assert runtime.result == "success"
    assert runtime.to_json()["state"] == "running"


def test_runtime_starting() -> None:
    runtime = runtime_from_properties(show(ActiveState="activating", SubState="start"),
                                      installed=True)
    assert runtime.state == "starting"
    assert runtime.pid == 4242


def test_runtime_crash_looping_auto_restart() -> None:
    props = show(ActiveState="activating", SubState="auto-restart", MainPID="0", NRestarts="3",
                 ExecMainCode="1", ExecMainStatus="1", Result="exit-code")
    runtime = runtime_from_properties(props, installed=True)
    assert runtime.state == "crash-looping"
    assert runtime.pid is None
    assert runtime.restarts == 3
    assert runtime.last_exit_status == 1
    assert runtime.detail is not None
    assert "status 1" in runtime.detail and "3" in runtime.detail


def test_runtime_crash_looping_start_limit_hit() -> None:
    props = show(ActiveState="failed", SubState="failed", MainPID="0", NRestarts="5",
                 ExecMainCode="1", ExecMainStatus="1", Result="start-limit-hit")
    runtime = runtime_from_properties(props, installed=True)
    assert runtime.state == "crash-looping"
    assert runtime.result == "start-limit-hit"
    assert runtime.detail is not None and "start-limit-hit" in runtime.detail
    assert "5" in runtime.detail


def test_runtime_failed_config_exit_78() -> None:
    props = show(ActiveState="failed", SubState="failed", MainPID="0", ExecMainCode="1",
                 ExecMainStatus="78", Result="exit-code")
    runtime = runtime_from_properties(props, installed=True)
    assert runtime.state == "failed"
    assert runtime.last_exit_status == 78
    assert runtime.detail is not None and "config" in runtime.detail


def test_runtime_failed_plain() -> None:
    props = show(ActiveState="failed", SubState="failed", MainPID="0", ExecMainCode="1",
                 ExecMainStatus="1", Result="exit-code")
    runtime = runtime_from_properties(props, installed=True)
    assert runtime.state == "failed"
    assert runtime.pid is None
    assert runtime.last_exit_status == 1
    assert runtime.detail is not None
    assert "1" in runtime.detail and "exit-code" in runtime.detail
    assert "config" not in runtime.detail


def test_runtime_killed_by_signal_is_not_an_exit_status() -> None:
    # A watchdog kill: ExecMainCode=2 (CLD_KILLED), ExecMainStatus is the *signal* (6).
    props = show(ActiveState="failed", SubState="failed", MainPID="0", ExecMainCode="2",
                 ExecMainStatus="6", Result="watchdog")
    runtime = runtime_from_properties(props, installed=True)
    assert runtime.state == "failed"
    assert runtime.last_exit_status is None
    assert "exit status 6" not in (runtime.detail or "")


@pytest.mark.parametrize("main_pid", ["0", "4242"])
def test_runtime_stopped(main_pid: str) -> None:
    props = show(ActiveState="inactive", SubState="dead", MainPID=main_pid, ExecMainCode="1",
                 ExecMainStatus="0", UnitFileState="disabled")
    runtime = runtime_from_properties(props, installed=True)
    assert runtime.state == "stopped"
    assert runtime.pid is None
    assert runtime.last_exit_status == 0
    assert runtime.enabled is False


def test_runtime_stopping() -> None:
    runtime = runtime_from_properties(show(ActiveState="deactivating", SubState="stop-sigterm"),
                                      installed=True)
    assert runtime.state == "stopping"
    assert runtime.pid == 4242


def test_runtime_needs_reload_and_drop_ins() -> None:
    drop_ins = ["/root/.config/systemd/user/openclaw-gateway.service.d/override.conf",
                "/run/systemd/user/openclaw-gateway.service.d/50-x.conf"]
    runtime = runtime_from_properties(
        show(NeedDaemonReload="yes", DropInPaths=" ".join(drop_ins)), installed=True)
    assert runtime.needs_reload is True
    assert runtime.drop_ins == drop_ins
    assert runtime.to_json()["needsReload"] is True
    assert runtime.to_json()["dropIns"] == drop_ins


# --- systemd: SystemdBackend (no systemctl is ever run) ---------------------------------


def make_backend(tmp_path: Path, runner: RecordingRunner | None = None) -> SystemdBackend:
    """A user-scope backend on a host booted with systemd (the marker is ``tmp_path``)."""
    env = {"HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path / "run")}
    return SystemdBackend(profile_in(tmp_path), env=env, runner=runner or RecordingRunner(),
                          booted_marker=tmp_path)


def install_by_hand(tmp_path: Path) -> tuple[SystemdBackend, ServiceSpec, RecordingRunner]:
    runner = RecordingRunner()
    backend = make_backend(tmp_path, runner)
    spec = make_spec(tmp_path)
    backend.definition_path.parent.mkdir(parents=True)
    backend.definition_path.write_text(render_unit(spec))
    return backend, spec, runner


def test_backend_paths(tmp_path: Path) -> None:
    backend = make_backend(tmp_path)
    assert backend.unit_dir == tmp_path / ".config" / "systemd" / "user"
    assert backend.definition_path == backend.unit_dir / "openclaw-gateway.service"
    assert backend.kind == "systemd-user"


def test_backend_read_installed_and_no_differences(tmp_path: Path) -> None:
    backend, spec, runner = install_by_hand(tmp_path)
    installed = backend.read_installed()
    assert installed is not None
    assert installed.argv == list(spec.argv)
    assert installed.port == 18789
    assert installed.environment == spec.environment
    assert installed.working_directory == str(tmp_path)
    assert installed.env_files == [str(spec.env_file)]
    assert backend.differences(spec, installed) == []
    assert runner.calls == []


def test_backend_read_installed_missing(tmp_path: Path) -> None:
    assert make_backend(tmp_path).read_installed() is None


def edit(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def test_backend_differences_name_each_edit(tmp_path: Path) -> None:
    backend, spec, _ = install_by_hand(tmp_path)
    text = backend.definition_path.read_text()

    cases = {
        "ExecStart": edit(text, f"ExecStart={PROGRAM[0]} ", "ExecStart=/old/place/openclaw "),
        "WatchdogSec": edit(text, "WatchdogSec=30\n", ""),
        "Environment": edit(text, "[Service]\n",
                            "[Service]\nEnvironment=OPENCLAW_GATEWAY_TOKEN=x\n"),
    }
    for name, changed in cases.items():
        backend.definition_path.write_text(changed)
        installed = backend.read_installed()
        assert installed is not None
        differences = backend.differences(spec, installed)
        assert len(differences) == 1, (name, differences)
        assert differences[0].startswith(f"{name}="), (name, differences)

    backend.definition_path.write_text(cases["ExecStart"])
    installed = backend.read_installed()
    assert installed is not None
    [line] = backend.differences(spec, installed)
    assert "/old/place/openclaw" in line and PROGRAM[0] in line

    backend.definition_path.write_text(cases["WatchdogSec"])
    installed = backend.read_installed()
    assert installed is not None
    assert backend.differences(spec, installed) == [
        "WatchdogSec= is missing (install writes 30)"
    ]

    backend.definition_path.write_text(cases["Environment"])
    installed = backend.read_installed()
    assert installed is not None
    [line] = backend.differences(spec, installed)
    assert "OPENCLAW_GATEWAY_TOKEN extra" in line

    # All three at once: each is named.
    combined = edit(edit(edit(text, f"ExecStart={PROGRAM[0]} ", "ExecStart=/old/openclaw "),
                         "WatchdogSec=30\n", ""),
                    "[Service]\n", "[Service]\nEnvironment=OPENCLAW_GATEWAY_TOKEN=x\n")
    backend.definition_path.write_text(combined)
    installed = backend.read_installed()
    assert installed is not None
    differences = backend.differences(spec, installed)
    assert len(differences) == 3
    assert {line.split("=", 1)[0] for line in differences} == {
        "ExecStart", "WatchdogSec", "Environment"}


def test_backend_legacy_services(tmp_path: Path) -> None:
    backend = make_backend(tmp_path)
    assert [o for o in backend.legacy_services() if tmp_path in o.path.parents] == []
    backend.unit_dir.mkdir(parents=True)
    legacy = backend.unit_dir / "clawdbot-gateway.service"
    legacy.write_text("[Service]\nExecStart=/usr/bin/clawdbot gateway --port 18789\n")
    found = [o for o in backend.legacy_services() if tmp_path in o.path.parents]
    assert len(found) == 1
    other = found[0]
    assert other.name == "clawdbot-gateway.service"
    assert other.path == legacy
    assert other.scope == "user"
    assert other.kind == "legacy"
    assert other.command == "/usr/bin/clawdbot gateway --port 18789"


def test_backend_scan_classifies(tmp_path: Path) -> None:
    backend, _, _ = install_by_hand(tmp_path)
    unit_dir = backend.unit_dir
    (unit_dir / "moltx-gateway.service").write_text(
        "[Service]\nExecStart=/opt/moltx/bin/moltx serve --port 9000\n")
    rescue = make_spec(tmp_path, name="rescue")
    (unit_dir / "openclaw-gateway-rescue.service").write_text(render_unit(rescue))
    (unit_dir / "openclaw-gateway-copy.service").write_text(  # right name, no marker
        "[Service]\nExecStart=/usr/bin/openclaw gateway\n")
    (unit_dir / "my-bot.service").write_text(  # innocuous name, openclaw command
        "[Service]\nExecStart=/usr/local/bin/openclaw gateway --port 1\n")
    (unit_dir / "clawdbot-gateway.service").write_text(
        "[Service]\nExecStart=/usr/bin/clawdbot gateway\n")
    (unit_dir / "nginx.service").write_text("[Service]\nExecStart=/usr/sbin/nginx\n")

    found = {o.name: o for o in backend.scan(deep=False)}
    assert set(found) == {"moltx-gateway.service", "openclaw-gateway-rescue.service",
                          "openclaw-gateway-copy.service", "my-bot.service",
                          "clawdbot-gateway.service"}
    assert found["moltx-gateway.service"].kind == "gateway-like"
    assert found["moltx-gateway.service"].command == "/opt/moltx/bin/moltx serve --port 9000"
    assert found["openclaw-gateway-rescue.service"].kind == "profile"
    assert found["openclaw-gateway-copy.service"].kind == "gateway-like"
    assert found["my-bot.service"].kind == "gateway-like"
    assert found["clawdbot-gateway.service"].kind == "legacy"
    assert all(o.scope == "user" for o in found.values())


def test_backend_availability_without_runtime_dir(tmp_path: Path) -> None:
    backend = SystemdBackend(profile_in(tmp_path), env={"HOME": str(tmp_path)},
                             runner=RecordingRunner(), booted_marker=tmp_path)
    backend.environ.pop("XDG_RUNTIME_DIR", None)  # the /run/user/<uid> fallback, if any
    reason = backend.availability()
    assert reason is not None and "XDG_RUNTIME_DIR" in reason


def test_backend_availability_with_private_socket(tmp_path: Path) -> None:
    runner = RecordingRunner()
    backend = make_backend(tmp_path, runner)
    reason = backend.availability()
    assert reason is not None and "systemd/private" in reason
    private = tmp_path / "run" / "systemd" / "private"
    private.parent.mkdir(parents=True)
    private.touch()
    assert backend.availability() is None
    assert runner.calls == []


# --- lasterror ------------------------------------------------------------------------


def record(level: str, message: str, time: str) -> str:
    return json.dumps({"time": time, "level": level, "subsystem": "gateway",
                       "message": message, "pid": 1})


def epoch_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def write_log(directory: Path, date: str, lines: list[str], mtime: float) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"openclaw-{date}.log"
    path.write_text("\n".join(lines) + "\n")
    os.utime(path, (mtime, mtime))
    return path


def logs_fixture(tmp_path: Path) -> tuple[Path, Path, Path]:
    logs = tmp_path / "logs"
    older = write_log(logs, "2024-05-01", [
        record("error", "yesterday's failure", "2024-05-01T23:00:00.000Z"),
        record("info", "shutting down", "2024-05-01T23:30:00.000Z"),
    ], 1_714_600_000)
    newer = write_log(logs, "2024-05-02", [
        '{"time": "2024-05-02T09:59:', # a torn first line of the tail
        record("error", "bind failed", "2024-05-02T10:00:00.000Z"),
        record("info", "retrying", "2024-05-02T10:01:00.000Z"),
        record("fatal", "config refused", "2024-05-02T10:05:00.000Z"),
        record("warn", "just a warning", "2024-05-02T10:06:00.000Z"),
        record("info", "listening", "2024-05-02T10:07:00.000Z"),
        "[1, 2, 3]",
        '"error"',
        "plain text garbage {",
    ], 1_714_700_000)
    # Not a gateway log: never read even though it is newest and holds an error.
    (logs / "other.log").write_text(record("error", "not ours", "2024-05-03T00:00:00Z") + "\n")
    return logs, older, newer


def test_last_error_newest_error_record(tmp_path: Path) -> None:
    logs, _, newer = logs_fixture(tmp_path)
    assert last_error(logs) == {"time": "2024-05-02T10:05:00.000Z",
                                "message": "config refused", "file": str(newer)}


def test_last_error_falls_back_to_older_file(tmp_path: Path) -> None:
    logs, older, newer = logs_fixture(tmp_path)
    newer.write_text(record("info", "all good", "2024-05-02T10:00:00.000Z") + "\nnoise\n")
    os.utime(newer, (1_714_700_000, 1_714_700_000))
    found = last_error(logs)
    assert found is not None
    assert found["message"] == "yesterday's failure"
    assert found["file"] == str(older)


def test_last_error_since_ms(tmp_path: Path) -> None:
    logs, _, _ = logs_fixture(tmp_path)
    assert last_error(logs, since_ms=epoch_ms("2024-05-02T10:06:00Z")) is None
    found = last_error(logs, since_ms=epoch_ms("2024-05-02T10:04:00Z"))
    assert found is not None and found["message"] == "config refused"


def test_last_error_nothing(tmp_path: Path) -> None:
    assert last_error(tmp_path / "no-such-dir") is None
    (tmp_path / "empty").mkdir()
    assert last_error(tmp_path / "empty") is None
    quiet = tmp_path / "quiet"
    write_log(quiet, "2024-05-02", [record("info", "fine", "2024-05-02T10:00:00Z"), "junk"],
              1_714_700_000)
    assert last_error(quiet) is None


# --- linger ---------------------------------------------------------------------------


def test_check_linger_yes() -> None:
    runner = RecordingRunner(stdout="yes\n")
    linger = check_linger(runner, "alice")
    assert linger.enabled is True
    assert linger.user == "alice"
    assert runner.calls and runner.calls[0][0] == "loginctl"
    assert "show-user" in runner.calls[0] and "alice" in runner.calls[0]
    assert "--property=Linger" in runner.calls[0]


def test_check_linger_no() -> None:
    linger = check_linger(RecordingRunner(stdout="no\n"), "alice")
    assert linger.enabled is False
    assert linger.fix == "sudo loginctl enable-linger alice"


@pytest.mark.parametrize("result", [
    (1, "", "Failed to connect to bus: No such file or directory"),
    (127, "", "loginctl: command not found"),
    (0, "maybe\n", ""),
])
def test_check_linger_unknown(result: tuple[int, str, str]) -> None:
    returncode, stdout, stderr = result
    linger = check_linger(RecordingRunner(returncode, stdout, stderr), "alice")
    assert linger.enabled is None
    assert linger.reason
    if stderr:
        assert stderr in linger.reason
    assert linger.to_json() == {"user": "alice", "enabled": None, "reason": linger.reason}


def test_last_error_prefers_a_newer_launchd_stderr_capture(tmp_path: Path) -> None:
    logs, _, newer = logs_fixture(tmp_path)
    err = logs / "gateway.err.log"
    err.write_text("Traceback (most recent call last):\n"
                   "ModuleNotFoundError: No module named 'x'\n\n")
    os.utime(err, (epoch_ms("2024-05-02T11:00:00Z") / 1000,) * 2)
    found = last_error(logs)
    assert found == {"time": "2024-05-02T11:00:00Z",
                     "message": "ModuleNotFoundError: No module named 'x'", "file": str(err)}
    # An older capture loses to the newer JSON record.
    os.utime(err, (epoch_ms("2024-05-02T10:00:00Z") / 1000,) * 2)
    older = last_error(logs)
    assert older is not None and older["message"] == "config refused"
    assert older["file"] == str(newer)


def test_doctor_linger_off_is_fixed_with_loginctl(tmp_path: Path) -> None:
    from openclaw.service.doctor import DoctorContext, apply_fixes, check_linger

    runner = RecordingRunner(stdout="no\n")
    backend = SystemdBackend(profile_in(tmp_path), env={"HOME": str(tmp_path)}, runner=runner)
    [finding] = check_linger(DoctorContext(profile_in(tmp_path), backend))
    assert finding.severity == "warning" and finding.repair is not None
    assert finding.fix is not None and "loginctl enable-linger" in finding.fix
    assert not any(call[:2] == ("loginctl", "enable-linger") for call in runner.calls)
    apply_fixes([finding])
    assert finding.fixed is True
    assert runner.calls[-1][:2] == ("loginctl", "enable-linger")


def test_doctor_linger_unknown_is_information_only(tmp_path: Path) -> None:
    from openclaw.service.doctor import DoctorContext, check_linger

    runner = RecordingRunner(returncode=1, stderr="Failed to connect to bus: No such file")
    backend = SystemdBackend(profile_in(tmp_path), env={"HOME": str(tmp_path)}, runner=runner)
    [finding] = check_linger(DoctorContext(profile_in(tmp_path), backend))
    assert finding.severity == "info" and finding.repair is None
    assert "cannot tell" in finding.message


def test_doctor_result_text_json_and_exit_status_per_mode() -> None:
    from openclaw.service.doctor import DoctorResult, Finding

    def findings() -> list[Finding]:
        return [Finding("permissions", "warning", "/s is readable by others (mode 755)",
                        fix="chmod 700 /s", repair=lambda: "chmod 700 /s"),
                Finding("service-missing", "info", "openclaw-gateway.service is not installed",
                        fix="`openclaw gateway install`")]

    check = DoctorResult("default", "check", findings())
    assert check.exit_code == 1
    assert check.to_text().splitlines() == [
        "! warning: /s is readable by others (mode 755)",
        "    fix: chmod 700 /s",
        "· info: openclaw-gateway.service is not installed",
        "    fix: `openclaw gateway install`",
        "run `openclaw doctor --fix` to apply the fixes marked fixable",
    ]
    dry = DoctorResult("default", "dry-run", findings()).to_text().splitlines()
    assert dry[1] == "    would fix: chmod 700 /s" and dry[-1] == "(dry run: nothing was changed)"
    fixed = findings()
    fixed[0].fixed, fixed[0].result = True, "chmod 700 /s"
    done = DoctorResult("work", "fix", fixed)
    assert done.exit_code == 0  # info findings never count
    assert done.to_text().splitlines()[1] == "    fixed: chmod 700 /s"
    assert done.to_json() == {
        "schemaVersion": 1, "profile": "work", "mode": "fix",
        "findings": [f.to_json() for f in fixed], "fixed": 1, "remaining": 0,
    }
    assert DoctorResult("default", "check", []).to_text() == "no problems found"
