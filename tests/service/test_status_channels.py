"""``gateway status`` tells the truth about channels too: its RPC probe lists every
channel account as the running gateway sees it (no service manager needed)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from harness import GatewayProcess, free_port, run_cli


def test_the_probe_lists_each_channel_account_and_its_state(
        make_gateway: Callable[..., GatewayProcess]) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    gateway = make_gateway(config={"channels": {"telegram": {
        "botToken": "123456:TEST-token-abc", "apiRoot": closed}}})
    result = run_cli("gateway", "status", "--json", "--url", gateway.url, "--token",
                     gateway.token, home=gateway.home)
    data = json.loads(result.stdout)
    assert data["rpc"]["ok"] is True
    [line] = data["rpc"]["channels"]
    assert re.fullmatch(r"telegram/default: (connecting|disconnected \(.+\))", line), line
    assert "123456:TEST-token-abc" not in result.stdout
    text = run_cli("gateway", "status", "--url", gateway.url, "--token", gateway.token,
                   home=gateway.home).stdout
    assert "  channel telegram/default: " in text
