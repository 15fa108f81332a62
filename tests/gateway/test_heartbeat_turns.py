"""Heartbeat turns: HEARTBEAT.md read (and created), HEARTBEAT_OK swallowed, anything
else delivered to the configured target, real results in ``last-heartbeat``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fake_models import FakeModels
from fake_telegram import FakeTelegram, gateway_config
from harness import RawClient
from inprocess import InProcessGateway
from openclaw.gateway.heartbeat import DEFAULT_HEARTBEAT_MD, is_acknowledgement


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(token="123456:HB-token") as fake:
        yield fake


@pytest.fixture
def models() -> Iterator[FakeModels]:
    with FakeModels(api_key="test-key") as fake:
        yield fake


def config(models: FakeModels, telegram: FakeTelegram, **heartbeat: Any) -> dict[str, Any]:
    return {**gateway_config(telegram, [42]),
            "agents": {"defaults": {"model": "local/test-model",
                                    "heartbeat": {"every": "1h", **heartbeat}}},
            "models": {"providers": {"local": {"api": "openai-completions",
                                               "baseUrl": models.openai_base_url,
                                               "apiKey": "test-key"}}}}


def beat(gateway: InProcessGateway) -> dict[str, Any]:
    assert gateway.app is not None
    return gateway.run(gateway.app.heartbeat.beat())


@pytest.mark.parametrize(("text", "ack"), [
    ("HEARTBEAT_OK", True), ("  HEARTBEAT_OK\n", True), ("All quiet. HEARTBEAT_OK", True),
    ("HEARTBEAT_OK " + "x" * 301, False), ("Your flight leaves at 9.", False),
    ("I said HEARTBEAT_OK earlier, but the server is down", False),
])
def test_acknowledgement(text: str, ack: bool) -> None:
    assert is_acknowledgement(text) is ack


def test_ok_is_swallowed_and_anything_else_is_delivered(
    make_app_gateway: Callable[..., InProcessGateway], models: FakeModels,
    telegram: FakeTelegram,
) -> None:
    gateway = make_app_gateway(config=config(models, telegram, target="telegram", to="42"))
    workspace = gateway.home / ".openclaw" / "workspace"
    raw = RawClient(gateway.url)
    raw.handshake(gateway.token)

    models.reply("HEARTBEAT_OK")
    swallowed = beat(gateway)
    assert swallowed["status"] == "ok" and swallowed["text"] == "HEARTBEAT_OK"
    assert (workspace / "HEARTBEAT.md").read_text() == DEFAULT_HEARTBEAT_MD
    event = raw.next_event("heartbeat")["payload"]
    assert event["status"] == "ok" and event["runId"] == swallowed["runId"]
    assert telegram.sent_texts() == []

    (workspace / "HEARTBEAT.md").write_text("- Tell the owner the backup finished.\n")
    models.reply("The backup finished at 03:00.")
    delivered = beat(gateway)
    assert delivered["status"] == "delivered" and delivered["to"] == "42"
    assert telegram.sent_texts() == ["The backup finished at 03:00."]
    assert raw.next_event("heartbeat")["payload"]["status"] == "delivered"
    last = gateway.call("last-heartbeat")
    assert last["status"] == "delivered" and last["text"] == "The backup finished at 03:00."
    # The model saw the file's text, and the turn ran on the main session.
    body = models.bodies("openai")[-1]
    assert "Tell the owner the backup finished." in body["messages"][0]["content"]
    history = gateway.call("chat.history", {"sessionKey": "main"})["messages"]
    assert any("The backup finished" in str(m) for m in history)
    raw.close()


def test_target_none_runs_without_delivering_and_failures_are_reported(
    make_app_gateway: Callable[..., InProcessGateway], models: FakeModels,
    telegram: FakeTelegram,
) -> None:
    gateway = make_app_gateway(config=config(models, telegram))
    models.reply("Something to say.")
    ran = beat(gateway)
    assert ran["status"] == "ran" and ran["reason"] == "target-none"
    assert ran["text"] == "Something to say."
    models.fail_next("openai", 400, "bad request")
    failed = beat(gateway)
    assert failed["status"] == "failed" and "bad request" in failed["reason"]
    assert telegram.sent_texts() == []
    assert gateway.call("last-heartbeat")["status"] == "failed"


def test_the_timer_runs_turns(make_app_gateway: Callable[..., InProcessGateway],
                              tmp_path: Any) -> None:
    workspace = tmp_path / "ws"
    gateway = make_app_gateway(config={"agents": {"defaults": {
        "heartbeat": {"every": "1s"}, "workspace": str(workspace)}}})
    raw = RawClient(gateway.url)
    raw.handshake(gateway.token)
    event = raw.next_event("heartbeat", 10)["payload"]
    assert event["status"] == "ran"  # the offline model does not answer HEARTBEAT_OK
    assert event["text"].startswith("(offline model)")
    assert (workspace / "HEARTBEAT.md").exists()
    raw.close()
