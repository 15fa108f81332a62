"""Agent runs end to end: a real gateway, the offline model, and loopback model APIs."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fake_models import FakeModels
from harness import GatewayProcess, RawClient, free_port, run_cli, start_cli


@pytest.fixture
def models() -> Iterator[FakeModels]:
    with FakeModels(api_key="test-key") as fake:
        yield fake


def openai_config(models: FakeModels, **defaults: Any) -> dict[str, Any]:
    return {"agents": {"defaults": {"model": "local/test-model", **defaults}},
            "models": {"providers": {"local": {"api": "openai-completions",
                                               "baseUrl": models.openai_base_url,
                                               "apiKey": "test-key"}}}}


def anthropic_config(models: FakeModels) -> dict[str, Any]:
    return {"agents": {"defaults": {"model": "anthropic/claude-test"}},
            "models": {"providers": {"anthropic": {"baseUrl": models.anthropic_base_url,
                                                   "apiKey": "test-key"}}}}


client = RawClient.to


def run_agent(raw: RawClient, params: dict[str, Any], timeout: float = 30
              ) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """Send ``agent``; return (first response, final response, agent events between)."""
    raw.events.clear()
    request_id = f"req-{params['idempotencyKey']}"
    raw.send({"type": "req", "id": request_id, "method": "agent", "params": params})
    first = raw.response(request_id, timeout)
    final = first
    if first.get("ok") and first["payload"].get("status") in ("accepted", "in_flight"):
        final = raw.response(request_id, timeout)
    events = [e["payload"] for e in raw.events if e.get("event") == "agent"
              and e["payload"]["runId"] == params["idempotencyKey"]]
    return first, final, events


def test_offline_default_two_stage_answer_and_ordered_events(gateway: GatewayProcess) -> None:
    raw = client(gateway)
    first, final, events = run_agent(raw, {"message": "what is 2+3", "idempotencyKey": "r1"})
    assert first["ok"] and first["payload"]["status"] == "accepted"
    assert first["payload"]["runId"] == "r1" and first["id"] == final["id"]
    payload = final["payload"]
    assert payload["status"] == "ok" and payload["result"]["meta"]["offline"] is True
    text = payload["result"]["payloads"][0]["text"]
    assert "5" in text
    deltas = [e["data"]["text"] for e in events if e["stream"] == "assistant"]
    assert "".join(deltas) == text and len(deltas) >= 2
    phases = [e["data"]["phase"] for e in events if e["stream"] == "lifecycle"]
    assert phases == ["start", "end"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_a_finished_key_returns_the_stored_final(gateway: GatewayProcess) -> None:
    raw = client(gateway)
    _, final, _ = run_agent(raw, {"message": "hello", "idempotencyKey": "dup"})
    again, again_final, events = run_agent(raw, {"message": "something else",
                                                 "idempotencyKey": "dup"})
    assert again is again_final and events == []  # one answer, nothing ran
    assert again["payload"] == final["payload"]
    history = raw.request("sessions.history", {"sessionKey": "main"})["payload"]["turns"]
    assert [t["text"] for t in history if t["role"] == "user"] == ["hello"]


def test_openai_compatible_streaming_and_session_context(
    make_gateway: Callable[..., GatewayProcess], models: FakeModels,
) -> None:
    raw = client(make_gateway(config=openai_config(models)))
    models.reply("Paris is the capital.", pieces=["Paris ", "is the ", "capital."])
    _, final, events = run_agent(raw, {"message": "capital of France?",
                                       "idempotencyKey": "o1", "sessionKey": "geo"})
    payload = final["payload"]
    assert payload["status"] == "ok", payload
    deltas = [e["data"]["text"] for e in events if e["stream"] == "assistant"]
    assert "".join(deltas) == "Paris is the capital." and deltas[0].startswith("Paris")
    meta = payload["result"]["meta"]
    assert meta["model"] == "test-model" and meta["usage"]["outputTokens"] > 0
    _, second, _ = run_agent(raw, {"message": "and of Italy?", "idempotencyKey": "o2",
                                   "sessionKey": "geo"})
    assert second["payload"]["status"] == "ok"
    sent = models.requests[-1][2]["messages"]
    assert sent[0]["role"] == "system"  # the workspace files
    assert [m["content"] for m in sent[1:]] == ["capital of France?", "Paris is the capital.",
                                                "and of Italy?"]
    assert raw.request("sessions.reset", {"sessionKey": "geo"})["payload"]["removedTurns"] == 4
    assert raw.request("sessions.history", {"sessionKey": "geo"})["payload"]["turns"] == []


def test_anthropic_messages_streaming(
    make_gateway: Callable[..., GatewayProcess], models: FakeModels,
) -> None:
    raw = client(make_gateway(config=anthropic_config(models)))
    models.reply("Bonjour!", pieces=["Bon", "jour!"])
    _, final, events = run_agent(raw, {"message": "say hi in French", "idempotencyKey": "a1"})
    assert final["payload"]["status"] == "ok", final
    assert "".join(e["data"]["text"] for e in events if e["stream"] == "assistant") == "Bonjour!"
    api, headers, body = models.requests[-1]
    assert api == "anthropic" and headers["x-api-key"] == "test-key"
    assert body["stream"] is True and body["messages"][-1]["content"] == "say hi in French"


def test_deadline_ends_in_agent_timeout(
    make_gateway: Callable[..., GatewayProcess], models: FakeModels,
) -> None:
    raw = client(make_gateway(config=openai_config(models)))
    models.stall_next("openai", after_pieces=1)
    _, final, events = run_agent(raw, {"message": "slow", "idempotencyKey": "t1", "timeout": 1})
    payload = final["payload"]
    assert payload["status"] == "error" and payload["error"]["code"] == "AGENT_TIMEOUT"
    assert events[-1]["data"]["phase"] == "error"
    waited = raw.request("agent.wait", {"runId": "t1"})["payload"]
    assert waited["status"] == "error" and waited["error"]["code"] == "AGENT_TIMEOUT"


def test_abort_and_provider_errors(
    make_gateway: Callable[..., GatewayProcess], models: FakeModels,
) -> None:
    raw = client(make_gateway(config=openai_config(models)))
    models.stall_next("openai", after_pieces=1)
    raw.send({"type": "req", "id": "slow", "method": "agent",
              "params": {"message": "long", "idempotencyKey": "ab1"}})
    assert raw.response("slow")["payload"]["status"] == "accepted"
    models.wait_for(lambda m: m.stalled == 1)  # the model call is under way
    assert raw.request("agent.abort", {"runId": "ab1"})["payload"] == {"ok": True,
                                                                         "aborted": True}
    final = raw.response("slow")["payload"]
    assert final["status"] == "error" and final["error"]["code"] == "ABORTED"

    models.fail_next("openai", 401)
    _, final, _ = run_agent(raw, {"message": "x", "idempotencyKey": "e401"})
    assert final["payload"]["error"]["details"]["kind"] == "auth"
    models.fail_next("openai", 500, count=1)
    models.reply("recovered")
    _, final, _ = run_agent(raw, {"message": "x", "idempotencyKey": "e500"})
    assert final["payload"]["status"] == "ok"  # retried: nothing had been streamed
    assert final["payload"]["result"]["payloads"][0]["text"] == "recovered"
    models.fail_next("openai", 429, retry_after=1)
    models.reply("after the wait")
    started = time.monotonic()
    _, final, _ = run_agent(raw, {"message": "x", "idempotencyKey": "e429"})
    assert final["payload"]["status"] == "ok" and time.monotonic() - started >= 1.0
    models.malformed_next("openai")
    _, final, _ = run_agent(raw, {"message": "x", "idempotencyKey": "bad"})
    assert final["payload"]["status"] == "error"
    assert final["payload"]["error"]["details"]["kind"] == "malformed"


def test_a_run_outlives_its_client_and_duplicates_answer_in_flight(
    make_gateway: Callable[..., GatewayProcess], models: FakeModels,
) -> None:
    gateway = make_gateway(config=openai_config(models))
    models.delay_pieces(0.3)
    models.reply("one two three four", pieces=["one ", "two ", "three ", "four"])
    first = client(gateway)
    first.send({"type": "req", "id": "go", "method": "agent",
                "params": {"message": "count", "idempotencyKey": "live"}})
    assert first.response("go")["payload"]["status"] == "accepted"
    first.ws.close()  # the requester goes away mid-run
    second = client(gateway)
    dup, dup_final, _ = run_agent(second, {"message": "count", "idempotencyKey": "live"})
    assert dup["payload"]["status"] == "in_flight"
    assert dup_final["payload"]["result"]["payloads"][0]["text"] == "one two three four"
    waited = second.request("agent.wait", {"runId": "live", "timeoutMs": 5000})["payload"]
    assert waited["status"] == "ok" and waited["endedAt"] >= waited["startedAt"]
    assert len([r for r in models.requests if r[0] == "openai"]) == 1


def test_runs_of_one_session_go_in_order(
    make_gateway: Callable[..., GatewayProcess], models: FakeModels,
) -> None:
    gateway = make_gateway(config=openai_config(models))
    raw = client(gateway)
    models.delay_pieces(0.1)
    models.queue_replies(["first answer", "second answer"])
    for key in ("q1", "q2"):
        raw.send({"type": "req", "id": key, "method": "agent",
                  "params": {"message": f"ask {key}", "idempotencyKey": key}})
    finals = {}
    while len(finals) < 2:
        frame = raw.recv()
        if frame.get("type") == "res" and frame["payload"].get("status") not in (
                "accepted", "in_flight"):
            finals[frame["id"]] = frame["payload"]
    assert finals["q1"]["result"]["payloads"][0]["text"] == "first answer"
    assert finals["q2"]["result"]["payloads"][0]["text"] == "second answer"
    # The second run saw the first exchange in its context.
    assert [m["content"] for m in models.requests[-1][2]["messages"]
            if m["role"] != "system"] == ["ask q1", "first answer", "ask q2"]


def test_shutdown_aborts_runs_with_a_stored_final(
    make_gateway: Callable[..., GatewayProcess], models: FakeModels, tmp_path: Path,
) -> None:
    home = tmp_path / "agent-home"
    home.mkdir()
    gateway = make_gateway(config=openai_config(models), home=home)
    raw = client(gateway)
    models.stall_next("openai", after_pieces=1)
    raw.send({"type": "req", "id": "s", "method": "agent",
              "params": {"message": "never ends", "idempotencyKey": "stop1"}})
    raw.response("s")
    raw.next_event("agent")
    gateway.signal(signal.SIGTERM)
    assert gateway.wait() == 0
    restarted = client(make_gateway(home=home))
    waited = restarted.request("agent.wait", {"runId": "stop1"})["payload"]
    assert waited["status"] == "error" and "stopping" in waited["error"]["message"]


def test_agent_cli_streams_waits_and_fails_fast_when_down(
    make_gateway: Callable[..., GatewayProcess], tmp_path: Path,
) -> None:
    home = tmp_path / "cli-home"
    home.mkdir()
    down = run_cli("agent", "-m", "hi", home=home,
                   env={"OPENCLAW_GATEWAY_PORT": str(free_port())})
    assert down.returncode == 69 and "not reachable" in down.stderr
    make_gateway(home=home)
    result = run_cli("agent", "-m", "what is 6*7", "--idempotency-key", "cli1", home=home)
    assert result.returncode == 0, result.stderr
    assert "42" in result.stdout and "offline" in result.stderr
    again = run_cli("agent", "-m", "what is 6*7", "--idempotency-key", "cli1", "--json", home=home)
    assert again.returncode == 0 and json.loads(again.stdout)["runId"] == "cli1"
    no_wait = run_cli("agent", "-m", "later", "--no-wait", "--idempotency-key", "cli2", home=home)
    assert no_wait.returncode == 0 and no_wait.stdout.split()[0] == "cli2"


def test_an_inbound_message_is_answered_once_even_across_a_kill(
    make_gateway: Callable[..., GatewayProcess], models: FakeModels, tmp_path: Path,
) -> None:
    from fake_telegram import FakeTelegram, gateway_config

    home = tmp_path / "loop-home"
    home.mkdir()
    with FakeTelegram(token="999:loop-token") as telegram:
        config = {**openai_config(models), **gateway_config(telegram, [42])}
        gateway = make_gateway(config=config, home=home)
        models.delay_pieces(0.5)
        answer = ("a considered reply", ["a ", "considered ", "reply"])
        models.queue_replies([answer, answer])  # the killed call uses one up
        telegram.push_message(42, "hello bot", from_id=42)
        models.wait_for(lambda m: any(api == "openai" for api, _, _ in m.requests), timeout=20)
        gateway.signal(signal.SIGKILL)  # mid-run: nothing answered yet
        gateway.wait()
        assert telegram.sent == []
        models.delay_pieces(0)
        restarted = make_gateway(home=home)
        raw = client(restarted)
        run_id = "inbound:telegram:default:42:1000"
        waited = raw.request("agent.wait", {"runId": run_id, "timeoutMs": 20000},
                             timeout=30)["payload"]
        assert waited["status"] == "ok", waited
        assert telegram.sent_texts() == ["a considered reply"]
        assert telegram.sent[0]["chat_id"] == 42
        history = raw.request("sessions.history",
                              {"sessionKey": "telegram:default:42"})["payload"]["turns"]
        assert [(t["role"], t["text"]) for t in history] == [
            ("user", "hello bot"), ("assistant", "a considered reply")]


def test_a_reply_stored_before_a_kill_is_not_asked_for_or_stored_again(
    make_gateway: Callable[..., GatewayProcess], models: FakeModels, tmp_path: Path,
) -> None:
    """Killed while the reply goes out (the exchange is stored, the final is not): the
    restart finishes the run from the stored reply: one exchange in the transcript, one
    model call, and the send key's outcome (unknown: the call was in flight)."""
    from fake_telegram import FakeTelegram, gateway_config

    home = tmp_path / "reply-home"
    home.mkdir()
    with FakeTelegram(token="888:reply-token") as telegram:
        config = {**openai_config(models), **gateway_config(telegram, [42])}
        gateway = make_gateway(config=config, home=home)
        telegram.delay("sendMessage", 60)  # the reply's call stays in flight until the kill
        models.reply("the one answer")
        telegram.push_message(42, "hello bot", from_id=42)
        telegram.wait_for(lambda t: any(m == "sendMessage" for m, _ in t.requests), timeout=20)
        gateway.signal(signal.SIGKILL)
        gateway.wait()
        telegram.delay("sendMessage", 0)
        models.reply("a different answer")
        raw = client(make_gateway(home=home))
        run_id = "inbound:telegram:default:42:1000"
        waited = raw.request("agent.wait", {"runId": run_id, "timeoutMs": 20000},
                             timeout=30)["payload"]
        assert waited["status"] == "ok", waited
        final = raw.request("agent", {"message": "hello bot", "idempotencyKey": run_id})
        meta = final["payload"]["result"]["meta"]
        assert final["payload"]["result"]["payloads"] == [{"text": "the one answer"}]
        assert meta["resumed"] is True
        assert final["payload"]["deliveryStatus"]["status"] == "failed"
        assert final["payload"]["deliveryStatus"]["error"]["details"]["reason"] == \
            "outcome-unknown"
        assert len(models.requests) == 1
        history = raw.request("sessions.history",
                              {"sessionKey": "telegram:default:42"})["payload"]["turns"]
        assert [(t["role"], t["text"]) for t in history] == [
            ("user", "hello bot"), ("assistant", "the one answer")]
        assert telegram.sent == []


def test_a_run_ended_as_interrupted_leaves_nothing_in_its_transcript(
    make_gateway: Callable[..., GatewayProcess], tmp_path: Path,
) -> None:
    """A run that is not run again (``agent`` with ``deliver``) killed while its reply
    goes out: its error final says it was interrupted, and the exchange the dead
    process stored is gone with it (an error final adds nothing)."""
    from fake_telegram import FakeTelegram, gateway_config

    home = tmp_path / "cut-home"
    home.mkdir()
    with FakeTelegram(token="666:cut-token") as telegram:
        gateway = make_gateway(config=gateway_config(telegram, [1]), home=home)
        telegram.delay("sendMessage", 60)
        raw = client(gateway)
        raw.send({"type": "req", "id": "r", "method": "agent", "params": {
            "message": "what is 1+1", "idempotencyKey": "cut1", "sessionKey": "cut",
            "to": "777", "deliver": True}})
        assert raw.response("r")["payload"]["status"] == "accepted"
        telegram.wait_for(lambda t: any(m == "sendMessage" for m, _ in t.requests), timeout=20)
        gateway.signal(signal.SIGKILL)
        gateway.wait()
        raw = client(make_gateway(home=home))
        waited = raw.request("agent.wait", {"runId": "cut1", "timeoutMs": 20000})["payload"]
        assert waited["status"] == "error"
        assert "the gateway stopped before this run finished" in waited["error"]["message"]
        history = raw.request("sessions.history", {"sessionKey": "cut"})["payload"]["turns"]
        assert history == []


def test_status_names_the_model_and_says_when_it_is_offline(gateway: GatewayProcess) -> None:
    raw = client(gateway)
    run_agent(raw, {"message": "hi", "idempotencyKey": "st1"})
    status = raw.request("status", {})["payload"]
    assert status["agent"]["model"] == "offline/echo" and status["agent"]["offline"] is True
    assert status["agent"]["provider"]["api"] == "offline"
    assert status["sessions"]["recent"][0]["key"] == "main"


def test_agent_cli_ctrl_c_can_abort_the_run(
    make_gateway: Callable[..., GatewayProcess], models: FakeModels, tmp_path: Path,
) -> None:
    home = tmp_path / "ctrlc-home"
    home.mkdir()
    gateway = make_gateway(config=openai_config(models), home=home)
    models.stall_next("openai", after_pieces=1)
    cli = start_cli("agent", "-m", "never ends", "--idempotency-key", "cc1",
                    "--abort-on-interrupt", home=home)
    models.wait_for(lambda m: m.stalled == 1, timeout=20)
    cli.send_signal(signal.SIGINT)
    _, stderr = cli.communicate(timeout=30)
    assert cli.returncode == 130 and "aborted" in stderr
    waited = client(gateway).request("agent.wait", {"runId": "cc1"})["payload"]
    assert waited["status"] == "error" and waited["error"]["code"] == "ABORTED"


def test_agent_cli_ctrl_c_without_a_terminal_leaves_the_run_going(
    make_gateway: Callable[..., GatewayProcess], models: FakeModels, tmp_path: Path,
) -> None:
    home = tmp_path / "leave-home"
    home.mkdir()
    gateway = make_gateway(config=openai_config(models), home=home)
    models.stall_next("openai", after_pieces=1)
    cli = start_cli("agent", "-m", "keep going", "--idempotency-key", "cc2", home=home,
                    stdin=subprocess.DEVNULL)
    models.wait_for(lambda m: m.stalled == 1, timeout=20)
    cli.send_signal(signal.SIGINT)
    _, stderr = cli.communicate(timeout=30)
    assert cli.returncode == 130 and "continues on the gateway" in stderr
    raw = client(gateway)
    assert raw.request("agent.wait", {"runId": "cc2", "timeoutMs": 0})["payload"]["status"] \
        == "timeout"  # still running
    models.release()
    assert raw.request("agent.wait", {"runId": "cc2", "timeoutMs": 10000})["payload"][
        "status"] == "ok"


def test_deliver_sends_the_reply_through_the_channel_once(
    make_gateway: Callable[..., GatewayProcess],
) -> None:
    from fake_telegram import FakeTelegram, gateway_config

    with FakeTelegram(token="555:deliver-token") as telegram:
        gateway = make_gateway(config=gateway_config(telegram, [1]))
        raw = client(gateway)
        params = {"message": "what is 1+1", "idempotencyKey": "dl1", "to": "777",
                  "deliver": True}
        _, final, _ = run_agent(raw, params)
        payload = final["payload"]
        assert payload["status"] == "ok" and payload["deliveryStatus"]["status"] == "sent"
        text = payload["result"]["payloads"][0]["text"]
        assert telegram.sent_texts() == [text] and "2" in text
        again, _, _ = run_agent(raw, params)  # the stored final; nothing sent again
        assert again["payload"]["deliveryStatus"] == payload["deliveryStatus"]
        assert telegram.sent_texts() == [text]
        refused = raw.request("agent", {"message": "x", "idempotencyKey": "dl2",
                                        "deliver": True})
        assert refused["ok"] is False and "deliver needs to" in refused["error"]["message"]


def test_an_inbound_message_cut_short_by_a_stop_is_answered_after_the_restart(
    make_gateway: Callable[..., GatewayProcess], models: FakeModels, tmp_path: Path,
) -> None:
    from fake_telegram import FakeTelegram, gateway_config

    home = tmp_path / "stop-home"
    home.mkdir()
    with FakeTelegram(token="777:stop-token") as telegram:
        config = {**openai_config(models), **gateway_config(telegram, [42])}
        config["gateway"] = {"drainTimeoutMs": 1000}
        gateway = make_gateway(config=config, home=home)
        models.stall_next("openai", after_pieces=1)
        models.queue_replies(["cut short", "the full answer"])
        telegram.push_message(42, "question", from_id=42)
        models.wait_for(lambda m: m.stalled == 1, timeout=20)
        gateway.signal(signal.SIGTERM)
        assert gateway.wait() == 0
        assert telegram.sent == []
        restarted = make_gateway(home=home)
        waited = client(restarted).request(
            "agent.wait", {"runId": "inbound:telegram:default:42:1000", "timeoutMs": 20000},
            timeout=30)["payload"]
        assert waited["status"] == "ok", waited
        assert telegram.sent_texts() == ["the full answer"]


def test_an_unusable_default_model_refuses_to_start_with_78(
    make_gateway: Callable[..., GatewayProcess],
) -> None:
    gateway = make_gateway(config={"agents": {"defaults": {"model": "openai/gpt-4o-mini"}}},
                           env={"OPENAI_API_KEY": ""}, start=False)
    status, output = gateway.run_to_exit()
    assert status == 78, output
    assert "agents.defaults.model" in output and "OPENAI_API_KEY" in output
