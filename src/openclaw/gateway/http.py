"""The HTTP side of the gateway's port: a route table, answered before any upgrade.

A WebSocket upgrade on any path goes to the control plane; every other request is
looked up here by method and path. The built-in routes are the probes: ``/health``
and ``/healthz`` (alive), ``/ready`` and ``/readyz`` (ready to serve: 503 while
starting, while a channel account has not connected yet, and while draining).
The Control UI's files and the HTTP API plug in as more routes.
"""

from __future__ import annotations

import http
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from openclaw.protocol.frames import encode

if TYPE_CHECKING:
    from openclaw.gateway.app import App

__all__ = ["Route", "RouteTable", "default_routes", "json_response"]

Handler = Callable[["App", Request], Response]


def json_response(status: http.HTTPStatus, body: Any) -> Response:
    """A JSON response that is never cached and closes the connection."""
    data = encode(body)
    headers = Headers([("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                       ("Connection", "close"), ("Content-Length", str(len(data)))])
    return Response(status.value, status.phrase, headers, data)


@dataclass(frozen=True)
class Route:
    """One route: an exact path (or a prefix ending in ``/``) and its handler."""

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

    def answer(self, app: App, request: Request) -> Response:
        """Answer a plain HTTP request (404 names the paths that exist)."""
        path = request.path.split("?", 1)[0]
        route = self.find(path)
        if route is None:
            return json_response(http.HTTPStatus.NOT_FOUND, {
                "ok": False, "error": f"not found: {path[:100]}",
                "hint": "WebSocket clients connect to / ; probes use /healthz and /readyz"})
        return route.handler(app, request)


def _live(app: App, request: Request) -> Response:
    return json_response(http.HTTPStatus.OK,
                         {"ok": True, "status": "live", "uptimeMs": app.identity.uptime_ms})


def _ready(app: App, request: Request) -> Response:
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
