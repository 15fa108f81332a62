"""What the two HTTP providers share: identity, key handling, the connection pool."""

from __future__ import annotations

from typing import Any

import httpx

from openclaw.agent.providers.sse import SSECall
from openclaw.httptransport import channel_transport

__all__ = ["HTTPProvider", "decode_object", "ended_early"]

_MAX_CONNECTIONS = 8


class HTTPProvider:
    """Base of the streaming HTTP providers.

    Args:
        id: the provider id from the config (``openai``, ``vllm``, ...).
        base_url: the API root.
        api_key: the secret; never shown by ``repr`` or ``describe``.
        transport: an httpx transport to use (tests); by default the project's asyncio
            transport, created on first use and closed by :meth:`close`.
        key_source: how the key was found, for :meth:`describe` (``config``,
            ``env:NAME``); defaults to ``config`` with a key and ``none`` without.
    """

    api = ""

    def __init__(self, id: str, base_url: str, api_key: str | None, *,
                 transport: httpx.AsyncBaseTransport | None = None,
                 key_source: str | None = None) -> None:
        self.id = id
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key or None
        self.key_source = key_source or ("config" if self._api_key else "none")
        self._transport = transport
        self._owns_transport = transport is None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, base_url={self.base_url!r})"

    def describe(self) -> dict[str, Any]:
        """``{id, api, baseUrl, keySource}`` for ``status`` (never the key)."""
        return {"id": self.id, "api": self.api, "baseUrl": self.base_url,
                "keySource": self.key_source}

    async def close(self) -> None:
        """Close the connection pool this provider opened (not one it was given)."""
        if self._owns_transport and self._transport is not None:
            transport, self._transport = self._transport, None
            await transport.aclose()

    def _call(self, url: httpx.URL, headers: dict[str, str], body: dict[str, Any],
              timeout_s: float) -> SSECall:
        """One streamed POST of ``body`` (not opened yet); errors scrub the key."""
        import msgspec

        request = httpx.Request("POST", url, headers=headers, content=msgspec.json.encode(body))
        return SSECall(self.id, self._get_transport(), request, timeout_s=timeout_s,
                       secrets=(self._api_key,))

    def _get_transport(self) -> httpx.AsyncBaseTransport:
        if self._transport is None:
            self._transport = channel_transport(max_connections=_MAX_CONNECTIONS)
        return self._transport


def decode_object(call: SSECall, data: str) -> dict[str, Any]:
    """One SSE ``data`` payload as a JSON object, or a ``malformed`` ProviderError."""
    import msgspec

    try:
        value = msgspec.json.decode(data)
    except msgspec.DecodeError:
        raise call.error("malformed", f"a stream event is not JSON: {data[:120]!r}") from None
    if not isinstance(value, dict):
        raise call.error("malformed", f"a stream event is not an object: {data[:120]!r}")
    return value


def ended_early(call: SSECall, seen_event: bool, marker: str) -> Exception:
    """The error for a stream that stopped before ``marker`` (or was never SSE)."""
    if not seen_event:
        return call.error("malformed", "the answer is not an event stream "
                          f"(content-type {call.content_type or 'missing'!r})")
    return call.error("malformed", f"the stream ended before {marker}")
