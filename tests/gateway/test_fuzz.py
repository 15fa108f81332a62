"""Property-based fuzzing of a real gateway: first frames and post-hello requests.

Whatever arrives, the gateway never crashes, never closes with an internal error,
and always either answers (with the request's id) or closes with a documented code.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from harness import GatewayProcess, RawClient, connect_frame

json_scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(
    allow_nan=False, allow_infinity=False
) | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                               max_size=4),
    max_leaves=12,
)
frame_keys = st.sampled_from(["type", "id", "method", "params", "extra"])
frame_like = st.dictionaries(
    frame_keys,
    st.sampled_from(["req", "res", "event", "connect", "health", ""]) | json_values,
    max_size=5,
)


def _mutated_connect(token: str) -> st.SearchStrategy[dict[str, Any]]:
    """A valid connect frame with one field replaced by something random."""

    def mutate(path_and_value: tuple[str, Any]) -> dict[str, Any]:
        frame = connect_frame(token)
        path, value = path_and_value
        node = frame
        *parents, leaf = path.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
        return frame

    paths = st.sampled_from([
        "params.minProtocol", "params.maxProtocol", "params.client.id", "params.client.mode",
        "params.client.version", "params.role", "params.scopes", "params.auth",
        "params.auth.token", "params.caps", "params.device", "params.locale", "id", "method",
        "params.extraKey",
    ])
    return st.tuples(paths, json_values).map(mutate)


FIRST_CLOSE_CODES = {1002, 1003, 1007, 1008, 1009}
ERROR_CODES = {"INVALID_REQUEST", "UNAVAILABLE", "FORBIDDEN", "NOT_LINKED", "NOT_PAIRED",
               "AGENT_TIMEOUT"}


@pytest.fixture(scope="module")
def fuzz_gateway(shared_gateway: GatewayProcess) -> Iterator[GatewayProcess]:
    yield shared_gateway
    assert shared_gateway.proc is not None and shared_gateway.proc.poll() is None
    probe = RawClient(shared_gateway.url)
    probe.handshake(shared_gateway.token)
    assert probe.request("health")["ok"] is True
    probe.close()
    assert "Traceback" not in shared_gateway.output


def _first_frame_outcome(gateway: GatewayProcess, frame: Any) -> None:
    client = RawClient(gateway.url)
    request_id = frame.get("id") if isinstance(frame, dict) else None
    client.send(frame if isinstance(frame, (str, bytes)) else json.dumps(frame))
    try:
        reply = client.recv()
    except ConnectionClosed as exc:
        assert exc.rcvd is not None, "closed without a close frame"
        assert exc.rcvd.code in FIRST_CLOSE_CODES, exc.rcvd
        return
    assert reply["type"] == "res" and reply["id"] == request_id, reply
    if reply["ok"]:
        assert reply["payload"]["type"] == "hello-ok"
        answer = client.request("health")  # allowed, or refused for lack of scope
        assert answer["ok"] is True or answer["error"]["code"] == "FORBIDDEN"
        client.close()
        return
    assert reply["error"]["code"] == "INVALID_REQUEST"
    assert isinstance(reply["error"]["message"], str) and reply["error"]["message"]
    code, _ = client.close_code()
    assert code in {1002, 1008}


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(frame=st.text(max_size=200) | st.binary(max_size=64) | frame_like)
def test_any_first_frame(fuzz_gateway: GatewayProcess, frame: Any) -> None:
    _first_frame_outcome(fuzz_gateway, frame)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mutated_connect_frames(fuzz_gateway: GatewayProcess, data: st.DataObject) -> None:
    frame = data.draw(_mutated_connect(fuzz_gateway.token))
    _first_frame_outcome(fuzz_gateway, frame)


@pytest.fixture(scope="module")
def open_client(fuzz_gateway: GatewayProcess) -> Iterator[RawClient]:
    client = RawClient(fuzz_gateway.url, max_size=None)
    client.handshake(fuzz_gateway.token, client_id="cli", mode="cli")
    yield client
    client.close()


methods = st.sampled_from([
    "health", "status", "system-presence", "system-event", "last-heartbeat", "set-heartbeats",
    "logs.tail", "channels.status", "connect", "send", "agent",
]) | st.text(min_size=1, max_size=20)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(method=methods, params=json_values)
def test_any_request_after_hello_is_answered(
    open_client: RawClient, method: str, params: Any
) -> None:
    request_id = uuid.uuid4().hex
    open_client.send({"type": "req", "id": request_id, "method": method, "params": params})
    reply = open_client.response(request_id)
    assert isinstance(reply["ok"], bool)
    if not reply["ok"]:
        assert reply["error"]["code"] in ERROR_CODES
        assert reply["error"]["message"]
    open_client.events.clear()
