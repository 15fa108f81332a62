"""The HTTP side of the gateway's port: requests, responses and the route table.

The transport (:mod:`openclaw.gateway.server`) parses a plain HTTP request (any
method, with a ``Content-Length`` body) into an :class:`HttpRequest` and writes back
what the route answers: a whole :class:`HttpResponse`, or a
:class:`StreamingResponse` whose chunks are written as they come (Server-Sent
Events). A WebSocket upgrade on any path goes to the control plane instead.

The built-in routes are the probes: ``/health`` and ``/healthz`` (alive), ``/ready``
and ``/readyz`` (ready to serve: 503 while starting, while a channel account has not
connected yet, and while draining). The Control UI's files and the HTTP API plug in
as more routes.
"""

from __future__ import annotations

import http
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from openclaw.protocol.frames import encode

if TYPE_CHECKING:
    from openclaw.gateway.app import App

__all__ = [
    "HttpRequest",
    "HttpResponse",
    "Route",
    "RouteTable",
    "StreamingResponse",
    "default_routes",
    "json_response",
]


@dataclass(frozen=True)
class HttpRequest:
    """One plain HTTP request: header names are lower-cased."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    remote: str


@dataclass
class HttpResponse:
    """A whole response."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


@dataclass
class StreamingResponse:
    """A response whose body is written chunk by chunk as ``chunks`` yields them; the
    connection closes after the last one (no length is known in advance)."""

    status: int
    headers: list[tuple[str, str]]
    chunks: AsyncIterator[bytes]


Answer = HttpResponse | StreamingResponse
Handler = Callable[["App", HttpRequest], Answer | Awaitable[Answer]]


def json_response(status: int | http.HTTPStatus, body: Any,
                  headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    """A JSON response that is never cached."""
    return HttpResponse(int(status), [("Content-Type", "application/json"),
                                      ("Cache-Control", "no-store"), *(headers or [])],
                        encode(body))


@dataclass(frozen=True)
class Route:
    """One route: an exact path (or a prefix, see :meth:`RouteTable.add`) and its handler."""

    path: str
    handler: Handler
    methods: frozenset[str] = frozenset({"GET", "HEAD"})


@dataclass
class RouteTable:
    """Exact paths first, then the longest matching prefix."""

    exact: dict[str, Route] = field(default_factory=dict)
    prefixes: list[Route] = field(default_factory=list)

    def add(self, route: Route, *, prefix: bool = False) -> None:
        """Register ``route`` (``prefix``: it answers every path under ``route.path``)."""
        if prefix:
            self.prefixes.append(route)
            self.prefixes.sort(key=lambda r: len(r.path), reverse=True)
        else:
            self.exact[route.path] = route

    def find(self, path: str) -> Route | None:
        """The route for ``path``, if any."""
        route = self.exact.get(path)
        if route is not None:
            return route
        return next((r for r in self.prefixes if path.startswith(r.path)), None)

    async def answer(self, app: App, request: HttpRequest) -> Answer:
        """Answer a plain HTTP request (404 names what exists; 405 lists the methods)."""
        route = self.find(request.path)
        if route is None:
            return json_response(http.HTTPStatus.NOT_FOUND, {
                "ok": False, "error": f"not found: {request.path[:100]}",
                "hint": "WebSocket clients connect to / ; probes use /healthz and /readyz"})
        if request.method not in route.methods:
            allowed = ", ".join(sorted(route.methods))
            return json_response(http.HTTPStatus.METHOD_NOT_ALLOWED,
                                 {"ok": False, "error": f"{request.method} not allowed here"},
                                 [("Allow", allowed)])
        result = route.handler(app, request)
        if inspect.isawaitable(result):
            result = await result
        return result


def _live(app: App, request: HttpRequest) -> Answer:
    return json_response(http.HTTPStatus.OK,
                         {"ok": True, "status": "live", "uptimeMs": app.identity.uptime_ms})


def _ready(app: App, request: HttpRequest) -> Answer:
    if app.ready:
        return json_response(http.HTTPStatus.OK, {"ok": True, "status": "ready"})
    draining = app.lifecycle.draining
    body: dict[str, Any] = {"ok": False, "status": "draining" if draining else "starting"}
    waiting = app.channels.waiting_for()
    if waiting and not draining:
        body["waitingFor"] = waiting
    return json_response(http.HTTPStatus.SERVICE_UNAVAILABLE, body)


def default_routes() -> RouteTable:
    """The probe routes every gateway answers."""
    table = RouteTable()
    for path in ("/health", "/healthz"):
        table.add(Route(path, _live))
    for path in ("/ready", "/readyz"):
        table.add(Route(path, _ready))
    return table
