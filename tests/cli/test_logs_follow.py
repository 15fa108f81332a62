"""``openclaw logs --follow`` across log rotation and a gateway restart, and
``logs.tail`` against a rotating file log."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from harness import GatewayProcess, RawClient, start_cli

ROTATING = {"logging": {"level": "debug", "maxFileBytes": 4096, "maxArchives": 2}}


class Follower:
    """``openclaw logs --follow --json`` as a subprocess, its records on a queue."""

    def __init__(self, home: Path, port: int) -> None:
        self.proc = start_cli(
            "logs", "--follow", "--json", "--interval", "100", "--timeout", "2000",
            home=home, env={"OPENCLAW_GATEWAY_PORT": str(port)}, stderr=subprocess.DEVNULL,
        )
        self.records: queue.Queue[dict] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.records.put(json.loads(line))

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float = 20) -> list[dict]:
        """Collect records until one satisfies ``predicate``; return all collected."""
        seen: list[dict] = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"not seen in time; got {seen[-5:]}"
            try:
                record = self.records.get(timeout=remaining)
            except queue.Empty:
                continue
            seen.append(record)
            if predicate(record):
                return seen

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _message(record: dict) -> str:
    return str(record.get("entry", {}).get("message", "")) if record["type"] == "log" else ""


def _log_lines(gateway: GatewayProcess, count: int) -> None:
    """Make the gateway write log lines (each connection logs at debug level)."""
    for _ in range(count):
        client = RawClient(gateway.url)
        client.handshake(gateway.token, client_id="cli", mode="cli")
        client.close()


def test_follow_survives_rotation_and_restart(
    make_gateway: Callable[..., GatewayProcess], home: Path
) -> None:
    first = make_gateway("--verbose", home=home, config=ROTATING)
    port = first.port
    follower = Follower(home, port)
    try:
        follower.wait_for(lambda r: "listening on" in _message(r))
        _log_lines(first, 40)  # far more than 4 KiB: several rotations
        seen = follower.wait_for(
            lambda r: r["type"] == "notice" and "rotated" in r["message"]
        )
        assert any("client connected" in _message(r) for r in seen)
        archives = sorted(p.name for p in (home / ".openclaw" / "logs").glob("*.log"))
        assert len(archives) <= 3  # the active file plus at most maxArchives
        assert first.stop() == 0
        follower.wait_for(lambda r: r["type"] == "notice" and "retrying" in r["message"])
        second = make_gateway("--verbose", home=home, config=None, port=port)
        follower.wait_for(lambda r: r["type"] == "notice" and "reconnected" in r["message"])
        follower.wait_for(lambda r: f"pid {second.pid}" in _message(r))
    finally:
        follower.stop()


def test_tail_after_rotation_reports_reset(make_gateway: Callable[..., GatewayProcess]) -> None:
    gateway = make_gateway("--verbose", config=ROTATING)
    client = RawClient(gateway.url)
    client.handshake(gateway.token, client_id="cli", mode="cli")
    first = client.request("logs.tail")["payload"]
    _log_lines(gateway, 40)
    after = client.request("logs.tail", {"cursor": first["cursor"]})["payload"]
    assert after.get("reset") is True
    assert after["file"] == first["file"]
    assert after["size"] <= 4096
    assert all(json.loads(line)["time"] for line in after["lines"])
    client.close()


def test_tail_follows_across_rotations_without_loss(
    make_gateway: Callable[..., GatewayProcess],
) -> None:
    config = {"logging": {"level": "debug", "maxFileBytes": 4096, "maxArchives": 10}}
    gateway = make_gateway("--verbose", config=config)
    client = RawClient(gateway.url)
    client.handshake(gateway.token, client_id="cli", mode="cli")
    start = client.request("logs.tail")["payload"]
    _log_lines(gateway, 25)  # ~50 lines of ~250 bytes: several rotations
    after = client.request("logs.tail", {"cursor": start["cursor"], "limit": 5000})["payload"]
    assert after["reset"] is True and "truncated" not in after
    connected = [line for line in after["lines"] if "client connected" in line]
    assert len(connected) == 25
    ids = [json.loads(line)["connId"] for line in connected]
    assert len(set(ids)) == 25
    assert len(list(gateway.log_dir.glob("*.log"))) > 2
    client.close()
