"""Starting and refusing to start: config errors, unsafe binds, busy ports, --force."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import GatewayProcess, RawClient, free_port, listening_socket


def _write_config(home: Path, text: str) -> Path:
    state = home / ".openclaw"
    state.mkdir(parents=True, exist_ok=True)
    path = state / "openclaw.json"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ('{"gateway": {"prot": 1}}', "gateway.prot", "unknown key"),
        ('{"gateway": {"port": 70000}}', "gateway.port", "<= 65535"),
        ('{"gateway": {"port": "18789"}}', "gateway.port", "got `str`"),
        ('{"gateway": {"auth": {"mode": "magic"}}}', "gateway.auth.mode", "Invalid enum value"),
        ('{"logging": {"level": "loud"}}', "logging.level", "Invalid enum value"),
        ("{gateway: {port: 1,}", None, "not valid JSON5"),
        ("[1, 2]", None, "the top level must be an object"),
    ],
)
def test_invalid_config_exits_78_naming_file_and_key(
    home: Path, text: str, key: str | None, reason: str
) -> None:
    path = _write_config(home, text)
    status, output = GatewayProcess(home).run_to_exit()
    assert status == 78, output
    line = [ln for ln in output.splitlines() if ln.startswith("openclaw: ")][-1]
    assert str(path) in line
    if key:
        assert f": {key}: " in line
    assert reason in line


def test_json5_config_is_accepted(make_gateway: Callable[..., GatewayProcess], home: Path) -> None:
    _write_config(home, "// comments are fine\n{gateway: {auth: {token: 'json5-token',},},}\n")
    gateway = make_gateway(home=home)
    client = RawClient(gateway.url)
    assert client.handshake("json5-token")["snapshot"]["authMode"] == "token"
    assert "config " + str(home / ".openclaw" / "openclaw.json") in gateway.output
    client.close()


def test_no_config_runs_on_defaults_and_says_so(gateway: GatewayProcess) -> None:
    assert "no config file at" in gateway.output
    assert "built-in defaults" in gateway.output
    token_file = gateway.state_dir / "credentials" / "gateway-token"
    assert os.stat(token_file).st_mode & 0o777 == 0o600
    assert gateway.token not in gateway.output
    assert gateway.token not in gateway.log_text()


def test_refuses_lan_bind_without_auth(home: Path) -> None:
    status, output = GatewayProcess(home, "--bind", "lan", "--auth", "none").run_to_exit()
    assert status == 78
    assert "refusing to bind gateway to lan" in output


def test_password_mode_without_password_is_refused(home: Path) -> None:
    _write_config(home, '{"gateway": {"auth": {"mode": "password"}}}')
    status, output = GatewayProcess(home).run_to_exit()
    assert status == 78
    assert "gateway.auth.password" in output


def test_remote_mode_needs_allow_unconfigured(
    make_gateway: Callable[..., GatewayProcess], home: Path
) -> None:
    _write_config(home, '{"gateway": {"mode": "remote"}}')
    status, output = GatewayProcess(home).run_to_exit()
    assert status == 78 and "gateway.mode" in output
    gateway = make_gateway("--allow-unconfigured", home=home)
    assert gateway.port > 0


def test_port_held_by_another_program_is_named(home: Path) -> None:
    with listening_socket() as port:
        status, output = GatewayProcess(home, port=port).run_to_exit()
    assert status == 1
    line = [ln for ln in output.splitlines() if ln.startswith("openclaw: ")][-1]
    assert f"port {port} is already in use by pid {os.getpid()}" in line
    assert "--port" in line


def test_force_does_not_kill_a_stranger(home: Path) -> None:
    with listening_socket() as port:
        status, output = GatewayProcess(home, "--force", port=port).run_to_exit()
    assert status == 1 and "already in use" in output  # and this process is still alive


def test_second_gateway_of_the_same_profile_is_refused(
    make_gateway: Callable[..., GatewayProcess], home: Path
) -> None:
    first = make_gateway(home=home)
    status, output = GatewayProcess(home).run_to_exit()
    assert status == 1
    assert f"another gateway of profile 'default' is already running (pid {first.pid})" in output
    assert first.proc is not None and first.proc.poll() is None


def test_force_replaces_the_running_gateway_of_this_profile(
    make_gateway: Callable[..., GatewayProcess], home: Path
) -> None:
    first = make_gateway(home=home)
    port = first.port
    second = make_gateway("--force", home=home, port=port)
    assert first.wait() == 0  # it got SIGTERM and drained
    assert second.port == port and second.pid != first.pid
    record = json.loads((home / ".openclaw" / "gateway.runtime.json").read_text())
    assert record["pid"] == second.pid and record["port"] == port
    client = RawClient(second.url)
    client.handshake(second.token)
    client.close()


def test_profiles_are_isolated(make_gateway: Callable[..., GatewayProcess], home: Path) -> None:
    main = make_gateway(home=home)
    rescue = make_gateway(home=home, profile="rescue")
    assert rescue.state_dir == home / ".openclaw-rescue"
    assert main.token != rescue.token
    assert (home / ".openclaw-rescue" / "logs").is_dir()
    client = RawClient(rescue.url)
    hello = client.handshake(rescue.token)
    assert hello["snapshot"]["stateDir"] == str(home / ".openclaw-rescue")
    client.close()


def test_env_port_is_used(make_gateway: Callable[..., GatewayProcess]) -> None:
    port = free_port()
    gateway = make_gateway(port=None, env={"OPENCLAW_GATEWAY_PORT": str(port)})
    assert gateway.port == port
    assert "port from env" in gateway.output


def test_http_probes(gateway: GatewayProcess) -> None:
    import http.client

    for path, status, body in (("/healthz", 200, "live"), ("/health", 200, "live"),
                               ("/readyz", 200, "ready"), ("/nope", 404, None)):
        connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=5)
        connection.request("GET", path)
        response = connection.getresponse()
        data = json.loads(response.read())
        assert response.status == status
        assert response.getheader("Content-Type") == "application/json"
        if body:
            assert data["status"] == body
        connection.close()


def test_start_failure_is_recorded_in_the_file_log(home: Path) -> None:
    import time

    _write_config(home, '{"logging": {"retentionDays": 60}, "gateway": {"prot": 1}}')
    logs = home / ".openclaw" / "logs"
    logs.mkdir(mode=0o700)
    old_day = time.strftime("%Y-%m-%d", time.localtime(time.time() - 25 * 86400))
    old_file = logs / f"openclaw-{old_day}.log"
    old_file.write_text('{"message": "kept"}\n')
    status, _ = GatewayProcess(home).run_to_exit()
    assert status == 78
    today = logs / f"openclaw-{time.strftime('%Y-%m-%d')}.log"
    record = json.loads(today.read_text().splitlines()[-1])
    assert record["level"] == "error"
    assert record["message"].startswith("gateway failed to start: invalid config")
    assert "gateway.prot" in record["message"]
    assert old_file.exists()  # retention comes from the (broken) config, read leniently


def test_force_frees_the_port_from_a_stale_gateway_without_its_lock(
    make_gateway: Callable[..., GatewayProcess], home: Path
) -> None:
    # A gateway whose lock file was removed (say, by hand) still holds the port;
    # --force recognises it from the runtime record as this profile's and stops it.
    first = make_gateway(home=home)
    (home / ".openclaw" / "gateway.lock").unlink()
    second = make_gateway("--force", home=home, port=first.port)
    assert first.wait() == 0
    assert "stopping stale gateway pid" in second.output
    client = RawClient(second.url)
    client.handshake(second.token)
    client.close()


def test_a_service_installed_by_another_version_is_flagged_at_start(
    make_gateway: Callable[..., GatewayProcess],
) -> None:
    gateway = make_gateway(env={"OPENCLAW_SERVICE_VERSION": "0.0.1"})
    assert "installed by openclaw 0.0.1" in gateway.output
    assert "openclaw doctor --fix" in gateway.output
