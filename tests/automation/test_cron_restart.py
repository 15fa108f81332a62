"""Scheduled jobs across a stopped gateway and across ``kill -9`` (real processes).

Slots that fall while the gateway is down are each recorded as missed; the job's
``catchUp`` policy decides whether the newest runs at start. A run cut by ``kill -9``
is resumed under the same run id and delivered once.
"""

from __future__ import annotations

import itertools
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fake_models import FakeModels
from fake_telegram import FakeTelegram, gateway_config
from harness import GatewayProcess, RawClient
from openclaw.clock import now_ms


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(token="123456:CRON-restart") as fake:
        yield fake


@pytest.fixture
def models() -> Iterator[FakeModels]:
    with FakeModels(api_key="test-key") as fake:
        yield fake


connect = RawClient.to
call = RawClient.payload


def runs_of(raw: RawClient, job: str) -> list[dict[str, Any]]:
    return list(call(raw, "cron.runs", {"id": job, "limit": 500})["entries"])


def wait_finished(raw: RawClient, job: str, run_id: str) -> dict[str, Any]:
    """The run's stored entry once it has finished (awaiting its ``cron`` event)."""
    entry = next(r for r in runs_of(raw, job) if r["runId"] == run_id)
    while entry["status"] == "running":
        payload = raw.next_event("cron", 20)["payload"]
        if payload["action"] == "finished" and payload["runId"] == run_id:
            entry = next(r for r in runs_of(raw, job) if r["runId"] == run_id)
    return entry


def test_slots_missed_while_down_follow_each_catch_up_policy(
    make_gateway: Callable[..., GatewayProcess],
) -> None:
    gateway = make_gateway()
    raw = connect(gateway)
    at_ms = now_ms() + 2500
    for job, schedule, policy in (
        ("skip-every", {"kind": "every", "everyMs": 1000}, "skip"),
        ("once-every", {"kind": "every", "everyMs": 1000}, "run-once"),
        ("skip-at", {"kind": "at", "atMs": at_ms}, "skip"),
        ("once-at", {"kind": "at", "atMs": at_ms}, "run-once"),
    ):
        call(raw, "cron.add", {"id": job, "schedule": schedule, "catchUp": policy,
                               "payload": {"message": f"job {job}"}})
    raw.close()
    gateway.stop()
    stopped_ms = now_ms()
    if stopped_ms >= at_ms:
        pytest.skip("the machine is too slow to stop the gateway before the slot")
    # The schedules pass while it is down: the "at" slot, and at least three "every" ones.
    time.sleep((max(at_ms + 1200, stopped_ms + 3500) - now_ms()) / 1000)
    restarted_ms = now_ms()
    gateway.start()
    started_ms = now_ms()
    raw = connect(gateway)

    for job in ("skip-every", "once-every"):
        entries = sorted(runs_of(raw, job), key=lambda r: r["scheduledAtMs"])
        slots = [r["scheduledAtMs"] for r in entries]
        assert len(slots) == len(set(slots))
        assert all(b - a == 1000 for a, b in itertools.pairwise(slots)), slots
        down = [r for r in entries if stopped_ms < r["scheduledAtMs"] <= restarted_ms]
        assert len(down) >= 3, entries
        caught_up = [r for r in entries if r["trigger"] == "catch-up"]
        if job == "skip-every":
            assert {r["status"] for r in down} == {"missed"}
            assert caught_up == []
        else:  # the newest slot due at the start ran; every earlier one since the stop
            (newest,) = caught_up  # is recorded as missed
            assert restarted_ms < newest["scheduledAtMs"] + 1000
            assert newest["scheduledAtMs"] <= started_ms
            missed = [r for r in entries
                      if stopped_ms < r["scheduledAtMs"] < newest["scheduledAtMs"]]
            assert {r["status"] for r in missed} == {"missed"} and len(missed) >= 2
            assert wait_finished(raw, job, newest["runId"])["status"] == "ok"

    (skipped,) = runs_of(raw, "skip-at")
    assert (skipped["status"], skipped["scheduledAtMs"]) == ("missed", at_ms)
    assert call(raw, "cron.get", {"id": "skip-at"})["enabled"] is False
    (caught,) = runs_of(raw, "once-at")
    assert (caught["trigger"], caught["scheduledAtMs"]) == ("catch-up", at_ms)
    assert wait_finished(raw, "once-at", caught["runId"])["status"] == "ok"
    assert call(raw, "cron.get", {"id": "once-at"})["state"]["nextRunAtMs"] is None
    raw.close()


def test_kill_9_during_a_run_neither_loses_nor_repeats_it(
    make_gateway: Callable[..., GatewayProcess], telegram: FakeTelegram, models: FakeModels,
) -> None:
    config = {**gateway_config(telegram, [42]),
              "agents": {"defaults": {"model": "local/test-model"}},
              "models": {"providers": {"local": {"api": "openai-completions",
                                                 "baseUrl": models.openai_base_url,
                                                 "apiKey": "test-key"}}}}
    gateway = make_gateway(config=config)
    raw = connect(gateway)
    models.stall_next("openai", after_pieces=1)
    models.reply("Time to stretch, as you asked.", pieces=3)
    at_ms = now_ms() + 1000
    call(raw, "cron.add", {"id": "stretch", "schedule": {"kind": "at", "atMs": at_ms},
                           "payload": {"message": "remind me to stretch"},
                           "delivery": {"channel": "telegram", "to": "42"}})
    while True:
        payload = raw.next_event("agent", 15)["payload"]
        if payload["stream"] == "assistant":  # the model is mid-reply
            run_id = payload["runId"]
            break
    assert run_id == f"cron:stretch:{at_ms}"
    gateway.signal(signal.SIGKILL)
    gateway.wait()
    raw.close()

    models.reply("Time to stretch, as you asked.", pieces=3)
    gateway.start()
    raw = connect(gateway)
    (entry,) = runs_of(raw, "stretch")
    assert entry["runId"] == run_id
    finished = wait_finished(raw, "stretch", run_id)
    assert finished["status"] == "ok" and finished["delivery"]["status"] == "sent"
    assert telegram.sent_texts() == ["Time to stretch, as you asked."]
    raw.close()

    gateway.stop()  # one more start: nothing left to resume, nothing sent again
    gateway.start()
    raw = connect(gateway)
    assert [r["runId"] for r in runs_of(raw, "stretch")] == [run_id]
    assert call(raw, "cron.status", {})["running"] == 0
    assert call(raw, "agent.wait", {"runId": run_id, "timeoutMs": 1000})["status"] == "ok"
    assert telegram.sent_texts() == ["Time to stretch, as you asked."]
    raw.close()
