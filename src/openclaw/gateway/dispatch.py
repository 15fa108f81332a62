"""The method registry, and the one place exceptions become wire errors.

A method is registered with the scope it needs and a closed msgspec struct for
its params. :meth:`Dispatcher.dispatch` checks the scope, converts the params
(unknown keys and wrong types answer ``INVALID_REQUEST`` with the JSON path),
runs the handler and encodes the response; a bug in a handler answers
``UNAVAILABLE`` and is logged with its traceback, never closing the connection. A
full disk answers the retryable ``UNAVAILABLE`` of :class:`~openclaw.store.db.DiskFull`.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from openclaw.errors import OpenClawError
from openclaw.gateway.bus import READ_SCOPE
from openclaw.protocol.errors import (
    INVALID_REQUEST,
    UNAVAILABLE,
    Forbidden,
    error_from,
    error_object,
)
from openclaw.protocol.frames import ParamsError, RequestFrame, convert_params, encode_response
from openclaw.store.db import DiskFull, disk_full

if TYPE_CHECKING:
    from openclaw.gateway.app import App
    from openclaw.gateway.bus import Session

__all__ = ["ADMIN", "APPROVALS", "READ", "WRITE", "Context", "Dispatcher", "Method", "NoParams"]

log = logging.getLogger("openclaw.gateway.dispatch")

READ = READ_SCOPE
WRITE = "operator.write"
ADMIN = "operator.admin"
#: Seeing and answering exec approval requests (``operator.admin`` implies it).
APPROVALS = "operator.approvals"


class NoParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Params of a method that takes none."""


@dataclass(frozen=True, slots=True)
class Context:
    """What a handler may use: the app (every part of the gateway), the calling session,
    the request id."""

    app: App
    session: Session
    request_id: str


Handler = Callable[[Context, Any], Any | Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Method:
    """A registered method."""

    name: str
    scope: str
    params: type[Any]
    handler: Handler
    is_async: bool
    empty: Any  # the params struct for ``{}`` (None when ``{}`` is not valid)
    concurrent: bool = False  # may wait long: run beside the connection's other requests


class Dispatcher:
    """Method name → :class:`Method`; turns a request into an encoded response."""

    def __init__(self) -> None:
        self.methods: dict[str, Method] = {}

    @staticmethod
    def _refused_full(ctx: Context, method: str, exc: DiskFull) -> None:
        """Log a refusal for a full disk once per burst (a busy gateway would otherwise
        log one line per refused request)."""
        ctx.app.refusals.note("disk-full", f"{method} refused: {exc.message}",
                              {"method": method})

    def register(
        self, name: str, scope: str, params: type[Any] = NoParams, *, concurrent: bool = False
    ) -> Callable[[Handler], Handler]:
        """Decorator: register ``handler(ctx, params)`` as method ``name``.

        ``concurrent`` methods (those that may wait on the network, like ``send``) run
        in their own task, so one connection's other requests are not held up. A name
        registered twice is a ``ValueError``, so two families cannot silently shadow
        each other.
        """

        def decorate(handler: Handler) -> Handler:
            if name in self.methods:
                raise ValueError(f"method {name!r} is registered twice")
            try:
                empty = convert_params({}, params)
            except ParamsError:
                empty = None
            self.methods[name] = Method(
                name, scope, params, handler, inspect.iscoroutinefunction(handler), empty,
                concurrent,
            )
            return handler

        return decorate

    async def dispatch(self, ctx: Context, request: RequestFrame) -> bytes:
        """Run ``request`` and return the encoded ``res`` frame (never raises)."""
        method = self.methods.get(request.method)
        try:
            if method is None:
                return encode_response(
                    request.id, False,
                    error=error_object(INVALID_REQUEST, f"unknown method: {request.method[:80]}"),
                )
            if not ctx.session.may(method.scope):
                raise Forbidden(method.scope, [method.scope])
            try:
                params = (
                    method.empty if not request.params and method.empty is not None
                    else convert_params(request.params, method.params)
                )
            except ParamsError as exc:
                return encode_response(
                    request.id, False,
                    error=error_object(INVALID_REQUEST, f"invalid {method.name} params: {exc}"),
                )
            result = method.handler(ctx, params)
            if method.is_async:
                result = await result
            return encode_response(request.id, True, result)
        except OpenClawError as exc:
            if isinstance(exc, DiskFull):
                self._refused_full(ctx, request.method, exc)
            return encode_response(request.id, False, error=error_from(exc))
        except Exception as exc:
            full = disk_full(exc)  # a write the store did not translate (a state file)
            if full is not None:
                self._refused_full(ctx, request.method, full)
                return encode_response(request.id, False, error=error_from(full))
            log.exception("method %s failed", request.method)
            return encode_response(
                request.id, False,
                error=error_object(
                    UNAVAILABLE, f"internal error in {request.method}; see the gateway log"
                ),
            )
