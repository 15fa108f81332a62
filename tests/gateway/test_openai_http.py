"""The OpenAI-compatible endpoint, driven by the official ``openai`` SDK, unchanged.

Most tests use the in-process gateway; the model behind it is the offline one or the
OpenAI-compatible fake on loopback (``fake_models.FakeModels``), so a streamed reply
really streams from a provider through the gateway to the SDK.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest

from fake_models import FakeModels
from inprocess import InProcessGateway

ENABLED = {"gateway": {"http": {"endpoints": {"chatCompletions": {"enabled": True}}}}}


@pytest.fixture
def models() -> Iterator[FakeModels]:
    with FakeModels(api_key="test-key") as fake:
        yield fake


def with_fake(models: FakeModels) -> dict[str, Any]:
    return {**ENABLED,
            "agents": {"defaults": {"model": "local/test-model"}},
            "models": {"providers": {"local": {"api": "openai-completions",
                                               "baseUrl": models.openai_base_url,
                                               "apiKey": "test-key"}}}}


def sdk(gateway: InProcessGateway, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"http://127.0.0.1:{gateway.port}/v1",
                         api_key=key or gateway.token, max_retries=0, timeout=30)


@pytest.fixture
def enabled(make_app_gateway: Callable[..., InProcessGateway]) -> InProcessGateway:
    return make_app_gateway(config=ENABLED)


def test_models_lists_the_agent_targets(enabled: InProcessGateway) -> None:
    ids = [model.id for model in sdk(enabled).models.list()]
    assert ids == ["openclaw", "openclaw/default", "openclaw/main"]
    assert sdk(enabled).models.retrieve("openclaw/default").id == "openclaw/default"
    with pytest.raises(openai.NotFoundError):
        sdk(enabled).models.retrieve("gpt-4o")


def test_a_completion_is_an_agent_run(enabled: InProcessGateway) -> None:
    reply = sdk(enabled).chat.completions.create(
        model="openclaw/default", messages=[{"role": "user", "content": "what is 2+3"}])
    assert reply.object == "chat.completion"
    assert reply.choices[0].finish_reason == "stop"
    assert "5" in (reply.choices[0].message.content or "")
    run_id = reply.id.removeprefix("chatcmpl-")
    assert enabled.call("agent.wait", {"runId": run_id})["status"] == "ok"


def test_streaming_from_a_real_provider_arrives_in_pieces(
        make_app_gateway: Callable[..., InProcessGateway], models: FakeModels) -> None:
    gateway = make_app_gateway(config=with_fake(models))
    models.reply("Hello there, streaming friend.", pieces=["Hello", " there,", " streaming",
                                                            " friend."])
    models.delay_pieces(0.05)  # one provider piece per loop turn: each becomes a delta
    stream = sdk(gateway).chat.completions.create(
        model="openclaw", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "system", "content": "be brief"},
                  {"role": "user", "content": "greet me"}])
    chunks = list(stream)
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and
              c.choices[0].delta.content]
    assert "".join(deltas) == "Hello there, streaming friend."
    assert len(deltas) >= 2, "the reply must stream, not arrive in one chunk"
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    sent = models.bodies()[-1]
    system = sent["messages"][0]  # the workspace's files, then the caller's system prompt
    assert system["role"] == "system" and system["content"].endswith("\n\nbe brief")


def test_the_bearer_token_is_required(enabled: InProcessGateway) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk(enabled, key="wrong").chat.completions.create(
            model="openclaw", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 401
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "authentication_error"
    with pytest.raises(openai.AuthenticationError):
        sdk(enabled, key="wrong").models.list()


def test_errors_come_in_openais_shape(enabled: InProcessGateway) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        sdk(enabled).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        sdk(enabled).chat.completions.create(
            model="openclaw", messages=[{"role": "user", "content": "hi"}], temperature=7)
    assert bad.value.status_code == 400
    raw = httpx.post(f"http://127.0.0.1:{enabled.port}/v1/chat/completions", content=b"{nope",
                     headers={"Authorization": f"Bearer {enabled.token}"})
    assert raw.status_code == 400 and raw.json()["error"]["type"] == "invalid_request_error"


def test_the_user_field_keeps_one_session(enabled: InProcessGateway) -> None:
    for question in ("what is 2+3", "what is 4+4"):
        sdk(enabled).chat.completions.create(
            model="openclaw", user="conv-1", messages=[{"role": "user", "content": question}])
    key = "openai:user:" + hashlib.sha256(b"conv-1").hexdigest()[:24]
    turns = enabled.call("sessions.history", {"sessionKey": key})["turns"]
    assert [t["text"] for t in turns if t["role"] == "user"] == ["what is 2+3", "what is 4+4"]


def test_a_model_override_header_must_name_a_usable_model(enabled: InProcessGateway) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(enabled).chat.completions.create(
            model="openclaw", messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-openclaw-model": "nosuch/model"})
    assert "nosuch" in str(caught.value)


def test_the_endpoint_is_off_by_default(app_gateway: InProcessGateway) -> None:
    with pytest.raises(openai.NotFoundError):
        sdk(app_gateway).chat.completions.create(
            model="openclaw", messages=[{"role": "user", "content": "hi"}])


def test_a_client_that_goes_away_aborts_its_run(
        make_app_gateway: Callable[..., InProcessGateway], models: FakeModels) -> None:
    gateway = make_app_gateway(config=with_fake(models))
    models.stall_next("openai", after_pieces=1)
    url = f"http://127.0.0.1:{gateway.port}/v1/chat/completions"
    body = {"model": "openclaw", "stream": True,
            "messages": [{"role": "user", "content": "never ends"}]}
    with httpx.stream("POST", url, json=body, timeout=30,
                      headers={"Authorization": f"Bearer {gateway.token}"}) as response:
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith("data: "))
    run_id = first.split('"id":"chatcmpl-', 1)[1].split('"', 1)[0]
    final = gateway.call("agent.wait", {"runId": run_id, "timeoutMs": 10_000})
    models.release()
    assert final["status"] == "error" and "went away" in final["error"]["message"]
