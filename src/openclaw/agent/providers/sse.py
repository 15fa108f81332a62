"""Server-sent events: an incremental parser, and the HTTP call both real providers make.

Both the OpenAI Chat Completions API and the Anthropic Messages API stream their
answers as ``text/event-stream``. This module holds what the two have in common:

* :class:`SSEParser`, a pure, incremental parser (bytes in, :class:`Event` out) that
  follows the WHATWG event-stream rules: CRLF, LF or CR line ends (a CRLF may be
  split across chunks), multi-line ``data``, ``:`` comments, ``event``/``id``/``retry``
  fields, a leading BOM. It is lenient in one way: an event still pending when the
  stream ends is delivered by :meth:`SSEParser.close` (browsers drop it).
* :class:`SSECall`, one streamed POST on an httpx transport: it sends the request,
  turns a non-2xx answer into a :class:`ProviderError` (:func:`status_error`), and
  reads the body chunk by chunk under one whole-call deadline, mapping transport
  failures to ``network`` / ``timeout`` errors whose ``retryable`` flag is false once
  the provider has streamed any text (``SSECall.streamed``).

The deadline is an absolute loop time checked around each await with
:func:`asyncio.timeout_at`, not one ``asyncio.timeout`` block around the whole
generator: a provider's ``stream`` is an async generator consumed by another
coroutine, and a cancel scope left open across ``yield`` would fire into the
consumer's code instead of ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import math
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final

import httpx
import msgspec

from openclaw.agent.providers.base import ProviderError, ProviderErrorKind
from openclaw.redact import Redactor

__all__ = [
    "Event",
    "SSECall",
    "SSEError",
    "SSEParser",
    "error_message",
    "parse_retry_after",
    "status_error",
]

_LINE_END: Final = re.compile(rb"\r\n|\r|\n")
_BOM: Final = "\ufeff"
_ERROR_BODY_LIMIT: Final = 64 * 1024  # bytes of an error answer read to find its message
_MESSAGE_LIMIT: Final = 500  # characters of a server's message kept in ours
_DRAIN_GRACE_S: Final = 0.5  # after the last event, read on this long for the body's end
_CONNECT_TIMEOUT_S: Final = 30.0


# --- the parser ----------------------------------------------------------------------


class SSEError(ValueError):
    """The byte stream cannot be an event stream (a line beyond the size limit)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One dispatched event: its type (``"message"`` unless named) and its data."""

    event: str
    data: str


class SSEParser:
    """Incremental ``text/event-stream`` parser: :meth:`feed` bytes, get whole events.

    Pure (no I/O), so it is tested on its own and shared by the providers. Lines are
    decoded as UTF-8 (bad bytes become U+FFFD) only once complete, so a multi-byte
    character split across chunks is intact. ``last_event_id`` and ``retry_ms`` keep
    the ``id`` and ``retry`` fields for callers that care (the providers do not).

    Args:
        max_line_bytes: refuse (:class:`SSEError`) a line longer than this, so a
            server that never sends a newline cannot grow the buffer without bound.
    """

    def __init__(self, max_line_bytes: int = 4 * 1024 * 1024) -> None:
        self.max_line_bytes = max_line_bytes
        self.last_event_id = ""
        self.retry_ms: int | None = None
        self._buffer = bytearray()
        self._skip_lf = False  # the last chunk ended in CR: a leading LF is its pair
        self._first_line = True
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[Event]:
        """Add ``chunk``; return the events it completes (possibly none)."""
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        buffer = self._buffer
        buffer += chunk
        events: list[Event] = []
        start = 0
        for match in _LINE_END.finditer(buffer):
            self._line(bytes(buffer[start:match.start()]), events)
            start = match.end()
        if start:
            if buffer[start - 1:start] == b"\r" and start == len(buffer):
                self._skip_lf = True
            del buffer[:start]
        if len(buffer) > self.max_line_bytes:
            raise SSEError(f"an event-stream line is longer than {self.max_line_bytes} bytes")
        return events

    def close(self) -> list[Event]:
        """The stream ended: return an event left pending (leniently), and reset."""
        events: list[Event] = []
        if self._buffer:
            self._line(bytes(self._buffer), events)
            self._buffer.clear()
        self._line(b"", events)
        self._skip_lf = False
        self._first_line = True
        return events

    def _line(self, raw: bytes, events: list[Event]) -> None:
        line = raw.decode("utf-8", errors="replace")
        if self._first_line:
            self._first_line = False
            if line.startswith(_BOM):
                line = line[1:]
        if not line:
            if self._data:
                events.append(Event(self._event or "message", "\n".join(self._data)))
            self._data = []
            self._event = ""
            return
        if line[0] == ":":
            return  # a comment (servers send them as keep-alives)
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry_ms = int(value)
        # any other field is ignored, as the standard says


# --- errors from HTTP answers -------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date).

    None when absent or unreadable; a date in the past gives 0; capped at a day.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), 24 * 3600.0)


def error_message(body: bytes) -> tuple[str | None, str | None]:
    """``(message, type_or_code)`` from an API error body, whatever its dialect.

    Understands OpenAI's ``{"error": {"message", "type", "code"}}``, Anthropic's
    ``{"type": "error", "error": {"type", "message"}}``, a bare ``{"error": "..."}``
    (some OpenAI-compatible servers) and ``{"detail"|"message": "..."}``; otherwise
    the start of the body as text.
    """
    try:
        document = msgspec.json.decode(body)
    except msgspec.DecodeError:
        text = " ".join(body[:_MESSAGE_LIMIT].decode("utf-8", errors="replace").split())
        return (text or None), None
    if isinstance(document, dict):
        error = document.get("error")
        if isinstance(error, dict):
            message = error.get("message")
            kind = error.get("code") if isinstance(error.get("code"), str) else None
            kind = kind or (error.get("type") if isinstance(error.get("type"), str) else None)
            return (str(message) if message else None), kind
        if isinstance(error, str):
            return error, None
        for key in ("detail", "message"):
            if isinstance(document.get(key), str):
                return document[key], None
    return None, None


def status_error(provider_id: str, status: int, reason: str, headers: httpx.Headers,
                 body: bytes, *, redactor: Redactor | None = None) -> ProviderError:
    """The :class:`ProviderError` for a non-2xx answer (nothing has been streamed yet).

    401/403 → auth; 429 → rate-limit (retryable, ``Retry-After`` honoured; not
    retryable when the body says the quota is used up); 408 → timeout (retryable);
    5xx (including Anthropic's 529 "overloaded") → server (retryable); any other
    status → bad-request with the API's own message (an unknown model, a bad field).
    The message passes ``redactor``: a server may echo the API key back.
    """
    message, code = error_message(body)
    detail = f"HTTP {status} {reason}".rstrip() + (f": {message}" if message else "")
    retry_after = parse_retry_after(headers.get("retry-after"))
    kind: ProviderErrorKind
    if status in (401, 403):
        kind, text, retryable = "auth", "refused the API key", False
    elif status == 429:
        exhausted = code in ("insufficient_quota", "billing_error")
        kind, text, retryable = "rate-limit", "rate limited", not exhausted
    elif status == 408:
        kind, text, retryable = "timeout", "timed out", True
    elif status >= 500:
        kind, text, retryable = "server", "server error", True
    else:
        kind, text, retryable = "bad-request", "rejected the request", False
    message = (redactor or Redactor()).redact(f"{provider_id} {text} ({detail})")
    return ProviderError(kind, _clip(message), status=status,
                         retry_after_s=retry_after if retryable else None,
                         retryable=retryable)


def _clip(text: str) -> str:
    return text if len(text) <= 2 * _MESSAGE_LIMIT else text[:2 * _MESSAGE_LIMIT] + "…"


# --- one streamed call ----------------------------------------------------------------


class SSECall:
    """One POST whose answer is an event stream, with a whole-call deadline.

    Use::

        call = SSECall("openai", transport, request, timeout_s=60, secrets=(key,))
        await call.open()               # ProviderError for refusals and HTTP errors
        try:
            while (events := await call.read()) is not None:
                ...                     # set call.streamed once text is yielded
        finally:
            await call.aclose()

    Every error message is stripped of ``secrets`` (an API key echoed in a server's
    message) and raised ``from None``, so no httpx exception (whose request holds
    the headers) is chained into a traceback.
    """

    def __init__(self, provider_id: str, transport: httpx.AsyncBaseTransport,
                 request: httpx.Request, *, timeout_s: float,
                 secrets: tuple[str | None, ...] = ()) -> None:
        self.provider_id = provider_id
        self.timeout_s = timeout_s
        #: Set by the provider once it has yielded a Delta: failures are then final.
        self.streamed = False
        self._transport = transport
        self._request = request
        self._redactor = Redactor(secrets)
        self._deadline = asyncio.get_running_loop().time() + timeout_s
        self._response: httpx.Response | None = None
        self._chunks: AsyncIterator[bytes] | None = None
        self._parser = SSEParser()
        self._ended = False
        timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, _CONNECT_TIMEOUT_S))
        request.extensions["timeout"] = timeout.as_dict()

    def __repr__(self) -> str:
        return f"<SSECall {self.provider_id} {self._request.method} {self._request.url}>"

    def error(self, kind: ProviderErrorKind, message: str, *, retryable: bool = True,
              status: int | None = None) -> ProviderError:
        """A ProviderError for this call; ``retryable`` only while nothing is streamed."""
        return ProviderError(kind, _clip(self.scrub(f"{self.provider_id}: {message}")),
                             status=status, retryable=retryable and not self.streamed)

    def scrub(self, text: str) -> str:
        """``text`` with every secret of this call masked."""
        return self._redactor.redact(text)

    async def open(self) -> None:
        """Send the request and check the status; raise ProviderError when it failed."""
        host = self._request.url.host
        try:
            async with asyncio.timeout_at(self._deadline):
                response = await self._transport.handle_async_request(self._request)
        except TimeoutError:
            raise self._timeout() from None
        except httpx.TimeoutException as exc:
            if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
                raise self.error("network", f"cannot connect to {host}: timed out") from None
            raise self._timeout() from None
        except (httpx.ConnectError, httpx.ProxyError) as exc:
            raise self.error("network", f"cannot connect to {host}: {exc}") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise self.error("bad-request", f"bad baseUrl: {exc}", retryable=False) from None
        except httpx.TransportError as exc:
            raise self.error("network", f"connection to {host} failed: "
                             f"{exc or type(exc).__name__}") from None
        self._response = response
        if not 200 <= response.status_code < 300:
            try:
                body = await self._read_error_body(response)
            finally:
                await self.aclose()
            raise status_error(self.provider_id, response.status_code, response.reason_phrase,
                               response.headers, body, redactor=self._redactor)
        self._chunks = response.aiter_bytes()

    async def read(self) -> list[Event] | None:
        """The events of the next body chunk (maybe none); None once the body ended."""
        if self._ended or self._chunks is None:
            return None
        try:
            async with asyncio.timeout_at(self._deadline):
                chunk: bytes = await anext(self._chunks)
        except StopAsyncIteration:
            self._ended = True
            return self._parser.close()
        except TimeoutError:
            raise self._timeout() from None
        except httpx.TimeoutException:
            raise self._timeout() from None
        except httpx.DecodingError as exc:
            raise self.error("malformed", f"cannot decode the answer: {exc}") from None
        except httpx.TransportError as exc:
            raise self.error("network", "the connection broke mid-answer: "
                             f"{exc or type(exc).__name__}") from None
        try:
            return self._parser.feed(chunk)
        except SSEError as exc:
            raise self.error("malformed", str(exc)) from None

    @property
    def content_type(self) -> str:
        """The answer's content type ("" before :meth:`open`)."""
        return self._response.headers.get("content-type", "") if self._response else ""

    async def drain(self) -> None:
        """Read on briefly to the end of the body, so the connection can be reused."""
        if self._ended or self._chunks is None:
            return
        deadline = min(self._deadline, asyncio.get_running_loop().time() + _DRAIN_GRACE_S)
        try:
            async with asyncio.timeout_at(deadline):
                async for _ in self._chunks:
                    pass
            self._ended = True
        except (TimeoutError, httpx.HTTPError):
            pass

    async def aclose(self) -> None:
        """Release the response (and with it the connection, unless fully read)."""
        chunks, self._chunks = self._chunks, None
        close = getattr(chunks, "aclose", None)  # an async generator's, in practice
        if close is not None:
            with contextlib.suppress(httpx.HTTPError):
                await close()
        response = self._response
        if response is not None and not response.is_closed:
            with contextlib.suppress(httpx.HTTPError):
                await response.aclose()

    async def _read_error_body(self, response: httpx.Response) -> bytes:
        body = bytearray()
        try:
            async with asyncio.timeout_at(self._deadline):
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= _ERROR_BODY_LIMIT:
                        break
        except (TimeoutError, httpx.HTTPError):
            pass  # the status alone still says what happened
        return bytes(body[:_ERROR_BODY_LIMIT])

    def _timeout(self) -> ProviderError:
        when = "mid-answer" if self.streamed else "before answering"
        return self.error("timeout", f"no complete answer within {self.timeout_s:g}s "
                                     f"(timed out {when})")
