"""Unit tests for openclaw.protocol.frames: envelope parsing, params, encoding."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from openclaw.protocol.frames import (
    CLIENT_IDS,
    MAX_JSON_VALUES,
    OPERATOR_SCOPES,
    AuthParams,
    ClientInfo,
    ConnectParams,
    DeviceIdentity,
    FrameError,
    ModelCatalogScope,
    ParamsError,
    RequestFrame,
    convert_params,
    encode,
    encode_event,
    encode_response,
    parse_frame,
)


def req(**fields: Any) -> str:
    return json.dumps({"type": "req", **fields})


def frame_error(data: str | bytes) -> FrameError:
    with pytest.raises(FrameError) as info:
        parse_frame(data)
    return info.value


# --- parse_frame ---------------------------------------------------------------------


def test_parse_request() -> None:
    frame = parse_frame(req(id="1", method="health", params={"a": 1}))
    assert frame == RequestFrame("1", "health", {"a": 1})


def test_parse_request_from_bytes() -> None:
    frame = parse_frame(req(id="1", method="health").encode())
    assert frame == RequestFrame("1", "health", {})


def test_params_missing_or_null_is_empty_object() -> None:
    assert parse_frame(req(id="1", method="m")) == RequestFrame("1", "m", {})
    assert parse_frame(req(id="1", method="m", params=None)) == RequestFrame("1", "m", {})


@pytest.mark.parametrize("data", ["{", "not json", "", '{"type": "req",}', "\x00", b"\xff\xfe"])
def test_malformed_json(data: str | bytes) -> None:
    error = frame_error(data)
    assert error.reason.startswith("malformed JSON")
    assert error.request_id is None


@pytest.mark.parametrize("data", ["[]", "1", '"req"', "null", "true", '[{"type":"req"}]'])
def test_non_object(data: str) -> None:
    error = frame_error(data)
    assert error.reason == "frame must be a JSON object"
    assert error.request_id is None


@pytest.mark.parametrize("kind", ["request", "REQ", "", None, 1, "hello"])
def test_unknown_type(kind: Any) -> None:
    error = frame_error(json.dumps({"type": kind, "id": "1", "method": "m"}))
    assert error.reason.startswith("unknown frame type")
    assert error.request_id is None


def test_missing_type_is_unknown_type() -> None:
    assert frame_error('{"id": "1", "method": "m"}').reason.startswith("unknown frame type")


def test_deep_nesting_is_a_frame_error_not_a_recursion_error() -> None:
    error = frame_error("[" * 100_000 + "]" * 100_000)
    assert error.reason == "malformed JSON: nested too deeply"
    assert not error.too_big and error.request_id is None


def _many_keys(count: int) -> str:
    members = ",".join(f'"k{i}":1' for i in range(count))
    return '{"type":"req","id":"r1","method":"health","params":{' + members + "}}"


@pytest.mark.parametrize("frame", [
    _many_keys(MAX_JSON_VALUES + 1),
    '{"type":"req","id":"r1","method":"x","params":{"a":[' + "0," * MAX_JSON_VALUES + "0]}}",
    '{"type":"req","id":"r1","method":"x","params":{"a":[' + '"",' * MAX_JSON_VALUES + '""]}}',
])
def test_too_many_values_are_refused_before_parsing(frame: str) -> None:
    error = frame_error(frame)
    assert error.too_big
    assert error.reason == f"frame holds more than {MAX_JSON_VALUES} JSON values"


def test_values_up_to_the_limit_and_long_texts_with_separators_parse() -> None:
    assert len(parse_frame(_many_keys(MAX_JSON_VALUES // 2 - 10)).params) > 0  # type: ignore[union-attr]
    text = 'a, "b": c \\' * 200_000  # 600,000 separators, all inside one string
    frame = parse_frame(json.dumps({"type": "req", "id": "r1", "method": "chat.send",
                                    "params": {"text": text}}))
    assert frame is not None and frame.params["text"] == text


def test_unknown_type_is_truncated_in_reason() -> None:
    error = frame_error(json.dumps({"type": "x" * 500}))
    assert len(error.reason) < 80
    assert "x" * 40 in error.reason
    assert "x" * 41 not in error.reason


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "res", "id": "1", "ok": True},
        {"type": "event", "event": "tick"},
        {"type": "res"},
        {"type": "event", "whatever": [1, 2]},
    ],
)
def test_res_and_event_are_ignored(frame: dict[str, Any]) -> None:
    assert parse_frame(json.dumps(frame)) is None


@pytest.mark.parametrize("request_id", [None, "", 1, 1.5, ["a"], {"a": 1}, True, "x" * 257])
def test_bad_id(request_id: Any) -> None:
    fields: dict[str, Any] = {"method": "m"}
    if request_id is not None:
        fields["id"] = request_id
    error = frame_error(req(**fields))
    assert "request id" in error.reason
    assert error.request_id is None


def test_id_of_256_characters_is_fine() -> None:
    frame = parse_frame(req(id="x" * 256, method="m"))
    assert frame is not None
    assert frame.id == "x" * 256


@pytest.mark.parametrize("method", [None, "", 5, ["health"], {"m": 1}])
def test_bad_method_keeps_id(method: Any) -> None:
    fields: dict[str, Any] = {"id": "abc"}
    if method is not None:
        fields["method"] = method
    error = frame_error(req(**fields))
    assert error.reason == "request method must be a non-empty string"
    assert error.request_id == "abc"


def test_unknown_top_level_key_keeps_id() -> None:
    error = frame_error(req(id="abc", method="m", extra=1))
    assert error.reason == "unknown request field: extra"
    assert error.request_id == "abc"


def test_unknown_top_level_keys_names_first_sorted() -> None:
    error = frame_error(req(id="abc", method="m", zeta=1, alpha=2))
    assert error.reason == "unknown request field: alpha"


@pytest.mark.parametrize("params", [[1, 2], "x", 5, True])
def test_params_not_an_object(params: Any) -> None:
    error = frame_error(req(id="abc", method="m", params=params))
    assert error.reason == "request params must be an object"
    assert error.request_id == "abc"


def test_frame_error_str_is_reason() -> None:
    error = FrameError("because", "id-1")
    assert str(error) == "because"
    assert error.request_id == "id-1"


# --- convert_params ------------------------------------------------------------------


def connect(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "minProtocol": 3,
        "maxProtocol": 4,
        "client": {"id": "cli", "version": "1.0", "platform": "linux", "mode": "cli"},
    }
    params.update(overrides)
    return params


def params_error(params: dict[str, Any], schema: type = ConnectParams) -> str:
    with pytest.raises(ParamsError) as info:
        convert_params(params, schema)
    return str(info.value)


def test_convert_minimal_connect() -> None:
    params = convert_params(connect(), ConnectParams)
    assert params.min_protocol == 3
    assert params.max_protocol == 4
    assert params.client == ClientInfo("cli", "1.0", "linux", "cli")
    assert params.role == "operator"
    assert params.caps == []
    assert params.scopes is None
    assert params.auth is None


def test_convert_full_connect() -> None:
    params = convert_params(
        connect(
            client={"id": "openclaw-macos", "version": "2", "platform": "darwin", "mode": "ui",
                    "displayName": "Mac", "deviceFamily": "Mac", "modelIdentifier": "M1",
                    "instanceId": "i-1"},
            caps=["a"],
            commands=["c"],
            permissions={"camera": True},
            pathEnv="/usr/bin",
            role="node",
            scopes=["operator.read"],
            device={"id": "dev", "publicKey": "pk", "signature": "sig", "signedAt": 1,
                    "nonce": "n"},
            auth={"token": "t", "password": "p", "deviceToken": "d", "bootstrapToken": "b"},
            locale="en-US",
            userAgent="ua",
        ),
        ConnectParams,
    )
    assert params.client.display_name == "Mac"
    assert params.client.instance_id == "i-1"
    assert params.role == "node"
    assert params.auth == AuthParams("t", "p", "d", "b")
    assert params.path_env == "/usr/bin"
    assert params.user_agent == "ua"


def test_convert_every_openclaw_connect_key() -> None:
    # every key of OpenClaw's current ConnectParams schema, at once
    params = convert_params(
        connect(
            client={"id": "openclaw-control-ui", "version": "2026.9.6", "platform": "Linux",
                    "mode": "webchat", "buildId": "b" * 96, "timeZone": "Europe/Berlin",
                    "instanceId": "i"},
            caps=["tool-events", "approvals"],
            computerUse={"any": ["shape", 1]},
            workerRuns={"bundleHash": "a" * 64, "openclawVersion": "2026.9.6",
                        "protocolFeatures": ["worker-heartbeat-v1"], "bundlePrewarm": 2},
            modelCatalog={"agentId": "main", "sessionKey": "agent:main:main"},
            device={"id": "dev", "publicKey": "pk", "signature": "sig", "signedAt": 0,
                    "nonce": "n"},
            auth={"token": "t", "password": "p", "approvalRuntimeToken": "a",
                  "agentRuntimeIdentityToken": "r"},
            userAgent="Mozilla/5.0 " + "x" * 1000,
        ),
        ConnectParams,
    )
    assert params.client.build_id == "b" * 96
    assert params.client.time_zone == "Europe/Berlin"
    assert params.device == DeviceIdentity("dev", "pk", "sig", 0, "n")
    assert params.auth == AuthParams("t", "p", approval_runtime_token="a",
                                     agent_runtime_identity_token="r")
    assert params.worker_runs is not None and params.worker_runs.bundle_prewarm == 2
    assert params.model_catalog == ModelCatalogScope("main", "agent:main:main")
    assert params.computer_use == {"any": ["shape", 1]}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"client": {"id": "cli", "version": "1", "platform": "p", "mode": "cli",
                     "buildId": "x" * 97}}, "at /client/buildId: Expected `str` of length <= 96"),
        ({"client": {"id": "cli", "version": "1", "platform": "p", "mode": "cli",
                     "timeZone": ""}}, "at /client/timeZone: Expected `str` of length >= 1"),
        ({"client": {"id": "cli", "version": "", "platform": "p", "mode": "cli"}},
         "at /client/version: Expected `str` of length >= 1"),
        ({"device": {"id": "d", "publicKey": "k", "signature": "s", "signedAt": 1}},
         "at /device: Object missing required field `nonce`"),
        ({"device": {"id": "d", "publicKey": "k", "signature": "s", "signedAt": -1,
                     "nonce": "n"}}, "at /device/signedAt: Expected `int` >= 0"),
        ({"device": {"id": "d", "publicKey": "k", "signature": "s", "signedAt": 1,
                     "nonce": "n", "extra": 1}}, "at /device/extra: unknown property"),
        ({"modelCatalog": {"slugHint": "x"}}, "at /modelCatalog: slugHint requires shortId"),
        ({"modelCatalog": {"shortId": "x", "sessionKey": "k"}},
         "at /modelCatalog: sessionKey and shortId cannot be combined"),
        ({"workerRuns": {"bundleHash": "XYZ", "openclawVersion": "1",
                         "protocolFeatures": []}},
         "at /workerRuns/bundleHash: Expected `str` matching regex '^[a-f0-9]{64}$'"),
        ({"auth": {"token": "t", "sessionToken": "s"}}, "at /auth/sessionToken: unknown property"),
        ({"caps": [""]}, "at /caps/0: Expected `str` of length >= 1"),
    ],
)
def test_openclaw_keys_are_typed(params: dict[str, Any], expected: str) -> None:
    assert params_error(connect(**params)) == expected


@pytest.mark.parametrize("client_id", CLIENT_IDS)
def test_every_known_client_id(client_id: str) -> None:
    client = {"id": client_id, "version": "1", "platform": "p", "mode": "cli"}
    assert convert_params(connect(client=client), ConnectParams).client.id == client_id


def test_unknown_client_id_pointer() -> None:
    message = params_error(connect(client={"id": "bogus", "version": "1", "platform": "p",
                                           "mode": "cli"}))
    assert message == "at /client/id: Invalid enum value 'bogus'"


def test_unknown_property_nested() -> None:
    client = {"id": "cli", "version": "1", "platform": "p", "mode": "cli", "colour": "red"}
    assert params_error(connect(client=client)) == "at /client/colour: unknown property"


def test_unknown_property_top_level() -> None:
    assert params_error(connect(nonsense=1)) == "at /nonsense: unknown property"


def test_unknown_property_in_auth() -> None:
    assert params_error(connect(auth={"tokn": "x"})) == "at /auth/tokn: unknown property"


def test_snake_case_is_unknown() -> None:
    assert params_error(connect(min_protocol=3)) == "at /min_protocol: unknown property"


def test_wrong_type_pointer() -> None:
    assert params_error(connect(minProtocol="3")) == "at /minProtocol: Expected `int`, got `str`"
    assert params_error(connect(auth={"token": 5})).startswith("at /auth/token: Expected")


def test_array_index_pointer() -> None:
    assert params_error(connect(caps=["ok", 7])) == "at /caps/1: Expected `str`, got `int`"


def test_constraint_pointer() -> None:
    assert params_error(connect(minProtocol=0)) == "at /minProtocol: Expected `int` >= 1"
    message = params_error(connect(caps=["x" * 513]))
    assert message.startswith("at /caps/0: Expected `str` of length <= 512")


def test_missing_required_field() -> None:
    message = params_error({"minProtocol": 3, "maxProtocol": 4})
    assert message.startswith("at /")
    assert "client" in message


def test_bad_role() -> None:
    assert params_error(connect(role="admin")) == "at /role: Invalid enum value 'admin'"


def test_dict_value_pointer_is_a_json_pointer() -> None:
    # ``permissions`` is an object of booleans; a bad value should be reported at a
    # JSON pointer, not a garbled msgspec path.
    message = params_error(connect(permissions={"camera": "yes"}))
    pointer = message.removeprefix("at ").split(":")[0]
    assert pointer.startswith("/permissions")
    assert "[" not in pointer and "]" not in pointer, message


def test_params_error_is_not_chained() -> None:
    with pytest.raises(ParamsError) as info:
        convert_params(connect(minProtocol="x"), ConnectParams)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_convert_params_with_other_schema() -> None:
    class Small(msgspec.Struct, forbid_unknown_fields=True):
        n: int

    assert convert_params({"n": 2}, Small).n == 2
    assert params_error({"n": 2, "x": 1}, Small) == "at /x: unknown property"


def test_connect_structs_are_frozen() -> None:
    params = convert_params(connect(), ConnectParams)
    with pytest.raises(AttributeError):
        params.role = "node"  # type: ignore[misc]


def test_operator_scopes() -> None:
    assert OPERATOR_SCOPES == ("operator.read", "operator.write", "operator.admin")


# --- encoding ------------------------------------------------------------------------


def test_encode() -> None:
    assert json.loads(encode({"a": [1, "x"], "b": None})) == {"a": [1, "x"], "b": None}


def test_encode_response_ok() -> None:
    assert json.loads(encode_response("r1", True, {"x": 1})) == {
        "type": "res", "id": "r1", "ok": True, "payload": {"x": 1},
    }


def test_encode_response_ok_without_payload() -> None:
    decoded = json.loads(encode_response("r1", True))
    assert decoded.pop("payload", None) is None  # omitted or null
    assert decoded == {"type": "res", "id": "r1", "ok": True}
    assert "error" not in decoded


def test_encode_response_error() -> None:
    error = {"code": "INVALID_REQUEST", "message": "bad"}
    assert json.loads(encode_response("r1", False, error=error)) == {
        "type": "res", "id": "r1", "ok": False, "error": error,
    }


def test_encode_event_with_seq_and_state_version() -> None:
    data = encode_event("presence", encode({"n": 1, "s": "q\"uote"}), seq=7,
                        state_version=encode({"presence": 3, "health": 1}))
    assert isinstance(data, bytes)
    assert json.loads(data) == {
        "type": "event",
        "event": "presence",
        "payload": {"n": 1, "s": 'q"uote'},
        "seq": 7,
        "stateVersion": {"presence": 3, "health": 1},
    }


def test_encode_event_minimal() -> None:
    assert json.loads(encode_event("tick", None)) == {"type": "event", "event": "tick"}


def test_encode_event_seq_zero_is_kept() -> None:
    assert json.loads(encode_event("tick", encode({}), seq=0))["seq"] == 0


def test_encode_event_dotted_name() -> None:
    decoded = json.loads(encode_event("connect.challenge", encode({"nonce": "n"})))
    assert decoded["event"] == "connect.challenge"
    assert decoded["payload"] == {"nonce": "n"}
    assert "seq" not in decoded and "stateVersion" not in decoded
