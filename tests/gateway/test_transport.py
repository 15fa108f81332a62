"""The transport on the gateway's one port: HTTP requests of every shape, upgrades,
slow and broken clients, keepalive, and reading paused for a client that pipelines."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from websockets.server import ServerProtocol

from inprocess import InProcessGateway
from openclaw.gateway.wsconn import FEED_CHUNK, INBOX_LIMIT, WebSocketConnection


def raw_http(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data`` and read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_probes_answer_and_other_methods_are_refused_with_allow(
        app_gateway: InProcessGateway) -> None:
    base = f"http://127.0.0.1:{app_gateway.port}"
    live = httpx.get(f"{base}/healthz")
    assert live.status_code == 200 and live.json()["status"] == "live"
    assert live.headers["server"].startswith("openclaw-gateway/")
    refused = httpx.post(f"{base}/healthz", content=b"{}")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"
    head = httpx.head(f"{base}/readyz")
    assert head.status_code == 200 and head.content == b""
    assert httpx.get(f"{base}/nope").status_code == 404


def test_bodies_must_have_a_length_and_stay_bounded(app_gateway: InProcessGateway) -> None:
    chunked = raw_http(app_gateway.port, b"POST /v1/x HTTP/1.1\r\nHost: x\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert chunked.startswith(b"HTTP/1.1 411 ")
    huge = raw_http(app_gateway.port, b"POST /v1/x HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Length: 999999999999\r\n\r\n")
    assert huge.startswith(b"HTTP/1.1 413 ")
    garbage = raw_http(app_gateway.port, b"NOT HTTP AT ALL\r\n\r\n")
    assert garbage.startswith(b"HTTP/1.1 400 ")


def test_an_oversized_request_head_is_refused(app_gateway: InProcessGateway) -> None:
    answer = raw_http(app_gateway.port, b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 20_000)
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_a_half_sent_request_is_cut(make_app_gateway: Callable[..., InProcessGateway]) -> None:
    gateway = make_app_gateway(head_timeout_s=0.3)
    started = time.monotonic()
    answer = raw_http(gateway.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never ends
    assert answer == b"" and time.monotonic() - started < 4


def test_a_client_that_never_answers_pings_is_dropped(
        make_app_gateway: Callable[..., InProcessGateway]) -> None:
    gateway = make_app_gateway(keepalive_s=0.2)
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"Sec-WebSocket-Version: 13\r\n\r\n")
        received = b""
        started = time.monotonic()
        while chunk := sock.recv(65536):  # reads the 101, the challenge, pings; never pongs
            received += chunk
        assert received.startswith(b"HTTP/1.1 101 ")
        assert time.monotonic() - started < 5  # dropped after the missed ping


class _Transport(asyncio.Transport):
    """Records what the connection asks of its socket."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = True
        self.written: list[bytes] = []

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def write(self, data: Any) -> None:
        self.written.append(bytes(data))

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def close(self) -> None:
        pass


def _open_connection(transport: _Transport) -> WebSocketConnection:
    protocol = ServerProtocol()
    protocol.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                          b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          b"Sec-WebSocket-Version: 13\r\n\r\n")
    request = protocol.events_received()[0]
    protocol.send_response(protocol.accept(request))  # type: ignore[arg-type]
    protocol.data_to_send()
    return WebSocketConnection(protocol, transport, "127.0.0.1", {})


def _masked_text(payload: bytes) -> bytes:
    """One client-to-server text frame (clients must mask; the mask is all zeros here)."""
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + b"\0\0\0\0" + payload


def test_reading_pauses_while_a_client_pipelines_and_resumes_as_it_drains() -> None:
    async def main() -> None:
        transport = _Transport()
        ws = _open_connection(transport)
        ws.data_received(b"".join(_masked_text(b'{"n":%d}' % i) for i in range(INBOX_LIMIT + 5)))
        assert not transport.reading, "a full inbox must stop reading from the socket"
        received = [await ws.recv() for _ in range(INBOX_LIMIT // 2 + 6)]
        assert received[0] == '{"n":0}' and isinstance(received[0], str)
        assert transport.reading, "draining the inbox resumes reading"

    asyncio.run(main())


def test_one_big_read_is_parsed_only_as_fast_as_the_handler_takes_messages() -> None:
    async def main() -> None:
        transport = _Transport()
        ws = _open_connection(transport)
        frames = [_masked_text(b'{"n":%d}' % i) for i in range(5000)]
        ws.data_received(b"".join(frames))  # ~70 KB in one read: thousands of requests
        parsed = len(ws._messages)
        assert INBOX_LIMIT <= parsed <= INBOX_LIMIT + FEED_CHUNK // len(frames[0])
        assert not transport.reading
        received = [await ws.recv() for _ in range(5000)]
        assert received == [f'{{"n":{i}}}' for i in range(5000)]
        assert transport.reading

    asyncio.run(main())


def test_a_queued_message_lets_other_tasks_run_first() -> None:
    async def main() -> None:
        ws = _open_connection(_Transport())
        ws.data_received(_masked_text(b"a") + _masked_text(b"b"))
        order: list[str] = []

        async def other() -> None:
            order.append("other")

        task = asyncio.get_running_loop().create_task(other())
        order.append(str(await ws.recv()))
        await task
        assert order == ["other", "a"]

    asyncio.run(main())


def test_drain_waits_while_the_client_is_not_reading() -> None:
    async def main() -> None:
        ws = _open_connection(_Transport())
        await asyncio.wait_for(ws.drain(), 1)  # nothing unsent: no wait
        ws.pause_writing()
        waiting = asyncio.get_running_loop().create_task(ws.drain())
        await asyncio.sleep(0)
        assert not waiting.done()
        ws.resume_writing()
        await asyncio.wait_for(waiting, 1)

    asyncio.run(main())


def test_invalid_utf8_closes_with_1007() -> None:
    async def main() -> None:
        transport = _Transport()
        ws = _open_connection(transport)
        ws.data_received(_masked_text(b"\xff\xfe"))
        closes = [w for w in transport.written if w[:1] == b"\x88"]
        assert closes and closes[0][2:4] == (1007).to_bytes(2, "big")
        assert not ws.open

    asyncio.run(main())


@pytest.mark.parametrize("fragments", [[b'{"a":', b'"b"}'], [b"{", b"", b"}"]])
def test_fragmented_messages_are_reassembled(fragments: list[bytes]) -> None:
    async def main() -> None:
        transport = _Transport()
        ws = _open_connection(transport)
        frames = []
        for index, part in enumerate(fragments):
            opcode = 0x1 if index == 0 else 0x0
            fin = 0x80 if index == len(fragments) - 1 else 0
            frames.append(bytes([fin | opcode, 0x80 | len(part)]) + b"\0\0\0\0" + part)
        ws.data_received(b"".join(frames))
        assert await ws.recv() == b"".join(fragments).decode()

    asyncio.run(main())
