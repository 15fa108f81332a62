"""The ``openclaw`` CLI as a user runs it: a real process against a real gateway."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from harness import GatewayProcess, free_port, listening_socket, run_cli, start_cli
from openclaw import __version__


def test_version(home: Path) -> None:
    result = run_cli("--version", home=home)
    assert result.returncode == 0
    assert result.stdout.strip() == f"openclaw {__version__}"


def test_unknown_flag_is_one_line_and_exit_2(home: Path) -> None:
    result = run_cli("health", "--bogus", home=home)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unrecognized arguments: --bogus" in lines[0]


def test_gateway_down_fails_fast_with_one_line(home: Path) -> None:
    port = free_port()
    result = run_cli("health", home=home, env={"OPENCLAW_GATEWAY_PORT": str(port)}, timeout=10)
    assert result.returncode == 69
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"ws://127.0.0.1:{port}" in lines[0] and "connection refused" in lines[0]
    assert result.stdout == ""


def test_health_human_and_json(gateway: GatewayProcess) -> None:
    env = {"OPENCLAW_GATEWAY_PORT": str(gateway.port)}
    human = run_cli("health", home=gateway.home, env=env)
    assert human.returncode == 0, human.stderr
    assert human.stdout.startswith(f"Gateway: ok (pid {gateway.pid}")
    data = run_cli("gateway", "health", "--json", home=gateway.home, env=env)
    assert data.returncode == 0
    assert json.loads(data.stdout)["process"]["pid"] == gateway.pid


def test_gateway_call(gateway: GatewayProcess) -> None:
    env = {"OPENCLAW_GATEWAY_PORT": str(gateway.port)}
    result = run_cli("gateway", "call", "logs.tail", "--params", '{"limit": 2}',
                     home=gateway.home, env=env)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["lines"]) <= 2
    bad_json = run_cli("gateway", "call", "health", "--params", "{nope", home=gateway.home, env=env)
    assert bad_json.returncode == 2 and "--params is not valid JSON" in bad_json.stderr
    not_object = run_cli("gateway", "call", "health", "--params", "[1]", home=gateway.home, env=env)
    assert not_object.returncode == 2
    unknown = run_cli("gateway", "call", "nope", home=gateway.home, env=env)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "openclaw: unknown method: nope"


def test_explicit_url_never_uses_stored_credentials(gateway: GatewayProcess) -> None:
    result = run_cli("health", "--url", gateway.url, home=gateway.home)
    assert result.returncode == 77
    assert "token missing" in result.stderr
    ok = run_cli("health", "--url", gateway.url, "--token", gateway.token, home=gateway.home)
    assert ok.returncode == 0


def test_wrong_token_exit_77_without_echoing_it(gateway: GatewayProcess) -> None:
    env = {"OPENCLAW_GATEWAY_PORT": str(gateway.port), "OPENCLAW_GATEWAY_TOKEN": "wrong-secret"}
    result = run_cli("health", home=gateway.home, env=env)
    assert result.returncode == 77
    assert "token mismatch" in result.stderr
    assert "wrong-secret" not in result.stderr and gateway.token not in result.stderr


def test_profile_finds_its_gateway_through_config(
    make_gateway: Callable[..., GatewayProcess], home: Path
) -> None:
    port = free_port()
    rescue = make_gateway(home=home, profile="rescue", port=None,
                          config={"gateway": {"port": port}})
    assert rescue.port == port
    result = run_cli("--profile", "rescue", "health", "--json", home=home)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["process"]["pid"] == rescue.pid
    assert run_cli("--profile", "bad name!", "health", home=home).returncode == 2
    assert run_cli("--dev", "--profile", "x", "health", home=home).returncode == 2


def test_timeout_against_a_silent_server(home: Path) -> None:
    with listening_socket() as port:  # accepts TCP, never answers the upgrade
        result = run_cli("health", "--url", f"ws://127.0.0.1:{port}", "--token", "t",
                         "--timeout", "300", home=home, timeout=10)
    assert result.returncode == 69
    assert "did not answer within 0.3s" in result.stderr


def test_logs_once(gateway: GatewayProcess) -> None:
    env = {"OPENCLAW_GATEWAY_PORT": str(gateway.port)}
    human = run_cli("logs", "--limit", "5", home=gateway.home, env=env)
    assert human.returncode == 0
    assert "listening on ws://" in human.stdout
    data = run_cli("logs", "--json", home=gateway.home, env=env)
    records = [json.loads(line) for line in data.stdout.splitlines()]
    assert records[0]["type"] == "meta" and records[0]["file"].endswith(".log")
    logs = [r for r in records if r["type"] == "log"]
    assert any("listening on" in r["entry"]["message"] for r in logs)
    assert all(r["entry"]["level"] in ("info", "warn", "error", "debug") for r in logs)


def test_logs_gateway_down(home: Path) -> None:
    result = run_cli("logs", home=home, env={"OPENCLAW_GATEWAY_PORT": str(free_port())}, timeout=10)
    assert result.returncode == 69


# --- one renderer: --json failures, usage errors -----------------------------------


def test_json_failure_is_an_object_on_stdout_with_the_same_exit(home: Path) -> None:
    env = {"OPENCLAW_GATEWAY_PORT": str(free_port())}
    result = run_cli("health", "--json", env=env, timeout=10, home=home)
    assert result.returncode == 69 and result.stderr == ""
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert document["error"]["code"] == "UNAVAILABLE"
    assert "connection refused" in document["error"]["message"]
    assert set(document["error"]) >= {"code", "message", "hint"}
    usage = run_cli("--json", "message", "send", "-m", "x", home=home)
    assert usage.returncode == 2 and usage.stderr == ""
    assert json.loads(usage.stdout)["error"]["hint"] == "see 'openclaw message send --help'"


def test_usage_errors_point_at_the_subcommand_help(home: Path) -> None:
    missing = run_cli("message", "send", "-m", "x", home=home)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        "openclaw: error: the following arguments are required: --target/--to "
        "(see 'openclaw message send --help')"]
    limit = run_cli("logs", "--limit", "0", home=home)
    assert limit.returncode == 2
    assert limit.stderr.strip() == ("openclaw: error: --limit must be between 1 and 5000 "
                                    "(see 'openclaw logs --help')")
    bare = run_cli("message", home=home)
    assert bare.returncode == 2 and "see 'openclaw message --help'" in bare.stderr


# --- auth hints that are true ------------------------------------------------------


def test_auth_hints_name_the_real_source_of_the_token(gateway: GatewayProcess) -> None:
    explicit = run_cli("health", "--url", gateway.url, home=gateway.home)
    assert explicit.returncode == 77
    assert "OPENCLAW_GATEWAY_TOKEN" not in explicit.stderr  # ignored with --url
    assert "hint: pass --token" in explicit.stderr
    token_file = gateway.state_dir / "credentials" / "gateway-token"
    token_file.write_text("not-the-gateways-token\n")  # the gateway keeps the one it read
    env = {"OPENCLAW_GATEWAY_PORT": str(gateway.port)}
    mismatch = run_cli("health", env=env, home=gateway.home)
    assert mismatch.returncode == 77
    assert "~/.openclaw/credentials/gateway-token" in mismatch.stderr
    assert "not-the-gateways-token" not in mismatch.stderr
    as_json = json.loads(run_cli("health", "--json", env=env, home=gateway.home).stdout)
    assert "gateway-token" in as_json["error"]["hint"]
    assert as_json["error"]["details"]["code"] == "AUTH_TOKEN_MISMATCH"


# --- keys only when they are of use ------------------------------------------------


def test_message_send_without_a_channel_prints_no_key_and_the_quick_start_hint(
    gateway: GatewayProcess,
) -> None:
    env = {"OPENCLAW_GATEWAY_PORT": str(gateway.port)}
    result = run_cli("message", "send", "--target", "123", "-m", "hi", env=env, home=gateway.home)
    assert result.returncode == 1
    assert "key" not in result.stderr and result.stdout == ""
    assert "TELEGRAM_BOT_TOKEN" in result.stderr
    assert "channels.telegram.botToken" in result.stderr


def test_agent_prints_its_run_id_only_once_the_run_is_accepted(
    gateway: GatewayProcess, tmp_path: Path,
) -> None:
    env = {"OPENCLAW_GATEWAY_PORT": str(gateway.port)}
    refused = run_cli("agent", "-m", "hi", "--timeout", "0", env=env, home=gateway.home)
    assert refused.returncode == 1 and "run id" not in refused.stderr
    down = run_cli("agent", "-m", "hi",
               env={"OPENCLAW_GATEWAY_PORT": str(free_port())}, timeout=10, home=gateway.home)
    assert down.returncode == 69 and "run id" not in down.stderr
    ok = run_cli("agent", "-m", "what is 6*7", env=env, home=gateway.home)
    assert ok.returncode == 0, ok.stderr
    assert ok.stderr.startswith("run id: ") and "42" in ok.stdout


def test_agent_message_file_and_stdin(gateway: GatewayProcess, tmp_path: Path) -> None:
    question = tmp_path / "question.txt"
    question.write_text("what is 6*7\n")
    from_file = run_cli("agent", "--message-file", str(question),
                    env={"OPENCLAW_GATEWAY_PORT": str(gateway.port)}, home=gateway.home)
    assert from_file.returncode == 0, from_file.stderr
    assert "42" in from_file.stdout
    from_stdin = run_cli("agent", "--message-file", "-", "--json", input="what is 2+3",
                         env={"OPENCLAW_GATEWAY_PORT": str(gateway.port)}, home=gateway.home)
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert "5" in json.dumps(json.loads(from_stdin.stdout)["result"])
    both = run_cli("agent", "-m", "x", "--message-file", str(question), home=gateway.home)
    assert both.returncode == 2 and len(both.stderr.strip().splitlines()) == 1
    neither = run_cli("agent", home=gateway.home)
    assert neither.returncode == 2 and "--message-file" in neither.stderr
    missing = run_cli("agent", "--message-file", str(tmp_path / "nope"), home=gateway.home)
    assert missing.returncode == 2 and "cannot read --message-file" in missing.stderr


# --- health --verbose, logs --plain ------------------------------------------------


def test_health_verbose_shows_the_whole_snapshot(gateway: GatewayProcess) -> None:
    env = {"OPENCLAW_GATEWAY_PORT": str(gateway.port)}
    for command in (["health"], ["gateway", "health"]):
        result = run_cli(*command, "--verbose", env=env, home=gateway.home)
        assert result.returncode == 0, result.stderr
        assert "agent main (default): heartbeat every 30m" in result.stdout
        assert f"Process: pid {gateway.pid}" in result.stdout
        assert "Outbox: no sends yet" in result.stdout
    short = run_cli("health", env=env, home=gateway.home)
    assert "Process:" not in short.stdout


def test_logs_plain_is_just_the_messages(gateway: GatewayProcess) -> None:
    env = {"OPENCLAW_GATEWAY_PORT": str(gateway.port)}
    result = run_cli("logs", "--plain", env=env, home=gateway.home)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("listening on ws://") for line in lines)
    assert not any(" info " in line or line.startswith("20") for line in lines)
    both = run_cli("logs", "--plain", "--json", env=env, home=gateway.home)
    assert both.returncode == 2


# --- logs without a gateway: the local file log ------------------------------------


def test_logs_reads_the_local_file_when_the_gateway_refused_to_start(home: Path) -> None:
    state = home / ".openclaw"
    state.mkdir()
    (state / "openclaw.json").write_text('{"gateway": {"prot": 1}}')
    status, _ = GatewayProcess(home).run_to_exit()
    assert status == 78
    result = run_cli("logs", env={"OPENCLAW_GATEWAY_PORT": str(free_port())}, timeout=10, home=home)
    assert result.returncode == 0, result.stderr
    assert "gateway failed to start: invalid config" in result.stdout
    notice = result.stderr.strip().splitlines()
    assert len(notice) == 1 and "reading the local file log ~/.openclaw/logs/" in notice[0]
    data = run_cli("logs", "--json", env={"OPENCLAW_GATEWAY_PORT": str(free_port())}, home=home)
    assert json.loads(data.stdout.splitlines()[0])["source"] == "local"
    # An explicit --url may be another machine: its log is not here, so no fallback.
    remote = run_cli("logs", "--url", f"ws://127.0.0.1:{free_port()}", "--token", "t", home=home)
    assert remote.returncode == 69 and remote.stdout == ""


def test_logs_follow_keeps_following_the_local_file(home: Path) -> None:
    import queue
    import threading
    import time

    logs = home / ".openclaw" / "logs"
    logs.mkdir(parents=True)
    path = logs / f"openclaw-{time.strftime('%Y-%m-%d')}.log"
    path.write_text(json.dumps({"time": "2026-01-01T00:00:00Z", "level": "info",
                                "subsystem": "gateway", "message": "before"}) + "\n")
    proc = start_cli("logs", "--follow", "--plain", "--interval", "50", home=home,
                     env={"OPENCLAW_GATEWAY_PORT": str(free_port())},
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    try:
        assert lines.get(timeout=15) == "before"
        with path.open("a") as stream:
            stream.write(json.dumps({"message": "after"}) + "\nnot json\n")
        assert lines.get(timeout=15) == "after"
        assert lines.get(timeout=15) == "not json"
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=15)
    assert stderr.count("reading the local file log") == 1


# --- a second gateway leaves the running one's log alone ---------------------------


def test_a_failed_second_gateway_does_not_write_into_the_running_ones_log(
    gateway: GatewayProcess,
) -> None:
    from openclaw.service.lasterror import last_error

    for extra in ([], ["--port", str(gateway.port)]):
        status, output = GatewayProcess(gateway.home, *extra, port=None).run_to_exit()
        assert status == 1
        assert output.strip().count("\n") == 0 and "already running" in output
    own_log = "".join(p.read_text() for p in gateway.log_dir.glob("openclaw-*.log"))
    assert "failed to start" not in own_log and "listening on" in own_log
    aside = (gateway.log_dir / "gateway.err.log").read_text()
    assert aside.count("gateway failed to start: another gateway") == 2
    found = last_error(gateway.log_dir)  # what `gateway status` shows for a failed service
    assert found is not None and "already running" in found["message"]


# --- openclaw status: the overview -------------------------------------------------


def test_status_overview_against_a_running_gateway(gateway: GatewayProcess) -> None:
    env = {"OPENCLAW_GATEWAY_PORT": str(gateway.port), "XDG_RUNTIME_DIR": ""}
    human = run_cli("status", env=env, home=gateway.home)
    assert human.returncode == 0, human.stderr
    lines = human.stdout.splitlines()
    assert lines[0].startswith(f"Gateway:  reachable at {gateway.url} (version {__version__}, "
                               f"pid {gateway.pid}, up ")
    assert lines[0].endswith(f"port {gateway.port}, auth token)")
    assert lines[1].startswith("Service:  ")
    assert "Channels: none configured" in lines
    assert "Sessions: none yet" in lines
    assert "offline/echo (the built-in offline model" in human.stdout
    assert "\x1b[" not in human.stdout  # not a terminal: no colour
    run_cli("agent", "-m", "hi", env=env, home=gateway.home)
    data = json.loads(run_cli("status", "--json", env=env, home=gateway.home).stdout)
    assert data["ok"] is True and data["gateway"]["pid"] == gateway.pid
    assert data["gateway"]["authMode"] == "token" and data["gateway"]["port"] == gateway.port
    assert data["channels"] == [] and data["model"]["offline"] is True
    assert data["sessions"]["recent"][0]["key"] == "main"
    assert set(data["service"]) >= {"available"}
    assert gateway.token not in json.dumps(data)


def test_status_overview_with_the_gateway_down(home: Path) -> None:
    port = free_port()
    human = run_cli("status", env={"OPENCLAW_GATEWAY_PORT": str(port)}, timeout=10, home=home)
    assert human.returncode == 3
    assert human.stdout.startswith("Gateway:  not reachable: ")
    assert f"ws://127.0.0.1:{port}" in human.stdout
    assert "Model:    unknown" in human.stdout
    data = run_cli("status", "--json", env={"OPENCLAW_GATEWAY_PORT": str(port)}, timeout=10,
                   home=home)
    assert data.returncode == 3
    document = json.loads(data.stdout)
    assert document["ok"] is False and document["gateway"]["reachable"] is False
    assert document["gateway"]["error"]["kind"] == "unreachable"
    assert document["channels"] is None and document["model"] is None


def test_a_generated_token_never_reads_as_a_flag(tmp_path: Path) -> None:
    """Every generated token is safe after ``--token`` on a command line."""
    from openclaw.credentials import load_or_create_token
    from openclaw.paths import resolve_profile

    for index in range(200):
        home = tmp_path / f"h{index}"
        home.mkdir()
        token, created = load_or_create_token(resolve_profile(env={"HOME": str(home)}))
        assert created and not token.startswith("-") and len(token) == 64
