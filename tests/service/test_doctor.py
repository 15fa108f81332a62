"""``openclaw doctor`` on checks that need no service manager (run as a user would)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from harness import free_port, listening_socket, run_cli


def doctor(home: Path, *args: str, **env: str) -> tuple[int, dict[str, Any]]:
    """Run doctor; the profile's port is a free one unless the test names its own (so a
    gateway someone runs on the default port cannot make these tests fail)."""
    if "OPENCLAW_GATEWAY_PORT" not in env and not _names_a_port(home):
        env["OPENCLAW_GATEWAY_PORT"] = str(free_port())
    result = run_cli("doctor", "--json", *args, home=home,
                     env={"XDG_RUNTIME_DIR": str(home / "no-manager"), **env})
    return result.returncode, json.loads(result.stdout)


def _names_a_port(home: Path) -> bool:
    try:
        return '"port"' in (home / ".openclaw" / "openclaw.json").read_text()
    except OSError:
        return False


def private_file(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (0600) in a 0700 state dir, as the gateway would."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)
    return path


def by_id(report: dict[str, Any], finding: str) -> list[dict[str, Any]]:
    return [item for item in report["findings"] if item["id"] == finding]


def test_a_fresh_home_has_no_problems(home: Path) -> None:
    code, report = doctor(home)
    assert code == 0, report
    assert {item["severity"] for item in report["findings"]} <= {"info"}
    assert by_id(report, "service-manager")  # no manager here: said, not failed


def test_loose_permissions_are_reported_then_tightened(home: Path) -> None:
    state = home / ".openclaw"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    config = state / "openclaw.json"
    config.write_text('{"gateway": {"auth": {"token": "config-token-xyz"}}}')
    config.chmod(0o644)

    code, report = doctor(home)
    flagged = {item["message"].split(" ")[0] for item in by_id(report, "permissions")}
    assert code == 1 and flagged == {str(state), str(config)}
    assert stat.S_IMODE(config.stat().st_mode) == 0o644  # reported, not changed

    code, dry = doctor(home, "--dry-run")
    assert code == 1 and stat.S_IMODE(state.stat().st_mode) == 0o755
    assert dry["mode"] == "dry-run" and all(item["fixed"] is None for item in dry["findings"])

    code, fixed = doctor(home, "--fix")
    assert code == 0, fixed
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert all(item["fixed"] for item in by_id(fixed, "permissions"))


def test_token_drift_between_env_file_and_config(home: Path) -> None:
    state = home / ".openclaw"
    private_file(state / "openclaw.json", '{"gateway": {"auth": {"token": "new-token-1234"}}}')
    env_file = private_file(state / "service.env",
                            "OPENCLAW_GATEWAY_TOKEN=old-token-5678\nTELEGRAM_BOT_TOKEN=keep-me\n")

    code, report = doctor(home)
    [drift] = by_id(report, "token-drift")
    assert code == 1 and drift["severity"] == "error" and drift["fixable"]
    assert "old-token-5678" not in json.dumps(report) and "new-token-1234" not in json.dumps(report)

    code, fixed = doctor(home, "--yes")
    assert code == 0, fixed
    text = env_file.read_text()
    assert "OPENCLAW_GATEWAY_TOKEN=" not in text and "TELEGRAM_BOT_TOKEN=keep-me" in text


def test_invalid_config_and_port_collision_are_errors(home: Path) -> None:
    state = home / ".openclaw"
    config = private_file(state / "openclaw.json", '{"gateway": {"bind": "moon"}}')
    code, report = doctor(home)
    [invalid] = by_id(report, "config-invalid")
    assert code == 1 and "gateway.bind" in invalid["message"] and not invalid["fixable"]

    with listening_socket() as port:
        config.write_text(json.dumps({"gateway": {"port": port}}))
        code, report = doctor(home)
    [collision] = by_id(report, "port-collision")
    assert code == 1 and f"port {port}" in collision["message"]
    assert f"pid {__import__('os').getpid()}" in collision["message"]


def test_a_channel_without_its_token_is_found_before_the_gateway_starts(home: Path) -> None:
    state = home / ".openclaw"
    private_file(state / "openclaw.json", '{"channels": {"telegram": {"allowFrom": [1]}}}')
    code, report = doctor(home)
    [invalid] = by_id(report, "config-invalid")
    assert code == 1 and "channels.telegram.botToken" in invalid["message"]
    # The token in the service env file is what the service will have: that is enough.
    private_file(state / "service.env", "TELEGRAM_BOT_TOKEN=123:from-the-env-file\n")
    code, report = doctor(home)
    assert not by_id(report, "config-invalid"), report


def test_a_default_model_without_its_key_is_found_before_the_gateway_starts(home: Path) -> None:
    state = home / ".openclaw"
    private_file(state / "openclaw.json",
                 '{"agents": {"defaults": {"model": "openai/gpt-4o-mini"}}}')
    code, report = doctor(home, OPENAI_API_KEY="")
    [invalid] = by_id(report, "config-invalid")
    assert code == 1 and "agents.defaults.model" in invalid["message"]
    assert "OPENAI_API_KEY" in invalid["message"]
