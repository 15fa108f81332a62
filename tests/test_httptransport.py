"""The shared HTTP transport (httpcore's pool on asyncio streams behind httpx's public
transport interface) against real loopback servers: keep-alive, streamed bodies both
ways, TLS with certificate checks, a server that drops connections, and timeouts,
refusals and broken answers mapped to httpx's exceptions."""

from __future__ import annotations

import asyncio
import errno
import json
import ssl
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness import free_port
from openclaw.httptransport import PoolTransport, channel_transport


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        self.server.connections.add(self.client_address)  # before answering: no race
        if self.headers.get("Transfer-Encoding") == "chunked":
            body = self._read_chunked()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/slow":
            self.server.arrived.set()
            self.server.release.wait(5)
        payload = json.dumps({"ok": True, "echo": body.decode(), "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if self.server.close_after_reply:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self.server.connections.add(self.client_address)
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for n in range(3):
                part = f"part{n};".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/cut":  # promises 100 bytes, sends 5, hangs up
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"short")
            self.wfile.flush()
            self.close_connection = True
        else:
            self.send_error(404)

    def _read_chunked(self) -> bytes:
        body = b""
        while size := int(self.rfile.readline().strip(), 16):
            body += self.rfile.read(size)
            self.rfile.readline()
        self.rfile.readline()
        return body

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.arrived = threading.Event()  # a /slow request is being held
        self.release = threading.Event()
        self.close_after_reply = False
        self.connections: set[Any] = set()

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)  # a client that timed out left

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60)
    return cert, key


def _request(url: str, body: bytes = b"{}", *, timeout: float = 5.0,
             pool: float | None = None) -> httpx.Request:
    request = httpx.Request("POST", url, content=body,
                            headers={"Content-Type": "application/json"})
    request.extensions["timeout"] = httpx.Timeout(timeout, pool=pool or timeout).as_dict()
    return request


async def _post(transport: httpx.AsyncBaseTransport, url: str, body: bytes = b"{}",
                timeout: float = 5.0) -> httpx.Response:
    response = await transport.handle_async_request(_request(url, body, timeout=timeout))
    await response.aread()
    await response.aclose()
    return response


def test_it_is_a_public_httpx_transport() -> None:
    transport = channel_transport(max_connections=1)
    assert isinstance(transport, PoolTransport)
    assert isinstance(transport, httpx.AsyncBaseTransport)
    asyncio.run(transport.aclose())


def test_plain_http_keeps_one_connection_alive(server: _Server) -> None:
    async def run() -> list[Any]:
        transport = channel_transport(max_connections=2)
        url = f"{server.url}/bot1:a/sendMessage"
        replies = []
        for n in range(5):
            response = await _post(transport, url, b'{"n": %d}' % n)
            assert response.status_code == 200 and response.reason_phrase == "OK"
            assert response.headers["content-type"] == "application/json"
            replies.append(json.loads(response.content))
        await transport.aclose()
        return replies

    replies = asyncio.run(run())
    assert [json.loads(r["echo"])["n"] for r in replies] == [0, 1, 2, 3, 4]
    assert len(server.connections) == 1  # keep-alive: one connection served all five


def test_a_connection_the_server_closed_is_not_reused(server: _Server) -> None:
    server.close_after_reply = True

    async def run() -> list[int]:
        transport = channel_transport(max_connections=1)
        codes = [(await _post(transport, f"{server.url}/x")).status_code for _ in range(3)]
        await transport.aclose()
        return codes

    assert asyncio.run(run()) == [200, 200, 200]
    assert len(server.connections) == 3


def test_bodies_stream_both_ways_through_an_httpx_client(server: _Server) -> None:
    async def parts() -> AsyncIterator[bytes]:
        for n in range(3):
            yield f"chunk{n}-".encode()

    async def run() -> tuple[list[bytes], Any]:
        async with httpx.AsyncClient(transport=channel_transport(max_connections=1),
                                     base_url=server.url) as client:
            async with client.stream("GET", "/chunked") as response:
                assert response.status_code == 200
                received = [chunk async for chunk in response.aiter_raw()]
            echoed = (await client.post("/upload", content=parts())).json()
        return received, echoed

    received, echoed = asyncio.run(run())
    assert b"".join(received) == b"part0;part1;part2;"
    assert echoed["echo"] == "chunk0-chunk1-chunk2-"
    assert len(server.connections) == 1  # the streamed GET's connection was reused


def test_tls_is_verified_and_works(server: _Server, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    trusting = ssl.create_default_context(cafile=str(cert))

    async def run() -> None:
        transport = channel_transport(max_connections=1, verify=trusting)
        response = await _post(transport, f"https://localhost:{port}/secure", b'{"t": 1}')
        assert response.status_code == 200 and json.loads(response.content)["path"] == "/secure"
        await transport.aclose()
        sceptic = channel_transport(max_connections=1)  # system CAs: the test cert is unknown
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await _post(sceptic, f"https://localhost:{port}/secure")
        await sceptic.aclose()
        unchecked = channel_transport(max_connections=1, verify=False)
        assert (await _post(unchecked, f"https://localhost:{port}/x")).status_code == 200
        await unchecked.aclose()

    asyncio.run(run())


def test_a_read_timeout_and_a_refusal_are_httpx_errors_carrying_the_request(
    server: _Server,
) -> None:
    async def run() -> None:
        transport = channel_transport(max_connections=1)
        slow = _request(f"{server.url}/slow", timeout=0.2)
        with pytest.raises(httpx.ReadTimeout) as timed_out:
            await transport.handle_async_request(slow)
        assert timed_out.value.request is slow
        refused = _request(f"http://127.0.0.1:{free_port()}/x")
        with pytest.raises(httpx.ConnectError) as not_there:
            await transport.handle_async_request(refused)
        assert not_there.value.request is refused
        assert f"[Errno {errno.ECONNREFUSED}]" in str(not_there.value)
        await transport.aclose()

    asyncio.run(run())


def test_waiting_for_a_free_connection_times_out_as_a_pool_timeout(server: _Server) -> None:
    async def run() -> None:
        transport = channel_transport(max_connections=1)
        held = asyncio.ensure_future(_post(transport, f"{server.url}/slow"))
        assert await asyncio.to_thread(server.arrived.wait, 5)  # it holds the one connection
        with pytest.raises(httpx.PoolTimeout):
            await transport.handle_async_request(
                _request(f"{server.url}/x", timeout=5.0, pool=0.1))
        server.release.set()
        assert (await held).status_code == 200
        assert (await _post(transport, f"{server.url}/x")).status_code == 200  # pool is fine
        await transport.aclose()

    asyncio.run(run())


def test_a_body_cut_short_is_a_remote_protocol_error(server: _Server) -> None:
    async def run() -> None:
        transport = channel_transport(max_connections=1)
        request = httpx.Request("GET", f"{server.url}/cut")
        response = await transport.handle_async_request(request)
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError) as cut:
            await response.aread()
        assert cut.value.request is request
        await response.aclose()
        assert (await _post(transport, f"{server.url}/after")).status_code == 200
        await transport.aclose()

    asyncio.run(run())
    assert len(server.connections) == 2  # the broken connection was not reused


def test_a_request_with_a_sync_only_body_is_refused() -> None:
    class SyncOnly(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield b"x"

    async def run() -> None:
        transport = channel_transport(max_connections=1)
        with pytest.raises(TypeError, match="async body"):
            await transport.handle_async_request(
                httpx.Request("POST", "http://127.0.0.1:9/", stream=SyncOnly()))
        await transport.aclose()

    asyncio.run(run())
