"""Events: tick, seq, presence, health, shutdown to every client, slow-client drop."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from collections.abc import Callable

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from harness import GatewayProcess, RawClient, connect_frame
from openclaw.client.wsmini import MiniWebSocket

FAST_TICKS = {"gateway": {"tickIntervalMs": 200}}


def test_ticks_and_seq_are_monotonic(make_gateway: Callable[..., GatewayProcess]) -> None:
    gateway = make_gateway(config=FAST_TICKS)
    client = RawClient(gateway.url)
    hello = client.handshake(gateway.token, mode="ui")
    assert hello["policy"]["tickIntervalMs"] == 200
    events = [client.next_event("tick", timeout=5) for _ in range(4)]
    for event in events:
        assert isinstance(event["payload"]["ts"], int)
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    everything = [e["seq"] for e in client.events if "seq" in e] + seqs
    assert sorted(everything) == list(range(1, len(everything) + 1))
    client.close()


def test_presence_on_connect_and_disconnect(shared_gateway: GatewayProcess) -> None:
    watcher = RawClient(shared_gateway.url)
    watcher.handshake(shared_gateway.token, mode="ui", instance_id="watcher-1")
    first = watcher.next_event("presence")  # its own arrival
    assert any(e.get("instanceId") == "watcher-1" for e in first["payload"]["presence"])
    version = first["stateVersion"]["presence"]

    other = RawClient(shared_gateway.url)
    other.handshake(shared_gateway.token, mode="ui", instance_id="visitor-1")
    joined = watcher.next_event("presence")
    entries = joined["payload"]["presence"]
    visitor = [e for e in entries if e.get("instanceId") == "visitor-1"]
    assert visitor and visitor[0]["reason"] == "connect" and visitor[0]["mode"] == "ui"
    assert entries[0]["mode"] == "gateway"
    assert joined["stateVersion"]["presence"] > version

    other.close()
    left = watcher.next_event("presence")
    assert not any(e.get("instanceId") == "visitor-1" for e in left["payload"]["presence"])
    assert left["seq"] > joined["seq"]
    watcher.close()


def test_cli_clients_do_not_churn_presence(shared_gateway: GatewayProcess) -> None:
    watcher = RawClient(shared_gateway.url)
    watcher.handshake(shared_gateway.token, mode="ui", instance_id="watcher-2")
    watcher.next_event("presence")
    tool = RawClient(shared_gateway.url)
    tool.handshake(shared_gateway.token, client_id="cli", mode="cli", instance_id="cli-x")
    tool.close()
    entries = watcher.request("system-presence")["payload"]
    assert not any(e.get("instanceId") == "cli-x" for e in entries)
    assert not [e for e in watcher.events if e.get("event") == "presence"]
    watcher.close()


def test_health_event_when_health_changes(shared_gateway: GatewayProcess) -> None:
    watcher = RawClient(shared_gateway.url)
    watcher.handshake(shared_gateway.token, mode="ui")
    before = watcher.request("health")["payload"]["heartbeatSeconds"]
    changer = RawClient(shared_gateway.url)
    changer.handshake(shared_gateway.token, mode="cli", client_id="cli")
    changer.request("set-heartbeats", {"enabled": not before})
    event = watcher.next_event("health")
    assert event["payload"]["heartbeatSeconds"] == (1800 if not before else 0)
    assert "health" in event["stateVersion"]
    changer.request("set-heartbeats", {"enabled": True})
    watcher.close()
    changer.close()


async def _client_until_close(
    url: str, token: str, ready: asyncio.Semaphore
) -> tuple[list[str], int | None, str]:
    async with ws_connect(url, compression=None) as ws:
        await ws.recv()
        frame = connect_frame(token, mode="ui")
        await ws.send(json.dumps(frame))
        while True:
            reply = json.loads(await ws.recv())
            if reply.get("type") == "res":
                assert reply["ok"], reply
                break
        seen: list[str] = []
        ready.release()
        try:
            async for message in ws:
                seen.append(json.loads(message).get("event", ""))
        except ConnectionClosed:
            pass
        return seen, ws.close_code, ws.close_reason or ""


def test_shutdown_reaches_every_client_before_1012(
    make_gateway: Callable[..., GatewayProcess],
) -> None:
    gateway = make_gateway()
    clients = 60

    async def scenario() -> list[tuple[list[str], int | None, str]]:
        ready = asyncio.Semaphore(0)
        tasks = [asyncio.create_task(_client_until_close(gateway.url, gateway.token, ready))
                 for _ in range(clients)]
        for _ in range(clients):
            await asyncio.wait_for(ready.acquire(), 30)
        gateway.signal(signal.SIGTERM)
        return await asyncio.wait_for(asyncio.gather(*tasks), 30)

    results = asyncio.run(scenario())
    assert gateway.wait() == 0
    assert len(results) == clients
    for seen, code, reason in results:
        assert "shutdown" in seen
        assert seen[-1] == "shutdown"
        assert (code, reason) == (1012, "service restart")
    assert "gateway stopped" in gateway.output
    assert not (gateway.state_dir / "gateway.runtime.json").exists()


def test_sigint_also_drains_and_exits_zero(gateway: GatewayProcess) -> None:
    client = RawClient(gateway.url)
    client.handshake(gateway.token)
    gateway.signal(signal.SIGINT)
    event = client.next_event("shutdown")
    assert event["payload"] == {"reason": "gateway stopping"}
    assert client.close_code()[0] == 1012
    assert gateway.wait() == 0


def _stalled_client(url_port: int, token: str) -> tuple[socket.socket, MiniWebSocket]:
    """A client that completes the handshake, then never reads again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", url_port))
    ws = MiniWebSocket(sock)
    ws.handshake("127.0.0.1", url_port, "/", "stalled-test")
    ws.settimeout(10)
    json.loads(ws.recv_text())  # challenge
    ws.send_text(json.dumps(connect_frame(token, mode="ui", instance_id="stalled-1")))
    while json.loads(ws.recv_text()).get("type") != "res":
        pass
    return sock, ws


def test_slow_client_is_dropped_and_others_are_unaffected(
    make_gateway: Callable[..., GatewayProcess],
) -> None:
    limit = 1_048_576
    gateway = make_gateway(config={"gateway": {"maxBufferedBytes": limit}})
    sock, _ = _stalled_client(gateway.port, gateway.token)
    fast = RawClient(gateway.url, max_size=None)
    fast.handshake(gateway.token, mode="ui", instance_id="fast-1")
    line = "z" * 1000
    deadline = time.monotonic() + 60
    dropped = False
    i = 0
    while not dropped and time.monotonic() < deadline:
        # each change makes the gateway broadcast the whole (growing) presence list
        i += 1
        assert fast.request("system-event", {"text": line, "instanceId": f"flood-{i % 150}"})["ok"]
        entries = fast.request("system-presence")["payload"]
        dropped = not any(e.get("instanceId") == "stalled-1" for e in entries)
        fast.events.clear()
    assert dropped, "the stalled client was never dropped"
    assert fast.request("health")["ok"] is True  # the reader was never affected
    log = gateway.log_text()
    assert "dropping slow client" in log
    assert f'"limit": {limit}' in log
    sock.close()
    fast.close()


def test_client_that_never_reads_responses_is_dropped(
    make_gateway: Callable[..., GatewayProcess],
) -> None:
    gateway = make_gateway(config={"gateway": {"maxBufferedBytes": 65536}})
    sock, ws = _stalled_client(gateway.port, gateway.token)
    witness = RawClient(gateway.url)
    witness.handshake(gateway.token, mode="ui", instance_id="witness-1")
    for n in range(20):  # make `status` answers ~10 KB: it lists queued system events
        witness.request("system-event", {"text": f"{n} " + "q" * 600})
    for n in range(2000):  # pipelined, never read: ~20 MB of answers in all
        try:
            ws.send_text(json.dumps({"type": "req", "id": f"p{n}", "method": "status"}))
        except OSError:
            break  # the gateway aborted us
    presence = witness.next_event("presence", timeout=20)
    while any(e.get("instanceId") == "stalled-1" for e in presence["payload"]["presence"]):
        presence = witness.next_event("presence", timeout=20)
    assert witness.request("health")["ok"] is True
    assert "dropping slow client" in gateway.log_text()
    sock.close()
    witness.close()
