"""Schedules: next times of at / every / cron (with time zones) from a fixed clock."""

from __future__ import annotations

import datetime as dt

import pytest

from openclaw.schedule import ScheduleError, parse_schedule


def ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp() * 1000)


NOW = ms("2026-03-28T12:00:00+00:00")


def test_at_is_due_once_and_reads_an_offsetless_time_in_its_zone() -> None:
    at = parse_schedule({"kind": "at", "at": "2026-03-28T15:30:00Z"}, NOW)
    assert at.next_after(NOW) == ms("2026-03-28T15:30:00+00:00")
    assert at.next_after(ms("2026-03-28T15:30:00+00:00")) is None
    local = parse_schedule({"kind": "at", "at": "2026-03-28T15:30:00", "tz": "Asia/Tokyo"}, NOW)
    assert local.next_after(NOW) is None  # 15:30 in Tokyo is 06:30 UTC, already past
    assert local.at_ms == ms("2026-03-28T06:30:00+00:00")


def test_every_counts_from_its_anchor() -> None:
    every = parse_schedule({"kind": "every", "everyMs": 90_000}, NOW)
    assert every.anchor_ms == NOW
    assert every.next_after(NOW) == NOW + 90_000
    assert every.next_after(NOW + 90_000) == NOW + 180_000
    assert every.next_after(NOW + 90_001) == NOW + 180_000
    assert every.next_after(NOW - 5) == NOW
    assert parse_schedule({"kind": "every", "every": "10m", "anchorMs": 0}, NOW).next_after(
        NOW + 1) == NOW + 600_000
    assert every.slots_between(NOW + 90_000, NOW + 400_000, 10) == [
        NOW + 90_000, NOW + 180_000, NOW + 270_000, NOW + 360_000]
    assert len(every.slots_between(NOW, NOW + 10**9, 5)) == 5
    assert every.last_at_or_before(NOW + 10**9) == NOW + 10**9 // 90_000 * 90_000
    assert every.last_at_or_before(NOW - 1) is None


def test_cron_in_a_time_zone_follows_its_daylight_saving_change() -> None:
    # Europe/Berlin moves from UTC+1 to UTC+2 on 2026-03-29 at 02:00 local time.
    nine = parse_schedule({"kind": "cron", "expr": "0 9 * * *", "tz": "Europe/Berlin"}, NOW)
    first = nine.next_after(NOW)
    assert first == ms("2026-03-29T07:00:00+00:00")  # 09:00 CEST
    assert nine.next_after(ms("2026-03-28T07:59:00+00:00")) == ms("2026-03-28T08:00:00+00:00")
    assert first is not None
    assert nine.next_after(first) == ms("2026-03-30T07:00:00+00:00")
    ny = parse_schedule({"kind": "cron", "expr": "30 8 * * 1-5", "tz": "America/New_York"}, NOW)
    assert ny.next_after(NOW) == ms("2026-03-30T12:30:00+00:00")  # Monday 08:30 EDT
    utc = parse_schedule({"kind": "cron", "expr": "*/15 * * * *", "tz": "UTC"}, NOW)
    assert utc.next_after(NOW) == NOW + 15 * 60_000
    assert utc.next_after(NOW + 500) == NOW + 15 * 60_000
    assert utc.last_at_or_before(NOW + 15 * 60_000 - 1) == NOW
    assert utc.last_at_or_before(NOW + 15 * 60_000) == NOW + 15 * 60_000
    assert nine.last_at_or_before(ms("2026-03-30T06:59:59+00:00")) == first


@pytest.mark.parametrize(("raw", "needle"), [
    ({"kind": "cron", "expr": "61 * * * *"}, "not a cron expression"),
    ({"kind": "cron", "expr": "0 9 * * *", "tz": "Mars/Olympus"}, "unknown time zone"),
    ({"kind": "every", "everyMs": 10}, "at least 1000"),
    ({"kind": "every", "everyMs": 5000, "tz": "UTC"}, "tz is not valid"),
    ({"kind": "at", "at": "tomorrow"}, "not an ISO 8601 time"),
    ({"kind": "weekly"}, "unknown schedule kind"),
])
def test_bad_schedules_say_why(raw: dict[str, object], needle: str) -> None:
    with pytest.raises(ScheduleError, match=needle):
        parse_schedule(raw, NOW)


def test_wire_shape_round_trips() -> None:
    for raw in ({"kind": "at", "at": "2026-03-28T15:30:00Z"},
                {"kind": "every", "everyMs": 60_000, "anchorMs": 5},
                {"kind": "cron", "expr": "0 9 * * *", "tz": "Europe/Berlin"}):
        schedule = parse_schedule(raw, NOW)
        assert parse_schedule(schedule.to_wire(), 0) == schedule
