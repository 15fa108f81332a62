"""chat.send on a real gateway process: the reply streams as chat events from the
OpenAI-compatible fake model server, and the transcript is stored."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from fake_models import FakeModels
from harness import GatewayProcess, RawClient


@pytest.fixture
def models() -> Iterator[FakeModels]:
    with FakeModels(api_key="test-key") as fake:
        yield fake


def test_chat_send_streams_chat_events_from_a_model_server(
        make_gateway: Callable[..., GatewayProcess], models: FakeModels) -> None:
    gateway = make_gateway(config={
        "agents": {"defaults": {"model": "local/test-model"}},
        "models": {"providers": {"local": {"api": "openai-completions",
                                           "baseUrl": models.openai_base_url,
                                           "apiKey": "test-key"}}}})
    models.reply("streamed from the model", ["streamed ", "from ", "the model"])
    models.delay_pieces(0.05)
    raw = RawClient(gateway.url)
    raw.handshake(gateway.token, client_id="openclaw-control-ui", mode="webchat")
    assert raw.request("sessions.messages.subscribe",
                       {"key": "agent:main:main"})["payload"]["subscribed"] is True
    ack = raw.request("chat.send", {"sessionKey": "agent:main:main", "message": "hi",
                                    "deliver": False, "idempotencyKey": "ui-1"})
    assert ack["payload"]["status"] == "started"
    chat: list[dict[str, object]] = []
    while not chat or chat[-1]["state"] not in ("final", "error", "aborted"):
        chat.append(raw.next_event("chat")["payload"])
    assert [event["state"] for event in chat] == ["delta", "delta", "delta", "final"]
    assert "".join(str(event["deltaText"]) for event in chat[:-1]) == "streamed from the model"
    assert chat[-1]["message"] == {"role": "assistant", "timestamp": chat[-1]["message"][
        "timestamp"], "content": [{"type": "text", "text": "streamed from the model"}]}
    stored = [raw.next_event("session.message")["payload"] for _ in range(2)]
    assert [entry["message"]["role"] for entry in stored] == ["user", "assistant"]
    history = raw.request("chat.history", {"sessionKey": "agent:main:main"})["payload"]
    assert [m["content"][0]["text"] for m in history["messages"]] == [
        "hi", "streamed from the model"]
    raw.close()
