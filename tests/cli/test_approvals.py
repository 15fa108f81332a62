"""``openclaw approvals list|approve|deny`` against an in-process gateway."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import RawClient, run_cli
from inprocess import InProcessGateway


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[InProcessGateway]:
    home = tmp_path / "home"
    home.mkdir()
    gateway = InProcessGateway(home).start()  # defaults: every command needs approval
    yield gateway
    gateway.stop()


def ask(gateway: InProcessGateway, command: str, key: str) -> RawClient:
    raw = RawClient(gateway.url)
    raw.handshake(gateway.token)
    raw.send({"type": "req", "id": key, "method": "agent",
              "params": {"message": f"run `{command}`", "idempotencyKey": key}})
    assert raw.response(key)["ok"]
    raw.next_event("exec.approval.requested")
    return raw


def cli(gateway: InProcessGateway, *args: str) -> tuple[int, str, str]:
    result = run_cli("approvals", *args, "--url", gateway.url, "--token", gateway.token,
                     home=gateway.home)
    return result.returncode, result.stdout, result.stderr


def test_list_approve_and_deny(gateway: InProcessGateway) -> None:
    code, out, _ = cli(gateway, "list")
    assert code == 0 and out.strip() == "no pending exec approvals"
    raw = ask(gateway, "echo from-cli", "c1")
    code, out, _ = cli(gateway, "list", "--json")
    pending = json.loads(out)
    assert code == 0 and [p["request"]["command"] for p in pending] == ["echo from-cli"]
    code, out, _ = cli(gateway, "list")
    assert pending[0]["id"] in out and "$ echo from-cli" in out
    code, out, _ = cli(gateway, "approve", pending[0]["id"])
    assert code == 0 and out.strip() == f"allow-once: {pending[0]['id']}"
    final = raw.response("c1", 30)["payload"]
    assert "from-cli" in final["result"]["payloads"][0]["text"]

    raw = ask(gateway, "echo never", "c2")
    pending = json.loads(cli(gateway, "list", "--json")[1])
    code, out, _ = cli(gateway, "deny", pending[0]["id"])
    assert code == 0 and out.strip() == f"deny: {pending[0]['id']}"
    final = raw.response("c2", 30)["payload"]
    assert "denied" in final["result"]["payloads"][0]["text"]
    code, _, err = cli(gateway, "deny", pending[0]["id"])
    assert code == 1 and "no pending exec approval" in err


def test_approve_always_remembers_the_command(gateway: InProcessGateway) -> None:
    raw = ask(gateway, "echo again", "r1")
    pending = json.loads(cli(gateway, "list", "--json")[1])
    assert cli(gateway, "approve", "--always", pending[0]["id"])[0] == 0
    raw.response("r1", 30)
    raw.send({"type": "req", "id": "r2", "method": "agent",
              "params": {"message": "run `echo again`", "idempotencyKey": "r2"}})
    assert raw.response("r2")["ok"]
    final = raw.response("r2", 30)["payload"]
    assert "again\n[exit code 0]" in final["result"]["payloads"][0]["text"]
    assert not [e for e in raw.events if e.get("event") == "exec.approval.requested"]
    remembered = json.loads((gateway.profile.state_dir / "exec-approvals.json").read_text())
    assert [e["pattern"] for e in remembered["allowlist"]] == ["echo again"]
