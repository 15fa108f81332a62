"""Wall-clock jumps under a running gateway, made real with libfaketime.

The gateway runs with libfaketime preloaded: its wall clock (``CLOCK_REALTIME``) is
the real one plus an offset the test writes to a file, read again on every call
(``FAKETIME_NO_CACHE``); its monotonic clock stays real
(``FAKETIME_DONT_FAKE_MONOTONIC``). So the test moves the wall clock of a running
process by hours, forward and back, the way an NTP step or an operator would.

Checked: a scheduled job fires at most once per slot across a jump of hours forward
(the newest passed slot runs, the others are recorded as missed) and a jump back (no
slot runs again; the job fires again from its next slot); a send retry that falls
during a jump happens on time and is not given up as past its deadline.

tests/gateway/test_cron_clock.py covers the same scheduler rules in-process with an
injected clock; this file shows them on the real process and clock.
"""

from __future__ import annotations

import glob
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fake_telegram import FakeTelegram, gateway_config
from harness import GatewayProcess, RawClient, until
from openclaw.atomicfile import write_atomic

HOUR = 3600
EVERY_MS = 1000
LIBFAKETIME = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1")
                     + glob.glob("/usr/lib/faketime/libfaketimeMT.so.1"))


class WallClock:
    """The offset of the gateway's wall clock from the real one, in a file it reads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset_s = 0
        self.set(0)

    def set(self, offset_s: int) -> None:
        """From now on the gateway's wall clock reads real time + ``offset_s``. Written
        atomically: a half-written file would read as some other offset."""
        write_atomic(self.path, f"{offset_s:+d}\n", 0o644)
        self.offset_s = offset_s

    def now_ms(self) -> int:
        """What the gateway's wall clock reads now."""
        return int((time.time() + self.offset_s) * 1000)

    def env(self) -> dict[str, str]:
        """The environment that puts a process on this clock."""
        return {"LD_PRELOAD": LIBFAKETIME[0], "FAKETIME_TIMESTAMP_FILE": str(self.path),
                "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


@dataclass
class Setup:
    gateway: GatewayProcess
    telegram: FakeTelegram
    clock: WallClock
    raw: RawClient


@pytest.fixture
def setup(tmp_path: Path, make_gateway: Callable[..., GatewayProcess]) -> Iterator[Setup]:
    if not LIBFAKETIME:
        pytest.skip("libfaketime is not installed (apt-get install faketime; .ci/run does)")
    clock = WallClock(tmp_path / "faketime")
    with FakeTelegram(token="123456:TEST-clock") as telegram:
        config = {**gateway_config(telegram, [4242]), "cron": {"maxRunsPerJob": 5000}}
        gateway = make_gateway(config=config, env=clock.env())
        raw = RawClient(gateway.url)
        raw.handshake(gateway.token)
        yield Setup(gateway, telegram, clock, raw)
        raw.close()
        gateway.stop()


call = RawClient.payload


def entries(raw: RawClient) -> list[dict[str, Any]]:
    """Every history entry of job ``tick``, oldest slot first."""
    found: list[dict[str, Any]] = []
    while True:
        page = call(raw, "cron.runs", {"id": "tick", "limit": 500, "offset": len(found)})
        found += page["entries"]
        if not page["entries"] or len(found) >= page["total"]:
            return sorted(found, key=lambda e: e["scheduledAtMs"])


def ran(raw: RawClient) -> list[dict[str, Any]]:
    """The entries of slots that ran (not missed), once finished."""
    return [e for e in entries(raw) if e["status"] not in ("missed", "running")]


def assert_each_slot_once(raw: RawClient) -> list[dict[str, Any]]:
    history = entries(raw)
    slots = [e["scheduledAtMs"] for e in history]
    assert len(slots) == len(set(slots)), "a slot has two history entries"
    assert all(slot % EVERY_MS == history[0]["scheduledAtMs"] % EVERY_MS for slot in slots)
    return history


def test_jobs_fire_once_per_slot_across_jumps_forward_and_back(setup: Setup) -> None:
    raw, clock = setup.raw, setup.clock
    call(raw, "cron.add", {"id": "tick", "schedule": {"kind": "every", "everyMs": EVERY_MS},
                           "payload": {"message": "tick"}})
    before = until(lambda: (r := ran(raw)) and len(r) >= 2 and r, "two runs before the jump")
    last_before = before[-1]["scheduledAtMs"]

    # Three hours forward: the newest passed slot runs once; the 10,799 slots in between
    # are recorded as missed (the first 1,000 one by one, the rest only counted).
    clock.set(3 * HOUR)
    jumped_to = clock.now_ms()
    after = until(lambda: [e for e in ran(raw) if e["scheduledAtMs"] > last_before],
                  "a run after the jump forward")
    first_after = after[0]
    assert jumped_to - EVERY_MS < first_after["scheduledAtMs"] <= jumped_to + EVERY_MS
    history = assert_each_slot_once(raw)
    between = [e for e in history if last_before < e["scheduledAtMs"]
               < first_after["scheduledAtMs"]]
    assert {e["status"] for e in between} == {"missed"} and len(between) == 1000
    assert all("the wall clock jumped" in e["summary"] for e in between)
    assert "missed more than 1000 slots" in setup.gateway.output

    # Three seconds back: the slots of the last three seconds already ran and do not run
    # again; the next slot stays where it was, and the job fires from there on.
    next_slot = call(raw, "cron.get", {"id": "tick"})["state"]["nextRunAtMs"]
    clock.set(3 * HOUR - 3)
    resumed = until(lambda: [e for e in ran(raw) if e["scheduledAtMs"] >= next_slot],
                    "a run after the jump back", timeout=30)
    assert resumed[0]["scheduledAtMs"] == next_slot
    # It ran when the wall clock reached the slot again, not before.
    assert resumed[0]["startedAtMs"] >= next_slot
    history = assert_each_slot_once(raw)
    # Since the jump forward, every slot ran, in order: none twice, none skipped.
    since = [e["scheduledAtMs"] for e in history
             if e["scheduledAtMs"] >= first_after["scheduledAtMs"]]
    assert since == list(range(since[0], since[-1] + 1, EVERY_MS))
    assert not any(e["status"] == "missed" for e in history
                   if e["scheduledAtMs"] >= first_after["scheduledAtMs"])
    assert setup.gateway.alive()


def send_frame(key: str, text: str) -> dict[str, Any]:
    return {"type": "req", "id": key, "method": "send",
            "params": {"to": "777", "message": text, "idempotencyKey": key}}


def send_attempts(telegram: FakeTelegram) -> int:
    return sum(1 for method, _ in telegram.requests if method == "sendMessage")


@pytest.mark.parametrize("jump_s", [3 * HOUR, -3 * HOUR], ids=["forward", "back"])
def test_a_send_retry_during_a_jump_happens_on_time(setup: Setup, jump_s: int) -> None:
    """The Bot API fails the first two calls (500); the wall clock jumps while the
    first is in flight. The retries still come within their backoff (a jump forward of
    hours does not put them past the send deadline; a jump back does not delay them)."""
    telegram, raw = setup.telegram, setup.raw
    telegram.delay("sendMessage", 0.5)  # the jump is made while the first call is open
    telegram.fail_next("sendMessage", 500, count=2)
    started = time.monotonic()
    raw.send(send_frame("retried", "retried across a jump"))
    telegram.wait_for(lambda fake: send_attempts(fake) >= 1)
    setup.clock.set(jump_s)
    answer = raw.response("retried", timeout=20)
    took = time.monotonic() - started
    assert answer["ok"] is True, answer
    assert send_attempts(telegram) == 3
    assert telegram.sent_texts() == ["retried across a jump"]
    # Three calls of 0.5 s and two backoff waits of at most 0.5 s and 1 s: 3 s at most,
    # with margin for a busy machine; a jump-sized delay would be hours.
    assert took < 10, took
