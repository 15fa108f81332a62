"""Scheduled jobs in an in-process gateway: the cron.* methods, runs on schedule,
delivery, history, and the shapes OpenClaw's Control UI reads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fake_telegram import FakeTelegram, gateway_config
from harness import RawClient
from inprocess import InProcessGateway
from openclaw.client.core import RequestError


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(token="123456:CRON-token") as fake:
        yield fake


reader = RawClient.to


def cron_event(raw: RawClient, action: str, job: str, timeout: float = 10.0) -> dict[str, Any]:
    while True:
        payload = raw.next_event("cron", timeout)["payload"]
        if payload["action"] == action and payload["jobId"] == job:
            return dict(payload)


def test_add_list_get_update_remove(make_app_gateway: Callable[..., InProcessGateway]) -> None:
    gateway = make_app_gateway()
    job = gateway.call("cron.add", {
        "name": "Morning", "schedule": {"kind": "cron", "expr": "0 9 * * *",
                                        "tz": "Europe/Berlin"},
        "payload": {"kind": "agentTurn", "message": "good morning"}})
    assert job["enabled"] is True and job["schedule"]["tz"] == "Europe/Berlin"
    assert job["state"]["nextRunAtMs"] > 0 and job["catchUp"] == "run-once"
    page = gateway.call("cron.list", {"agentId": "main", "includeDisabled": True,
                                      "includeDeliveryPreviews": False, "compact": True,
                                      "limit": 200, "offset": 0, "enabled": "all",
                                      "sortBy": "nextRunAtMs", "sortDir": "asc"})
    assert [j["id"] for j in page["jobs"]] == [job["id"]]
    assert page["total"] == 1 and page["hasMore"] is False and page["nextOffset"] is None
    assert page["limit"] == 200 and page["offset"] == 0 and page["snapshotRevision"]
    status = gateway.call("cron.status", {})
    assert status["enabled"] is True and status["jobs"] == 1
    assert status["nextWakeAtMs"] == job["state"]["nextRunAtMs"]

    off = gateway.call("cron.update", {"id": job["id"], "patch": {"enabled": False}})
    assert off["enabled"] is False and off["state"]["nextRunAtMs"] is None
    assert gateway.call("cron.list", {})["total"] == 0  # disabled jobs hidden by default
    assert gateway.call("cron.list", {"includeDisabled": True})["total"] == 1
    assert gateway.call("cron.status", {})["nextWakeAtMs"] is None
    with pytest.raises(RequestError, match="cannot change id"):
        gateway.call("cron.update", {"id": job["id"], "patch": {"id": "other"}})
    with pytest.raises(RequestError, match="invalid schedule: not a cron expression"):
        gateway.call("cron.update", {"id": job["id"],
                                     "patch": {"schedule": {"kind": "cron", "expr": "x"}}})
    assert gateway.call("cron.remove", {"id": job["id"]})["removed"] is True
    with pytest.raises(RequestError, match="unknown cron job id"):
        gateway.call("cron.get", {"id": job["id"]})
    with pytest.raises(RequestError, match="no time in the future"):
        gateway.call("cron.add", {"schedule": {"kind": "at", "at": "2001-01-01T00:00:00Z"},
                                  "payload": {"message": "too late"}})


def test_list_pages(make_app_gateway: Callable[..., InProcessGateway]) -> None:
    gateway = make_app_gateway()
    for index in range(5):
        gateway.call("cron.add", {"id": f"job{index}", "name": f"n{4 - index}",
                                  "schedule": {"kind": "every", "everyMs": 3_600_000},
                                  "payload": {"message": "x"}})
    first = gateway.call("cron.list", {"limit": 2, "sortBy": "name"})
    assert [j["name"] for j in first["jobs"]] == ["n0", "n1"]
    assert first["hasMore"] is True and first["nextOffset"] == 2 and first["total"] == 5
    last = gateway.call("cron.list", {"limit": 2, "offset": 4, "sortBy": "name"})
    assert [j["name"] for j in last["jobs"]] == ["n4"] and last["nextOffset"] is None


def test_an_every_job_runs_on_schedule_and_delivers_once_per_slot(
    make_app_gateway: Callable[..., InProcessGateway], telegram: FakeTelegram,
) -> None:
    gateway = make_app_gateway(config=gateway_config(telegram, [42]))
    raw = reader(gateway)
    job = gateway.call("cron.add", {
        "id": "ping", "schedule": {"kind": "every", "everyMs": 1000},
        "payload": {"message": "what is 6*7"},
        "delivery": {"mode": "announce", "channel": "telegram", "to": "42"}})
    started = cron_event(raw, "started", "ping")
    assert started["runId"].startswith("cron:ping:")
    slot = int(started["runId"].rsplit(":", 1)[1])
    assert slot == job["state"]["nextRunAtMs"]
    finished = cron_event(raw, "finished", "ping")
    assert finished["runId"] == started["runId"] and finished["status"] == "ok"
    assert finished["delivery"]["status"] == "sent"
    assert telegram.sent_texts()[0] == "(offline model) 6 * 7 = 42"
    second = cron_event(raw, "finished", "ping")
    assert int(second["runId"].rsplit(":", 1)[1]) == slot + 1000
    gateway.call("cron.update", {"id": "ping", "patch": {"enabled": False}})
    runs = gateway.call("cron.runs", {"id": "ping", "limit": 10})
    ok = [r for r in runs["entries"] if r["status"] == "ok"]
    assert len(ok) >= 2 and all(r["trigger"] == "schedule" for r in ok)
    assert len({r["scheduledAtMs"] for r in runs["entries"]}) == runs["total"]
    sent = telegram.sent_texts()
    assert len(sent) == len([r for r in runs["entries"] if r["status"] != "running"])
    one = gateway.call("cron.runs", {"id": "ping", "runId": started["runId"]})
    assert one["total"] == 1 and one["entries"][0]["delivery"]["status"] == "sent"
    raw.close()


def test_manual_run_and_history_pruning(make_app_gateway: Callable[..., InProcessGateway]
                                        ) -> None:
    gateway = make_app_gateway(config={"cron": {"maxRunsPerJob": 2}})
    raw = reader(gateway)
    gateway.call("cron.add", {"id": "later", "schedule": {"kind": "every", "every": "1h"},
                              "payload": {"message": "hello there"},
                              "sessionTarget": "main"})
    run_ids = []
    for _ in range(3):
        answer = gateway.call("cron.run", {"id": "later"})
        assert answer["ran"] is True
        run_ids.append(answer["runId"])
        assert cron_event(raw, "finished", "later")["runId"] == answer["runId"]
    runs = gateway.call("cron.runs", {"id": "later"})
    assert runs["total"] == 2  # pruned to maxRunsPerJob
    assert {r["runId"] for r in runs["entries"]} == set(run_ids[1:])
    assert all(r["trigger"] == "manual" for r in runs["entries"])
    history = gateway.call("chat.history", {"sessionKey": "main"})
    assert sum(1 for m in history["messages"] if m["role"] == "user") == 3
    job = gateway.call("cron.get", {"id": "later"})
    assert job["state"]["lastRunStatus"] == "ok"
    raw.close()


def test_declared_jobs_are_loaded_updated_and_dropped(
    make_app_gateway: Callable[..., InProcessGateway], tmp_path: Any,
) -> None:
    declared = {"id": "daily", "schedule": {"kind": "every", "every": "1d"},
                "payload": {"message": "daily"}}
    gateway = make_app_gateway(config={"cron": {"jobs": [declared]}})
    job = gateway.call("cron.get", {"id": "daily"})
    assert job["source"] == "config"
    anchor, due = job["schedule"]["anchorMs"], job["state"]["nextRunAtMs"]
    gateway.stop()
    gateway.start_again()
    again = gateway.call("cron.get", {"id": "daily"})
    assert (again["schedule"]["anchorMs"], again["state"]["nextRunAtMs"]) == (anchor, due)
    gateway.stop()
    gateway.profile.config_path.write_text(
        '{"cron": {"jobs": [{"id": "hourly", "schedule": {"kind": "cron", "expr": "0 * * * *"},'
        ' "payload": {"message": "hourly"}}]}}')
    gateway.start_again()
    ids = [j["id"] for j in gateway.call("cron.list", {"includeDisabled": True})["jobs"]]
    assert ids == ["hourly"]
