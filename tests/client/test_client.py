"""The client library against real gateways: calls, events, reconnects, tick timeouts."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness import GatewayProcess, free_port
from openclaw.backoff import Backoff
from openclaw.client.aio import AsyncGatewayClient
from openclaw.client.sync import GatewayClient, call_once
from openclaw.errors import AuthError, GatewayUnreachable, RequestError


def fast() -> Backoff:
    """Short reconnect delays; one per client, since a client counts its attempts in it."""
    return Backoff(base=0.05, cap=0.2)


def test_sync_client_calls_and_sees_events(make_gateway: Callable[..., GatewayProcess]) -> None:
    gateway = make_gateway(config={"gateway": {"tickIntervalMs": 100}})
    events: list[dict[str, Any]] = []
    with GatewayClient(gateway.url, token=gateway.token, on_event=events.append) as client:
        assert client.hello["type"] == "hello-ok"
        assert client.tick_interval_s == 0.1
        assert client.call("health")["ok"] is True
        with pytest.raises(RequestError) as info:
            client.call("logs.tail", {"limit": 0})
        assert info.value.code == "INVALID_REQUEST"
        # a long wait sees ticks go by as events
        while not any(e["event"] == "tick" for e in events):
            client.call("health")
    assert call_once(gateway.url, "status", token=gateway.token)["runtimeVersion"]


def test_sync_client_errors(gateway: GatewayProcess) -> None:
    with pytest.raises(AuthError) as auth:
        call_once(gateway.url, "health", token="wrong")
    assert auth.value.exit_code == 77
    port = free_port()
    with pytest.raises(GatewayUnreachable) as down:
        call_once(f"ws://127.0.0.1:{port}", "health", token="t")
    assert "connection refused" in down.value.message


def test_sync_client_detects_a_silent_gateway(make_gateway: Callable[..., GatewayProcess]) -> None:
    gateway = make_gateway(config={"gateway": {"tickIntervalMs": 200}})
    client = GatewayClient(gateway.url, token=gateway.token)
    client.connect()
    gateway.signal(signal.SIGSTOP)
    try:
        with pytest.raises(GatewayUnreachable) as info:
            client.call("health", timeout=None)
        assert "went silent" in info.value.message
    finally:
        gateway.signal(signal.SIGCONT)
        client.close()


def _run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_async_client_reconnects_after_restart(
    make_gateway: Callable[..., GatewayProcess], home: Path
) -> None:
    first = make_gateway(home=home)
    port = first.port

    async def scenario() -> None:
        client = AsyncGatewayClient(first.url, token=first.token, backoff=fast(), mode="ui")
        await client.connect()
        assert (await client.call("health"))["process"]["pid"] == first.pid
        first.signal(signal.SIGTERM)
        shutdown = await client.next_event("shutdown")
        assert shutdown["payload"]["reason"] == "gateway stopping"
        await client.wait_disconnected(10)
        assert client.last_close == (1012, "service restart")
        with pytest.raises(GatewayUnreachable):
            await client.call("health")
        second = await asyncio.to_thread(make_gateway, home=home, port=port)
        await client.wait_connected(15)
        assert client.connections == 2
        assert (await client.call("health"))["process"]["pid"] == second.pid
        await client.close()

    _run(scenario())


def test_async_client_tick_timeout_then_recovers(
    make_gateway: Callable[..., GatewayProcess],
) -> None:
    gateway = make_gateway(config={"gateway": {"tickIntervalMs": 200}})

    async def scenario() -> None:
        client = AsyncGatewayClient(gateway.url, token=gateway.token, backoff=fast())
        await client.connect()
        await client.next_event("tick", timeout=5)
        gateway.signal(signal.SIGSTOP)
        try:
            await client.wait_disconnected(10)
            assert client.last_close == (4000, "tick timeout")
            assert not client.connected
        finally:
            gateway.signal(signal.SIGCONT)
        await client.wait_connected(15)
        assert client.connections == 2
        assert (await client.call("health"))["ok"] is True
        await client.close()

    _run(scenario())


def test_async_client_does_not_retry_refused_credentials(gateway: GatewayProcess) -> None:
    async def scenario() -> None:
        client = AsyncGatewayClient(gateway.url, token="nope", backoff=fast())
        with pytest.raises(AuthError):
            await client.connect()

    _run(scenario())


def test_async_client_concurrent_calls(gateway: GatewayProcess) -> None:
    async def scenario() -> None:
        async with AsyncGatewayClient(gateway.url, token=gateway.token) as client:
            results = await asyncio.gather(*(client.call("health") for _ in range(50)))
            assert all(r["ok"] for r in results)

    _run(scenario())


def test_expect_final_skips_interim_answers() -> None:
    async def scenario() -> None:
        client = AsyncGatewayClient("ws://unused", token="t")
        loop = asyncio.get_running_loop()
        final: asyncio.Future[Any] = loop.create_future()
        plain: asyncio.Future[Any] = loop.create_future()
        client._pending["a"] = (final, True)
        client._pending["b"] = (plain, False)
        accepted = {"runId": "r", "status": "accepted"}
        client._resolve({"type": "res", "id": "a", "ok": True, "payload": accepted})
        client._resolve({"type": "res", "id": "b", "ok": True, "payload": accepted})
        assert not final.done() and plain.result() == accepted
        client._resolve({"type": "res", "id": "a", "ok": True,
                         "payload": {"runId": "r", "status": "ok"}})
        assert final.result()["status"] == "ok"

    _run(scenario())
