"""Schedules of scheduled jobs: when a job is due, in wall-clock milliseconds.

Three kinds, with OpenClaw's names: ``{"kind": "at", "at": "<ISO 8601>"}`` (one time;
a timestamp without an offset is read in ``tz``, else UTC), ``{"kind": "every",
"everyMs": n, "anchorMs": t}`` (every ``n`` ms counted from ``t``) and
``{"kind": "cron", "expr": "<5 or 6 fields>", "tz": "<IANA zone>"}`` (evaluated
by croniter in that zone, so daylight-saving changes fall where they do locally;
without ``tz`` in the host's zone). Pure functions of their inputs, so the scheduler
and the tests compute the same times from a fixed clock.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["Schedule", "ScheduleError", "parse_schedule"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
MIN_EVERY_MS = 1000


class ScheduleError(ValueError):
    """A schedule that cannot be used, with the reason in words."""


def _duration_ms(text: str) -> int:
    match = _DURATION.match(text)
    if not match:
        raise ScheduleError(f"not a duration: {text!r} (use e.g. 90s, 10m, 1h, 1d)")
    return int(float(match[1]) * _UNIT_MS[match[2]])


def _zone(name: str | None) -> dt.tzinfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {name!r} (use an IANA name such as "
                            "Europe/Berlin)") from None


def _host_zone() -> dt.tzinfo:
    zone = dt.datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule; :meth:`next_after` gives its slots one by one."""

    kind: str
    at_ms: int | None = None
    every_ms: int | None = None
    anchor_ms: int | None = None
    expr: str | None = None
    tz: str | None = None

    def to_wire(self) -> dict[str, Any]:
        """The schedule as the methods show it (``at`` as ISO 8601 UTC)."""
        if self.kind == "at":
            assert self.at_ms is not None
            at = dt.datetime.fromtimestamp(self.at_ms / 1000, dt.UTC)
            return {"kind": "at", "at": at.isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"), "atMs": self.at_ms}
        if self.kind == "every":
            return {"kind": "every", "everyMs": self.every_ms, "anchorMs": self.anchor_ms}
        wire: dict[str, Any] = {"kind": "cron", "expr": self.expr}
        if self.tz:
            wire["tz"] = self.tz
        return wire

    def next_after(self, after_ms: int) -> int | None:
        """The first slot strictly after ``after_ms``, or None when there is none."""
        if self.kind == "at":
            assert self.at_ms is not None
            return self.at_ms if self.at_ms > after_ms else None
        if self.kind == "every":
            assert self.every_ms is not None and self.anchor_ms is not None
            if after_ms < self.anchor_ms:
                return self.anchor_ms
            steps = (after_ms - self.anchor_ms) // self.every_ms + 1
            return self.anchor_ms + steps * self.every_ms
        from croniter import croniter

        zone = _zone(self.tz) or _host_zone()
        start = dt.datetime.fromtimestamp(after_ms // 1000, zone)
        following = croniter(self.expr, start).get_next(dt.datetime)
        return int(following.timestamp() * 1000)

    def last_at_or_before(self, when_ms: int) -> int | None:
        """The latest slot at or before ``when_ms`` (None when there is none), without
        walking the slots in between."""
        if self.kind == "at":
            assert self.at_ms is not None
            return self.at_ms if self.at_ms <= when_ms else None
        if self.kind == "every":
            assert self.every_ms is not None and self.anchor_ms is not None
            if when_ms < self.anchor_ms:
                return None
            return self.anchor_ms + (when_ms - self.anchor_ms) // self.every_ms * self.every_ms
        from croniter import croniter

        zone = _zone(self.tz) or _host_zone()
        start = dt.datetime.fromtimestamp(when_ms // 1000 + 1, zone)
        previous = croniter(self.expr, start).get_prev(dt.datetime)
        return int(previous.timestamp() * 1000)

    def slots_between(self, first_ms: int, until_ms: int, cap: int) -> list[int]:
        """Slots from ``first_ms`` (itself a slot) up to ``until_ms`` inclusive, at most
        ``cap`` of them (the earliest)."""
        slots: list[int] = []
        slot: int | None = first_ms
        while slot is not None and slot <= until_ms and len(slots) < cap:
            slots.append(slot)
            slot = self.next_after(slot)
        return slots


def parse_schedule(raw: dict[str, Any], now_ms: int) -> Schedule:
    """Check a wire/config schedule; ``now_ms`` anchors an ``every`` without ``anchorMs``.

    Raises:
        ScheduleError: an unknown kind, a bad timestamp, interval, expression or zone.
    """
    kind = raw.get("kind")
    tz = raw.get("tz")
    if tz is not None and not isinstance(tz, str):
        raise ScheduleError("tz must be a string")
    if kind == "at":
        if "atMs" in raw and isinstance(raw["atMs"], int) and "at" not in raw:
            return Schedule("at", at_ms=int(raw["atMs"]))
        text = raw.get("at")
        if not isinstance(text, str):
            raise ScheduleError('an "at" schedule needs at: an ISO 8601 time')
        try:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ScheduleError(f"not an ISO 8601 time: {text!r}") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=_zone(tz) or dt.UTC)
        return Schedule("at", at_ms=int(when.timestamp() * 1000), tz=tz)
    if kind == "every":
        if tz is not None:
            raise ScheduleError('tz is not valid with an "every" schedule')
        every = raw.get("everyMs", raw.get("every"))
        if isinstance(every, str):
            every = _duration_ms(every)
        if not isinstance(every, int) or isinstance(every, bool) or every < MIN_EVERY_MS:
            raise ScheduleError(f'an "every" schedule needs everyMs of at least {MIN_EVERY_MS}')
        anchor = raw.get("anchorMs")
        if anchor is not None and (not isinstance(anchor, int) or isinstance(anchor, bool)):
            raise ScheduleError("anchorMs must be an integer (milliseconds)")
        return Schedule("every", every_ms=every, anchor_ms=now_ms if anchor is None else anchor)
    if kind == "cron":
        from croniter import croniter

        expr = raw.get("expr")
        if not isinstance(expr, str) or not croniter.is_valid(expr):
            raise ScheduleError(f"not a cron expression: {expr!r} (5 or 6 fields, e.g. "
                                '"0 9 * * 1-5")')
        _zone(tz)
        return Schedule("cron", expr=expr.strip(), tz=tz)
    raise ScheduleError(f'unknown schedule kind {kind!r} (use "at", "every" or "cron")')
