"""``config.*`` over a real connection: redaction, schema, optimistic concurrency,
validation before writing, owner-only atomic writes, live-or-restart answers."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness import GatewayProcess
from inprocess import InProcessGateway
from openclaw.client.sync import call_once
from openclaw.errors import RequestError
from openclaw.gateway.configedit import REDACTED

GATEWAY_TOKEN = "gw-token-3f9a1c77e2b54d0d9a"
BOT_TOKEN = "123456789:AAF-real-bot-token-value-abcdefghijk"
ACCOUNT_TOKEN = "987654321:AAG-second-bot-token-value-zyxwvut"
API_KEY = "sk-live-model-key-0123456789abcdef"
PASSWORD = "hunter2-but-longer"

SECRET_CONFIG: dict[str, Any] = {
    "gateway": {"auth": {"mode": "token", "token": GATEWAY_TOKEN, "password": PASSWORD}},
    "channels": {"telegram": {"enabled": False, "botToken": BOT_TOKEN,
                              "accounts": {"second": {"botToken": ACCOUNT_TOKEN}}}},
    "models": {"providers": {"openai": {"apiKey": API_KEY}}},
}
SECRETS = (GATEWAY_TOKEN, BOT_TOKEN, ACCOUNT_TOKEN, API_KEY, PASSWORD)

Make = Callable[..., InProcessGateway]


def call(gateway: InProcessGateway, method: str, params: dict[str, Any] | None = None) -> Any:
    """One call (the in-process gateway authenticates with its own flag token)."""
    return gateway.call(method, params)


def on_disk(gateway: InProcessGateway) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(gateway.profile.config_path.read_text())
    return result


@pytest.fixture
def secret_gateway(make_app_gateway: Make) -> InProcessGateway:
    return make_app_gateway(config=SECRET_CONFIG)


def test_config_get_shows_no_secret_anywhere(secret_gateway: InProcessGateway) -> None:
    payload = call(secret_gateway, "config.get")
    text = json.dumps(payload)
    for secret in SECRETS:
        assert secret not in text
    config = payload["config"]
    assert config["gateway"]["auth"]["token"] == REDACTED
    assert config["gateway"]["auth"]["password"] == REDACTED
    assert config["channels"]["telegram"]["botToken"] == REDACTED
    assert config["channels"]["telegram"]["accounts"]["second"]["botToken"] == REDACTED
    assert config["models"]["providers"]["openai"]["apiKey"] == REDACTED
    assert json.loads(payload["raw"]) == config
    assert payload["exists"] is True and payload["valid"] is True
    assert len(payload["hash"]) == 64
    assert payload["effective"]["gateway"]["tickIntervalMs"] == 30_000  # defaults merged
    assert payload["restartRequired"] is False


def test_config_get_without_a_file(app_gateway: InProcessGateway) -> None:
    payload = app_gateway.call("config.get")
    assert payload["exists"] is False and payload["raw"] is None
    assert payload["config"] == {} and payload["valid"] is True
    assert payload["effective"]["agents"]["defaults"]["model"] == "offline/echo"


def test_schema_is_json_schema_with_the_real_types(app_gateway: InProcessGateway) -> None:
    payload = app_gateway.call("config.schema")
    schema = payload["schema"]
    assert schema["$schema"].startswith("https://json-schema.org/")
    defs = schema["$defs"]
    root = defs[schema["$ref"].rsplit("/", 1)[1]]
    assert root["additionalProperties"] is False
    gateway = defs[root["properties"]["gateway"]["$ref"].rsplit("/", 1)[1]]
    port = gateway["properties"]["port"]["anyOf"][0]
    assert port == {"type": "integer", "minimum": 1, "maximum": 65535}
    auth = defs[gateway["properties"]["auth"]["$ref"].rsplit("/", 1)[1]]
    assert set(auth["properties"]["mode"]["enum"]) == {"token", "password", "none"}
    telegram = root["properties"]["channels"]["properties"]["telegram"]
    telegram_def = defs[telegram["$ref"].rsplit("/", 1)[1]]
    assert "botToken" in telegram_def["properties"]
    # every $ref resolves
    refs = [v for v in _values(schema) if isinstance(v, str) and v.startswith("#/$defs/")]
    assert refs and all(ref.rsplit("/", 1)[1] in defs for ref in refs)
    assert _conforms({"gateway": {"port": 18789, "auth": {"mode": "token"}}}, root, defs)
    assert not _conforms({"gateway": {"port": "x"}}, root, defs)
    assert not _conforms({"gateway": {"prot": 1}}, root, defs)


def _values(node: Any) -> Any:
    if isinstance(node, dict):
        for value in node.values():
            yield value
            yield from _values(value)
    elif isinstance(node, list):
        for value in node:
            yield from _values(value)


def _conforms(value: Any, schema: dict[str, Any], defs: dict[str, Any]) -> bool:
    """A small hand check of the keywords this schema uses (objects, types, refs)."""
    if "$ref" in schema:
        return _conforms(value, defs[schema["$ref"].rsplit("/", 1)[1]], defs)
    if "anyOf" in schema:
        return any(_conforms(value, option, defs) for option in schema["anyOf"])
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            return False
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is False and set(value) - set(props):
            return False
        return all(_conforms(v, props[k], defs) for k, v in value.items() if k in props)
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)
                and schema.get("minimum", value) <= value <= schema.get("maximum", value))
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str) and ("enum" not in schema or value in schema["enum"])
    if "enum" in schema:
        return value in schema["enum"]
    return True


def test_patch_with_a_stale_hash_is_refused(secret_gateway: InProcessGateway) -> None:
    before = secret_gateway.profile.config_path.read_bytes()
    current = call(secret_gateway, "config.get")["hash"]
    with pytest.raises(RequestError) as caught:
        call(secret_gateway, "config.patch", {"raw": '{"logging": {"level": "debug"}}',
                                              "baseHash": "0" * 64})
    assert caught.value.code == "INVALID_REQUEST"
    assert "changed since last load" in caught.value.message
    assert caught.value.details == {"code": "CONFIG_HASH_MISMATCH", "currentHash": current}
    with pytest.raises(RequestError) as missing:
        call(secret_gateway, "config.patch", {"raw": '{"logging": {"level": "debug"}}'})
    assert missing.value.details is not None
    assert missing.value.details["code"] == "CONFIG_BASE_HASH_REQUIRED"
    assert secret_gateway.profile.config_path.read_bytes() == before


def test_invalid_patch_names_the_key_and_writes_nothing(secret_gateway: InProcessGateway) -> None:
    path = secret_gateway.profile.config_path
    before = path.read_bytes()
    base = call(secret_gateway, "config.get")["hash"]
    for patch, key in (({"gateway": {"port": 70000}}, "gateway.port"),
                       ({"logging": {"levle": "debug"}}, "logging.levle"),
                       ({"agents": {"defaults": {"model": "nowhere/x"}}}, "agents.defaults.model")):
        with pytest.raises(RequestError) as caught:
            call(secret_gateway, "config.patch", {"patch": patch, "baseHash": base})
        assert caught.value.code == "INVALID_REQUEST"
        assert caught.value.details is not None and caught.value.details["path"] == key
        assert key in caught.value.message
    assert path.read_bytes() == before
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_valid_patch_is_written_0600_and_needs_a_restart(
        secret_gateway: InProcessGateway) -> None:
    path = secret_gateway.profile.config_path
    path.chmod(0o644)
    base = call(secret_gateway, "config.get")["hash"]
    reply = call(secret_gateway, "config.patch", {
        "raw": "{logging: {level: 'debug'}, service: {restartSec: 5}, // json5\n}",
        "baseHash": base, "note": "from a test", "sessionKey": "agent:main:main"})
    assert reply["ok"] is True and reply["noop"] is False
    assert reply["changedPaths"] == ["logging.level", "service.restartSec"]
    assert reply["restartRequired"] is True
    assert reply["reload"] == {"restart": ["logging.level"], "reinstall": ["service.restartSec"],
                               "none": []}
    assert reply["appliedLive"] == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    written = on_disk(secret_gateway)
    assert written["logging"]["level"] == "debug" and written["service"]["restartSec"] == 5
    assert written["gateway"]["auth"]["token"] == GATEWAY_TOKEN  # untouched keys kept
    snapshot = call(secret_gateway, "config.get")
    assert snapshot["hash"] == reply["hash"] != base
    assert snapshot["restartRequired"] is True
    assert snapshot["pendingRestartPaths"] == ["logging.level"]
    # the running gateway still runs the config it started with
    assert secret_gateway.app is not None
    assert secret_gateway.app.config.logging.level == "info"
    again = call(secret_gateway, "config.patch", {"patch": {"logging": {"level": "debug"}},
                                                  "baseHash": reply["hash"]})
    assert again["noop"] is True and again["hash"] == reply["hash"]


def test_placeholders_never_clobber_secrets(secret_gateway: InProcessGateway) -> None:
    snapshot = call(secret_gateway, "config.get")
    document = snapshot["config"]
    document["logging"] = {"level": "warn"}
    reply = call(secret_gateway, "config.set", {"raw": json.dumps(document),
                                                "baseHash": snapshot["hash"]})
    assert reply["changedPaths"] == ["logging.level"]
    written = on_disk(secret_gateway)
    assert written["gateway"]["auth"]["token"] == GATEWAY_TOKEN
    assert written["gateway"]["auth"]["password"] == PASSWORD
    assert written["channels"]["telegram"]["botToken"] == BOT_TOKEN
    assert written["channels"]["telegram"]["accounts"]["second"]["botToken"] == ACCOUNT_TOKEN
    assert written["models"]["providers"]["openai"]["apiKey"] == API_KEY
    assert REDACTED not in secret_gateway.profile.config_path.read_text()
    for secret in SECRETS:
        assert secret not in json.dumps(reply)
    # a patch carrying the placeholder back keeps the secret too
    call(secret_gateway, "config.patch", {
        "patch": {"gateway": {"auth": {"token": REDACTED}}}, "baseHash": reply["hash"]})
    assert on_disk(secret_gateway)["gateway"]["auth"]["token"] == GATEWAY_TOKEN


def test_placeholder_where_no_secret_is_stored_is_refused(
        secret_gateway: InProcessGateway) -> None:
    base = call(secret_gateway, "config.get")["hash"]
    with pytest.raises(RequestError) as caught:
        call(secret_gateway, "config.patch", {
            "patch": {"models": {"providers": {"ollama": {"apiKey": REDACTED}}}},
            "baseHash": base})
    assert caught.value.details is not None
    assert caught.value.details["path"] == "models.providers.ollama.apiKey"
    assert "ollama" not in on_disk(secret_gateway)["models"]["providers"]


def test_first_write_needs_no_hash_and_null_deletes(app_gateway: InProcessGateway) -> None:
    path = app_gateway.profile.config_path
    reply = app_gateway.call("config.patch", {"patch": {"logging": {"level": "warn",
                                                                    "maxArchives": 3}}})
    assert reply["hash"] and stat.S_IMODE(path.stat().st_mode) == 0o600
    reply = app_gateway.call("config.patch", {"patch": {"logging": {"maxArchives": None}},
                                              "baseHash": reply["hash"]})
    assert json.loads(path.read_text()) == {"logging": {"level": "warn"}}
    assert reply["changedPaths"] == ["logging.maxArchives"]


def test_validate_writes_nothing(app_gateway: InProcessGateway) -> None:
    good = app_gateway.call("config.validate", {"config": {"gateway": {"port": 19999}}})
    assert good == {"ok": True, "valid": True, "issues": []}
    bad = app_gateway.call("config.validate", {"raw": '{"gateway": {"bind": "moon"}}'})
    assert bad["valid"] is False and bad["issues"][0]["path"] == "gateway.bind"
    assert not app_gateway.profile.config_path.exists()
    with pytest.raises(RequestError):
        app_gateway.call("config.validate", {"raw": "{}", "config": {}})


def test_config_writes_need_admin(app_gateway: InProcessGateway) -> None:
    with app_gateway.client(scopes=("operator.read",)) as client, \
            pytest.raises(RequestError) as caught:
        client.call("config.patch", {"patch": {"logging": {"level": "warn"}}})
    assert caught.value.code == "FORBIDDEN"
    assert not app_gateway.profile.config_path.exists()


def test_patch_on_disk_is_picked_up_by_a_restart(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path, config={"gateway": {"auth": {"token": GATEWAY_TOKEN}}})
    try:
        gateway.start()
        base = call_once(gateway.url, "config.get", token=GATEWAY_TOKEN)["hash"]
        reply = call_once(gateway.url, "config.patch", {
            "patch": {"agents": {"defaults": {"heartbeat": {"every": "0"}}}},
            "baseHash": base}, token=GATEWAY_TOKEN)
        assert reply["restartRequired"] is True
        assert call_once(gateway.url, "health", token=GATEWAY_TOKEN)["heartbeatSeconds"] == 1800
        assert gateway.stop() == 0
        gateway.start()
        assert call_once(gateway.url, "health", token=GATEWAY_TOKEN)["heartbeatSeconds"] == 0
        after = call_once(gateway.url, "config.get", token=GATEWAY_TOKEN)
        assert after["hash"] == reply["hash"] and after["restartRequired"] is False
    finally:
        gateway.stop()
