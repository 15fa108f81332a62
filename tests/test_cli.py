"""The ``openclaw`` CLI as a user runs it: a real process against a real gateway."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from harness import GatewayProcess, clean_env, free_port, listening_socket
from openclaw import __version__


def cli(home: Path, *args: str, env: dict[str, str] | None = None,
        timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run ``openclaw ARGS`` with HOME=home."""
    return subprocess.run(
        [sys.executable, "-m", "openclaw", *args], env=clean_env(home, **(env or {})),
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def test_version(home: Path) -> None:
    result = cli(home, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"openclaw {__version__}"


def test_unknown_flag_is_one_line_and_exit_2(home: Path) -> None:
    result = cli(home, "health", "--bogus")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unrecognized arguments: --bogus" in lines[0]


def test_gateway_down_fails_fast_with_one_line(home: Path) -> None:
    port = free_port()
    result = cli(home, "health", env={"OPENCLAW_GATEWAY_PORT": str(port)}, timeout=10)
    assert result.returncode == 69
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"ws://127.0.0.1:{port}" in lines[0] and "connection refused" in lines[0]
    assert result.stdout == ""


def test_health_human_and_json(gateway: GatewayProcess) -> None:
    env = {"OPENCLAW_GATEWAY_PORT": str(gateway.port)}
    human = cli(gateway.home, "health", env=env)
    assert human.returncode == 0, human.stderr
    assert human.stdout.startswith(f"Gateway: ok (pid {gateway.pid}")
    data = cli(gateway.home, "gateway", "health", "--json", env=env)
    assert data.returncode == 0
    assert json.loads(data.stdout)["process"]["pid"] == gateway.pid


def test_gateway_call(gateway: GatewayProcess) -> None:
    env = {"OPENCLAW_GATEWAY_PORT": str(gateway.port)}
    result = cli(gateway.home, "gateway", "call", "logs.tail", "--params", '{"limit": 2}', env=env)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["lines"]) <= 2
    bad_json = cli(gateway.home, "gateway", "call", "health", "--params", "{nope", env=env)
    assert bad_json.returncode == 2 and "--params is not valid JSON" in bad_json.stderr
    not_object = cli(gateway.home, "gateway", "call", "health", "--params", "[1]", env=env)
    assert not_object.returncode == 2
    unknown = cli(gateway.home, "gateway", "call", "nope", env=env)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "openclaw: unknown method: nope"


def test_explicit_url_never_uses_stored_credentials(gateway: GatewayProcess) -> None:
    result = cli(gateway.home, "health", "--url", gateway.url)
    assert result.returncode == 77
    assert "token missing" in result.stderr
    ok = cli(gateway.home, "health", "--url", gateway.url, "--token", gateway.token)
    assert ok.returncode == 0


def test_wrong_token_exit_77_without_echoing_it(gateway: GatewayProcess) -> None:
    env = {"OPENCLAW_GATEWAY_PORT": str(gateway.port), "OPENCLAW_GATEWAY_TOKEN": "wrong-secret"}
    result = cli(gateway.home, "health", env=env)
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
    result = cli(home, "--profile", "rescue", "health", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["process"]["pid"] == rescue.pid
    assert cli(home, "--profile", "bad name!", "health").returncode == 2
    assert cli(home, "--dev", "--profile", "x", "health").returncode == 2


def test_timeout_against_a_silent_server(home: Path) -> None:
    with listening_socket() as port:  # accepts TCP, never answers the upgrade
        result = cli(home, "health", "--url", f"ws://127.0.0.1:{port}", "--token", "t",
                     "--timeout", "300", timeout=10)
    assert result.returncode == 69
    assert "did not answer within 0.3s" in result.stderr


def test_logs_once(gateway: GatewayProcess) -> None:
    env = {"OPENCLAW_GATEWAY_PORT": str(gateway.port)}
    human = cli(gateway.home, "logs", "--limit", "5", env=env)
    assert human.returncode == 0
    assert "listening on ws://" in human.stdout
    data = cli(gateway.home, "logs", "--json", env=env)
    records = [json.loads(line) for line in data.stdout.splitlines()]
    assert records[0]["type"] == "meta" and records[0]["file"].endswith(".log")
    logs = [r for r in records if r["type"] == "log"]
    assert any("listening on" in r["entry"]["message"] for r in logs)
    assert all(r["entry"]["level"] in ("info", "warn", "error", "debug") for r in logs)


def test_logs_gateway_down(home: Path) -> None:
    result = cli(home, "logs", env={"OPENCLAW_GATEWAY_PORT": str(free_port())}, timeout=10)
    assert result.returncode == 69
