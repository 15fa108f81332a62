"""The service operations API (``openclaw.service.ops``) without a service manager.

Every ``systemctl``/``launchctl``/``loginctl`` call goes to a recording runner that
answers from a script, the health probe is a function of the test, and time is a
fake clock that only moves when the operation sleeps. So each test checks the exact
manager calls, the typed result, its ``--json`` and text forms, and the failures.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from openclaw.cli.main import main
from openclaw.errors import ConfigError, ExitCode
from openclaw.paths import Profile, resolve_profile
from openclaw.service import ops, systemd
from openclaw.service.backend import ServiceError, ServiceManagerUnavailable
from openclaw.service.doctor import DoctorContext, apply_fixes, check_service
from openclaw.service.launchd import LaunchdBackend
from openclaw.service.systemd import SystemdBackend
from openclaw.service.verify import WaitOptions
from service_fakes import RecordingRunner

SECRET = "tok-5ecret-never-printed"
SHOW = ("systemctl", "--user", "show")
LINGER = ("loginctl", "show-user")
OK = (0, "", "")


def show(active: str = "active", sub: str = "running", pid: int = 0, *, status: int = 0,
         result: str = "success", load: str = "loaded") -> tuple[int, str, str]:
    """A ``systemctl show`` answer."""
    props = {"LoadState": load, "ActiveState": active, "SubState": sub, "MainPID": str(pid),
             "NRestarts": "0", "ExecMainStatus": str(status), "ExecMainCode": "1",
             "Result": result, "UnitFileState": "enabled", "NeedDaemonReload": "no"}
    return 0, "".join(f"{k}={v}\n" for k, v in props.items()), ""


RUNNING_4242 = show(pid=4242)
RUNNING_4343 = show(pid=4343)
STOPPED = show("inactive", "dead")
NOT_FOUND = show("inactive", "dead", load="not-found")


class Clock:
    """Monotonic seconds that advance only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Probe:
    """The health probe: answers with ``pid`` (None: nothing answers) and records ports."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.ports: list[int] = []

    def __call__(self, profile: Profile, port: int, timeout: float) -> tuple[int | None, str]:
        self.ports.append(port)
        return self.pid, "" if self.pid else "connection refused"


def profile_in(home: Path) -> Profile:
    return resolve_profile(env={"HOME": str(home)})


def systemd_backend(home: Path, runner: RecordingRunner) -> SystemdBackend:
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": str(home / "run")}
    return SystemdBackend(profile_in(home), env=env, runner=runner, booted_marker=home)


def waiting(probe: Probe, clock: Clock | None = None, timeout_s: float = 5.0) -> WaitOptions:
    clock = clock or Clock()
    return WaitOptions(timeout_s=timeout_s, clock=clock, sleep=clock.sleep, probe=probe)


def manager_calls(runner: RecordingRunner) -> list[tuple[str, ...]]:
    """The calls that change something (``show`` and the linger question only read)."""
    return [c for c in runner.calls if c[:3] != SHOW and c[:2] != LINGER]


def options(port: int = 18800, **extra: Any) -> ops.InstallOptions:
    return ops.InstallOptions(port=port, environ={"OPENCLAW_GATEWAY_TOKEN": SECRET}, **extra)


def fresh_install(home: Path) -> tuple[SystemdBackend, RecordingRunner, ops.InstallResult]:
    runner = RecordingRunner({SHOW: [RUNNING_4242], LINGER: [(0, "no\n", "")]})
    backend = systemd_backend(home, runner)
    result = ops.install(profile_in(home), backend, options(), waiting(Probe(4242)))
    return backend, runner, result


# -- install -------------------------------------------------------------------------


def test_install_writes_enables_starts_and_reports_the_pid_that_answered(
    tmp_path: Path,
) -> None:
    backend, runner, result = fresh_install(tmp_path)
    unit = "openclaw-gateway.service"
    assert manager_calls(runner) == [
        ("systemctl", "--user", "daemon-reload"),
        ("systemctl", "--user", "reset-failed", unit),
        ("systemctl", "--user", "enable", unit),
        ("systemctl", "--user", "start", unit),
    ]
    assert result.action == "installed" and result.pid == 4242 and result.port == 18800
    assert result.exit_code == ExitCode.OK
    text = backend.definition_path.read_text()
    assert "--port 18800" in text and SECRET not in text
    env_file = tmp_path / ".openclaw" / "service.env"
    assert result.env_file == env_file
    assert f"OPENCLAW_GATEWAY_TOKEN={SECRET}" in env_file.read_text()
    assert result.linger is not None and result.linger.enabled is False
    document = result.to_json()
    assert document == {
        "ok": True, "action": "installed",
        "service": {"backend": "systemd-user", "name": unit,
                    "file": str(backend.definition_path)},
        "pid": 4242, "warnings": result.warnings, "port": 18800,
        "elapsedMs": result.elapsed_ms, "envFile": str(env_file),
        "envFileKeys": ["OPENCLAW_GATEWAY_TOKEN"],
        "linger": {"user": result.linger.user, "enabled": False, "reason": None},
    }
    [warning] = result.warnings
    assert warning.startswith("linger is off")
    lines = result.to_text().splitlines()
    assert lines[0] == f"installed {backend.definition_path}"
    assert lines[1] == f"secrets: {env_file} (owner-only; carried OPENCLAW_GATEWAY_TOKEN)"
    assert lines[2].startswith("running: pid 4242 answers health on port 18800 (")
    assert lines[3] == f"warning: {warning}"
    assert SECRET not in json.dumps(document) + result.to_text()


def test_install_of_a_current_running_service_changes_nothing(tmp_path: Path) -> None:
    backend, runner, _ = fresh_install(tmp_path)
    runner.calls.clear()
    again = ops.install(profile_in(tmp_path), backend, options(), waiting(Probe(4242)))
    assert again.action == "unchanged" and again.pid == 4242
    assert manager_calls(runner) == []
    assert "elapsedMs" not in again.to_json() and "envFile" not in again.to_json()
    assert again.to_text().splitlines()[0] == (
        f"openclaw-gateway.service is already installed and current "
        f"({backend.definition_path}); running as pid 4242")


def test_install_of_a_current_stopped_service_starts_it(tmp_path: Path) -> None:
    backend, runner, _ = fresh_install(tmp_path)
    runner.calls.clear()
    runner.script[SHOW] = [STOPPED, RUNNING_4343]
    again = ops.install(profile_in(tmp_path), backend, options(), waiting(Probe(4343)))
    assert again.action == "started" and again.pid == 4343
    assert manager_calls(runner)[-1] == ("systemctl", "--user", "start",
                                         "openclaw-gateway.service")


def test_install_refuses_a_different_definition_without_force(tmp_path: Path) -> None:
    backend, runner, _ = fresh_install(tmp_path)
    edited = backend.definition_path.read_text().replace("RestartSec=2", "RestartSec=9")
    backend.definition_path.write_text(edited)
    runner.calls.clear()
    with pytest.raises(ServiceError) as info:
        ops.install(profile_in(tmp_path), backend, options(), waiting(Probe(4242)))
    assert "differs from what this version writes: RestartSec= is 9" in info.value.message
    assert "install --force" in info.value.message
    assert info.value.exit_code == ExitCode.FAILURE
    assert manager_calls(runner) == [] and backend.definition_path.read_text() == edited


def test_force_rewrites_restarts_and_moves_an_inline_secret(tmp_path: Path) -> None:
    backend, runner, _ = fresh_install(tmp_path)
    text = backend.definition_path.read_text().replace(
        "EnvironmentFile=", "Environment=TELEGRAM_BOT_TOKEN=inline-one\nEnvironmentFile=")
    backend.definition_path.write_text(text)
    runner.calls.clear()
    runner.script[SHOW] = [RUNNING_4242, RUNNING_4242, RUNNING_4343]
    probe = Probe(4343)
    result = ops.install(profile_in(tmp_path), backend, options(force=True), waiting(probe))
    assert result.action == "rewritten" and result.pid == 4343
    assert result.moved_inline == ["TELEGRAM_BOT_TOKEN"]
    assert result.env_file_keys == ["TELEGRAM_BOT_TOKEN"]  # the shell's token was there
    assert "inline-one" not in backend.definition_path.read_text()
    assert "TELEGRAM_BOT_TOKEN=inline-one" in (tmp_path / ".openclaw/service.env").read_text()
    assert manager_calls(runner)[-1] == ("systemctl", "--user", "restart",
                                         "openclaw-gateway.service")
    assert probe.ports == [18800]


def test_install_with_an_invalid_config_is_78_before_anything_is_written(
    tmp_path: Path,
) -> None:
    state = tmp_path / ".openclaw"
    state.mkdir()
    (state / "openclaw.json").write_text('{"gateway": {"bind": "moon"}}')
    runner = RecordingRunner()
    backend = systemd_backend(tmp_path, runner)
    with pytest.raises(ConfigError) as info:
        ops.install(profile_in(tmp_path), backend, options(), waiting(Probe(1)))
    assert info.value.exit_code == ExitCode.CONFIG == 78
    assert "gateway.bind" in info.value.message and "fix it first" in info.value.message
    assert runner.calls == [] and not backend.definition_path.exists()
    assert not (state / "service.env").exists()


def test_install_fails_when_the_new_gateway_never_answers(tmp_path: Path) -> None:
    runner = RecordingRunner({SHOW: [RUNNING_4242]})
    backend = systemd_backend(tmp_path, runner)
    clock = Clock()
    with pytest.raises(ServiceError) as info:
        ops.install(profile_in(tmp_path), backend, options(), waiting(Probe(None), clock, 3))
    assert "no new gateway answered health within 3s" in info.value.message
    assert "pid 4242 runs but port 18800 does not answer: connection refused" in (
        info.value.message)
    assert clock.now >= 103 and max(clock.sleeps) <= 0.25  # bounded backoff, fake time
    assert backend.definition_path.exists()  # left installed, so status can show why


def test_install_under_launchd_bootstraps_and_has_no_linger(tmp_path: Path) -> None:
    label = "bot.molt.gateway"
    running = (0, f"gui/501/{label} = {{\n\tstate = running\n\tpid = 777\n\truns = 1\n}}\n", "")
    runner = RecordingRunner({("launchctl", "print"): [(113, "", "Could not find service"),
                                                       running]})
    backend = LaunchdBackend(profile_in(tmp_path), env={"HOME": str(tmp_path)}, runner=runner,
                             uid=501, forced=True, sleep=lambda _: None)
    result = ops.install(profile_in(tmp_path), backend, options(), waiting(Probe(777)))
    target = f"gui/501/{label}"
    assert runner.calls[-4:-1] == [
        ("launchctl", "print", target),
        ("launchctl", "bootstrap", "gui/501", str(backend.definition_path)),
        ("launchctl", "kickstart", target),
    ]
    assert result.pid == 777 and result.linger is None and "linger" not in result.to_json()
    assert result.to_json()["service"]["backend"] == "launchd"


# -- start, stop, restart, uninstall -------------------------------------------------


def test_start_of_a_service_not_installed_says_how_to_install(tmp_path: Path) -> None:
    runner = RecordingRunner()
    with pytest.raises(ServiceError) as info:
        ops.start(profile_in(tmp_path), systemd_backend(tmp_path, runner), waiting(Probe(1)))
    assert info.value.message == ("openclaw-gateway.service is not installed; install it "
                                  "with `openclaw gateway install`")
    assert runner.calls == []


def test_start_of_a_running_service_is_a_no_op(tmp_path: Path) -> None:
    backend, runner, _ = fresh_install(tmp_path)
    runner.calls.clear()
    result = ops.start(profile_in(tmp_path), backend, waiting(Probe(4242)))
    assert result.action == "already-running" and result.pid == 4242
    assert manager_calls(runner) == []
    assert result.to_text() == "openclaw-gateway.service is already running (pid 4242)"


def test_start_clears_a_give_up_then_waits_for_the_new_pid(tmp_path: Path) -> None:
    backend, runner, _ = fresh_install(tmp_path)
    runner.calls.clear()
    runner.script[SHOW] = [show("failed", "failed", result="start-limit-hit"),
                           show("activating", "start", 4343), RUNNING_4343]
    clock = Clock()
    result = ops.start(profile_in(tmp_path), backend, waiting(Probe(4343), clock))
    assert manager_calls(runner) == [
        ("systemctl", "--user", "reset-failed", "openclaw-gateway.service"),
        ("systemctl", "--user", "start", "openclaw-gateway.service"),
    ]
    assert result.action == "started" and result.pid == 4343
    assert result.elapsed_ms == int((clock.now - 100.0) * 1000)
    assert result.to_json()["elapsedMs"] == result.elapsed_ms


def test_restart_needs_a_new_pid_not_the_old_one_answering(tmp_path: Path) -> None:
    backend, runner, _ = fresh_install(tmp_path)
    runner.script[SHOW] = [RUNNING_4242]  # the manager never reports a new process
    with pytest.raises(ServiceError) as info:
        ops.restart(profile_in(tmp_path), backend, waiting(Probe(4242), timeout_s=2))
    assert "the service manager still reports the old pid 4242" in info.value.message


def test_restart_reports_both_pids(tmp_path: Path) -> None:
    backend, runner, _ = fresh_install(tmp_path)
    runner.script[SHOW] = [RUNNING_4242, RUNNING_4242, RUNNING_4343]
    result = ops.restart(profile_in(tmp_path), backend, waiting(Probe(4343)))
    assert (result.previous_pid, result.pid) == (4242, 4343)
    document = result.to_json()
    assert document["action"] == "restarted" and document["previousPid"] == 4242
    assert result.to_text().startswith(
        "restarted openclaw-gateway.service: pid 4242 → 4343, answering health (")


def test_restart_into_a_refused_config_gives_the_gateways_own_error(tmp_path: Path) -> None:
    backend, runner, _ = fresh_install(tmp_path)
    logs = tmp_path / ".openclaw" / "logs"
    logs.mkdir(parents=True)
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    record = {"time": now, "level": "fatal", "subsystem": "gateway", "pid": 1,
              "message": "invalid config: gateway.bind: Invalid enum value 'moon'"}
    (logs / f"openclaw-{now[:10]}.log").write_text(json.dumps(record) + "\n")
    runner.script[SHOW] = [RUNNING_4242, show("failed", "failed", status=78,
                                              result="exit-code")]
    with pytest.raises(ServiceError) as info:
        ops.restart(profile_in(tmp_path), backend, waiting(Probe(None)))
    assert info.value.message == (
        "the gateway refused its config (exit 78); not relaunched until fixed; last gateway "
        "error: invalid config: gateway.bind: Invalid enum value 'moon'")


def test_stop_absent_running_and_one_that_will_not_stop(tmp_path: Path) -> None:
    runner = RecordingRunner()
    absent = ops.stop(profile_in(tmp_path), systemd_backend(tmp_path, runner))
    assert absent.action == "absent" and "previousPid" not in absent.to_json()
    assert absent.to_text() == "openclaw-gateway.service is not installed; nothing to stop"
    assert runner.calls == []

    backend, runner, _ = fresh_install(tmp_path)
    runner.calls.clear()
    runner.script[SHOW] = [RUNNING_4242, STOPPED]
    stopped = ops.stop(profile_in(tmp_path), backend)
    assert manager_calls(runner) == [("systemctl", "--user", "stop",
                                      "openclaw-gateway.service")]
    assert stopped.action == "stopped" and stopped.to_json()["previousPid"] == 4242
    assert stopped.to_text() == "stopped openclaw-gateway.service (was pid 4242)"

    runner.script[SHOW] = [STOPPED]
    again = ops.stop(profile_in(tmp_path), backend)
    assert again.action == "already-stopped"
    assert again.to_text() == "stopped openclaw-gateway.service (it was not running)"

    runner.script[SHOW] = [RUNNING_4242]
    with pytest.raises(ServiceError, match="did not stop: the manager reports running"):
        ops.stop(profile_in(tmp_path), backend)


def test_uninstall_removes_then_is_a_no_op(tmp_path: Path) -> None:
    backend, runner, _ = fresh_install(tmp_path)
    runner.calls.clear()
    removed = ops.uninstall(profile_in(tmp_path), backend)
    unit = "openclaw-gateway.service"
    assert manager_calls(runner) == [
        ("systemctl", "--user", "disable", "--now", unit),
        ("systemctl", "--user", "daemon-reload"),
        ("systemctl", "--user", "reset-failed", unit),
    ]
    assert removed.action == "removed" and not backend.definition_path.exists()
    assert removed.to_json()["legacyRemoved"] == []
    assert removed.to_text().splitlines() == [
        f"removed {backend.definition_path}",
        f"config and state kept in {tmp_path / '.openclaw'}",
    ]
    assert (tmp_path / ".openclaw" / "service.env").exists()  # kept
    assert ops.uninstall(profile_in(tmp_path), backend).action == "absent"


# -- doctor calls the same operation -------------------------------------------------


def test_doctor_fix_rewrites_through_install_without_carrying_shell_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend, runner, _ = fresh_install(tmp_path)
    env_file = tmp_path / ".openclaw" / "service.env"
    env_file.write_text("")
    monkeypatch.setenv("OPENCLAW_GATEWAY_TOKEN", "shell-token")
    monkeypatch.delenv("OPENCLAW_GATEWAY_PORT", raising=False)
    stale = backend.definition_path.read_text().replace(
        "EnvironmentFile=", "Environment=OPENCLAW_GATEWAY_PASSWORD=inline-pw\nEnvironmentFile=")
    backend.definition_path.write_text(stale)
    runner.script[SHOW] = [RUNNING_4242, RUNNING_4242, RUNNING_4343]
    ctx = DoctorContext(profile_in(tmp_path), backend, wait=waiting(Probe(4343)))
    findings = check_service(ctx)
    assert [f.id for f in findings] == ["inline-secret"]
    apply_fixes(findings)
    [finding] = findings
    assert finding.fixed is True
    assert finding.result == (
        f"rewrote {backend.definition_path}; moved OPENCLAW_GATEWAY_PASSWORD to {env_file}; "
        "pid 4343 answers on port 18800")
    assert env_file.read_text().strip().splitlines()[-1] == "OPENCLAW_GATEWAY_PASSWORD=inline-pw"
    assert "shell-token" not in env_file.read_text()


# -- no service manager --------------------------------------------------------------


def test_a_host_without_systemd_has_no_service_manager(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path / "run")}
    backend = SystemdBackend(profile_in(tmp_path), env=env, runner=RecordingRunner(),
                             booted_marker=tmp_path / "no-such-marker")
    reason = backend.availability()
    assert reason is not None and reason.startswith("no service manager on this host")
    assert "`openclaw gateway` in the foreground" in reason and "supervisor" in reason


def test_open_backend_raises_69(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(systemd, "SYSTEMD_BOOTED", tmp_path / "no-such-marker")
    env = {"HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path / "run")}
    with pytest.raises(ServiceManagerUnavailable) as info:
        ops.open_backend(profile_in(tmp_path), explicit="systemd", env=env)
    assert info.value.exit_code == ExitCode.UNAVAILABLE == 69


def test_gateway_install_without_a_service_manager_says_so_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(systemd, "SYSTEMD_BOOTED", tmp_path / "no-such-marker")
    for name in ("OPENCLAW_PROFILE", "OPENCLAW_STATE_DIR", "OPENCLAW_CONFIG_PATH",
                 "OPENCLAW_HOME", "DBUS_SESSION_BUS_ADDRESS", "OPENCLAW_SERVICE_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    code = main(["gateway", "install", "--backend", "systemd"])
    out, err = capsys.readouterr()
    assert code == 69 and out == ""
    first = err.splitlines()[0]
    assert first.startswith("openclaw: no service manager on this host")
    assert "run the gateway under your own supervisor" in first
    assert "`openclaw gateway` in the foreground" in first
    assert not (tmp_path / ".config" / "systemd").exists()
    assert not (tmp_path / ".openclaw" / "service.env").exists()
