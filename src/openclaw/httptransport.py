"""The HTTP transport the channels and the model providers use: httpcore's connection
pool on plain asyncio streams, behind httpx's public transport interface.

httpx's own transport drives httpcore's connection pool, whose default network
layer goes through anyio. On the gateway's hot path (every ``send`` is one Bot API
call) that layer costs about a fifth of the CPU of a call, so the pool is built
here with httpcore's documented extension point instead, an
``AsyncNetworkBackend``, backed directly by asyncio streams, and wrapped in a small
:class:`httpx.AsyncBaseTransport` that translates requests, responses and errors
between the two libraries through their public APIs. HTTP itself (h11, pooling,
keep-alive, TLS) stays with the libraries.

It lives outside ``channels/`` and ``agent/`` so that both can use it without one
depending on the other.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Iterable
from typing import Any, NoReturn

import httpcore
import httpx

__all__ = ["AsyncioBackend", "AsyncioStream", "PoolTransport", "channel_transport"]


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One TCP (or TLS) connection as httpcore sees it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Up to ``max_bytes``; b"" at end of stream."""
        try:
            async with asyncio.timeout(timeout):
                return await self.reader.read(max_bytes)
        except TimeoutError:
            raise httpcore.ReadTimeout(f"no data within {timeout}s") from None
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Write all of ``buffer``."""
        if not buffer:
            return
        try:
            self.writer.write(buffer)
            async with asyncio.timeout(timeout):
                await self.writer.drain()
        except TimeoutError:
            raise httpcore.WriteTimeout(f"could not write within {timeout}s") from None
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from exc

    async def aclose(self) -> None:
        """Close without waiting for the peer."""
        self.writer.close()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> AsyncioStream:
        """Upgrade this connection to TLS in place."""
        try:
            async with asyncio.timeout(timeout):
                await self.writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"TLS handshake took over {timeout}s") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        return self

    def get_extra_info(self, info: str) -> Any:
        """What httpcore asks: ``is_readable`` (an idle connection the server closed),
        ``ssl_object``, ``socket``, ``client_addr``, ``server_addr``."""
        if info == "is_readable":
            return self.reader.at_eof() or self.writer.is_closing()
        name = {"client_addr": "sockname", "server_addr": "peername"}.get(info, info)
        return self.writer.get_extra_info(name)


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens :class:`AsyncioStream` connections (TCP_NODELAY: requests are small)."""

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> AsyncioStream:
        """Connect to ``host:port``."""
        local = (local_address, 0) if local_address else None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, local_addr=local, limit=1 << 20)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"no connection within {timeout}s") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for option in socket_options or ():
                sock.setsockopt(*option)
        return AsyncioStream(reader, writer)

    async def sleep(self, seconds: float) -> None:
        """Sleep on the running loop."""
        await asyncio.sleep(seconds)


# httpcore's exceptions → httpx's, most specific first (a subclass before its base).
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


def _raise_as_httpx(exc: Exception, request: httpx.Request) -> NoReturn:
    """Raise the httpx exception callers catch for httpcore's ``exc``, or ``exc``."""
    for core, mapped in _ERRORS:
        if isinstance(exc, core):
            raise mapped(str(exc) or type(exc).__name__, request=request) from exc
    raise exc


class _ResponseStream(httpx.AsyncByteStream):
    """An httpcore response body as an httpx stream; closing it frees the connection."""

    def __init__(self, response: httpcore.Response, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_stream():
                yield chunk
        except Exception as exc:
            _raise_as_httpx(exc, self._request)

    async def aclose(self) -> None:
        try:
            await self._response.aclose()
        except Exception as exc:
            _raise_as_httpx(exc, self._request)


class PoolTransport(httpx.AsyncBaseTransport):
    """An httpx transport over an :class:`httpcore.AsyncConnectionPool` it owns.

    Requests pass to the pool as they are (method, URL, headers, streamed body, and
    extensions such as the per-request ``timeout``); responses come back streamed;
    httpcore's exceptions become httpx's, with the request attached, so callers
    catch ``httpx.HTTPError`` as with any httpx transport.
    """

    def __init__(self, pool: httpcore.AsyncConnectionPool) -> None:
        self.pool = pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the pool; the response body is read lazily."""
        if not isinstance(request.stream, httpx.AsyncByteStream):
            raise TypeError("PoolTransport needs a request with an async body")
        url = request.url
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port,
                             target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = await self.pool.handle_async_request(core_request)
        except Exception as exc:
            _raise_as_httpx(exc, request)
        return httpx.Response(response.status, headers=response.headers,
                              stream=_ResponseStream(response, request),
                              extensions=response.extensions)

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self.pool.aclose()


def channel_transport(max_connections: int,
                      verify: ssl.SSLContext | bool = True) -> PoolTransport:
    """A transport keeping up to ``max_connections`` connections (all kept alive
    between requests, for 5 s) on :class:`AsyncioBackend`.

    ``verify``: ``True`` checks servers against httpx's CA bundle, an
    :class:`ssl.SSLContext` is used as given, ``False`` checks nothing.
    """
    context = (verify if isinstance(verify, ssl.SSLContext)
               else httpx.create_ssl_context(verify=verify))
    return PoolTransport(httpcore.AsyncConnectionPool(
        ssl_context=context,
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=5.0,
        network_backend=AsyncioBackend(),
    ))
