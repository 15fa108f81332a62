"""WhatsApp in a real gateway process, with the real neonize client and no network.

WhatsApp's servers cannot be reached from here, so these tests show what can be
shown: a gateway with a WhatsApp account starts, stays up and answers; the account
reports ``unreachable`` with its error, retry time and reconnect count; a login
reports a clear error; the gateway stops cleanly; and a gateway without WhatsApp
never loads neonize.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from harness import GatewayProcess, RawClient

TOKEN = "whatsapp-test-token-0123456789"


def _maps(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def _gateway(home: Path, channels: dict[str, Any]) -> GatewayProcess:
    return GatewayProcess(home, config={"gateway": {"auth": {"token": TOKEN}},
                                        "channels": channels})


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc")
def test_a_gateway_without_whatsapp_never_loads_neonize(tmp_path: Path) -> None:
    gateway = _gateway(tmp_path, {}).start()
    try:
        client = RawClient(gateway.url)
        client.handshake(TOKEN)
        assert client.request("health")["ok"]
        client.close()
        assert "neonize" not in _maps(gateway.pid)
    finally:
        gateway.stop()


def test_offline_whatsapp_account_is_unreachable_with_backoff_and_the_gateway_stays_up(
        tmp_path: Path) -> None:
    pytest.importorskip("neonize")
    gateway = _gateway(tmp_path, {"whatsapp": {}})
    creds = gateway.state_dir / "credentials" / "whatsapp" / "default"
    creds.mkdir(parents=True, mode=0o700)
    (creds / "creds.db").touch(mode=0o600)
    gateway.start(timeout=30)
    try:
        gateway.wait_for_line(r"whatsapp/default: cannot reach WhatsApp.*retrying in",
                              timeout=60)
        client = RawClient(gateway.url)
        client.handshake(TOKEN)
        status = client.request("channels.status")["payload"]
        [account] = status["channelAccounts"]["whatsapp"]
        assert account["state"] == "unreachable"
        assert "cannot reach WhatsApp" in account["lastError"]
        assert account["reconnectAttempts"] >= 1
        assert account["connected"] is False and account["linked"] is True
        health = client.request("health")["payload"]
        assert health["ok"] is True
        assert health["channels"]["whatsapp"]["accounts"]["default"]["state"] == "unreachable"
        login = client.request("web.login.start", {"channel": "whatsapp"}, timeout=60)
        assert login["ok"] is False
        assert "cannot reach WhatsApp to link this account" in login["error"]["message"]
        assert client.request("health")["ok"]  # still answering after the failed login
        client.close()
        assert "neonize" in _maps(gateway.pid)
        assert stat_mode(creds) == 0o700 and stat_mode(creds / "creds.db") == 0o600
    finally:
        code = gateway.stop(timeout=30)
    assert code == 0, gateway.output
    assert str(creds / "creds.db") not in gateway.log_text()


def stat_mode(path: Path) -> int:
    return os.stat(path).st_mode & 0o777


def test_a_whatsapp_account_without_credentials_waits_for_a_login(tmp_path: Path) -> None:
    gateway = _gateway(tmp_path, {"whatsapp": {}, }).start()
    try:
        gateway.wait_for_line(r"whatsapp/default: not linked: run `openclaw channels login "
                              r"--channel whatsapp`; not retrying", timeout=30)
        client = RawClient(gateway.url)
        client.handshake(TOKEN)
        [account] = client.request("channels.status")["payload"]["channelAccounts"]["whatsapp"]
        assert account["state"] == "logged-out"
        assert account["reconnectAttempts"] == 0 and account["nextRetryAt"] is None
        summary = client.request("status")["payload"]["channelSummary"]
        assert summary == ["whatsapp/default: not linked: run "
                           "`openclaw channels login --channel whatsapp`"]
        client.close()
    finally:
        assert gateway.stop() == 0
