"""The launchd backend, driven through a recording command runner (launchd cannot run here).

Covers the rendered plist key by key, the exact ``launchctl`` sequences of every
lifecycle operation (including the transient bootstrap EIO and its backoff), the
``launchctl print`` parser per state, and the audits (differences, legacy, scan).
"""

from __future__ import annotations

import dataclasses
import os
import plistlib
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from openclaw.config import Config
from openclaw.paths import Profile, resolve_profile
from openclaw.service.backend import InstalledService, ServiceError
from openclaw.service.launchd import LaunchdBackend, legacy_labels, runtime_from_print
from openclaw.service.launchd_plist import parse_plist, render_plist
from openclaw.service.spec import ServiceSpec, build_spec
from service_fakes import RecordingRunner

SECRET = "tok-5ecret-d0-not-leak"
UID = 501
LABEL = "bot.molt.gateway"
TARGET = f"gui/{UID}/{LABEL}"
NOT_FOUND = (113, "", f'Bad request.\nCould not find service "{LABEL}" in domain for port\n')
EIO = (5, "", "Bootstrap failed: 5: Input/output error\n")
OK = (0, "", "")


def make_spec(home: Path, env: dict[str, str] | None = None) -> ServiceSpec:
    environ = {"HOME": str(home), **(env or {})}
    return build_spec(resolve_profile(env={"HOME": str(home)}), Config(), 18789,
                      service_name=LABEL, program=("/opt/oc/bin/openclaw",), env=environ)


def make_backend(
    home: Path,
    runner: RecordingRunner,
    *,
    profile: Profile | None = None,
    sleeps: list[float] | None = None,
    system_dirs: Sequence[Path] = (),
) -> LaunchdBackend:
    return LaunchdBackend(
        profile or resolve_profile(env={"HOME": str(home)}),
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        runner=runner,
        uid=UID,
        forced=True,
        sleep=(sleeps if sleeps is not None else []).append,
        system_dirs=system_dirs,
    )


def write_plist(path: Path, document: dict[str, Any], *, binary: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = plistlib.FMT_BINARY if binary else plistlib.FMT_XML
    path.write_bytes(plistlib.dumps(document, fmt=fmt))
    return path


# -- the plist -----------------------------------------------------------------------


def test_plist_has_every_key_with_its_exact_value_and_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENCLAW_GATEWAY_TOKEN", SECRET)
    monkeypatch.setenv("HOME", str(tmp_path))
    spec = make_spec(tmp_path, {"OPENCLAW_GATEWAY_TOKEN": SECRET, "PATH": "/usr/bin"})
    text = render_plist(spec, LABEL)
    document = plistlib.loads(text.encode("utf-8"))
    state = tmp_path / ".openclaw"
    assert document == {
        "Label": LABEL,
        "Comment": spec.description,
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 10,
        "ExitTimeOut": 15,
        "ProcessType": "Standard",
        "Umask": 0o077,
        "ProgramArguments": ["/opt/oc/bin/openclaw", "gateway", "--port", "18789"],
        "WorkingDirectory": str(tmp_path),
        "StandardOutPath": "/dev/null",
        "StandardErrorPath": str(state / "logs" / "gateway.err.log"),
        "EnvironmentVariables": {
            "HOME": str(tmp_path),
            "PATH": "/opt/oc/bin:/usr/local/bin:/usr/bin:/bin",
            "OPENCLAW_PROFILE": "default",
            "OPENCLAW_STATE_DIR": str(state),
            "OPENCLAW_CONFIG_PATH": str(state / "openclaw.json"),
            "OPENCLAW_SERVICE_MARKER": "openclaw",
            "OPENCLAW_SERVICE_KIND": "gateway",
            "OPENCLAW_SERVICE_VERSION": spec.environment["OPENCLAW_SERVICE_VERSION"],
            "OPENCLAW_SERVICE_NAME": LABEL,
            "OPENCLAW_ENV_FILE": str(state / "service.env"),
        },
    }
    assert document["Comment"].startswith("OpenClaw Gateway (profile: default, v")
    assert document["RunAtLoad"] is True
    assert document["KeepAlive"]["SuccessfulExit"] is False
    assert SECRET not in text
    assert "OPENCLAW_GATEWAY_TOKEN" not in text


def test_throttle_interval_is_at_least_ten_and_follows_a_longer_restart_sec(
    tmp_path: Path,
) -> None:
    spec = make_spec(tmp_path)
    assert spec.restart_sec == 2
    slow = dataclasses.replace(spec, restart_sec=45, timeout_stop_sec=70)
    document = plistlib.loads(render_plist(slow, LABEL).encode())
    assert (document["ThrottleInterval"], document["ExitTimeOut"]) == (45, 70)


def test_named_profile_uses_its_own_label_path_and_target(tmp_path: Path) -> None:
    profile = resolve_profile("work", env={"HOME": str(tmp_path)})
    backend = make_backend(tmp_path, RecordingRunner(), profile=profile)
    assert backend.name == "bot.molt.work"
    assert backend.kind == "launchd"
    assert backend.target == f"gui/{UID}/bot.molt.work"
    assert backend.definition_path == tmp_path / "Library/LaunchAgents/bot.molt.work.plist"
    spec = build_spec(profile, Config(), 19500, service_name=backend.name,
                      program=("/opt/oc/bin/openclaw",), env={"HOME": str(tmp_path)})
    document = plistlib.loads(backend.render(spec).encode())
    assert document["Label"] == "bot.molt.work"
    assert document["EnvironmentVariables"]["OPENCLAW_PROFILE"] == "work"
    assert document["ProgramArguments"][-1] == "19500"


def test_parse_plist_is_tolerant_and_reads_binary() -> None:
    assert parse_plist("this is not a plist") == {}
    assert parse_plist("") == {}
    assert parse_plist(b"\x00\x01garbage") == {}
    assert parse_plist(plistlib.dumps(["an", "array"]).decode()) == {}
    assert parse_plist(plistlib.dumps({"Label": "x"}, fmt=plistlib.FMT_BINARY)) == {"Label": "x"}


# -- write and read back -------------------------------------------------------------


def test_write_is_0644_makes_no_launchctl_call_and_reads_back(tmp_path: Path) -> None:
    runner = RecordingRunner()
    backend = make_backend(tmp_path, runner)
    spec = make_spec(tmp_path)
    backend.write(spec)
    path = tmp_path / "Library/LaunchAgents/bot.molt.gateway.plist"
    assert runner.calls == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_text() == backend.render(spec)
    assert stat.S_IMODE((tmp_path / ".openclaw/logs").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / ".openclaw").stat().st_mode) == 0o700
    assert not list(path.parent.glob(".*.tmp"))

    installed = backend.read_installed()
    assert installed is not None
    assert installed.name == LABEL
    assert installed.argv == ["/opt/oc/bin/openclaw", "gateway", "--port", "18789"]
    assert installed.port == 18789
    assert installed.working_directory == str(tmp_path)
    assert installed.environment["OPENCLAW_SERVICE_MARKER"] == "openclaw"
    assert installed.env_files == [str(tmp_path / ".openclaw/service.env")]


def test_read_installed_is_none_without_a_plist(tmp_path: Path) -> None:
    assert make_backend(tmp_path, RecordingRunner()).read_installed() is None


# -- lifecycle sequences -------------------------------------------------------------


def test_install_enables_then_bootstraps_then_kickstarts(tmp_path: Path) -> None:
    runner = RecordingRunner({("launchctl", "print"): [NOT_FOUND]})
    sleeps: list[float] = []
    backend = make_backend(tmp_path, runner, sleeps=sleeps)
    backend.write(make_spec(tmp_path))
    backend.enable_and_start(restart=False)
    plist = str(tmp_path / "Library/LaunchAgents/bot.molt.gateway.plist")
    assert runner.calls == [
        ("launchctl", "enable", TARGET),
        ("launchctl", "print", TARGET),
        ("launchctl", "bootstrap", f"gui/{UID}", plist),
        ("launchctl", "kickstart", TARGET),
    ]
    assert sleeps == []


def test_install_of_an_already_loaded_job_only_kickstarts(tmp_path: Path) -> None:
    runner = RecordingRunner()
    backend = make_backend(tmp_path, runner)
    backend.enable_and_start(restart=False)
    assert runner.calls == [
        ("launchctl", "enable", TARGET),
        ("launchctl", "print", TARGET),
        ("launchctl", "kickstart", TARGET),
    ]


def test_rewrite_reloads_the_definition_with_bootout_then_bootstrap(tmp_path: Path) -> None:
    runner = RecordingRunner()
    backend = make_backend(tmp_path, runner)
    backend.enable_and_start(restart=True)
    assert runner.calls == [
        ("launchctl", "enable", TARGET),
        ("launchctl", "bootout", TARGET),
        ("launchctl", "bootstrap", f"gui/{UID}", str(backend.definition_path)),
        ("launchctl", "kickstart", TARGET),
    ]


def test_bootstrap_reporting_already_loaded_counts_as_loaded(tmp_path: Path) -> None:
    runner = RecordingRunner({
        ("launchctl", "bootstrap"): [(37, "", "Bootstrap failed: 37: Operation already "
                                               "in progress\n")],
    })
    backend = make_backend(tmp_path, runner)
    backend.enable_and_start(restart=True)
    assert [c[1] for c in runner.calls] == ["enable", "bootout", "bootstrap", "kickstart"]
    assert runner.calls[-1] == ("launchctl", "kickstart", "-k", TARGET)


def test_transient_bootstrap_eio_is_retried_with_increasing_backoff(tmp_path: Path) -> None:
    runner = RecordingRunner({
        ("launchctl", "print"): [NOT_FOUND],
        ("launchctl", "bootstrap"): [EIO, EIO, OK],
    })
    sleeps: list[float] = []
    backend = make_backend(tmp_path, runner, sleeps=sleeps)
    backend.enable_and_start(restart=False)
    bootstrap = ("launchctl", "bootstrap", f"gui/{UID}", str(backend.definition_path))
    assert runner.calls == [
        ("launchctl", "enable", TARGET),
        ("launchctl", "print", TARGET),
        bootstrap, bootstrap, bootstrap,
        ("launchctl", "kickstart", TARGET),
    ]
    assert sleeps == [0.5, 1.0]
    assert sleeps == sorted(sleeps) and sleeps[0] < sleeps[1]


def test_persistent_eio_gives_up_after_the_backoff_with_the_reason(tmp_path: Path) -> None:
    runner = RecordingRunner({("launchctl", "print"): [NOT_FOUND],
                              ("launchctl", "bootstrap"): [EIO]})
    sleeps: list[float] = []
    backend = make_backend(tmp_path, runner, sleeps=sleeps)
    with pytest.raises(ServiceError) as caught:
        backend.enable_and_start(restart=False)
    assert "Bootstrap failed: 5: Input/output error" in caught.value.message
    assert "after 5 attempts" in caught.value.message
    assert sleeps == [0.5, 1.0, 2.0, 4.0]
    assert sum(1 for c in runner.calls if c[1] == "bootstrap") == 5
    assert not any(c[1] == "kickstart" for c in runner.calls)


def test_permanent_bootstrap_failure_raises_at_once_with_the_reason(tmp_path: Path) -> None:
    runner = RecordingRunner({
        ("launchctl", "print"): [NOT_FOUND],
        ("launchctl", "bootstrap"): [(119, "", "Bootstrap failed: 119: Service is disabled\n")],
    })
    sleeps: list[float] = []
    backend = make_backend(tmp_path, runner, sleeps=sleeps)
    with pytest.raises(ServiceError) as caught:
        backend.enable_and_start(restart=False)
    assert caught.value.message == (
        f"launchctl could not bootstrap {LABEL}: Bootstrap failed: 119: Service is disabled"
    )
    assert sleeps == []
    assert [c[1] for c in runner.calls] == ["enable", "print", "bootstrap"]


def test_restart_is_kickstart_k_only(tmp_path: Path) -> None:
    runner = RecordingRunner()
    make_backend(tmp_path, runner).restart()
    assert runner.calls == [("launchctl", "kickstart", "-k", TARGET)]


def test_restart_of_an_unloaded_job_bootstraps_it(tmp_path: Path) -> None:
    runner = RecordingRunner({("launchctl", "kickstart", "-k"): [NOT_FOUND]})
    backend = make_backend(tmp_path, runner)
    backend.restart()
    assert runner.calls == [
        ("launchctl", "kickstart", "-k", TARGET),
        ("launchctl", "enable", TARGET),
        ("launchctl", "bootstrap", f"gui/{UID}", str(backend.definition_path)),
        ("launchctl", "kickstart", TARGET),
    ]
    assert not any(c[1] == "bootout" for c in runner.calls)


def test_start_loads_an_unloaded_job_and_only_kickstarts_a_loaded_one(tmp_path: Path) -> None:
    runner = RecordingRunner({("launchctl", "print"): [NOT_FOUND]})
    backend = make_backend(tmp_path, runner)
    backend.start()
    assert runner.calls == [
        ("launchctl", "print", TARGET),
        ("launchctl", "enable", TARGET),
        ("launchctl", "bootstrap", f"gui/{UID}", str(backend.definition_path)),
        ("launchctl", "kickstart", TARGET),
    ]
    loaded = RecordingRunner()
    make_backend(tmp_path, loaded).start()
    assert loaded.calls == [("launchctl", "print", TARGET), ("launchctl", "kickstart", TARGET)]


def test_stop_is_bootout(tmp_path: Path) -> None:
    runner = RecordingRunner()
    make_backend(tmp_path, runner).stop()
    assert runner.calls == [("launchctl", "bootout", TARGET)]


@pytest.mark.parametrize("answer", [
    (3, "", "Boot-out failed: 3: No such process\n"),
    NOT_FOUND,
])
def test_stop_of_an_absent_job_succeeds(tmp_path: Path, answer: tuple[int, str, str]) -> None:
    runner = RecordingRunner({("launchctl", "bootout"): [answer]})
    make_backend(tmp_path, runner).stop()
    assert runner.calls == [("launchctl", "bootout", TARGET)]


def test_stop_failure_raises_with_the_reason(tmp_path: Path) -> None:
    runner = RecordingRunner({
        ("launchctl", "bootout"): [(1, "", "Boot-out failed: 1: Operation not permitted\n")],
    })
    with pytest.raises(ServiceError, match="Operation not permitted"):
        make_backend(tmp_path, runner).stop()


def test_remove_boots_out_and_deletes_the_plist(tmp_path: Path) -> None:
    runner = RecordingRunner()
    backend = make_backend(tmp_path, runner)
    backend.write(make_spec(tmp_path))
    assert backend.remove() is True
    assert not backend.definition_path.exists()
    assert runner.calls == [("launchctl", "bootout", TARGET)]
    runner.script[("launchctl", "bootout")] = [NOT_FOUND]
    assert backend.remove() is False


# -- runtime -------------------------------------------------------------------------

PRINT_RUNNING = f"""\
{TARGET} = {{
\tactive count = 1
\tpath = /Users/me/Library/LaunchAgents/{LABEL}.plist
\ttype = LaunchAgent
\tstate = running

\tprogram = /opt/oc/bin/openclaw
\targuments = {{
\t\t/opt/oc/bin/openclaw
\t\tgateway
\t\t--port
\t\t18789
\t}}

\tworking directory = /Users/me

\tstdout path = /Users/me/.openclaw/logs/gateway.log
\tstderr path = /Users/me/.openclaw/logs/gateway.err.log
\tdefault environment = {{
\t\tPATH => /usr/bin:/bin:/usr/sbin:/sbin
\t}}

\tenvironment = {{
\t\tHOME => /Users/me
\t\tOPENCLAW_ENV_FILE => /Users/me/.openclaw/service.env
\t\tXPC_SERVICE_NAME => {LABEL}
\t}}

\tdomain = gui/{UID} [100008]
\tasid = 100008
\tminimum runtime = 10
\texit timeout = 15
\truns = 3
\tpid = 4242
\timmediate reason = non-ipc demand
\tforks = 0
\texecs = 1
\tinitialized = 1
\ttrampolined = 1
\tstarted suspended = 0
\tproxy started suspended = 0
\tlast exit code = 1

\tresource coalition = {{
\t\tID = 1207
\t\ttype = resource
\t\tstate = active
\t\tactive count = 1
\t\tname = {LABEL}
\t}}

\tspawn type = daemon (3)
\tjetsam priority = 40
\tjob state = running

\tproperties = keepalive | runatload | inferred program
}}
"""


def _print_sample(state: str, runs: int, last_exit: str, extra: str = "") -> str:
    return f"""\
{TARGET} = {{
\tactive count = 0
\tpath = /Users/me/Library/LaunchAgents/{LABEL}.plist
\ttype = LaunchAgent
\tstate = {state}

\tprogram = /opt/oc/bin/openclaw
\tresource coalition = {{
\t\tID = 1207
\t\tstate = active
\t\tpid = 999
\t}}

\tdomain = gui/{UID} [100008]
\tminimum runtime = 10
\texit timeout = 15
\truns = {runs}
\tlast exit code = {last_exit}
{extra}
\tspawn type = daemon (3)
\tproperties = keepalive | runatload | inferred program
}}
"""


def test_runtime_running() -> None:
    runtime = runtime_from_print(PRINT_RUNNING, loaded=True, installed=True)
    assert runtime.state == "running"
    assert runtime.pid == 4242
    assert runtime.restarts == 2
    assert runtime.last_exit_status == 1


def test_runtime_crash_looping() -> None:
    text = _print_sample("spawn scheduled", 5, "1")
    runtime = runtime_from_print(text, loaded=True, installed=True)
    assert runtime.state == "crash-looping"
    assert runtime.pid is None  # the coalition's pid is not the job's
    assert runtime.restarts == 4
    assert runtime.last_exit_status == 1
    assert runtime.detail == "exit status 1; launchd relaunches it (run 5)"


def test_runtime_crash_looping_on_a_signal() -> None:
    text = _print_sample("spawn scheduled", 3, "(never exited)",
                         "\tlast terminating signal = Killed: 9\n")
    runtime = runtime_from_print(text, loaded=True, installed=True)
    assert runtime.state == "crash-looping"
    assert runtime.last_exit_status is None
    assert "Killed: 9" in (runtime.detail or "")


def test_runtime_config_refused() -> None:
    runtime = runtime_from_print(_print_sample("spawn scheduled", 4, "78: EX_CONFIG"),
                                 loaded=True, installed=True)
    assert runtime.state == "failed"
    assert runtime.last_exit_status == 78
    assert "refused its config (exit 78)" in (runtime.detail or "")


@pytest.mark.parametrize(("state", "runs", "last_exit"), [
    ("not running", 1, "0"),
    ("waiting", 0, "(never exited)"),
])
def test_runtime_stopped_while_loaded(state: str, runs: int, last_exit: str) -> None:
    runtime = runtime_from_print(_print_sample(state, runs, last_exit), loaded=True,
                                 installed=True)
    assert runtime.state == "stopped"
    assert runtime.pid is None
    assert runtime.detail is None


@pytest.mark.parametrize(("runs", "last_exit"), [(0, "(never exited)"), (1, "1")])
def test_runtime_first_spawn_is_starting_not_crash_looping(runs: int, last_exit: str) -> None:
    runtime = runtime_from_print(_print_sample("spawn scheduled", runs, last_exit),
                                 loaded=True, installed=True)
    assert runtime.state == "starting"
    assert runtime.pid is None  # the resource coalition's pid is not the job's


def test_runtime_not_loaded_is_stopped_or_not_installed() -> None:
    assert runtime_from_print("", loaded=False, installed=False).state == "not-installed"
    stopped = runtime_from_print("", loaded=False, installed=True)
    assert stopped.state == "stopped"
    assert "not loaded" in (stopped.detail or "")


def test_backend_runtime_asks_launchctl_print(tmp_path: Path) -> None:
    runner = RecordingRunner({("launchctl", "print"): [(0, PRINT_RUNNING, "")]})
    backend = make_backend(tmp_path, runner)
    runtime = backend.runtime()
    assert (runtime.state, runtime.pid) == ("running", 4242)
    assert runner.calls == [("launchctl", "print", TARGET)]

    absent = make_backend(tmp_path, RecordingRunner({("launchctl", "print"): [NOT_FOUND]}))
    assert absent.runtime().state == "not-installed"
    absent.write(make_spec(tmp_path))
    assert absent.runtime().state == "stopped"
    missing = make_backend(tmp_path, RecordingRunner({
        ("launchctl",): [(127, "", "launchctl: command not found")]}))
    assert missing.runtime().state == "unknown"


# -- audits --------------------------------------------------------------------------


def _installed_with(backend: LaunchdBackend, spec: ServiceSpec, **changes: Any) -> InstalledService:
    document = plistlib.loads(backend.render(spec).encode())
    document.update(changes)
    write_plist(backend.definition_path, document)
    installed = backend.read_installed()
    assert installed is not None
    return installed


def test_differences_empty_for_an_identical_install(tmp_path: Path) -> None:
    backend = make_backend(tmp_path, RecordingRunner())
    spec = make_spec(tmp_path)
    backend.write(spec)
    installed = backend.read_installed()
    assert installed is not None
    assert backend.differences(spec, installed) == []


def test_differences_name_each_edited_key(tmp_path: Path) -> None:
    backend = make_backend(tmp_path, RecordingRunner())
    spec = make_spec(tmp_path)
    environment = dict(spec.environment, OPENCLAW_ENV_FILE=str(spec.env_file),
                       OPENCLAW_GATEWAY_TOKEN=SECRET, OPENCLAW_PROFILE="old")
    del environment["PATH"]
    installed = _installed_with(
        backend, spec,
        ThrottleInterval=5,
        ProgramArguments=["/usr/local/bin/openclaw", "gateway", "--port", "19999"],
        RunAtLoad=1,
        EnvironmentVariables=environment,
        Disabled=False,
    )
    lines = backend.differences(spec, installed)
    assert lines == [
        "Disabled is not written by install (false)",
        "EnvironmentVariables differs: OPENCLAW_GATEWAY_TOKEN extra, OPENCLAW_PROFILE "
        "changed, PATH missing",
        "ProgramArguments is /usr/local/bin/openclaw gateway --port 19999 (install writes "
        "/opt/oc/bin/openclaw gateway --port 18789)",
        "RunAtLoad is 1 (install writes true)",
        "ThrottleInterval is 5 (install writes 10)",
    ]
    assert not any(SECRET in line for line in lines)


def test_differences_of_a_missing_key(tmp_path: Path) -> None:
    backend = make_backend(tmp_path, RecordingRunner())
    spec = make_spec(tmp_path)
    document = plistlib.loads(backend.render(spec).encode())
    del document["KeepAlive"]
    write_plist(backend.definition_path, document)
    installed = backend.read_installed()
    assert installed is not None
    assert backend.differences(spec, installed) == [
        "KeepAlive is missing (install writes {SuccessfulExit=false})"
    ]


def test_legacy_labels_per_profile(tmp_path: Path) -> None:
    default = resolve_profile(env={"HOME": str(tmp_path)})
    work = resolve_profile("work", env={"HOME": str(tmp_path)})
    assert legacy_labels(default) == [
        "com.openclaw.gateway", "com.clawdbot.gateway", "com.steipete.clawdbot.gateway",
    ]
    assert legacy_labels(work) == ["com.openclaw.work"]


def test_legacy_com_openclaw_gateway_is_found_and_removed(tmp_path: Path) -> None:
    agents = tmp_path / "Library/LaunchAgents"
    legacy = write_plist(agents / "com.openclaw.gateway.plist", {
        "Label": "com.openclaw.gateway",
        "ProgramArguments": ["/usr/local/bin/openclaw", "gateway", "--port", "18789"],
    })
    write_plist(agents / "com.openclaw.work.plist", {"Label": "com.openclaw.work"})
    runner = RecordingRunner()
    backend = make_backend(tmp_path, runner)
    found = backend.legacy_services()
    assert [o.to_json() for o in found] == [{
        "name": "com.openclaw.gateway", "path": str(legacy), "scope": "user",
        "kind": "legacy", "command": "/usr/local/bin/openclaw gateway --port 18789",
    }]
    work = make_backend(tmp_path, RecordingRunner(),
                        profile=resolve_profile("work", env={"HOME": str(tmp_path)}))
    assert [o.name for o in work.legacy_services()] == ["com.openclaw.work"]

    backend.remove_other(found[0])
    assert runner.calls == [("launchctl", "bootout", f"gui/{UID}/com.openclaw.gateway")]
    assert not legacy.exists()
    assert backend.legacy_services() == []


def test_remove_other_refuses_a_system_job(tmp_path: Path) -> None:
    daemons = tmp_path / "sys/LaunchDaemons"
    path = write_plist(daemons / "com.openclaw.gateway.plist", {"Label": "com.openclaw.gateway"})
    backend = make_backend(tmp_path, RecordingRunner(), system_dirs=(daemons,))
    (other,) = backend.scan(deep=True)
    with pytest.raises(ServiceError) as caught:
        backend.remove_other(other)
    assert "`sudo launchctl bootout system/com.openclaw.gateway`" in caught.value.message
    assert path.exists()


def test_scan_classifies_user_and_system_plists(tmp_path: Path) -> None:
    agents = tmp_path / "Library/LaunchAgents"
    system_agents = tmp_path / "sys/LaunchAgents"
    system_daemons = tmp_path / "sys/LaunchDaemons"
    backend = make_backend(tmp_path, RecordingRunner(),
                           system_dirs=(system_agents, system_daemons))
    backend.write(make_spec(tmp_path))  # this profile's own: never listed
    write_plist(agents / "com.clawdbot.gateway.plist", {
        "Label": "com.clawdbot.gateway", "ProgramArguments": ["/usr/local/bin/clawdbot"],
    })
    write_plist(agents / "bot.molt.work.plist", {
        "Label": "bot.molt.work",
        "ProgramArguments": ["/opt/oc/bin/openclaw", "gateway", "--port", "19500"],
        "EnvironmentVariables": {"OPENCLAW_SERVICE_MARKER": "openclaw"},
    }, binary=True)
    write_plist(agents / "com.example.helper.plist", {
        "Label": "com.example.helper", "ProgramArguments": ["/usr/bin/env", "moltbot", "serve"],
    })
    write_plist(agents / "bot.molt.unmarked.plist", {
        "Label": "bot.molt.unmarked", "ProgramArguments": ["/opt/openclaw/bin/run"],
    })
    write_plist(agents / "com.apple.unrelated.plist", {
        "Label": "com.apple.unrelated", "ProgramArguments": ["/usr/bin/true"],
    })
    write_plist(system_agents / "com.steipete.clawdbot.gateway.plist", {
        "Label": "com.steipete.clawdbot.gateway", "ProgramArguments": ["/opt/clawdbot"],
    })
    write_plist(system_daemons / "org.moltx.relay.plist", {
        "Label": "org.moltx.relay", "ProgramArguments": ["/usr/local/bin/relay"],
    })

    shallow = {(o.name, o.scope, o.kind) for o in backend.scan(deep=False)}
    assert shallow == {
        ("com.clawdbot.gateway", "user", "legacy"),
        ("bot.molt.work", "user", "profile"),
        ("com.example.helper", "user", "gateway-like"),
        ("bot.molt.unmarked", "user", "gateway-like"),
    }
    deep = {(o.name, o.scope, o.kind) for o in backend.scan(deep=True)}
    assert deep == shallow | {
        ("com.steipete.clawdbot.gateway", "system", "legacy"),
        ("org.moltx.relay", "system", "gateway-like"),
    }
    work = next(o for o in backend.scan(deep=False) if o.name == "bot.molt.work")
    assert work.command == "/opt/oc/bin/openclaw gateway --port 19500"


# -- availability --------------------------------------------------------------------


def test_availability(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profile = resolve_profile(env={"HOME": str(tmp_path)})
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = {"HOME": str(tmp_path), "PATH": str(bin_dir)}
    assert LaunchdBackend(profile, env=env, forced=True).availability() is None

    monkeypatch.setattr(sys, "platform", "linux")
    reason = LaunchdBackend(profile, env=env).availability()
    assert reason is not None and "macOS only" in reason and "systemd" in reason

    monkeypatch.setattr(sys, "platform", "darwin")
    reason = LaunchdBackend(profile, env=env).availability()
    assert reason is not None and "launchctl is not on PATH" in reason
    launchctl = bin_dir / "launchctl"
    launchctl.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(launchctl, 0o755)
    assert LaunchdBackend(profile, env=env).availability() is None
