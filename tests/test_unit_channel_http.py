"""The channels' HTTP transport (httpx on asyncio streams) against real local servers:
plain HTTP, TLS with certificate checks, a server that drops idle connections, and
timeouts mapped to httpx's exceptions."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from openclaw.channels.http import channel_transport


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        self.server.connections.add(self.client_address)  # before answering: no race
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/slow":
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

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.release = threading.Event()
        self.close_after_reply = False
        self.connections: set[Any] = set()


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


async def _post(transport: httpx.AsyncHTTPTransport, url: str, body: bytes = b"{}",
                timeout: float = 5.0) -> httpx.Response:
    request = httpx.Request("POST", url, content=body,
                            headers={"Content-Type": "application/json"})
    request.extensions["timeout"] = httpx.Timeout(timeout).as_dict()
    response = await transport.handle_async_request(request)
    await response.aread()
    await response.aclose()
    return response


def test_plain_http_keeps_one_connection_alive(server: _Server) -> None:
    async def run() -> list[Any]:
        transport = channel_transport(max_connections=2)
        url = f"http://127.0.0.1:{server.server_address[1]}/bot1:a/sendMessage"
        replies = [json.loads((await _post(transport, url, b'{"n": %d}' % n)).content)
                   for n in range(5)]
        await transport.aclose()
        return replies

    replies = asyncio.run(run())
    assert [json.loads(r["echo"])["n"] for r in replies] == [0, 1, 2, 3, 4]
    assert len(server.connections) == 1  # keep-alive: one connection served all five


def test_a_connection_the_server_closed_is_not_reused(server: _Server) -> None:
    server.close_after_reply = True

    async def run() -> list[int]:
        transport = channel_transport(max_connections=1)
        url = f"http://127.0.0.1:{server.server_address[1]}/x"
        codes = [(await _post(transport, url)).status_code for _ in range(3)]
        await transport.aclose()
        return codes

    assert asyncio.run(run()) == [200, 200, 200]
    assert len(server.connections) == 3


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
        with pytest.raises(httpx.ConnectError):
            await _post(sceptic, f"https://localhost:{port}/secure")
        await sceptic.aclose()

    asyncio.run(run())


def test_timeouts_and_refusals_are_httpx_errors(server: _Server) -> None:
    from harness import free_port

    async def run() -> None:
        transport = channel_transport(max_connections=1)
        with pytest.raises(httpx.ReadTimeout):
            await _post(transport, f"http://127.0.0.1:{server.server_address[1]}/slow",
                        timeout=0.2)
        with pytest.raises(httpx.ConnectError):
            await _post(transport, f"http://127.0.0.1:{free_port()}/x")
        await transport.aclose()

    asyncio.run(run())
