"""The composition root, in-process: build_app's order, refusals and the parts it wires.

Fast method tests run against :class:`inprocess.InProcessGateway` (the real App and
server on port 0, no subprocess); handlers and snapshot functions are also called
directly, as the plain functions they are.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from inprocess import InProcessGateway
from openclaw.errors import ConfigError, RequestError
from openclaw.gateway.methods.health import health_snapshot, status_summary


def test_methods_answer_over_a_real_socket(app_gateway: InProcessGateway) -> None:
    health = app_gateway.call("health")
    assert (health["ok"] is True and health["outbox"] == {}) or "outbox" in health
    status = app_gateway.call("status")
    assert status["gateway"]["port"] == app_gateway.port
    assert status["agent"]["offline"] is True
    channels = app_gateway.call("channels.status", {"probe": True, "timeoutMs": 1000})
    assert channels["channelOrder"] == [] and channels["channels"] == {}


def test_snapshots_are_plain_functions_of_the_app(app_gateway: InProcessGateway) -> None:
    app = app_gateway.app
    assert app is not None
    snapshot = health_snapshot(app)
    assert snapshot["process"]["uptimeMs"] >= 0 and snapshot["channelOrder"] == []
    assert status_summary(app, include_channels=False)["channelSummary"] == []
    assert app.state_version() == {"presence": app.presence.version, "health": 1}


def test_status_without_the_channel_summary_leaves_it_out(
        make_app_gateway: Callable[..., InProcessGateway]) -> None:
    gateway = make_app_gateway(
        config={"channels": {"telegram": {"botToken": "123:abc", "apiRoot": "http://127.0.0.1:9"}}})
    assert gateway.call("status")["channelSummary"][0].startswith("telegram/default:")
    assert gateway.call("status", {"includeChannelSummary": False})["channelSummary"] == []


def test_an_agent_turn_runs_in_process(app_gateway: InProcessGateway) -> None:
    final = app_gateway.call("agent", {"message": "what is 2+3", "idempotencyKey": "k1"},
                             expect_final=True)
    assert final["status"] == "ok" and "5" in final["result"]["payloads"][0]["text"]
    history = app_gateway.call("sessions.history", {"sessionKey": "main"})
    assert [turn["role"] for turn in history["turns"]][-2:] == ["user", "assistant"]


def test_a_send_without_a_channel_names_how_to_configure_one(
        app_gateway: InProcessGateway) -> None:
    with pytest.raises(RequestError) as caught:
        app_gateway.call("send", {"to": "1", "message": "x", "idempotencyKey": "s1"})
    assert caught.value.code == "INVALID_REQUEST"
    assert "TELEGRAM_BOT_TOKEN" in caught.value.message


def test_a_bad_channel_config_is_refused_before_anything_listens(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    gateway = InProcessGateway(home, config={"channels": {"telegram": {"enabled": True}}})
    with pytest.raises(ConfigError) as caught:
        gateway.start()
    assert caught.value.key == "channels.telegram.botToken"
    assert gateway.server is None and gateway.port == 0  # nothing was bound
    gateway.stop()


def test_an_unknown_channel_is_refused_naming_the_registered_ones(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    gateway = InProcessGateway(home, config={"channels": {"fax": {}}})
    with pytest.raises(ConfigError, match="unknown channel") as caught:
        gateway.start()
    assert caught.value.key == "channels.fax" and "telegram" in caught.value.reason
    gateway.stop()


def test_stop_closes_every_part(make_app_gateway: Callable[..., InProcessGateway]) -> None:
    gateway = make_app_gateway()
    port = gateway.port
    gateway.stop()
    with socket.socket() as probe:  # the port is free again
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    app = gateway.app
    assert app is not None and app.lifecycle.draining and not app.ready
    with pytest.raises(Exception, match="closed"):
        app.ledger.db.execute("SELECT 1")
