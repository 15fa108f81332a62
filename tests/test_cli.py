"""The ``openclaw`` CLI as a user runs it: a real process against a real gateway."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from harness import GatewayProcess, free_port, listening_socket, run_cli
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
