"""``agents.list``, ``agent.identity.get``, ``models.*``, ``system.info`` and the
minimal answers to what OpenClaw's Control UI asks for on load."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest

from inprocess import InProcessGateway
from openclaw.errors import RequestError

API_KEY = "sk-live-model-key-0123456789abcdef"
ENV_KEY = "sk-env-model-key-fedcba9876543210"

Make = Callable[..., InProcessGateway]


def test_agents_list_has_the_one_agent(make_app_gateway: Make) -> None:
    gateway = make_app_gateway(config={"agents": {"defaults": {"model": "ollama/llama3"}}})
    payload = gateway.call("agents.list")
    assert payload["defaultId"] == "main" and payload["mainKey"] == "main"
    assert payload["scope"] == "per-sender"
    [agent] = payload["agents"]
    assert agent["id"] == "main" and agent["identity"]["name"] == agent["name"]
    assert agent["model"] == {"primary": "ollama/llama3"}


def test_agent_identity(app_gateway: InProcessGateway) -> None:
    for params in ({}, {"agentId": "main"}, {"sessionKey": "agent:main:main"},
                   {"sessionKey": "main"}):
        identity = app_gateway.call("agent.identity.get", params)
        assert identity["agentId"] == "main" and identity["name"]
    with pytest.raises(RequestError) as caught:
        app_gateway.call("agent.identity.get", {"agentId": "other"})
    assert caught.value.code == "INVALID_REQUEST" and "other" in caught.value.message
    with pytest.raises(RequestError):
        app_gateway.call("agent.identity.get", {"sessionKey": "agent:other:main"})


def test_models_list_never_shows_keys(make_app_gateway: Make) -> None:
    gateway = make_app_gateway(
        config={"models": {"providers": {
            "openai": {"apiKey": API_KEY},
            "vllm": {"api": "openai-completions", "baseUrl": "http://127.0.0.1:8000/v1",
                     "apiKeyEnv": "VLLM_KEY"}}},
            "agents": {"defaults": {"model": "openai/gpt-4o-mini"}}},
        env={"VLLM_KEY": ENV_KEY})
    payload = gateway.call("models.list")
    text = json.dumps(payload)
    assert API_KEY not in text and ENV_KEY not in text
    models = {m["ref"]: m for m in payload["models"]}
    assert set(models) == {"openai/gpt-4o-mini", "offline/echo"}
    default = models["openai/gpt-4o-mini"]
    assert default["default"] is True and default["offline"] is False
    assert default["provider"] == "openai" and default["id"] == "gpt-4o-mini"
    assert default["available"] is True and "default" in default["tags"]
    offline = models["offline/echo"]
    assert offline["offline"] is True and offline["default"] is False and offline["available"]
    providers = {p["id"]: p for p in payload["providers"]}
    assert providers["openai"]["keySource"] == "config"
    assert providers["vllm"]["keySource"] == "env:VLLM_KEY" and providers["vllm"]["configured"]
    assert providers["anthropic"]["available"] is False  # no key anywhere
    only = gateway.call("models.list", {"provider": "offline"})["models"]
    assert [m["ref"] for m in only] == ["offline/echo"]
    with pytest.raises(RequestError):
        gateway.call("models.list", {"provider": "nope"})


def test_models_auth_status_is_truthful(make_app_gateway: Make) -> None:
    gateway = make_app_gateway(config={"models": {"providers": {"openai": {"apiKey": API_KEY}}}})
    payload = gateway.call("models.authStatus", {"agentId": "main"})
    assert API_KEY not in json.dumps(payload)
    rows = {row["provider"]: row for row in payload["providers"]}
    assert "offline" not in rows
    assert rows["openai"]["status"] == "static"
    assert rows["openai"]["apiKey"] == {"source": "config"}
    assert "anthropic" not in rows  # no key, and nothing uses it: nothing to attend to
    assert rows["ollama"]["status"] == "ok"  # needs no key


def test_models_auth_status_reports_a_missing_key_in_use(make_app_gateway: Make) -> None:
    # configured, but without a key (the default model could not be such, or the
    # gateway would not start)
    gateway = make_app_gateway(config={"models": {"providers": {"anthropic": {}}}})
    rows = {row["provider"]: row
            for row in gateway.call("models.authStatus", {})["providers"]}
    assert rows["anthropic"]["status"] == "missing" and "apiKey" not in rows["anthropic"]
    assert "openai" not in rows


def test_system_info(app_gateway: InProcessGateway) -> None:
    info = app_gateway.call("system.info")
    assert info["pid"] == os.getpid()  # in-process: the test's own process
    assert info["port"] == app_gateway.port
    assert info["profile"] == "default"
    assert info["stateDir"] == str(app_gateway.profile.state_dir)
    assert info["configPath"] == str(app_gateway.profile.config_path)
    assert info["pythonVersion"].count(".") == 2 and info["runtime"] == "python"
    assert info["uptimeMs"] >= 0 and info["cpuCount"] >= 1
    assert info["diskTotalBytes"] >= info["diskAvailableBytes"] > 0


def test_ui_load_calls_answer_minimally(app_gateway: InProcessGateway) -> None:
    assert app_gateway.call("exec.approval.list", {}) == []
    assert app_gateway.call("users.prefs.get", {"keys": ["theme"]}) == {
        "status": "no_durable_identity"}
    assert app_gateway.call("question.list", {}) == {"questions": []}


def test_unimplemented_ui_methods_are_unknown(app_gateway: InProcessGateway) -> None:
    for method in ("users.prefs.set", "config.apply", "plugins.list", "board.get"):
        with pytest.raises(RequestError) as caught:
            app_gateway.call(method, {})
        assert caught.value.code == "INVALID_REQUEST"
        assert caught.value.message == f"unknown method: {method}"


def test_new_methods_are_advertised(app_gateway: InProcessGateway) -> None:
    with app_gateway.client() as client:
        advertised = set(client.hello["features"]["methods"])
    assert {"agents.list", "agent.identity.get", "models.list", "models.authStatus",
            "system.info", "config.get", "config.schema", "config.validate", "config.patch",
            "config.set", "exec.approval.list", "users.prefs.get"} <= advertised
    assert "users.prefs.set" not in advertised  # so the UI keeps its prefs locally


def test_a_method_cannot_be_registered_twice() -> None:
    from openclaw.gateway.dispatch import Dispatcher
    from openclaw.gateway.methods import catalog, register_all

    dispatcher = Dispatcher()
    register_all(dispatcher)
    with pytest.raises(ValueError, match=r"agents\.list"):
        catalog.register(dispatcher)
