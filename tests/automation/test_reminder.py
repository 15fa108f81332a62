"""A reminder asked of the assistant in plain words fires on time, also across a restart.

The offline model turns "remind me in N minutes to …" into a call of the ``cron`` tool,
so the whole path runs without a network: the agent's tool call, the job stored by the
scheduler, the gateway stopped and started again before it is due, and the reminder's
own agent turn on the main session at its time.
"""

from __future__ import annotations

from collections.abc import Callable

from harness import GatewayProcess, RawClient

connect = RawClient.to
call = RawClient.payload


def test_a_reminder_set_in_words_fires_after_a_restart(
        make_gateway: Callable[..., GatewayProcess]) -> None:
    gateway = make_gateway()
    raw = connect(gateway)
    raw.send({"type": "req", "id": "ask", "method": "agent",
              "params": {"message": "remind me in 3 seconds to stretch", "idempotencyKey": "r1"}})
    assert raw.response("ask")["payload"]["status"] == "accepted"
    final = raw.response("ask", 30)["payload"]
    assert final["status"] == "ok", final
    assert "cron tool returned: scheduled" in final["result"]["payloads"][0]["text"]
    [job] = call(raw, "cron.list", {})["jobs"]
    assert job["payload"]["message"] == "Reminder: stretch"
    raw.close()

    gateway.stop()  # down before it is due; the job is in the database, not in memory
    gateway.start()
    raw = connect(gateway)
    event = raw.next_event("cron", 30)["payload"]
    while not (event["action"] == "finished" and event["jobId"] == job["id"]):
        event = raw.next_event("cron", 30)["payload"]
    assert event["status"] == "ok"
    turns = call(raw, "sessions.history", {"sessionKey": "main"})["turns"]
    assert any(t["role"] == "user" and t["text"] == "Reminder: stretch" for t in turns)
    assert call(raw, "cron.list", {})["jobs"] == []  # a one-time reminder removes itself
