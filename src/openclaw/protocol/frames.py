"""Frame types, parsing and encoding.

Inbound frames are decoded once with msgspec and checked by hand for the envelope
(it is tiny and hot); ``connect`` params and method params are converted into closed
msgspec structs, so unknown keys and wrong types are refused with a JSON-pointer
path (``at /client/id: ...``). Outbound frames are encoded with one shared encoder;
event frames are assembled from a pre-encoded payload so a broadcast serialises its
payload once however many connections receive it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar, get_args

import msgspec

__all__ = [
    "CLIENT_IDS",
    "MAX_JSON_VALUES",
    "OPERATOR_SCOPES",
    "AuthParams",
    "ClientInfo",
    "ConnectParams",
    "DeviceIdentity",
    "FrameError",
    "ModelCatalogScope",
    "ParamsError",
    "RequestFrame",
    "WorkerHandshake",
    "convert_params",
    "encode",
    "encode_event",
    "encode_response",
    "parse_frame",
]

ClientId = Literal[
    "webchat-ui",
    "openclaw-control-ui",
    "openclaw-tui",
    "webchat",
    "cli",
    "gateway-client",
    "openclaw-macos",
    "openclaw-ios",
    "openclaw-android",
    "openclaw-linux",
    "openclaw-watchos",
    "openclaw-worker",
    "openclaw-browser-copilot",
    "node-host",
    "test",
    "fingerprint",
    "openclaw-probe",
]
ClientMode = Literal[
    "webchat", "cli", "ui", "backend", "node", "probe", "test", "worker", "operator"
]
#: Every client id the gateway accepts (the OpenClaw set), for docs and tests.
CLIENT_IDS: tuple[str, ...] = get_args(ClientId)
OPERATOR_SCOPES = ("operator.read", "operator.write", "operator.admin")

NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
Short = Annotated[str, msgspec.Meta(max_length=512)]
#: A non-empty string with this gateway's 512-character bound (OpenClaw sets no bound;
#: the 64 KiB pre-connect frame cap is the real limit there).
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
BuildId = Annotated[str, msgspec.Meta(min_length=1, max_length=96)]
TimeZone = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]


class ClientInfo(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``connect.params.client``: who is connecting.

    ``build_id`` and ``time_zone`` are sent by OpenClaw's Control UI and CLI; they are
    self-reported and only kept for logs and presence.
    """

    id: ClientId
    version: Name
    platform: Name
    mode: ClientMode
    display_name: Name | None = None
    device_family: Name | None = None
    model_identifier: Name | None = None
    instance_id: Name | None = None
    build_id: BuildId | None = None
    time_zone: TimeZone | None = None


class AuthParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``connect.params.auth``: the shared secret.

    Only ``token`` or ``password`` is checked (by the gateway's auth mode; a client
    may send both). The device, bootstrap and runtime tokens of OpenClaw's pairing
    and worker flows are accepted so such clients are not refused by the schema, and
    never grant anything here.
    """

    token: str | None = None
    password: str | None = None
    device_token: str | None = None
    bootstrap_token: str | None = None
    approval_runtime_token: str | None = None
    agent_runtime_identity_token: str | None = None


class DeviceIdentity(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``connect.params.device``: a device's signed answer to the challenge.

    Checked for shape only. This gateway has no device pairing: the signature is not
    verified, the nonce is not compared with the challenge, and no device token is
    issued (see ``docs/protocol.md``).
    """

    id: NonEmpty
    public_key: NonEmpty
    signature: NonEmpty
    signed_at: NonNegative
    nonce: NonEmpty


class WorkerHandshake(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``connect.params.workerRuns``: a node host's build identity (deprecated upstream)."""

    bundle_hash: Annotated[str, msgspec.Meta(pattern="^[a-f0-9]{64}$")]
    openclaw_version: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    protocol_features: Annotated[
        list[Annotated[str, msgspec.Meta(min_length=1, max_length=128)]],
        msgspec.Meta(max_length=64),
    ]
    bundle_prewarm: Annotated[int, msgspec.Meta(ge=1, le=2**53 - 1)] | None = None


class ModelCatalogScope(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``connect.params.modelCatalog``: which catalog the client wants first.

    OpenClaw allows one of two shapes: ``{agentId?, sessionKey?}`` or ``{agentId?,
    shortId, slugHint?}``; they are folded into one struct and checked here.
    """

    agent_id: NonEmpty | None = None
    session_key: NonEmpty | None = None
    short_id: NonEmpty | None = None
    slug_hint: NonEmpty | None = None

    def __post_init__(self) -> None:
        if self.short_id is None and self.slug_hint is not None:
            raise ValueError("slugHint requires shortId")
        if self.short_id is not None and self.session_key is not None:
            raise ValueError("sessionKey and shortId cannot be combined")


class ConnectParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``connect`` request params: OpenClaw's ConnectParams, closed.

    Every key OpenClaw's current schema allows is accepted and typed; anything else is
    refused by name (``at /client/colour: unknown property``). What the gateway does
    with each key is in ``docs/protocol.md``.
    """

    min_protocol: Annotated[int, msgspec.Meta(ge=1)]
    max_protocol: Annotated[int, msgspec.Meta(ge=1)]
    client: ClientInfo
    caps: list[Name] = []
    commands: list[Name] | None = None
    #: OpenClaw's computer-use declaration: its shape belongs to a feature this
    #: gateway does not have, so any JSON value is accepted and ignored.
    computer_use: Any = None
    worker_runs: WorkerHandshake | None = None
    permissions: dict[NonEmpty, bool] | None = None
    path_env: str | None = None
    role: Literal["operator", "node"] = "operator"
    scopes: list[Name] | None = None
    model_catalog: ModelCatalogScope | None = None
    device: DeviceIdentity | None = None
    auth: AuthParams | None = None
    locale: Short | None = None
    user_agent: Annotated[str, msgspec.Meta(max_length=2048)] | None = None


class RequestFrame(msgspec.Struct, frozen=True):
    """A validated ``{type:"req", id, method, params?}`` frame."""

    id: str
    method: str
    params: dict[str, Any]


class FrameError(Exception):
    """The frame is not a usable frame at all; the connection must close (1007).

    ``request_id`` is set when the frame carried a usable id, so an error response
    can still be sent where the protocol allows one. ``too_big`` marks a frame refused
    for its size or shape before it was parsed (close 1009 rather than 1007).
    """

    def __init__(self, reason: str, request_id: str | None = None, *,
                 too_big: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id
        self.too_big = too_big


class ParamsError(Exception):
    """Params failed their schema; ``str()`` is ``at /path: reason``."""


_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()
_FRAME_KEYS = frozenset({"type", "id", "method", "params"})
_AT = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]*)`$")
_INDEX = re.compile(r"\[(\d+)\]")

T = TypeVar("T")

#: At most this many JSON values (object members and array elements) in one frame.
#: Parsing costs about 0.4 µs per value on the event loop, so this bounds one frame's
#: stall to a few milliseconds; legitimate frames carry far fewer.
MAX_JSON_VALUES = 100_000
#: Frames up to this size cannot hold more than MAX_JSON_VALUES; they skip the count.
_COUNT_FROM = 2 * MAX_JSON_VALUES
#: A JSON string, escapes included (the loop unrolled: fast on long strings).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')


def _values_over_limit(data: str | bytes) -> bool:
    """True when ``data`` holds more than :data:`MAX_JSON_VALUES` values.

    Counted before parsing, with C-speed scans: each value but the first follows a
    ``,`` or a ``:``, and each string has two quotes. A frame whose separators are
    mostly inside strings (a long text with commas) is rechecked with its strings
    removed, so only the separators of the JSON itself count.
    """
    if len(data) <= _COUNT_FROM:
        return False
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    quotes = text.count('"') - text.count('\\"')
    if quotes // 2 > MAX_JSON_VALUES:
        return True
    if text.count(",") + text.count(":") <= MAX_JSON_VALUES:
        return False
    bare = _STRING.sub("", text)
    return bare.count(",") + bare.count(":") > MAX_JSON_VALUES


def parse_frame(data: str | bytes) -> RequestFrame | None:
    """Parse one inbound text frame.

    Returns the request, or ``None`` for a well-formed ``res``/``event`` frame (which
    a client has no business sending; the caller ignores it).

    Raises:
        FrameError: not JSON (nested too deeply included), not an object, unknown
            ``type``, over :data:`MAX_JSON_VALUES` values (``too_big``), or a request
            whose envelope is wrong (``request_id`` is set when the id was usable).
    """
    if _values_over_limit(data):
        raise FrameError(f"frame holds more than {MAX_JSON_VALUES} JSON values", too_big=True)
    try:
        frame = _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise FrameError(f"malformed JSON: {exc}") from None
    except RecursionError:
        raise FrameError("malformed JSON: nested too deeply") from None
    if not isinstance(frame, dict):
        raise FrameError("frame must be a JSON object")
    kind = frame.get("type")
    if kind in ("res", "event"):
        return None
    if kind != "req":
        raise FrameError(f"unknown frame type: {str(kind)[:40]!r}")
    request_id = frame.get("id")
    if not isinstance(request_id, str) or not request_id or len(request_id) > 256:
        raise FrameError("request id must be a non-empty string of at most 256 characters")
    method = frame.get("method")
    if not isinstance(method, str) or not method:
        raise FrameError("request method must be a non-empty string", request_id)
    extra = frame.keys() - _FRAME_KEYS
    if extra:
        raise FrameError(f"unknown request field: {sorted(extra)[0]}", request_id)
    params = frame.get("params")
    if params is None:
        params = {}
    elif not isinstance(params, dict):
        raise FrameError("request params must be an object", request_id)
    return RequestFrame(request_id, method, params)


def _pointer(path: str) -> str:
    if not path:
        return "/"
    path = path.replace("[...]", ".*")  # msgspec's marker for "some key of this dict"
    return "/" + _INDEX.sub(r".\1", path.lstrip(".")).replace(".", "/")


def convert_params(params: dict[str, Any], schema: type[T]) -> T:
    """Convert ``params`` into ``schema`` (a closed msgspec struct).

    Raises:
        ParamsError: with a message ``at /json/pointer: reason``.
    """
    try:
        return msgspec.convert(params, schema)
    except msgspec.ValidationError as exc:
        match = _AT.match(str(exc))
        assert match is not None
        reason, path = match["reason"], match["path"] or ""
        unknown = _UNKNOWN.match(reason)
        if unknown:
            path = f"{path}.{unknown['field']}"
            reason = "unknown property"
        raise ParamsError(f"at {_pointer(path)}: {reason}") from None


def encode(value: Any) -> bytes:
    """Encode any JSON-able value with the shared encoder."""
    return _encoder.encode(value)


def encode_response(
    request_id: str, ok: bool, payload: Any = None, error: dict[str, Any] | None = None
) -> bytes:
    """Encode a ``res`` frame."""
    frame: dict[str, Any] = {"type": "res", "id": request_id, "ok": ok}
    if ok:
        frame["payload"] = payload
    else:
        frame["error"] = error
    return _encoder.encode(frame)


def encode_event(
    event: str,
    payload_json: bytes | None,
    seq: int | None = None,
    state_version: bytes | None = None,
) -> bytes:
    """Assemble an ``event`` frame around an already-encoded payload.

    ``event`` must be a plain identifier (no quoting needed); it always is, since
    event names are constants of this package.
    """
    parts = [b'{"type":"event","event":"', event.encode("ascii"), b'"']
    if payload_json is not None:
        parts += [b',"payload":', payload_json]
    if seq is not None:
        parts += [b',"seq":', str(seq).encode("ascii")]
    if state_version is not None:
        parts += [b',"stateVersion":', state_version]
    parts.append(b"}")
    return b"".join(parts)
